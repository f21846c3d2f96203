"""`nn.utils`: helpers around training, shaped like `torch.nn.utils`.

`clip_grad_norm_` (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
neural networks"): when the gradient of all parameters together is longer than `max_norm`,
shrink it to that length, keeping its direction. One unlucky batch can then no longer throw
the weights far away, which is why GPT training uses it (nanoGPT clips at 1.0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from gradschool.engine.tensor import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Any = None,
) -> Tensor:
    """Scale every `p.grad` in place by min(1, max_norm / (total_norm + 1e-6)).

    total_norm is the norm of all gradients seen as one long vector: for the 2-norm,
    sqrt(sum over parameters of sum(g^2)). Returns it (before clipping), as torch does, so it
    can be logged. `foreach` is accepted for torch's signature and ignored.

    NOTE: torch multiplies the gradients by min(max_norm / (total_norm + 1e-6), 1) every time,
    also by 1.0 when no clipping is needed; here that pass is skipped, since g * 1.0 is g
    exactly. The 1e-6 keeps the division finite for an all-zero gradient.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    dtype = grads[0].data.dtype
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = [np.abs(g.data).max(initial=0.0) for g in grads]
        total = max(norms)
    elif norm_type == 2.0:
        # sqrt(sum of g . g): a dot product per parameter reads each gradient once and makes
        # no temporary array (|g| ** 2 would make two).
        total = np.sqrt(sum(float(np.dot(g.data.ravel(), g.data.ravel())) for g in grads))
    else:
        # The norm of the per-parameter norms equals the norm of the concatenation.
        norms = [np.sum(np.abs(g.data) ** norm_type) ** (1 / norm_type) for g in grads]
        total = np.sum(np.asarray(norms) ** norm_type) ** (1 / norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            f"non-finite, so it cannot be clipped. To disable this error and scale the "
            f"gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    if coef < 1.0:  # NOTE: torch multiplies by 1.0 too; x * 1.0 is x, so that pass is skipped
        for g in grads:
            # A new array, never in place: a .grad array may be shared (see tensor._accumulate).
            g.data = g.data * np.asarray(coef, dtype=g.data.dtype)
    return Tensor(total)
