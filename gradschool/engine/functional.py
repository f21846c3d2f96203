"""Composite functions, built only from the primitives in `tensor.py`.

None of these has a hand-written backward: each is a short formula over primitive ops, and
its gradient comes from the chain rule through those ops. That is the point of autograd,
and the reason this file is short. The names and arguments follow `torch.nn.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradschool.engine import fused
from gradschool.engine.fused import is_fused_enabled
from gradschool.engine.rng import generator
from gradschool.engine.tensor import Tensor, lift

# ---- activations ---------------------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2.

    NOTE: the two are equal, but the tanh form never overflows: e^-x is inf for x < -89 in
    float32, which the textbook form turns into a harmless 0 only after a warning.
    """
    return ((x * 0.5).tanh() + 1) * 0.5


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian Error Linear Unit: x * Phi(x), with Phi the standard normal CDF.

    `approximate="none"` is torch's default, Phi(x) = (1 + erf(x / sqrt 2)) / 2;
    `approximate="tanh"` is the form GPT-2 used:
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    if approximate == "tanh":
        if is_fused_enabled() and isinstance(x, Tensor):
            # NOTE: fused mode (the default): the two lines below as one node (fused.gelu_tanh).
            return fused.gelu_tanh(x)
        # NOTE: x * x * x, not x**3: NumPy's float32 power with a negative base takes a slow
        # path (~50 ms for a GPT's (12, 64, 512) activations, 500x the two products).
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * 0.5 * (inner.tanh() + 1)
    if approximate != "none":
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * ((x * (1 / math.sqrt(2))).erf() + 1)


