"""Every engine op, primitive and composite, against torch.autograd through `check_op`.

Forward values, gradients (of a random-weighted sum of the outputs), shapes and dtypes, in
float64, with broadcasting, Python scalars on either side and the edge values where engines
usually go wrong (ReLU at 0, ties, logits of 1e4, sigmoid of +-1000). Without torch, `check_op`
checks the gradients against finite differences instead. The end of the file tests the
autograd mechanics themselves (deep graphs, accumulation, no_grad, detach, retain_grad).
"""

from __future__ import annotations

import numpy as np
import pytest
from op_check import HAS_TORCH, check_op, torch

from gradschool import engine as E
from gradschool.engine import functional as F

TF = torch.nn.functional if HAS_TORCH else None


def away_from_zero(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """Uniform in [-2, -0.5] U [0.5, 2]: safe denominators, ReLU inputs off the kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def positive(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


# ---- elementwise arithmetic, with broadcasting ----------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
    "method_add": lambda a, b: a.add(b),
    "method_sub": lambda a, b: a.sub(b),
    "method_mul": lambda a, b: a.mul(b),
    "method_div": lambda a, b: a.div(b),
}
BROADCAST = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),  # both sides broadcast
    ((2, 3, 4), (4,)),  # leading dims
    ((4,), (2, 3, 1)),
    ((), (2, 3)),  # 0-d tensor
    ((2, 1, 4), (3, 1)),
]


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_op_broadcasting(name, shapes):
    a = np.random.default_rng(0).uniform(-2, 2, shapes[0])
    b = away_from_zero(shapes[1])  # no division by ~0, no ties in maximum/minimum
    check_op([a, b], BINARY[name])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: 2 - x,
        lambda x: 2 / x,
        lambda x: 2 + x,
        lambda x: 2 * x,
        lambda x: x - 2,
        lambda x: x / 3,
        lambda x: x + 1,
        lambda x: x * 2.0,
        lambda x: x**2,
        lambda x: x**3,
        lambda x: x**-1,
        lambda x: 2**x,
        lambda x: 0.5**x,
        lambda x: -x,
        lambda x: x.neg(),
        lambda x: x.pow(2),
        lambda x: (x * x - x / 2) * 3 + 1,
    ],
    ids=[
        "rsub", "rdiv", "radd", "rmul", "sub_scalar", "div_scalar", "add_int", "mul_float",
        "square", "cube", "reciprocal", "rpow_2", "rpow_half", "neg", "neg_method", "pow_method",
        "polynomial",
    ],
)  # fmt: skip
def test_python_scalars_on_either_side(fn):
    check_op([away_from_zero((3, 4))], fn)


@pytest.mark.parametrize("p", [0.5, 1.5, -0.5, 2.5, 1 / 3])
def test_pow_fractional_exponent_on_positive_inputs(p):
    check_op([positive((3, 4))], lambda x: x**p)


@pytest.mark.parametrize("p", [0, 1, 2, 3])
def test_pow_at_zero_including_the_zeroth_power(p):
    # x ** 0 is constant: gradient 0 everywhere, also at x = 0 (not 0 * inf = nan), as torch.
    x = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 3.0]])
    r = check_op([x], lambda t: t**p, smooth=p != 0)
    assert np.all(np.isfinite(r.grads[0]))


def test_pow_tensor_exponent():
    check_op([positive((3, 4)), (3, 4)], lambda x, p: x**p)


# ---- matrix multiplication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [
        ((3, 4), (4, 5)),  # 2-D
        ((2, 3, 4), (4, 5)),  # batched @ matrix
        ((3, 4), (2, 4, 5)),  # matrix @ batched
        ((2, 1, 3, 4), (5, 4, 2)),  # leading dims broadcast
        ((4,), (4, 3)),  # 1-D @ 2-D
        ((3, 4), (4,)),  # 2-D @ 1-D
        ((4,), (4,)),  # dot product
        ((2, 3, 4), (4,)),
        ((4,), (2, 4, 3)),
    ],
    ids=str,
)
def test_matmul(shapes):
    check_op(list(shapes), lambda a, b: a @ b)
    check_op(list(shapes), lambda a, b: a.matmul(b), seed=1)


def test_rmatmul_with_numpy_array():
    w = np.random.default_rng(3).standard_normal((2, 3))
    check_op([(3, 4)], lambda x: w @ x, lambda x: torch.from_numpy(w) @ x)


# ---- elementwise functions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fn, make",
    [
        ("exp", lambda x: x.exp(), lambda: (3, 4)),
        ("log", lambda x: x.log(), lambda: positive((3, 4))),
        ("tanh", lambda x: x.tanh(), lambda: (3, 4)),
        ("relu", lambda x: x.relu(), lambda: away_from_zero((3, 4))),
        ("erf", lambda x: x.erf(), lambda: (3, 4)),
        ("clone", lambda x: x.clone(), lambda: (3, 4)),
        ("erf_0d", lambda x: x.erf(), lambda: ()),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_unary(name, fn, make):
    check_op([make()], fn)


def test_relu_at_exactly_zero_has_gradient_zero_like_torch():
    x = np.array([[-1.0, 0.0, 1.0], [0.0, -0.0, 2.0]])
    r = check_op([x], lambda t: t.relu(), smooth=False)
    np.testing.assert_array_equal(r.grads[0] != 0, x > 0)
    check_op([x], F.relu, TF and TF.relu, smooth=False)


def test_relu_backward_across_memory_orders_keeps_the_values_and_x_order():
    """A channels-last x with a plain (N, C, H, W) gradient (a CNN's last ReLU, g through a
    Flatten): the same gradient as g * (x > 0), bit for bit, on ties (zeros, small integers,
    -0.0), returned in x's memory order."""
    rng = np.random.default_rng(0)
    x_nhwc = rng.integers(-2, 3, (3, 4, 5, 6)).astype(np.float64)
    x_nhwc[0] = 0.0
    x_nhwc[1, :2] = -0.0
    x = E.tensor(x_nhwc.transpose(0, 3, 1, 2), requires_grad=True)  # (3, 6, 4, 5), channels-last
    assert not x.data.flags.c_contiguous  # the case under test: x and g in different orders
    g = rng.integers(-3, 4, (3, 6, 4, 5)).astype(np.float64)  # C order
    (grad,) = x.relu()._backward(g)  # the node's own gradient, before x.grad collects it
    np.testing.assert_array_equal(grad, g * (x.data > 0))
    assert grad.strides == x.data.strides
    if HAS_TORCH:
        xt = torch.from_numpy(x.data.copy()).requires_grad_(True)
        xt.relu().backward(torch.from_numpy(g))
        np.testing.assert_array_equal(grad, xt.grad.numpy())


def test_relu_of_a_negative_is_positive_zero_like_torch():
    out = E.tensor(np.array([-3.0, -0.0, 2.0], dtype=np.float32)).relu().data
    np.testing.assert_array_equal(np.signbit(out), [False, False, False])
    assert out.dtype == np.float32


def test_maximum_minimum_ties_split_the_gradient_like_torch():
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 5.0])
    ones = np.ones(4)
    r = check_op([a, b], lambda x, y: x.maximum(y), smooth=False)
    w = r.weights[0]  # the loss was sum(w * out)
    np.testing.assert_allclose(r.grads[0], w * [0.5, 1, 0.5, 0])
    np.testing.assert_allclose(r.grads[1], w * [0.5, 0, 0.5, 1])
    r = check_op([a, b], lambda x, y: x.minimum(y), smooth=False)
    w = r.weights[0]
    np.testing.assert_allclose(r.grads[0], w * [0.5, 0, 0.5, 1])
    np.testing.assert_allclose(r.grads[0] + r.grads[1], w * ones)
    check_op([a, b], lambda x, y: E.maximum(x, y), lambda x, y: torch.maximum(x, y), smooth=False)


