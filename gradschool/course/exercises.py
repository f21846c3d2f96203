"""Exercises with answers a machine can check, declared once in the lecture that asks them.

Each exercise is one code cell of the lecture, tagged "exercise", that calls `exercise(...)`:

    # %% tags=["exercise"]
    from gradschool.course.exercises import Number, exercise  # (once, in the first such cell)
    from gradschool.models import count_parameters, mlp

    exercise(
        3,
        en="Count by hand the parameters of `mlp(nn, [784, 256, 10])` ...",
        zh="手算 `mlp(nn, [784, 256, 10])` 的参数个数……",
        check=Number(lambda: count_parameters(mlp(E.nn, [784, 256, 10]))),
        hints=[("A Linear(n, m) layer has ...", "……"), ("...", "……")],
        solution=("$784 \\cdot 256 + 256 + 256 \\cdot 10 + 10 = {{ answer:, }}$", "……"),
    )

The text, the hints and the worked solution are Markdown, in English and Chinese; a field
`{{ answer }}` (or any `{{ expr }}` of the cell's names) in a solution is filled in with the
value the check computes, so a solution never quotes a number that could drift from the code.
`check` says what kind of answer it is and how to check it:

- `Number(reference)`: a number, or several separated by ";" (`--answer 203530`), within a
  tolerance of `reference()`, which computes it (from the architecture, the data, the
  library), never a typed constant;
- `Formula(answer, reference, variables)`: an expression in named variables
  (`--answer "0.25**(2/T)"`), compared with `reference(**point)` at random points;
- `Function(name, signature, reference, cases)`: a function the learner writes in a file
  (`--file my_solution.py`), run beside `reference` (torch's, where that applies) on every
  case, random inputs and ties alike;
- `Run(base, train, bar, ...)`: settings the learner chooses (`--answer "optim.lr=0.1"`, or a
  TOML file), trained through the one loop; the result must reach the bar;
- `Open()`: a question a machine cannot check; its worked answer is shown on request.

Why a Python call and not a TOML block in a markdown cell: a reference answer is code (a
parameter count, a numerical solution, a reference function, a config to train), and a call
keeps it beside the text it checks, linted and formatted like the rest of the lecture. The
cell is still data to every tool: the runner does not execute it but renders it (the text, the
check command, the hints and the solution folded in `<details>`), `gradschool lecture check`
executes only these cells (the rest of the lecture never runs there), and an exporter to
notebooks finds them by their tag and turns each into `Exercise.markdown(lang)`. In a notebook
or a plain script the call shows the exercise and its check command, never the solution.

An exercise that needs the lecture's own code (the data of a demonstration, a helper the
lecture defines) names the titled code cells it needs, `setup=("circles",)`: they run first,
only when a check or a solution needs them, so the exercise checks what the lecture really
does. They run in the exercises' namespace, after the exercise cells: a setup cell imports
what it uses, or relies on the imports of the exercise cells.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradschool.course.cells import LANGS, Lecture, fill_fields, parse_lecture
from gradschool.course.checks import Formula, Function, Kind, Number, Open, Run, solution_code
from gradschool.errors import ConfigError, GradschoolError

__all__ = [
    "KINDS",
    "Exercise",
    "Formula",
    "Function",
    "Number",
    "Open",
    "Run",
    "exercise",
    "load_exercises",
]

Text = tuple[str, str]  # (English, Chinese)
KINDS = ("number", "formula", "function", "run", "open")
COMMAND = "gradschool lecture check"


def _pick(text: Text, language: str) -> str:
    return text[1] if language == "zh" else text[0]


# ---- an exercise ------------------------------------------------------------------------------


@dataclass
class Exercise:
    """One exercise: its number in the lecture, its text, how it is checked, its hints and its
    worked solution (each in English and Chinese). `lecture`, `slug` and `line` are set by
    load_exercises: the lecture's number and name, and the first line of the cell."""

    number: int
    en: str
    zh: str
    check: Kind
    hints: tuple[Text, ...] = ()
    solution: Text = ("", "")
    setup: tuple[str, ...] = ()
    lecture: int = 0
    slug: str = ""
    line: int = 0
    namespace: dict[str, Any] = field(default_factory=dict, repr=False)
    _setup: Callable[[], None] | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return self.check.kind

    @property
    def checkable(self) -> bool:
        return self.check.checkable

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en

    def label(self, language: str) -> str:
        return _pick(self.check.label(), language)

    def command(self, language: str = "en") -> str:
        """The command that checks an answer (for an open question: shows the solution)."""
        lecture = self.lecture or "N"
        command = f"{COMMAND} {lecture} {self.number} {_pick(self.check.placeholder(), language)}"
        return command + (" --lang zh" if language == "zh" else "")

    def summary(self, language: str, width: int = 76) -> str:
        """The text's first sentence or line, on one line of at most `width` columns."""
        from gradschool.text import display_width

        text = re.sub(r"\s+", " ", self.text(language)).strip()
        first = re.split(r"(?<=[.?!])\s+|(?<=[。？！])", text, maxsplit=1)[0]
        if display_width(first) <= width:
            return first
        out = ""
        for char in first:
            if display_width(out + char) > width - 1:
                break
            out += char
        return out.rstrip() + "…"

    def hint(self, k: int, language: str) -> str:
        return _pick(self.hints[k], language)

    def prepare(self) -> None:
        """Run the lecture's setup cells this exercise needs (once)."""
        if self._setup is not None and self.setup:
            self._setup()

    def answer(self) -> Any:
        """The value `{{ answer }}` stands for: the number, the formula, the settings
        (computed once: each language's solution quotes it)."""
        if "answer" not in self._cache:
            self._cache["answer"] = self.check.answer_value(self)
        return self._cache["answer"]

    def solution_text(self, language: str) -> str:
        """The worked solution, its `{{ ... }}` fields filled in (the answer computed)."""
        text = _pick(self.solution, language)
        if "{{" not in text:
            return text
        self.prepare()
        names = dict(self.namespace)
        if re.search(r"\{\{[^}]*\banswer\b", text):
            names["answer"] = self.answer()
        filled, errors = fill_fields(text, names)
        if errors:
            raise GradschoolError(
                f"lecture {self.lecture}, exercise {self.number}: a field of the solution "
                f"cannot be computed: {errors[0]}"
            )
        return filled

    def markdown(self, language: str, solution: bool = False, level: int = 3) -> str:
        """The exercise as Markdown: heading, text, check command (and, with `solution`, the
        hints and the worked solution as plain sections). What a notebook shows."""
        words = WORDS[language]
        head = "#" * level + " " + words["exercise"].format(n=self.number)
        parts = [f"{head} · {self.label(language)}", self.text(language)]
        check = words["check"] if self.checkable else words["open"]
        colon = "：" if language == "zh" else ": "
        parts.append(f"{check}{colon}`{self.command(language)}`")
        if solution:
            if self.hints:
                hints = "\n".join(
                    f"{k}. {self.hint(k - 1, language)}" for k in range(1, len(self.hints) + 1)
                )
                parts.append(f"**{words['hints']}**\n\n{hints}")
            parts.append(f"**{words['solution']}**\n\n{self.solution_text(language)}")
        return "\n\n".join(parts) + "\n"

    def render(self, language: str) -> dict[str, Any]:
        """What a report shows of the exercise (report.py renders it; run.json keeps it)."""
        return {
            "number": self.number,
            "kind": self.kind,
            "label": self.label(language),
            "text": self.text(language),
            "command": self.command(language),
            "hints": [self.hint(k, language) for k in range(len(self.hints))],
            "solution": self.solution_text(language),
        }

    def _repr_markdown_(self) -> str:  # a notebook shows the exercise, not its solution
        from gradschool.course import lang

        return self.markdown(lang())


