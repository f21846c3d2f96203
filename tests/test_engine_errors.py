"""Mistakes a learner makes, and what the engine says: the message names what was wrong (the
shapes, the dtype, the bad target) the way torch's does, and how to fix it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradschool import engine as E
from gradschool.engine import functional as F


def _message(excinfo) -> str:
    return str(excinfo.value)


# ---- matmul -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, torch_part",
    [
        ((3, 4), (5, 6), "(3x4 and 5x6)"),
        ((2, 3, 4), (2, 5, 6), "(3x4 and 5x6)"),
        ((4,), (5, 2), "(1x4 and 5x2)"),
        ((3, 4), (5,), "(3x4 and 5x1)"),
    ],
)
def test_matmul_shape_mismatch_names_both_shapes(a, b, torch_part):
    with pytest.raises(RuntimeError) as excinfo:
        E.ones(*a) @ E.ones(*b)
    message = _message(excinfo)
    assert "cannot be multiplied" in message and torch_part in message
    assert str(a) in message and str(b) in message


def test_matmul_of_a_0d_tensor():
    with pytest.raises(RuntimeError, match="at least 1D"):
        E.tensor(2.0) @ E.ones(2)


# ---- backward -----------------------------------------------------------------------------------


def test_backward_on_a_non_scalar_without_gradient():
    y = E.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as excinfo:
        y.backward()
    message = _message(excinfo)
    assert "grad can be implicitly created only for scalar outputs" in message
    assert "(2, 3)" in message and "backward(gradient)" in message


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = E.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(
        RuntimeError, match=re.escape("gradient has shape (3,) but the tensor has shape (2, 3)")
    ):
        y.backward(np.ones(3))


def test_backward_twice_through_a_freed_graph():
    x = E.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError) as excinfo:
        loss.backward()
    message = _message(excinfo)
    assert "backward through the graph a second time" in message
    assert "retain_graph=True" in message
    # With retain_graph=True the second pass works (and accumulates).
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (E.ones(3) * 2).sum().backward()
    x = E.ones(3, requires_grad=True)
    with E.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


# ---- cross-entropy targets ------------------------------------------------------------------


def test_cross_entropy_with_float_targets_says_it_wants_integers():
    logits = E.ones(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError) as excinfo:
        F.cross_entropy(logits, E.tensor([0.0, 1.0, 2.0]))
    message = _message(excinfo)
    assert "integer dtype" in message and "float32" in message and "int64" in message


@pytest.mark.parametrize("bad", [4, 7, -1])
def test_cross_entropy_target_out_of_range(bad):
    logits = E.ones(3, 4, requires_grad=True)
    with pytest.raises(IndexError) as excinfo:
        F.cross_entropy(logits, E.tensor([0, bad, 1]))
    message = _message(excinfo)
    assert f"Target {bad} is out of bounds" in message and "0..3" in message
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        F.nll_loss(logits, E.tensor([bad, 0, 0]))


def test_cross_entropy_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"expected input of shape \(N, C\).*\(3, 4\).*\(2,\)"):
        F.cross_entropy(E.ones(3, 4), E.tensor([0, 1]))


def test_unknown_reduction_and_gelu_approximation():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(E.ones(2), E.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(E.ones(2), approximate="fast")


# ---- tensors ------------------------------------------------------------------------------------


def test_requires_grad_on_an_integer_tensor():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        E.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point dtype.*int64"):
        E.tensor([1, 2, 3]).requires_grad_()
    E.tensor([1, 2, 3]).requires_grad_(False)  # turning it off is fine


def test_numpy_on_a_tensor_that_requires_grad():
    x = E.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as excinfo:
        x.numpy()
    message = _message(excinfo)
    assert "requires grad" in message and "detach().numpy()" in message
    assert isinstance(x.detach().numpy(), np.ndarray)


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match="3 elements cannot be converted to a Python scalar"):
        E.ones(3).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(E.ones(3))
    assert E.ones(1).item() == 1.0 and bool(E.ones(1))


def test_module_before_init_and_missing_attribute():
    class Broken(E.nn.Module):
        def __init__(self):
            self.fc = E.nn.Linear(2, 2)  # forgot super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        E.nn.Linear(2, 2).wieght  # noqa: B018
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        E.nn.Module()(E.ones(2))
