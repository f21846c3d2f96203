"""What a settings field is: its declaration, what its annotation accepts, how values read.

Everything else in the settings library (TOML, command-line overrides, validation) is driven
by the fields' type annotations, through the functions here:

- `setting(default, help=..., ge=..., check=...)` declares a field;
- `paths(cls)` lists every dotted key of a (nested) dataclass: "optim.lr", "data.audio.n_fft";
- `coerce(value, tp)` checks a Python / TOML value against an annotation, `parse(text, tp)`
  converts command-line text; both raise `Mismatch`, which callers turn into a ConfigError
  whose text `mismatch(path, tp, value)` writes;
- `expect(tp)` and `type_name(tp)` say in words what an annotation accepts.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import numbers
import sys
import types
from collections.abc import Callable
from dataclasses import field
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
NONE = type(None)
BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True}
BOOL_WORDS |= {"false": False, "no": False, "off": False, "0": False}

# Names other libraries use for the same settings: a spelling match would miss them.
SYNONYMS = {
    "learning_rate": "lr",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "batchsize": "batch_size",
    "bs": "batch_size",
    "optimizer": "optim.name",
    "scheduler": "schedule.name",
    "wd": "weight_decay",
}


class Mismatch(Exception):
    """A value does not fit an annotation (turned into a ConfigError by the caller)."""


def setting(
    default: Any,
    *,
    help: str = "",
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare a config field: its default, a one-line help text and its range rule.

    `gt`/`ge`/`lt`/`le` bound a numeric value (a non-numeric alternative such as "full" or
    None is not bounded). `check(value)` returns None when the value is fine, else what the
    value must be (e.g. "a list of at least 2 sizes"), which becomes the error message; None is
    never checked. A list default is copied for each instance.
    """
    bounds = {
        name: v for name, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if v is not None
    }
    metadata = {"help": help, "bounds": bounds, "check": check}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


# ---- the shape of a settings class ------------------------------------------------------------


@cache
def hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields (they are strings under __future__)."""
    resolved = get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls)}


@cache
def paths(cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every dotted path (sections and leaves, any depth) -> (annotation, field)."""
    nodes: dict[str, tuple[Any, dataclasses.Field]] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, tp in hints(cls).items():
        nodes[name] = (tp, fields[name])
        if is_section(tp):
            nodes.update({f"{name}.{p}": node for p, node in paths(tp).items()})
    return nodes


def leaf_paths(cls: type) -> list[str]:
    """The dotted keys that hold values (not sections), in declaration order."""
    return [p for p, (tp, _) in paths(cls).items() if not is_section(tp)]


# ---- what an annotation is --------------------------------------------------------------------


def is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def is_flag(tp: Any) -> bool:
    """bool or bool | None: may be written `--key` alone."""
    return tp is bool or (is_union(tp) and set(get_args(tp)) == {bool, NONE})


def alternatives(tp: Any) -> tuple[Any, ...]:
    return get_args(tp) if is_union(tp) else (tp,)


def expect(tp: Any) -> str:
    """What a value of this annotation looks like, for error messages."""
    plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if is_union(tp):
        return " or ".join(expect(a) for a in get_args(tp))
    if get_origin(tp) is Literal:
        choices = ", ".join(toml_value(c) for c in get_args(tp))
        return f"one of {choices}" if len(get_args(tp)) > 1 else choices
    if get_origin(tp) is list:
        return f"a list of {plural.get(get_args(tp)[0], 'values')}"
    if is_section(tp):
        return f"a table of {tp.__name__} settings"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(tp, "none" if tp is NONE else "any value")


def type_name(tp: Any) -> str:
    """A short type for `describe`: int, list[int], "relu" | "tanh", int | "full", str | none."""
    if is_union(tp):
        return " | ".join(type_name(a) for a in get_args(tp))
    if get_origin(tp) is Literal:
        return " | ".join(toml_value(c) for c in get_args(tp))
    if get_origin(tp) is list:
        return f"list[{type_name(get_args(tp)[0])}]"
    return "none" if tp is NONE else getattr(tp, "__name__", str(tp))


