"""The learning-rate range test: which learning rates are worth trying?

    gradschool lr-find                                   # the seed's MLP, NumPy engine
    gradschool lr-find --engine torch --optim.name adam --batch-size 128

Leslie Smith's test ("Cyclical Learning Rates for Training Neural Networks", 2015/2017,
section 3.3), as fastai's `lr_find` runs it: train for a few hundred steps while the
learning rate grows exponentially from a tiny `start_lr` to a large `end_lr`,

    lr_i = start_lr * (end_lr / start_lr) ** (i / (steps - 1)),    i = 0 .. steps - 1,

and record the loss of every batch. At first the rate is too small to change anything; then
the loss falls faster and faster; past some rate the steps overshoot and the loss shoots up.
The sweep stops once the smoothed loss exceeds 4 times its minimum. Two suggestions come
out of the curve (of the smoothed loss, debiased as in Adam: avg_i / (1 - beta^(i+1))):

- steepest: where the loss falls fastest against log(lr), i.e. the most negative slope;
- minimum / 10: a tenth of the rate of the lowest loss, a step back from the cliff edge.

Both are starting points for `--lr`, not answers: the test trains one model briefly from
its initial weights, and the best rate for a full run is usually somewhat lower.

The sweep runs through the one training loop (`Trainer.fit`): a callback sets each step's
rate and stops the loop when the loss diverges, with a constant schedule and no evaluation
between epochs. Nothing is saved into any run: the plot, the CSV and the suggestions go into
their own folder.
"""

from __future__ import annotations

import csv
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradschool.errors import ConfigError, GradschoolError, TrainingError
from gradschool.train.callbacks import Callback

if TYPE_CHECKING:
    from gradschool.train.trainer import Trainer

BETA = 0.98  # smoothing of the loss (fastai's)
DIVERGE = 4.0  # stop when the smoothed loss exceeds DIVERGE x its minimum (fastai's)


