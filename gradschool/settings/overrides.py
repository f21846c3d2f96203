"""Changing settings by key: command-line overrides and Python updates.

    apply_overrides(config, ["--lr", "0.1", "--optim.momentum=0.5", "--no-nesterov"])
    with_updates(config, {"optim.lr": 0.1, "sizes": [784, 10]})

A key is dotted (`optim.lr`) or, when the name is unique, just its last part (`lr`); dashes
are underscores. An unknown key gets a did-you-mean over every key (and the names other
libraries use, `learning_rate` -> `lr`). Both return a validated copy.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gradschool.errors import ConfigError
from gradschool.settings.fields import (
    BOOL_WORDS,
    SYNONYMS,
    Mismatch,
    coerce,
    expect,
    hints,
    is_flag,
    is_section,
    leaf_paths,
    mismatch,
    parse,
    paths,
    sentence,
    toml_inline,
)
from gradschool.settings.validate import validate
from gradschool.text import top_level


def resolve_key(cls: type, key: str, flag: bool) -> str | None:
    """Dotted path of `key` (dotted, or a unique last part such as `lr`); None if unknown."""
    key = key.replace("-", "_")
    nodes = paths(cls)
    if key in nodes:
        return key
    matches = [p for p in nodes if p.endswith("." + key)]
    if len(matches) > 1:
        dash = "--" if flag else ""
        raise ConfigError(
            f"config key '{key}' is ambiguous: it could be {', '.join(matches)}. Write the"
            f" dotted key instead, e.g. {dash}{matches[-1]}."
        )
    return matches[0] if matches else None


def unknown_key(cls: type, key: str, flag: bool) -> ConfigError:
    """An unknown key, with a did-you-mean over every dotted key and every last part."""
    dash = "--" if flag else ""
    keys = leaf_paths(cls)
    homes: dict[str, list[str]] = {}
    for p in keys:
        homes.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    wanted = key.lower().replace("-", "_")
    last = wanted.rsplit(".", 1)[-1]
    if last in SYNONYMS:
        close = [SYNONYMS[last]]
    else:
        close = difflib.get_close_matches(wanted, sorted(set(keys) | set(homes)), n=1)
    if close:
        where = homes.get(close[0], close)  # a last part may live in several sections
        full = f" ({', '.join(where)})" if where != close else ""
        hint = f" Did you mean '{close[0]}'{full}?"
    else:
        hint = f" The keys are: {', '.join(keys)}."
    return ConfigError(
        f"unknown config key '{key}'.{hint} A key is dotted ({dash}optim.lr) or, when the name"
        f" is unique, just its last part ({dash}lr)."
    )


def set_value(obj: Any, path: str, value: Any, from_text: bool, origin: str) -> None:
    """Convert `value` for the field at `path` and store it in `obj` (in place)."""
    cls: type = type(obj)  # (annotated: mypy holds type(<Any>) unhashable for @cache)
    tp, _ = paths(cls)[path]
    if is_section(tp) and isinstance(value, tp):  # a whole section object
        value, tp = copy.deepcopy(value), Any
    elif is_section(tp):  # a whole section given as a table: merge its keys
        table = value
        if from_text:
            try:
                table = toml_inline(value)
            except Mismatch:
                table = None
        if not isinstance(table, Mapping):
            raise ConfigError(sentence(mismatch(path, tp, value, origin)))
        for key, v in table.items():
            sub = f"{path}.{key}"
            if sub not in paths(cls):
                raise unknown_key(cls, sub, flag=bool(from_text))
            set_value(obj, sub, v, False, origin)
        return
    try:
        value = parse(value, tp) if from_text else coerce(value, tp)
    except Mismatch:
        raise ConfigError(sentence(mismatch(path, tp, value, origin))) from None
    *parents, leaf = path.split(".")
    target = obj
    for name in parents:
        target = getattr(target, name)
    setattr(target, leaf, value)


def _switch(cls: type, path: str) -> str:
    """A section that is switched on and off (it has a bool `enabled`) is switched by its
    name: `--dp` means `--dp.enabled`, `--no-dp` means `--dp.enabled=false`."""
    tp = paths(cls)[path][0]
    if is_section(tp) and hints(tp).get("enabled") is bool:
        return f"{path}.enabled"
    return path


def _parse_args(cls: type, args: Sequence[str]) -> Iterator[tuple[str, Any, bool, str]]:
    """Yield (path, value, value_is_text, origin) for each override in `args`."""
    args = list(args)
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("--") or len(token) < 3:
            raise ConfigError(
                f"unexpected argument {token!r}: overrides are written --key value or"
                " --key=value, e.g. --lr 0.1 or --optim.momentum=0.5."
            )
        key, eq, text = token[2:].partition("=")
        path = resolve_key(cls, key, flag=True)
        if path is None and key.replace("-", "_").startswith("no_"):
            negated = resolve_key(cls, key[3:], flag=True)
            negated = None if negated is None else _switch(cls, negated)
            if negated is not None and not is_flag(paths(cls)[negated][0]):
                raise ConfigError(
                    f"{token} works only for true/false settings, and {negated} must be"
                    f" {expect(paths(cls)[negated][0])}: write --{key[3:]} VALUE instead."
                )
            if negated is not None:
                if eq:
                    raise ConfigError(
                        f"{token} takes no value: write --{key} or --{key[3:]}=false."
                    )
                yield negated, False, False, token
                continue
        if path is None:
            raise unknown_key(cls, key, flag=True)
        path = _switch(cls, path)
        tp = paths(cls)[path][0]
        if eq:
            yield path, text, True, token
        elif is_flag(tp):
            if i < len(args) and args[i].strip().lower() in BOOL_WORDS:
                yield path, args[i], True, f"{token} {args[i]}"
                i += 1
            else:
                yield path, True, False, token
        elif i < len(args) and not args[i].startswith("--"):
            yield path, args[i], True, f"{token} {args[i]}"
            i += 1
        else:
            raise ConfigError(
                f"{token} needs a value ({path} must be {expect(tp)}): write {token} VALUE"
                f" or {token}=VALUE."
            )


def apply_overrides(obj: Any, args: Sequence[str]) -> Any:
    """Return a validated copy of `obj` with command-line overrides applied.

    Forms: `--lr 0.1`, `--optim.lr=0.1`, `--batch-size full` (dashes = underscores), `--nesterov`
    / `--no-nesterov` / `--nesterov=false`, `--sizes 784,256,10` or `--sizes "[784, 256, 10]"`,
    `--name none`, and a whole section as a TOML inline table `--optim "{lr = 0.1}"`.
    Later overrides win. `obj` itself is not changed.
    """
    if isinstance(args, str):  # NOTE: a string is a sequence of characters, not of arguments
        raise TypeError("apply_overrides wants a list of arguments, e.g. shlex.split(text)")
    new = copy.deepcopy(obj)
    for path, value, from_text, origin in _parse_args(type(obj), args):
        set_value(new, path, value, from_text, f"from {origin}")
    validate(new)
    return new


def with_updates(obj: Any, updates: Mapping[str, Any]) -> Any:
    """Return a validated copy of `obj` with Python values set by key.

    Keys are dotted (`"optim.lr"`) or unique last parts (`"lr"`); values are typed Python
    values (`0.1`, `"full"`, `[784, 10]`, None), checked like TOML values. A hyper-parameter
    search writes each trial as `with_updates(base, {"optim.lr": lr})`.
    """
    new = copy.deepcopy(obj)
    for key, value in updates.items():
        path = resolve_key(type(obj), key, flag=False)
        if path is None:
            raise unknown_key(type(obj), key, flag=False)
        set_value(new, path, value, False, f"from with_updates key {key!r}")
    validate(new)
    return new


def split_values(text: str, separator: str = ",") -> list[str]:
    """Split "v1,v2,[1,2]" on the commas outside brackets and quotes (a list of values
    written on the command line: `--vary batch_size=full,64`, `step:gamma=0.5,step_size=10`).
    `separator=" "` splits on any whitespace instead ("lr=0.1 sizes=[2, 4]": two settings)."""
    values, start = [], 0
    for i, char in top_level(text, "[{", "]}"):  # NOTE: parentheses do not nest here
        if char.isspace() if separator == " " else char == separator:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return [v for v in values if v]
