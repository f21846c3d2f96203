"""The one training loop.

Every experiment in gradschool runs through `Trainer.fit`: the seed's example, the
gradient-descent comparisons, cross-validation folds, hyper-parameter trials, private (DP-SGD)
training and the reinforcement-learning agents. At its heart
are the five lines of the source's worked example (section 4):

    y_hat = model(x)                 # forward
    loss = loss_fn(y_hat, y)
    optimizer.zero_grad()            # forget the last batch's gradients
    loss.backward()                  # backpropagation
    optimizer.step()                 # gradient descent: theta -= lr * grad

The trainer does not know which engine runs it: it speaks only through a `Backend`
(`backend.tensor`, `backend.nn`, `backend.optim`...). Printing, logging, checkpoints and
plots are callbacks (callbacks.py), not code in the loop; what differs between problems is
the task (tasks.py). DP-SGD (trust/dp.py) and RL (apps/rl_task.py) plug in through those
same two extension points, so this package imports neither (docs/architecture.md).
"""

from __future__ import annotations

import itertools
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.backends import Backend, backend_for
from gradschool.config import Config
from gradschool.distributed import check_sharded
from gradschool.errors import CheckpointError, ConfigError, TrainingError
from gradschool.models import build_model
from gradschool.precision import choose_precision
from gradschool.threads import set_threads
from gradschool.train import interrupt
from gradschool.train.builders import build_optimizer, build_scheduler, step_scheduler
from gradschool.train.callbacks import Callback, ConsoleLogger, ProgressBar, RunLogger, run_dir
from gradschool.train.early_stopping import EarlyStopping
from gradschool.train.model_checkpoint import ModelCheckpoint
from gradschool.train.regularization import l1_penalty
from gradschool.train.run import RunDir
from gradschool.train.tasks import build_task

CHECK_EVERY = 100  # batches between NaN checks inside an epoch (each check reads the loss)


