"""Checking a settings object against its declaration, and describing it.

`validate(obj)` checks every value's type and range rule (`setting(..., ge=0, check=...)`),
then each section's own `cross_check(where)` (rules between fields of one section, such as
"nesterov needs momentum"), and raises ONE ConfigError listing every problem. `describe(obj)`
is the table that `--help` prints: key, value, type, help.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any, get_origin

from gradschool.errors import ConfigError
from gradschool.settings.fields import (
    BOUNDS,
    Mismatch,
    alternatives,
    coerce,
    expect,
    hints,
    is_section,
    mismatch,
    paths,
    sentence,
    toml_value,
    type_name,
)

_OPS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


def problems(obj: Any, cls: type, prefix: str = "") -> Iterator[str]:
    """What is wrong with `obj` (an instance of the dataclass `cls`), one sentence each."""
    found = False
    for f in dataclasses.fields(cls):
        tp, value, path = hints(cls)[f.name], getattr(obj, f.name), prefix + f.name
        if is_section(tp) and isinstance(value, tp):
            yield from problems(value, tp, path + ".")
            continue
        try:
            value = coerce(value, tp)
        except Mismatch:
            found = True
            yield mismatch(path, tp, value)
            continue
        problem = range_problem(value, tp, f.metadata)
        if problem:
            found = True
            yield f"{path} must be {problem}, got {value!r}"
    cross_check = getattr(obj, "cross_check", None)
    if not found and cross_check is not None:
        problem = cross_check(prefix[:-1])
        if problem:
            yield problem


def range_problem(value: Any, tp: Any, metadata: Mapping[str, Any]) -> str | None:
    """What the value must be, when it breaks its field's rule; else None."""
    bounds = metadata.get("bounds") or {}
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and not all(_OPS[name](value, limit) for name, limit in bounds.items()):
        rule = " and ".join(f"{op} {bounds[name]!r}" for name, op in BOUNDS if name in bounds)
        alts = alternatives(tp)
        kind = "an integer " if int in alts and float not in alts else ""
        others = [expect(a) for a in alts if a not in (int, float) and get_origin(a) is not list]
        return kind + rule + "".join(f" or {o}" for o in others)
    check = metadata.get("check")
    return check(value) if check is not None and value is not None else None


def validate(obj: Any) -> None:
    """Check every value's type and range rule; raise one ConfigError listing the problems."""
    found = list(problems(obj, type(obj)))
    if len(found) == 1:
        path = found[0].split(" ", 1)[0]
        raise ConfigError(
            f"{sentence(found[0])} Fix it in the config file or override it on the command line"
            f" (--{path}=VALUE)."
        )
    if found:
        raise ConfigError(
            f"the config has {len(found)} problems: {'; '.join(found)}. Fix them in the"
            " config file or override them on the command line (--section.key=VALUE)."
        )


def describe(obj: Any, width: int | None = None) -> str:
    """Every key with its value, type and help, one per line (for `--help` output). When the
    table is wider than `width` columns, each key takes two or more lines instead."""
    rows = []
    cls: type = type(obj)  # (annotated: mypy holds type(<Any>) unhashable for @cache)
    for path, (tp, f) in paths(cls).items():
        if is_section(tp):
            continue
        value: Any = obj
        for name in path.split("."):
            value = getattr(value, name)
        shown = "none" if value is None else toml_value(value)
        rows.append((path, shown, type_name(tp), f.metadata.get("help", "")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])) for row in rows)
    table = "\n".join(line.rstrip() for line in lines)
    if width is None or max(map(len, table.splitlines())) <= width:
        return table
    wrap = functools.partial(textwrap.fill, width=width, subsequent_indent="      ")
    return "\n".join(
        wrap(f"{path} = {shown}  ({kind})") + (f"\n{wrap('      ' + help)}" if help else "")
        for path, shown, kind, help in rows
    )
