"""Optimizers and learning-rate schedules from a config, for either engine.

Both engines get the same specification: the config names an optimizer and a schedule, and
this module builds the engine's own classes (`gradschool.engine.optim.Adam` or
`torch.optim.Adam`, `...lr_scheduler.CosineAnnealingLR`) with the same arguments. Where torch
has no class for a schedule (the seed's linear ramp alpha_0 t / T starts at 0, which
`LinearLR` refuses), both engines run the same closed form through `LambdaLR`. The tests
check that one config gives the same rates on both engines, step for step.

Schedule lengths are counted in scheduler steps: epochs, or batches when
`schedule.interval = "batch"`. T is the length of the schedule after the warm-up; by default
it is the rest of the run (so a decay ends where training ends).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from gradschool.errors import ConfigError

# config name -> the class name, the same in gradschool.engine.optim and torch.optim
OPTIMIZERS = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}

# config name -> what builds it, on both engines (the table in docs/optimization.md)
SCHEDULES = {
    "constant": "no scheduler (or LinearLR alone, with a warm-up)",
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "polynomial": "PolynomialLR",
    "linear": "LinearLR; LambdaLR with the same closed form when start_factor = 0",
    "cosine": "CosineAnnealingLR",
    "onecycle": "OneCycleLR",
    "plateau": "ReduceLROnPlateau",
}


def optimizer_arguments(optim_config: Any) -> tuple[str, dict[str, Any]]:
    """(class name, keyword arguments) of the optimizer a config describes."""
    c = optim_config
    if c.name not in OPTIMIZERS:
        raise ConfigError(
            f"unknown optimizer {c.name!r}: choose one of {', '.join(OPTIMIZERS)} "
            f"(--optim.name NAME)."
        )
    kwargs: dict[str, Any] = {"lr": c.lr, "weight_decay": c.weight_decay}
    if c.name == "sgd":
        kwargs.update(momentum=c.momentum, dampening=c.dampening, nesterov=c.nesterov)
    elif c.name == "adagrad":
        kwargs.update(lr_decay=c.lr_decay, initial_accumulator_value=c.initial_accumulator_value)
    elif c.name == "rmsprop":
        kwargs.update(alpha=c.alpha, momentum=c.momentum, centered=c.centered)
    else:  # adam, adamw
        kwargs.update(betas=tuple(c.betas), amsgrad=c.amsgrad)
    if c.name != "sgd" and c.eps is not None:  # none = the class's own default, as in torch
        kwargs["eps"] = c.eps
    return OPTIMIZERS[c.name], kwargs


def build_optimizer(backend: Any, params: Any, optim_config: Any) -> Any:
    """The optimizer `optim_config.name` over `params`, on `backend`."""
    name, kwargs = optimizer_arguments(optim_config)
    if backend.name == "torch" and name in ("Adam", "AdamW"):
        # torch's fused Adam kernel: one pass over each weight instead of ~10 kernel calls
        # per tensor (a GPT's 52 tensors: 0.8 ms a step against 2.8 ms on one CPU thread),
        # the same numbers (equal to the last bit in float64). Not in torch < 2.4 on a CPU.
        params = list(params)
        try:
            return getattr(backend.optim, name)(params, **kwargs, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return getattr(backend.optim, name)(params, **kwargs)


# ---- schedules ------------------------------------------------------------------------------


def schedule_length(
    schedule_config: Any, steps_per_epoch: int, epochs: int, max_steps: int | None = None
) -> int:
    """How many scheduler steps the run takes (epochs, or batches for interval "batch")."""
    if schedule_config.interval == "batch":
        total = epochs * steps_per_epoch
        return min(total, max_steps) if max_steps else total
    return min(epochs, math.ceil(max_steps / steps_per_epoch)) if max_steps else epochs


def _linear(start: float, end: float, T: int) -> Callable[[int], float]:
    """The factor of a straight line from `start` (t = 0) to `end` (t >= T)."""

    def factor(t: int) -> float:
        return start + (end - start) * min(t, T) / T

    return factor


def _main_schedule(S: Any, optimizer: Any, c: Any, T: int) -> Any | None:
    """The schedule after the warm-up, over T steps (None for a constant rate)."""
    name = c.name
    if name == "constant":
        return None
    if name == "step":
        # none: two decays within T (at ceil(T/3) and 2 ceil(T/3)), three levels in all
        step_size = c.step_size or math.ceil(T / 3)
        return S.StepLR(optimizer, step_size=step_size, gamma=c.gamma or 0.1)
    if name == "multistep":
        milestones = c.milestones or sorted({max(T // 2, 1), max(3 * T // 4, 1)})
        return S.MultiStepLR(optimizer, milestones=milestones, gamma=c.gamma or 0.1)
    if name == "exponential":
        # none: the gamma that leaves 1% of the rate after T steps, alpha_T = 0.01 alpha_0
        return S.ExponentialLR(optimizer, gamma=c.gamma or 0.01 ** (1 / T))
    if name == "polynomial":
        return S.PolynomialLR(optimizer, total_iters=T, power=c.power)
    if name == "linear":
        if c.start_factor > 0:
            return S.LinearLR(
                optimizer, start_factor=c.start_factor, end_factor=c.end_factor, total_iters=T
            )
        # NOTE: torch's LinearLR refuses start_factor = 0 (the seed's alpha_0 t / T), so both
        # engines evaluate the same line as a LambdaLR.
        return S.LambdaLR(optimizer, _linear(c.start_factor, c.end_factor, T))
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=T, eta_min=c.min_lr)
    if name == "onecycle":
        return S.OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=max(T, 1),
            pct_start=float(c.pct_start),
            anneal_strategy=c.anneal_strategy,
            cycle_momentum=c.cycle_momentum,
            div_factor=c.div_factor,
            final_div_factor=c.final_div_factor,
        )
    if name == "plateau":
        return S.ReduceLROnPlateau(
            optimizer,
            mode="max" if c.plateau_metric.endswith("acc") else "min",
            factor=c.gamma or 0.1,
            patience=c.plateau_patience,
            threshold=c.plateau_threshold,
            threshold_mode=c.plateau_threshold_mode,
            cooldown=c.plateau_cooldown,
            min_lr=c.min_lr,
        )
    raise ConfigError(
        f"unknown schedule {name!r}: choose one of {', '.join(SCHEDULES)} (--schedule.name NAME)."
    )


def build_scheduler(
    backend: Any,
    optimizer: Any,
    schedule_config: Any,
    steps_per_epoch: int,
    epochs: int,
    max_steps: int | None = None,
) -> Any | None:
    """The schedule `schedule_config.name` (after an optional linear warm-up), or None for a
    constant learning rate. The settings are validated already (config.ScheduleConfig says,
    for one, that plateau and onecycle take no warm-up).

    `interval` says what one scheduler step is: an epoch or a batch (optimizer step).
    `max_steps` (train.max_steps) shortens the run, and so the default T, to where it stops.
    """
    c = schedule_config
    S = backend.lr_scheduler
    run = schedule_length(c, steps_per_epoch, epochs, max_steps)
    W = c.warmup_steps
    T = c.total_steps or max(run - W, 1)
    if c.name == "onecycle" and run > T:
        raise ConfigError(
            f"schedule.total_steps = {T} is shorter than the run ({run} {c.interval} steps), "
            f"and onecycle cannot go past its end: leave schedule.total_steps out (none) or "
            f"make it at least {run}."
        )
    if W == 0:
        return _main_schedule(S, optimizer, c, T)
    # NOTE: build the warm-up first: each scheduler sets the rate when it is made, and
    # SequentialLR starts from the first one.
    if c.warmup_start_factor > 0:
        warmup = S.LinearLR(optimizer, start_factor=c.warmup_start_factor, total_iters=W)
    else:
        warmup = S.LambdaLR(optimizer, _linear(0.0, 1.0, W))
    main = _main_schedule(S, optimizer, c, T)
    if main is None:
        return warmup  # the line stays at 1 after W steps: warm-up, then constant
    return S.SequentialLR(optimizer, [warmup, main], milestones=[W])


def step_scheduler(scheduler: Any, schedule_config: Any, row: Mapping[str, Any]) -> None:
    """One scheduler step at the end of an epoch. ReduceLROnPlateau is given the metric it
    watches, from the epoch's row of metrics (`val_loss`...); every other schedule just steps.
    """
    if schedule_config.name != "plateau":
        scheduler.step()
        return
    metric = schedule_config.plateau_metric
    value = row.get(metric)
    if value is None:
        measured = ", ".join(k for k, v in row.items() if isinstance(v, float))
        raise ConfigError(
            f"schedule plateau watches {metric!r}, which this run does not measure (it measures:"
            f" {measured}). Choose one of those with --schedule.plateau_metric NAME, or give the"
            f" run a validation split (--val-fraction 0.1) for val_loss / val_acc."
        )
    scheduler.step(value)


def schedule_lrs(
    config: Any, steps: int, metrics: list[float] | None = None, engine: str = "numpy"
) -> list[float]:
    """The learning rate at each of `steps` scheduler steps for `config` (its optim and
    schedule sections), built exactly as a training run builds it, on `engine`.

    ReduceLROnPlateau needs a metric per step: `metrics` (default: a loss that falls for the
    first third of the steps and then stays flat, so the cuts are visible).
    """
    from gradschool.backends import get_backend

    backend = get_backend(engine, "float64")
    backend.manual_seed(0)
    optimizer = build_optimizer(backend, backend.nn.Linear(1, 1).parameters(), config.optim)
    scheduler = build_scheduler(backend, optimizer, config.schedule, 1, steps)
    if metrics is None:  # (only plateau reads them)
        metrics = [1.0 / (1 + min(t, steps // 3)) for t in range(steps)]
    lrs = []
    for t in range(steps):
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()  # no gradients: nothing moves; torch wants it before scheduler.step()
        if scheduler is None:
            continue
        if config.schedule.name == "plateau":
            scheduler.step(metrics[t])
        else:
            scheduler.step()
    return lrs
