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

import math
from collections.abc import Callable

import numpy as np

from gradschool.engine.tensor import Tensor
from gradschool.engine.windows import window_view

__all__ = [
    "attention",
    "conv2d",
    "cross_entropy",
    "gelu_tanh",
    "is_fused_enabled",
    "layer_norm",
    "linear",
    "set_fused_enabled",
]


class _FusedMode:
    enabled = True


def is_fused_enabled() -> bool:
    """Whether linear, cross_entropy, layer_norm, the tanh GELU, attention and conv2d run as
    one fused node each (see the module docstring)."""
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
    n_in, n_out = w.shape[1], w.shape[0]
    lead = x.shape[:-1]
    # NOTE: rows of every leading dimension are examples, so a (B, T, in) input is multiplied
    # as one (B*T, in) matrix. NumPy's matmul would run a 3-D input as B separate products
    # (T, in) @ (in, out): for a GPT's (12, 64, 128) activations that is ~1.5x slower than
    # the one large product, with the same numbers.
    x2 = x.data.reshape(-1, n_in)  # (M, in); a view, or the array itself when 2-D
    out = x2 @ w.T  # a fresh array: the bias is added into it, no second (..., out) array
    if bias is not None:
        out += bias.data
    if x.data.ndim != 2:
        out = out.reshape(*lead, n_out)

    def backward(g: np.ndarray) -> tuple:
        # Flattened to (M, out) and (M, in) as in the forward.
        g2 = g.reshape(-1, n_out)
        gx = None
        if x.requires_grad:  # (M, out) @ (out, in) -> (M, in) -> (..., in)
            gx = (g2 @ w).reshape(x.shape)
        gw = None
        if weight.requires_grad:
            # NOTE: g^T x, not (x^T g)^T: the same numbers, but this one is C-contiguous like
            # W, so the optimizer's in-place update of W runs over both in memory order.
            # NOTE: for a single row (batch 1) g^T x is an outer product, (out, 1) * (1, in):
            # the same numbers as the matrix product, which BLAS computes ~4x slower when the
            # inner dimension is 1.
            gw = g2.T * x2 if len(x2) == 1 else g2.T @ x2
        if bias is None:
            return gx, gw
        return gx, gw, (_column_sums(g2) if bias.requires_grad else None)

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(out, parents, backward, "linear")


def _column_sums(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=0) of an (M, n) array, as the product ones(M) @ a.

    NOTE: for a tall, narrow array (a bias gradient: M = 100,352 positions of 32 channels)
    NumPy's reduction over axis 0 runs ~5x slower than BLAS's matrix-vector product, which
    gives the same sums up to float rounding.
    """
    return np.ones(len(a), dtype=a.dtype) @ a


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


# ---- the transformer's three composites, one node each ------------------------------------------
#
# A GPT step runs layer_norm, GELU and attention on every layer (transformer.py and
# functional.py teach them as composites: 9, 10 and 8 nodes, each a pass over a (B, T, C) or
# (B, nh, T, T) array and a fresh array for its result, and as many again in the backward).
# Here each is one node whose backward is the chain rule through those composites, simplified
# on paper. tests/test_engine_fused.py checks every one against its composite and torch.


def layer_norm(
    input: Tensor, dims: tuple[int, ...], weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * w + b over the axes `dims` (the last ones), one node.

    With n the number of values normalised together, xhat = (x - mean) * rstd and
    gxhat = g * w, the backward is

        dL/dx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))
        dL/dw = sum over positions of g * xhat,     dL/db = sum over positions of g

    (the mean term: shifting every x by the same amount changes nothing; the xhat term:
    neither does scaling them). The forward performs the composite's operations in its
    order, so it gives the same numbers to the last bit.
    """
    x = input.data
    n = int(np.prod([x.shape[d] for d in dims]))
    inv_n = np.asarray(1.0 / n, dtype=x.dtype)
    centered = x - x.sum(axis=dims, keepdims=True) * inv_n  # (..., C)
    var = (centered * centered).sum(axis=dims, keepdims=True) * inv_n  # (..., 1)
    rstd = (var + np.asarray(eps, dtype=x.dtype)) ** -0.5
    xhat = centered  # NOTE: normalised in place: `centered` is not needed any more
    xhat *= rstd
    out = xhat * weight.data if weight is not None else xhat.copy()  # xhat is kept for backward
    if bias is not None:
        out = out + bias.data
    rows = tuple(range(x.ndim - len(dims)))  # the positions: every axis not normalised

    def backward(g: np.ndarray) -> tuple:
        gw = (g * xhat).sum(axis=rows) if weight is not None and weight.requires_grad else None
        gb = g.sum(axis=rows) if bias is not None and bias.requires_grad else None
        gx = None
        if input.requires_grad:
            gxhat = g * weight.data if weight is not None else g.copy()
            a = gxhat.sum(axis=dims, keepdims=True) * inv_n  # mean(gxhat)
            b = (gxhat * xhat).sum(axis=dims, keepdims=True) * inv_n  # mean(gxhat * xhat)
            gxhat -= a
            gxhat -= xhat * b
            gxhat *= rstd
            gx = gxhat
        grads = [gx] + ([gw] if weight is not None else []) + ([gb] if bias is not None else [])
        return tuple(grads)

    parents = (input,) + tuple(t for t in (weight, bias) if t is not None)
    return Tensor._make(out, parents, backward, "layer_norm")


