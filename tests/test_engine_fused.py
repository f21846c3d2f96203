"""The fused fast path (engine/fused.py) against torch and against the composites it replaces.

`functional.linear` and `functional.cross_entropy` run as one fused node by default and as
the taught composites with `set_fused_enabled(False)`. Both paths go through `check_op`
(torch.autograd in float64, or finite differences without torch), and the two paths are
compared with each other: the same forward values, the same gradients.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from op_check import check_op

from gradschool import engine as E
from gradschool.engine import functional as F
from gradschool.engine import fused
from gradschool.engine.fused import is_fused_enabled, set_fused_enabled

try:
    import torch
    import torch.nn.functional as TF  # noqa: N812
except ImportError:  # the finite-difference path of check_op covers the gradients
    torch = TF = None

MODES = [pytest.param(True, id="fused"), pytest.param(False, id="composite")]
TARGETS = np.array([0, 3, 1, 4, 4, 2], dtype=np.int64)


@pytest.fixture(autouse=True)
def _restore_mode():
    yield
    set_fused_enabled(True)


def test_fused_mode_is_on_by_default_and_the_context_restores_it():
    assert is_fused_enabled()
    with set_fused_enabled(False):
        assert not is_fused_enabled()
        with set_fused_enabled(True):
            assert is_fused_enabled()
        assert not is_fused_enabled()
    assert is_fused_enabled()
    set_fused_enabled(False)  # as a plain call it switches at once, like torch's
    assert not is_fused_enabled()


# ---- both paths against torch -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "x_shape", [(5, 4), (1, 4), (2, 3, 4), (4,)], ids=["batch", "one-row", "3d", "vector"]
)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_linear_both_paths_equal_torch(mode, x_shape, bias):
    shapes = [x_shape, (3, 4)] + ([(3,)] if bias else [])
    with set_fused_enabled(mode):
        result = check_op(
            shapes,
            lambda x, w, *b: F.linear(x, w, *b),
            lambda x, w, *b: TF.linear(x, w, *b),
        )
    assert result.out.grad_fn == ("linear" if mode else "add" if bias else "matmul")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_both_paths_equal_torch(mode, reduction):
    with set_fused_enabled(mode):
        check_op(
            [(6, 5), TARGETS],
            lambda z, t: F.cross_entropy(z, t, reduction=reduction),
            lambda z, t: TF.cross_entropy(z, t, reduction=reduction),
        )


@pytest.mark.parametrize("mode", MODES)
def test_cross_entropy_of_huge_logits_and_one_example(mode):
    logits = np.array([[1e4, -1e4, 0.0, 3.0, 1e4]])  # overflow without the max shift; a tie
    with set_fused_enabled(mode):
        check_op(
            [logits, np.array([4])],
            lambda z, t: F.cross_entropy(z, t),
            lambda z, t: TF.cross_entropy(z, t),
            smooth=False,
        )


def test_the_fused_nodes_are_single_nodes():
    x = E.tensor(np.ones((2, 4)), requires_grad=True)
    w = E.tensor(np.ones((3, 4)), requires_grad=True)
    out = fused.linear(x, w)
    assert out.grad_fn == "linear" and out._parents == (x, w)
    loss = fused.cross_entropy(out, np.array([0, 2]))
    assert loss.grad_fn == "cross_entropy" and loss._parents == (out,)


def test_label_smoothing_and_foreign_tensors_take_the_composite_path():
    z = E.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(z, E.tensor(np.array([0, 1, 2, 0])), label_smoothing=0.1)
    assert loss.grad_fn != "cross_entropy"
    if torch is not None:  # engine functions are duck-typed: torch tensors pass through
        t = torch.ones(2, 4)
        assert torch.equal(F.linear(t, torch.ones(3, 4)), t @ torch.ones(3, 4).T)


# ---- the two paths against each other, in float32 (the trainer's dtype) --------------------------


def _run_mlp_step(mode: bool, batch: int) -> tuple[float, dict[str, np.ndarray]]:
    """One forward/backward of the seed's MLP in float32; the loss and every gradient."""
    rng = np.random.default_rng(batch)
    E.manual_seed(0)
    nn = E.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))  # fmt: skip
    x = E.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = E.tensor(rng.integers(0, 10, batch))
    with set_fused_enabled(mode):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    return loss.item(), {k: p.grad.data for k, p in model.named_parameters()}


@pytest.mark.parametrize("batch", [1, 64])
def test_fused_and_composite_give_the_same_loss_and_gradients_in_float32(batch):
    loss_f, grads_f = _run_mlp_step(True, batch)
    loss_c, grads_c = _run_mlp_step(False, batch)
    assert loss_f == loss_c  # the same forward, op for op: equal to the last bit
    for name in grads_f:
        g = grads_f[name]
        assert g.dtype == np.float32 and g.flags.c_contiguous, name
        np.testing.assert_allclose(g, grads_c[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_fused_path_keeps_the_golden_losses():
    """The seed recipe's first steps on the fused path equal the composite path's."""
    from gradschool.config import Config, with_updates
    from gradschool.train.callbacks import Callback
    from gradschool.train.trainer import Trainer

    class Losses(Callback):
        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_batch_end(self, trainer, loss) -> None:
            self.losses.append(float(loss.item()))

    runs = []
    for mode in (True, False):
        set_fused_enabled(mode)
        rec = Losses()
        config = with_updates(Config(), {"max_steps": 8, "progress": "off"})
        Trainer(config, callbacks=[rec], console=False).fit()
        runs.append(rec.losses)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-6)


# ---- gradients handed to leaves: owned without a copy, never shared ----------------------------


def test_leaf_gradients_never_share_memory():
    a = E.tensor(np.ones(3), requires_grad=True)
    b = E.tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.full(3, 2.0))  # add hands the same array to both inputs
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 10  # an in-place change to one gradient leaves the other alone
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0, 2.0])

    # the same, with an array the engine made: one leaf keeps it, the other gets a copy
    a.grad = b.grad = None
    ((a + b) * 2).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    np.testing.assert_array_equal(a.grad.data + b.grad.data, [4.0, 4.0, 4.0])

    g = np.ones(3)
    c = E.tensor(np.ones(3), requires_grad=True)
    c.clone().backward(g)  # clone hands back the caller's own array
    assert not np.shares_memory(c.grad.data, g)


def test_every_gradient_of_the_seed_mlp_is_kept_without_a_copy(monkeypatch):
    """backward() hands each weight its gradient array as made, with no copy; this holds even
    when a new array reuses the id() of one freed earlier in the same backward pass."""
    module = sys.modules["gradschool.engine.tensor"]
    accumulate, owned = module._accumulate, []

    def spy(node, g, own=False):
        owned.append(own)
        accumulate(node, g, own)

    monkeypatch.setattr(module, "_accumulate", spy)
    for batch in (1, 64):
        owned.clear()
        _run_mlp_step(True, batch)
        assert owned == [True] * 6, batch


def test_a_weight_gradient_is_kept_without_a_copy_and_accumulates():
    x = E.tensor(np.ones((2, 4), dtype=np.float32))
    w = E.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    F.linear(x, w).sum().backward()
    first = w.grad.data
    assert first.flags.owndata and first.flags.writeable and first.dtype == np.float32
    F.linear(x, w).sum().backward()  # accumulates: 2 + 2
    np.testing.assert_array_equal(w.grad.data, np.full((3, 4), 4.0))
    np.testing.assert_array_equal(first, np.full((3, 4), 2.0))  # not changed in place
