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


# ---- the transformer's fused nodes and the fused convolution, against their composites ----------
#
# Each fused node must compute its composite: the same forward (to the last bit where the
# fused forward performs the composite's operations in its order) and the same gradients, in
# float64, on random inputs and on inputs full of ties (small integers, a constant patch:
# equal scores in attention, constant rows in layer norm, zeros in GELU and convolution).


def _both_paths(fn, arrays, seed=0):
    """(forward, gradients, grad_fn) of fn on float64 copies of `arrays`, fused and composite."""
    results = []
    for mode in (True, False):
        xs = [E.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
        with set_fused_enabled(mode):
            out = fn(*xs)
            w = np.random.default_rng(seed).standard_normal(out.shape)
            (out * E.tensor(w)).sum().backward()
        results.append((out.data, [x.grad.data for x in xs], out.grad_fn))
    return results


def _inputs(shapes, kind, seed=0):
    from op_check import tie_heavy

    rng = np.random.default_rng(seed)
    if kind == "ties":
        return [tie_heavy(s, seed + i) for i, s in enumerate(shapes)]
    return [rng.uniform(-2, 2, s) for s in shapes]


def _assert_paths_equal(fn, shapes, kind, op, bitwise=True, seed=0):
    (f_out, f_grads, f_op), (c_out, c_grads, c_op) = _both_paths(fn, _inputs(shapes, kind, seed))
    assert f_op == op and c_op != op
    if bitwise:
        np.testing.assert_array_equal(f_out, c_out)
    else:
        np.testing.assert_allclose(f_out, c_out, rtol=1e-12, atol=1e-12)
    for f, c in zip(f_grads, c_grads):
        np.testing.assert_allclose(f, c, rtol=1e-10, atol=1e-10)


KINDS = ["random", "ties"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("affine", ["weight+bias", "weight", "none"])
def test_fused_layer_norm_equals_its_composite(kind, affine):
    shapes = [(3, 5, 8), (8,), (8,)][: {"weight+bias": 3, "weight": 2, "none": 1}[affine]]
    _assert_paths_equal(lambda x, *wb: F.layer_norm(x, (8,), *wb), shapes, kind, "layer_norm")


def test_fused_layer_norm_over_two_dimensions_and_a_constant_row():
    x = _inputs([(2, 3, 4)], "random")[0]
    x[0, :, :] = 1.5  # variance 0: eps keeps it finite
    (f_out, f_grads, _), (c_out, c_grads, _) = _both_paths(
        lambda t, w: F.layer_norm(t, (3, 4), w), [x, np.full((3, 4), 0.5)]
    )
    np.testing.assert_array_equal(f_out, c_out)
    for f, c in zip(f_grads, c_grads):
        np.testing.assert_allclose(f, c, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_gelu_equals_its_composite(kind):
    _assert_paths_equal(lambda x: F.gelu(x, approximate="tanh"), [(4, 7, 9)], kind, "gelu")


def test_fused_gelu_of_large_values_and_zero():
    x = np.array([[-30.0, -5.0, -0.0, 0.0, 1e-8, 5.0, 30.0]])
    (f_out, f_grads, _), (c_out, c_grads, _) = _both_paths(
        lambda t: F.gelu(t, approximate="tanh"), [x]
    )
    np.testing.assert_array_equal(f_out, c_out)
    np.testing.assert_allclose(f_grads[0], c_grads[0], rtol=1e-10, atol=1e-12)


_MASKS = {
    "causal": dict(is_causal=True),
    "none": dict(),
    "bool": dict(attn_mask=np.tril(np.ones((5, 5), dtype=bool)) | np.eye(5, k=2, dtype=bool)),
    "float": dict(attn_mask=np.random.default_rng(3).standard_normal((5, 5))),
    "scale": dict(is_causal=True, scale=0.3),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mask", list(_MASKS))
def test_fused_attention_equals_its_composite(kind, mask):
    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **_MASKS[mask])

    _assert_paths_equal(fn, [(2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6)], kind, "attention")


def test_attention_with_dropout_or_broadcast_heads_takes_the_composite_path():
    q = E.tensor(np.ones((2, 3, 4, 2)), requires_grad=True)
    k = E.tensor(np.ones((1, 3, 4, 2)), requires_grad=True)  # broadcast over the batch
    assert F.scaled_dot_product_attention(q, k, k, is_causal=True).grad_fn == "matmul"
    E.manual_seed(0)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, is_causal=True)
    assert out.grad_fn == "matmul"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding",
    [
        ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
        ((2, 1, 8, 8), (5, 1, 3, 3), 2, 0),
        ((3, 2, 9, 9), (3, 2, 5, 5), 2, 2),
        ((1, 4, 5, 5), (2, 4, 1, 1), 1, 0),
    ],
)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_fused_conv2d_equals_its_composite(kind, x_shape, w_shape, stride, padding, bias):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])

    def fn(x, w, *b):
        return F.conv2d(x, w, *b, stride=stride, padding=padding)

    _assert_paths_equal(fn, shapes, kind, "conv2d", bitwise=False)