def test_maximum_with_a_python_scalar():
    check_op([away_from_zero((3, 4))], lambda x: x.maximum(0.25), lambda x: x.clamp(min=0.25))


@pytest.mark.parametrize(
    "lo, hi", [(-1.0, 1.0), (0.0, None), (None, 0.5)], ids=["both", "min", "max"]
)
def test_clamp_including_values_exactly_at_the_bounds(lo, hi):
    x = np.array([[-2.0, -1.0, -0.5, 0.0], [0.25, 0.5, 1.0, 2.0]])
    r = check_op([x], lambda t: t.clamp(lo, hi), smooth=False)
    inside = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
    np.testing.assert_array_equal(r.grads[0], r.weights[0] * inside)  # 1 at the bounds
    check_op([away_from_zero((3, 4)) * 0.9 + 0.01], lambda t: t.clamp(lo, hi), seed=1)


# ---- selection: where, masked_fill -----------------------------------------------------------


def test_where_with_broadcasting():
    cond = np.random.default_rng(4).random((3, 4)) > 0.5
    check_op(
        [cond, (3, 1), (4,)], lambda c, a, b: E.where(c, a, b), lambda c, a, b: torch.where(c, a, b)
    )
    check_op(
        [cond, (3, 4)],
        lambda c, a: E.where(c, a, 0.0),
        lambda c, a: torch.where(c, a, 0.0),
    )
    check_op([cond, (3, 4), (3, 4)], lambda c, a, b: a.where(c, b))


