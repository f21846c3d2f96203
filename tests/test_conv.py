"""Convolution, pooling and batch norm on the NumPy engine, against torch (float64).

Every op goes through the shared `check_op` helper (forward values, gradients of a random-
weighted sum of the outputs, shapes, dtypes; finite differences when torch is absent), over
stride / padding / groups cases. Then the layers (torch's initialisation, batch norm's running
statistics in train and eval mode), the CNN models (same state_dict keys as torch), and a
20-step training parity run of a CNN on both engines from the same weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_check import HAS_TORCH, check_op, torch

from gradschool import engine as E
from gradschool.engine import functional as F
from gradschool.engine import nn
from gradschool.engine.conv import sliding_windows
from gradschool.errors import ConfigError

TF = torch.nn.functional if HAS_TORCH else None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="compares against torch")


def _torch_windows(x, k, s, p, value=0.0):
    """torch's spelling of sliding_windows: pad, then unfold H and W."""
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    x = TF.pad(x, (pw, pw, ph, ph), value=value)
    return x.unfold(2, kh, sh).unfold(3, kw, sw)


# ---- the primitive: sliding windows (im2col) ------------------------------------------------

WINDOW_CASES = [
    # (input shape, kernel, stride, padding)
    ((2, 3, 7, 6), (3, 3), (1, 1), (0, 0)),
    ((2, 3, 7, 6), (3, 3), (1, 1), (1, 1)),
    ((2, 2, 9, 8), (3, 2), (2, 3), (1, 0)),  # non-square everything
    ((1, 1, 5, 5), (5, 5), (1, 1), (0, 0)),  # one window
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0)),  # non-overlapping, as in 2x2 pooling
    ((1, 2, 6, 7), (3, 3), (3, 2), (2, 2)),  # stride that skips pixels, big padding
]


@pytest.mark.parametrize("shape,k,s,p", WINDOW_CASES, ids=str)
def test_sliding_windows_matches_torch_unfold(shape, k, s, p):
    check_op(
        [shape],
        lambda x: sliding_windows(x, k, s, p),
        lambda x: _torch_windows(x, k, s, p) if HAS_TORCH else None,
    )


def test_sliding_windows_is_a_view_and_pads_with_the_value_asked_for():
    x = E.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    w = sliding_windows(x, 3, 1, 0)
    assert w.shape == (1, 1, 2, 2, 3, 3)
    assert np.shares_memory(w.data, x.data)  # no copy in the forward pass
    np.testing.assert_array_equal(w.data[0, 0, 1, 0], [[4, 5, 6], [8, 9, 10], [12, 13, 14]])
    padded = sliding_windows(x, 2, 2, 1, pad_value=-np.inf)
    assert padded.data[0, 0, 0, 0, 0, 0] == -np.inf and padded.data[0, 0, 0, 0, 1, 1] == 0


def test_col2im_adds_the_gradient_of_every_window_a_pixel_is_in():
    # With a 3x3 kernel, stride 1, no padding, on 5x5: the centre pixel is in all 9 windows,
    # a corner in 1. The gradient of windows.sum() counts exactly that.
    x = E.Tensor(np.zeros((1, 1, 5, 5)), requires_grad=True)
    sliding_windows(x, 3).sum().backward()
    expected = np.array(
        [[1, 2, 3, 2, 1], [2, 4, 6, 4, 2], [3, 6, 9, 6, 3], [2, 4, 6, 4, 2], [1, 2, 3, 2, 1]]
    )
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)


@pytest.mark.parametrize("shape,k,s,p", WINDOW_CASES[:4], ids=str)
def test_unfold_matches_torch(shape, k, s, p):
    check_op(
        [shape],
        lambda x: F.unfold(x, k, padding=p, stride=s),
        lambda x: TF.unfold(x, k, padding=p, stride=s),
    )


# ---- convolution ------------------------------------------------------------------------------

CONV_CASES = [
    # (input shape, weight shape, stride, padding, groups)
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 0, 1),
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1),  # "same" size
    ((2, 3, 9, 8), (5, 3, 3, 3), 2, 1, 1),  # stride 2, odd size
    ((2, 3, 9, 7), (4, 3, 2, 3), (2, 1), (0, 1), 1),  # non-square kernel / stride / pad
    ((1, 2, 7, 7), (3, 2, 5, 5), 1, 2, 1),  # LeNet's 5x5
    ((2, 1, 6, 6), (4, 1, 1, 1), 1, 0, 1),  # 1x1 convolution
    ((2, 4, 7, 6), (6, 2, 3, 3), 1, 1, 2),  # two groups
    ((2, 4, 6, 6), (4, 1, 3, 3), 2, 1, 4),  # depthwise (groups = channels)
]


