"""`check_op`: the one helper every engine op is tested through (tinygrad's `helper_test_op`).

It builds inputs (random float64 by default), runs the op on the NumPy engine and on
`torch.autograd`, and compares, for every output and every input:

- forward values, shapes and dtypes;
- gradients, from backward of a random-weighted sum of the outputs, so every output element
  matters (a plain `.sum()` would hide e.g. a softmax gradient, which sums to zero).

Without torch (not installed, or `GRADSCHOOL_TEST_NO_TORCH=1`), the same call checks the
engine's gradient against central finite differences (`gradschool.gradcheck.numeric_grad`),
so the suite still tests every backward.

`ties=True` (or explicit arrays from `tie_heavy`) feeds inputs that tie the way real data
does: small integers (so exact zeros and equal values everywhere) and a constant patch (an
image's background). Random floats never tie, so they cannot tell two engines apart where a
gradient has to pick among equal values (max pooling, max, maximum, clamp at its bounds, ReLU
or |x| at 0); these inputs can.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.engine import Tensor
from gradschool.gradcheck import numeric_grad

try:
    if os.environ.get("GRADSCHOOL_TEST_NO_TORCH"):
        raise ImportError("torch disabled by GRADSCHOOL_TEST_NO_TORCH")
    import torch
except ImportError:
    torch = None

HAS_TORCH = torch is not None

# Default tolerances by dtype: (atol, rtol).
_TOL = {np.dtype(np.float64): (1e-10, 1e-10), np.dtype(np.float32): (1e-5, 1e-5)}


@dataclass
class OpResult:
    """What the engine produced, for extra assertions in a test."""

    out: Any  # engine_fn's return value (a Tensor or a tuple of them)
    grads: list[np.ndarray | None]  # the engine's gradient of each input (None: no grad)
    weights: list[np.ndarray | None]  # loss = sum(weights[i] * output i) (None: not float)
    torch_out: Any = None
    torch_grads: list[np.ndarray | None] | None = None


def torch_dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _data(t: Any) -> np.ndarray:
    if isinstance(t, Tensor):
        return t.data
    return t.detach().numpy()


def _weighted_sum(outs: list[Any], weights: list[np.ndarray | None], make: Callable) -> Any:
    """sum_i sum(weights[i] * outs[i]) over the floating outputs; `make` wraps an array as a
    tensor of the right engine (engine Tensor or torch.from_numpy)."""
    terms = [(o * make(w)).sum() for o, w in zip(outs, weights) if w is not None]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def tie_heavy(
    shape: tuple[int, ...],
    seed: int = 0,
    values: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0),
    patch: float | None = 1.0,
) -> np.ndarray:
    """float64 inputs full of ties, shaped `shape`: each element drawn from `values` (small
    integers: exact zeros, repeats everywhere, values exactly at bounds such as clamp(-1, 1)),
    and, for 2 or more dimensions, a constant `patch` over the top-left quarter of the last
    two axes (a digit's background: whole pooling windows of one value). patch=None: none."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.asarray(values, dtype=np.float64), size=shape)
    if patch is not None and a.ndim >= 2:
        a[..., : (shape[-2] + 1) // 2, : (shape[-1] + 1) // 2] = patch
    return a


def _build_inputs(
    shapes_or_arrays: Sequence[Any],
    dtype: Any,
    low: float,
    high: float,
    seed: int,
    ties: bool = False,
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for i, spec in enumerate(shapes_or_arrays):
        if isinstance(spec, tuple) and ties:
            arrays.append(tie_heavy(spec, seed + i).astype(dtype))
        elif isinstance(spec, tuple):
            arrays.append(rng.uniform(low, high, spec).astype(dtype))
        else:
            a = np.array(spec.data if isinstance(spec, Tensor) else spec)  # a copy
            arrays.append(a.astype(dtype) if a.dtype.kind == "f" else a)
    return arrays


def check_op(
    shapes_or_arrays: Sequence[Any],
    engine_fn: Callable[..., Any],
    torch_fn: Callable[..., Any] | None = None,
    *,
    dtype: Any = np.float64,
    atol: float | None = None,
    rtol: float | None = None,
    grad: bool = True,
    grad_atol: float | None = None,
    grad_rtol: float | None = None,
    low: float = -2.0,
    high: float = 2.0,
    seed: int = 0,
    smooth: bool = True,
    ties: bool = False,
    use_torch: bool | None = None,
    fd_atol: float = 1e-6,
    fd_rtol: float = 1e-5,
    fd_eps: float = 1e-6,
) -> OpResult:
    """Check `engine_fn` against `torch_fn` (default: the same function, for ops spelled the
    same on both engines, like `lambda a, b: a @ b`).

    shapes_or_arrays: a tuple is a shape (uniform in [low, high), of `dtype`); anything else is
        an array used as given (floating arrays converted to `dtype`; integer arrays are
        passed as constant tensors, e.g. class labels or indices).
    grad: also compare gradients (floating inputs require grad).
    smooth: False when the inputs sit on a kink (ReLU at 0, ties), where a finite difference
        means nothing: without torch, only the gradient's shape, dtype and finiteness are
        checked, and the test should assert the expected values itself.
    ties: shapes are filled by `tie_heavy` (small integers and a constant patch) instead of
        uniform floats; implies smooth=False.
    use_torch: None = torch when available; False forces the finite-difference path.
    fd_atol, fd_rtol, fd_eps: tolerances and step of the finite-difference path (a larger
        step for ops that round to float32 inside, where 1e-6 drowns in rounding error).
    """
    dtype = np.dtype(dtype)
    d_atol, d_rtol = _TOL.get(dtype, (1e-10, 1e-10))
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    grad_atol = atol if grad_atol is None else grad_atol
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    use_torch = HAS_TORCH if use_torch is None else use_torch and HAS_TORCH
    torch_fn = engine_fn if torch_fn is None else torch_fn

    smooth = smooth and not ties
    arrays = _build_inputs(shapes_or_arrays, dtype, low, high, seed, ties)
    wants = [grad and a.dtype.kind == "f" for a in arrays]
    xs = [Tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
    out = engine_fn(*xs)
    outs = _outputs(out)
    rng = np.random.default_rng(seed + 1)
    weights = [
        np.asarray(rng.standard_normal(o.shape), dtype=o.dtype) if o.dtype.kind == "f" else None
        for o in outs
    ]

    for o in outs:
        assert isinstance(o, Tensor), f"engine output is {type(o).__name__}, not a Tensor"
    grads: list[np.ndarray | None] = [None] * len(xs)
    if grad and any(o.requires_grad for o in outs):
        _weighted_sum(outs, weights, Tensor).backward()
        grads = [x.grad.data if x.grad is not None else None for x in xs]
        for x, g in zip(xs, grads):
            if g is not None:
                assert g.shape == x.shape, f"grad shape {g.shape} != input shape {x.shape}"
                assert g.dtype == x.dtype, f"grad dtype {g.dtype} != input dtype {x.dtype}"
    result = OpResult(out, grads, weights)

    if use_torch:
        _compare_with_torch(
            arrays,
            wants,
            torch_fn,
            outs,
            grads,
            weights,
            result,
            (atol, rtol, grad_atol, grad_rtol),
        )
    elif grad and any(wants):
        _compare_with_finite_differences(
            arrays, engine_fn, grads, wants, weights, smooth, (fd_atol, fd_rtol, fd_eps)
        )
    return result


def _compare_with_torch(
    arrays: list[np.ndarray],
    wants: list[bool],
    torch_fn: Callable[..., Any],
    outs: list[Tensor],
    grads: list[np.ndarray | None],
    weights: list[np.ndarray | None],
    result: OpResult,
    tols: tuple[float, float, float, float],
) -> None:
    atol, rtol, grad_atol, grad_rtol = tols
    ts = [torch.tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    t_out = torch_fn(*ts)
    t_outs = _outputs(t_out)
    assert len(t_outs) == len(outs), f"{len(outs)} engine outputs, {len(t_outs)} from torch"
    for i, (o, t) in enumerate(zip(outs, t_outs)):
        where = f"output {i}"
        assert tuple(o.shape) == tuple(t.shape), f"{where}: shape {o.shape} vs torch {t.shape}"
        assert str(o.dtype) == torch_dtype_name(t.dtype), (
            f"{where}: dtype {o.dtype} vs torch {t.dtype}"
        )
        expected = _data(t)
        if o.dtype.kind == "f":
            np.testing.assert_allclose(o.data, expected, atol=atol, rtol=rtol, err_msg=where)
        else:
            np.testing.assert_array_equal(o.data, expected, err_msg=where)
        assert o.requires_grad == t.requires_grad, f"{where}: requires_grad differs"
    t_grads: list[np.ndarray | None] = [None] * len(ts)
    if any(t.requires_grad for t in t_outs):
        _weighted_sum(t_outs, weights, torch.from_numpy).backward()
        t_grads = [t.grad.numpy() if t.grad is not None else None for t in ts]
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        if tg is None:
            assert g is None or not np.any(g), f"input {i}: engine grad where torch has none"
            continue
        assert g is not None, f"input {i}: torch has a gradient, the engine has none"
        np.testing.assert_allclose(
            g, tg, atol=grad_atol, rtol=grad_rtol, err_msg=f"gradient of input {i}"
        )
    result.torch_out, result.torch_grads = t_out, t_grads


def _compare_with_finite_differences(
    arrays: list[np.ndarray],
    engine_fn: Callable[..., Any],
    grads: list[np.ndarray | None],
    wants: list[bool],
    weights: list[np.ndarray | None],
    smooth: bool,
    fd: tuple[float, float, float],
) -> None:
    fd_atol, fd_rtol, fd_eps = fd
    for i, (g, w) in enumerate(zip(grads, wants)):
        if w and g is not None:
            assert np.all(np.isfinite(g)), f"gradient of input {i} is not finite"
    if not smooth:
        return
    w64 = [None if w is None else w.astype(np.float64) for w in weights]

    def loss(*xs: Tensor) -> Tensor:
        return _weighted_sum(_outputs(engine_fn(*xs)), w64, Tensor)

    numeric = numeric_grad(loss, arrays, eps=fd_eps)
    for i, (g, n, w) in enumerate(zip(grads, numeric, wants)):
        if not w:
            continue
        g = np.zeros_like(n) if g is None else g
        np.testing.assert_allclose(
            g, n, atol=fd_atol, rtol=fd_rtol, err_msg=f"gradient of input {i} vs finite diff"
        )
