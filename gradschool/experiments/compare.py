"""Run several configs through the one training loop and compare them side by side.

The seed's section 3 names three ways to use the gradient - gradient descent on all the
examples, mini-batch ("batch") gradient descent, stochastic gradient descent on one example -
and several learning-rate schedules. Reading the formulas does not show the difference;
running them does. `compare` trains each variant with `train.fit` (never a copy of the loop)
and draws them on one figure, against three clocks:

- epochs (passes over the data): the textbook's x axis;
- training wall time (evaluation excluded): what you actually wait for;
- gradient evaluations (optimizer steps, log scale): GD takes one per epoch, SGD one per
  example, so "which converges in fewer steps" and "which is faster" have different answers.

    gradschool compare --vary batch_size=full,64,1 --epochs 3
    gradschool compare --config a.toml b.toml --engine torch
    gradschool compare --vary optim.name=sgd,adam --vary lr=0.1,0.01   # 4 runs: the product

Every run writes an ordinary run directory (config.toml, metrics.csv...) under the output
folder, beside compare.png, compare.csv (one row per run) and histories.csv (every epoch of
every run). A run that diverges (NaN loss) is kept in the table as "diverged", one that ends no
better than guessing as "at chance", and the others go on: a learning rate that is too large
for SGD on one example is part of the lesson. Below the table, each such run gets the fix to
try (`advice`: a smaller learning rate for its batch size).
"""

from __future__ import annotations

import csv
import itertools
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradschool.config import Config, apply_overrides, load_config
from gradschool.errors import ConfigError, TrainingError
from gradschool.settings import split_values
from gradschool.text import display_width, pad
from gradschool.train.callbacks import Callback

__all__ = [
    "CompareRun",
    "advice",
    "at_chance",
    "compare_plan",
    "default_out_dir",
    "format_table",
    "load_histories",
    "parse_vary",
    "run_compare",
    "save_compare",
    "summary_row",
]


@dataclass
class CompareRun:
    """One variant: its label, config, epoch history and how it ended."""

    label: str
    config: Config
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    status: str = "ok"  # ok | diverged | at chance | stopped: max_steps = N ...
    error: str = ""  # what the trainer said, when it stopped on a non-finite loss
    seconds: float = 0.0  # wall time of the whole run, evaluation included
    path: Path | None = None
    num_classes: int | None = None  # a classifier's K: its chance accuracy is 1/K


# A classifier whose final accuracy is within this of 1/K learned nothing: it guesses. (SGD on
# single examples with the seed's lr 0.01 and momentum 0.9 ends at 10.00% on MNIST, loss ln 10.)
CHANCE_MARGIN = 0.05
FEW_STEPS = 100  # at chance after fewer optimizer steps than this: not started, not too fast


def _final_accuracy(result: CompareRun) -> float | None:
    last = result.history[-1] if result.history else {}
    return next((last[k] for k in ("val_acc", "test_acc") if last.get(k) is not None), None)


def at_chance(result: CompareRun) -> bool:
    """True when a classifier ended no better than guessing (accuracy <= 1/K + 5 points)."""
    acc = _final_accuracy(result)
    k = result.num_classes
    return acc is not None and k is not None and k > 0 and acc <= 1 / k + CHANCE_MARGIN


def advice(result: CompareRun) -> str | None:
    """For a run that diverged or ended at chance: what happened and the fix to try (a smaller
    learning rate for that batch size); None for a run that learned."""
    if result.status != "diverged" and not result.status.startswith("at chance"):
        return None
    c = result.config
    acc = _final_accuracy(result)
    what = "diverged"
    if result.status != "diverged" and acc is not None:
        what = f"ended at chance ({100 * acc:.2f}%)"
    steps = result.history[-1].get("step", 0) if result.history else 0
    if result.status != "diverged" and steps < FEW_STEPS:
        # NOTE: gradient descent takes one step per epoch: at chance after a few epochs it has
        # barely started, and a smaller rate would make that worse, not better.
        return (
            f"{result.label} {what} after only {steps} optimizer steps: it has barely started. "
            f"Train longer (--epochs) or with a larger rate (--lr)."
        )
    momentum = f" and momentum {c.optim.momentum:g}" if c.optim.momentum else ""
    smaller = f"{c.optim.lr / 10:g}"
    return (
        f"{result.label} {what}: {c.optim.name} with lr {c.optim.lr:g}{momentum} takes steps "
        f"too large for batches of {c.data.batch_size}. Try a smaller rate for it, e.g. "
        f"--lr {smaller}: gradschool train --batch-size {c.data.batch_size} --lr {smaller}"
    )


