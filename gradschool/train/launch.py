"""What `gradschool train` runs: the run in this process, or in N processes under torchrun.

    gradschool train --engine torch --nproc 2 ...     # launch(): torchrun starts 2 copies
    torchrun --nproc_per_node=2 -m gradschool train   # the same, started by hand

`train(config, argv)` is the whole command: with `train.nproc > 1` (and not already under
torchrun) it starts N copies of itself through torchrun and waits; otherwise it builds the
backend (the device is resolved there, once: before any process waits for the others and before
any run directory exists), joins the process group torchrun set up, if any, and trains. Rank 0
prints and writes the run directory; every other rank runs `train_worker`: the same training,
silently, with no files (gradschool/distributed.py has the torch.distributed side).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gradschool import distributed
from gradschool.backends import Backend, backend_for, numpy_engine_refuses, resolve_device
from gradschool.config import Config, with_updates
from gradschool.errors import ConfigError, TrainingError
from gradschool.train import interrupt, trainer
from gradschool.train.callbacks import Callback
from gradschool.train.run import RunDir, describe_position

Fit = Callable[..., Any]  # train.trainer.fit, or one with extensions (trust.dp.fit_private)


RUN_DIR_ENV = "GRADSCHOOL_RUN_DIR"  # the run folder `--nproc` made, for every (re)started rank
FAULT_ENV = "GRADSCHOOL_TEST_FAULT"  # a fault the tests inject (_TestFault below)


def train(
    config: Config, argv: Sequence[str], *, resume: RunDir | None = None, fit: Fit = trainer.fit
) -> int:
    """`gradschool train`: train `config` here, or in `train.nproc` processes; exit status.

    `argv` are the command's own arguments, for the N processes to run again; `resume` is the
    run directory to continue (its config already in `config`), or None for a new run; `fit`
    trains (what an extension such as DP-SGD replaces). Ctrl-C and SIGTERM stop it cleanly
    (train/interrupt.py): exit status 130 or 143.
    """
    t = config.train
    if t.nproc > 1 and not distributed.launched():
        # A device that is not there is an error here, not N times in N processes.
        resolve_device(t.device, t.engine, t.dtype)
        # NOTE: the run folder is made here, once: a group torchrun restarts finds it (and
        # its checkpoint) through RUN_DIR_ENV instead of making a second one.
        folder = resume if resume is not None else RunDir.create(config)
        return launch(
            t.nproc, argv, t.engine, run=folder, max_restarts=t.max_restarts, new=resume is None
        )
    group = distributed.from_environment()
    run, resuming = resume, resume is not None
    if group is not None and os.environ.get(RUN_DIR_ENV):
        # Under `--nproc`: the launcher's folder; after a restart, go on from its checkpoint.
        run = RunDir(Path(os.environ[RUN_DIR_ENV]))
        resuming = run.has_checkpoint()
    backend = backend_for(t, group)  # refuses what cannot work before any process waits
    callbacks = _TestFault.from_environment(group)
    quiet = group is not None and not group.is_main
    try:
        with interrupt.stop_on_signals(quiet), distributed.process_group(str(backend.device)):
            if quiet:
                checkpoint = run.find_checkpoint() if run is not None and resuming else None
                return train_worker(config, backend, checkpoint, fit, callbacks)
            return _train_main(config, backend, run, resuming, group, fit, callbacks)
    except Exception as err:
        # Another process died: one line here (no traceback); the launcher says which, how,
        # and how to go on (_worker_failure).
        if group is None or not distributed.lost_a_process(err):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(
            f"rank {group.rank}: stopped, another process of the group is gone ({first[:200]})",
            file=sys.stderr,
            flush=True,
        )
        return 1


def _train_main(
    config: Config,
    backend: Backend,
    run: RunDir | None,
    resuming: bool,
    group: Any,
    fit: Fit,
    callbacks: list[Any],
) -> int:
    """The run in one process, or rank 0 of several: the one that prints and saves. `run` is
    the folder to train in (None: create one), `resuming` whether to continue its checkpoint."""
    processes = f", {group.world_size} processes" if group is not None else ""
    processes += _precision_note(config, backend)
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    if resuming:
        assert run is not None, "resuming needs the run's folder"
        again = f"restart {restart}: " if restart else ""
        saved = run.saved_position()
        where = f" from {describe_position(saved)}" if saved else ""
        print(
            f"Resuming {run.path}{where} ({again}{config.train.engine} engine{processes})",
            flush=True,
        )
    else:
        run = run if run is not None else RunDir.create(config)
        print(
            f"Training {config.model.name} on {config.data.dataset} with the "
            f"{config.train.engine} engine{processes} -> {run.path}",
            flush=True,
        )
    try:
        fit(config, run=run, resume=resuming, backend=backend, callbacks=callbacks)
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (interrupt.Interrupted)
        print(f"\n{_stopped(err, run, resuming)}", file=sys.stderr, flush=True)
        return interrupt.exit_code(err)
    except Exception:
        if not resuming:
            run.discard_if_empty()  # e.g. missing data: no empty run folder left behind
        raise
    if resuming:
        run.write_config(config)  # e.g. a longer --epochs, so a later resume knows it
    print(f"Run saved in {run.path} (report.md, metrics.csv, plots/)")
    return 0


def _stopped(err: BaseException, run: RunDir, resuming: bool) -> str:
    """What a stopped run says: how to continue it, only when there is a checkpoint to
    continue from; otherwise that nothing was saved (and whether the folder is gone)."""
    what = interrupt.signal_name(getattr(err, "signum", signal.SIGINT))
    saved = run.saved_position()
    if saved is not None:
        return (
            f"Stopped by {what}. The checkpoint in {run.path} holds {describe_position(saved)}: "
            f"continue with `gradschool train --resume {run.path}`."
        )
    if not resuming and run.discard_if_unsaved():
        return (
            f"Stopped by {what} before the first step: nothing was saved; {run.path} was removed."
        )
    return (
        f"Stopped by {what} before the first checkpoint was written (train.checkpoint_every = "
        f"{run.load_config().train.checkpoint_every if run.config_path.exists() else 1}): "
        f"there is nothing to resume from. {run.path} is kept; start the run again."
    )


def _precision_note(config: Config, backend: Backend) -> str:
    """`, bf16 autocast (auto: this CPU has native bf16, ...)` for the run's first line;
    nothing for a plain float32 run (precision = "fp32")."""
    from gradschool.precision import choose_precision

    t = config.train
    if t.precision == "fp32":
        return ""
    return ", " + choose_precision(t.precision, t.engine, str(backend.device), t.dtype).describe()


def train_worker(
    config: Config,
    backend: Backend,
    checkpoint: Path | None = None,
    fit: Fit = trainer.fit,
    callbacks: list[Any] | None = None,
) -> int:
    """What every rank but 0 runs: the same training, silently and without a run directory.

    It computes its share of every batch and joins every all-reduce, but prints nothing
    (standard output goes nowhere; errors still reach standard error) and writes no file.
    Resuming, it reads the checkpoint rank 0 resumes from, so all ranks start equal. Stopped
    by a signal, it stops after the same step as rank 0 (which saves) and exits 130 / 143.
    """
    quiet = with_updates(config, {"train.progress": "off"})
    resume = checkpoint if checkpoint is not None else False
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        try:
            fit(quiet, run=None, resume=resume, backend=backend, callbacks=callbacks)
        except KeyboardInterrupt as err:
            return interrupt.exit_code(err)
    return 0


class _TestFault(Callback):
    """A fault the tests inject through the environment (GRADSCHOOL_TEST_FAULT), so that they
    can stop a real run at a known step; documented in docs/compute.md. Never set otherwise.

    - `pause:K`: after step K (0: before the first), wait up to a minute for a signal, so a
      test sends its SIGTERM or SIGINT at a step it knows (prints "paused at step K");
    - `kill:R:K`: the process of rank R kills itself (SIGKILL) after step K, in the group's
      first attempt only, so a restarted group runs on.
    """

    def __init__(self, spec: str, rank: int) -> None:
        kind, *numbers = spec.split(":")
        if kind not in ("pause", "kill") or len(numbers) != (1 if kind == "pause" else 2):
            raise ConfigError(f"{FAULT_ENV}={spec!r}: use pause:STEP or kill:RANK:STEP.")
        self.kind, self.step, self.rank = kind, int(numbers[-1]), rank
        self.victim = int(numbers[0]) if kind == "kill" else None

    @classmethod
    def from_environment(cls, group: Any) -> list[Callback]:
        spec = os.environ.get(FAULT_ENV)
        return [cls(spec, group.rank if group is not None else 0)] if spec else []

    def on_fit_start(self, trainer: Any) -> None:
        self._maybe(trainer)

    def on_batch_end(self, trainer: Any, loss: Any) -> None:
        self._maybe(trainer)

    def _maybe(self, trainer: Any) -> None:
        if trainer.state.step != self.step:
            return
        if self.kind == "kill":
            first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
            if self.rank == self.victim and first_attempt:
                os.kill(os.getpid(), signal.SIGKILL)
            return
        print(f"paused at step {self.step}", file=sys.__stdout__, flush=True)
        deadline = time.monotonic() + 60
        while interrupt.pending() is None and time.monotonic() < deadline:
            time.sleep(0.01)


# ---- the launcher behind `gradschool train --nproc N` -----------------------------------------


def torchrun_command(nproc: int, argv: Sequence[str], max_restarts: int = 0) -> list[str]:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N -m gradschool -- ARGV`.

    `--standalone` runs the rendezvous on this machine, on a free port. For several machines,
    run torchrun yourself with --nnodes, --node_rank and --rdzv_endpoint (docs/compute.md).
    With `max_restarts`, torchrun restarts the whole group that many times when a process dies.
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *([f"--max_restarts={max_restarts}"] if max_restarts else []),
        "-m",
        "gradschool",
        # NOTE: "--" ends torchrun's own options. Without it torchrun's parser would take
        # gradschool's --nproc for its --nproc-per-node and --monitor for --monitor-interval
        # (argparse accepts abbreviations).
        "--",
        *argv,
    ]


def launch(
    nproc: int,
    argv: Sequence[str],
    engine: str = "torch",
    *,
    run: RunDir | None = None,
    max_restarts: int = 0,
    new: bool = False,
) -> int:
    """Run `gradschool ARGV` in `nproc` processes under torchrun; return its exit status.

    The child processes see torchrun's environment, so their own `gradschool train` joins
    the group instead of launching again; `run` is the run folder they all train in (through
    RUN_DIR_ENV; `new`: made for this run, so removed if the run saved nothing). torchrun runs
    in this process (its Python API, the very code of the `torchrun` command), so that a
    process that dies is reported in one paragraph: which rank, how, and where the checkpoint
    to resume from is. Ctrl-C and SIGTERM reach it too: it passes them on to the processes
    (which stop after the same step, rank 0 saving) and exits 130/143.
    """
    if engine != "torch":
        raise numpy_engine_refuses("processes", f"--nproc {nproc}")
    command = torchrun_command(nproc, argv, max_restarts)
    # NOTE: the children import gradschool from the same place this process did, even when it
    # is not installed (e.g. run from a checkout with PYTHONPATH).
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    }
    if run is not None:
        env[RUN_DIR_ENV] = str(run.path.resolve())
    if max_restarts:
        # NOTE: by default the restarted processes share torchrun's own key-value store with
        # the group they replace, and may read a dead process's address from it: gloo then
        # fails to connect, or hangs (pytorch/pytorch#135712). A store of their own avoids it.
        env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    print(f"Launching {nproc} processes: {' '.join(command[1:])}", flush=True)
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        with _environment(env):
            torchrun.run(torchrun.parse_args(command[3:]))
    except ChildFailedError as err:
        raise TrainingError(_worker_failure(err, nproc, max_restarts, run, new)) from None
    except SignalException as err:  # torchrun has stopped the processes with this signal
        return 128 + int(err.sigval)
    except KeyboardInterrupt:
        return 130
    return 0


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` set (what the processes torchrun starts inherit), then as before."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_failure(
    err: Any, nproc: int, max_restarts: int, run: RunDir | None, new: bool = False
) -> str:
    """One paragraph on a group that failed: which rank ended first and how, and whether and
    how the run can go on from its checkpoint."""

    def ended(failure: Any) -> str:
        if failure.exitcode < 0:
            return f"was killed by signal {-failure.exitcode} ({failure.signal_name()})"
        return f"exited with status {failure.exitcode}"

    # NOTE: torchrun times failures to the second; of two at once, one killed by a signal is
    # the likelier cause (the other then lost its connection to it).
    failures = sorted(err.failures.items(), key=lambda kv: (kv[1].timestamp, kv[1].exitcode >= 0))
    rank, first = failures[0]
    text = f"process rank {rank} of the {nproc} {ended(first)}"
    if len(failures) > 1:
        text += " (then " + ", ".join(f"rank {r} {ended(f)}" for r, f in failures[1:]) + ")"
    text += ", so torchrun stopped the others"
    if max_restarts:
        text += f", after restarting the group {max_restarts} time(s) (train.max_restarts)"
    text += ". A process that exits with an error prints it above."
    saved = run.saved_position() if run is not None else None
    if run is None:
        return text
    if saved is None:
        gone = new and run.discard_if_unsaved()
        return text + (
            f" No checkpoint had been written yet, so there is nothing to resume from"
            f"{f'; {run.path} was removed' if gone else f' ({run.path} is kept)'}: start the "
            f"run again."
        )
    text += (
        f" The last checkpoint in {run.path}, at {describe_position(saved)}, is whole "
        f"(written to a temporary file, then renamed) and loadable: continue with "
        f"`gradschool train --resume {run.path}`"
    )
    if not max_restarts:
        text += ", or add --max-restarts 2 to let torchrun restart the processes from it"
    return text + "."
