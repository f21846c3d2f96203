"""Peak memory of the seed's recipe: the NumPy engine, the torch engine and the seed's loop.

Each run goes in a fresh Python process of its own, so that its peak resident memory (the
kernel's high-water mark, VmHWM) is its own: the libraries it imports, the data set, the
model, the optimizer state and every temporary array of its worst moment. The runs:

    gradschool numpy    `gradschool train --engine numpy` on full MNIST (batch 64)
    gradschool torch    `gradschool train --engine torch`
    seed loop           the seed's code (benchmarks/seed_recipe.py), torch's DataLoader

    python benchmarks/memory.py                     # 1 epoch each (the peak is reached early)
    python benchmarks/memory.py --epochs 10         # the whole recipe
    python benchmarks/memory.py --quick             # mnist-mini, a few batches (CI)

Printed: each run's peak in MiB, its ratio to the torch engine's, whether it imported torch,
and its test accuracy.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import common


def _config(engine: str, data_dir: str | None, epochs: int, quick: bool, threads: int) -> Any:
    from gradschool.config import Config, with_updates

    data_dir = data_dir or (str(common.DATA_DIR) if (common.DATA_DIR / "mnist").is_dir() else None)
    return with_updates(
        Config(),
        {
            "engine": engine,
            "dataset": "mnist" if data_dir and not quick else "mnist-mini",
            "data_dir": data_dir,
            "epochs": 1 if quick else epochs,
            "max_steps": 5 if quick else None,
            "val_fraction": 0.0,
            "progress": "off",
            "threads": threads,
        },
    )


def run_gradschool(engine: str, data_dir: str | None, epochs: int, quick: bool, threads: int):
    """One `gradschool train` run (no run directory); in the child process."""
    from gradschool.train.trainer import fit

    trainer = fit(_config(engine, data_dir, epochs, quick, threads), console=False)
    return {
        "test_acc": trainer.state.history[-1]["test_acc"],
        "imported_torch": "torch" in sys.modules,
    }


def run_seed_loop(data_dir: str | None, epochs: int, quick: bool, threads: int) -> dict:
    """The seed's own loop on the same prepared data; in the child process."""
    import seed_recipe

    from gradschool.data.prepare import prepare_data

    config = _config("torch", data_dir, epochs, quick, threads)
    data = prepare_data(config.data, config.train.seed)
    common.set_threads(threads or None)
    _, acc = seed_recipe.seed_loop(data, config.train.epochs, 5 if quick else None)
    return {"test_acc": acc, "imported_torch": True}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip", default=None, help="runs to leave out, comma-separated")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    common.add_common_arguments(parser, repeats=1)
    args = parser.parse_args(argv)
    kwargs = {
        "data_dir": args.data_dir,
        "epochs": args.epochs,
        "quick": args.quick,
        "threads": args.threads,
    }
    print(common.machine_line())
    runs = {
        "gradschool numpy": ("run_gradschool", {"engine": "numpy", **kwargs}),
        "gradschool torch": ("run_gradschool", {"engine": "torch", **kwargs}),
        "seed loop": ("run_seed_loop", kwargs),
    }
    skip = {s.strip() for s in (args.skip or "").split(",") if s.strip()}
    results = {}
    for name, (function, fn_kwargs) in runs.items():
        if name in skip:
            continue
        results[name] = common.peak_rss_of("memory", function, fn_kwargs)
        r = results[name]
        print(f"  {name}: peak {r['peak_rss_mib']:.0f} MiB", flush=True)
    reference = results.get("gradschool torch", next(iter(results.values())))["peak_rss_mib"]
    print(f"\n{'run':18s} {'peak MiB':>9s} {'/ torch':>8s} {'torch?':>7s} {'test acc':>9s}")
    for name, r in results.items():
        res = r["result"]
        print(
            f"{name:18s} {r['peak_rss_mib']:9.0f} {r['peak_rss_mib'] / reference:8.2f} "
            f"{'yes' if res['imported_torch'] else 'no':>7s} {100 * res['test_acc']:8.2f}%"
        )
    out = {"machine": common.machine(), "epochs": args.epochs, "runs": results}
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
