"""`gradschool schedule plot`: draw learning-rate schedules and print their values.

    gradschool schedule plot constant step cosine --steps 100
    gradschool schedule plot "step:step_size=10,gamma=0.5" "cosine:warmup_steps=10" --lr 0.1
    gradschool schedule plot polynomial:power=2 linear --steps 50    # the seed's two formulas

Each NAME is a `schedule.name`, optionally followed by `:key=value,...` for that curve alone
(keys of the [schedule] section, or dotted keys such as optim.lr). Options after the names
(--gamma 0.5, --warmup-steps 10, --lr 0.1) apply to every curve, as in `gradschool train`.
The rates come from `train.builders.schedule_lrs`, i.e. from exactly the scheduler a training
run builds, stepped T times; the schedule's T defaults to those T steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from gradschool.config import Config, apply_overrides
from gradschool.errors import ConfigError
from gradschool.settings import paths, split_values
from gradschool.train.builders import schedule_lrs

__all__ = ["format_values", "parse_schedule_spec", "schedule_curves"]


def parse_schedule_spec(spec: str) -> tuple[str, list[str]]:
    """`"step:gamma=0.5,step_size=20"` -> ("step", ["--schedule.gamma=0.5", ...])."""
    name, _, params = spec.partition(":")
    args = [f"--schedule.name={name.strip()}"]
    for item in split_values(params):
        key, eq, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not eq or not key:
            raise ConfigError(
                f"schedule {spec!r}: each parameter is key=value, e.g. step:gamma=0.5,step_size=10"
            )
        if "." not in key and f"schedule.{key}" in paths(Config):
            key = f"schedule.{key}"
        args.append(f"--{key}={value}")
    return spec, args


def schedule_curves(
    specs: Sequence[str], base: Config | None = None, steps: int = 100
) -> dict[str, list[float]]:
    """label -> the learning rate at each of `steps` scheduler steps."""
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    base = base or Config()
    curves = {}
    for spec in specs:
        label, args = parse_schedule_spec(spec)
        curves[label] = schedule_lrs(apply_overrides(base, args), steps)
    return curves


def format_values(curves: dict[str, list[float]], every: int | None = None) -> str:
    """A table of t and each schedule's rate: every step up to 30 steps, else about 20 rows
    (every `every`-th step, and always the last)."""
    steps = max(len(v) for v in curves.values())
    every = every or (1 if steps <= 30 else math.ceil(steps / 20))
    rows = sorted(set(range(0, steps, every)) | {steps - 1})
    labels = list(curves)
    width = [max(10, len(label)) for label in labels]
    head = "     t  " + "  ".join(label.rjust(w) for label, w in zip(labels, width))
    lines = [head]
    for t in rows:
        cells = [f"{curves[label][t]:.6g}".rjust(w) for label, w in zip(labels, width)]
        lines.append(f"{t:6d}  " + "  ".join(cells))
    return "\n".join(lines)


def save_plot(curves: dict[str, list[float]], path: Path, lr: float, log: bool = False) -> Path:
    from gradschool import plots

    steps = max(len(v) for v in curves.values())
    title = f"learning-rate schedules over {steps} steps (lr = {lr:g})"
    return plots.plot_schedules(curves, Path(path), title=title, log=log)
