"""Every op whose gradient depends on a tie or a boundary, on inputs that tie, against torch.

Where an op has a kink (ReLU and |x| at 0, clamp at its bounds) or must choose among equal
values (max pooling, max, amax, maximum), it has no derivative there and a library picks a
convention; the two engines are equal only if they pick the same one. Random floats never tie,
so they cannot show a difference. Here every such op runs on `tie_heavy` inputs (small
integers: exact zeros, repeats, values exactly at clamp bounds; and a constant patch, like a
digit's background) through `check_op`, against torch.autograd in float64. The conventions,
torch's and ours (each op's backward has a `NOTE:` saying the same):

    max_pool2d        the FIRST maximum of each window in row-major order takes all of g;
                      a pixel that wins several overlapping windows gets the sum
    amax, max(), min()    g shared evenly among the tied elements
    max(dim), min(dim)    the returned (first) index takes all of g
    argmax            the first maximal index (no gradient)
    maximum, minimum  half of g to each input at a tie (all of g to both where one is NaN)
    relu              0 at x = 0 (1 at NaN, torch's test is "not x <= 0")
    abs, sign         d|x|/dx = sign(x), 0 at 0; sign(NaN) = 0; sign has no gradient
    clamp(lo, hi)     g passes AT the bounds (lo <= x <= hi, inclusive); none if lo > hi
    softmax, log_softmax, cross_entropy (composite and fused)    smooth; their max shift
                      carries no gradient, so tied logits need no convention
    l1_loss           sign(input - target): 0 where they are equal

The second half asserts each convention's values directly (so it is checked without torch
too), and the last test runs whole CNNs (LeNet, ResNet, the DP-SGD CNN) on tied images.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_check import HAS_TORCH, check_op, tie_heavy, torch

from gradschool import engine as E
from gradschool.engine import functional as F
from gradschool.engine import nn
from gradschool.engine.fused import set_fused_enabled

TF = torch.nn.functional if HAS_TORCH else None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="compares against torch")


def _t(value: float):
    return torch.tensor(value, dtype=torch.float64)


# (name, engine function, torch function or None = the same spelling, input shapes)
UNARY = [
    ("relu", lambda x: x.relu(), None, (4, 6)),
    ("F.relu", F.relu, lambda x: TF.relu(x), (2, 3, 4, 4)),
    ("abs", lambda x: x.abs(), None, (4, 6)),
    ("builtin_abs", abs, abs, (4, 6)),
    ("x_sign_x", lambda x: x * x.sign(), None, (4, 6)),
    ("maximum_scalar", lambda x: x.maximum(1.0), lambda x: torch.maximum(x, _t(1.0)), (4, 6)),
    ("minimum_scalar", lambda x: x.minimum(0.0), lambda x: torch.minimum(x, _t(0.0)), (4, 6)),
    ("clamp", lambda x: x.clamp(-1.0, 1.0), None, (4, 6)),
    ("clamp_min", lambda x: x.clamp(min=0.0), None, (4, 6)),
    ("clamp_max", lambda x: x.clamp(max=1.0), None, (4, 6)),
    ("clamp_min_above_max", lambda x: x.clamp(1.0, -1.0), None, (4, 6)),
    ("amax", lambda x: x.amax(), None, (4, 6)),
    ("amax_dim", lambda x: x.amax(dim=1), None, (4, 6)),
    ("amax_dims_keepdim", lambda x: x.amax(dim=(0, 2), keepdim=True), None, (3, 4, 4)),
    ("max_full", lambda x: x.max(), None, (4, 6)),
    ("min_full", lambda x: x.min(), None, (4, 6)),
    ("max_dim", lambda x: x.max(1), None, (4, 6)),
    ("max_dim_keepdim", lambda x: x.max(dim=-1, keepdim=True), None, (3, 4, 4)),
    ("min_dim", lambda x: x.min(0), None, (4, 6)),
    ("argmax", lambda x: x.argmax(1), None, (4, 6)),
    ("argmax_flat", lambda x: x.argmax(), None, (4, 6)),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1), (4, 6)),
    ("log_softmax", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), (4, 6)),
    ("gelu", F.gelu, lambda x: TF.gelu(x), (4, 6)),
    ("gelu_tanh", lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"), (4, 6)),
]

BINARY = [
    ("maximum", lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b), (4, 6), (4, 6)),
    (
        "maximum_broadcast",
        lambda a, b: E.maximum(a, b),
        lambda a, b: torch.maximum(a, b),
        (4, 6),
        (6,),
    ),
    ("minimum", lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b), (4, 6), (4, 6)),
    (
        "minimum_broadcast",
        lambda a, b: a.minimum(b),
        lambda a, b: torch.minimum(a, b),
        (4, 1),
        (1, 6),
    ),
    ("l1_loss", F.l1_loss, lambda a, b: TF.l1_loss(a, b), (4, 6), (4, 6)),
    (
        "l1_loss_sum",
        lambda a, b: F.l1_loss(a, b, "sum"),
        lambda a, b: TF.l1_loss(a, b, reduction="sum"),
        (4, 6),
        (4, 6),
    ),  # fmt: skip
]


@needs_torch
@pytest.mark.parametrize("name, ours, theirs, shape", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unary_ops_on_tied_inputs_match_torch(name, ours, theirs, shape, seed):
    check_op([shape], ours, theirs, ties=True, seed=seed)


@needs_torch
@pytest.mark.parametrize("name, ours, theirs, sa, sb", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_ops_on_tied_inputs_match_torch(name, ours, theirs, sa, sb, seed):
    check_op([sa, sb], ours, theirs, ties=True, seed=seed)


@needs_torch
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_tied_logits_matches_torch(fused, reduction):
    logits = tie_heavy((6, 5), seed=3)
    logits[0] = 1.0  # a row where every class ties
    labels = np.array([0, 1, 2, 3, 4, 0])
    with set_fused_enabled(fused):
        check_op(
            [logits, labels],
            lambda z, y: F.cross_entropy(z, y, reduction),
            lambda z, y: TF.cross_entropy(z, y, reduction=reduction),
            smooth=False,
        )
    with set_fused_enabled(fused):  # and a linear layer on tied inputs, fused or not
        check_op(
            [tie_heavy((6, 4)), tie_heavy((5, 4), seed=1), tie_heavy((5,), seed=2)],
            F.linear,
            TF.linear,
            smooth=False,
        )


# ---- pooling ------------------------------------------------------------------------------------

POOL_CASES = [
    # (input shape, kernel, stride, padding, ceil_mode)
    ((2, 3, 8, 8), 2, None, 0, False),  # LeNet's 2x2 halving
    ((2, 3, 9, 7), 2, None, 0, False),  # odd sizes: the last row / column is dropped
    ((2, 3, 9, 7), 2, None, 0, True),  # ... or kept, as a partial window
    ((2, 2, 9, 9), 3, 2, 1, False),  # overlapping windows with padding (ResNet's stem)
    ((2, 2, 10, 10), 3, 2, 1, True),
    ((2, 3, 7, 7), 2, 1, 0, False),  # the DP-SGD CNN's 2x2 stride 1: maximal overlap
    ((1, 2, 7, 8), (3, 2), (1, 2), (1, 0), False),
    ((1, 2, 8, 7), (2, 3), (3, 2), (1, 1), True),  # stride > kernel: pixels in no window
]


@needs_torch
@pytest.mark.parametrize("shape, k, s, p, ceil", POOL_CASES, ids=str)
@pytest.mark.parametrize("seed", [0, 1])
def test_max_pool2d_on_tied_inputs_matches_torch(shape, k, s, p, ceil, seed):
    def ours(x):
        return F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)

    def theirs(x):
        return TF.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)

    check_op([shape], ours, theirs, ties=True, seed=seed)  # values, indices and gradient
    # Through a ReLU, whose zeros tie too, and with the default return_indices=False.
    check_op(
        [shape],
        lambda x: F.max_pool2d(F.relu(x), k, s, p, ceil_mode=ceil),
        lambda x: TF.max_pool2d(TF.relu(x), k, s, p, ceil_mode=ceil),
        ties=True,
        seed=seed,
    )


@needs_torch
def test_max_pool2d_with_infinities_and_nan_matches_torch():
    rng = np.random.default_rng(4)
    x = rng.integers(-1, 2, (2, 2, 7, 7)).astype(np.float64)
    x[0, 0] = -np.inf  # a plane of -inf: windows whose real pixels are all -inf
    x[0, 1, :3, :3] = np.inf
    x[1, 0, rng.random((7, 7)) < 0.3] = np.nan
    for k, s, p, ceil in [(2, None, 0, False), (3, 2, 1, False), (3, 2, 1, True), (2, 1, 1, False)]:
        ours = E.Tensor(x.copy(), requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        out, idx = F.max_pool2d(ours, k, s, p, ceil_mode=ceil, return_indices=True)
        t_out, t_idx = TF.max_pool2d(theirs, k, s, p, ceil_mode=ceil, return_indices=True)
        np.testing.assert_array_equal(out.data, t_out.detach().numpy())
        np.testing.assert_array_equal(idx.data, t_idx.numpy())
        w = rng.standard_normal(out.shape)
        out.backward(w)
        t_out.backward(torch.from_numpy(w))
        # (to rounding: where windows overlap, the engines add their gradients in other orders)
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-15, atol=1e-15)


@needs_torch
@pytest.mark.parametrize("ceil", [False, True])
def test_max_pool2d_layer_matches_torchs(ceil):
    x = tie_heavy((2, 3, 9, 9), seed=5)
    ours, theirs = (
        nn.MaxPool2d(3, 2, 1, ceil_mode=ceil),
        torch.nn.MaxPool2d(3, 2, 1, ceil_mode=ceil),
    )
    assert repr(ours) == repr(theirs)
    check_op([x], ours, theirs, smooth=False)
    check_op([x], nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True))


# ---- normalisation over constant values (variance 0) ---------------------------------------


@needs_torch
def test_batch_norm_and_layer_norm_of_constant_values_match_torch():
    x = tie_heavy((4, 3, 5, 5), seed=6)
    x[:, 0] = 1.0  # a channel with variance 0
    check_op(
        [x, (3,), (3,)],
        lambda t, w, b: F.batch_norm(t, None, None, w, b, training=True),
        lambda t, w, b: TF.batch_norm(t, None, None, w, b, training=True),
        smooth=False,
    )
    rows = tie_heavy((4, 6), seed=7)
    rows[0] = -2.0  # a row with variance 0
    check_op(
        [rows, (6,), (6,)],
        lambda t, w, b: F.layer_norm(t, (6,), w, b),
        lambda t, w, b: TF.layer_norm(t, (6,), w, b),
        smooth=False,
    )


# ---- the conventions, value by value (these run without torch too) --------------------------


def _grad(fn, x, g=None):
    t = E.Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = fn(t)
    out.backward(np.ones(out.shape) if g is None else g)
    return out.data, t.grad.data


def test_max_pool2d_gives_each_windows_gradient_to_its_first_maximum():
    # torch's results on the same inputs, printed once and written down.
    _, g = _grad(lambda t: F.max_pool2d(t, 2), np.zeros((1, 1, 4, 4)))
    np.testing.assert_array_equal(g[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0] * 4])
    # Overlapping windows: each of the four 3x3 windows picks its top-left pixel.
    _, g = _grad(lambda t: F.max_pool2d(t, 3, 1), np.zeros((1, 1, 4, 4)))
    np.testing.assert_array_equal(g[0, 0], [[1, 1, 0, 0], [1, 1, 0, 0], [0] * 4, [0] * 4])
    # 2x2 stride 1: a pixel that is the first maximum of two windows gets both gradients;
    # the tied 5 to its right gets none (an even split would give them 1.5 and 0.5).
    _, g = _grad(lambda t: F.max_pool2d(t, 2, 1), [[[[1.0, 5.0, 5.0], [1.0, 1.0, 1.0]]]])
    np.testing.assert_array_equal(g[0, 0], [[0, 2, 0], [0, 0, 0]])
    # Padding is never picked, even where the window's real pixels are all -inf: the first
    # real pixel is, as in torch.
    _, g = _grad(lambda t: F.max_pool2d(t, 3, 2, 1), np.full((1, 1, 5, 5), -np.inf))
    expected = [[1, 1, 0, 1, 0], [1, 1, 0, 1, 0], [0] * 5, [1, 1, 0, 1, 0], [0] * 5]
    np.testing.assert_array_equal(g[0, 0], expected)
    # A window with NaN gives NaN and its gradient to its LAST NaN (torch's "or v is NaN").
    out, g = _grad(lambda t: F.max_pool2d(t, 2), [[[[np.nan, 1.0], [np.nan, 2.0]]]])
    assert np.isnan(out).all()
    np.testing.assert_array_equal(g[0, 0], [[0, 0], [1, 0]])
    # ceil_mode keeps the partial windows of a 5x5 image: 3x3 outputs.
    out, g = _grad(lambda t: F.max_pool2d(t, 2, ceil_mode=True), np.zeros((1, 1, 5, 5)))
    assert out.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(g[0, 0, ::2, ::2], np.ones((3, 3)))
    assert g.sum() == 9


def test_max_pool2d_return_indices_are_torchs_flat_indices():
    x = E.Tensor(np.zeros((1, 1, 4, 4)))
    _, idx = F.max_pool2d(x, 3, 1, 1, return_indices=True)
    expected = [[0, 0, 1, 2], [0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10]]  # torch's output
    np.testing.assert_array_equal(idx.data[0, 0], expected)
    assert idx.data.dtype == np.int64


def test_max_pool2d_keeps_float32_and_the_memory_order():
    x = np.zeros((2, 6, 6, 3), dtype=np.float32).transpose(0, 3, 1, 2)  # channels-last
    t = E.Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, 2)
    assert out.dtype == np.float32 and out.data.strides[1] < out.data.strides[3]
    out.sum().backward()
    assert t.grad.dtype == np.float32 and t.grad.data.sum() == out.numel()


def test_max_pool2d_gradient_is_exactly_zero_off_the_winners_and_laid_out_like_the_input():
    # An upstream gradient holding inf, nan and negative values: the winners get it as it
    # is; every other pixel gets exactly +0.0 (not nan from 0 * inf, nor -0.0), as in torch.
    x = np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 5, 5, 3).transpose(0, 3, 1, 2)
    t = E.Tensor(x, requires_grad=True)  # channels-last, 5x5: the last row and column unused
    out = F.max_pool2d(t, 2)
    g = np.full(out.shape, -2.0, dtype=np.float32)  # plain (N, C, H, W), as after a Flatten
    g[0, 0, 0, 0], g[1, 2, 1, 1] = np.inf, np.nan
    out.backward(g)
    grad = t.grad.data
    winners = np.zeros(x.shape, dtype=bool)
    winners[:, :, 1:4:2, 1:4:2] = True  # each 2x2 window's largest value: its bottom right
    assert np.isinf(grad[0, 0, 1, 1]) and np.isnan(grad[1, 2, 3, 3])
    np.testing.assert_array_equal(grad[winners & np.isfinite(grad)], -2.0)
    assert (grad[~winners] == 0).all() and not np.signbit(grad[~winners]).any()
    # the gradient is produced in the input's (channels-last) memory order
    y = np.zeros((1, 4, 4, 2), dtype=np.float32).transpose(0, 3, 1, 2)
    ty = E.Tensor(y, requires_grad=True)
    pooled = F.max_pool2d(ty, 2)
    grad_fn_output = pooled._backward(np.ones(pooled.shape, dtype=np.float32))[0]
    assert grad_fn_output.strides[1] < grad_fn_output.strides[3]


def test_the_elementwise_conventions_at_ties_and_kinks():
    # maximum / minimum: half each at a tie; all to both where one input is NaN (torch).
    a, b = np.array([1.0, 2.0, 3.0, np.nan]), np.array([1.0, 0.0, 5.0, 1.0])
    ta, tb = E.Tensor(a, requires_grad=True), E.Tensor(b, requires_grad=True)
    ta.maximum(tb).sum().backward()
    np.testing.assert_array_equal(ta.grad.data, [0.5, 1, 0, 1])
    np.testing.assert_array_equal(tb.grad.data, [0.5, 0, 1, 1])
    # relu: 0 at 0 (and -0), 1 at NaN; abs: 0 at 0 and at NaN; sign(NaN) = 0.
    _, g = _grad(lambda t: t.relu(), [-1.0, 0.0, -0.0, 2.0, np.nan])
    np.testing.assert_array_equal(g, [0, 0, 0, 1, 1])
    out, g = _grad(lambda t: t.abs(), [-3.0, 0.0, -0.0, 2.0, np.nan])
    np.testing.assert_array_equal(g, [-1, 0, 0, 1, 0])
    assert not np.signbit(out[:3]).any()  # |-0.0| is +0.0, as torch's
    np.testing.assert_array_equal(E.tensor([np.nan, -2.0, 0.0]).sign().data, [0, -1, 0])
    # clamp: inclusive at both bounds; nothing passes when min > max.
    _, g = _grad(lambda t: t.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])
    out, g = _grad(lambda t: t.clamp(1.0, -1.0), [-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(out, [-1, -1, -1])
    np.testing.assert_array_equal(g, [0, 0, 0])
    # amax shares evenly; max(dim) sends all to the first maximal index; argmax is the first.
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    _, g = _grad(lambda t: t.amax(dim=1), x)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3] * 3])
    _, g = _grad(lambda t: t.max(1).values, x)
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(E.tensor(x).argmax(1).data, [1, 0])


def test_maximum_keeps_a_float32_gradient_float32():
    a = E.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = E.Tensor(np.array([1.0, 3.0], dtype=np.float32), requires_grad=True)
    out = a.maximum(b)
    grads = out._backward(np.ones(2, dtype=np.float32))
    assert all(g.dtype == np.float32 for g in grads)


# ---- whole networks on tied images ------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "arch, shape, kwargs",
    [
        ("lenet", (1, 28, 28), {"channels": [4, 8], "hidden": 16}),
        ("lenet", (1, 28, 28), {"channels": [4, 8], "hidden": 16, "activation": "tanh"}),
        ("resnet", (3, 16, 16), {"channels": [4, 4, 8, 8]}),
        ("dpcnn", (1, 28, 28), {"channels": [4, 8], "hidden": 16, "activation": "tanh"}),
    ],
    ids=["lenet", "lenet_tanh", "resnet", "dpcnn"],
)
def test_cnns_on_images_with_a_constant_background_match_torch(arch, shape, kwargs):
    """Images like a digit's: a constant background with a few integer-valued strokes. Every
    pooling window over the background ties. Forward, the input gradient and every
    parameter's gradient equal torch's in float64."""
    from gradschool.models import cnn

    ours = cnn(nn, arch, shape, 10, **kwargs).double().eval()
    theirs = cnn(torch.nn, arch, shape, 10, **kwargs).double().eval()
    theirs.load_state_dict(
        {k: torch.from_numpy(np.array(v.data)) for k, v in ours.state_dict().items()}
    )
    x = np.full((3, *shape), -0.4)
    x[..., 3:11, 5:9] = tie_heavy((3, shape[0], 8, 4), seed=8, values=(1.0, 2.0, 2.8))
    xe, xt = E.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), theirs(xt)
    np.testing.assert_allclose(ye.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(9).standard_normal(ye.shape)
    (ye * E.Tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