# ---- normalising exponentials ------------------------------------------------------------------


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim`.

    NOTE: subtracting the max first changes nothing mathematically (the factor e^-max cancels)
    but keeps exp from overflowing: logits of 1e4 would give inf / inf = nan otherwise. The max
    is detached because the result does not depend on it, so no gradient should flow there.
    """
    shifted = x - x.amax(dim, keepdim=True).detach()
    e = shifted.exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) = x_i - log(sum_j exp(x_j)), stable by the same max shift as softmax."""
    shifted = x - x.amax(dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


# ---- losses ----------------------------------------------------------------------------------


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_targets(input: Tensor, target: Tensor) -> np.ndarray:
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected target of an integer dtype (class indices, like torch's Long) but found "
            f"{t.dtype}: pass the labels as integers, e.g. y.astype(np.int64)"
        )
    if input.ndim != 2 or t.shape != (input.shape[0],):
        raise RuntimeError(
            f"expected input of shape (N, C) and target of shape (N,), got input {input.shape} "
            f"and target {t.shape}; flatten extra dimensions first, e.g. "
            f"logits.reshape(-1, C) and y.reshape(-1)"
        )
    num_classes = input.shape[1]
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        bad = t[(t < 0) | (t >= num_classes)][0]
        raise IndexError(f"Target {bad} is out of bounds: classes are 0..{num_classes - 1}")
    return t


def nll_loss(log_probs: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target class: -log_probs[i, target[i]]."""
    t = _check_targets(log_probs, target)
    picked = log_probs[np.arange(len(t)), t]  # (N,)
    return _reduce(-picked, reduction)


def cross_entropy(
    input: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy between logits `input` (N, C) and integer class `target` (N,).

    It is -log softmax(input)[target]: the loss the seed's example uses through
    `nn.CrossEntropyLoss`. With label smoothing e, the target distribution puts 1 - e on the
    true class and e spread evenly over all C classes, as in torch.

    NOTE: while fused mode is on (the default, what the trainer runs), this returns the same
    loss computed as one node, `fused.cross_entropy`, whose backward is softmax minus one-hot;
    the lines below are the composite it is tested equal to (`fused.set_fused_enabled(False)`
    runs them).
    """
    if is_fused_enabled() and not label_smoothing and isinstance(input, Tensor):
        return fused.cross_entropy(input, _check_targets(input, target), reduction)
    log_probs = log_softmax(input, dim=1)
    loss = nll_loss(log_probs, target, reduction="none")
    if label_smoothing:
        smooth = -log_probs.mean(dim=1)
        loss = loss * (1 - label_smoothing) + smooth * label_smoothing
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    diff = input - lift(target, input)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    diff = input - lift(target, input)
    return _reduce(diff * diff.sign(), reduction)  # |d| = d * sign(d); sign is a constant


# ---- layers as functions ---------------------------------------------------------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b, with W of shape (out_features, in_features) as in torch.

    NOTE: while fused mode is on (the default), this runs as one node, `fused.linear`, with
    the same forward; the two lines below are the composite it is tested equal to.
    """
    if is_fused_enabled() and isinstance(x, Tensor):
        return fused.linear(x, weight, bias)
    out = x @ weight.T
    return out + bias if bias is not None else out


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1 / (1 - p).

    The scaling keeps the expected activation unchanged, so at evaluation time (training=False)
    dropout is simply the identity, exactly as in torch.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = generator().random(x.shape) >= p
    return x * (keep * (1.0 / (1 - p))).astype(x.dtype)


# ---- attention: a composite (the transformer's third piece; see engine/transformer.py) ------


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(q k^T * scale + mask) v, torch's `F.scaled_dot_product_attention`.

    query: (..., L, E), key: (..., S, E), value: (..., S, Ev) -> (..., L, Ev); in a GPT the
    leading dims are (B, n_head) and L = S = T. `scale` defaults to 1 / sqrt(E): without it
    the dot products grow like sqrt(E) and the softmax saturates (Vaswani et al. 2017).
    `is_causal` masks out every key after the query's position (the lower-triangular mask);
    a boolean `attn_mask` keeps where True, a float one is added to the scores.

    NOTE: masked scores are set to -inf *before* the softmax, so their weights are exactly 0
    and their gradient is 0; the max-shift inside softmax keeps that free of NaN as long as
    each row keeps at least one key (the diagonal, under the causal mask).
    NOTE: as in torch, `dropout_p` is applied whenever it is > 0; a model passes
    `dropout_p if self.training else 0.0`.
    """
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    keep = mask = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: give is_causal or attn_mask")
        keep = np.tril(np.ones((L, S), dtype=bool))  # keep[i, j]: j <= i
    elif attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        keep, mask = (mask, None) if mask.dtype == bool else (None, mask)
    if (
        is_fused_enabled()
        and dropout_p == 0
        and all(isinstance(t, Tensor) for t in (query, key, value))
        and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
    ):
        # NOTE: fused mode (the default) computes the lines below as one node with a
        # hand-derived backward (fused.attention); they are the taught composite.
        return fused.attention(query, key, value, keep, mask, scale)
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, S)
    if keep is not None:
        scores = scores.masked_fill(~keep, -math.inf)
    elif mask is not None:
        scores = scores + Tensor(mask.astype(scores.dtype))
    weights = softmax(scores, dim=-1)  # (..., L, S), each row sums to 1
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value  # (..., L, Ev)


# ---- convolution, pooling, batch norm (engine/conv.py), under torch's names ------------------
from gradschool.engine.conv import adaptive_avg_pool2d as adaptive_avg_pool2d  # noqa: E402
from gradschool.engine.conv import avg_pool2d as avg_pool2d  # noqa: E402
from gradschool.engine.conv import batch_norm as batch_norm  # noqa: E402
from gradschool.engine.conv import conv2d as conv2d  # noqa: E402
from gradschool.engine.conv import max_pool2d as max_pool2d  # noqa: E402
from gradschool.engine.conv import unfold as unfold  # noqa: E402

# ---- transformer pieces (engine/transformer.py), under torch's names -------------------------
from gradschool.engine.transformer import embedding as embedding  # noqa: E402
from gradschool.engine.transformer import layer_norm as layer_norm  # noqa: E402
