"""Layers for a transformer: `Embedding` and `LayerNorm`, shaped like `torch.nn`.

The maths is in `transformer.py` (`embedding`, `layer_norm`); these classes hold the weights,
initialised as torch does, and are re-exported by `nn.py` (`nn.Embedding`, `nn.LayerNorm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradschool.engine import init
from gradschool.engine.module import Module, Parameter
from gradschool.engine.tensor import Tensor
from gradschool.engine.transformer import embedding, layer_norm

__all__ = ["Embedding", "LayerNorm"]


class Embedding(Module):
    """A table of `num_embeddings` vectors of size `embedding_dim`, looked up by integer id.

    `Embedding(65, 128)(ids)`: ids (B, T) -> (B, T, 128). Initialised N(0, 1), as torch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)

    def forward(self, input: Any) -> Tensor:
        return embedding(input, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise the last dimensions to zero mean and unit variance, then scale and shift.

    `weight` (the gain) starts at 1 and `bias` at 0, as in torch, so a fresh layer is a pure
    normalisation; `bias=False` drops the shift (GPT-2 style models sometimes do).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape, self.eps = tuple(shape), eps
        self.elementwise_affine = elementwise_affine
        shape, affine = self.normalized_shape, elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype)) if affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if affine and bias else None

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
