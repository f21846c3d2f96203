"""Learning-rate schedules: the engine's beside torch's for 200 steps, the closed forms where
torch has no class, the same rates on both engines from one config, and the trainer's use of
them (per batch, per epoch, reduce-on-plateau with a validation metric, resume)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradschool import engine as E
from gradschool.config import Config, with_updates
from gradschool.errors import ConfigError
from gradschool.train.builders import SCHEDULES, schedule_lrs

STEPS = 200
REL = 1e-10  # torch steps most schedules recursively; ours is the closed form


def _optimizers(torch, name="SGD", **options):
    """Two parameter groups with their own rates, on both engines."""
    torch.set_num_threads(1)
    ours = [E.tensor(np.ones(2), requires_grad=True) for _ in range(2)]
    theirs = [torch.nn.Parameter(torch.ones(2, dtype=torch.float64)) for _ in range(2)]
    opt = getattr(E.optim, name)(
        [{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.5}], **options
    )
    t_opt = getattr(torch.optim, name)(
        [{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.5}], **options
    )
    return opt, t_opt


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _same(ours, theirs, where):
    assert ours == pytest.approx(theirs, rel=REL, abs=1e-15), where


def _run_pair(torch, make, steps=STEPS, metrics=None, name="SGD", **options):
    """Build with `make(lr_scheduler_module, optimizer)` on both engines; step both `steps`
    times, comparing the rates (and momentum / betas, which OneCycleLR moves) at every step."""
    opt, t_opt = _optimizers(torch, name, lr=0.1, **options)
    sched, t_sched = make(E.optim.lr_scheduler, opt), make(torch.optim.lr_scheduler, t_opt)
    seen = []
    for t in range(steps):
        _same(_lrs(opt), _lrs(t_opt), f"step {t}")
        _same(sched.get_last_lr(), t_sched.get_last_lr(), f"step {t}")
        for key in ("momentum", "betas"):
            if key in opt.param_groups[0]:
                ours = [np.ravel(g[key]).tolist() for g in opt.param_groups]
                theirs = [np.ravel(g[key]).tolist() for g in t_opt.param_groups]
                assert np.allclose(ours, theirs, rtol=REL, atol=1e-15), f"{key}, step {t}"
        seen.append(_lrs(opt)[0])
        opt.step()
        t_opt.step()
        if metrics is None:
            sched.step()
            t_sched.step()
        else:
            sched.step(metrics[t])
            t_sched.step(metrics[t])
        assert sched.last_epoch == t_sched.last_epoch
    return seen


TORCH_SCHEDULES = {
    "StepLR": lambda S, o: S.StepLR(o, step_size=30, gamma=0.5),
    "MultiStepLR": lambda S, o: S.MultiStepLR(o, milestones=[20, 50, 50, 120], gamma=0.3),
    "ConstantLR": lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=40),
    "LinearLR-warmup": lambda S, o: S.LinearLR(o, start_factor=0.05, total_iters=60),
    "LinearLR-decay": lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=150),
    "ExponentialLR": lambda S, o: S.ExponentialLR(o, gamma=0.98),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=150, power=2.0),
    "CosineAnnealingLR": lambda S, o: S.CosineAnnealingLR(o, T_max=200),
    "CosineAnnealingLR-eta_min-restart": lambda S, o: S.CosineAnnealingLR(
        o, T_max=70, eta_min=0.01
    ),
    "LambdaLR": lambda S, o: S.LambdaLR(o, lr_lambda=lambda t: 1 / (1 + 0.1 * t)),
    "SequentialLR-warmup-cosine": lambda S, o: S.SequentialLR(
        o,
        [S.LinearLR(o, start_factor=0.1, total_iters=20), S.CosineAnnealingLR(o, T_max=180)],
        milestones=[20],
    ),
    "SequentialLR-three": lambda S, o: S.SequentialLR(
        o,
        [
            S.ConstantLR(o, factor=0.5, total_iters=10),
            S.ExponentialLR(o, gamma=0.97),
            S.StepLR(o, step_size=25, gamma=0.5),
        ],
        milestones=[15, 90],
    ),
    "OneCycleLR-cos": lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=STEPS),
    "OneCycleLR-linear-three-phase": lambda S, o: S.OneCycleLR(
        o,
        max_lr=0.8,
        total_steps=STEPS,
        anneal_strategy="linear",
        three_phase=True,
        pct_start=0.25,
        div_factor=10.0,
        final_div_factor=100.0,
    ),  # fmt: skip
    "OneCycleLR-no-momentum": lambda S, o: S.OneCycleLR(
        o, max_lr=0.5, epochs=10, steps_per_epoch=20, cycle_momentum=False
    ),
}


@pytest.mark.parametrize("name", TORCH_SCHEDULES)
def test_schedule_equals_torch_for_200_steps(name):
    torch = pytest.importorskip("torch")
    lrs = _run_pair(torch, TORCH_SCHEDULES[name], momentum=0.9)
    assert len(set(lrs)) > 1  # it did schedule something


def test_one_cycle_moves_adams_beta1_like_torch():
    torch = pytest.importorskip("torch")
    _run_pair(torch, lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=STEPS), name="Adam")


PLATEAU = {
    "min-rel": dict(patience=3),
    "min-abs-cooldown": dict(patience=2, threshold=0.05, threshold_mode="abs", cooldown=4),
    "max-min_lr": dict(mode="max", factor=0.5, patience=1, min_lr=[0.01, 0.2]),
    "max-abs": dict(mode="max", patience=4, threshold=0.01, threshold_mode="abs", factor=0.3),
}


@pytest.mark.parametrize("case", PLATEAU)
def test_reduce_on_plateau_equals_torch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    # A noisy metric that improves, then stalls, then jumps: every branch gets exercised.
    metric = np.concatenate(
        [np.linspace(2.0, 1.0, 60), np.full(80, 1.0), np.linspace(1.0, 0.5, 60)]
    )
    metric = (metric + 0.02 * rng.standard_normal(STEPS)).tolist()
    lrs = _run_pair(
        torch, lambda S, o: S.ReduceLROnPlateau(o, **PLATEAU[case]), metrics=metric, momentum=0.5
    )
    assert lrs[-1] < lrs[0]


# ---- the seed's formulas, and closed forms without torch ------------------------------------


def _engine_lrs(make, steps=STEPS):
    opt = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=0.1)
    sched = make(E.optim.lr_scheduler, opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        sched.step()
    return out


def test_polynomial_is_the_formula_the_seed_calls_exponential_decay():
    # Seed section 3: alpha_t = alpha_0 (1 - t/T)^p, printed under "exponential decay".
    T, p = 150, 2.5
    lrs = _engine_lrs(lambda S, o: S.PolynomialLR(o, total_iters=T, power=p))
    for t, lr in enumerate(lrs):
        assert lr == pytest.approx(0.1 * (1 - min(t, T) / T) ** p, rel=1e-12, abs=1e-18)


def test_true_exponential_and_step_decays():
    lrs = _engine_lrs(lambda S, o: S.ExponentialLR(o, gamma=0.97))
    assert lrs == pytest.approx([0.1 * 0.97**t for t in range(STEPS)], rel=1e-12)
    lrs = _engine_lrs(lambda S, o: S.StepLR(o, step_size=30, gamma=0.5))
    assert lrs == pytest.approx([0.1 * 0.5 ** (t // 30) for t in range(STEPS)], rel=1e-12)


def _config(**schedule):
    return with_updates(Config(), {f"schedule.{k}": v for k, v in schedule.items()})


def test_linear_from_zero_is_the_formula_the_seed_calls_step_decay():
    # Seed section 3: alpha_t = alpha_0 t / T, printed under "step decay". torch's LinearLR
    # refuses start_factor = 0, so both engines build it as a LambdaLR.
    config = _config(name="linear", total_steps=150)
    for engine in ("numpy", "torch") if _has_torch() else ("numpy",):
        lrs = schedule_lrs(config, STEPS, engine=engine)
        expected = [0.01 * min(t, 150) / 150 for t in range(STEPS)]
        assert lrs == pytest.approx(expected, rel=1e-12, abs=1e-18), engine


def test_warm_up_from_zero_then_cosine_closed_form():
    W, T = 20, 180
    lrs = schedule_lrs(_config(name="cosine", warmup_steps=W, warmup_start_factor=0.0), STEPS)
    expected = [
        0.01 * t / W if t < W else 0.01 * (1 + math.cos(math.pi * (t - W) / T)) / 2
        for t in range(STEPS)
    ]
    assert lrs == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_engine_scheduler_state_dict_round_trip_mid_way():
    def make(S, o):
        warm = S.LinearLR(o, start_factor=0.2, total_iters=10)
        return S.SequentialLR(o, [warm, S.MultiStepLR(o, [30, 60], gamma=0.5)], milestones=[10])

    full = _engine_lrs(make, 100)
    opt = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=0.1)
    sched = make(E.optim.lr_scheduler, opt)
    for _ in range(45):
        sched.step()
    state, opt_state = sched.state_dict(), opt.state_dict()
    # As the trainer resumes: build both, then restore the optimizer, then the scheduler.
    opt2 = E.optim.SGD([E.tensor(np.ones(2), requires_grad=True)], lr=0.1)
    sched2 = make(E.optim.lr_scheduler, opt2)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    rest = []
    for _ in range(55):
        rest.append(opt2.param_groups[0]["lr"])
        sched2.step()
    assert rest == pytest.approx(full[45:], rel=1e-12)


# ---- one config, both engines ---------------------------------------------------------------


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


CONFIGS = {
    "constant": dict(name="constant"),
    "constant-warmup": dict(name="constant", warmup_steps=25),
    "step": dict(name="step"),
    "step-size-gamma": dict(name="step", step_size=40, gamma=0.5),
    "multistep": dict(name="multistep"),
    "multistep-milestones": dict(name="multistep", milestones=[10, 100, 150], gamma=0.3),
    "exponential": dict(name="exponential"),
    "exponential-gamma": dict(name="exponential", gamma=0.99),
    "polynomial": dict(name="polynomial", power=2.0),
    "linear-seed": dict(name="linear"),
    "linear-decay": dict(name="linear", start_factor=1.0, end_factor=0.0),
    "cosine": dict(name="cosine", min_lr=1e-4),
    "cosine-warmup": dict(name="cosine", warmup_steps=20),
    "cosine-warmup-from-zero": dict(name="cosine", warmup_steps=20, warmup_start_factor=0.0),
    "step-warmup-total": dict(name="step", warmup_steps=10, total_steps=90),
    "polynomial-warmup": dict(name="polynomial", warmup_steps=30, power=0.5),
    "onecycle": dict(name="onecycle"),
    "onecycle-linear": dict(name="onecycle", anneal_strategy="linear", pct_start=0.1),
    "plateau": dict(name="plateau", plateau_patience=5),
    "plateau-acc": dict(name="plateau", plateau_metric="val_acc", plateau_patience=2, gamma=0.5),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_one_config_gives_the_same_rates_on_both_engines(case):
    pytest.importorskip("torch")
    config = _config(**CONFIGS[case])
    metrics = None
    if config.schedule.plateau_metric == "val_acc":
        metrics = [min(0.5 + 0.01 * t, 0.9) for t in range(STEPS)]  # rises, then plateaus
    ours = schedule_lrs(config, STEPS, metrics, engine="numpy")
    theirs = schedule_lrs(config, STEPS, metrics, engine="torch")
    assert ours == pytest.approx(theirs, rel=REL, abs=1e-15)
    if case != "constant":
        assert len(set(ours)) > 1


def test_every_schedule_name_has_a_config_case_and_a_docs_row():
    assert {spec["name"] for spec in CONFIGS.values()} == set(SCHEDULES)
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    for page in ("optimization.md", "optimization.zh-CN.md"):
        text = (docs / page).read_text(encoding="utf-8")
        for name in SCHEDULES:
            assert f'`"{name}"`' in text, f"{name} missing from {page}"


def test_defaults_of_T_step_size_and_milestones_follow_the_run():
    lrs = schedule_lrs(_config(name="step"), 90)  # T = 90: decay every 30 steps
    assert lrs[29] == 0.01 and lrs[30] == pytest.approx(0.001) and lrs[60] == pytest.approx(1e-4)
    lrs = schedule_lrs(_config(name="multistep"), 100)  # at T/2 and 3T/4
    assert lrs[49] == 0.01 and lrs[50] == pytest.approx(0.001) and lrs[75] == pytest.approx(1e-4)
    lrs = schedule_lrs(_config(name="exponential"), 100)  # 1% of lr after T steps
    assert lrs[0] * 0.01**0.99 == pytest.approx(lrs[99])


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"schedule.name": "plateau", "schedule.interval": "batch"}, 'interval = "epoch"'),
        ({"schedule.name": "onecycle", "schedule.warmup_steps": 5}, "warms up by itself"),
        ({"schedule.name": "plateau", "schedule.gamma": 2.0}, "gamma must be < 1"),
        ({"schedule.milestones": [30, 10]}, "increasing"),
        ({"schedule.name": "cosinus"}, 'Did you mean "cosine"?'),
        ({"schedule.plateau_metric": "test_acc"}, "never a test metric"),
        ({"optim.name": "adam", "optim.nesterov": True}, 'name = "sgd" only'),
        ({"optim.betas": [0.9]}, "a list of 2 numbers"),
    ],
)
def test_bad_schedule_and_optimizer_settings_are_clear(updates, message):
    with pytest.raises(ConfigError, match=message):
        with_updates(Config(), updates)


# ---- in the trainer -------------------------------------------------------------------------


def _tiny(**updates):
    base = {"train.progress": "off", "train_subset": 300, "epochs": 3, "sizes": [784, 16, 10]}
    return with_updates(Config(), {**base, **updates})


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_trainer_steps_a_per_batch_schedule_and_logs_its_rate(engine):
    if engine == "torch":
        pytest.importorskip("torch").set_num_threads(1)
    from gradschool.train.trainer import fit

    config = _tiny(engine=engine, **{"schedule.name": "cosine", "schedule.interval": "batch"})
    trainer = fit(config, console=False)
    steps = trainer.state.step
    # T defaults to the run's length; one more value gives the rate after the last step.
    expected = schedule_lrs(with_updates(config, {"schedule.total_steps": steps}), steps + 1)
    per_epoch = len(trainer.loader)
    logged = [row["lr"] for row in trainer.state.history]
    assert logged == pytest.approx([expected[e * per_epoch] for e in range(3)], rel=1e-6)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(expected[steps], abs=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_reduce_on_plateau_reads_the_validation_metric(engine):
    if engine == "torch":
        pytest.importorskip("torch").set_num_threads(1)
    from gradschool.train.trainer import fit

    # lr 1e-6: nothing improves, so after patience + 1 epochs the rate is cut.
    config = _tiny(
        engine=engine,
        lr=1e-6,
        epochs=4,
        **{"schedule.name": "plateau", "plateau_patience": 1, "plateau_threshold": 0.5},
    )
    trainer = fit(config, console=False)
    assert [row["lr"] for row in trainer.state.history] == pytest.approx([1e-6, 1e-6, 1e-6, 1e-7])


def test_plateau_on_a_metric_the_run_does_not_measure_says_so():
    from gradschool.train.trainer import fit

    config = _tiny(epochs=1, val_fraction=0.0, **{"schedule.name": "plateau"})
    with pytest.raises(ConfigError, match="watches 'val_loss', which this run does not measure"):
        fit(config, console=False)


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_resume_with_a_schedule_continues_exactly(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch").set_num_threads(1)
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import fit

    updates = {
        "engine": engine,
        "out_dir": str(tmp_path),
        "schedule.name": "multistep",
        "schedule.milestones": [3, 6],
        "schedule.warmup_steps": 2,
        "schedule.interval": "batch",
    }
    whole = fit(_tiny(run_name="whole", **updates), run=RunDir(tmp_path / "whole"), console=False)
    first = _tiny(run_name="part", **{**updates, "epochs": 2})
    run = RunDir(tmp_path / "part")
    fit(first, run=run, console=False)
    resumed = fit(_tiny(run_name="part", **updates), run=run, resume=True, console=False)
    for a, b in zip(whole.state.history, resumed.state.history):
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-12)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
