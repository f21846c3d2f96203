"""The array operations the per-example gradient rules need, on either engine.

The rules in per_example.py are written once, over this small table of operations: `NumpyOps`
for the engine's NumPy arrays, `TorchOps` for torch tensors (on their device). So both engines
run the same rule code, and the tests compare the two on the same weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NumpyOps", "TorchOps", "engine_nn", "ops_for"]


class NumpyOps:
    """What the per-layer rules need, for the NumPy engine (plain arrays)."""

    name = "numpy"

    def __init__(self) -> None:
        from gradschool.engine import Tensor, conv

        self._Tensor, self._conv = Tensor, conv

    def value(self, t: Any) -> np.ndarray:
        return t.data if isinstance(t, self._Tensor) else np.asarray(t)

    def wrap(self, a: np.ndarray | None) -> Any:
        return None if a is None else self._Tensor(a)

    def grad(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else t.grad.data

    def param(self, p: Any) -> np.ndarray:
        return p.data

    def sum(self, x: np.ndarray, dim: int | tuple[int, ...]) -> np.ndarray:
        return x.sum(axis=dim)

    def mean(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        return x.mean(axis=dims, keepdims=True)

    def cast(self, x: np.ndarray, like: np.ndarray) -> np.ndarray:
        return x.astype(like.dtype, copy=False)

    def mT(self, x: np.ndarray) -> np.ndarray:
        return np.swapaxes(x, -1, -2)

    def conv_weight_grads(
        self, a: np.ndarray, g: np.ndarray, kernel: tuple, padding: tuple, stride: tuple
    ) -> np.ndarray:
        # The engine's own im2col: cols (N, K, L) with K = C*kh*kw patch values and L = OH*OW
        # positions, in torch's F.unfold layout. Then dW_i = g_i cols_i^T, a batched matmul.
        N, O = g.shape[:2]
        cols = self._conv.unfold(self._Tensor(a), kernel, 1, padding, stride).data
        return g.reshape(N, O, -1) @ np.swapaxes(cols, 1, 2)  # (N, O, L) @ (N, L, K)

    def scatter_rows(self, ids: np.ndarray, g: np.ndarray, num_rows: int) -> np.ndarray:
        N, D = g.shape[0], g.shape[-1]
        out = np.zeros((N * num_rows, D), dtype=g.dtype)
        flat = (np.arange(N).reshape((N,) + (1,) * (ids.ndim - 1)) * num_rows + ids).reshape(-1)
        np.add.at(out, flat, g.reshape(-1, D))  # repeated ids add up, as they must
        return out.reshape(N, num_rows, D)

    def flat_norms(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt((x.reshape(len(x), -1).astype(np.float64) ** 2).sum(axis=1))

    def weighted_sum(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.tensordot(w.astype(x.dtype), x, axes=1)  # Σ_i w_i x_i

    def normal(self, like: np.ndarray, std: float, generator: Any) -> np.ndarray:
        from gradschool.engine import rng

        gen = generator if generator is not None else rng.generator()
        return (gen.standard_normal(like.shape) * std).astype(like.dtype)

    def zeros(self, like: np.ndarray, n: int) -> np.ndarray:
        return np.zeros((n, *like.shape), dtype=like.dtype)

    def set_grad(self, p: Any, g: np.ndarray) -> None:
        p.grad = self._Tensor(np.ascontiguousarray(g, dtype=p.data.dtype))


class TorchOps:
    """The same operations on torch tensors (on their device)."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def value(self, t: Any) -> Any:
        return t.detach()

    def wrap(self, a: Any) -> Any:
        return a

    def grad(self, t: Any) -> Any:
        return t.grad

    def param(self, p: Any) -> Any:
        return p.detach()

    def sum(self, x: Any, dim: int | tuple[int, ...]) -> Any:
        return x.sum(dim=dim)

    def mean(self, x: Any, dims: tuple[int, ...]) -> Any:
        return x.mean(dim=dims, keepdim=True)

    def cast(self, x: Any, like: Any) -> Any:
        return x.to(like.dtype)

    def mT(self, x: Any) -> Any:
        return x.transpose(-1, -2)

    def conv_weight_grads(
        self, a: Any, g: Any, kernel: tuple, padding: tuple, stride: tuple
    ) -> Any:
        # The patches as a strided VIEW (N, C, OH, OW, kh, kw), contracted with g by einsum.
        # NOTE: F.unfold (torch's im2col op) gives the same numbers but was 2-50x slower on a
        # loaded CPU: it copies every patch before the matmul.
        (ph, pw), (kh, kw), (sh, sw) = padding, kernel, stride
        padded = self.torch.nn.functional.pad(a, (pw, pw, ph, ph)) if ph or pw else a
        windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)
        return self.torch.einsum("nohw,nchwij->nocij", g, windows)

    def scatter_rows(self, ids: Any, g: Any, num_rows: int) -> Any:
        N, D = g.shape[0], g.shape[-1]
        offsets = self.torch.arange(N, device=ids.device).reshape((N,) + (1,) * (ids.dim() - 1))
        flat = (offsets * num_rows + ids).reshape(-1)
        out = self.torch.zeros(N * num_rows, D, dtype=g.dtype, device=g.device)
        out.index_add_(0, flat, g.reshape(-1, D))
        return out.reshape(N, num_rows, D)

    def flat_norms(self, x: Any) -> Any:
        return x.reshape(len(x), -1).norm(2, dim=1)

    def weighted_sum(self, w: Any, x: Any) -> Any:
        return self.torch.tensordot(w.to(x.dtype), x, dims=1)

    def normal(self, like: Any, std: float, generator: Any) -> Any:
        return self.torch.normal(
            0.0, std, size=like.shape, generator=generator, device=like.device, dtype=like.dtype
        )

    def zeros(self, like: Any, n: int) -> Any:
        return self.torch.zeros((n, *like.shape), dtype=like.dtype, device=like.device)

    def set_grad(self, p: Any, g: Any) -> None:
        p.grad = g.to(p.dtype).reshape(p.shape).contiguous()


def ops_for(model: Any) -> NumpyOps | TorchOps:
    """The operations for the engine `model` was built with."""
    from gradschool.engine import nn as engine_nn

    return NumpyOps() if isinstance(model, engine_nn.Module) else TorchOps()


def engine_nn(model: Any) -> Any:
    """The `nn` module of the engine `model` was built with (the engine's, or torch.nn)."""
    from gradschool.engine import nn as engine_nn

    if isinstance(model, engine_nn.Module):
        return engine_nn
    import torch

    return torch.nn
