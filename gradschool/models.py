"""Models, each written once against a backend's `nn`.

`mlp(backend.nn, ...)` builds a NumPy-engine model when given `gradschool.engine.nn` and a
torch model when given `torch.nn`: the code below never knows which. That is how the parity
tests can build the same network twice, copy the weights across, and compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradschool.errors import ConfigError

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU"}


def mlp(nn: Any, sizes: list[int], activation: str = "relu", dropout: float = 0.0) -> Any:
    """A multi-layer perceptron: Flatten, then Linear layers of the given sizes with an
    activation (and optional dropout) between them; the last layer outputs raw logits.

    The seed's example network is `mlp(nn, [784, 128, 64, 10])`: fc1 784->128, ReLU,
    fc2 128->64, ReLU, fc3 64->10 (source section 4).
    """
    if len(sizes) < 2:
        raise ConfigError(
            f"model.sizes needs at least an input and an output size, got {sizes}; "
            f"e.g. sizes = [784, 128, 64, 10]"
        )
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    layers = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(getattr(nn, ACTIVATIONS[activation])())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def build_model(nn: Any, model_config: Any, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """The model a config asks for, checked against the data it will see."""
    if model_config.name == "mlp":
        sizes = list(model_config.sizes)
        n_inputs = int(np.prod(input_shape))
        if sizes[0] != n_inputs or sizes[-1] != num_classes:
            raise ConfigError(
                f"model.sizes {sizes} does not fit the data: its inputs have "
                f"{'x'.join(map(str, input_shape))} = {n_inputs} values and there are "
                f"{num_classes} classes, so sizes must start with {n_inputs} and end with "
                f"{num_classes}, e.g. --sizes {n_inputs},128,64,{num_classes}"
            )
        return mlp(nn, sizes, model_config.activation, model_config.dropout)
    raise ConfigError(f"unknown model {model_config.name!r}")


def count_parameters(model: Any) -> int:
    return sum(int(np.prod(tuple(p.shape))) for p in model.parameters())
