"""Reading and comparing a learner's answers: numbers, formulas, the values a function returns,
and the learner's own file. The kinds of exercises (exercises.py) check with these.

    read_numbers("203,530")                  -> [203530.0]
    read_numbers("32; 31.25")                -> [32.0, 31.25]
    formula = read_formula("0.25^(2/T)", ["T"])  # ^ is read as a power
    formula(T=100.0)                         -> 0.9726...
    first_difference(expected, got)          -> None, or a Difference saying where and how much

A formula is parsed, never executed as code: only numbers, its variables, + - * / ** and a few
functions of `math` (sqrt, exp, log, ...) are allowed. A learner's file (`--file`) is their own
code and runs as such.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import math
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gradschool.errors import ConfigError

__all__ = [
    "AnswerError",
    "Difference",
    "FUNCTIONS",
    "Verdict",
    "first_difference",
    "load_module",
    "read_formula",
    "read_numbers",
    "roughly",
    "show_value",
]

Text = tuple[str, str]  # (English, Chinese)


class AnswerError(ConfigError):
    """An answer that cannot be checked at all (not a number, an unknown name, a file that
    does not import): said in both languages; it does not count as a try, and the command
    exits 2 (a usage error: fix the answer and run it again)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh

    def say(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass
class Verdict:
    """The outcome of one check: right or not, and why, in both languages (one line each)."""

    ok: bool
    lines: list[Text]


# ---- formulas and numbers --------------------------------------------------------------------

# The functions a formula (or a number) may call, by the names a learner would write.
FUNCTIONS: dict[str, Any] = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "tanh": math.tanh,
    "abs": abs,
    "min": min,
    "max": max,
    "pi": math.pi,
    "e": math.e,
}
_CONSTANTS = ("pi", "e")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
# What people type that Python spells otherwise: ^ for a power, × · for times, − for minus.
_SPELLINGS = (("^", "**"), ("×", "*"), ("·", "*"), ("−", "-"), ("÷", "/"))
_THOUSANDS = re.compile(r"(?<=\d)[,_](?=\d{3}(?!\d))")


def _normalise(text: str) -> str:
    for old, new in _SPELLINGS:
        text = text.replace(old, new)
    return text.strip()


def _parse(text: str, names: Sequence[str], what: Text) -> ast.Expression:
    """`text` as a Python expression made only of numbers, `names`, arithmetic and FUNCTIONS;
    an AnswerError says what else it found."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        en = f"could not read {text!r} as {what[0]}: {err.msg} (at character {err.offset or 0})."
        zh = f"读不懂{what[1]} {text!r}：{err.msg}（第 {err.offset or 0} 个字符）。"
        if re.search(r"\d[A-Za-z_(]", text):
            en += " Write every product with *: 2*T, not 2T."
            zh += "乘号不能省略：要写 2*T，不能写 2T。"
        raise AnswerError(en, zh) from None
    allowed = set(names) | set(FUNCTIONS)
    functions = ", ".join(name for name in FUNCTIONS if name not in _CONSTANTS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in allowed:
            known = ", ".join(names) if names else "none"
            raise AnswerError(
                f"{text!r} uses {node.id!r}, which is neither a variable of this exercise "
                f"({known}) nor a function it knows ({functions}, pi, e).",
                f"{text!r} 用到了 {node.id!r}，它既不是这道题的变量（{known}），也不是认得的函数"
                f"（{functions}，以及 pi、e）。",
            )
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id in _CONSTANTS or node.keywords
        ):
            raise AnswerError(
                f"{text!r}: only plain calls of {functions} are allowed.",
                f"{text!r}：只能直接调用这些函数：{functions}。",
            )
        if isinstance(node, ast.Constant) and (
            not isinstance(node.value, (int, float)) or isinstance(node.value, bool)
        ):
            raise AnswerError(
                f"{text!r} contains {node.value!r}; {what[0]} is made of numbers and variables.",
                f"{text!r} 里有 {node.value!r}；{what[1]}只能由数和变量组成。",
            )
        if isinstance(node, (ast.BinOp, ast.UnaryOp)) and not isinstance(node.op, _OPERATORS):
            raise AnswerError(
                f"{text!r}: only + - * / ** are allowed (a power is ** or ^).",
                f"{text!r}：只能用 + - * / **（乘方写成 ** 或 ^）。",
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise AnswerError(
                f"{text!r} is not {what[0]} ({type(node).__name__} is not allowed).",
                f"{text!r} 不是{what[1]}（不允许 {type(node).__name__}）。",
            )
    # NOTE: integers become floats, so that 9**9**9 overflows at once instead of computing
    # a number with hundreds of millions of digits.
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            node.value = float(node.value)
    return tree


_ALLOWED_NODES = (ast.Expression, ast.Name, ast.Call, ast.Constant, ast.BinOp, ast.UnaryOp,
                  ast.Load, ast.Tuple, ast.operator, ast.unaryop)  # fmt: skip


def read_formula(text: str, names: Sequence[str]) -> Callable[..., float]:
    """The learner's formula as a function of keyword arguments `names` (floats)."""
    text = _normalise(text)
    if not text:
        raise AnswerError("the formula is empty.", "公式是空的。")
    tree = _parse(text, names, ("a formula", "公式"))
    if isinstance(tree.body, ast.Tuple):
        raise AnswerError(
            f"{text!r} is several values; a formula is one expression.",
            f"{text!r} 是几个值，公式只能是一个表达式。",
        )
    code = compile(tree, "<formula>", "eval")

    def formula(**values: float) -> float:
        return float(eval(code, {"__builtins__": {}, **FUNCTIONS}, values))  # noqa: S307

    return formula


