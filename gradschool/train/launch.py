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
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gradschool import distributed
from gradschool.backends import Backend, backend_for, numpy_engine_refuses, resolve_device
from gradschool.config import Config, with_updates
from gradschool.train import trainer
from gradschool.train.run import RunDir

Fit = Callable[..., Any]  # train.trainer.fit, or one with extensions (trust.dp.fit_private)


def train(
    config: Config, argv: Sequence[str], *, resume: RunDir | None = None, fit: Fit = trainer.fit
) -> int:
    """`gradschool train`: train `config` here, or in `train.nproc` processes; exit status.

    `argv` are the command's own arguments, for the N processes to run again; `resume` is the
    run directory to continue (its config already in `config`), or None for a new run; `fit`
    trains (what an extension such as DP-SGD replaces).
    """
    t = config.train
    if t.nproc > 1 and not distributed.launched():
        # A device that is not there is an error here, not N times in N processes.
        resolve_device(t.device, t.engine, t.dtype)
        return launch(t.nproc, argv, t.engine)
    group = distributed.from_environment()
    backend = backend_for(t, group)  # refuses what cannot work before any process waits
    with distributed.process_group(str(backend.device)):
        if group is not None and not group.is_main:
            checkpoint = resume.find_checkpoint() if resume is not None else None
            return train_worker(config, backend, checkpoint, fit)
        return _train_main(config, backend, resume, group, fit)


def _train_main(
    config: Config, backend: Backend, resume: RunDir | None, group: Any, fit: Fit
) -> int:
    """The run in one process, or rank 0 of several: the one that prints and saves."""
    processes = f", {group.world_size} processes" if group is not None else ""
    processes += _precision_note(config, backend)
    if resume is not None:
        run = resume
        print(f"Resuming {run.path} ({config.train.engine} engine{processes})", flush=True)
    else:
        run = RunDir.create(config)
        print(
            f"Training {config.model.name} on {config.data.dataset} with the "
            f"{config.train.engine} engine{processes} -> {run.path}",
            flush=True,
        )
    try:
        fit(config, run=run, resume=resume is not None, backend=backend)
    except KeyboardInterrupt:
        if resume is None and run.discard_if_empty():
            print("\nInterrupted before anything was saved.", file=sys.stderr)
            return 130
        print(
            f"\nInterrupted. Every finished epoch is saved in {run.path}: continue with "
            f"`gradschool train --resume {run.path}`.",
            file=sys.stderr,
        )
        return 130
    except Exception:
        if resume is None:
            run.discard_if_empty()  # e.g. missing data: no empty run folder left behind
        raise
    if resume is not None:
        run.write_config(config)  # e.g. a longer --epochs, so a later resume knows it
    print(f"Run saved in {run.path} (report.md, metrics.csv, plots/)")
    return 0


def _precision_note(config: Config, backend: Backend) -> str:
    """`, bf16 autocast (auto: this CPU has native bf16, ...)` for the run's first line;
    nothing for a plain float32 run (precision = "fp32")."""
    from gradschool.precision import choose_precision

    t = config.train
    if t.precision == "fp32":
        return ""
    return ", " + choose_precision(t.precision, t.engine, str(backend.device), t.dtype).describe()


def train_worker(
    config: Config, backend: Backend, checkpoint: Path | None = None, fit: Fit = trainer.fit
) -> int:
    """What every rank but 0 runs: the same training, silently and without a run directory.

    It computes its share of every batch and joins every all-reduce, but prints nothing
    (standard output goes nowhere; errors still reach standard error) and writes no file.
    Resuming, it reads the checkpoint rank 0 resumes from, so all ranks start equal.
    """
    quiet = with_updates(config, {"train.progress": "off"})
    resume = checkpoint if checkpoint is not None else False
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        fit(quiet, run=None, resume=resume, backend=backend)
    return 0


# ---- the launcher behind `gradschool train --nproc N` -----------------------------------------


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N -m gradschool -- ARGV`.

    `--standalone` runs the rendezvous on this machine, on a free port. For several machines,
    run torchrun yourself with --nnodes, --node_rank and --rdzv_endpoint (docs/compute.md).
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "gradschool",
        # NOTE: "--" ends torchrun's own options. Without it torchrun's parser would take
        # gradschool's --nproc for its --nproc-per-node and --monitor for --monitor-interval
        # (argparse accepts abbreviations).
        "--",
        *argv,
    ]


def launch(nproc: int, argv: Sequence[str], engine: str = "torch") -> int:
    """Run `gradschool ARGV` in `nproc` processes under torchrun; return its exit status.

    The child processes see torchrun's environment, so their own `gradschool train` joins
    the group instead of launching again.
    """
    if engine != "torch":
        raise numpy_engine_refuses("processes", f"--nproc {nproc}")
    command = torchrun_command(nproc, argv)
    env = dict(os.environ)
    # NOTE: the children import gradschool from the same place this process did, even when it
    # is not installed (e.g. run from a checkout with PYTHONPATH).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    print(f"Launching {nproc} processes: {' '.join(command[1:])}", flush=True)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130