# ---- the plan: which configs to run -------------------------------------------------------------


def parse_vary(spec: str) -> tuple[str, list[str]]:
    """`"batch_size=full,64,1"` -> ("batch_size", ["full", "64", "1"]).

    Values are command-line text, converted like `--key value` (so "full", "none", "[784,10]"
    and "true" mean what they mean there). A list value is written in brackets.
    """
    key, eq, values = spec.partition("=")
    key = key.strip().lstrip("-")
    parts = split_values(values)
    if not eq or not key or not parts:
        raise ConfigError(
            f"--vary {spec!r} must be KEY=VALUE1,VALUE2,..., e.g. --vary batch_size=full,64,1 "
            f"or --vary optim.name=sgd,adam (a list value in brackets: sizes=[784,10],[784,64,10])."
        )
    return key, parts


def _label_value(value: str) -> str:
    return re.sub(r"\s+", "", value)


def compare_plan(
    configs: Sequence[str] = (),
    vary: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> list[tuple[str, Config]]:
    """The (label, config) of every run: each config file (default: the seed recipe), with
    `overrides` applied to all, times every combination of the --vary values."""
    if not configs and not vary:
        raise ConfigError(
            "compare needs something to compare: two or more config files (--config a.toml "
            "b.toml) or a setting to vary (--vary batch_size=full,64,1), or both."
        )
    bases = [
        (Path(str(c)).stem if len(configs) > 1 else "", load_config(c, overrides))
        for c in (configs or ["seed_mlp"])
    ]
    axes = [parse_vary(spec) for spec in vary]
    plan = []
    for base_label, base in bases:
        for combo in itertools.product(*(values for _, values in axes)):
            args, parts = [], [base_label] if base_label else []
            for (key, _), value in zip(axes, combo):
                args.append(f"--{key}={value}")
                parts.append(f"{key.rsplit('.', 1)[-1]}={_label_value(value)}")
            plan.append((", ".join(parts) or base_label or "run", apply_overrides(base, args)))
    labels = [label for label, _ in plan]
    if len(set(labels)) != len(labels):  # the same file twice, say: number them
        plan = [(f"{i + 1}: {label}", config) for i, (label, config) in enumerate(plan)]
    return plan


# ---- running ------------------------------------------------------------------------------------


class _Recorder(Callback):
    """Keeps a handle on the trainer, so a run that raises still leaves its history."""

    trainer: Any = None

    def on_fit_start(self, trainer: Any) -> None:
        self.trainer = trainer


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_") or "run"


def run_compare(
    plan: Sequence[tuple[str, Config]],
    out_dir: Path | None = None,
    console: bool = False,
    on_run: Callable[[int, CompareRun], None] | None = None,
    on_start: Callable[[int, CompareRun], None] | None = None,
    callbacks: Callable[[int, CompareRun], list[Callback]] | None = None,
) -> list[CompareRun]:
    """Train every (label, config) of `plan` with `train.fit`, one after the other.

    With `out_dir`, each run writes its run directory under `out_dir/runs/`. Runs with the same
    data settings share one prepared copy of the data (loading full MNIST once, not N times).
    `callbacks(i, run)`, when given, returns extra callbacks for run i, a fresh list per run
    (e.g. one that records the loss of every batch, finer than the epoch history).
    """
    from gradschool.train.run import RunDir
    from gradschool.trust.dp import fit_for

    results: list[CompareRun] = []
    prepared: dict[tuple[str, int], Any] = {}
    for i, (label, config) in enumerate(plan):
        result = CompareRun(label, config)
        if on_start is not None:
            on_start(i, result)
        run = None
        if out_dir is not None:
            result.path = Path(out_dir) / "runs" / f"{i + 1:02d}-{_slug(label)}"
            result.path.mkdir(parents=True, exist_ok=True)
            run = RunDir(result.path)
        key = (repr(config.data), config.train.seed)
        recorder = _Recorder()
        extra = callbacks(i, result) if callbacks is not None else []
        start = time.perf_counter()
        try:
            fit_for(config)(
                config,
                data=prepared.get(key),
                run=run,
                callbacks=[recorder, *extra],
                console=console,
            )
        except TrainingError as err:
            result.status, result.error = "diverged", str(err)
        result.seconds = time.perf_counter() - start
        trainer = recorder.trainer
        if trainer is not None:
            prepared.setdefault(key, trainer.data)
            result.history = list(trainer.state.history)
            result.num_classes = getattr(trainer.task, "num_classes", None)
            if result.status == "ok" and trainer.state.stop_reason:
                result.status = f"stopped: {trainer.state.stop_reason}"
            if result.status != "diverged" and at_chance(result):
                ended = "" if result.status == "ok" else f"; {result.status}"
                result.status = f"at chance{ended}"
        results.append(result)
        if on_run is not None:
            on_run(i, result)
    return results


# ---- reporting ----------------------------------------------------------------------------------


def _median_epoch_time(result: CompareRun) -> float | None:
    rows = result.history
    if result.status.startswith("stopped") and len(rows) > 1:
        rows = rows[:-1]  # the last epoch was cut short by max_steps
    times = [row["epoch_time"] for row in rows]
    return statistics.median(times) if times else None


def summary_row(result: CompareRun) -> dict[str, Any]:
    """One line of the comparison table."""
    c, last = result.config, (result.history[-1] if result.history else {})
    schedule: str = c.schedule.name
    if c.schedule.warmup_steps:
        schedule += f"+warmup{c.schedule.warmup_steps}"
    val_accs = [r["val_acc"] for r in result.history if r.get("val_acc") is not None]
    return {
        "run": result.label,
        "engine": c.train.engine,
        "batch_size": c.data.batch_size,
        "optimizer": c.optim.name,
        "lr": c.optim.lr,
        "schedule": schedule,
        "epochs": last.get("epoch", 0),
        "steps": last.get("step", 0),
        "examples_seen": last.get("examples_seen", 0),
        "median_epoch_s": _median_epoch_time(result),
        "train_time_s": last.get("train_time"),
        "train_loss": last.get("train_loss"),
        "val_acc": last.get("val_acc"),
        "test_acc": last.get("test_acc"),
        "best_val_acc": max(val_accs, default=None),
        "status": result.status,
    }


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("acc"):
        return f"{100 * value:.2f}%"
    if key.endswith("_s"):
        return f"{value:.2f}"
    if key in ("train_loss", "lr"):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The table as aligned text, for the console."""
    if not rows:
        return "(no runs)"
    keys = list(rows[0])
    cells = [keys] + [[_cell(k, row[k]) for k in keys] for row in rows]
    # Columns by display width: a Chinese label takes two columns per character.
    widths = [max(display_width(line[j]) for line in cells) for j in range(len(keys))]
    lines = ["  ".join(pad(c, w) for c, w in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def save_compare(results: Sequence[CompareRun], out_dir: Path, title: str = "") -> dict[str, Path]:
    """Write compare.png (the figure), compare.csv (the table) and histories.csv (every epoch
    of every run, with its label) into `out_dir`; return their paths."""
    from gradschool import plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "figure": out_dir / "compare.png",
        "table": out_dir / "compare.csv",
        "histories": out_dir / "histories.csv",
    }
    plots.plot_comparison({r.label: r.history for r in results}, paths["figure"], title=title)
    _write_csv(paths["table"], [summary_row(r) for r in results])
    _write_csv(paths["histories"], [{"run": r.label, **row} for r in results for row in r.history])
    return paths


def load_histories(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Read a histories.csv back (label -> epoch rows, numbers as numbers), e.g. to redraw
    the figure of an earlier comparison with `plots.plot_comparison`."""

    def number(text: str) -> Any:
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text

    histories: dict[str, list[dict[str, Any]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            label = row.pop("run")
            histories.setdefault(label, []).append({k: number(v) for k, v in row.items()})
    return histories


def default_out_dir(out_root: str = "runs") -> Path:
    return Path(out_root) / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
