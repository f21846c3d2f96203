"""Reinforcement learning as a task of the one training loop.

`gradschool rl train` runs through `train.trainer.Trainer`, like every other experiment: the
loop's progress bar, console line, NaN guard, checkpoints and run directory are the same. What
differs is the task, and one callback:

- `RolloutTask`: the batches are *rollouts* - experience the current policy collects in the
  environments (an A2C update's n_steps x n_envs steps, or REINFORCE's n_envs whole episodes);
  the loss of a batch is the actor-critic objective (apps/rl.py); the model is the policy and
  value nets as one module. An "epoch" is a log interval: it ends once `train.log_every`
  environment steps have passed (or the budget is spent, or the target return is reached), and
  its row of metrics.csv holds the mean loss parts and the last 100 episodes' mean return.
- `RolloutProgress`: what counts environment steps rather than batches - the learning-rate
  schedule (one step per SCHEDULE_UNIT environment steps, so both algorithms get the same
  schedule for the same budget), the stop at the budget or the target, and episodes.csv.

The loop's own `optim.clip_per_module` clips the policy's and the value net's gradients one by
one (the RL config turns it on).

    config, task = loop_config(rl_config), RolloutTask(rl_config)
    trainer = Trainer(config, task=task, callbacks=[RolloutProgress(rl_config, task)])
    trainer.fit()
"""

from __future__ import annotations

import csv
import math
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.apps.rl import (
    SCHEDULE_UNIT,
    SOLVED_RETURN,
    Agent,
    Envs,
    RLConfig,
    collect_a2c,
    collect_episodes,
)
from gradschool.checkpoint import atomic_write
from gradschool.config import Config, TrainConfig
from gradschool.train.builders import build_scheduler
from gradschool.train.callbacks import Callback

__all__ = ["RolloutProgress", "RolloutTask", "loop_config"]


def loop_config(config: RLConfig) -> Config:
    """The settings the training loop reads, from an RL config: its optimizer, no schedule of
    the loop's own (RolloutProgress steps it by environment steps), and an epoch per log
    interval. The run directory keeps the RL config itself."""
    t = config.train
    # Each epoch but the last crosses a multiple of log_every below the budget, so there are at
    # most ceil(env_steps / log_every) of them; the budget or the target ends the run.
    epochs = max(math.ceil(t.env_steps / t.log_every), 1)
    train = TrainConfig(
        engine=t.engine,
        dtype=t.dtype,
        seed=t.seed,
        epochs=epochs,
        out_dir=t.out_dir,
        run_name=t.run_name,
        progress=t.progress,
        device="cpu",  # small MLPs stepped one by one: the CPU is the right device
    )
    return Config(optim=config.optim, train=train)


