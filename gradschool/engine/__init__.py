"""The from-scratch NumPy engine, with PyTorch's surface.

    from gradschool import engine as torch_like
    x = engine.tensor([[1.0, 2.0]], requires_grad=True)
    model = engine.nn.Linear(2, 1)
    loss = engine.nn.functional.mse_loss(model(x), engine.tensor([[0.5]]))
    loss.backward()

Read it in this order: tensor.py (autograd and the primitive ops), functional.py (everything
built from them), nn.py (layers), optim.py and lr_scheduler.py (training).
"""

from gradschool.engine import functional, init, lr_scheduler, nn, optim
from gradschool.engine.rng import manual_seed, rand, randint, randn
from gradschool.engine.tensor import (
    Tensor,
    arange,
    cat,
    enable_grad,
    from_numpy,
    is_grad_enabled,
    maximum,
    no_grad,
    ones,
    stack,
    tensor,
    where,
    zeros,
)

# torch spells these `torch.optim.lr_scheduler` and `torch.nn.functional`.
# (ignored: an attribute attached here; optim.py cannot import lr_scheduler, which imports it)
optim.lr_scheduler = lr_scheduler  # type: ignore[attr-defined]
nn.functional = functional

float32 = "float32"
float64 = "float64"
int64 = "int64"

__all__ = [
    "Tensor",
    "arange",
    "cat",
    "enable_grad",
    "float32",
    "float64",
    "from_numpy",
    "functional",
    "init",
    "int64",
    "is_grad_enabled",
    "lr_scheduler",
    "manual_seed",
    "maximum",
    "nn",
    "no_grad",
    "ones",
    "optim",
    "rand",
    "randint",
    "randn",
    "stack",
    "tensor",
    "where",
    "zeros",
]