@pytest.mark.parametrize("mask_shape", [(3, 4), (1, 4), (3, 1)], ids=str)
def test_masked_fill(mask_shape):
    mask = np.random.default_rng(5).random(mask_shape) > 0.5
    check_op([(3, 4), mask], lambda x, m: x.masked_fill(m, -1.5))
    check_op([(3, 4), mask], lambda x, m: x.masked_fill(m, float("-inf")).exp(), seed=1)


# ---- reductions -------------------------------------------------------------------------------


DIMS = [(None, False)] + [(d, k) for d in [0, 1, -1, (0, 2), (-1, 0)] for k in [False, True]]


@pytest.mark.parametrize("dim, keepdim", DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
def test_reductions(op, dim, keepdim):
    if dim is None:
        fn = lambda x: getattr(x, op)()  # noqa: E731
    else:
        fn = lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)  # noqa: E731
    check_op([(2, 3, 4)], fn)


def test_amax_ties_share_the_gradient_evenly_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.0]])
    r = check_op([x], lambda t: t.amax(dim=1), smooth=False)
    w = r.weights[0]
    expected = np.array([[0, 0.5, 0.5], [1 / 3] * 3, [0.5, 0, 0.5]]) * w[:, None]
    np.testing.assert_allclose(r.grads[0], expected)
    check_op([x], lambda t: t.amax(dim=(0, 1), keepdim=True), smooth=False)
    check_op([x], lambda t: t.max(), smooth=False)  # full max: ties share too
    check_op([x], lambda t: t.min(), smooth=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_return_values_and_indices(dim, keepdim):
    x = np.random.default_rng(6).permutation(24).reshape(2, 3, 4) / 7.0  # no ties
    r = check_op([x], lambda t: t.max(dim, keepdim))
    assert r.out.indices.dtype == np.int64 and r.out.values is r.out[0]
    check_op([x], lambda t: t.min(dim=dim, keepdim=keepdim))


def test_max_dim_ties_give_the_gradient_to_the_returned_index():
    # Both engines return the first maximum and route the whole gradient there.
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    r = check_op([x], lambda t: t.max(1), smooth=False)
    np.testing.assert_array_equal(r.out.indices.data, [1, 0])
    np.testing.assert_array_equal(r.grads[0] != 0, [[0, 1, 0], [1, 0, 0]])
    check_op([x], lambda t: t.min(1), smooth=False)


# ---- shape ops ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.reshape(4, 6),
        lambda x: x.reshape((6, -1)),
        lambda x: x.reshape(-1),
        lambda x: x.view(2, 12),
        lambda x: x.view(-1, 4),
        lambda x: x.flatten(),
        lambda x: x.flatten(1),
        lambda x: x.flatten(0, 1),
        lambda x: x.unsqueeze(0),
        lambda x: x.unsqueeze(-1),
        lambda x: x.unsqueeze(2),
        lambda x: x.transpose(0, 2),
        lambda x: x.transpose(-1, -2),
        lambda x: x.permute(2, 0, 1),
        lambda x: x.permute((1, 2, 0)),
        lambda x: x.mT,
        lambda x: x[0].T,
        lambda x: x.contiguous(),
    ],
    ids=[
        "reshape", "reshape_tuple", "reshape_flat", "view", "view_infer", "flatten", "flatten_1",
        "flatten_0_1", "unsqueeze_0", "unsqueeze_neg", "unsqueeze_mid", "transpose",
        "transpose_neg", "permute", "permute_tuple", "mT", "T", "contiguous",
    ],
)  # fmt: skip
def test_shape_ops(fn):
    check_op([(2, 3, 4)], fn)


