"""Tests for gradschool.config: defaults, TOML round trips, CLI overrides, errors, validation."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import pytest

from gradschool.config import (
    Config,
    apply_overrides,
    bundled_configs,
    describe,
    load_config,
    save_config,
    setting,
    to_toml,
    validate,
    with_updates,
)
from gradschool.errors import ConfigError
from gradschool.settings import paths
from gradschool.settings.fields import is_union

ROOT = Path(__file__).resolve().parents[1]
SEED_TOML = ROOT / "gradschool" / "configs" / "seed_mlp.toml"


def leaf_keys() -> list[str]:
    return [p for p, (tp, _) in paths(Config).items() if not dataclasses.is_dataclass(tp)]


def error(fn, *args) -> str:
    """Call fn(*args), expect a ConfigError, return its message."""
    with pytest.raises(ConfigError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message  # one paragraph
    return message


# --- defaults are the seed's recipe (seed section 4) ---------------------------------------


def test_defaults_are_the_seed_recipe():
    c = Config()
    assert c.model.name == "mlp"
    assert c.model.sizes == [784, 128, 64, 10]
    assert c.model.activation == "relu"
    assert c.optim.name == "sgd"
    assert (c.optim.lr, c.optim.momentum) == (0.01, 0.9)
    assert (c.optim.nesterov, c.optim.weight_decay, c.optim.dampening) == (False, 0.0, 0.0)
    assert c.train.epochs == 10
    assert c.data.batch_size == 64  # our choice: the seed states none
    assert c.schedule.name == "constant"
    validate(c)


def test_seed_config_equals_defaults_and_cites_the_seed():
    assert bundled_configs() == sorted(bundled_configs()) and "seed_mlp" in bundled_configs()
    assert load_config("seed_mlp") == Config()
    assert load_config(SEED_TOML) == Config()
    text = SEED_TOML.read_text(encoding="utf-8")
    assert "section 4" in text and "64 is our choice" in text


def test_default_lists_are_not_shared():
    a, b = Config(), Config()
    a.model.sizes.append(5)
    assert b.model.sizes == [784, 128, 64, 10]


def test_optional_fields_default_to_none():
    # TOML has no null: None is written by leaving the key out, so it must be the default.
    for path, (tp, f) in paths(Config).items():
        if is_union(tp) and type(None) in get_args(tp):
            assert f.default is None, f"{path} may be None, so it must default to None"


def test_every_key_has_help_and_is_documented():
    docs = [
        (ROOT / "docs" / name).read_text(encoding="utf-8")
        for name in ("config.md", "config.zh-CN.md")
    ]
    for path, (tp, f) in paths(Config).items():
        if dataclasses.is_dataclass(tp):
            continue
        assert f.metadata.get("help"), f"{path} needs help=..."
        for doc in docs:
            assert f"`{path}`" in doc, f"{path} is missing from the config docs"


# --- TOML round trips -----------------------------------------------------------------------


def changed_config() -> Config:
    return with_updates(
        Config(),
        {
            "data.batch_size": "full",
            "data.data_dir": 'C:\\data\\"mnist"\tß',
            "train_subset": 500,
            "sizes": [784, 256, 10],
            "lr": 1e-5,
            "nesterov": True,
            "train.run_name": "run one",
            "epochs": 3,
        },
    )


@pytest.mark.parametrize("config", [Config(), changed_config()], ids=["defaults", "changed"])
def test_toml_round_trip_by_path(tmp_path, config):
    path = tmp_path / "sub" / "run.toml"
    save_config(config, path)
    assert load_config(path) == config
    assert load_config(str(path)) == config
    assert path.read_text(encoding="utf-8") == to_toml(config)


def test_to_toml_omits_none_and_writes_sections():
    text = to_toml(Config())
    assert "[data]" in text and "[train]" in text
    assert not re.search(r"^data_dir\s*=", text, re.M)  # None: key left out
    assert "lr = 0.01" in text and "sizes = [784, 128, 64, 10]" in text
    assert "shuffle = true" in text


def test_dict_round_trip():
    c = changed_config()
    d = c.to_dict()
    assert d["optim"]["lr"] == 1e-5 and d["train"]["run_name"] == "run one"
    assert Config.from_dict(d) == c
    assert Config.from_dict({}) == Config()
    assert Config.from_dict({"optim": {"lr": 1}}).optim.lr == 1.0  # int widened to float
    d["model"]["sizes"].append(1)
    assert c.model.sizes == [784, 256, 10]  # to_dict is a copy


def test_partial_file_keeps_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[optim]\nlr = 0.5\n", encoding="utf-8")
    c = load_config(path)
    assert c.optim.lr == 0.5 and c.optim.momentum == 0.9 and c.model == Config().model


def test_load_with_overrides_fixes_a_bad_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 0\n", encoding="utf-8")
    assert load_config(path, ["--epochs", "2"]).train.epochs == 2
    assert "train.epochs must be an integer >= 1, got 0" in error(load_config, path)


# --- file errors ----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    msg = error(load_config, tmp_path / "nope.toml")
    assert "nope.toml" in msg and "does not exist" in msg and "seed_mlp" in msg


def test_unknown_bundled_name():
    msg = error(load_config, "seed_mpl")
    assert "no bundled config named 'seed_mpl'" in msg and "seed_mlp" in msg


def test_bad_toml_syntax_gives_file_line_and_message(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlr = 0.1\nname = sgd\n", encoding="utf-8")
    msg = error(load_config, path)
    assert "bad.toml" in msg and "not valid TOML" in msg
    assert "line 3" in msg and "name = sgd" in msg and "Invalid value" in msg


def test_unknown_section(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[optimizer]\nlr = 0.1\n", encoding="utf-8")
    msg = error(load_config, path)
    assert "unknown section [optimizer]" in msg and "Did you mean [optim]?" in msg
    assert "c.toml" in msg


def test_unknown_key_in_section(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[optim]\nlrr = 0.1\n", encoding="utf-8")
    msg = error(load_config, path)
    assert "unknown key 'lrr' in [optim]" in msg and "Did you mean 'lr'?" in msg
    path.write_text("[optim]\nlearning_rate = 0.1\n", encoding="utf-8")
    assert "Did you mean 'lr'?" in error(load_config, path)


def test_key_in_the_wrong_section(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nlr = 0.1\n", encoding="utf-8")
    assert "'lr' belongs in [optim], not [train]" in error(load_config, path)
    path.write_text("lr = 0.1\n", encoding="utf-8")
    assert "'lr' belongs in [optim]" in error(load_config, path)


def test_wrong_type_in_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nepochs = "ten"\n', encoding="utf-8")
    msg = error(load_config, path)
    assert "train.epochs must be an integer, got 'ten'" in msg and "c.toml" in msg
    path.write_text("[model]\nsizes = 784\n", encoding="utf-8")
    assert "model.sizes must be a list of integers, got 784" in error(load_config, path)
    path.write_text("optim = 3\n", encoding="utf-8")
    assert "[optim]" in error(load_config, path)


def test_from_dict_errors():
    assert "unknown section [optimiser]" in error(Config.from_dict, {"optimiser": {}})
    assert "optim.nesterov must be true or false, got 1" in error(
        Config.from_dict, {"optim": {"nesterov": 1}}
    )
    assert "train.epochs must be an integer, got True" in error(
        Config.from_dict, {"train": {"epochs": True}}
    )


# --- overrides: every form ------------------------------------------------------------------


def test_override_forms():
    base = Config()
    c = apply_overrides(
        base, ["--lr", "0.1", "--optim.momentum=0.5", "--batch-size", "full", "--nesterov"]
    )
    assert (c.optim.lr, c.optim.momentum, c.data.batch_size, c.optim.nesterov) == (
        0.1,
        0.5,
        "full",
        True,
    )
    assert base == Config()  # not mutated


@pytest.mark.parametrize(
    ("args", "path", "expected"),
    [
        (["--lr=0.1"], "optim.lr", 0.1),
        (["--optim.lr", "1e-3"], "optim.lr", 1e-3),
        (["--weight-decay", "5e-4"], "optim.weight_decay", 5e-4),
        (["--weight_decay=5e-4"], "optim.weight_decay", 5e-4),
        (["--optim.weight-decay", "5e-4"], "optim.weight_decay", 5e-4),
        (["--epochs", "3"], "train.epochs", 3),
        (["--batch-size", "1"], "data.batch_size", 1),
        (["--batch-size=full"], "data.batch_size", "full"),
        (["--nesterov"], "optim.nesterov", True),
        (["--nesterov", "true"], "optim.nesterov", True),
        (["--nesterov=yes"], "optim.nesterov", True),
        (["--no-shuffle"], "data.shuffle", False),
        (["--shuffle=false"], "data.shuffle", False),
        (["--shuffle", "off"], "data.shuffle", False),
        (["--sizes", "784,256,10"], "model.sizes", [784, 256, 10]),
        (["--sizes", "784, 256, 10"], "model.sizes", [784, 256, 10]),
        (["--sizes=[784, 256, 10]"], "model.sizes", [784, 256, 10]),
        (["--run-name", "exp1"], "train.run_name", "exp1"),
        (["--train.run_name", "none"], "train.run_name", None),
        (["--run-name", '"none"'], "train.run_name", "none"),
        (["--data-dir", "/tmp/data"], "data.data_dir", "/tmp/data"),
        (["--train-subset", "100"], "data.train_subset", 100),
        (["--activation", "gelu"], "model.activation", "gelu"),
        (["--normalize", "none"], "data.normalize", "none"),  # a choice, not None
        (["--engine", "torch"], "train.engine", "torch"),
        (["--lr", "0.1", "--lr", "0.2"], "optim.lr", 0.2),  # later wins
        (["--optim", "{lr = 0.5, momentum = 0.0}"], "optim.lr", 0.5),
    ],
)
def test_override(args, path, expected):
    value = apply_overrides(Config(), args)
    for name in path.split("."):
        value = getattr(value, name)
    assert value == expected and type(value) is type(expected)


def test_section_override_merges():
    c = apply_overrides(Config(), ["--optim", "{lr = 0.5}"])
    assert c.optim.lr == 0.5 and c.optim.momentum == 0.9


def test_no_overrides_returns_an_equal_copy():
    base = Config()
    c = apply_overrides(base, [])
    assert c == base and c is not base and c.model.sizes is not base.model.sizes


# --- overrides: errors ----------------------------------------------------------------------


def test_unknown_key_suggests():
    msg = error(apply_overrides, Config(), ["--lrr", "0.1"])
    assert "unknown config key 'lrr'" in msg and "Did you mean 'lr' (optim.lr)?" in msg
    msg = error(apply_overrides, Config(), ["--optim.momentun", "0.1"])
    assert "Did you mean 'optim.momentum'?" in msg
    msg = error(apply_overrides, Config(), ["--learning-rate", "0.1"])  # another library's name
    assert "Did you mean 'lr' (optim.lr)?" in msg
    msg = error(apply_overrides, Config(), ["--xyzzy", "1"])
    assert "The keys are:" in msg and "optim.lr" in msg


def test_ambiguous_leaf_lists_dotted_choices():
    msg = error(apply_overrides, Config(), ["--name", "x"])
    assert "ambiguous" in msg
    for choice in ("model.name", "optim.name", "schedule.name"):
        assert choice in msg


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--epochs", "ten"], "train.epochs must be an integer, got 'ten' (from --epochs ten)"),
        (["--epochs", "2.5"], "train.epochs must be an integer, got '2.5'"),
        (["--lr", "fast"], "optim.lr must be a number, got 'fast'"),
        (["--lr", "nan"], "optim.lr must be a number, got 'nan'"),
        (["--nesterov=maybe"], "optim.nesterov must be true or false, got 'maybe'"),
        (["--batch-size", "all"], "data.batch_size must be an integer or \"full\", got 'all'"),
        (["--sizes", "784,x"], "model.sizes must be a list of integers, got '784,x'"),
        (["--sizes", "[784,"], "model.sizes must be a list of integers"),
        (["--epochs", "none"], "train.epochs must be an integer, got 'none'"),
        (["--optim", "lr=0.1"], "optim must be a table of OptimConfig settings"),
    ],
)
def test_bad_value(args, expected):
    assert expected in error(apply_overrides, Config(), args)


def test_literal_lists_choices_and_suggests():
    msg = error(apply_overrides, Config(), ["--activation", "gelo"])
    assert 'one of "relu", "tanh", "sigmoid", "gelu"' in msg and "'gelo'" in msg
    assert 'Did you mean "gelu"?' in msg
    assert '"numpy", "torch"' in error(apply_overrides, Config(), ["--engine", "jax"])


@pytest.mark.parametrize("args", [["--lr"], ["--lr", "--epochs", "3"], ["--batch-size"]])
def test_missing_value(args):
    msg = error(apply_overrides, Config(), args)
    assert f"{args[0]} needs a value" in msg


def test_bad_argument_shapes():
    assert "unexpected argument 'lr'" in error(apply_overrides, Config(), ["lr", "0.1"])
    assert "unexpected argument '-lr'" in error(apply_overrides, Config(), ["-lr", "0.1"])
    assert "takes no value" in error(apply_overrides, Config(), ["--no-nesterov=true"])
    assert "only for true/false" in error(apply_overrides, Config(), ["--no-lr"])
    msg = error(apply_overrides, Config(), ["--optim", "{lrr = 1}"])
    assert "unknown config key 'optim.lrr'" in msg and "'optim.lr'" in msg


# --- with_updates ---------------------------------------------------------------------------


def test_with_updates_returns_new_config():
    base = Config()
    c = with_updates(base, {"optim.lr": 0.1, "batch_size": "full", "sizes": (784, 10)})
    assert (c.optim.lr, c.data.batch_size, c.model.sizes) == (0.1, "full", [784, 10])
    assert base == Config() and c is not base


def test_with_updates_accepts_sections_and_numpy_scalars():
    np = pytest.importorskip("numpy")
    c = with_updates(Config(), {"lr": np.float64(0.5), "epochs": np.int64(3)})
    assert c.optim.lr == 0.5 and type(c.optim.lr) is float and type(c.train.epochs) is int
    c = with_updates(Config(), {"optim": {"lr": 0.2}})
    assert c.optim.lr == 0.2 and c.optim.momentum == 0.9
    other = dataclasses.replace(Config().optim, lr=0.3)
    c = with_updates(Config(), {"optim": other})
    assert c.optim == other and c.optim is not other


def test_with_updates_errors():
    msg = error(with_updates, Config(), {"optim.lrr": 0.1})
    assert "'optim.lr'" in msg and "--" not in msg
    assert "ambiguous" in error(with_updates, Config(), {"name": "x"})
    assert "train.epochs must be an integer, got '3'" in error(
        with_updates, Config(), {"epochs": "3"}
    )
    assert "optim.lr must be > 0, got -1.0" in error(with_updates, Config(), {"lr": -1})


# --- validation: each range rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("updates", "expected"),
    [
        ({"lr": -1}, "optim.lr must be > 0, got -1.0"),
        ({"lr": 0}, "optim.lr must be > 0, got 0.0"),
        ({"batch_size": 0}, 'data.batch_size must be an integer >= 1 or "full", got 0'),
        ({"dropout": 1.5}, "model.dropout must be >= 0 and < 1, got 1.5"),
        ({"dropout": -0.1}, "model.dropout must be >= 0 and < 1, got -0.1"),
        ({"val_fraction": 1.0}, 'data.val_fraction must be >= 0 and < 1 or "auto", got 1.0'),
        ({"momentum": -0.5}, "optim.momentum must be >= 0, got -0.5"),
        ({"weight_decay": -1e-4}, "optim.weight_decay must be >= 0, got -0.0001"),
        ({"epochs": 0}, "train.epochs must be an integer >= 1, got 0"),
        ({"seed": -1}, "train.seed must be an integer >= 0, got -1"),
        ({"log_every": -1}, "train.log_every must be an integer >= 0, got -1"),
        ({"checkpoint_every": 0}, "train.checkpoint_every must be an integer >= 1, got 0"),
        ({"train_subset": 0}, "data.train_subset must be an integer >= 1 or none, got 0"),
        ({"sizes": [784]}, "model.sizes must be a list of at least 2 layer sizes"),
        ({"sizes": [784, 0, 10]}, "got [784, 0, 10]"),
        ({"nesterov": True, "momentum": 0.0}, "optim.nesterov = true needs optim.momentum > 0"),
        ({"nesterov": True, "dampening": 0.1}, "optim.dampening = 0"),
    ],
)
def test_range_rule(updates, expected):
    msg = error(with_updates, Config(), updates)
    assert expected in msg and "--" in msg  # says how to fix it


@pytest.mark.parametrize(
    "updates",
    [
        {"val_fraction": 0.0},
        {"dropout": 0.0},
        {"momentum": 0.0},
        {"batch_size": 1},
        {"train_subset": 1},
        {"log_every": 0},
        {"nesterov": True},
        {"sizes": [2, 1]},
    ],
)
def test_range_edges_are_allowed(updates):
    with_updates(Config(), updates)


def test_validate_catches_values_set_in_code():
    c = Config()
    c.train.epochs = "10"  # a learner's typo in a script
    c.optim.lr = -1.0
    msg = error(validate, c)
    assert "2 problems" in msg and "train.epochs must be an integer, got '10'" in msg
    assert "optim.lr must be > 0" in msg


def test_validate_accepts_ints_for_floats():
    c = Config()
    c.optim.lr = 1
    validate(c)


# --- describe and extending the schema ------------------------------------------------------


def test_describe_lists_every_key():
    text = describe(with_updates(Config(), {"lr": 0.5}))
    lines = text.splitlines()
    assert len(lines) == len(leaf_keys())
    for key, line in zip(leaf_keys(), lines):
        assert line.startswith(key + " ")
    lr_line = next(line for line in lines if line.startswith("optim.lr "))
    assert "0.5" in lr_line and "float" in lr_line and "learning rate" in lr_line
    assert 'int | "full"' in text and "str | none" in text and "list[int]" in text


# Sections a later engineer might add: nesting, list[str], list[float], Optional Literal.
# (Module level: annotations are strings under __future__ and resolve in module globals.)


@dataclass
class Inner:
    width: int = setting(4, ge=1, help="width")
    tags: list[str] = setting(["a"], help="tags")
    ratios: list[float] = setting([0.5], help="ratios")
    mode: Literal["x", "y"] | None = setting(None, help="mode")


@dataclass
class Outer:
    inner: Inner = dataclasses.field(default_factory=Inner)
    flag: bool | None = setting(None, help="flag")


@dataclass
class Top:
    outer: Outer = dataclasses.field(default_factory=Outer)
    title: str = setting("t", help="title")


def test_machinery_is_generic_over_new_sections():
    args = ["--width", "8", "--tags", "p,q", "--ratios=[1, 2.5]", "--mode", "y", "--flag"]
    top = apply_overrides(Top(), args)
    assert top.outer.inner == Inner(width=8, tags=["p", "q"], ratios=[1.0, 2.5], mode="y")
    assert top.outer.flag is True
    text = to_toml(top)
    assert text.startswith('title = "t"') and "[outer]" in text and "[outer.inner]" in text
    assert "outer.inner.width must be an integer >= 1, got 0" in error(
        apply_overrides, top, ["--inner.width", "0"]
    )
    assert apply_overrides(top, ["--mode", "none"]).outer.inner.mode is None
    assert with_updates(top, {"outer.inner.tags": []}).outer.inner.tags == []
    assert "outer.inner.ratios  [1.0, 2.5]  list[float]" in describe(top)


def test_numpy_values_set_in_code_are_written_as_plain_toml(tmp_path):
    np = pytest.importorskip("numpy")
    c = Config()
    c.optim.lr = np.float64(0.1)
    c.train.epochs = np.int64(3)
    save_config(c, tmp_path / "c.toml")
    text = (tmp_path / "c.toml").read_text(encoding="utf-8")
    assert "lr = 0.1\n" in text and "epochs = 3\n" in text
    assert load_config(tmp_path / "c.toml") == with_updates(Config(), {"lr": 0.1, "epochs": 3})


def test_load_config_defaults_to_the_seed_and_rejects_a_string_of_overrides():
    assert load_config() == Config()
    with pytest.raises(TypeError):
        apply_overrides(Config(), "--lr 0.1")