@needs_torch
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,groups", CONV_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_matches_torch(x_shape, w_shape, stride, padding, groups, bias):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])

    def run(fn):
        return lambda x, w, b=None: fn(x, w, b, stride, padding, 1, groups)

    check_op(shapes, run(F.conv2d), run(TF.conv2d))


def test_conv2d_with_finite_differences():
    """The same check without torch: the engine's gradient vs central differences."""
    check_op(
        [(1, 2, 5, 5), (3, 2, 3, 3), (3,)],
        lambda x, w, b: F.conv2d(x, w, b, 2, 1),
        use_torch=False,
    )


@needs_torch
def test_conv2d_padding_strings_and_float32():
    check_op(
        [(2, 3, 6, 6), (4, 3, 3, 3)],
        lambda x, w: F.conv2d(x, w, padding="same"),
        lambda x, w: TF.conv2d(x, w, padding="same"),
    )
    check_op(
        [(2, 3, 6, 6), (4, 3, 3, 3)],
        lambda x, w: F.conv2d(x, w, padding="valid"),
        lambda x, w: TF.conv2d(x, w, padding="valid"),
        dtype=np.float32,
        atol=1e-5,
        rtol=1e-4,
    )


def test_conv2d_on_channels_last_input_gives_the_same_numbers():
    """conv2d's output is stored channels-last; a second conv reading it must agree with one
    reading the same values stored channels-first (only the memory order differs)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    cl = E.Tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2), True)
    cf = E.Tensor(x.copy(), requires_grad=True)
    for t in (cl, cf):
        F.conv2d(t, E.Tensor(w), padding=1).sum().backward()
    np.testing.assert_allclose(F.conv2d(cl, E.Tensor(w), padding=1).data,
                               F.conv2d(cf, E.Tensor(w), padding=1).data, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(cl.grad.data, cf.grad.data, atol=1e-12)


# ---- pooling --------------------------------------------------------------------------------

POOL_CASES = [
    # (input shape, kernel, stride, padding)
    ((2, 3, 8, 8), 2, None, 0),  # the usual 2x2 halving
    ((2, 3, 9, 7), 2, None, 0),  # odd sizes: the last row / column is dropped, as torch
    ((2, 2, 9, 9), 3, 2, 1),  # overlapping windows with padding (ResNet's stem)
    ((1, 2, 7, 8), (3, 2), (1, 2), (1, 0)),
]


@needs_torch
@pytest.mark.parametrize("shape,k,s,p", POOL_CASES, ids=str)
def test_max_pool2d_matches_torch(shape, k, s, p):
    # Random inputs, which never tie; tests/test_engine_ties.py checks tied ones.
    check_op([shape], lambda x: F.max_pool2d(x, k, s, p), lambda x: TF.max_pool2d(x, k, s, p))


@needs_torch
def test_max_pool2d_after_relu_matches_torch_despite_ties():
    """Ties at 0 after a ReLU: both engines give a window's gradient to its first maximum
    (a zero, to which ReLU then passes nothing)."""
    x = np.random.default_rng(3).uniform(-1, 1, (2, 3, 6, 6))
    x[0, 0, :2, :2] = -0.5  # a whole window of zeros after the ReLU
    check_op([x], lambda t: F.max_pool2d(F.relu(t), 2), lambda t: TF.max_pool2d(TF.relu(t), 2))


@needs_torch
@pytest.mark.parametrize("shape,k,s,p", POOL_CASES, ids=str)
@pytest.mark.parametrize("include", [True, False], ids=["count_pad", "skip_pad"])
def test_avg_pool2d_matches_torch(shape, k, s, p, include):
    check_op(
        [shape],
        lambda x: F.avg_pool2d(x, k, s, p, count_include_pad=include),
        lambda x: TF.avg_pool2d(x, k, s, p, count_include_pad=include),
    )


@needs_torch
@pytest.mark.parametrize(
    "shape,out",
    [((2, 3, 8, 8), 1), ((2, 3, 8, 8), (4, 2)), ((2, 2, 7, 5), (3, 4)), ((1, 2, 5, 6), (None, 3))],
    ids=str,
)
def test_adaptive_avg_pool2d_matches_torch(shape, out):
    # (3, 4) from 7x5 has overlapping, unequal windows: torch's floor / ceil boundaries.
    check_op(
        [shape], lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out)
    )


# ---- batch norm -------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("shape", [(8, 3, 4, 5), (6, 4), (5, 3, 7)], ids=str)
def test_batch_norm_training_matches_torch(shape):
    C = shape[1]
    check_op(
        [shape, (C,), (C,)],
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
    )


@needs_torch
def test_batch_norm_eval_matches_torch():
    rng = np.random.default_rng(1)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    check_op(
        [(4, 3, 5, 5), (3,), (3,)],
        lambda x, w, b: F.batch_norm(x, E.Tensor(mean), E.Tensor(var), w, b, eps=1e-3),
        lambda x, w, b: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b, eps=1e-3),
    )


def _pair_of_bn(cls_name, **kwargs):
    """The engine's and torch's layer, float64, with the same non-trivial weight and bias."""
    ours = getattr(nn, cls_name)(3, **kwargs).double()
    theirs = getattr(torch.nn, cls_name)(3, **kwargs).double()
    rng = np.random.default_rng(0)
    weight, bias = rng.uniform(0.5, 1.5, 3), rng.uniform(-1, 1, 3)
    ours.weight.data[...] = weight
    ours.bias.data[...] = bias
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
        theirs.bias.copy_(torch.tensor(bias))
    return ours, theirs


@needs_torch
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.3}, {"momentum": None}, {"track_running_stats": False}],
    ids=["default", "momentum_0.3", "cumulative", "no_running_stats"],
)
@pytest.mark.parametrize("cls_name,shape", [("BatchNorm2d", (6, 3, 4, 4)), ("BatchNorm1d", (8, 3))])
def test_batch_norm_layer_train_then_eval_matches_torch(cls_name, shape, kwargs):
    """Three training steps (batch statistics; the running ones updated, with the unbiased
    variance), then eval mode (running statistics): outputs, gradients, buffers as torch."""
    ours, theirs = _pair_of_bn(cls_name, **kwargs)
    rng = np.random.default_rng(2)
    for step in range(4):
        training = step < 3
        ours.train(training)
        theirs.train(training)
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        xe, xt = E.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = ours(xe), theirs(xt)
        np.testing.assert_allclose(ye.data, yt.detach().numpy(), atol=1e-10)
        ye.backward(g)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xe.grad.data, xt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-10)
        ours.zero_grad()
        theirs.zero_grad()
        state, expected = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(expected)
        for key in state:
            np.testing.assert_allclose(state[key].data, expected[key].numpy(), atol=1e-12)


def test_batch_norm_refuses_a_single_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(E.Tensor(np.ones((1, 3))))


def test_batch_norm_eval_does_not_touch_the_running_statistics():
    bn = nn.BatchNorm2d(2).eval()
    bn(E.Tensor(np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32)))
    np.testing.assert_array_equal(bn.running_mean.data, 0)
    np.testing.assert_array_equal(bn.running_var.data, 1)
    assert int(bn.num_batches_tracked.data) == 0


# ---- layers: initialisation, shapes, errors ---------------------------------------------------


def test_conv2d_layer_is_initialised_like_torch():
    """kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the
    same bound. Checked by the bound and by the variance of a large layer (b^2 / 3)."""
    E.manual_seed(0)
    conv = nn.Conv2d(16, 64, 3, groups=2)
    fan_in = 8 * 3 * 3
    bound = 1 / math.sqrt(fan_in)
    assert conv.weight.shape == (64, 8, 3, 3) and conv.bias.shape == (64,)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert conv.weight.data.var() == pytest.approx(bound**2 / 3, rel=0.1)
    assert conv.weight.dtype == np.float32
    assert nn.Conv2d(3, 4, 3, bias=False).bias is None


@needs_torch
def test_layers_have_torchs_parameter_and_buffer_names():
    pairs = [
        (nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1)),
        (nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)),
        (nn.BatchNorm1d(4, affine=False), torch.nn.BatchNorm1d(4, affine=False)),
    ]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for (k, v), tv in zip(ours.state_dict().items(), theirs.state_dict().values()):
            assert v.shape == tuple(tv.shape), k


def test_layer_shapes_through_a_small_network():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),  # 32 -> 16
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 16 -> 8
        nn.AvgPool2d(3, stride=1, padding=1),  # 8 -> 8
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    x = E.Tensor(np.zeros((5, 3, 32, 32), dtype=np.float32), requires_grad=True)
    out = model(x)
    assert out.shape == (5, 10) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == x.shape and model[0].weight.grad.dtype == np.float32


def test_clear_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match="3 channels.*in_channels|in_channels"):
        conv(E.Tensor(np.zeros((1, 1, 8, 8), dtype=np.float32)))
    with pytest.raises(RuntimeError, match="larger than the padded input"):
        conv(E.Tensor(np.zeros((1, 3, 2, 2), dtype=np.float32)))
    with pytest.raises(RuntimeError, match=r"\(N, C, H, W\)"):
        conv(E.Tensor(np.zeros((3, 8, 8), dtype=np.float32)))
    with pytest.raises(RuntimeError, match="at most half"):
        F.max_pool2d(E.Tensor(np.zeros((1, 1, 4, 4))), 2, padding=2)
    with pytest.raises(RuntimeError, match="channels"):
        nn.BatchNorm2d(4)(E.Tensor(np.zeros((2, 3, 2, 2))))
    with pytest.raises(NotImplementedError, match="dilation"):
        nn.Conv2d(3, 4, 3, dilation=2)


# ---- models: the CNNs, written once for both engines --------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "arch,shape,kwargs",
    [
        ("lenet", (1, 28, 28), {"channels": [8, 16], "batch_norm": True, "dropout": 0.5}),
        ("lenet", (3, 32, 32), {"channels": [4, 8, 8], "kernel_size": 5}),
        ("resnet", (3, 32, 32), {"channels": [4, 8, 8, 16]}),
        ("speedrun", (1, 28, 28), {"channels": [6, 8], "hidden": 16}),
    ],
    ids=["lenet_bn", "lenet_5x5_colour", "resnet", "speedrun"],
)
def test_cnn_models_match_torch_forward_and_backward(arch, shape, kwargs):
    from gradschool.models import cnn

    ours = cnn(nn, arch, shape, 10, **kwargs).double().eval()
    theirs = cnn(torch.nn, arch, shape, 10, **kwargs).double().eval()
    state = {k: v.data for k, v in ours.state_dict().items()}
    assert list(state) == list(theirs.state_dict())  # same layers, same names, same order
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal((3, *shape))
    for mode in ("eval", "train"):
        if mode == "train":  # batch statistics (dropout off: its random masks differ)
            for m in (ours, theirs):
                m.train()
                for sub in m.modules():
                    if type(sub).__name__ == "Dropout":
                        sub.eval()
        xe, xt = E.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = ours(xe), theirs(xt)
        np.testing.assert_allclose(ye.data, yt.detach().numpy(), atol=1e-9, err_msg=mode)
        (ye * ye).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(xe.grad.data, xt.grad.numpy(), atol=1e-8, err_msg=mode)
        first = next(iter(ours.parameters()))
        np.testing.assert_allclose(
            first.grad.data, next(iter(theirs.parameters())).grad.numpy(), atol=1e-8
        )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_relu_after_the_pool_is_the_same_function_and_gradient(activation):
    """lenet and speedrun pool before a ReLU (a quarter of the values to activate): on images
    full of ties (a constant background, zeros after the conv), the same outputs and input,
    weight and bias gradients as activating first. Other activations keep their place."""
    from op_check import tie_heavy

    from gradschool.models import cnn

    model = cnn(nn, "lenet", (1, 8, 8), 3, [4, 4], 3, 8, False, 0.0, activation).double()
    kinds = [type(m).__name__ for m in model]
    expected = ["MaxPool2d", "ReLU"] if activation == "relu" else ["Tanh", "MaxPool2d"]
    assert kinds[1:3] == expected
    if activation != "relu":
        return
    swapped = nn.Sequential(*(model[i] for i in (0, 2, 1, 3, 5, 4, 6, 7, 8, 9)))  # ReLU first
    x = tie_heavy((5, 1, 8, 8), seed=1)
    grads = []
    for net in (model, swapped):
        net.zero_grad()
        xe = E.Tensor(x.copy(), requires_grad=True)
        out = net(xe)
        (out * out).sum().backward()
        grads.append((out.data, xe.grad.data, [p.grad.data.copy() for p in net.parameters()]))
    (o1, gx1, gp1), (o2, gx2, gp2) = grads
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(gx1, gx2)
    for a, b in zip(gp1, gp2):
        np.testing.assert_array_equal(a, b)


def test_speedrun_arch_shapes_and_errors():
    from gradschool.models import cnn, count_parameters

    model = cnn(nn, "speedrun", (1, 28, 28), 10, [24, 32], hidden=256)
    assert model(E.Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))).shape == (2, 10)
    assert count_parameters(model) == 215_194  # tuomaso/train_mnist_fast's network
    with pytest.raises(ConfigError, match="2 widths"):
        cnn(nn, "speedrun", (1, 28, 28), 10, [8, 8, 8])
    assert cnn(nn, "speedrun", (1, 12, 12), 3, [2, 2], hidden=4)(
        E.Tensor(np.zeros((1, 1, 12, 12)))
    ).shape == (1, 3)  # the smallest image it takes
    with pytest.raises(ConfigError, match="12x12"):
        cnn(nn, "speedrun", (1, 11, 11), 10, [8, 8])


def test_build_model_checks_the_data_shape():
    from gradschool.config import Config, with_updates
    from gradschool.errors import ConfigError
    from gradschool.models import build_model

    config = with_updates(Config(), {"model.name": "cnn"})
    model = build_model(nn, config.model, (1, 28, 28), 10)
    assert model(E.Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))).shape == (2, 10)
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        build_model(nn, config.model, (784,), 10)
    resnet = with_updates(config, {"model.arch": "resnet"})
    with pytest.raises(ConfigError, match="exactly 4"):
        build_model(nn, resnet.model, (3, 32, 32), 10)
    with pytest.raises(ConfigError, match="odd"):
        build_model(nn, with_updates(config, {"kernel_size": 4}).model, (1, 28, 28), 10)


# ---- training parity: one loop, two engines, the same losses --------------------------------


@needs_torch
def test_cnn_trains_to_the_same_losses_on_both_engines_for_20_steps():
    """The LeNet-style CNN with batch norm and shift augmentation, trained through the one
    training loop on each engine from the same initial weights: 20 batch losses agree within
    1e-4 (relative; float32 on both)."""
    from gradschool.config import Config, with_updates
    from gradschool.train.callbacks import Callback
    from gradschool.train.trainer import Trainer

    class Losses(Callback):
        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_batch_end(self, trainer, loss) -> None:
            self.losses.append(float(loss.item()))

    torch.set_num_threads(1)
    config = with_updates(
        Config(),
        {
            "model.name": "cnn",
            "channels": [8, 16],
            "hidden": 32,
            "batch_norm": True,
            "augment": ["shift:2"],
            "train_subset": 640,
            "batch_size": 32,
            # NOTE: a moderate rate: float32 rounding differs between the engines (im2col + BLAS
            # vs torch's conv kernels, ~1e-7), and a large rate amplifies it step by step.
            "lr": 0.01,
            "max_steps": 20,
            "progress": "off",
        },
    )
    rec_np, rec_torch = Losses(), Losses()
    trainer_np = Trainer(config, callbacks=[rec_np], console=False)
    trainer_torch = Trainer(with_updates(config, {"engine": "torch"}), data=trainer_np.data,
                            callbacks=[rec_torch], console=False)  # fmt: skip
    weights = trainer_np.backend.state_to_numpy(trainer_np.model.state_dict())
    trainer_torch.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    trainer_np.fit()
    trainer_torch.fit()
    assert len(rec_np.losses) == 20
    np.testing.assert_allclose(rec_np.losses, rec_torch.losses, rtol=1e-4)
    # and the running statistics of batch norm followed the same path
    bn_np = trainer_np.backend.state_to_numpy(trainer_np.model.state_dict())["1.running_var"]
    bn_torch = trainer_torch.model.state_dict()["1.running_var"].numpy()
    np.testing.assert_allclose(bn_np, bn_torch, rtol=1e-4)
