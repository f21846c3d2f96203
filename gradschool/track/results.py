"""What a grader case is, and how a learner's value is compared with the oracle's.

Shared by the grader (grader.py), the oracle (oracle.py), the cases (cases.py, checks.py) and
the report (report.py): a `Case` runs and raises `CaseFailed` with a `Failure` when the
learner's value differs; `StepResult` collects one step's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gradschool.track.steps import Step


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


def compare(what: str, got: Any, expected: np.ndarray | None, atol: float, rtol: float) -> None:
    """Raise CaseFailed unless `got` is an array of `expected`'s shape and values."""
    if expected is None:  # the reference gives no gradient for an input that takes none
        raise RuntimeError(f"{what}: the reference has no value to compare with (a case bug)")
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
