"""A small settings library: dataclasses <-> TOML <-> command-line overrides, clear errors.

Every command that reads settings uses it: `gradschool train` (config.py's `Config`, the schema
of a run), `gradschool rl train` (apps/rl.py's `RLConfig`), `gradschool search` (the base config
and its search file). A settings class is a tree of plain dataclasses whose fields are declared
with `setting`; everything else - reading and writing TOML, `--key value` overrides, type
conversion, range checks, did-you-mean, `describe` - is driven by the fields' annotations, so
adding a setting is one line:

    weight_decay: float = setting(0.0, ge=0, help="L2 penalty added to the gradient")

Annotations understood: `bool`, `int`, `float`, `str`, `Literal[...]`, `list[T]` of those,
unions such as `int | Literal["full"]` and `X | None`, and nested dataclasses (sections, at any
depth). A section may define `cross_check(where) -> str | None` for rules between its fields;
a section with a bool `enabled` is switched by its name (`--dp`, `--no-dp`). Every error is a
`gradschool.errors.ConfigError`: one paragraph that says what was wrong and how to fix it.

    fields.py     declaring a field; what an annotation accepts; values in and out
    validate.py   validate(obj), describe(obj)
    overrides.py  apply_overrides(obj, args), with_updates(obj, {...}), split_values(text)
    toml.py       read_toml, from_dict, load(cls, path, overrides), to_toml, save_toml
"""

from gradschool.settings.fields import leaf_paths, paths, setting
from gradschool.settings.overrides import apply_overrides, split_values, with_updates
from gradschool.settings.toml import (
    bundled_names,
    from_dict,
    load,
    read_toml,
    save_toml,
    to_toml,
)
from gradschool.settings.validate import describe, validate

__all__ = [
    "apply_overrides",
    "bundled_names",
    "describe",
    "from_dict",
    "leaf_paths",
    "load",
    "paths",
    "read_toml",
    "save_toml",
    "setting",
    "split_values",
    "to_toml",
    "validate",
    "with_updates",
]