@dataclass
class LRFindResult:
    """The sweep: each step's rate, loss and smoothed loss, and the suggested rates."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, float]
    stop_reason: str
    start_lr: float
    end_lr: float
    steps: int
    engine: str = "numpy"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{len(self.lrs)} steps, lr {self.lrs[0]:.2g} -> {self.lrs[-1]:.2g} "
            f"(stopped: {self.stop_reason})"
        ]
        if self.suggestions:
            i = int(np.argmin(self.smoothed))
            lines.append(
                f"lowest smoothed loss {self.smoothed[i]:.4f} at lr {self.lrs[i]:.2g}; suggested "
                + ", ".join(f"{k} {v:.2g}" for k, v in self.suggestions.items())
            )
            lines.append(f"Try e.g. --lr {self.suggestions['steepest']:.2g}")
        return "\n".join(lines + self.notes)


class LRRangeTest(Callback):
    """Sets the rate of each step of the exponential sweep; stops the loop on divergence.

    Reads every batch's loss (`loss.item()`): this is the measurement itself.
    """

    def __init__(self, start_lr: float, end_lr: float, steps: int) -> None:
        self.start_lr, self.end_lr, self.steps = start_lr, end_lr, steps
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._avg, self._best = 0.0, math.inf
        self.stop_reason: str | None = None

    def rate(self, i: int) -> float:
        return self.start_lr * (self.end_lr / self.start_lr) ** (i / max(self.steps - 1, 1))

    def _set(self, trainer: Trainer, lr: float) -> None:
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr

    def on_fit_start(self, trainer: Trainer) -> None:
        self._set(trainer, self.rate(0))

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        i = len(self.losses)
        self.lrs.append(float(trainer.optimizer.param_groups[0]["lr"]))  # what this step used
        value = float(loss.item())
        self.losses.append(value)
        if not math.isfinite(value):
            self.smoothed.append(math.inf)
            trainer.stop, self.stop_reason = True, "the loss became non-finite"
            return
        self._avg = BETA * self._avg + (1 - BETA) * value
        smooth = self._avg / (1 - BETA ** (i + 1))  # debiased, as Adam's moments
        self.smoothed.append(smooth)
        self._best = min(self._best, smooth)
        if smooth > DIVERGE * self._best:
            trainer.stop = True
            self.stop_reason = f"the smoothed loss passed {DIVERGE:g} x its minimum"
        elif i + 1 >= self.steps:
            self.stop_reason = f"all {self.steps} steps done"
        else:
            self._set(trainer, self.rate(i + 1))


class _NoEvaluation:
    """A task without the measurements after each epoch: the range test reads only the
    training loss of each batch, so evaluating the validation and test sets would be waste."""

    def __init__(self, task: Any) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    def metrics(self, trainer: Any) -> dict[str, Any]:
        return {}


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> dict[str, float]:
    """fastai's two suggestions from the smoothed curve, skipping its first tenth (the loss
    barely moves yet) and last five points (the blow-up): {} when too little is left."""
    n = len(smoothed)
    lo, hi = n // 10, n - 5
    if hi - lo < 5:
        return {}
    lr, loss = np.asarray(lrs[lo:hi], dtype=float), np.asarray(smoothed[lo:hi], dtype=float)
    slope = np.diff(loss) / np.diff(np.log(lr))  # d loss / d log(lr), between neighbours
    return {
        "steepest": float(lr[int(np.argmin(slope))]),
        "minimum/10": float(lr[int(np.argmin(loss))] / 10),
    }


def lr_find(
    config: Any,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 200,
    console: bool = False,
) -> LRFindResult:
    """Run the range test for `config` (its model, data, optimizer, batch size, engine)."""
    from gradschool.config import with_updates
    from gradschool.train.trainer import Trainer

    if not (0 < start_lr < end_lr):
        raise ConfigError(
            f"the sweep goes from --start-lr up to --end-lr, so 0 < start_lr < end_lr is "
            f"needed; got {start_lr:g} and {end_lr:g}. E.g. --start-lr 1e-7 --end-lr 10."
        )
    if steps < 10:
        raise ConfigError(f"--steps must be at least 10 for a curve to read, got {steps}")
    # The sweep is the schedule: a constant one underneath, nothing stopping it early but
    # divergence, and enough epochs (each has at least one batch) for every step.
    config = with_updates(
        config,
        {
            "optim.lr": start_lr,
            "schedule.name": "constant",
            "schedule.warmup_steps": 0,
            "train.max_steps": steps,
            "train.epochs": steps,
            "early_stopping.patience": None,
            "train.eval_train": False,
            "train.log": [],
        },
    )
    sweep = LRRangeTest(start_lr, end_lr, steps)
    trainer = Trainer(config, callbacks=[sweep], console=console)
    trainer.task = _NoEvaluation(trainer.task)
    try:
        trainer.fit()
    except TrainingError:
        # The loop's own guard saw a NaN / inf in its running sum: the end of any sweep that
        # diverged that far (the callback has already stopped it, or is about to).
        sweep.stop_reason = sweep.stop_reason or "the loss became non-finite"
    finite = [i for i, v in enumerate(sweep.losses) if math.isfinite(v)]
    if not finite:
        raise GradschoolError(
            f"the loss was not finite from the first step (lr {start_lr:g}): the problem is "
            f"not the learning rate. Check the data and model with `gradschool train` first."
        )
    keep = slice(0, finite[-1] + 1)
    lrs, losses = np.asarray(sweep.lrs[keep]), np.asarray(sweep.losses[keep])
    smoothed = np.asarray(sweep.smoothed[keep])
    suggestions = suggest(lrs, smoothed)
    notes = []
    if not suggestions:
        notes.append(
            f"Too few steps ({len(lrs)}) before the loss diverged to suggest a rate: lower "
            f"--end-lr or raise --steps."
        )
    return LRFindResult(
        lrs,
        losses,
        smoothed,
        suggestions,
        sweep.stop_reason or f"max_steps = {steps}",
        start_lr,
        end_lr,
        steps,
        config.train.engine,
        notes,
    )


def default_out_dir(config: Any) -> Path:
    """runs/lr-find-<data>-<model>-<engine>-<time>, never an existing folder."""
    name = f"lr-find-{config.data.dataset}-{config.model.name}-{config.train.engine}-"
    name = re.sub(r"[^\w.+-]", "-", name + time.strftime("%Y%m%d-%H%M%S"))
    out, n = Path(config.train.out_dir), 1
    path = out / name
    while path.exists():
        n += 1
        path = out / f"{name}-{n}"
    return path


def save_lr_find(result: LRFindResult, config: Any, out: Path) -> list[Path]:
    """lr_find.csv, lr_find.png, lr_find.json and config.toml in `out`."""
    from gradschool import plots
    from gradschool.config import save_config

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "lr_find.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, row in enumerate(zip(result.lrs, result.losses, result.smoothed), 1):
            writer.writerow([i, *(repr(float(v)) for v in row)])
    title = f"LR range test: {config.model.name} on {config.data.dataset}, {config.optim.name}, "
    title += f"batch {config.data.batch_size} ({result.engine})"
    figure = plots.plot_lr_find(
        result.lrs, result.losses, result.smoothed, result.suggestions, out / "lr_find.png", title
    )
    summary = out / "lr_find.json"
    summary.write_text(
        json.dumps(
            {
                "suggestions": result.suggestions,
                "stop_reason": result.stop_reason,
                "start_lr": result.start_lr,
                "end_lr": result.end_lr,
                "steps": result.steps,
                "steps_run": len(result.lrs),
                "min_smoothed_loss": float(np.min(result.smoothed)),
                "lr_at_min": float(result.lrs[int(np.argmin(result.smoothed))]),
                "engine": result.engine,
            },
            indent=2,
        )
        + "\n"
    )
    save_config(config, out / "config.toml")
    return [table, figure, summary, out / "config.toml"]