@pytest.mark.parametrize("dim", [None, 0, 2, 1, -1], ids=str)
def test_squeeze(dim):
    check_op([(1, 3, 1, 4)], lambda x: x.squeeze() if dim is None else x.squeeze(dim))


@pytest.mark.parametrize(
    "src, sizes", [((3, 1), (3, 4)), ((3, 1), (2, 3, 4)), ((3, 1), (-1, 4)), ((4,), (2, 3, -1))]
)
def test_expand(src, sizes):
    check_op([src], lambda x: x.expand(*sizes))
    check_op([src], lambda x: x.expand(sizes), seed=1)


# ---- indexing ---------------------------------------------------------------------------------

INDEXES = {
    "int": 1,
    "neg_int": -1,
    "slice": (slice(None), slice(1, 3)),
    "ellipsis": (Ellipsis, slice(None, None, 2)),
    "none": (None, slice(1, None), Ellipsis),
    "int_and_none": (1, Ellipsis, None),
    "int_array_repeated": np.array([0, 2, 0, 0]),
    "int_array_list": [0, 0, 1],
    "int_array_col": (slice(None), np.array([1, 1, 3])),
    "int_arrays_pair": (np.array([0, 1, 1]), np.array([2, 2, 2])),
    "bool_mask": np.random.default_rng(7).random((3, 4)) > 0.5,
    "bool_rows": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", INDEXES)
def test_indexing(name):
    index = INDEXES[name]
    check_op([(3, 4)], lambda x: x[index])


def test_indexing_with_negative_steps():
    # torch has no negative steps; flip then a positive step selects the same elements.
    check_op([(3, 4)], lambda x: x[::-1, ::-2], lambda x: x.flip(0).flip(1)[:, ::2])
    check_op([(2, 3, 5)], lambda x: x[..., ::-2], lambda x: x.flip(-1)[..., ::2])
    check_op([(5, 2)], lambda x: x[3:0:-2], lambda x: x.flip(0)[1:4:2])


def test_indexing_with_integer_tensors_with_repeats():
    idx = np.array([2, 0, 2, 2])
    check_op([(3, 4), idx], lambda x, i: x[i])
    check_op([(3, 4), idx], lambda x, i: x[:, i], seed=1)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_with_repeated_indices(dim):
    rng = np.random.default_rng(8)
    shape = (3, 4)
    idx = rng.integers(0, shape[dim], (5, 4) if dim == 0 else (3, 6))
    check_op([shape, idx], lambda x, i: x.gather(dim, i))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    sizes = [(2, 3), (2, 3), (2, 3)]
    if dim == 0:
        sizes = [(1, 3), (2, 3), (4, 3)]
    check_op(sizes, lambda *xs: E.cat(xs, dim=dim), lambda *xs: torch.cat(xs, dim=dim))
    same = [(2, 3), (2, 3), (2, 3)]
    check_op(same, lambda *xs: E.stack(list(xs), dim), lambda *xs: torch.stack(xs, dim), seed=1)


# ---- composites (functional.py) -------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    check_op([(2, 3, 4)], lambda x: F.softmax(x, dim), lambda x: TF.softmax(x, dim))
    check_op([(2, 3, 4)], lambda x: F.log_softmax(x, dim), lambda x: TF.log_softmax(x, dim))


LARGE = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, -1e4, 1.0]])


