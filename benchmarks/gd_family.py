"""Gradient descent, mini-batch and stochastic gradient descent, and three schedules, on full
MNIST with the seed's MLP, on both engines.

    python benchmarks/gd_family.py                      # everything (~25 min on 2 busy cores)
    python benchmarks/gd_family.py --part batch         # GD vs mini-batch vs SGD only
    python benchmarks/gd_family.py --part schedules     # constant vs step vs warm-up + cosine
    python benchmarks/gd_family.py --engines torch      # one engine
    python benchmarks/gd_family.py --quick              # mnist-mini, tiny budgets (a smoke run)
    python benchmarks/gd_family.py --replot             # redraw figures/tables from runs/gd_family

Part "batch" trains the seed recipe (MLP 784-128-64-10, SGD lr 0.01 momentum 0.9) with the
three batch modes of the seed's section 3 for the same budget of examples seen (default 2
epochs = 108,000 examples: 54,000 training images after the 10% validation split):

    GD          batch_size = "full"   1 gradient evaluation per epoch
    mini-batch  batch_size = 64       844 per epoch
    SGD         batch_size = 1        54,000 per epoch, with the seed's lr and with lr 0.001

plus gradient descent given 40 epochs (lr 0.1), to show how many passes it needs. It reports
the median wall time per epoch (also as a ratio to mini-batch, measured in the same run) and
the test accuracy when the budget is spent.

Part "schedules" trains the seed recipe for 10 epochs at batch 64 under a constant rate, the
true step decay (x0.1 at epochs 4 and 8) and a linear warm-up (500 batches) followed by a
cosine decay to 0, stepped per batch.

Every run goes through `gradschool.experiments.compare` (i.e. `train.fit`); the figures and
tables are written to --out (default docs/figures). Both engines run single-threaded (BLAS
and torch), so the comparison is of the algorithms and not of thread scheduling on a busy
machine. NOTE: this machine is shared; times move with the load (medians are reported), the
accuracies do not (fixed seeds).
"""

from __future__ import annotations

import os

# NOTE: before NumPy is imported: OpenBLAS reads these once, at load time.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import csv  # noqa: E402

from gradschool import plots  # noqa: E402
from gradschool.experiments.compare import (  # noqa: E402
    compare_plan,
    load_histories,
    run_compare,
    save_compare,
)

DATA_DIR = ROOT.parent / "shared" / "data"


def _batch_plan(engine: str, base: list[str], budget: int, gd_epochs: int) -> list:
    """(label, config) for the batch-mode comparison on one engine."""
    runs = [
        ("GD (full batch), lr 0.01", ["--batch-size", "full", "--epochs", str(budget)]),
        ("mini-batch 64, lr 0.01", ["--batch-size", "64", "--epochs", str(budget)]),
        ("SGD (batch 1), lr 0.01", ["--batch-size", "1", "--epochs", str(budget)]),
        ("SGD (batch 1), lr 0.001", ["--batch-size", "1", "--epochs", str(budget), "--lr", "1e-3"]),
    ]
    if gd_epochs:
        runs.append(
            (
                f"GD (full batch), lr 0.1, {gd_epochs} epochs",
                ["--batch-size", "full", "--epochs", str(gd_epochs), "--lr", "0.1"],
            )
        )
    plan = []
    for label, args in runs:
        ((_, config),) = compare_plan(vary=[f"engine={engine}"], overrides=base + args)
        plan.append((label, config))
    return plan


def _schedule_plan(engine: str, base: list[str], epochs: int, warmup: int) -> list:
    runs = [
        ("constant", []),
        ("step (x0.1 every 4 epochs)", ["--schedule.name", "step", "--step-size", "4"]),
        (
            f"warm-up {warmup} batches + cosine",
            ["--schedule.name", "cosine", "--interval", "batch", "--warmup-steps", str(warmup)],
        ),
    ]
    plan = []
    for label, args in runs:
        overrides = base + ["--epochs", str(epochs), *args]
        ((_, config),) = compare_plan(vary=[f"engine={engine}"], overrides=overrides)
        plan.append((label, config))
    return plan


