"""Settings in TOML files: read one (a path, or a name bundled with gradschool), build a
settings object from it, write one back.

    source, table = read_toml("seed_mlp", bundled="configs")   # gradschool/configs/seed_mlp.toml
    config = from_dict(Config, table, f"config file '{source}'")
    config = load(Config, "runs/x/config.toml", ["--lr", "0.1"])   # the three steps in one
    save_toml(config, "runs/x/config.toml")

A table's missing keys keep the defaults of the object's class (of its own section defaults,
too: RL's [optim] defaults to Adam, not to the supervised default SGD). An unknown key or
section is an error with a did-you-mean. TOML has no null: a None value is written by leaving
its key out, so a field that may be None must default to None.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradschool.errors import ConfigError
from gradschool.settings.fields import (
    SYNONYMS,
    Mismatch,
    coerce,
    hints,
    is_section,
    mismatch,
    paths,
    sentence,
    toml_value,
    tomllib,
)
from gradschool.settings.overrides import apply_overrides

if TYPE_CHECKING:  # annotations only: importlib.abc is deprecated from 3.12, its successor is 3.11+
    from importlib.abc import Traversable

PathOrName = str | os.PathLike[str]
logger = logging.getLogger(__name__)


# ---- reading ------------------------------------------------------------------------------------


def _bundled(path: str) -> Traversable:
    """`gradschool/<path>` among the package's files (`path` may hold slashes)."""
    # NOTE: one part per joinpath: Traversable.joinpath takes several only from Python 3.11.
    where = resources.files("gradschool")
    for part in path.split("/"):
        where = where.joinpath(part)
    return where


def bundled_names(folder: str = "configs") -> list[str]:
    """Names of the TOML files shipped in `gradschool/<folder>/` (e.g. `seed_mlp`)."""
    where = _bundled(folder)
    return sorted(p.name[: -len(".toml")] for p in where.iterdir() if p.name.endswith(".toml"))


def _looks_like_path(path_or_name: PathOrName) -> bool:
    name = str(path_or_name)
    return (
        not isinstance(path_or_name, str)
        or name.endswith(".toml")
        or any(sep and sep in name for sep in (os.sep, os.altsep, "/"))
        or Path(name).is_file()
    )


def _read_text(path_or_name: PathOrName, bundled: str | None, kind: str) -> tuple[str, str]:
    """Return (a name for messages, the file's text); a bare name means a bundled file."""
    name = str(path_or_name)
    if bundled is not None and not _looks_like_path(path_or_name):
        target = _bundled(f"{bundled}/{name}.toml")
        if not target.is_file():
            noun = kind.removesuffix(" file")  # "config", "search"
            raise ConfigError(
                f"there is no bundled {noun} named '{name}'. The bundled {noun}s are:"
                f" {', '.join(bundled_names(bundled)) or '(none)'}. To load your own file, give"
                f" its path, e.g. ./{name}.toml."
            )
        return f"gradschool/{bundled}/{name}.toml", target.read_text(encoding="utf-8")
    path = Path(path_or_name)
    try:
        return name, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        others = (
            f", or name a bundled {kind.removesuffix(' file')} instead:"
            f" {', '.join(bundled_names(bundled))}"
            if bundled is not None
            else ""
        )
        raise ConfigError(
            f"{kind} '{name}' does not exist (looked for {path.absolute()}). Check the"
            f" path{others}."
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{kind} '{name}' cannot be read: {e}. Give a readable UTF-8 .toml file."
        ) from None


def read_toml(
    path_or_name: PathOrName, bundled: str | None = "configs", kind: str = "config file"
) -> tuple[str, dict[str, Any]]:
    """(a name for messages, the file's tables). A bare name (no `.toml`, no folder) is a
    file bundled in `gradschool/<bundled>/`; `bundled=None` reads paths only. Bad TOML is a
    ConfigError that quotes the line."""
    source, text = _read_text(path_or_name, bundled, kind)
    try:
        return source, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line_no = getattr(e, "lineno", None)
        if line_no is None:
            found = re.search(r"line (\d+)", str(e))
            line_no = int(found.group(1)) if found else None
        lines = text.splitlines()
        reads = ""
        if line_no is not None and 1 <= line_no <= len(lines):
            reads = f" Line {line_no} reads: {lines[line_no - 1].strip()!r}."
        raise ConfigError(
            f"{kind} '{source}' is not valid TOML: {e}.{reads} Fix the syntax there"
            ' (strings need quotes, e.g. name = "run1"; lists are written [1, 2, 3]).'
        ) from None