def test_softmax_and_log_softmax_of_large_logits_are_finite_and_equal_torch():
    r = check_op([LARGE], lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), smooth=False)
    assert np.all(np.isfinite(r.out.data)) and np.all(np.isfinite(r.grads[0]))
    np.testing.assert_allclose(r.out.data.sum(1), 1.0)
    r = check_op(
        [LARGE], lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), smooth=False
    )
    assert np.all(np.isfinite(r.out.data)) and np.all(np.isfinite(r.grads[0]))
    np.testing.assert_allclose(r.out.data[0], [0.0, -1e4, -2e4])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(reduction, smoothing):
    y = np.array([0, 4, 2, 2, 1])
    check_op(
        [(5, 5), y],
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
    )
    loss = E.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    check_op(
        [(5, 5), y],
        loss,
        lambda x, t: torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(
            x, t
        ),
        seed=1,
    )


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_of_large_logits_is_finite_and_equals_torch(smoothing, reduction):
    y = np.array([1, 0, 2, 1])
    r = check_op(
        [LARGE, y],
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        smooth=False,
    )
    assert np.all(np.isfinite(r.out.data)) and np.all(np.isfinite(r.grads[0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    y = np.array([3, 0, 0, 1])
    check_op(
        [(4, 4), y],
        lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, reduction=reduction),
        lambda x, t: TF.nll_loss(TF.log_softmax(x, 1), t, reduction=reduction),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_l1_loss(reduction):
    target = np.random.default_rng(9).uniform(-2, 2, (3, 4))
    x = target + away_from_zero((3, 4))  # l1 is smooth away from x == target
    check_op(
        [x, target],
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        lambda a, b: TF.mse_loss(a, b, reduction=reduction),
    )
    check_op(
        [x, target],
        lambda a, b: F.l1_loss(a, b, reduction=reduction),
        lambda a, b: TF.l1_loss(a, b, reduction=reduction),
    )
    # NOTE: keyword only: torch's first positional argument is the legacy `size_average`.
    t_loss = torch.nn.MSELoss(reduction=reduction) if HAS_TORCH else None
    check_op([x, target], E.nn.MSELoss(reduction=reduction), t_loss)


def test_sigmoid_including_plus_minus_1000():
    check_op([(3, 4)], F.sigmoid, torch.sigmoid if HAS_TORCH else None)
    extreme = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    r = check_op([extreme], F.sigmoid, torch.sigmoid if HAS_TORCH else None, atol=1e-15)
    np.testing.assert_array_equal(r.out.data[[0, -1]], [0.0, 1.0])
    assert np.all(np.isfinite(r.grads[0]))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    check_op(
        [(3, 4)],
        lambda x: F.gelu(x, approximate=approximate),
        lambda x: TF.gelu(x, approximate=approximate),
        low=-4,
        high=4,
    )
    check_op(
        [(3, 4)],
        E.nn.GELU(approximate),
        torch.nn.GELU(approximate) if HAS_TORCH else None,
        seed=1,
    )


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)], ids=str)
def test_linear(x_shape, bias):
    shapes = [x_shape, (3, 4)] + ([(3,)] if bias else [])
    check_op(shapes, F.linear, TF and TF.linear)


def test_tanh_and_relu_functional_and_modules():
    x = away_from_zero((3, 4))
    check_op([x], F.tanh, torch.tanh if HAS_TORCH else None)
    check_op([x], F.relu, torch.relu if HAS_TORCH else None)
    for engine_cls, name in [(E.nn.Tanh, "Tanh"), (E.nn.ReLU, "ReLU"), (E.nn.Sigmoid, "Sigmoid")]:
        check_op([x], engine_cls(), getattr(torch.nn, name)() if HAS_TORCH else None)


# ---- dropout: RNGs differ, so compare structure and statistics --------------------------------


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_scales_the_kept_units_and_drops_about_p(p):
    E.manual_seed(0)
    x = E.ones(200, 100, dtype=np.float64, requires_grad=True)
    y = F.dropout(x, p, training=True)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / (1 - p))
    assert abs(1 - kept.mean() - p) < 0.02
    assert abs(y.data.mean() - 1) < 0.03  # inverted dropout keeps the expectation
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # d(x * mask/(1-p))/dx = mask/(1-p)
    assert y.dtype == x.dtype
    if HAS_TORCH:
        t = TF.dropout(torch.ones(200, 100, dtype=torch.float64), p, training=True)
        t_kept = (t != 0).numpy()
        np.testing.assert_allclose(t.numpy()[t_kept], 1 / (1 - p))
        assert abs(kept.mean() - t_kept.mean()) < 0.03