def _markdown(rows: list[dict], reference: str | None) -> str:
    """The table for docs/optimization.md."""
    ref = next((r["median_epoch_s"] for r in rows if r["run"] == reference), None)
    head = (
        "| run | engine | epochs | gradient evaluations | examples seen | s / epoch (median) |"
        " vs mini-batch | train loss | val acc | test acc |"
    )
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        ratio = f"{r['median_epoch_s'] / ref:.2f}x" if ref and r["median_epoch_s"] else "-"
        lines.append(
            f"| {r['run']} | {r['engine']} | {r['epochs']} | {r['steps']:,} | "
            f"{r['examples_seen']:,} | {r['median_epoch_s']:.2f} | {ratio} | "
            f"{r['train_loss']:.3f} | {100 * r['val_acc']:.2f}% | {100 * r['test_acc']:.2f}% |"
            + (" diverged |" if r["status"] == "diverged" else "")
        )
    return "\n".join(lines)


def _report(name: str, runs: Path, out: Path, title: str, reference: str | None) -> None:
    """Draw the figure and print the table of the comparison stored in `runs`."""
    histories = load_histories(runs / "histories.csv")
    with open(runs / "compare.csv", newline="", encoding="utf-8") as f:
        rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    figure, table = out / f"{name}.png", out / f"{name}.csv"
    plots.plot_comparison(histories, figure, title=title)
    table.write_bytes((runs / "compare.csv").read_bytes())
    print(_markdown(rows, reference))
    print(f"figure: {figure}   table: {table}", flush=True)


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text or None


def _run(name: str, plan: list, out: Path, title: str, reference: str | None) -> None:
    print(f"\n== {name}: {len(plan)} runs ==", flush=True)

    def start(i, result):
        print(f"[{i + 1}/{len(plan)}] {result.label} ({result.config.train.engine})", flush=True)

    def done(i, result):
        last = result.history[-1] if result.history else {}
        print(
            f"    {result.status}: {last.get('epoch', 0)} epochs, test acc "
            f"{100 * last.get('test_acc', float('nan')):.2f}%, {result.seconds:.0f}s",
            flush=True,
        )

    # The runs themselves (checkpoints, metrics) go under runs/, the figure and table to `out`.
    runs = ROOT / "runs" / "gd_family" / name
    results = run_compare(plan, runs, on_start=start, on_run=done)
    save_compare(results, runs, title=title)
    _report(name, runs, out, title, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["batch", "schedules", "all"], default="all")
    parser.add_argument("--engines", nargs="+", default=["numpy", "torch"])
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--budget-epochs", type=int, default=2, help="epochs of every batch mode")
    parser.add_argument("--gd-epochs", type=int, default=40, help="the long GD run (0 = skip)")
    parser.add_argument("--schedule-epochs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=500, help="warm-up batches")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    parser.add_argument("--quick", action="store_true", help="mnist-mini, tiny budgets")
    parser.add_argument(
        "--replot", action="store_true", help="redraw figures and tables from the last run's CSVs"
    )
    args = parser.parse_args()

    base = ["--dataset", "mnist", "--data-dir", args.data_dir, "--progress", "off"]
    base += ["--val-fraction", "0.1"]  # 54,000 + 6,000: the table reports val and test acc
    if args.quick:
        base = ["--train-subset", "600", "--progress", "off"]
        args.budget_epochs, args.gd_epochs, args.schedule_epochs, args.warmup = 1, 3, 2, 5
        if args.out == parser.get_default("out"):  # keep the docs' figures
            args.out = str(ROOT / "runs" / "gd_family_quick")
    elif not Path(args.data_dir, "mnist").exists():
        sys.exit(f"full MNIST is not in {args.data_dir}/mnist: give --data-dir, or use --quick")
    if "torch" in args.engines:
        import torch

        torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for engine in args.engines:
        parts = []
        if args.part in ("batch", "all"):
            parts.append(
                (
                    f"gd_family_{engine}",
                    lambda engine=engine: _batch_plan(
                        engine, base, args.budget_epochs, args.gd_epochs
                    ),
                    f"GD vs mini-batch vs SGD on MNIST, seed MLP, {engine} engine",
                    "mini-batch 64, lr 0.01",
                )
            )
        if args.part in ("schedules", "all"):
            parts.append(
                (
                    f"schedules_mnist_{engine}",
                    lambda engine=engine: _schedule_plan(
                        engine, base, args.schedule_epochs, args.warmup
                    ),
                    f"The seed recipe under three schedules, MNIST, {engine} engine",
                    None,
                )
            )
        for name, plan, title, reference in parts:
            if args.replot:
                _report(name, ROOT / "runs" / "gd_family" / name, out, title, reference)
            else:
                _run(name, plan(), out, title, reference)
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
