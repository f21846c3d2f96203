"""Optimizers and schedulers, tested by trajectory (tinygrad's test_optim): from the same
float64 weights, k steps beside torch.optim / torch.optim.lr_scheduler give the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optim_twins import param_groups, run_twins, twin_mlps

from gradschool import engine as E
from gradschool.engine import nn

STEPS = 20


def _run(torch, options, groups=None, reload_at=None):
    return run_twins(torch, "SGD", options, STEPS, groups=groups, reload_at=reload_at)


SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.1, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "weight_decay_momentum": dict(lr=0.1, momentum=0.5, weight_decay=0.05),
    "maximize": dict(lr=0.01, momentum=0.5, maximize=True),
    "maximize_weight_decay": dict(lr=0.01, maximize=True, weight_decay=0.1),
}


@pytest.mark.parametrize("name", SGD_CASES)
def test_sgd_trajectory_equals_torch(name):
    torch = pytest.importorskip("torch")
    _run(torch, SGD_CASES[name])


def test_sgd_two_param_groups_with_different_lrs():
    torch = pytest.importorskip("torch")
    groups = [(0, dict(lr=0.3)), (2, dict(lr=0.01, momentum=0.8))]
    _run(torch, dict(lr=0.1, momentum=0.9), groups=groups)


@pytest.mark.parametrize("options", [dict(lr=0.1, momentum=0.9), dict(lr=0.1)], ids=["m", "p"])
def test_sgd_state_dict_save_and_load_mid_way(options):
    torch = pytest.importorskip("torch")
    groups = [(0, dict(lr=0.2)), (2, dict(nesterov=True))]
    _run(torch, dict(options, momentum=0.9), groups=groups, reload_at=STEPS // 2)
    _run(torch, options, reload_at=STEPS // 2)


def test_optimizer_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    groups = [(0, dict(lr=0.3)), (2, dict(lr=0.01))]
    opt, t_opt = _run(torch, dict(lr=0.1, momentum=0.9), groups=groups)
    state, t_state = opt.state_dict(), t_opt.state_dict()
    assert set(state) == set(t_state) == {"state", "param_groups"}
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["params"] for g in state["param_groups"]] == [
        g["params"] for g in t_state["param_groups"]
    ]
    for g, tg in zip(state["param_groups"], t_state["param_groups"]):
        assert set(g) <= set(tg)  # torch adds foreach/fused/differentiable
        assert all(g[k] == tg[k] for k in g)
    assert sorted(state["state"]) == sorted(t_state["state"]) == [0, 1, 2, 3]
    for i, s in state["state"].items():
        assert set(s) == set(t_state["state"][i]) == {"momentum_buffer"}
        np.testing.assert_allclose(s["momentum_buffer"], t_state["state"][i]["momentum_buffer"])
    # A torch optimizer's state (its tensors as arrays) loads into the engine's.
    ours, _, _ = twin_mlps(torch, STEPS)
    fresh = E.optim.SGD(param_groups(ours, groups), lr=1.0)
    arrays = {i: {k: v.numpy() for k, v in s.items()} for i, s in t_state["state"].items()}
    fresh.load_state_dict({"state": arrays, "param_groups": t_state["param_groups"]})
    assert [g["lr"] for g in fresh.param_groups] == [0.3, 0.01]
    buf = fresh.state[id(list(ours.parameters())[0])]["momentum_buffer"]
    np.testing.assert_allclose(buf, state["state"][0]["momentum_buffer"])


def test_optimizer_state_dict_is_a_copy_and_rejects_another_model():
    model = nn.Linear(3, 2)
    opt = E.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(E.ones(4, 3)).sum().backward()
    opt.step()
    state = opt.state_dict()
    state["state"][0]["momentum_buffer"][...] = 7.0
    assert not np.any(opt.state[id(model.weight)]["momentum_buffer"] == 7.0)
    other = E.optim.SGD(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups or parameters"):
        other.load_state_dict(state)


def test_sgd_leaves_the_gradient_untouched_and_skips_params_without_grad():
    a = E.tensor(np.ones(3), requires_grad=True)
    b = E.tensor(np.ones(3), requires_grad=True)
    opt = E.optim.SGD([a, b], lr=0.5, weight_decay=0.1, momentum=0.9)
    (a * 2).sum().backward()
    grad_before = a.grad.data.copy()
    opt.step()
    np.testing.assert_array_equal(a.grad.data, grad_before)
    np.testing.assert_allclose(a.data, 1 - 0.5 * (2 + 0.1))
    np.testing.assert_array_equal(b.data, 1.0)  # no grad: not updated, not decayed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-1.0), "Invalid learning rate"),
        (dict(lr=0.1, momentum=-0.5), "Invalid momentum"),
        (dict(lr=0.1, weight_decay=-1.0), "Invalid weight_decay"),
        (dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1), "zero dampening"),
    ],
)
def test_sgd_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E.optim.SGD(nn.Linear(2, 2).parameters(), **kwargs)


def test_optimizer_rejects_empty_and_duplicated_parameters():
    with pytest.raises(ValueError, match="empty parameter list"):
        E.optim.SGD([], lr=0.1)
    layer = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="more than one parameter group"):
        E.optim.SGD([{"params": [layer.weight]}, {"params": [layer.weight]}], lr=0.1)


# ---- schedulers -------------------------------------------------------------------------------


def _schedule_pair(torch, make, make_torch=None):
    params = [E.tensor(np.ones(2), requires_grad=True), E.tensor(np.ones(2), requires_grad=True)]
    t_params = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))]
    opt = E.optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1)
    t_opt = torch.optim.SGD(
        [{"params": [t_params[0]]}, {"params": [t_params[1]], "lr": 0.5}], lr=0.1
    )
    sched = make(E.optim.lr_scheduler, opt)
    t_sched = (make_torch or make)(torch.optim.lr_scheduler, t_opt)
    assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
    for step in range(50):
        opt.step()
        t_opt.step()
        sched.step()
        t_sched.step()
        lrs = [g["lr"] for g in opt.param_groups]
        t_lrs = [g["lr"] for g in t_opt.param_groups]
        assert lrs == pytest.approx(t_lrs, rel=1e-12, abs=0), f"step {step}"
        assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        assert sched.last_epoch == t_sched.last_epoch
    return sched, t_sched


@pytest.mark.parametrize("step_size, gamma", [(7, 0.5), (1, 0.9), (10, 0.1)])
def test_step_lr_equals_torch_for_50_steps(step_size, gamma):
    torch = pytest.importorskip("torch")
    _schedule_pair(torch, lambda s, o: s.StepLR(o, step_size=step_size, gamma=gamma))


@pytest.mark.parametrize(
    "fn",
    [lambda t: 0.95**t, lambda t: 1 / (t + 1), lambda t: min(1.0, (t + 1) / 10)],
    ids=["exponential", "inverse", "warmup"],
)
def test_lambda_lr_equals_torch_for_50_steps(fn):
    torch = pytest.importorskip("torch")
    _schedule_pair(torch, lambda s, o: s.LambdaLR(o, lr_lambda=fn))


def test_step_lr_closed_form_without_torch():
    opt = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=1.0)
    sched = E.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    seen = []
    for _ in range(9):
        seen.append(opt.param_groups[0]["lr"])
        sched.step()
    assert seen == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_scheduler_state_dict_round_trip():
    opt = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=1.0)
    sched = E.optim.lr_scheduler.LambdaLR(opt, lambda t: math.exp(-t))
    for _ in range(5):
        sched.step()
    state = sched.state_dict()
    assert "lr_lambda" not in state and state["last_epoch"] == 5
    opt2 = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=1.0)
    sched2 = E.optim.lr_scheduler.LambdaLR(opt2, lambda t: math.exp(-t))
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == pytest.approx(math.exp(-6))