def test_dropout_is_repeatable_with_manual_seed_and_the_identity_in_eval():
    x = E.randn(4, 5, dtype=np.float64)
    E.manual_seed(3)
    a = F.dropout(x, 0.5)
    E.manual_seed(3)
    b = F.dropout(x, 0.5)
    np.testing.assert_array_equal(a.data, b.data)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    layer = E.nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x).data, x.data)
    check_op(
        [(3, 4)],
        lambda t: F.dropout(t, 0.5, training=False),
        lambda t: TF.dropout(t, 0.5, training=False),
    )
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


# ---- dtype: float32 stays float32 ---------------------------------------------------------------

FLOAT32_OPS = {
    "mul_float": lambda x: x * 2.0,
    "add_int": lambda x: x + 1,
    "rsub": lambda x: 2 - x,
    "rdiv": lambda x: 2 / x,
    "div": lambda x: x / 3,
    "pow": lambda x: x**2,
    "pow_frac": lambda x: x.clamp(min=0.1) ** 0.5,
    "rpow": lambda x: 2**x,
    "exp_log": lambda x: (x.exp() + 1).log(),
    "tanh": lambda x: x.tanh(),
    "erf": lambda x: x.erf(),
    "matmul": lambda x: x @ x.T,
    "mean": lambda x: x.mean(dim=0),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "index": lambda x: x[np.array([0, 0, 2])],
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32(name):
    r = check_op(
        [away_from_zero((3, 4))], FLOAT32_OPS[name], dtype=np.float32, fd_atol=1e-2, fd_rtol=1e-2
    )
    assert r.out.dtype == np.float32
    assert r.grads[0].dtype == np.float32


@pytest.mark.parametrize(
    "fn, torch_fn",
    [
        (F.sigmoid, "sigmoid"),
        (F.gelu, "gelu"),
        (lambda x: F.softmax(x, 1), "softmax"),
        (lambda x: F.log_softmax(x, 1), "log_softmax"),
    ],
    ids=["sigmoid", "gelu", "softmax", "log_softmax"],
)
def test_float32_composites_stay_float32(fn, torch_fn):
    t_fn = (lambda x: getattr(TF, torch_fn)(x, 1)) if "softmax" in torch_fn else None
    if t_fn is None and HAS_TORCH:
        t_fn = getattr(torch, torch_fn, None) or getattr(TF, torch_fn)
    r = check_op([(3, 4)], fn, t_fn, dtype=np.float32, fd_atol=1e-2, fd_rtol=1e-2)
    assert r.out.dtype == np.float32 and r.grads[0].dtype == np.float32


def test_float32_losses_and_linear_stay_float32():
    y = np.array([0, 2, 1])
    r = check_op(
        [(3, 4), y],
        F.cross_entropy,
        TF and TF.cross_entropy,
        dtype=np.float32,
        fd_atol=1e-2,
        fd_rtol=1e-2,
    )
    assert r.out.dtype == np.float32 and r.grads[0].dtype == np.float32
    r = check_op(
        [(3, 4), (3, 4)],
        F.mse_loss,
        TF and TF.mse_loss,
        dtype=np.float32,
        fd_atol=1e-2,
        fd_rtol=1e-2,
    )
    assert r.out.dtype == np.float32
    layer = E.nn.Linear(4, 2)
    assert layer.weight.dtype == np.float32
    out = layer(E.tensor(np.ones((3, 4), dtype=np.float32)))
    out.sum().backward()
    assert out.dtype == np.float32 and layer.weight.grad.dtype == np.float32
    assert layer.bias.grad.dtype == np.float32


def test_python_floats_make_float32_tensors_like_torch():
    assert E.tensor([1.0, 2.0]).dtype == np.float32
    assert E.tensor([1, 2]).dtype == np.int64
    assert E.tensor(np.array([1.0])).dtype == np.float64
    assert E.zeros(2, 3).dtype == np.float32 and E.randn(2).dtype == np.float32


def test_grad_has_the_dtype_of_its_parameter_when_dtypes_mix():
    w = E.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    x = E.tensor(np.full(3, 2.0))  # float64 data
    (w * x).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad.data, 2.0)


