"""Stopping a run cleanly: Ctrl-C (SIGINT) and SIGTERM finish the step, save, and say how to resume.

SIGTERM is what `kill`, `docker stop` and cluster schedulers (SLURM, Kubernetes) send before they
stop a job, a grace period before SIGKILL. Python's default is to die on it at once, which loses
everything since the last epoch's checkpoint. Inside `stop_on_signals()` instead:

- a signal during training only *asks* the loop to stop: it finishes the step it is in (or the
  epoch's evaluation), saves a checkpoint of exactly where it is - mid-epoch too: the batch it
  reached, the epoch's summed loss, the learning rate - and raises `Interrupted`
  (train/trainer.py). Resumed, the run continues from that step, as if never stopped;
- a signal outside the loop (while the data loads, the model is built, the report is written)
  raises `Interrupted` at once: nothing half-done is saved there;
- a second signal stops at once, keeping the last checkpoint. NOTE: one Ctrl-C under torchrun
  reaches each process twice (from the terminal, then forwarded by torchrun), so a repeat within
  `REPEAT_GRACE` seconds counts as the same request.

The exit status is 128 + the signal's number, the shell's convention: 130 after Ctrl-C, 143 after
SIGTERM. Only `gradschool train` and `gradschool search` install the handlers (in the main thread,
and they restore the previous ones when done); a library user calling `fit()` keeps their own
signal handling, or opts in with `with stop_on_signals(): fit(...)`.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPEAT_GRACE = 1.0  # seconds within which a repeated signal is the same request
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_installed = 0  # nesting depth of stop_on_signals() (only the outermost installs)
_deferring = 0  # > 0 while the training loop can stop at the end of its step
_pending: int | None = None  # the signal received, if any
_first_at = 0.0
_quiet = False  # say nothing when a signal arrives (the silent ranks of a --nproc run)


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal. `checkpoint` is the file saved where it stopped (None when
    nothing was saved: a process that writes no files, or a stop before the first step).

    A KeyboardInterrupt, so `except Exception` never swallows it and code that already handles
    Ctrl-C handles SIGTERM the same way.
    """

    def __init__(self, signum: int, checkpoint: Path | None = None) -> None:
        super().__init__(signal_name(signum))
        self.signum, self.checkpoint = int(signum), checkpoint


def signal_name(signum: int) -> str:
    """ "Ctrl-C (SIGINT)", "SIGTERM", ... for messages."""
    if signum == signal.SIGINT:
        return "Ctrl-C (SIGINT)"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(err: BaseException) -> int:
    """128 + the signal's number: 130 for Ctrl-C (a plain KeyboardInterrupt), 143 for SIGTERM."""
    return 128 + getattr(err, "signum", signal.SIGINT)


def active() -> bool:
    """True inside stop_on_signals(): a signal is a request the loop answers."""
    return _installed > 0


def pending() -> int | None:
    """The signal received since stop_on_signals() began, or None."""
    return _pending


def _handle(signum: int, frame: Any) -> None:
    global _pending, _first_at
    now = time.monotonic()
    if _pending is None:
        _pending, _first_at = signum, now
        if not _deferring:
            raise Interrupted(signum)
        if not _quiet:
            print(
                f"\n{signal_name(signum)}: stopping after the current step (send it again to "
                f"stop at once).",
                file=sys.stderr,
                flush=True,
            )
        return
    if now - _first_at < REPEAT_GRACE:
        return  # the same request, delivered twice
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals(quiet: bool = False) -> Iterator[None]:
    """SIGINT and SIGTERM become requests to stop after the current step (see the module's
    docstring); the previous handlers are restored on the way out. `quiet`: print nothing when
    a signal arrives.

    NOTE: Python runs signal handlers in the main thread only, and only the main thread may
    install them; elsewhere this does nothing and signals keep their usual effect.
    """
    global _installed, _pending, _quiet
    if _installed or threading.current_thread() is not threading.main_thread():
        _installed += bool(_installed)
        try:
            yield
        finally:
            _installed -= bool(_installed)
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _installed, _pending, _quiet = 1, None, quiet
    for s in SIGNALS:
        signal.signal(s, _handle)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _installed, _pending = 0, None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """What the training loop runs in: a signal inside waits for the end of the step."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
