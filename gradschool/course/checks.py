"""The kinds of exercise answers, and how each is checked (exercises.py declares exercises).

- `Number`: a number (or several, separated by ";") within a tolerance of a computed reference;
- `Formula`: an expression in named variables, compared with a reference at random points;
- `Function`: a function in the learner's file, run beside a reference on random and tie-heavy
  cases; the first difference is shown (the case, where, expected against got, the error);
- `Run`: settings the learner chooses, trained through the one loop, whose result must reach
  a bar;
- `Open`: not checked; its worked answer is shown on request.

Each `check` returns a Verdict (right or not, and why, in English and Chinese), or raises an
AnswerError for an answer that cannot be checked at all (it does not count as a try).
"""

from __future__ import annotations

import copy
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from gradschool.course.answers import (
    AnswerError,
    Verdict,
    first_difference,
    load_module,
    raised,
    read_formula,
    read_numbers,
    roughly,
)
from gradschool.errors import GradschoolError
from gradschool.settings import split_values

if TYPE_CHECKING:
    from gradschool.course.exercises import Exercise

__all__ = ["Formula", "Function", "Kind", "Number", "Open", "Run", "solution_code"]

Text = tuple[str, str]  # (English, Chinese)


def _pick(text: Text, language: str) -> str:
    return text[1] if language == "zh" else text[0]


# ---- the kinds of answer ----------------------------------------------------------------------


class Kind:
    """What an exercise's answer is and how it is checked (one subclass per kind)."""

    kind: ClassVar[str] = ""
    checkable: ClassVar[bool] = True
    needs_file: ClassVar[bool] = False

    def label(self) -> Text:
        raise NotImplementedError

    def placeholder(self) -> Text:
        """What the check command takes: `--answer VALUE`, `--file my_solution.py`."""
        raise NotImplementedError

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        raise NotImplementedError

    def answer_value(self, ex: Exercise) -> Any:
        """What `{{ answer }}` in a solution stands for."""
        return None

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        """(answer, file text) of the worked solution: what the tests check passes."""
        raise NotImplementedError


@dataclass
class Number(Kind):
    """A number (or several, `names` saying what each is), within `rel` (relative) or `abs`
    (absolute) tolerance of `reference()`, which computes the answer."""

    reference: Callable[[], float | Sequence[float]]
    rel: float = 1e-6
    abs: float = 0.0
    names: Sequence[Text] = ()
    kind: ClassVar[str] = "number"

    def label(self) -> Text:
        n = max(len(self.names), 1)
        return ("a number", "数值题") if n == 1 else (f"{n} numbers", f"数值题（{n} 个数）")

    def placeholder(self) -> Text:
        if len(self.names) > 1:
            values = "; ".join(["VALUE"] * len(self.names))
            return f'--answer "{values}"', f'--answer "{"; ".join(["数值"] * len(self.names))}"'
        return "--answer VALUE", "--answer 数值"

    def expected(self, ex: Exercise) -> list[float]:
        ex.prepare()
        value = self.reference()
        values = [float(v) for v in np.ravel(value)]
        if len(values) != max(len(self.names), 1):
            raise GradschoolError(
                f"lecture {ex.lecture}, exercise {ex.number}: the reference gives "
                f"{len(values)} values but {max(len(self.names), 1)} are named"
            )
        return values

    def answer_value(self, ex: Exercise) -> Any:
        values = self.expected(ex)
        return values[0] if len(values) == 1 else values

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        return "; ".join(repr(v) for v in self.expected(ex)), None

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        if answer is None:
            raise _needs("--answer", self.placeholder())
        got, expected = read_numbers(answer), self.expected(ex)
        if len(got) != len(expected):
            names = "; ".join(_pick(n, "en") for n in self.names)
            names_zh = "；".join(_pick(n, "zh") for n in self.names)
            raise AnswerError(
                f"this exercise wants {len(expected)} values separated by ';' ({names}), "
                f"got {len(got)}.",
                f"这道题要 {len(expected)} 个值，用分号 ; 隔开（{names_zh}），"
                f"你给了 {len(got)} 个。",
            )
        lines, ok = [], True
        for k, (g, e) in enumerate(zip(got, expected)):
            name = self.names[k] if self.names else None
            close = math.isclose(g, e, rel_tol=self.rel, abs_tol=self.abs)
            ok &= close
            what_en = f"{_pick(name, 'en')}: " if name else ""
            what_zh = f"{_pick(name, 'zh')}：" if name else ""
            if close:
                lines.append((f"{what_en}{g:,.10g} is right.", f"{what_zh}{g:,.10g} 对。"))
            else:
                off = roughly(g, e)
                lines.append((f"{what_en}{g:,.10g} is {off[0]}.", f"{what_zh}{g:,.10g} {off[1]}。"))
        return Verdict(ok, lines)