# ---- the finite-difference fallback itself ------------------------------------------------------


def test_check_op_without_torch_uses_finite_differences_and_catches_a_wrong_gradient(monkeypatch):
    check_op([(3, 4), (4,)], lambda a, b: (a * b).tanh(), use_torch=False)
    check_op([(2, 5), np.array([1, 4])], F.cross_entropy, use_torch=False)

    def wrong_exp(self):
        out = np.exp(self.data)
        return E.Tensor._make(out, (self,), lambda g: (g * out * 1.001,), "exp")

    monkeypatch.setattr(E.Tensor, "exp", wrong_exp)
    with pytest.raises(AssertionError, match="finite diff"):
        check_op([(3, 4)], lambda x: x.exp(), use_torch=False)


# ---- autograd mechanics -------------------------------------------------------------------------


def test_a_10000_op_chain_backpropagates_without_recursion_error():
    x = E.tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    # 20,000 ops; d y / d x = 1.0001 ** 10000
    np.testing.assert_allclose(x.grad.data, 1.0001**10_000, rtol=1e-9)


def test_gradients_accumulate_across_backward_calls_and_zero_grad_resets():
    layer = E.nn.Linear(3, 2, dtype=np.float64)
    x = E.tensor(np.random.default_rng(0).standard_normal((4, 3)))
    layer(x).tanh().sum().backward()
    once = layer.weight.grad.data.copy()
    layer(x).tanh().sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, 2 * once)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    opt = E.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad.data, 0.0)
    opt.zero_grad()
    assert layer.weight.grad is None


def test_a_tensor_used_twice_gets_the_sum_of_both_gradients():
    x = E.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 1)
    a = E.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = E.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a + b).sum().backward()
    # Both inputs of an add receive the same upstream gradient; they must not share memory.
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0


def test_backward_into_a_leaf_copies_the_callers_gradient():
    x = E.tensor(np.zeros(3), requires_grad=True)
    g = np.ones(3)
    x.backward(g)
    g[0] = 5.0
    np.testing.assert_array_equal(x.grad.data, 1.0)


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = E.tensor(np.ones(3), requires_grad=True)
    with E.no_grad():
        y = x * 2
        assert not E.is_grad_enabled()
        with E.enable_grad():
            z = x * 2
    assert E.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    assert z.requires_grad and z.grad_fn == "mul"

    @E.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad and E.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = E.tensor(np.ones(3), requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 2.0)  # d treated as a constant
    x2 = x.detach()
    assert np.shares_memory(x2.data, x.data)


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = E.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    h.retain_grad()
    other = x * 4  # not retained
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 3 * 2 * h.data + 4)
    assert other.grad is None
    assert h.grad_fn == "mul" and not h.is_leaf and x.is_leaf


def test_backward_with_an_explicit_gradient_for_a_non_scalar_output():
    x = E.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = x * x
    g = np.array([[1.0, 0.5], [0.0, -1.0]])
    y.backward(E.tensor(g))
    np.testing.assert_allclose(x.grad.data, 2 * x.data * g)
    x.grad = None
    (x * x).backward(g)  # a NumPy array works too
    np.testing.assert_allclose(x.grad.data, 2 * x.data * g)


def test_backward_twice_with_retain_graph_accumulates():
    x = E.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    once = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * once)


def test_integer_and_comparison_results_carry_no_gradient():
    x = E.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    for t in [x > 0, x == 1, x.argmax(), x.sign(), x.max(0).indices]:
        assert not t.requires_grad
    assert (x > 0).dtype == np.bool_


# ---- gradschool.gradcheck, the teaching tool ------------------------------------------------


def test_numeric_grad_of_a_known_function():
    from gradschool.gradcheck import numeric_grad

    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    (g,) = numeric_grad(lambda t: (t * t * t).sum(), [x])
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    g_x, g_y = numeric_grad(lambda t, y: F.cross_entropy(t, y), [x, np.array([1, 0])])
    assert g_y is None and g_x.shape == x.shape
    with pytest.raises(ValueError, match="scalar output"):
        numeric_grad(lambda t: t * 2, [x])


