"""`gradschool build train`: the seed's MLP trained on the learner's own engine.

The learner's package has gradschool's engine layout and surface, so it plugs into the trainer
as a Backend: `LearnerBackend` is the NumPy backend with the learner's modules in place of
gradschool's (`nn`, `functional`, `optim`, `lr_scheduler`, `Tensor`, `no_grad`, the seeded
random numbers). The run is the seed's recipe, configs/seed_mlp.toml (784-128-64-10, SGD lr 0.01
momentum 0.9, batch 64, 10 epochs, mnist-mini), through the one training loop; then the same
recipe on gradschool's engine, for comparison.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from gradschool.backends import Backend, NumpyBackend, numpy_engine_as
from gradschool.errors import GradschoolError
from gradschool.track.grader import grade
from gradschool.track.workspace import Workspace


class LearnerBackend(NumpyBackend):
    """The NumPy backend, computing with a learner's engine package."""

    def __init__(self, package: ModuleType, dtype: str = "float32") -> None:
        Backend.__init__(self, dtype)
        self.engine = package
        self.nn, self.F = package.nn, package.functional
        self.optim, self.lr_scheduler = package.optim, package.lr_scheduler
        self._float = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"<Backend learner's engine {self.dtype}>"


@dataclass
class TrainResult:
    learner_acc: float  # test accuracy of the learner's engine after the last epoch
    reference_acc: float | None  # gradschool's engine, same recipe (None: not run)
    epochs: int
    seconds: float
    reference_seconds: float | None
    history: list[dict[str, Any]]


def train_workspace(
    workspace: Workspace,
    overrides: list[str] | None = None,
    *,
    compare: bool = True,
    console: bool = True,
    require_all: bool = True,
) -> TrainResult:
    """Train the seed's MLP on the workspace's engine (every step must pass first)."""
    from gradschool.config import load_config
    from gradschool.train.trainer import fit

    if require_all:
        results = grade(workspace)
        failing = [r for r in results if not r.ok]
        if failing:
            names = ", ".join(f"{r.step.number} {r.step.name} ({r.status})" for r in failing)
            raise GradschoolError(
                f"`build train` runs once every step passes, and {len(failing)} of "
                f"{len(results)} do not yet: {names}. Run `gradschool build check` to see "
                f"why, fill them in, and try again."
            )
    config = load_config("seed_mlp", ["--train.progress=off", *(overrides or [])])
    if config.train.engine != "numpy":
        raise GradschoolError("build train runs on your engine: leave --engine as numpy.")
    package = workspace.load()
    start = time.perf_counter()
    with numpy_engine_as(functools.partial(LearnerBackend, package)):
        trainer = fit(config, console=console)
    seconds = time.perf_counter() - start
    if not isinstance(trainer.backend, LearnerBackend):
        # NOTE: a guard, should the trainer ever stop asking backends.get_backend for its
        # engine: then the run above was gradschool's engine, and must not count as yours.
        raise RuntimeError("the trainer did not use the learner's engine (see backends.py)")
    learner_acc = float(trainer.state.history[-1]["test_acc"])
    ref_acc = ref_seconds = None
    if compare:
        start = time.perf_counter()
        reference = fit(config, console=False)
        ref_seconds = time.perf_counter() - start
        ref_acc = float(reference.state.history[-1]["test_acc"])
    return TrainResult(
        learner_acc, ref_acc, config.train.epochs, seconds, ref_seconds, trainer.state.history
    )


def final_line(result: TrainResult, lang: str = "en") -> str:
    acc = 100 * result.learner_acc
    if lang == "zh":
        line = (
            f"你的引擎：训练 {result.epochs} 轮后测试集准确率 {acc:.2f}%（{result.seconds:.1f} 秒）"
        )
        if result.reference_acc is not None:
            ref = 100 * result.reference_acc
            line += f"；gradschool 的引擎，同样的配方：{ref:.2f}%（相差 {acc - ref:+.2f} 个百分点）"
        return line + "。"
    line = (
        f"Your engine: test accuracy {acc:.2f}% after {result.epochs} epochs "
        f"({result.seconds:.1f} s)"
    )
    if result.reference_acc is not None:
        ref = 100 * result.reference_acc
        line += f"; gradschool's engine, same recipe: {ref:.2f}% ({acc - ref:+.2f} points)"
    return line + "."