@dataclass
class Formula(Kind):
    """An expression in `variables` (name -> (low, high) for a real, or a sequence of allowed
    values), equal to `reference(**point)` at `points` random points. `derived(**point)`
    adds more names the formula may use (intermediate values: h1 = sigmoid(z1)). `answer` is
    the worked solution's expression; the tests check it passes."""

    answer: str
    reference: Callable[..., float]
    variables: dict[str, tuple[float, float] | Sequence[float]]
    derived: Callable[..., dict[str, float]] | None = None
    rtol: float = 1e-6
    atol: float = 1e-9
    points: int = 24
    kind: ClassVar[str] = "formula"

    def names(self) -> list[str]:
        extra = list(self.derived(**self._point(np.random.default_rng(0)))) if self.derived else []
        return [*self.variables, *extra]

    def label(self) -> Text:
        if len(self.variables) <= 3:
            names = ", ".join(self.variables)
            return f"a formula in {names}", f"公式（变量 {names}）"
        return "a formula", "公式"

    def placeholder(self) -> Text:
        return '--answer "EXPRESSION"', '--answer "表达式"'

    def answer_value(self, ex: Exercise) -> Any:
        return self.answer

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        return self.answer, None

    def _point(self, rng: np.random.Generator) -> dict[str, float]:
        point = {}
        for name, domain in self.variables.items():
            if isinstance(domain, tuple) and len(domain) == 2 and not isinstance(domain, range):
                point[name] = float(rng.uniform(*domain))
            else:
                point[name] = float(rng.choice(np.asarray(domain)))
        return point

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        if answer is None:
            raise _needs("--answer", self.placeholder())
        formula = read_formula(answer, self.names())
        ex.prepare()
        rng = np.random.default_rng([ex.lecture, ex.number])
        first, bad = None, 0
        for _ in range(self.points):
            point = self._point(rng)
            values = {**point, **(self.derived(**point) if self.derived else {})}
            expected = float(self.reference(**values))
            shown = ", ".join(f"{k} = {v:.4g}" for k, v in point.items())
            try:
                got = formula(**values)
            except (ArithmeticError, ValueError) as err:
                return Verdict(
                    False,
                    [(f"your formula cannot be computed at {shown} ({err}).",
                      f"在 {shown} 处你的公式算不出来（{err}）。")],
                )  # fmt: skip
            if not math.isclose(got, expected, rel_tol=self.rtol, abs_tol=self.atol):
                bad += 1
                first = first or (shown, expected, got)
        if first is None:
            return Verdict(
                True,
                [(f"your formula equals the answer at all {self.points} points.",
                  f"在全部 {self.points} 个点上，你的公式都等于答案。")],
            )  # fmt: skip
        shown, expected, got = first
        error = abs(got - expected)
        return Verdict(
            False,
            [(f"at {shown}, your formula gives {got:.6g}, the answer is {expected:.6g} "
              f"(error {error:.3g}); {bad} of {self.points} points differ.",
              f"在 {shown} 处，你的公式得 {got:.6g}，答案是 {expected:.6g}（误差 "
              f"{error:.3g}）；{self.points} 个点里有 {bad} 个不对。")],
        )  # fmt: skip