def test_fused_conv2d_in_blocks_of_images_equals_one_block(monkeypatch):
    """The blocks are an implementation detail: one image per block gives the same numbers."""
    arrays = _inputs([(5, 3, 6, 6), (4, 3, 3, 3), (4,)], "random")
    whole = _both_paths(lambda x, w, b: F.conv2d(x, w, b, padding=1), arrays)[0]
    monkeypatch.setattr(fused, "_CONV_BLOCK_BYTES", 1)  # one image per block
    blocks = _both_paths(lambda x, w, b: F.conv2d(x, w, b, padding=1), arrays)[0]
    np.testing.assert_allclose(whole[0], blocks[0], rtol=1e-13, atol=1e-13)
    for a, b in zip(whole[1], blocks[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels", [1, 3, 5])  # the fused patch matrix: offset-major below 4
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_both_paths_equal_torch_on_tied_images(mode, channels, stride):
    with set_fused_enabled(mode):
        check_op(
            [(3, channels, 7, 6), (4, channels, 3, 3), (4,)],
            lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1),
            lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=1),
            ties=True,
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", [1, 2, 4, 6])
def test_fused_conv2d_patch_layouts_equal_the_composite(kind, channels, monkeypatch):
    """Both layouts of the patch matrix (offset-major for few channels, patch order for many)
    and the col2im by kernel offsets, over several blocks of images, on random and tied
    inputs: the same numbers as the composite."""
    assert 1 < fused._FEW_CHANNELS <= 6  # the channels above fall on both sides of it
    monkeypatch.setattr(fused, "_CONV_BLOCK_BYTES", 15000)  # 1 to 5 images per block

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride=1, padding=1)

    _assert_paths_equal(fn, [(7, channels, 6, 5), (3, channels, 3, 3), (3,)], kind, "conv2d",
                        bitwise=False)  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["layer_norm", "gelu", "attention"])
def test_transformer_ops_both_paths_equal_torch_on_ties(mode, op):
    cases = {
        "layer_norm": ([(3, 4, 6), (6,), (6,)], lambda x, w, b: F.layer_norm(x, (6,), w, b),
                       lambda x, w, b: TF.layer_norm(x, (6,), w, b)),
        "gelu": ([(5, 6)], lambda x: F.gelu(x, approximate="tanh"),
                 lambda x: TF.gelu(x, approximate="tanh")),
        "attention": ([(2, 2, 5, 3)] * 3,
                      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                      lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True)),
    }  # fmt: skip
    shapes, ours, theirs = cases[op]
    with set_fused_enabled(mode):
        check_op(shapes, ours, theirs, ties=True)


def test_split_equals_torch():
    x = np.random.default_rng(0).standard_normal((2, 7, 3))
    for sizes, dim in ((3, 1), ([2, 5], 1), (7, 1), (2, -1), (10, 0)):

        def split(t, sizes=sizes, dim=dim):
            return t.split(sizes, dim)

        check_op([x], split)
    with pytest.raises(RuntimeError, match="sum exactly to 7"):
        E.tensor(x).split([2, 2], 1)
