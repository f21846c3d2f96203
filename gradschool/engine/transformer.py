"""The pieces of a transformer, as functions: token embedding and layer norm.

Read this after `functional.py`. A GPT (Radford et al. 2018, 2019; Karpathy's nanoGPT) needs
only three things the engine did not have yet:

1. `embedding(input, weight)`: look up one row of a table per token id. It is a *primitive*
   (its backward is written here, beside its forward), because its gradient is a scatter-add
   that no composite of the other ops does fast.
2. `layer_norm(x, ...)`: normalise each position's feature vector to zero mean and unit
   variance, then scale and shift it (Ba, Kiros & Hinton 2016). A composite: its gradient,
   which takes half a page to derive by hand, comes from the primitives for free.
3. `scaled_dot_product_attention(q, k, v, ...)`: softmax(q k^T / sqrt(d) + mask) v (Vaswani
   et al. 2017, section 3.2.1), with the causal mask that keeps position t from looking at
   t+1, t+2, ... A composite too: matmul, a masked fill, softmax, dropout, matmul. It is
   written at the end of `functional.py`, beside the softmax and dropout it is made of.

The names and arguments are torch's (`torch.nn.functional.embedding`, `.layer_norm`,
`.scaled_dot_product_attention`), and `functional.py` re-exports the two here, so model code
that calls `nn.functional.layer_norm` runs unchanged on either engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradschool.engine import fused
from gradschool.engine.fused import is_fused_enabled
from gradschool.engine.tensor import Tensor

__all__ = ["embedding", "layer_norm"]


# ---- embedding: a primitive ----------------------------------------------------------------


def _scatter_add_rows(index: np.ndarray, rows: np.ndarray, num_rows: int) -> np.ndarray:
    """out[i] = sum of rows[j] over every j with index[j] == i, for i < num_rows.

    index: (N,) int, rows: (N, C) -> out: (num_rows, C).

    NOTE: `np.add.at(out, index, rows)` says the same thing but is slow (an unbuffered loop
    over N), and `out[index] += rows` is wrong: a repeated index would be added only once.
    Here the N rows are sorted by index so that equal indices sit together, and
    `np.add.reduceat` sums each run of equal indices in one vectorised pass: O(N log N) for
    the sort plus one pass over the (N, C) rows.
    """
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")  # stable: each run is summed in input order
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    out[sorted_index[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def embedding(input: Any, weight: Tensor) -> Tensor:
    """Row `input[...]` of `weight` for every id: (*input.shape) ints -> (*input.shape, C).

    weight: (num_embeddings, C). In a GPT, `input` is a (B, T) batch of token ids and the
    result the (B, T, C) token vectors. It is the same as `one_hot(input) @ weight`, without
    building the one-hot matrix.
    """
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            f"embedding expects integer token ids (like torch's Long), got {idx.dtype}: "
            f"pass ids as integers, e.g. ids.astype(np.int64)"
        )
    num, dim = weight.shape
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].flat[0]
        raise IndexError(f"index {bad} is out of range for an embedding of {num} rows")

    def backward(g: np.ndarray) -> tuple:
        # Row r of the table was copied to every position holding id r, so its gradient is
        # the sum of the gradients at those positions (a scatter-add). Rows of ids that do
        # not occur get 0. g: (*input.shape, C) -> (num, C).
        return (_scatter_add_rows(idx.reshape(-1), g.reshape(-1, dim), num),)

    return Tensor._make(weight.data[idx], (weight,), backward, "embedding")


# ---- layer norm: a composite ---------------------------------------------------------------


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims.

    NOTE: the variance is the *biased* one (divide by n, not n - 1), as torch and the paper
    use; `eps` keeps the division finite for a constant vector.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[-len(shape) :]) != shape:
        raise RuntimeError(
            f"layer_norm: the input's last dimensions {tuple(input.shape)} do not match "
            f"normalized_shape {shape}"
        )
    dims = tuple(range(-len(shape), 0))
    if is_fused_enabled() and isinstance(input, Tensor):
        # NOTE: fused mode (the default) computes the same lines as one node with a
        # hand-derived backward (fused.layer_norm); the lines below are the taught composite.
        return fused.layer_norm(input, dims, weight, bias, eps)
    centered = input - input.mean(dims, keepdim=True)  # (..., C)
    var = (centered * centered).mean(dims, keepdim=True)  # (..., 1)
    out = centered * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