WORDS = {
    "en": {"exercise": "Exercise {n}", "check": "Check your answer", "open": "Worked answer",
           "hints": "Hints", "solution": "Solution"},
    "zh": {"exercise": "练习 {n}", "check": "检查答案", "open": "参考解答",
           "hints": "提示", "solution": "参考解答"},
}  # fmt: skip


# ---- declaring and loading ---------------------------------------------------------------------

_collecting: list[Exercise] | None = None  # set while load_exercises runs a lecture's cells


def _text(value: str) -> str:
    return textwrap.dedent(value).strip("\n")


def exercise(
    number: int,
    *,
    en: str,
    zh: str,
    check: Kind,
    hints: Sequence[Text] = (),
    solution: Text = ("", ""),
    setup: Sequence[str] = (),
) -> Exercise:
    """Declare exercise `number` of the lecture (module docstring). Under load_exercises it
    is recorded; run as a plain script it prints the exercise and its check command; in a
    notebook it shows them. The solution is never shown here."""
    if not isinstance(check, Kind):
        raise GradschoolError(
            f"exercise {number}: check= is one of Number, Formula, Function, Run, Open; "
            f"got {type(check).__name__}"
        )
    ex = Exercise(
        number,
        _text(en),
        _text(zh),
        check,
        tuple((_text(h[0]), _text(h[1])) for h in hints),
        (_text(solution[0]), _text(solution[1])),
        tuple(setup),
    )
    if _collecting is not None:
        _collecting.append(ex)
        return ex
    from gradschool.course import in_notebook, lang

    # The lecture's number, for the check command, from the file that declares it (NN_topic.py).
    caller = sys._getframe(1).f_globals.get("__file__") or ""
    number_in_name = re.match(r"(\d+)_", Path(caller).name)
    ex.lecture = int(number_in_name[1]) if number_in_name else 0
    if not in_notebook():
        print("\n" + ex.markdown(lang()), end="")
    return ex


