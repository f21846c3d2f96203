"""nn: initialisation, parameter registration and naming, state dicts, modes, and a whole MLP
beside torch (same weights in, same logits and gradients out, float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_check import HAS_TORCH, check_op

from gradschool import engine as E
from gradschool.engine import nn


def engine_net():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Sequential(nn.Linear(8, 6), nn.Tanh()),
        nn.Linear(6, 3, bias=False),
    )


def torch_net(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Flatten(),
        tnn.Linear(12, 8),
        tnn.ReLU(),
        tnn.Dropout(0.1),
        tnn.Sequential(tnn.Linear(8, 6), tnn.Tanh()),
        tnn.Linear(6, 3, bias=False),
    )


def two_layer(nn_=nn):
    """A custom Module written once against either engine's nn (attributes set in order)."""

    class TwoLayer(nn_.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn_.Linear(4, 5)
            self.act = nn_.ReLU()
            self.fc2 = nn_.Linear(5, 2)
            self.fc2.extra = nn_.Linear(2, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    return TwoLayer()


# ---- Linear's default initialisation ------------------------------------------------------------


@pytest.mark.parametrize("fan_in, fan_out", [(50, 30), (3, 200)])
def test_linear_init_has_torchs_bounds(fan_in, fan_out):
    E.manual_seed(0)
    layer = nn.Linear(fan_in, fan_out)
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert np.all(np.abs(p.data) <= bound)
        assert p.dtype == np.float32 and p.requires_grad
    w = layer.weight.data
    # U(-b, b): reaches near both bounds, mean ~0, std b / sqrt(3)
    assert w.max() > 0.9 * bound and w.min() < -0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert layer.weight.shape == (fan_out, fan_in) and layer.bias.shape == (fan_out,)
    if HAS_TORCH:
        import torch

        t = torch.nn.Linear(fan_in, fan_out)
        assert t.weight.abs().max().item() <= bound
        assert abs(t.weight.std().item() - w.std()) < 0.1 * bound


def test_manual_seed_makes_initialisation_repeatable():
    E.manual_seed(123)
    a = engine_net()
    E.manual_seed(123)
    b = engine_net()
    c = engine_net()
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
        assert not np.array_equal(pa.data, pc.data)


# ---- parameters and names, as torch -----------------------------------------------------------


def test_parameter_order_and_names_equal_torchs():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(engine_net(), torch_net(torch)), (two_layer(), two_layer(torch.nn))]:
        names = [n for n, _ in ours.named_parameters()]
        assert names == [n for n, _ in theirs.named_parameters()]
        shapes = [tuple(p.shape) for p in ours.parameters()]
        assert shapes == [tuple(p.shape) for p in theirs.parameters()]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
        assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_state_dict_keys_without_torch():
    assert list(engine_net().state_dict()) == [
        "1.weight",
        "1.bias",
        "4.0.weight",
        "4.0.bias",
        "5.weight",
    ]
    assert [n for n, _ in two_layer().named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc2.extra.weight",
        "fc2.extra.bias",
    ]


def test_a_shared_parameter_is_listed_once_and_module_lists_register():
    a = nn.Linear(3, 3)
    model = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(model.parameters())) == 2
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    assert [n for n, _ in blocks.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(blocks) == 2 and blocks[1] is list(blocks)[1]


def test_state_dict_shares_memory_and_round_trips_through_torch():
    torch = pytest.importorskip("torch")
    E.manual_seed(1)
    ours = engine_net().double()
    sd = ours.state_dict()
    assert np.shares_memory(sd["1.weight"].data, ours[1].weight.data)
    theirs = torch_net(torch).double()
    theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in sd.items()})
    again = engine_net().double()
    missing, unexpected = again.load_state_dict(theirs.state_dict())
    assert missing == [] and unexpected == []
    for (name, p), q in zip(ours.named_parameters(), again.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    # NumPy arrays load too, and loading copies (the model does not alias the checkpoint)
    arrays = {k: v.data.copy() for k, v in sd.items()}
    again.load_state_dict(arrays)
    arrays["1.bias"][0] = 99.0
    assert again[1].bias.data[0] != 99.0


def test_load_state_dict_errors_on_missing_unexpected_and_shape_mismatch():
    model = engine_net()
    sd = {k: v.data.copy() for k, v in model.state_dict().items()}
    missing = dict(sd)
    del missing["4.0.bias"]
    with pytest.raises(RuntimeError, match=r"missing keys \['4\.0\.bias'\]"):
        model.load_state_dict(missing)
    extra = dict(sd, **{"9.weight": np.zeros(3)})
    with pytest.raises(RuntimeError, match=r"unexpected keys \['9\.weight'\]"):
        model.load_state_dict(extra)
    assert model.load_state_dict(missing, strict=False) == (["4.0.bias"], [])
    assert model.load_state_dict(extra, strict=False) == ([], ["9.weight"])
    wrong = dict(sd, **{"1.weight": np.zeros((8, 13))})
    with pytest.raises(RuntimeError, match=r"size mismatch for 1\.weight.*\(8, 13\).*\(8, 12\)"):
        model.load_state_dict(wrong)


def test_reassigning_attributes_keeps_the_registries_right():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    layer.bias = nn.Parameter(np.zeros(2, dtype=np.float32))  # was a plain None before
    assert layer.bias is layer._parameters["bias"]
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(layer(E.ones(1, 3)).data, layer.weight.data.sum(1)[None])

    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("running_mean", E.zeros(2))

    m = WithBuffer()
    m.running_mean = E.ones(2)  # a registered buffer stays a buffer, as in torch
    assert list(m.state_dict()) == ["running_mean"]
    np.testing.assert_array_equal(m.state_dict()["running_mean"].data, 1.0)
    m.running_mean = nn.Parameter(np.ones(2))  # a Parameter takes the name over
    assert list(m.named_parameters())[0][0] == "running_mean" and not list(m.buffers())


def test_apply_visits_children_first_in_torchs_order():
    def visit(model, nn_):
        seen = []
        model.apply(lambda m: seen.append(type(m).__name__) if isinstance(m, nn_.Module) else 0)
        return seen

    seen = visit(engine_net(), nn)
    assert seen[0] == "Flatten" and seen[-1] == "Sequential" and seen[-2] == "Linear"
    if HAS_TORCH:
        import torch

        assert seen == visit(torch_net(torch), torch.nn)


def test_train_and_eval_toggle_training_recursively():
    model = engine_net()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert not model[4][1].training
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not model[3].training


def test_dropout_layer_follows_the_mode():
    E.manual_seed(0)
    layer = nn.Dropout(0.5)
    x = E.ones(100, 10)
    assert np.any(layer(x).data == 0)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, 1.0)