def read_numbers(text: str) -> list[float]:
    """One number or several separated by ";" (a comma between digits is a thousands
    separator: 203,530). Each may be a little arithmetic (2/25, 2**-9, 1e-3); a trailing %
    divides by 100."""
    text = _normalise(text)
    if not text:
        raise AnswerError("the answer is empty: write a number.", "答案是空的，请写一个数。")
    values = []
    for part in [p.strip() for p in text.split(";")]:
        if not part:
            continue
        percent = part.endswith("%")
        part = _THOUSANDS.sub("", part.rstrip("%").strip())
        if re.search(r"[A-Za-z]{2,}", re.sub(r"\b(sqrt|exp|log\d*|ln|pi)\b", "", part)):
            raise AnswerError(
                f"{part!r}: write only the number, without units or words (0.25, 1e-3, 203,530; "
                f"several values separated by ';').",
                f"{part!r}：只写数，不要带单位或文字（如 0.25、1e-3、203,530；"
                f"几个值用分号 ; 隔开）。",
            )
        tree = _parse(part, [], ("a number", "数"))
        items = tree.body.elts if isinstance(tree.body, ast.Tuple) else [tree.body]
        for item in items:
            code = compile(ast.Expression(item), "<number>", "eval")
            try:
                value = float(eval(code, {"__builtins__": {}, **FUNCTIONS}, {}))  # noqa: S307
            except (ArithmeticError, ValueError, TypeError) as err:
                raise AnswerError(f"{part!r}: {err}", f"{part!r}：{err}") from None
            values.append(value / 100 if percent else value)
    return values


def roughly(got: float, expected: float) -> Text:
    """How far `got` is from `expected`, coarsely, so that it guides without giving the answer
    away: "too small, by less than 0.1%", "too large, by about 20%", "about 3 times too large"."""
    if expected == 0 or not math.isfinite(got):
        return ("off", "不对")
    if got == 0 or math.copysign(1, got) != math.copysign(1, expected):
        return ("of the wrong sign, or zero", "符号不对，或者是 0")
    ratio = got / expected
    en, zh = ("too large", "偏大") if ratio > 1 else ("too small", "偏小")
    rel = abs(ratio - 1)
    for limit, text in ((1e-4, "0.01%"), (1e-3, "0.1%"), (1e-2, "1%")):
        if rel < limit:
            return (f"{en}, by less than {text}", f"{zh}，差不到 {text}")
    if 0.5 <= ratio <= 2:
        pct = f"{float(f'{100 * rel:.1g}'):g}%"
        return (f"{en}, by about {pct}", f"{zh}，大约差 {pct}")
    factor = f"{float(f'{max(ratio, 1 / ratio):.2g}'):g}"
    return (f"about {factor} times {en}", f"{zh}，差了大约 {factor} 倍")


# ---- values a function returns ----------------------------------------------------------------


def show_value(value: Any, width: int = 60) -> str:
    """A short picture of a value for a message: an array by its shape and a few numbers."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            text = np.array2string(value, precision=6, separator=", ").replace("\n", "")
        else:
            flat = ", ".join(f"{v:.6g}" for v in value.ravel()[:4])
            text = f"[{flat}, ...]"
        return f"{text} (shape {value.shape}, {value.dtype})"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, (tuple, list)):
        return "sequence"
    return type(value).__name__


@dataclass
class Difference:
    """Where a learner's value differs from the expected one, and by how much."""

    where: str  # "" for the whole value, "[1]" for the second of a tuple, "['cat']" for a key
    # (an array's own index is in `what`: "3 of 12 values differ; the largest error is at [2, 1]")
    what: Text  # what differs, in both languages
    expected: str = ""
    got: str = ""
    error: float | None = None  # the largest absolute error, for numbers and arrays


