"""A 2-D teaching view: optimizers walking over the contour lines of two classic functions.

A network has millions of weights, so nobody can draw its loss surface. A function of two
variables shows the same difficulties in a picture:

- an ill-conditioned quadratic, f = (u^2 + 25 v^2) / 2 in axes (u, v) turned by 30 degrees:
  a long narrow valley. The steep direction limits the learning rate (lr < 2/25 or the steps
  blow up), so gradient descent crawls along the flat one. Momentum builds up speed along the
  valley; RMSprop and Adam rescale each *coordinate*, which helps less here because the valley
  is not aligned with a coordinate axis;
- the Rosenbrock function, f = (1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock, 1960): a curved,
  nearly flat valley with the minimum at (1, 1).

The paths are computed by the engine itself: `f` is built from engine tensors, its gradient
comes from `backward()`, and each step is taken by an engine optimizer (`engine.optim.SGD`,
`RMSprop`, `Adam`), the same code that trains the MLP. "SGD" adds Gaussian noise to each
gradient, as a mini-batch estimate of the full gradient would: we add xi . theta to the loss
with a fresh xi ~ N(0, sigma^2) each step, so the gradient becomes grad f + xi.

    gradschool surface                      # writes runs/plots/surface.png; prints each path
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradschool import engine as E

__all__ = [
    "METHODS",
    "PROBLEMS",
    "Problem",
    "format_table",
    "run_surface",
    "save_surface",
    "trajectory",
]

_ANGLE = math.pi / 6  # the quadratic's axes, turned by 30 degrees
_COS, _SIN = math.cos(_ANGLE), math.sin(_ANGLE)
KAPPA = 25.0  # condition number of the quadratic: the ratio of its two curvatures


def quadratic(x: Any, y: Any) -> Any:
    """(u^2 + KAPPA v^2) / 2 with (u, v) the point in axes turned by 30 degrees. Works on
    engine tensors (for gradients) and on NumPy arrays (for the contour lines) alike."""
    u = _COS * x + _SIN * y
    v = -_SIN * x + _COS * y
    return 0.5 * (u**2 + KAPPA * v**2)


def rosenbrock(x: Any, y: Any) -> Any:
    """(1 - x)^2 + 100 (y - x^2)^2; minimum 0 at (1, 1)."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


@dataclass
class Problem:
    name: str
    f: Callable[[Any, Any], Any]
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    steps: int
    log_levels: bool
    legend: str  # where the legend hides nothing
    # method label -> (engine optimizer, its settings, gradient noise sigma)
    methods: dict[str, tuple[str, dict[str, Any], float]]


def _methods(
    lr_gd: float, sigma: float, lr_m: float, m: float, lr_rms: float, lr_adam: float
) -> dict[str, tuple[str, dict[str, Any], float]]:
    """The six methods of the figure, with learning rates chosen for one problem: name ->
    (optimizer, its settings, sigma of the gradient noise)."""
    return {
        "GD": ("SGD", {"lr": lr_gd}, 0.0),
        f"SGD (noisy gradients, sigma={sigma:g})": ("SGD", {"lr": lr_gd}, sigma),
        "momentum": ("SGD", {"lr": lr_m, "momentum": m}, 0.0),
        "Nesterov": ("SGD", {"lr": lr_m, "momentum": m, "nesterov": True}, 0.0),
        "RMSprop": ("RMSprop", {"lr": lr_rms}, 0.0),
        "Adam": ("Adam", {"lr": lr_adam}, 0.0),
    }


