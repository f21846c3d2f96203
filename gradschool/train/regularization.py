"""Penalties added to the training loss: the L1 penalty.

Weight decay (an L2 penalty) is an optimizer setting, as in torch (`optim.weight_decay`
adds lambda * w to each gradient, coupled; AdamW decays the weights directly, decoupled).
The L1 penalty has no optimizer switch in torch, so it is added to the loss the loop
differentiates:

    objective = loss + lambda * sum_i |w_i|
    d objective / d w_i = d loss / d w_i + lambda * sign(w_i)

Where L2 shrinks every weight in proportion to its size, L1 pulls each one towards zero by the
same amount lambda, so small weights reach exactly zero and the model becomes sparse
(Tibshirani's lasso, 1996; Goodfellow et al., Deep Learning, section 7.1.2).

NOTE: only weight matrices and kernels (parameters with 2 or more dimensions) are penalised,
not biases: a bias multiplies no input, so it adds no capacity to overfit with, and pulling
it to zero only moves the decision boundary (the usual practice, Deep Learning section 7.1).
"""

from __future__ import annotations

from typing import Any


def l1_penalty(model: Any, strength: float) -> Any:
    """strength * sum |w| over the model's weights (ndim >= 2), as a scalar tensor.

    Written with `w * sign(w)` rather than an abs op, so both engines build it from ops they
    share: sign is piecewise constant, so the gradient of w * sign(w) is sign(w) - and 0 at
    w = 0, as for torch.abs.
    """
    total = None
    for w in model.parameters():
        if len(w.shape) < 2:
            continue
        term = (w * w.sign().detach()).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("l1_penalty: the model has no weight matrices to penalise")
    return total * strength