def test_gradcheck_report():
    from gradschool.gradcheck import gradcheck

    report = gradcheck(lambda a, b: (a @ b).tanh(), [np.ones((2, 3)) * 0.1, np.eye(3)[:, :2]])
    assert report.ok and len(report.rows) == 2
    row = report.rows[0]
    assert row.input == "x0 (2, 3)" and row.max_abs_err < 1e-8 and row.ok
    assert report.analytic[0].shape == (2, 3) and report.numeric[1].shape == (3, 2)


def test_every_catalogue_op_passes_gradcheck():
    from gradschool.gradcheck import CATALOGUE, format_table, run_gradcheck

    rows = run_gradcheck()
    assert {r.op for r in rows} == set(CATALOGUE)
    failed = [r for r in rows if not r.ok]
    assert not failed, format_table(failed)
    assert all(r.max_abs_grad > 0 and r.rel_err < 1e-6 for r in rows)
    table = format_table(rows)
    assert table.splitlines()[0].split()[:2] == ["op", "input"]
    assert "all gradients agree" in table.splitlines()[-1]


def test_the_catalogue_covers_every_primitive_and_composite():
    from gradschool.gradcheck import CATALOGUE

    names = set(CATALOGUE)
    needed = {"add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "tanh", "relu"}
    needed |= {"erf", "maximum", "minimum", "where", "clamp", "sum", "mean", "amax", "gather"}
    needed |= {"reshape", "permute", "expand", "cat", "softmax", "log_softmax", "cross_entropy"}
    needed |= {"sigmoid", "gelu", "mse_loss", "linear", "nll_loss", "l1_loss", "masked_fill"}
    assert needed <= names


def test_gradcheck_catches_a_deliberately_wrong_backward(monkeypatch, capsys):
    from gradschool import gradcheck as gc

    def wrong_tanh(self):
        out = np.tanh(self.data)  # backward forgets the square: 1 - out instead of 1 - out^2
        return E.Tensor._make(out, (self,), lambda g: (g * (1 - out),), "tanh")

    monkeypatch.setattr(E.Tensor, "tanh", wrong_tanh)
    from gradschool.engine.fused import set_fused_enabled

    with set_fused_enabled(False):  # the taught composite path: gelu_tanh is built on tanh
        rows = gc.run_gradcheck(["tanh", "add", "gelu_tanh"])
    verdict = {r.op: r.ok for r in rows}
    assert verdict == {"tanh": False, "add": True, "gelu_tanh": False}  # composites inherit it
    # The fused path runs gelu_tanh as one node with its own backward, which tanh's bug misses.
    assert {r.op: r.ok for r in gc.run_gradcheck(["gelu_tanh"])} == {"gelu_tanh": True}
    assert "FAIL" in gc.format_table(rows) and "2 FAILED" in gc.format_table(rows)
    assert gc.main(["tanh"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_gradcheck_main(capsys):
    from gradschool.errors import GradschoolError
    from gradschool.gradcheck import main, run_gradcheck

    assert main(["add", "matmul", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "matmul" in out and "add" in out and "2 ops, 4 inputs" in out
    assert main(["--list"]) == 0
    assert "cross_entropy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["nope"])
    assert "unknown op(s) ['nope']" in capsys.readouterr().err
    with pytest.raises(GradschoolError, match="the catalogue has: add, sub"):
        run_gradcheck(["nope"])


def test_dtype_casts_are_differentiable():
    r = check_op([(3, 4)], lambda x: x.float() * 2, atol=1e-6, fd_atol=1e-3, fd_eps=1e-3)
    assert r.out.dtype == np.float32 and r.grads[0].dtype == np.float64
    r = check_op([(3, 4)], lambda x: x.double().exp(), dtype=np.float32, fd_atol=1e-3, fd_eps=1e-3)
    assert r.out.dtype == np.float64 and r.grads[0].dtype == np.float32
    x = E.tensor(np.ones(2), requires_grad=True)
    assert x.to(np.float64) is x and x.double() is x