def test_module_dtype_conversion_and_requires_grad():
    model = engine_net()
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    y = model(E.tensor(np.ones((2, 3, 4))))
    assert not y.requires_grad
    assert "Linear(in_features=12, out_features=8, bias=True)" in repr(model)


def test_linear_module_equals_torch_with_copied_weights():
    layer = nn.Linear(4, 3, dtype=np.float64)
    w, b = layer.weight.data.copy(), layer.bias.data.copy()
    check_op([(5, 4), w, b], lambda x, w_, b_: E.nn.functional.linear(x, w_, b_))
    out = layer(E.tensor(np.ones((2, 4))))
    np.testing.assert_allclose(out.data, np.ones((2, 4)) @ w.T + b)


# ---- a whole MLP, beside torch --------------------------------------------------------------


def test_mlp_784_128_64_10_same_logits_and_gradients_as_torch_in_float64():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Flatten(),
        tnn.Linear(784, 128),
        tnn.ReLU(),
        tnn.Linear(128, 64),
        tnn.ReLU(),
        tnn.Linear(64, 10),
    ).double()
    ours = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 1, 28, 28))
    y = rng.integers(0, 10, 16)

    logits = ours(E.tensor(X))
    loss = E.nn.functional.cross_entropy(logits, E.tensor(y))
    loss.backward()
    t_logits = theirs(torch.from_numpy(X))
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()

    assert logits.dtype == np.float64 and logits.shape == (16, 10)
    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(loss.item(), t_loss.item(), atol=1e-10, rtol=0)
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == np.float64
        np.testing.assert_allclose(
            p.grad.data, t_params[name].grad.numpy(), atol=1e-10, rtol=0, err_msg=name
        )
