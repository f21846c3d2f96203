"""The engine's random numbers: one seeded generator, like torch's default generator.

Weight initialisation and dropout draw from it, so `manual_seed(s)` makes a run repeatable.
NOTE: the same seed does NOT give the same numbers as `torch.manual_seed(s)`: the two engines
use different generators. Parity tests copy weights from one engine to the other instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradschool.engine.tensor import DEFAULT_DTYPE, Tensor, as_shape


class _State:
    generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the engine's generator (weight init, dropout, randn...)."""
    _State.generator = np.random.default_rng(seed)
    return _State.generator


def generator() -> np.random.Generator:
    return _State.generator


def get_rng_state() -> dict:
    return dict(_State.generator.bit_generator.state)


def set_rng_state(state: dict) -> None:
    _State.generator.bit_generator.state = state


def randn(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    data = _State.generator.standard_normal(as_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    data = _State.generator.random(as_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def randint(low: int, high: int, size: tuple[int, ...]) -> Tensor:
    return Tensor(_State.generator.integers(low, high, size=size, dtype=np.int64))
