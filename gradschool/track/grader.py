"""The grader: run each step's cases on a learner's engine, compare, and say what went wrong.

    results = grade(Workspace.open("my-engine"))      # one StepResult per step
    print(report.format_table(results, "en"))        # the progress table (report.py)

A step is "not started" while all of its blanks are as `build start` left them (then nothing
is run), "passed" when every case agrees with the oracle, "failed" otherwise. The oracle is
PyTorch in float64 (`torch.autograd`, `torch.optim`, `torch.optim.lr_scheduler`) when it is
installed; without it, gradients are central finite differences of gradschool's engine (and,
at a kink such as ReLU at 0, gradschool's engine itself, which its test suite proves equal to
torch), and optimizers and schedules are gradschool's own.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradschool.track.results import Case, CaseFailed, Failure, StepResult
from gradschool.track.steps import STEPS, Step
from gradschool.track.workspace import Workspace, WorkspaceError

STEP_TIMEOUT_S = 120  # a step that runs longer has an endless loop, most likely


# ---- running the cases -----------------------------------------------------------------------


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the step after `seconds` (POSIX main thread only; elsewhere no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _learner_frame(err: BaseException, package_dir: str) -> str:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if package_dir in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    name = f.filename[f.filename.rfind("engine") :] if "engine" in f.filename else f.filename
    return f"{name}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}"


def run_cases(step: Step, cases: list[Case], package_dir: str, timeout: float) -> StepResult:
    result = StepResult(step, "passed", total=len(cases))
    start = time.perf_counter()
    try:
        with _time_limit(timeout):
            for case in cases:
                failure = _run_one(case, package_dir)
                if failure is None:
                    result.passed += 1
                elif result.failure is None:
                    result.failure = failure
    except _Timeout:
        result.failure = Failure(
            "(all cases)",
            "the step",
            "timeout",
            detail=f"it took longer than {timeout:.0f} s: an endless loop?",
        )
    result.seconds = time.perf_counter() - start
    if result.failure is not None:
        result.status = "failed"
    return result


@contextlib.contextmanager
def _default_recursion_limit() -> Iterator[None]:
    """Python's default recursion limit (1000) while a case runs, as on a learner's machine.
    NOTE: some libraries raise it for good (torch.compile's inductor does), and a recursive
    topological sort would then pass the 2000-deep chain in one process and fail in another."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(1000, len(inspect.stack(0)) + 200))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def _run_one(case: Case, package_dir: str) -> Failure | None:
    try:
        with np.errstate(all="ignore"), _default_recursion_limit():
            case.run()
    except CaseFailed as f:
        return Failure(case.label, f.what, f.kind, f.expected, f.got, f.max_error, f.detail)
    except _Timeout:
        raise
    except NotImplementedError as err:
        where = _learner_frame(err, package_dir)
        return Failure(case.label, "the step", "not_implemented", detail=f"{err} ({where})")
    except RecursionError as err:
        where = _learner_frame(err, package_dir)
        return Failure(case.label, "the step", "recursion", detail=f"RecursionError ({where})")
    except Exception as err:  # noqa: BLE001 - the learner's code may raise anything
        where = _learner_frame(err, package_dir)
        text = f"{type(err).__name__}: {err}"
        return Failure(
            case.label, "the step", "error", detail=f"{text} ({where})" if where else text
        )
    return None


def grade(
    workspace: Workspace,
    steps: list[Step] | None = None,
    *,
    use_torch: bool | None = None,
    timeout: float = STEP_TIMEOUT_S,
) -> list[StepResult]:
    """Grade `steps` (default: all) of a workspace; steps not started are listed, not run."""
    from gradschool.track import checks, oracle

    steps = list(STEPS) if steps is None else steps
    try:
        started = {step.name: not workspace.untouched(step) for step in steps}
        package = workspace.load() if any(started.values()) else None
    except WorkspaceError as err:
        return [
            StepResult(
                s, "error", failure=Failure("(import)", "the workspace", "error", detail=str(err))
            )
            for s in steps
        ]
    ctx = oracle.Context.create(package, use_torch) if package is not None else None
    results = []
    for step in steps:
        if not started[step.name]:
            results.append(StepResult(step, "not started"))
            continue
        assert ctx is not None
        cases = checks.cases_for(step, ctx)
        results.append(run_cases(step, cases, str(workspace.package_dir), timeout))
    return results