@dataclass
class Function(Kind):
    """A function `name` the learner writes in a file, run beside `reference` on each case of
    `cases(rng)`: a list of (label, args), the label a string or (English, Chinese). The
    worked solution's first ```python block is what the tests check passes."""

    name: str
    signature: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], list[tuple[Any, tuple]]]
    rtol: float = 1e-6
    atol: float = 1e-8
    oracle: Text = ("the reference", "参考实现")
    kind: ClassVar[str] = "function"
    needs_file: ClassVar[bool] = True

    def label(self) -> Text:
        return f"a function, `{self.signature}`", f"写函数 `{self.signature}`"

    def placeholder(self) -> Text:
        return "--file my_solution.py", "--file my_solution.py"

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        return None, solution_code(ex.solution[0])

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        if file is None:
            raise _needs("--file", self.placeholder())
        module = load_module(file)
        fn = getattr(module, self.name, None)
        if not callable(fn):
            raise AnswerError(
                f"{file} defines no function `{self.name}`: write `def {self.signature}` in it.",
                f"{file} 里没有函数 `{self.name}`：在里面写 `def {self.signature}`。",
            )
        ex.prepare()
        cases = self.cases(np.random.default_rng([ex.lecture, ex.number]))
        for k, (label, args) in enumerate(cases, 1):
            label = label if isinstance(label, tuple) else (label, label)
            where_en = f"case {k} of {len(cases)} ({label[0]})"
            where_zh = f"第 {k} 个用例（共 {len(cases)} 个；{label[1]}）"
            expected = self.reference(*copy.deepcopy(args))
            try:
                got = fn(*copy.deepcopy(args))
            except Exception as exc:  # noqa: BLE001 - the learner's error, reported
                en, zh = raised(exc, file)
                return Verdict(
                    False,
                    [(f"on {where_en}, `{self.name}` raised {en}.",
                      f"在{where_zh}上，`{self.name}` 抛出了 {zh}。")],
                )  # fmt: skip
            diff = first_difference(expected, got, self.rtol, self.atol)
            if diff is not None:
                part_en = f"part {diff.where} of the result" if diff.where else "the result"
                part_zh = f"结果的第 {diff.where} 部分" if diff.where else "结果"
                lines = [
                    (f"on {where_en}, {part_en} differs from {self.oracle[0]}: {diff.what[0]}.",
                     f"在{where_zh}上，{part_zh}和 {self.oracle[1]} 不一致：{diff.what[1]}。"),
                ]  # fmt: skip
                if diff.expected or diff.got:
                    lines.append((f"  expected: {diff.expected}", f"  应该是：{diff.expected}"))
                    lines.append((f"  got:      {diff.got}", f"  你得到：{diff.got}"))
                if diff.error is not None:
                    lines.append((f"  error:    {diff.error:.3g}", f"  误差：  {diff.error:.3g}"))
                return Verdict(False, lines)
        return Verdict(
            True,
            [(f"`{self.name}` agrees with {self.oracle[0]} on all {len(cases)} cases.",
              f"`{self.name}` 在全部 {len(cases)} 个用例上都和{self.oracle[1]}一致。")],
        )  # fmt: skip


