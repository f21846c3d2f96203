"""The oracle of the engine track's grader, and the three engines a case runs on.

A case computes the same function three times, written once as `fn(side, *tensors)`:

- on the oracle: PyTorch in float64 (`torch.autograd`), or, without torch, gradschool's engine
  with central finite differences for the gradient (at a kink, such as ReLU at 0, where a
  finite difference means nothing, gradschool's engine's own backward, which its test suite
  proves equal to torch's);
- on the learner's engine (`Context.learner`): the learner's Tensor, for the primitives and the
  topological sort;
- on gradschool's Tensor with the learner's composite functions (`Context.composites`), so
  that a composite is checked apart from the learner's primitives.

Inputs are float64 and of four kinds: random, small integers, zeros and constant patches (ties:
ReLU at exactly 0, equal logits, a constant image, gradients that are exactly 0).
"""

from __future__ import annotations

import importlib
import os
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from gradschool.track.results import fmt_shape

# float64 tolerances: against torch (the same maths, another order of sums), and against
# central finite differences (truncation and rounding errors of ~1e-9).
TOL = (1e-8, 1e-7)
FD_TOL = (1e-5, 1e-4)
FD_EPS = 1e-6
KINDS = ("random", "small integers", "zeros", "constant patches")


def torch_or_none(use_torch: bool | None = None) -> Any:
    """torch, unless it is absent, switched off (use_torch=False) or disabled for tests by
    GRADSCHOOL_TEST_NO_TORCH=1 (the switch tests/op_check.py uses too)."""
    if use_torch is False or (use_torch is None and os.environ.get("GRADSCHOOL_TEST_NO_TORCH")):
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---- the three engines a case runs on ------------------------------------------------------


class TorchSide:
    def __init__(self, torch: Any) -> None:
        self.torch, self.F = torch, torch.nn.functional

    def tensor(self, a: np.ndarray, requires_grad: bool = False) -> Any:
        return self.torch.tensor(a, requires_grad=requires_grad)

    def cat(self, xs: list[Any], dim: int = 0) -> Any:
        return self.torch.cat(xs, dim)

    def data(self, t: Any) -> np.ndarray:
        return t.detach().numpy()

    def grad(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else t.grad.numpy()

    def no_grad(self) -> Any:
        return self.torch.no_grad()


class EngineSide:
    """gradschool's engine, or the learner's (`tensor_module` is the package's tensor.py)."""

    def __init__(self, tensor_module: ModuleType, F: Any) -> None:
        self.T, self.F = tensor_module, F

    def tensor(self, a: np.ndarray, requires_grad: bool = False) -> Any:
        return self.T.Tensor(a, requires_grad=requires_grad)

    def cat(self, xs: list[Any], dim: int = 0) -> Any:
        return self.T.cat(xs, dim)

    def data(self, t: Any) -> np.ndarray:
        return t.data

    def grad(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else t.grad.data

    def no_grad(self) -> Any:
        return self.T.no_grad()


@dataclass
class Context:
    L: ModuleType  # the learner's package
    torch: Any  # or None: finite differences
    ref: EngineSide  # gradschool's engine
    learner: EngineSide  # the learner's tensors, for primitives and the topological sort
    composites: EngineSide  # gradschool's tensors, the learner's composite functions

    @classmethod
    def create(cls, package: ModuleType, use_torch: bool | None = None) -> Context:
        # NOTE: modules by name: `package.tensor` is the function `tensor()`, not tensor.py.
        ref_tensor = importlib.import_module("gradschool.engine.tensor")
        ref_functional = importlib.import_module("gradschool.engine.functional")
        tensor = importlib.import_module(package.__name__ + ".tensor")
        functional = importlib.import_module(package.__name__ + ".functional")
        conv = importlib.import_module(package.__name__ + ".conv")
        F = SimpleNamespace(
            softmax=functional.softmax,
            log_softmax=functional.log_softmax,
            cross_entropy=functional.cross_entropy,
            conv2d=conv.conv2d,
            scaled_dot_product_attention=functional.scaled_dot_product_attention,
        )
        return cls(
            package,
            torch_or_none(use_torch),
            EngineSide(ref_tensor, ref_functional),
            EngineSide(tensor, functional),
            EngineSide(ref_tensor, F),
        )

    def module(self, name: str) -> ModuleType:
        """A module of the learner's package: "tensor", "functional", "conv", ..."""
        return importlib.import_module(f"{self.L.__name__}.{name}")

    @property
    def tol(self) -> tuple[float, float]:
        return TOL if self.torch is not None else FD_TOL


# ---- the oracle ------------------------------------------------------------------------------

Fn = Callable[..., Any]  # fn(side, *tensors) -> tensor, written once for all three engines


def expected(
    ctx: Context, fn: Fn, inputs: list[np.ndarray], requires: list[bool], seed: int, kink: bool
) -> tuple[np.ndarray, list[np.ndarray | None], np.ndarray]:
    """(forward, gradient of each input, weights w) for loss = sum(w * fn(inputs))."""
    rng = np.random.default_rng(seed)
    side: Any = TorchSide(ctx.torch) if ctx.torch is not None else ctx.ref
    xs = [side.tensor(a.copy(), r) for a, r in zip(inputs, requires)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(side, *xs)
    w = rng.standard_normal(np.shape(side.data(out)))
    if ctx.torch is not None or kink:
        # torch's autograd; at a kink, gradschool's engine (equal to torch by its test suite)
        (out * side.tensor(w)).sum().backward()
        return side.data(out), [side.grad(x) if r else None for x, r in zip(xs, requires)], w
    return side.data(out), _finite_differences(ctx.ref, fn, inputs, requires, w), w


def _finite_differences(
    ref: EngineSide, fn: Fn, inputs: list[np.ndarray], requires: list[bool], w: np.ndarray
) -> list[np.ndarray | None]:
    arrays = [a.copy() for a in inputs]

    def loss() -> float:
        with ref.no_grad():
            return float((fn(ref, *[ref.tensor(a) for a in arrays]).data * w).sum())

    grads: list[np.ndarray | None] = []
    for a, r in zip(arrays, requires):
        if not r:
            grads.append(None)
            continue
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            keep = flat[i]
            flat[i] = keep + FD_EPS
            up = loss()
            flat[i] = keep - FD_EPS
            down = loss()
            flat[i] = keep
            gflat[i] = (up - down) / (2 * FD_EPS)
        grads.append(g)
    return grads


# ---- inputs ----------------------------------------------------------------------------------


def make(
    shape: tuple[int, ...], kind: str, rng: np.random.Generator, positive: bool = False
) -> np.ndarray:
    """A float64 array of `shape`: random, small integers, zeros, or constant patches."""
    n = int(np.prod(shape, dtype=np.int64))
    a: np.ndarray  # float64 or int64 here, float64 once returned
    if kind == "random":
        a = rng.uniform(0.1, 3.0, n) if positive else rng.uniform(-2.0, 2.0, n)
    elif kind == "small integers":
        a = rng.integers(1, 5, n) if positive else rng.integers(-3, 4, n)
    elif kind == "zeros":
        a = np.ones(n) if positive else np.zeros(n)
    else:  # constant patches: the array in three runs of one value each
        values = (1.0, 2.5, 0.5) if positive else (1.5, 0.0, -0.5)
        a = np.repeat(values, -(-n // 3))[:n]
    return np.asarray(a, dtype=np.float64).reshape(shape)


def seed_of(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def shapes_text(inputs: list[np.ndarray], names: tuple[str, ...]) -> list[str]:
    return [f"{n} {fmt_shape(a.shape)}" for n, a in zip(names, inputs)]
