"""The MNIST CNN through the trainer: the NumPy engine against PyTorch eager, in one process.

The recipe of configs/mnist_cnn.toml (`models.cnn`, LeNet-style: conv 3x3 32 -> pool ->
conv 3x3 64 -> pool -> 128 -> 10, dropout 0.25; SGD lr 0.05, Nesterov momentum 0.9, weight
decay 5e-4; batch 128; random shifts of up to 2 pixels), trained by `gradschool.train.fit`
(the one loop) on each engine for the same number of steps from the same data. Rounds
alternate the engines (numpy, torch, numpy, torch, ...); the time of a round is the wall
and CPU time of its epoch in the trainer (model building excluded; there is no evaluation),
and the figure is the median of the per-round ratios numpy / torch.

    python benchmarks/cnn_epoch.py                        # 50 steps per round, 1 thread
    python benchmarks/cnn_epoch.py --steps 0              # a whole epoch (469 steps)
    python benchmarks/cnn_epoch.py --no-augment --threads 2
    python benchmarks/cnn_epoch.py --quick                # a few steps (CI)

Per-op figures (each convolution's forward and backward alone) are benchmarks/conv.py's.
"""

from __future__ import annotations

import common

common.early_threads()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
from typing import Any  # noqa: E402

from gradschool.config import load_config, with_updates  # noqa: E402
from gradschool.data.prepare import prepare_data  # noqa: E402
from gradschool.train.trainer import fit  # noqa: E402


def make_config(args: argparse.Namespace, engine: str) -> Any:
    data_dir = args.data_dir or (
        str(common.DATA_DIR) if (common.DATA_DIR / "mnist").is_dir() else None
    )
    updates: dict[str, Any] = {
        "engine": engine,
        "epochs": 1,
        "val_fraction": 0.0,
        "progress": "off",
        "threads": args.threads,
        "dataset": "mnist" if data_dir and not args.quick else "mnist-mini",
        "data_dir": data_dir,
    }
    if args.steps:
        updates["max_steps"] = args.steps
    if args.no_augment:
        updates["augment"] = []
    return with_updates(load_config("mnist_cnn"), updates)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per round; 0 = an epoch")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-augment", action="store_true", help="leave out the random shifts")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    common.add_common_arguments(parser, repeats=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 2, 1
    common.set_threads(args.threads or None)

    configs = {engine: make_config(args, engine) for engine in ("numpy", "torch")}
    # The same arrays for both; no test split, so the end-of-epoch evaluation is empty.
    data = prepare_data(configs["numpy"].data, configs["numpy"].train.seed)
    data = dataclasses.replace(data, X_test=None, y_test=None)
    batch = configs["numpy"].data.batch_size
    steps = args.steps or -(-len(data.y_train) // batch)
    print(f"MNIST CNN (configs/mnist_cnn.toml), {steps} steps of batch {batch} per round, on "
          f"{len(data.y_train)} images; augment {configs['numpy'].data.augment}")  # fmt: skip
    print(common.machine_line())

    def run(engine: str) -> Any:
        def go() -> tuple[float, float]:
            clock = common.TrainClock()
            fit(configs[engine], data=data, console=False, callbacks=[clock])
            return clock.seconds

        return go

    results = common.interleave(
        {"numpy": run("numpy"), "torch": run("torch")},
        repeats=args.repeats,
        warmup=0 if args.quick else 1,
    )
    print(common.ratio_table(results, reference="torch", unit=steps / 1000, unit_name="ms/step"))
    print(f"load average at the end: {common.load_average()}")
    out = {
        "machine": common.machine(),
        "steps": steps,
        "batch_size": batch,
        "median_ms_per_step": {k: 1000 * t.median_wall / steps for k, t in results.items()},
        "ratio_wall": common.ratio(results, "numpy", "torch"),
        "ratio_cpu": common.ratio(results, "numpy", "torch", cpu=True),
        "rounds_wall": {k: t.wall for k, t in results.items()},
    }
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
