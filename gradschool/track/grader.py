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
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradschool.track.steps import STEPS, Step
from gradschool.track.workspace import Workspace, WorkspaceError

STEP_TIMEOUT_S = 120  # a step that runs longer has an endless loop, most likely


class CaseFailed(Exception):
    """Raised inside a case: the learner's result differs from the oracle's."""

    def __init__(
        self,
        what: str,
        kind: str = "value",
        *,
        expected: str | None = None,
        got: str | None = None,
        max_error: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(what)
        self.what, self.kind, self.detail = what, kind, detail
        self.expected, self.got, self.max_error = expected, got, max_error


@dataclass
class Failure:
    """The first failing case of a step."""

    case: str  # the inputs: "a (4, 3) + b (3,), small integers"
    what: str  # "gradient of b", "forward", "after step 3, p0"
    kind: str  # value | shape | error | structure | not_implemented | mutation | timeout
    expected: str | None = None
    got: str | None = None
    max_error: float | None = None
    detail: str = ""  # for errors: the exception and where in the learner's code


@dataclass
class StepResult:
    step: Step
    status: str  # passed | failed | not started | error
    passed: int = 0
    total: int = 0
    failure: Failure | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "passed"


@dataclass
class Case:
    label: str
    run: Callable[[], None]


# ---- comparing arrays ----------------------------------------------------------------------


def fmt_shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


def _num(x: Any) -> str:
    return f"{float(x):.6g}"


def compare(what: str, got: Any, expected: np.ndarray, atol: float, rtol: float) -> None:
    """Raise CaseFailed unless `got` is an array of `expected`'s shape and values."""
    expected = np.asarray(expected)
    if got is None:
        raise CaseFailed(
            what, "structure", expected=f"an array of shape {fmt_shape(expected.shape)}", got="None"
        )
    if not isinstance(got, (np.ndarray, np.generic, float, int)):
        raise CaseFailed(
            what,
            "structure",
            expected=f"a NumPy array of shape {fmt_shape(expected.shape)}",
            got=f"a {type(got).__name__}",
        )
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise CaseFailed(
            what,
            "shape",
            expected=f"shape {fmt_shape(expected.shape)}",
            got=f"shape {fmt_shape(got.shape)}",
        )
    if got.dtype.kind not in "fiub":
        raise CaseFailed(what, "structure", expected="numbers", got=f"dtype {got.dtype}")
    g, e = got.astype(np.float64), expected.astype(np.float64)
    same = np.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if same.all():
        return
    err = np.abs(g - e)
    err = np.where(np.isnan(err), np.inf, err)  # nan where a finite value was expected
    err = np.where(same, 0.0, err)
    index = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    at = f" at {list(int(i) for i in index)}" if index else ""
    raise CaseFailed(
        what,
        "value",
        expected=_num(e[index]),
        got=_num(g[index]),
        max_error=float(err.max()),
        detail=f"{int((~same).sum())} of {same.size} values differ; the largest error is{at}",
    )


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


def _run_one(case: Case, package_dir: str) -> Failure | None:
    try:
        with np.errstate(all="ignore"):
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