def first_difference(
    expected: Any, got: Any, rtol: float = 1e-6, atol: float = 1e-8, where: str = ""
) -> Difference | None:
    """None when `got` equals `expected` (numbers and arrays within rtol/atol, recursively
    through tuples, lists and dicts), else the first difference."""
    kinds = _kind(expected), _kind(got)
    if kinds[0] in ("number", "bool") and kinds[1] == "array" and np.ndim(got) == 0:
        got, kinds = got.item(), (kinds[0], "number")
    if kinds[0] == "array" and kinds[1] in ("number", "bool", "sequence"):
        with contextlib.suppress(ValueError, TypeError):  # a ragged list stays a sequence
            got, kinds = np.asarray(got), (kinds[0], "array")
    if kinds[0] != kinds[1] and not {*kinds} <= {"number", "bool"}:
        return Difference(
            where,
            (f"expected {_article(kinds[0])}, got {_article(kinds[1])}",
             f"应该是{_zh_kind(kinds[0])}，得到的是{_zh_kind(kinds[1])}"),
            show_value(expected),
            show_value(got),
        )  # fmt: skip
    if kinds[0] == "sequence":
        if len(expected) != len(got):
            return Difference(
                where,
                (f"expected {len(expected)} values, got {len(got)}",
                 f"应该有 {len(expected)} 个值，得到 {len(got)} 个"),
            )  # fmt: skip
        for i, (e, g) in enumerate(zip(expected, got)):
            found = first_difference(e, g, rtol, atol, f"{where}[{i}]")
            if found:
                return found
        return None
    if kinds[0] == "dict":
        if set(expected) != set(got):
            missing = sorted(map(str, set(expected) - set(got)))
            extra = sorted(map(str, set(got) - set(expected)))
            return Difference(
                where,
                (f"the keys differ (missing: {missing or 'none'}; not expected: "
                 f"{extra or 'none'})",
                 f"键不一致（缺少：{missing or '无'}；多出：{extra or '无'}）"),
            )  # fmt: skip
        for key in expected:
            found = first_difference(expected[key], got[key], rtol, atol, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if kinds[0] in ("number", "bool"):
        e, g = float(expected), float(got)
        if np.isclose(g, e, rtol=rtol, atol=atol) or (np.isnan(e) and np.isnan(g)):
            return None
        error = abs(g - e) if np.isfinite(g) else math.inf
        return Difference(
            where, ("the value differs", "数值不同"), show_value(expected), show_value(got), error
        )
    if kinds[0] == "array":
        e, g = np.asarray(expected), np.asarray(got)
        if e.shape != g.shape:
            return Difference(
                where,
                (f"expected shape {e.shape}, got {g.shape}",
                 f"形状应该是 {e.shape}，得到的是 {g.shape}"),
            )  # fmt: skip
        if e.dtype.kind in "biuf" and g.dtype.kind in "biuf":
            ef, gf = e.astype(np.float64), g.astype(np.float64)
            close = np.isclose(gf, ef, rtol=rtol, atol=atol) | (np.isnan(ef) & np.isnan(gf))
            if close.all():
                return None
            errors = np.where(close, 0.0, np.abs(gf - ef))
            errors = np.where(np.isnan(errors), np.inf, errors)
            at = np.unravel_index(int(np.argmax(errors)), e.shape) if e.ndim else ()
            index = "[" + ", ".join(map(str, at)) + "]"
            bad = int((~close).sum())
            return Difference(
                where,
                (f"{bad} of {e.size} values differ; the largest error is at {index}",
                 f"{e.size} 个值里有 {bad} 个不同；最大误差在 {index}"),
                f"{ef[at]:.6g}",
                f"{gf[at]:.6g}",
                float(errors[at]),
            )  # fmt: skip
        if not np.array_equal(e, g):
            return Difference(where, ("the values differ", "值不同"), show_value(e), show_value(g))
        return None
    if expected != got:
        return Difference(
            where, ("the value differs", "值不同"), show_value(expected), show_value(got)
        )
    return None


def _article(kind: str) -> str:
    return {"array": "an array", "number": "a number", "sequence": "a tuple or list",
            "dict": "a dict", "NoneType": "None (did the function return anything?)",
            "bool": "a bool"}.get(kind, f"a {kind}")  # fmt: skip


def _zh_kind(kind: str) -> str:
    names = {"array": "数组", "number": "一个数", "sequence": "元组或列表", "dict": "字典",
             "NoneType": " None（函数有没有 return？）", "bool": "布尔值"}  # fmt: skip
    return names.get(kind, f" {kind}")


# ---- the learner's file -----------------------------------------------------------------------


def load_module(path: str | Path) -> ModuleType:
    """Import the learner's Python file (their own code: it runs). A file that is missing or
    does not import is an AnswerError that says why, with the line."""
    path = Path(path)
    if not path.is_file():
        raise AnswerError(
            f"no file {path}: write your solution in a Python file and pass it with --file.",
            f"找不到文件 {path}：把答案写进一个 Python 文件，再用 --file 传进来。",
        )
    name = f"gradschool_answer_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the learner's error, reported with its line
        en, zh = raised(exc, path)
        raise AnswerError(f"{path} does not run: {en}", f"{path} 运行出错：{zh}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def raised(exc: BaseException, path: str | Path | None = None) -> Text:
    """'ValueError: ... (my_solution.py, line 7)': an exception and the deepest line of the
    learner's file in its traceback."""
    message = str(exc).strip().split("\n")[0]
    summary = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if path is not None:
        tb = traceback.extract_tb(exc.__traceback__)
        lines = [f.lineno for f in tb if Path(f.filename).resolve() == Path(path).resolve()]
        if lines:
            name = Path(path).name
            return f"{summary} ({name}, line {lines[-1]})", f"{summary}（{name} 第 {lines[-1]} 行）"
    return summary, summary