# GELU's tanh form (GPT-2): 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
_GELU_C, _GELU_A = math.sqrt(2 / math.pi), 0.044715
# Rows per block of an elementwise chain (see _by_blocks): 64 rows of a GPT's 512-wide hidden
# layer are 128 KiB per float32 array, so a block's few arrays stay in the core's L2 cache.
_BLOCK_BYTES = 128 * 1024


def _by_blocks(kernel: Callable[..., None], *arrays: np.ndarray) -> None:
    """Run `kernel(*blocks)` over blocks of rows of same-shaped arrays (the last one written).

    NOTE: an elementwise chain of ten NumPy operations over a 1.5 MB array streams it
    through memory ten times; cut into blocks that fit in the cache, each block makes the ten
    passes there. Same operations, same numbers, about 1.7x faster for a GPT's GELU (loop
    tiling: what a compiler does to a loop nest, done by hand).
    """
    flat = [a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1) for a in arrays]
    rows = max(1, _BLOCK_BYTES // max(flat[0][0].nbytes, 1))
    for i in range(0, len(flat[0]), rows):
        kernel(*(a[i : i + rows] for a in flat))


def gelu_tanh(input: Tensor) -> Tensor:
    """GELU, tanh form, one node. With t = tanh(u) and s = 1 + t:

        d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
             = 0.5 s + s (2 - s) x (0.5 c + 1.5 a c x^2)         (1 - t^2 = s (2 - s))

    The forward performs the composite's operations in its order (functional.gelu), so it
    gives the same numbers to the last bit; it keeps s, which the backward needs.
    """
    x = input.data
    dt = x.dtype
    a, c, half, one = (np.asarray(v, dtype=dt) for v in (_GELU_A, _GELU_C, 0.5, 1.0))
    s = np.empty_like(x)  # 1 + tanh(u), kept for the backward
    out = np.empty_like(x)

    def forward(x: np.ndarray, s: np.ndarray, out: np.ndarray) -> None:
        u = x * x
        u *= x
        u *= a
        u += x  # x + 0.044715 x^3
        u *= c
        np.tanh(u, out=u)
        np.add(u, one, out=s)
        np.multiply(x, half, out=out)
        out *= s  # (x * 0.5) * (tanh(u) + 1)

    _by_blocks(forward, x, s, out)
    k0, k1 = (np.asarray(v, dtype=dt) for v in (0.5 * _GELU_C, 1.5 * _GELU_A * _GELU_C))

    def backward(g: np.ndarray) -> tuple:
        grad = np.empty_like(x)

        def block(x: np.ndarray, s: np.ndarray, g: np.ndarray, grad: np.ndarray) -> None:
            np.multiply(x, x, out=grad)
            grad *= k1
            grad += k0
            grad *= x  # x (0.5 c + 1.5 a c x^2)
            slope = 2 - s
            slope *= s  # s (2 - s) = 1 - t^2
            grad *= slope
            np.multiply(s, half, out=slope)
            grad += slope
            grad *= g

        _by_blocks(block, x, s, np.broadcast_to(g, x.shape), grad)
        return (grad,)

    return Tensor._make(out, (input,), backward, "gelu")


def attention(q: Tensor, k: Tensor, v: Tensor, keep: np.ndarray | None, add: np.ndarray | None,
              scale: float) -> Tensor:  # fmt: skip
    """softmax(q k^T * scale, masked) v in one node, without dropout.

    q: (..., L, E), k: (..., S, E), v: (..., S, Ev) with the same leading dims; `keep` a
    boolean (L, S)-broadcastable mask (False: -inf before the softmax) or `add` a float one
    added to the scores. With P the attention weights and g = dL/d(out):

        dL/dv = P^T g,   dP = g v^T,   dS = P * (dP - sum_j dP * P)    (softmax's backward)
        dL/dq = dS k * scale,          dL/dk = dS^T q * scale

    Masked weights are exactly 0, so their dS is 0 and nothing flows to a masked key. The
    forward performs the composite's operations in its order: the same numbers to the last bit.
    """
    scores = q.data @ np.swapaxes(k.data, -1, -2)  # (..., L, S)
    scores *= np.asarray(scale, dtype=scores.dtype)
    if keep is not None:
        np.copyto(scores, -np.inf, where=~keep)  # in place: masked_fill's values
    elif add is not None:
        scores += add.astype(scores.dtype)
    scores -= scores.max(axis=-1, keepdims=True)  # the max shift (softmax)
    p = np.exp(scores, out=scores)
    p /= p.sum(axis=-1, keepdims=True)  # (..., L, S), rows sum to 1
    out = p @ v.data  # (..., L, Ev)

    def backward(g: np.ndarray) -> tuple:
        gv = np.swapaxes(p, -1, -2) @ g if v.requires_grad else None
        ds = g @ np.swapaxes(v.data, -1, -2)  # dP, (..., L, S)
        ds -= (ds * p).sum(axis=-1, keepdims=True)
        ds *= p
        ds *= np.asarray(scale, dtype=ds.dtype)  # dS of the scaled scores
        gq = ds @ k.data if q.requires_grad else None
        gk = np.swapaxes(ds, -1, -2) @ q.data if k.requires_grad else None
        return gq, gk, gv

    return Tensor._make(out, (q, k, v), backward, "attention")


# ---- conv2d: im2col, one matrix product and col2im as one node, a few images at a time --------

# Bytes of patch matrix and output rows per block of images (see conv2d): well inside the core's
# L2 cache. NOTE: measured, and smaller than the cache needs: the MNIST CNN's products are
# thin (32 or 64 kernels), and OpenBLAS runs a product of under a million multiply-adds on
# its small-matrix kernels, without packing its operands, faster than in bigger blocks. 600 KB
# is 4 images of the first convolution (2 MB was 16: 1.1 ms a step slower) and 2 of the second.
_CONV_BLOCK_BYTES = 600 * 1024

# With fewer input channels than this, conv2d lays its patch matrix out kernel-offset-major.
_FEW_CHANNELS = 4


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> Tensor:
    """conv.conv2d (groups = 1) as one node, with the backward written out (shapes as in
    conv.py; cols is the patch matrix, one patch per row):

        out = cols W^T + b,   dL/dW = g^T cols,   dL/db = sum over rows of g,
        dL/dcols = g W   -> col2im -> dL/dx

    NOTE: computed a block of images at a time. The composite builds the whole patch matrix
    at once: for the MNIST CNN's second convolution at batch 128 that is 25,088 x 288 floats,
    29 MB written, then read back by the matrix product, kept until the backward and read
    again there, and its gradient (29 MB more) is written and read by col2im. Here each block
    of images gets its own patch matrix (under 1 MB with its rows of out), which stays in the
    cache while its product, its col2im and its share of dL/dW use it, and the backward makes
    it again from the input instead of keeping it: the same products, about a third less time,
    and the node keeps only the (padded) input. Same numbers as the composite up to float
    rounding (dL/dW is summed block by block).
    """
    N, C, H, W = input.shape
    O, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    windows, (Hp, Wp) = window_view(input.data, (kh, kw), stride, padding, 0.0)
    OH, OW = windows.shape[2:4]  # windows: (N, C, OH, OW, kh, kw), a view
    P, K = OH * OW, kh * kw * C  # patches per image, values per patch
    kernels = weight.data.transpose(0, 2, 3, 1).reshape(O, K)  # (O, kh*kw*C), patch order
    per_image = P * (K + O) * windows.itemsize  # its patch matrix and its rows of out
    per_block = max(1, _CONV_BLOCK_BYTES // max(per_image, 1))
    blocks = [(i, min(i + per_block, N)) for i in range(0, N, per_block)]
    few_channels = C < _FEW_CHANNELS

    def cols(i: int, j: int) -> np.ndarray:  # the patch matrix of images i..j-1: (P*(j-i), K)
        if not few_channels:  # a copy in patch order, (j-i, OH, OW, kh, kw, C)
            return windows[i:j].transpose(0, 2, 3, 4, 5, 1).reshape((j - i) * P, K)
        # NOTE: a copy runs one loop over its last axis per element of the others. In patch
        # order that axis holds a pixel's C channels: with C = 1 (the MNIST CNN's first layer)
        # the copy walked 3 values at a time and took longer than its product. Offset-major,
        # (kh, kw, C, j-i, OH, OW), it copies whole image rows; the same matrix, transposed
        # view (the products read either layout at full speed).
        by_offset = np.ascontiguousarray(windows[i:j].transpose(4, 5, 1, 0, 2, 3))
        return by_offset.reshape(K, (j - i) * P).T

    out = np.empty((N * P, O), dtype=np.result_type(input.data, weight.data))
    for i, j in blocks:
        rows = out[i * P : j * P]
        np.matmul(cols(i, j), kernels.T, out=rows)  # every patch against every kernel
        if bias is not None:
            rows += bias.data
    result = out.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)  # (N, O, OH, OW), channels-last

    def backward(g: np.ndarray) -> tuple:
        g2 = g.transpose(0, 2, 3, 1).reshape(N * P, O)  # a view when g is channels-last
        gwt = np.zeros((K, O), dtype=g.dtype) if weight.requires_grad else None  # dL/dW^T
        gb = _column_sums(g2) if bias is not None and bias.requires_grad else None
        grad = np.zeros((N, Hp, Wp, C), dtype=g.dtype) if input.requires_grad else None
        if grad is not None:
            # col2im one kernel offset (a, b) at a time: dL/d(element (a, b) of every patch)
            # = g (rows, O) @ W[:, :, a, b] (O, C) is a block of rows of g W, and lands on
            # pixel (r + a, c + b) of each patch (r, c): (j-i, OH, OW, C) added to a shifted
            # slice of the gradient. NOTE: not g W at once, whose (a, b) slice, (j-i, OH, OW,
            # C) with OW strided by kh*kw*C, made each add a loop per pixel over its C values
            # (a third of the backward of the MNIST CNN's second convolution); a contiguous slice
            # adds whole rows of OW * C values. The same products, in the same order.
            per_offset = np.ascontiguousarray(kernels.reshape(O, kh * kw, C).transpose(1, 0, 2))
            part = np.empty((per_block * P, C), dtype=np.result_type(g, kernels))
        for i, j in blocks:
            gi = g2[i * P : j * P]  # (P*(j-i), O)
            if gwt is not None:
                gwt += cols(i, j).T @ gi  # (K, O)
            if grad is not None:
                block, rows = grad[i:j], part[: (j - i) * P]  # block: (j-i, Hp, Wp, C)
                for k in range(kh * kw):
                    a, b = divmod(k, kw)
                    np.matmul(gi, per_offset[k], out=rows)  # (P*(j-i), C)
                    where = block[:, a : a + sh * OH : sh, b : b + sw * OW : sw]
                    where += rows.reshape(j - i, OH, OW, C)
        gx = None
        if grad is not None:  # drop the padding; (N, C, H, W), channels-last
            gx = grad[:, ph : ph + H, pw : pw + W].transpose(0, 3, 1, 2)
        gw = None if gwt is None else gwt.T.reshape(O, kh, kw, C).transpose(0, 3, 1, 2)
        return (gx, gw) if bias is None else (gx, gw, gb)  # gw: (O, C, kh, kw)

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._make(result, parents, backward, "conv2d")