class RolloutTask:
    """What an agent learns from: rollouts of its own policy in `config.agent.env`."""

    resumable = False  # the environments' states are not in the checkpoint

    def __init__(self, config: RLConfig) -> None:
        a, t = config.agent, config.train
        self.config = config
        self.data = None  # no data set: the batches come from the environments
        self.envs = Envs(a.env, a.n_envs, t.seed)
        self.rng = np.random.default_rng([t.seed, 0x52C])  # the agent's action samples
        self.agent: Agent | None = None
        self.env_steps = 0
        self.recent: deque[float] = deque(maxlen=100)  # the last 100 episodes' returns
        self.episodes: list[dict[str, Any]] = []  # one row per finished training episode
        self.solved_at: int | None = None  # env steps when the 100-episode mean reached 475
        self._sums: dict[str, float] = {}  # loss parts over the epoch's updates

    # ---- what the loop asks of a task ------------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.envs.obs_dim,)

    @property
    def num_classes(self) -> int:
        return self.envs.n_actions

    def build_model(self, backend: Any) -> Any:
        """The policy and value nets as one module, on the loop's (seeded) backend."""
        self.agent = Agent(self.config, self.envs.obs_dim, self.envs.n_actions, backend)
        return self.agent.net

    def built_agent(self) -> Agent:
        """The agent, once the Trainer has built it (`build_model`, its first step)."""
        if self.agent is None:
            raise RuntimeError("the agent is built by build_model, when a Trainer is made")
        return self.agent

    def make_loader(self, backend: Any, config: Config) -> RolloutLoader:
        return RolloutLoader(self)

    def batch_loss(self, backend: Any, net: Any, batch: dict[str, Any]) -> tuple[Any, int]:
        """The actor-critic loss of one rollout; its size in environment steps."""
        loss, parts = self.built_agent().loss(batch["obs"], batch["actions"], batch["returns"])
        for k, v in parts.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v.item())
        self._sums["updates"] = self._sums.get("updates", 0) + 1
        return loss, batch["steps"]

    def add_grad_norm(self, norm: float) -> None:
        self._sums["grad_norm"] = self._sums.get("grad_norm", 0.0) + norm

    def metrics(self, trainer: Any) -> dict[str, Any]:
        """The epoch's row: episodes so far, the last 100 returns' mean, mean loss parts."""
        sums, self._sums = self._sums, {}
        n = sums.pop("updates", 1)
        return {
            "episodes": len(self.episodes),
            "return_mean100": self.mean_return(),
            **{k: v / n for k, v in sums.items()},
        }

    @staticmethod
    def format_row(row: dict[str, Any]) -> str:
        return (
            f"steps {row['examples_seen']:8d}  updates {row['step']:5d}  episodes "
            f"{row['episodes']:5d}  return(100) {row['return_mean100']:6.1f}  entropy "
            f"{row['entropy']:.3f}  ({row['train_time']:.1f}s)"
        )

    # ---- the rollouts ----------------------------------------------------------------------

    def collect(self) -> dict[str, Any]:
        """One update's experience, with the current policy; counts and records its episodes."""
        a = self.config.agent
        if a.algo == "a2c":
            batch = collect_a2c(self.built_agent(), self.envs, self.rng)
        else:
            batch = collect_episodes(self.built_agent(), self.envs, self.rng)
        self.env_steps += batch["steps"]
        for ret, length in batch["finished"]:
            self.recent.append(ret)
            self.episodes.append(
                {"episode": len(self.episodes) + 1, "env_steps": self.env_steps, "return": ret,
                 "length": length}
            )  # fmt: skip
            full = len(self.recent) == 100
            if self.solved_at is None and full and np.mean(self.recent) >= SOLVED_RETURN:
                self.solved_at = self.env_steps
        return batch

    def mean_return(self) -> float:
        return float(np.mean(self.recent)) if self.recent else float("nan")

    def target_reached(self) -> bool:
        target = self.config.train.target_return
        return target is not None and len(self.recent) == 100 and self.mean_return() >= target

    def budget_spent(self) -> bool:
        return self.env_steps >= self.config.train.env_steps

    def close(self) -> None:
        self.envs.close()


class RolloutLoader:
    """One epoch's rollouts: updates until `train.log_every` environment steps have passed
    (or the budget is spent, or the target reached). Its length is not known ahead."""

    def __init__(self, task: RolloutTask) -> None:
        self.task = task

    def set_epoch(self, epoch: int) -> None:
        pass  # the environments run on; an epoch is a span of environment steps

    def __iter__(self) -> Iterator[dict[str, Any]]:
        task, every = self.task, self.task.config.train.log_every
        while True:
            before = task.env_steps
            yield task.collect()
            crossed = task.env_steps // every > before // every
            if crossed or task.budget_spent() or task.target_reached():
                return


class RolloutProgress(Callback):
    """What runs on environment steps: the schedule, the end of the run, episodes.csv."""

    def __init__(self, config: RLConfig, task: RolloutTask) -> None:
        self.config, self.task = config, task
        self.scheduler: Any = None
        self.units = max(math.ceil(config.train.env_steps / SCHEDULE_UNIT), 1)
        self.scheduled = 0

    def on_setup(self, trainer: Any) -> None:
        # NOTE: one schedule step per SCHEDULE_UNIT environment steps, whatever the algorithm
        # (apps/rl.py): built over `units` steps on the loop's optimizer.
        self.scheduler = build_scheduler(
            trainer.backend, trainer.optimizer, self.config.schedule, 1, self.units
        )

    def on_batch_end(self, trainer: Any, loss: Any) -> None:
        if trainer.grad_norms:  # the policy's gradient norm before clipping (its first child)
            self.task.add_grad_norm(float(trainer.grad_norms[0]))
        else:
            self.task.add_grad_norm(float("nan"))
        due = min(self.task.env_steps // SCHEDULE_UNIT, self.units)
        while self.scheduler is not None and self.scheduled < due:
            self.scheduler.step()
            self.scheduled += 1

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        if trainer.run is not None:
            _write_episodes(trainer.run.path / "episodes.csv", self.task.episodes)
        if self.task.target_reached():
            trainer.stop = True
            trainer.state.stop_reason = f"target return {self.config.train.target_return:g}"
        elif self.task.budget_spent():
            trainer.stop = True

    def state_dict(self) -> dict[str, Any]:
        sched = self.scheduler.state_dict() if self.scheduler is not None else None
        return {"scheduler": sched, "scheduled": self.scheduled}


def _write_episodes(path: Path, episodes: list[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["episode", "env_steps", "return", "length"])
            writer.writeheader()
            writer.writerows(episodes)

    atomic_write(path, write)