# NOTE: the learning rates were picked by hand, each about the largest that stays stable for
# its method on that function, so the figure compares the methods and not a bad choice of lr.
PROBLEMS = {
    "quadratic": Problem(
        name=f"ill-conditioned quadratic (condition number {KAPPA:g}, axes turned 30°)",
        f=quadratic,
        start=(-4.0, 2.5),
        minimum=(0.0, 0.0),
        xlim=(-5.0, 5.0),
        ylim=(-3.5, 3.5),
        steps=80,
        log_levels=False,
        legend="lower right",
        methods=_methods(lr_gd=0.06, sigma=2.0, lr_m=0.015, m=0.8, lr_rms=0.1, lr_adam=0.3),
    ),
    "rosenbrock": Problem(
        name="Rosenbrock function (1 - x)² + 100 (y - x²)²",
        f=rosenbrock,
        start=(-1.5, 2.0),
        minimum=(1.0, 1.0),
        xlim=(-2.0, 2.0),
        ylim=(-1.0, 3.0),
        steps=2000,
        log_levels=True,
        legend="lower left",
        methods=_methods(lr_gd=1e-3, sigma=1.0, lr_m=2e-4, m=0.9, lr_rms=1e-2, lr_adam=5e-2),
    ),
}
METHODS = list(PROBLEMS["quadratic"].methods)


def trajectory(
    f: Callable[[Any, Any], Any],
    start: tuple[float, float],
    optimizer: str,
    options: dict[str, Any],
    steps: int,
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run `steps` steps of `engine.optim.<optimizer>(**options)` on f from `start`.

    Returns the points visited, xs and ys of shape (steps + 1,), and f at each of them.
    """
    theta = E.tensor(np.array(start, dtype=np.float64), requires_grad=True)  # (2,)
    opt = getattr(E.optim, optimizer)([theta], **options)
    rng = np.random.default_rng(seed)
    points = [theta.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = f(theta[0], theta[1])
        if noise:
            # d/dtheta (xi . theta) = xi: the gradient the optimizer sees is grad f + xi.
            loss = loss + (theta * E.tensor(rng.normal(0.0, noise, 2))).sum()
        loss.backward()
        opt.step()
        points.append(theta.data.copy())
        if not np.all(np.isfinite(theta.data)):
            break
    path = np.array(points)  # (steps + 1, 2)
    values = np.array([float(f(x, y)) for x, y in path])
    return path[:, 0], path[:, 1], values


def run_surface(steps: dict[str, int] | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Every method on every problem. `steps` overrides the number of steps per problem."""
    results = []
    for key, problem in PROBLEMS.items():
        n = (steps or {}).get(key, problem.steps)
        paths = {}
        for label, (optimizer, options, noise) in problem.methods.items():
            paths[label] = trajectory(problem.f, problem.start, optimizer, options, n, noise, seed)
        results.append(
            {
                "key": key,
                "name": problem.name,
                "f": problem.f,
                "xlim": problem.xlim,
                "ylim": problem.ylim,
                "minimum": problem.minimum,
                "log_levels": problem.log_levels,
                "legend": problem.legend,
                "methods": problem.methods,
                "paths": paths,
            }
        )
    return results


def format_table(results: list[dict[str, Any]], tol: float = 1e-3) -> str:
    """Per problem and method: the settings, f at the end, and the first step with f < tol."""
    lines = []
    for result in results:
        lines.append(f"{result['name']} (minimum f* = 0 at {result['minimum']})")
        for label, (xs, ys, values) in result["paths"].items():
            optimizer, options, _ = result["methods"][label]
            settings = ", ".join(f"{k}={v}" for k, v in options.items())
            below = np.flatnonzero(values < tol)
            reached = f"step {below[0]}" if len(below) else "not reached"
            lines.append(
                f"  {label:34s} {optimizer}({settings})".ljust(80)
                + f" f = {values[-1]:.3g} at ({xs[-1]:.3f}, {ys[-1]:.3f});  f < {tol:g}: {reached}"
            )
    return "\n".join(lines)


def save_surface(results: list[dict[str, Any]], path: Path) -> Path:
    from gradschool import plots

    return plots.plot_trajectories(
        results,
        Path(path),
        title="Gradient descent and its family on two 2-D functions (NumPy engine, autograd)",
    )