@dataclass
class TrainState:
    """Where training is. Saved in every checkpoint, so a resumed run continues exactly."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps taken = gradient evaluations
    examples_seen: int = 0
    train_time: float = 0.0  # seconds spent in the loop, evaluation excluded
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    # Within the current epoch. A checkpoint written mid-epoch (a stop on Ctrl-C or SIGTERM,
    # train/interrupt.py) keeps these, so the resumed run finishes that epoch exactly as the
    # uninterrupted one would: from the same batch, with the same row of metrics.
    batch: int = 0  # batches done in this epoch
    epoch_loss: float | None = None  # their summed loss (at a mid-epoch checkpoint)
    epoch_lr: float | None = None  # the rate when the epoch began: its row's lr
    epoch_seconds: float = 0.0  # time spent in it before the stop


class Trainer:
    """Builds everything a config describes and trains it.

    `data` may be given (cross-validation passes each fold's arrays); `run` is the run
    directory to log into, or None for a run that writes nothing (experiments, tests).
    What is learned (the batches, the loss, the metrics) comes from a task (tasks.py); `task`
    replaces the one the config names (DP-SGD's Poisson batches, an RL agent's rollouts).
    `report=False` leaves plots/curves.png and report.md to the caller (RL writes its own,
    after evaluating the agent).
    """

    def __init__(
        self,
        config: Config,
        *,
        data: Any = None,
        run: RunDir | None = None,
        callbacks: list[Callback] | None = None,
        console: bool = True,
        backend: Backend | None = None,
        task: Any = None,
        report: bool = True,
    ) -> None:
        self.config = config
        # Engine, device, and this process's place among data-parallel processes (if any);
        # `gradschool train` builds it first (train/launch.py), so a bad device fails early.
        self.backend = backend = backend if backend is not None else backend_for(config.train)
        t = config.train  # precision "auto": bf16 only where it is native (precision.py)
        self.precision = choose_precision(t.precision, t.engine, str(backend.device), t.dtype)
        backend.manual_seed(config.train.seed)
        if config.train.threads:  # CPU threads of BLAS and torch (0: their defaults)
            set_threads(config.train.threads)
        self.task = task = task if task is not None else build_task(config, data)
        self.data = task.data
        # The network the config describes, or one a task builds itself (RL: the policy and
        # value nets as one module).
        build = getattr(task, "build_model", None)
        model = (
            build(backend)
            if build is not None
            else build_model(backend.nn, config.model, task.input_shape, task.num_classes)
        )
        self.model = backend.cast_model(model)
        # What the loop calls: the model itself, or compiled / DDP-wrapped around the same
        # parameters (backends.py). self.model stays the plain module for state_dict and eval.
        self.net = backend.prepare_model(self.model, config.train)
        self.optimizer = build_optimizer(backend, self.model.parameters(), config.optim)
        self.loader = task.make_loader(backend, config)
        check_sharded(self.loader, backend.world_size)  # data-parallel: own batches
        # NOTE: a loader that cannot know its length ahead (RL's rollouts end an epoch after
        # so many environment steps) counts as one batch per epoch for the schedule's length;
        # it takes epoch-interval schedules.
        self.scheduler: Any = build_scheduler(  # None: a constant rate
            backend,
            self.optimizer,
            config.schedule,
            len(self.loader) if hasattr(self.loader, "__len__") else 1,
            config.train.epochs,
            config.train.max_steps,
        )
        self.grad_norms: list[Any] = []  # the last batch's gradient norms, before clipping
        self.state = TrainState()
        self.run = run
        self.callbacks: list[Callback] = [ProgressBar(config.train.progress)]
        if console:
            self.callbacks.append(ConsoleLogger(config.train.log_every))
        if config.early_stopping.patience is not None:
            # NOTE: before RunLogger, so each epoch's checkpoint holds its updated state.
            self.callbacks.append(EarlyStopping.from_config(config.early_stopping, console))
        if run is not None:
            # NOTE: before RunLogger, so the last checkpoint holds which best ones are kept.
            self.callbacks.append(ModelCheckpoint.from_config(config.train))
            self.callbacks.append(RunLogger(config.train.checkpoint_every, report=report))
            if "tensorboard" in config.train.log:
                from gradschool.train.tensorboard import TensorBoardLogger

                self.callbacks.append(TensorBoardLogger(config.train.log_histograms))
        self.callbacks += callbacks or []
        self.stop = False  # a callback (early stopping) may set this
        for cb in self.callbacks:
            cb.on_setup(self)

    # ---- the loop --------------------------------------------------------------------------

    def fit(self) -> list[dict[str, Any]]:
        """Train until `config.train.epochs` epochs are done (or a callback stops it)."""
        # NOTE: inside interrupt.deferred(), a Ctrl-C or SIGTERM (when the CLI, or the user
        # with interrupt.stop_on_signals(), asked for it) waits for the end of the step.
        with interrupt.deferred():
            return self._train()

    def _train(self) -> list[dict[str, Any]]:
        backend, optimizer, task = self.backend, self.optimizer, self.task
        model = self.model
        max_steps = self.config.train.max_steps
        l1 = self.config.train.l1
        clip = self.config.optim.clip_grad_norm
        per_batch = self.scheduler is not None and self.config.schedule.interval == "batch"
        net, precision = self.net, self.precision.name
        _refuse_unplugged(self)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.state.epoch < self.config.train.epochs and not self.stop:
                self._stop_on_signal()  # a signal during the last epoch's evaluation
                self.loader.set_epoch(self.state.epoch)
                # 0, or where a mid-epoch checkpoint stopped: the same batches from there.
                batches = _batches_from(self.loader, self.state.batch)
                model.train()
                for cb in self.callbacks:
                    cb.on_epoch_start(self)
                if self.state.batch:  # a mid-epoch checkpoint saved both
                    assert self.state.epoch_lr is not None and self.state.epoch_loss is not None
                    lr = self.state.epoch_lr
                    running = backend.tensor(np.asarray(self.state.epoch_loss))
                else:
                    lr, running = self.optimizer.param_groups[0]["lr"], None
                start = time.perf_counter()
                for batch in batches:
                    with backend.autocast(precision):  # bf16: forward and loss only
                        loss, examples = task.batch_loss(backend, net, batch)
                    # A penalty on the weights joins the objective, not the logged loss.
                    objective = loss + l1_penalty(model, l1) if l1 else loss
                    optimizer.zero_grad()
                    objective.backward()
                    if clip is not None:  # gradient clipping, between backward and step
                        self.grad_norms = self._clip_gradients(clip)
                    for cb in self.callbacks:  # DP-SGD: .grad := clipped sum + noise
                        cb.on_before_step(self)
                    optimizer.step()
                    if per_batch:
                        self.scheduler.step()
                    # Summed on the engine, read once per epoch (no per-batch host sync).
                    running = loss.detach() if running is None else running + loss.detach()
                    self.state.batch += 1
                    self.state.step += 1
                    self.state.examples_seen += examples
                    if self.state.batch % CHECK_EVERY == 0:
                        self._check_finite(running, self.state.batch)
                    for cb in self.callbacks:
                        cb.on_batch_end(self, loss)
                    if max_steps is not None and self.state.step >= max_steps:
                        self.stop, self.state.stop_reason = True, f"max_steps = {max_steps}"
                        break
                    if self.stop:  # a callback asked to stop now (the LR range test)
                        break
                    self._stop_on_signal(running, lr, start)
                self._end_epoch(running, lr, start, per_batch)
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.state.history

    def _end_epoch(self, running: Any, lr: float, start: float, per_batch: bool) -> None:
        """The epoch's row of metrics, the schedule's step and the callbacks' on_epoch_end."""
        batches = self.state.batch
        train_loss = self._check_finite(running, batches) / max(batches, 1)
        now = time.perf_counter()
        self.state.train_time += now - start
        epoch_time = self.state.epoch_seconds + now - start
        self.state.epoch += 1
        self.state.batch, self.state.epoch_loss, self.state.epoch_lr = 0, None, None
        self.state.epoch_seconds = 0.0
        row = self._epoch_row(train_loss, lr, epoch_time)
        if self.scheduler is not None and not per_batch:
            # After the epoch's metrics: ReduceLROnPlateau steps on one of them.
            step_scheduler(self.scheduler, self.config.schedule, row)
        self.state.history.append(row)
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)

    def _stop_on_signal(
        self, running: Any = None, lr: float | None = None, start: float | None = None
    ) -> None:
        """After a step (or before an epoch): stop if a signal asked to, saving where we are.

        Mid-epoch, the checkpoint also keeps the epoch's batch count, summed loss, starting
        rate and time so far, so a resumed run finishes this epoch as if never stopped.
        """
        signum = interrupt.pending()
        if self.backend.world_size > 1 and interrupt.active():
            # NOTE: every process must stop after the same step, or one would wait forever in
            # the next step's all-reduce for another that left: agree on it, at the price of
            # one tiny all-reduce (and a wait for the device) per step, only under the CLI.
            flag = self.backend.tensor(np.asarray(float(signum or 0)))
            if float(self.backend.all_reduce_mean(flag).item()) == 0:
                return
            signum = signum or signal.SIGTERM  # another process received it
        if signum is None:
            return
        if start is not None:  # mid-epoch
            elapsed = time.perf_counter() - start
            self.state.epoch_loss = float(self.backend.to_numpy(running))
            self.state.epoch_lr, self.state.epoch_seconds = lr, self.state.epoch_seconds + elapsed
            self.state.train_time += elapsed
        self.state.stop_reason = f"interrupted by {interrupt.signal_name(signum)}"
        saved = None
        if self.run is not None and self.state.step > 0:  # before the first step: nothing
            saved = self.save_checkpoint()
        raise interrupt.Interrupted(signum, saved)

    def _clip_gradients(self, max_norm: float) -> list[Any]:
        """Rescale the gradient to norm <= max_norm; return the norm(s) before clipping.

        With optim.clip_per_module, each top-level module is clipped on its own (an
        actor-critic's policy and value nets: clipped together, the value net's far larger
        gradient would set the joint norm and shrink the policy's to almost nothing).
        """
        clip = self.backend.nn.utils.clip_grad_norm_
        if self.config.optim.clip_per_module:
            return [clip(child.parameters(), max_norm) for child in self.model.children()]
        return [clip(self.model.parameters(), max_norm)]

    def _check_finite(self, running: Any, batches: int) -> float:
        """The summed loss so far; stop with a clear message if it is NaN or infinite."""
        if running is not None:
            # NOTE: with several processes, the mean over all of them, so that every process
            # decides the same here (one stopping alone would leave the others waiting).
            running = self.backend.all_reduce_mean(running)
        total = float(running.item()) if running is not None else 0.0
        if math.isfinite(total):
            return total
        self.state.stop_reason = "non-finite loss"
        where = f"in epoch {self.state.epoch + 1}, within its first {batches} batches"
        saved = "No epoch had finished, so there is no checkpoint to resume from."
        if self.run is not None and self.state.epoch > 0:
            kept = self.run.path
            saved = f"The last good checkpoint (epoch {self.state.epoch}) is kept in {kept}"
            saved += (
                f"; resume from it with a smaller rate: gradschool train --resume "
                f"{self.run.path} --lr <smaller>."
                if getattr(self.task, "resumable", True)
                else "."
            )
        raise TrainingError(
            f"the training loss became {total} {where} (lr = "
            f"{self.optimizer.param_groups[0]['lr']}). The steps diverged: the learning rate "
            f"is probably too high for this model and data (or the inputs are not normalised). "
            f"{saved}"
        )

    def _epoch_row(self, train_loss: float, lr: float, epoch_time: float) -> dict[str, Any]:
        row: dict[str, Any] = {
            "epoch": self.state.epoch,
            "step": self.state.step,
            "examples_seen": self.state.examples_seen,
            "lr": lr,
            "train_loss": train_loss,
        }
        # Measured in rank 0 and sent to every process (alone: just measured), so early
        # stopping and plateau schedules decide the same in all of them.
        main = self.backend.is_main
        row.update(self.backend.broadcast_object(self.task.metrics(self) if main else None))
        row.update(epoch_time=epoch_time, train_time=self.state.train_time)
        return row

    # ---- evaluation ------------------------------------------------------------------------

    def predict(self, X: Any, batch_size: int = 1000) -> np.ndarray:
        """The model's outputs for X as a NumPy array, in eval mode, without a graph."""
        backend, model = self.backend, self.model
        was_training = getattr(model, "training", True)
        model.eval()
        X = backend.stage(X)  # put on the device once, not batch by batch
        outputs = []
        with backend.no_grad():
            for i in range(0, len(X), batch_size):
                outputs.append(model(backend.tensor(X[i : i + batch_size])))
        model.train(was_training)
        # Read back at the end: one wait for the device, not one per batch.
        return np.concatenate([backend.to_numpy(out) for out in outputs])

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """The task's measures (loss, accuracy...) of the model on (X, y)."""
        return self.task.evaluate(self, X, y)

    # ---- checkpoints -----------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        normalizer = getattr(self.data, "normalizer", None)  # (an RL task has no data set)
        return {
            "format": 1,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": self.backend.get_rng_state(),
            "state": {
                "epoch": self.state.epoch,
                "step": self.state.step,
                "examples_seen": self.state.examples_seen,
                "train_time": self.state.train_time,
                "history": self.state.history,
                # Mid-epoch (a stop on a signal): where in the epoch, and its sums so far.
                "batch": self.state.batch,
                "epoch_loss": self.state.epoch_loss,
                "epoch_lr": self.state.epoch_lr,
                "epoch_seconds": self.state.epoch_seconds,
            },
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "normalizer": normalizer.state_dict() if normalizer is not None else None,
        }

    def save_checkpoint(self) -> Path:
        path = run_dir(self).checkpoint_path(self.backend.checkpoint_suffix)
        self.backend.save(self.checkpoint(), path)
        return path

    def load_checkpoint(self, path: Path, weights_only: bool = False) -> None:
        """Restore a checkpoint; with weights_only, just the model (for evaluation)."""
        ckpt = self.backend.load(path)
        try:
            self.model.load_state_dict(self.backend.numpy_to_state(ckpt["model"]))
            if weights_only:
                return
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt["scheduler"] is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            self.backend.set_rng_state(ckpt["rng"])
            state = ckpt["state"]
            self.state = TrainState(
                epoch=int(state["epoch"]),
                step=int(state["step"]),
                examples_seen=int(state["examples_seen"]),
                train_time=float(state["train_time"]),
                history=[dict(row) for row in state["history"]],
                # (checkpoints from before mid-epoch stops hold only finished epochs)
                batch=int(state.get("batch", 0)),
                epoch_loss=_optional_float(state.get("epoch_loss")),
                epoch_lr=_optional_float(state.get("epoch_lr")),
                epoch_seconds=float(state.get("epoch_seconds", 0.0)),
            )
            for cb, cb_state in zip(self.callbacks, ckpt["callbacks"]):
                cb.load_state_dict(cb_state)
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(
                f"the checkpoint {path} does not match this run's model or settings ({err}). "
                f"Resume with the run's own config (do not change the model, optimizer or "
                f"schedule when resuming), or start a new run."
            ) from err