# ---- values in: Python / TOML values and command-line text ------------------------------------


def coerce(value: Any, tp: Any) -> Any:
    """Check (and lightly convert: int -> float, tuple -> list) a Python/TOML value."""
    if tp is Any:
        return value
    if is_union(tp):
        for alt in get_args(tp):
            try:
                return coerce(value, alt)
            except Mismatch:
                pass
        raise Mismatch
    if get_origin(tp) is Literal:
        for choice in get_args(tp):
            same_kind = isinstance(value, type(choice)) and isinstance(value, bool) == isinstance(
                choice, bool
            )
            if same_kind and value == choice:
                return choice
        raise Mismatch
    if get_origin(tp) is list:
        if not isinstance(value, (list, tuple)):
            raise Mismatch
        return [coerce(v, get_args(tp)[0]) for v in value]
    if is_section(tp):
        if isinstance(value, tp):
            return copy.deepcopy(value)
        raise Mismatch
    if tp is NONE and value is None:
        return None
    if tp is bool and isinstance(value, bool):
        return value
    if isinstance(value, bool):  # NOTE: bool is an int subclass; True is not an epoch count
        raise Mismatch
    # numbers.* also admit NumPy scalars, e.g. from a search grid built with np.logspace.
    if tp is int and isinstance(value, numbers.Integral):
        return int(value)
    if tp is float and isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if tp is str and isinstance(value, str):
        return str(value)
    raise Mismatch


def parse(text: str, tp: Any) -> Any:
    """Convert command-line text to a value of the annotation `tp`."""
    word = text.strip()
    if is_union(tp):
        alts = get_args(tp)
        if NONE in alts and word.lower() in ("none", "null"):
            return None
        for alt in sorted(alts, key=lambda a: a is str):  # str accepts anything: try it last
            try:
                return parse(text, alt)
            except Mismatch:
                pass
        raise Mismatch
    if get_origin(tp) is Literal:
        for choice in get_args(tp):
            try:
                if parse(word, type(choice)) == choice:
                    return choice
            except Mismatch:
                pass
        raise Mismatch
    if get_origin(tp) is list:
        if word.startswith("["):  # a TOML inline array: [784, 256, 10]
            return coerce(toml_inline(word), tp)
        return [parse(item, get_args(tp)[0]) for item in word.split(",") if item.strip()]
    if tp is bool and word.lower() in BOOL_WORDS:
        return BOOL_WORDS[word.lower()]
    if tp in (int, float):
        try:
            return coerce(tp(word), tp)
        except ValueError:
            raise Mismatch from None
    if tp is str:
        if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":  # '"none"' is a string
            try:
                return coerce(toml_inline(word), str)
            except Mismatch:
                pass
        return text
    if tp is Any:
        return text
    raise Mismatch


def toml_inline(text: str) -> Any:
    """A TOML value written on the command line: [1, 2], {lr = 0.1}, "text"."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        raise Mismatch from None


# ---- values out --------------------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_value(v: Any) -> str:
    """One value in TOML syntax (str, bool, int, float or a list of them)."""
    if isinstance(v, str):
        chars = (
            _ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in v
        )
        return '"' + "".join(chars) + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))  # round-trips exactly: 0.01, 1e-05 (float() drops np.float64(...))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as TOML")


# ---- error text --------------------------------------------------------------------------------


def mismatch(path: str, tp: Any, value: Any, origin: str = "") -> str:
    """`path must be <what tp accepts>, got <value>`, with a did-you-mean for choices."""
    msg = f"{path} must be {expect(tp)}, got {value!r}"
    if origin:
        msg += f" ({origin})"
    choices = [str(c) for a in alternatives(tp) if get_origin(a) is Literal for c in get_args(a)]
    close = difflib.get_close_matches(str(value), choices, n=1)
    if isinstance(value, str) and close:
        msg += f'. Did you mean "{close[0]}"?'
    return msg


def sentence(text: str) -> str:
    """End a sentence with a full stop unless it already ends with punctuation."""
    return text if text.endswith((".", "?", "!")) else text + "."
