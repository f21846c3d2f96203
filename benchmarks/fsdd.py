"""Spoken-digit recognition (FSDD) on both engines: test accuracy and training time.

Trains `configs/fsdd_cnn.toml` through the one training loop (`train.fit`), on the official
split (`fsdd`) and on speaker-held-out splits (`fsdd-speaker:<name>`), with each engine, and
prints one table. Run from the repository root:

    OMP_NUM_THREADS=1 python benchmarks/fsdd.py --data-dir ../shared/data
    python benchmarks/fsdd.py --data-dir ../shared/data --splits fsdd fsdd-speaker:theo \\
        --engines numpy torch --json /tmp/fsdd.json

The test accuracy is the final epoch's (no choice is made by the test set). Times are of the
training loop alone (train_time), on whatever machine runs it; the numpy/torch ratio is
measured within one run of this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from gradschool.config import load_config  # noqa: E402
from gradschool.train.trainer import fit  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a data directory with fsdd/recordings")
    parser.add_argument("--splits", nargs="+", default=["fsdd", "fsdd-speaker:theo"])
    parser.add_argument("--engines", nargs="+", default=["numpy", "torch"])
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args, overrides = parser.parse_known_args()  # the rest: config overrides, e.g. --epochs=3
    rows = []
    for split in args.splits:
        for engine in args.engines:
            config = load_config(
                "fsdd_cnn",
                [f"--dataset={split}", f"--engine={engine}", f"--data-dir={args.data_dir}",
                 "--progress=off", *overrides],
            )  # fmt: skip
            trainer = fit(config, console=False)
            last = trainer.state.history[-1]
            row = {
                "split": split,
                "engine": engine,
                "epochs": last["epoch"],
                "train": len(trainer.data.y_train),
                "test": len(trainer.data.y_test),
                "val_acc": last.get("val_acc"),
                "test_acc": last["test_acc"],
                "train_time": trainer.state.train_time,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| split | engine | epochs | train / test | val acc | test acc | training time |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        val = "-" if r["val_acc"] is None else f"{100 * r['val_acc']:.2f}%"
        print(
            f"| `{r['split']}` | {r['engine']} | {r['epochs']} | {r['train']} / {r['test']} | "
            f"{val} | {100 * r['test_acc']:.2f}% | {r['train_time']:.0f} s |"
        )
    for split in args.splits:
        times = {r["engine"]: r["train_time"] for r in rows if r["split"] == split}
        if "numpy" in times and "torch" in times:
            print(f"{split}: numpy / torch training time = {times['numpy'] / times['torch']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
