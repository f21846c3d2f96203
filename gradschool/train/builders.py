"""Optimizers and learning-rate schedules from a config, for either engine.

Both engines get the same specification: the config names an optimizer and a schedule, and
this module builds the engine's own class (`gradschool.engine.optim.SGD` or
`torch.optim.SGD`) with the same arguments.
"""

from __future__ import annotations

from typing import Any

from gradschool.errors import ConfigError


def build_optimizer(backend: Any, params: Any, optim_config: Any) -> Any:
    """The optimizer `optim_config.name` over `params`, on `backend`."""
    name = optim_config.name
    if name == "sgd":
        return backend.optim.SGD(
            params,
            lr=optim_config.lr,
            momentum=optim_config.momentum,
            dampening=optim_config.dampening,
            weight_decay=optim_config.weight_decay,
            nesterov=optim_config.nesterov,
        )
    raise ConfigError(f"unknown optimizer {name!r}")


def build_scheduler(
    backend: Any, optimizer: Any, schedule_config: Any, steps_per_epoch: int, epochs: int
) -> Any | None:
    """The schedule `schedule_config.name`, or None for a constant learning rate.

    `interval` says what one scheduler step is: an epoch or a batch (optimizer step).
    """
    name = schedule_config.name
    if name == "constant":
        return None
    total = epochs * steps_per_epoch if schedule_config.interval == "batch" else epochs
    step_size = getattr(schedule_config, "step_size", max(total // 3, 1))
    gamma = getattr(schedule_config, "gamma", 0.1)
    if name == "step":
        return backend.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    raise ConfigError(f"unknown schedule {name!r}")