def _run_cells(lecture: Lecture, titles: Sequence[str], namespace: dict[str, Any]) -> None:
    """Run the lecture's code cells titled `titles` (in file order) in `namespace`, quietly:
    output is dropped and figures are closed."""
    wanted = set(titles)
    cells = [c for c in lecture.code_cells if c.title in wanted]
    missing = wanted - {c.title for c in cells}
    if missing:
        raise GradschoolError(
            f"{lecture.path.name}: an exercise needs the code cell titled {sorted(missing)[0]!r} "
            f"(# %% {sorted(missing)[0]}), and there is none"
        )
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in cells:
                code = compile("\n" * (cell.line - 1) + cell.source, str(lecture.path), "exec")
                exec(code, namespace)  # noqa: S102 - the lecture's own code
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def load_exercises(lecture: Lecture | str | Path) -> list[Exercise]:
    """The exercises a lecture declares, in order, from its cells tagged "exercise" (run in one
    namespace, as a script would run them; nothing else of the lecture runs). A declaration
    that is incomplete or out of order is a GradschoolError naming the line."""
    global _collecting
    if not isinstance(lecture, Lecture):
        lecture = parse_lecture(lecture)
    namespace: dict[str, Any] = {
        "__name__": f"gradschool_exercises_{lecture.slug}",
        "__file__": str(lecture.path),
    }
    done: set[str] = set()

    def setup_for(ex: Exercise) -> Callable[[], None]:
        def setup() -> None:  # this exercise's setup cells, each at most once
            todo = [title for title in ex.setup if title not in done]
            if todo:
                _run_cells(lecture, todo, namespace)
                done.update(todo)

        return setup

    found: list[Exercise] = []
    previous, _collecting = _collecting, found
    try:
        for cell in (c for c in lecture.cells if c.kind == "exercise"):
            before = len(found)
            code = compile("\n" * (cell.line - 1) + cell.source, str(lecture.path), "exec")
            try:
                exec(code, namespace)  # noqa: S102 - the lecture's own declarations
            except GradschoolError:
                raise
            except Exception as exc:  # noqa: BLE001 - said with the file and line
                raise GradschoolError(
                    f"{lecture.path.name}:{cell.line}: the exercise cell fails: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if len(found) != before + 1:
                raise GradschoolError(
                    f"{lecture.path.name}:{cell.line}: a cell tagged exercise declares exactly "
                    f"one exercise (with exercise(...)); this one declares {len(found) - before}"
                )
            ex = found[-1]
            ex.lecture, ex.slug, ex.line = lecture.number, lecture.slug, cell.line
            ex.namespace, ex._setup = namespace, setup_for(ex)
    finally:
        _collecting = previous
    for k, ex in enumerate(found, 1):
        _validate(ex, k, lecture)
    return found


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _validate(ex: Exercise, expected_number: int, lecture: Lecture) -> None:
    where = f"{lecture.path.name}:{ex.line}: exercise {ex.number}"
    problems = []
    if ex.number != expected_number:
        problems.append(f"is number {ex.number}, but it is exercise {expected_number} in order")
    if not ex.en or not ex.zh or not _CJK.search(ex.zh):
        problems.append("needs its text in English (en=) and Chinese (zh=)")
    if not ex.solution[0] or not _CJK.search(ex.solution[1]):
        problems.append("needs a worked solution in English and Chinese (solution=(en, zh))")
    if ex.checkable and len(ex.hints) < 2:
        problems.append("is checked, so it needs at least two hints (hints=[(en, zh), ...])")
    if any(not h[0] or not _CJK.search(h[1]) for h in ex.hints):
        problems.append("has a hint without its English or Chinese text")
    if isinstance(ex.check, Function) and solution_code(ex.solution[0]) is None:
        problems.append("asks for a function: its solution shows the code in a ```python block")
    if problems:
        raise GradschoolError(f"{where} " + "; ".join(problems))


def find_exercise(exercises: list[Exercise], key: str | int) -> Exercise:
    """An exercise by number ("3")."""
    text = str(key).strip()
    for ex in exercises:
        if text.isdigit() and ex.number == int(text):
            return ex
    numbers = ", ".join(str(ex.number) for ex in exercises) or "none"
    raise ConfigError(f"no exercise {key!r} here; the exercises are {numbers}")


# The language of messages outside the runner, for the checks (GRADSCHOOL_LANG).
def default_language() -> str:
    return "zh" if os.environ.get("GRADSCHOOL_LANG", "").lower().startswith("zh") else "en"


assert set(LANGS) == set(WORDS)