@dataclass
class Run(Kind):
    """Settings the learner chooses, applied to `base()` and trained by `train(config)`,
    which returns the metric; it must reach `bar` (at least, or at most with `higher=False`).
    Only the settings in `keys` may change. `require(config)` may refuse a config before
    training, `also(config, value)` after reaching the bar (each returns (en, zh) or None).
    `answer` is the worked solution's settings; `template` what the command shows."""

    base: Callable[[], Any]
    train: Callable[[Any], float]
    bar: float
    metric: Text
    keys: Sequence[str]
    answer: str
    template: str
    higher: bool = True
    percent: bool = True
    seconds: str = "a few seconds"
    require: Callable[[Any], Text | None] | None = None
    also: Callable[[Any, float], Text | None] | None = None
    kind: ClassVar[str] = "run"

    def label(self) -> Text:
        return "a run", "训练一次"

    def placeholder(self) -> Text:
        return f'--answer "{self.template}"', f'--answer "{self.template}"'

    def answer_value(self, ex: Exercise) -> Any:
        return self.answer

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        return self.answer, None

    def show(self, value: float) -> str:
        return f"{100 * value:.1f}%" if self.percent else f"{value:.4g}"

    def config_for(self, answer: str | None, file: Path | None) -> tuple[Any, list[str]]:
        """The config to train (the base with the learner's settings) and the settings
        changed, as dotted keys; an AnswerError when a setting is unknown or not allowed."""
        from gradschool.config import apply_overrides, with_updates

        base = self.base()
        if file is not None:
            try:
                table = tomllib.loads(Path(file).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as err:
                raise AnswerError(f"{file}: {err}", f"{file}：{err}") from None
            config = with_updates(base, dict(_flatten(table)))
        elif answer is not None:
            config = apply_overrides(base, _override_args(answer))
        else:
            raise _needs("--answer", self.placeholder())
        before, after = dict(_flatten(base.to_dict())), dict(_flatten(config.to_dict()))
        changed = [k for k in after if after[k] != before.get(k)]
        refused = [k for k in changed if k not in self.keys]
        if refused:
            allowed = ", ".join(self.keys)
            raise AnswerError(
                f"this exercise lets you change only {allowed}; you changed {', '.join(refused)}.",
                f"这道题只允许改 {allowed}；你改了 {', '.join(refused)}。",
            )
        return config, changed

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        ex.prepare()
        config, changed = self.config_for(answer, file)
        if self.require is not None:
            refused = self.require(config)
            if refused is not None:
                return Verdict(False, [refused])
        start = time.perf_counter()
        value = float(self.train(config))
        seconds = time.perf_counter() - start
        reached = value >= self.bar if self.higher else value <= self.bar
        metric_en, metric_zh = self.metric
        got, bar = self.show(value), self.show(self.bar)
        side_en, side_zh = ("at least", "至少") if self.higher else ("at most", "至多")
        if not reached:
            return Verdict(
                False,
                [(f"{metric_en} {got} ({seconds:.0f} s of training); the bar is "
                  f"{side_en} {bar}.",
                  f"{metric_zh} {got}（训练 {seconds:.0f} 秒）；要求{side_zh} {bar}。")],
            )  # fmt: skip
        if self.also is not None:
            more = self.also(config, value)
            if more is not None:
                return Verdict(
                    False,
                    [(f"{metric_en} {got} reaches the bar ({bar}), but {more[0]}",
                      f"{metric_zh} {got} 达到了要求（{bar}），但是{more[1]}")],
                )  # fmt: skip
        return Verdict(
            True,
            [(f"{metric_en} {got} ({side_en} {bar} was asked).",
              f"{metric_zh} {got}（要求{side_zh} {bar}）。")],
        )  # fmt: skip


@dataclass
class Open(Kind):
    """A question a machine cannot check: the worked answer is shown on request."""

    kind: ClassVar[str] = "open"
    checkable: ClassVar[bool] = False

    def label(self) -> Text:
        return "open question", "开放题"

    def placeholder(self) -> Text:
        return "--solution", "--solution"

    def reference_submission(self, ex: Exercise) -> tuple[str | None, str | None]:
        return None, None

    def check(self, ex: Exercise, answer: str | None, file: Path | None) -> Verdict:
        raise AnswerError(
            "this is an open question: nothing to check. `--solution` shows a worked answer.",
            "这是开放题，没有可检查的答案。`--solution` 会显示参考解答。",
        )


def _needs(option: str, placeholder: Text) -> AnswerError:
    return AnswerError(
        f"this exercise is checked with {placeholder[0]}.",
        f"这道题要用 {placeholder[1]} 来检查。",
    )


def _flatten(table: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """{"optim": {"lr": 0.1}} -> [("optim.lr", 0.1)]"""
    out = []
    for key, value in table.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _override_args(text: str) -> list[str]:
    """`"model.sizes=[2, 4, 2] lr=0.1"` or `"--sizes 2,4,2 --lr 0.1"` -> `gradschool train`'s
    override arguments (a space inside brackets or quotes does not split)."""
    tokens = split_values(text, " ")  # a space inside brackets or quotes does not split
    args: list[str] = []
    for token in tokens:
        if token.startswith("--") or (args and args[-1].startswith("--") and "=" not in args[-1]):
            args.append(token)
        elif "=" in token:
            args.append(f"--{token}")
        else:
            raise AnswerError(
                f"{token!r}: write each setting as key=value (optim.lr=0.1), or as gradschool "
                f"train's options (--lr 0.1).",
                f"{token!r}：每个设置写成 键=值（如 optim.lr=0.1），"
                f"或者写成 gradschool train 的选项（--lr 0.1）。",
            )
    if not args:
        raise AnswerError(
            "no setting given: write key=value (optim.lr=0.1).",
            "没有给出任何设置：请写成 键=值（如 optim.lr=0.1）。",
        )
    return args


def solution_code(markdown: str) -> str | None:
    """The first ```python block of a solution (a Function's worked solution)."""
    found = re.search(r"```python\n(.*?)\n```", markdown, re.S)
    return found[1] + "\n" if found else None
