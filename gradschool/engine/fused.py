"""Fused primitives: the fast path for the two functions every classifier calls on every batch.

Read this after `functional.py`. There, `linear` and `cross_entropy` are *taught* as
composites of primitives, and get their gradients for free:

    linear(x, W, b)        = x @ W.T + b                       3 nodes: transpose, matmul, add
    cross_entropy(z, y)    = -mean(log_softmax(z)[i, y_i])     11 nodes: max, subtract, exp,
                                                               sum, log, subtract, index,
                                                               negate, sum, multiply

Every node costs a few microseconds of Python (a Tensor, a closure, a place in the
topological sort) and a fresh array for its result, and at batch size 1 that bookkeeping, not
the arithmetic, is most of a training step. So the engine also computes the two functions as
*one node each*, with the backward written out by hand: the formulas the chain rule produces
through the composites, simplified on paper.

    linear:         out = x W^T + b     dL/dx = g W,   dL/dW = g^T x,   dL/db = sum over rows of g
    cross-entropy:  loss_i = logsumexp(z_i) - z_i[y_i]
                    dL/dz_i = g_i (softmax(z_i) - onehot(y_i))     (g_i = g / N for the mean)

The second is the classic result of section 3 of the source: the gradient of softmax plus
cross-entropy with respect to the logits is "predicted probabilities minus the truth".

Which path runs: `functional.linear` and `functional.cross_entropy` call the fused versions
while fused mode is on. It is on by default, so `gradschool train` (the trainer) runs the
fused path; switch it off to run the taught composites, globally or for a block:

    with set_fused_enabled(False):      # the composite path, node by node
        loss = F.cross_entropy(model(x), y)

The tests (tests/test_engine_fused.py) check both paths against `torch.autograd` through the
same helper as every other op, and against each other: same losses, same gradients.
"""

from __future__ import annotations

import numpy as np

from gradschool.engine.tensor import Tensor

__all__ = ["cross_entropy", "is_fused_enabled", "linear", "set_fused_enabled"]


class _FusedMode:
    enabled = True


def is_fused_enabled() -> bool:
    """Whether `functional.linear` / `functional.cross_entropy` run as one fused node."""
    return _FusedMode.enabled


class set_fused_enabled:  # noqa: N801 - named like torch.set_grad_enabled, used the same way
    """Turn fused mode on or off. Takes effect at once, like `torch.set_grad_enabled`; used as
    a context manager (`with set_fused_enabled(False): ...`) it restores the previous mode on
    leaving the block."""

    def __init__(self, mode: bool) -> None:
        self.prev = _FusedMode.enabled
        _FusedMode.enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _FusedMode.enabled = self.prev


# ---- linear: x W^T + b as one node ------------------------------------------------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b in one node. x: (..., in), W: (out, in), b: (out,) -> (..., out)."""
    w = weight.data
    out = x.data @ w.T  # a fresh array: the bias is added into it, no second (..., out) array
    if bias is not None:
        out += bias.data
    n_in, n_out = w.shape[1], w.shape[0]

    def backward(g: np.ndarray) -> tuple:
        # Rows of every leading dimension are examples: flatten them to (M, out) and (M, in).
        g2 = g.reshape(-1, n_out)
        gx = g @ w if x.requires_grad else None  # (..., out) @ (out, in) -> (..., in)
        gw = None
        if weight.requires_grad:
            # NOTE: g^T x, not (x^T g)^T: the same numbers, but this one is C-contiguous like
            # W, so the optimizer's in-place update of W runs over both in memory order.
            x2 = x.data.reshape(-1, n_in)
            # NOTE: for a single row (batch 1) g^T x is an outer product, (out, 1) * (1, in):
            # the same numbers as the matrix product, which BLAS computes ~4x slower when the
            # inner dimension is 1.
            gw = g2.T * x2 if len(x2) == 1 else g2.T @ x2
        if bias is None:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if bias.requires_grad else None)

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(out, parents, backward, "linear")


# ---- cross-entropy: log-softmax and negative log-likelihood as one node -------------------------


def cross_entropy(input: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits `input` (N, C) and integer classes `target` (N,), one node.

    `target` is an int array already checked by `functional._check_targets`. The forward
    computes exactly what the composite does, in the same order (so the loss is the same to
    the last bit); the backward is softmax minus one-hot.
    """
    z = input.data
    n = len(target)
    shifted = z - z.max(axis=1, keepdims=True)  # NOTE: the max shift keeps exp from overflowing
    e = np.exp(shifted)
    sum_e = e.sum(axis=1, keepdims=True)  # (N, 1)
    log_probs = shifted - np.log(sum_e)  # (N, C)
    rows = np.arange(n)
    losses = -log_probs[rows, target]  # (N,)
    if reduction == "mean":
        # The composite's mean: a sum times the float 1/N in the input's dtype (nan for N = 0).
        out = losses.sum() * np.asarray(1.0 / n if n else float("nan"), dtype=z.dtype)
    elif reduction == "sum":
        out = losses.sum()
    elif reduction == "none":
        out = losses
    else:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

    def backward(g: np.ndarray) -> tuple:
        # dL/dz = g * (softmax(z) - onehot(target)), with g per row for reduction="none".
        grad = e / sum_e  # softmax, (N, C): a fresh array, changed in place below
        grad[rows, target] -= 1
        if reduction == "none":
            grad *= g[:, None]
        else:
            grad *= g / n if reduction == "mean" and n else g
        return (grad,)

    return Tensor._make(np.asarray(out), (input,), backward, "cross_entropy")
