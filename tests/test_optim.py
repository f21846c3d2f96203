"""Every optimizer of the NumPy engine, tested by trajectory beside `torch.optim` (house style 4).

From the same float64 weights and the same batches, 50 steps of ours and 50 of torch's must
give the same weights at every step to 1e-10, for each option that changes the arithmetic,
with parameter groups, and across a state_dict save / load in the middle of the run.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from optim_twins import param_groups, run_twins, twin_mlps

from gradschool import engine as E
from gradschool.engine import nn

STEPS = 50
NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

CASES = {
    "SGD": {
        "momentum_nesterov_wd": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        "maximize": dict(lr=0.01, momentum=0.5, maximize=True),
    },
    "Adagrad": {
        "default": dict(),
        "lr_decay": dict(lr=0.1, lr_decay=0.05),
        "weight_decay": dict(lr=0.1, weight_decay=0.1),
        "initial_accumulator": dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6),
        "maximize": dict(lr=0.05, maximize=True, weight_decay=0.01),
    },
    "RMSprop": {
        "default": dict(),
        "alpha_eps": dict(lr=0.005, alpha=0.9, eps=1e-6),
        "momentum": dict(lr=0.005, momentum=0.9),
        "centered": dict(lr=0.005, centered=True),
        "centered_momentum_wd": dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1),
        "maximize": dict(lr=0.001, maximize=True, momentum=0.3),
    },
    "Adam": {
        "default": dict(),
        "lr_betas_eps": dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
        "amsgrad": dict(lr=0.02, amsgrad=True),
        "weight_decay": dict(lr=0.02, weight_decay=0.1),
        "amsgrad_weight_decay": dict(lr=0.02, amsgrad=True, weight_decay=0.1),
        "decoupled": dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
        "maximize": dict(lr=0.005, maximize=True, amsgrad=True),
    },
    "AdamW": {
        "default": dict(),
        "weight_decay": dict(lr=0.02, weight_decay=0.3),
        "amsgrad": dict(lr=0.02, amsgrad=True, betas=(0.5, 0.9)),
        "maximize": dict(lr=0.005, maximize=True),
    },
}


def _run(torch, name, options, groups=None, reload_at=None):
    return run_twins(torch, name, options, STEPS, groups=groups, reload_at=reload_at)


@pytest.mark.parametrize(
    "name, case",
    [pytest.param(name, case, id=f"{name}-{case}") for name in CASES for case in CASES[name]],
)
def test_trajectory_equals_torch(name, case):
    torch = pytest.importorskip("torch")
    _run(torch, name, CASES[name][case])


GROUPS = {
    "SGD": [(0, dict(lr=0.3)), (2, dict(lr=0.01, momentum=0.8))],
    "Adagrad": [(0, dict(lr=0.3, lr_decay=0.1)), (2, dict(lr=0.01))],
    "RMSprop": [(0, dict(lr=0.001, centered=True)), (2, dict(momentum=0.9))],
    "Adam": [(0, dict(lr=0.05, amsgrad=True)), (2, dict(betas=(0.5, 0.6), weight_decay=0.1))],
    "AdamW": [(0, dict(lr=0.05)), (2, dict(weight_decay=0.0, amsgrad=True))],
}
BASE = {
    "SGD": dict(lr=0.1, momentum=0.9),
    "Adagrad": dict(lr=0.1),
    "RMSprop": dict(lr=0.005),
    "Adam": dict(lr=0.01),
    "AdamW": dict(lr=0.01),
}


@pytest.mark.parametrize("name", NAMES)
def test_parameter_groups_with_their_own_settings(name):
    torch = pytest.importorskip("torch")
    _run(torch, name, BASE[name], groups=GROUPS[name])


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_save_and_load_mid_way(name):
    torch = pytest.importorskip("torch")
    _run(torch, name, BASE[name], groups=GROUPS[name], reload_at=STEPS // 2)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_layout_matches_torch(name):
    torch = pytest.importorskip("torch")
    opt, t_opt = _run(torch, name, BASE[name], groups=GROUPS[name])
    state, t_state = opt.state_dict(), t_opt.state_dict()
    assert set(state) == set(t_state) == {"state", "param_groups"}
    for g, tg in zip(state["param_groups"], t_state["param_groups"]):
        assert g["params"] == tg["params"]
        assert set(g) <= set(tg)  # torch adds foreach / fused / capturable / differentiable
        assert all(g[k] == tg[k] for k in g)
    assert sorted(state["state"]) == sorted(t_state["state"])
    for i, s in state["state"].items():
        t_s = t_state["state"][i]
        assert set(s) == set(t_s)
        for key, value in s.items():
            np.testing.assert_allclose(value, t_s[key].numpy(), atol=1e-10, rtol=0)
    # A torch optimizer's state (as NumPy arrays) loads into ours.
    ours, _, _ = twin_mlps(torch, STEPS)
    fresh = getattr(E.optim, name)(param_groups(ours, GROUPS[name]), lr=1.0)
    arrays = {i: {k: v.numpy() for k, v in s.items()} for i, s in t_state["state"].items()}
    fresh.load_state_dict({"state": arrays, "param_groups": t_state["param_groups"]})
    assert [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in opt.param_groups]


def test_adagrad_creates_its_state_at_construction_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs, _ = twin_mlps(torch, STEPS)
    opt = E.optim.Adagrad(ours.parameters(), initial_accumulator_value=0.25)
    t_opt = torch.optim.Adagrad(theirs.parameters(), initial_accumulator_value=0.25)
    state, t_state = opt.state_dict()["state"], t_opt.state_dict()["state"]
    assert sorted(state) == sorted(t_state) == [0, 1, 2, 3]
    assert all(np.all(s["sum"] == 0.25) and s["step"] == 0 for s in state.values())


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_torchs(name):
    torch = pytest.importorskip("torch")
    ours = inspect.signature(getattr(E.optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    # foreach / fused / capturable / differentiable are about kernels, not the arithmetic.
    skip = {"params", "foreach", "fused", "capturable", "differentiable"}
    assert set(ours) - skip == set(theirs) - skip - (
        {"decoupled_weight_decay"} if name == "AdamW" else set()
    )
    for key in set(ours) - skip:
        assert ours[key].default == theirs[key].default, key


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("Adagrad", dict(lr=-1.0), "Invalid learning rate: -1.0"),
        ("Adagrad", dict(lr_decay=-1.0), "Invalid lr_decay value"),
        ("Adagrad", dict(initial_accumulator_value=-1.0), "Invalid initial_accumulator_value"),
        ("Adagrad", dict(eps=-1.0), "Invalid epsilon value"),
        ("RMSprop", dict(alpha=-0.1), "Invalid alpha value"),
        ("RMSprop", dict(momentum=-0.1), "Invalid momentum value"),
        ("RMSprop", dict(weight_decay=-0.1), "Invalid weight_decay value"),
        ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
        ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
        ("AdamW", dict(eps=-1.0), "Invalid epsilon value"),
    ],
)
def test_bad_hyperparameters_raise_torchs_message(name, kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=message):
        getattr(E.optim, name)(nn.Linear(2, 2).parameters(), **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)(torch.nn.Linear(2, 2).parameters(), **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_float32_weights_stay_float32_and_grads_untouched(name):
    model = nn.Linear(4, 3)
    opt = getattr(E.optim, name)(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(E.ones(2, 4)).sum().backward()
        grad = model.weight.grad.data.copy()
        opt.step()
        np.testing.assert_array_equal(model.weight.grad.data, grad)
    assert model.weight.data.dtype == np.float32 and model.bias.data.dtype == np.float32
    for state in opt.state.values():
        for value in state.values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


def test_adam_first_step_is_lr_times_sign_of_the_gradient():
    # Bias correction in action: after one step m_hat = g and v_hat = g^2, so the step is
    # lr * g / (|g| + eps), about lr in size for every weight (without torch: a closed form).
    p = E.tensor(np.array([0.5, -2.0, 3.0]), requires_grad=True)
    opt = E.optim.Adam([p], lr=0.1)
    (p * E.tensor(np.array([1e-3, -5.0, 40.0]))).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [0.5 - 0.1, -2.0 + 0.1, 3.0 - 0.1], atol=1e-6)


def test_adamw_decays_weights_without_a_gradient_term():
    # With a zero gradient, Adam's L2 term would be divided by sqrt(v); AdamW just shrinks.
    p = E.tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = E.optim.AdamW([p], lr=0.1, weight_decay=0.5)
    (p * 0.0).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, np.array([2.0, -4.0]) * (1 - 0.1 * 0.5))