# ---- tables to objects --------------------------------------------------------------------------


def from_dict(cls: type, table: Any, source: str) -> Any:
    """An instance of the dataclass `cls`: its defaults, with the keys of `table` set.
    Unknown keys are errors. (Not validated: the caller validates once, after overrides.)"""
    obj = cls()
    _merge(obj, table, "", source, cls)
    return obj


def _merge(obj: Any, table: Any, prefix: str, source: str, root: type) -> None:
    cls: type = type(obj)  # (annotated: mypy holds type(<Any>) unhashable for @cache)
    if not isinstance(table, Mapping):
        where = f"[{prefix[:-1]}]" if prefix else "the config"
        raise ConfigError(
            f"{where} in {source} must be a table of settings, got {table!r}. Write it as a"
            f" {where if prefix else '[section]'} header followed by key = value lines."
        )
    types = hints(cls)
    for key, value in table.items():
        if key not in types:
            raise ConfigError(_unknown_in_table(cls, key, value, prefix, source, root))
        tp = types[key]
        if is_section(tp):
            _merge(getattr(obj, key), value, f"{prefix}{key}.", source, root)
            continue
        try:
            setattr(obj, key, coerce(value, tp))
        except Mismatch:
            raise ConfigError(sentence(mismatch(prefix + key, tp, value, f"in {source}"))) from None


def _unknown_in_table(cls: type, key: str, value: Any, prefix: str, source: str, root: type) -> str:
    """Say which key of a TOML table is unknown, and what was probably meant."""
    names = list(hints(cls))
    if not prefix and isinstance(value, Mapping):  # a misspelt section: [optimizer]
        close = difflib.get_close_matches(key.lower(), names, n=1)
        hint = f" Did you mean [{close[0]}]?" if close else ""
        listed = ", ".join(f"[{n}]" for n in names)
        return f"unknown section [{key}] in {source}.{hint} The sections are: {listed}."
    table = f"[{prefix[:-1]}]" if prefix else "the top level"
    close = difflib.get_close_matches(key.lower().replace("-", "_"), names, n=1)
    synonym = SYNONYMS.get(key.lower().replace("-", "_"), "").rsplit(".", 1)[-1]
    if synonym in names:  # learning_rate = ... in [optim]: 'lr'
        close = [synonym]
    homes = [p.rsplit(".", 1)[0] for p in paths(root) if p.endswith("." + key)]
    hint = ""
    if close:
        hint = f" Did you mean '{close[0]}'?"
    elif homes:
        hint = f" '{key}' belongs in [{homes[0]}]" + (f", not {table}." if prefix else ".")
    return (
        f"unknown key '{key}' in {table} of {source}.{hint} The keys there are: {', '.join(names)}."
    )


def load(
    cls: type,
    path_or_name: PathOrName | None = None,
    overrides: Sequence[str] = (),
    *,
    bundled: str | None = "configs",
    kind: str = "config file",
) -> Any:
    """Defaults of `cls`, then a TOML file (if given), then `--key value` overrides.

    Validated once, after the overrides, so an override may fix a bad value in the file.
    """
    obj = cls()
    if path_or_name is not None:
        source, table = read_toml(path_or_name, bundled, kind)
        obj = from_dict(cls, table, f"{kind} '{source}'")
        logger.debug("%s read from %s", cls.__name__, source)
    if overrides:
        logger.debug("overrides: %s", " ".join(overrides))
    return apply_overrides(obj, overrides)


# ---- objects to TOML ----------------------------------------------------------------------------


def _toml_lines(obj: Any, keys: list[str]) -> Iterator[str]:
    fields = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    scalars = [(k, v) for k, v in fields if not dataclasses.is_dataclass(v)]
    if keys and (scalars or not fields):  # a table holding only tables needs no header
        yield ""
        yield f"[{'.'.join(keys)}]"
    for k, v in scalars:
        # NOTE: TOML has no null, so None is written by leaving the key out.
        yield f"# {k} is not set (none)" if v is None else f"{k} = {toml_value(v)}"
    for k, v in fields:
        if dataclasses.is_dataclass(v):
            yield from _toml_lines(v, [*keys, k])


def to_toml(obj: Any) -> str:
    """The settings as TOML text; `load` reads it back to an equal object."""
    return "\n".join(_toml_lines(obj, [])).lstrip("\n") + "\n"


def save_toml(obj: Any, path: PathOrName) -> None:
    """Write the settings to `path` as TOML (parent folders are created)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(to_toml(obj), encoding="utf-8")