def fit(
    config: Config,
    *,
    data: Any = None,
    run: RunDir | None = None,
    resume: bool | Path = False,
    callbacks: list[Callback] | None = None,
    console: bool = True,
    backend: Backend | None = None,
    task: Any = None,
) -> Trainer:
    """Build a Trainer for `config`, optionally resume it from `run` (or, given a path, from
    that checkpoint file: what the processes other than rank 0 do, having no run), train it,
    return it."""
    trainer = Trainer(
        config,
        data=data,
        run=run,
        callbacks=callbacks,
        console=console,
        backend=backend,
        task=task,
    )
    _refuse_unplugged(trainer)  # before the run directory gets its first file
    if resume:
        checkpoint = run_dir(trainer).find_checkpoint() if resume is True else Path(resume)
        trainer.load_checkpoint(checkpoint)
    elif run is not None:
        run.write_config(trainer.config)  # as resolved (e.g. the DP noise level found)
        # A task may add what rebuilding its data needs (the GPT's vocabulary, say).
        task_info: dict[str, Any] = getattr(trainer.task, "run_info", dict)()
        run.write_info(
            config, {"data_source": trainer.data.source, **task_info, **trainer.backend.describe()}
        )
    trainer.fit()
    return trainer


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _batches_from(loader: Any, start: int) -> Iterator[Any]:
    """The batches of the loader's current epoch from batch `start` on (0: all of them).

    A resumed mid-epoch run must see exactly the batches the uninterrupted one saw next. Every
    gradschool loader draws an epoch from (seed, epoch) alone, and has `skip(n)` to leave out
    the first n cheaply (without gathering or augmenting them); any other loader is iterated
    past them, which draws the same random numbers and so gives the same remaining batches.
    """
    if start and hasattr(loader, "skip"):
        loader.skip(start)
    elif start:
        return itertools.islice(iter(loader), start, None)
    return iter(loader)


def _refuse_unplugged(trainer: Trainer) -> None:
    """A config that asks for DP-SGD must be trained with it: the loop itself knows nothing
    of privacy, which plugs in as a task and a callback (gradschool/trust/dp.py)."""
    if trainer.config.dp.enabled and getattr(trainer.task, "privacy", None) is None:
        raise ConfigError(
            "dp.enabled = true asks for DP-SGD, which plugs into the training loop from "
            "gradschool.trust.dp: train with gradschool.trust.dp.fit_private(config) (what "
            "`gradschool train --dp` runs), or switch it off with --no-dp."
        )
