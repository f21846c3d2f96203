"""The CIFAR-10 ResNet of configs/cifar_cnn.toml on the CPU: float32 against bf16 autocast, and
NCHW against channels-last, through the trainer, in one process.

bf16 autocast pays only on hardware with native bfloat16 kernels; on a CPU without them (AVX2
only) it made a step about 11x slower. This script measures what each setting costs on the
machine it runs on, and prints what `precision = "auto"` chooses there (gradschool/precision.py).
Rounds alternate the variants; the time of a round is the wall and CPU time of its steps in the
trainer (model building and evaluation excluded), and the figures are medians, with ratios to
float32 NCHW as the median of the per-round ratios.

    python benchmarks/cifar_precision.py --data-dir ../shared/data           # 10 steps x 3 rounds
    python benchmarks/cifar_precision.py --steps 20 --repeats 5 --threads 1
    python benchmarks/cifar_precision.py --quick                             # random images (CI)
"""

from __future__ import annotations

import common

common.early_threads()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from gradschool.config import load_config  # noqa: E402
from gradschool.data.prepare import Prepared, prepare_data  # noqa: E402
from gradschool.precision import choose_precision  # noqa: E402
from gradschool.train.trainer import fit  # noqa: E402

VARIANTS = {  # name -> overrides of the bundled config
    "fp32 NCHW": ["--precision", "fp32", "--no-channels-last"],
    "fp32 NHWC": ["--precision", "fp32", "--channels-last"],  # NHWC: channels-last
    "bf16 NCHW": ["--precision", "bf16", "--no-channels-last"],
    "bf16 NHWC": ["--precision", "bf16", "--channels-last"],
}


def _data(args: argparse.Namespace, config: Any) -> Prepared:
    if args.quick:  # random 32x32 colour images: the same shapes, no data set needed
        rng = np.random.default_rng(0)
        X = rng.standard_normal((512, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, 512)
        return Prepared(X, y, None, None, None, None, [str(i) for i in range(10)], None)
    data = prepare_data(config.data, config.train.seed)
    return dataclasses.replace(data, X_val=None, y_val=None, X_test=None, y_test=None)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per round (10)")
    parser.add_argument("--data-dir", default=None, help="default: ../shared/data if present")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    common.add_common_arguments(parser, repeats=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 2, 1
    common.set_threads(args.threads or None)
    data_dir = args.data_dir or str(common.DATA_DIR)
    # 5,000 stratified training images are plenty for a few steps of batch 256 and keep the
    # preparation short; a step's cost does not depend on the data set's size.
    base = ["--data-dir", data_dir, "--train-subset", "5000", "--val-fraction", "0"]
    base += ["--engine", "torch", "--device", "cpu", "--epochs", "1", "--progress", "off"]
    base += ["--max-steps", str(args.steps)]
    if args.threads:
        base += ["--threads", str(args.threads)]
    if args.quick:
        base += ["--batch-size", "32"]
    configs = {name: load_config("cifar_cnn", [*base, *extra]) for name, extra in VARIANTS.items()}
    data = _data(args, configs["fp32 NCHW"])
    auto = choose_precision("auto", "torch", "cpu")
    batch = configs["fp32 NCHW"].data.batch_size
    print(f"CIFAR-10 ResNet (configs/cifar_cnn.toml), {args.steps} steps of batch {batch} a round")
    print(common.machine_line())
    print(f'precision = "auto" chooses here: {auto.describe()}')

    def run(name: str) -> Any:
        def go() -> tuple[float, float]:
            clock = common.TrainClock()
            fit(configs[name], data=data, console=False, callbacks=[clock])
            return clock.seconds

        return go

    results = common.interleave(
        {name: run(name) for name in VARIANTS},
        repeats=args.repeats,
        warmup=0 if args.quick else 1,
    )
    unit = args.steps / 1000
    print(common.ratio_table(results, reference="fp32 NCHW", unit=unit, unit_name="ms/step"))
    print(f"load average at the end: {common.load_average()}")
    out = {
        "machine": common.machine(),
        "auto": auto.name,
        "steps": args.steps,
        "median_ms_per_step": {k: t.median_wall / unit for k, t in results.items()},
        "ratio_wall": {k: common.ratio(results, k, "fp32 NCHW") for k in results},
        "rounds_wall": {k: t.wall for k, t in results.items()},
    }
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
