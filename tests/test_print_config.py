"""`--print-config`: the resolved settings as TOML, the same text a run saves as config.toml, and
a file that runs the same run again (train, cv, lr-find, rl train, search)."""

from __future__ import annotations

import pytest

from gradschool.apps.rl import load_rl_config
from gradschool.cli import main
from gradschool.config import bundled_configs, load_config
from gradschool.experiments.search import load_search

TINY = ["--train-subset", "200", "--epochs", "1", "--progress", "off"]


def printed(capsys, *argv: str) -> str:
    """Standard output of `gradschool ARGV --print-config`, which must succeed silently."""
    code = main([*argv, "--print-config"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    return out


@pytest.mark.parametrize("name", bundled_configs())
def test_every_bundled_config_round_trips(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = printed(capsys, "train", "--config", name)
    assert text.startswith("[data]\n")
    assert list(tmp_path.iterdir()) == []  # nothing created: no runs/, no data folder
    file = tmp_path / "printed.toml"
    file.write_text(text, encoding="utf-8")
    assert load_config(file) == load_config(name)
    assert printed(capsys, "train", "--config", str(file)) == text  # a fixed point


def test_the_overrides_are_in_the_printed_config(tmp_path, capsys):
    text = printed(capsys, "train", "--lr", "0.1", "--batch-size", "full", "--no-shuffle")
    assert "lr = 0.1\n" in text and 'batch_size = "full"\n' in text and "shuffle = false\n" in text
    file = tmp_path / "printed.toml"
    file.write_text(text, encoding="utf-8")
    expected = load_config("seed_mlp", ["--lr", "0.1", "--batch-size", "full", "--no-shuffle"])
    assert load_config(file) == expected


def test_a_runs_saved_config_is_what_print_config_printed(tmp_path, capsys):
    argv = ["train", *TINY, "--lr", "0.05", "--out-dir", str(tmp_path), "--run-name", "t"]
    text = printed(capsys, *argv)
    assert not (tmp_path / "t").exists()
    assert main(argv) == 0
    capsys.readouterr()
    saved = (tmp_path / "t" / "config.toml").read_text(encoding="utf-8")
    assert saved == text
    # Resuming prints the run's config with the new overrides, and changes nothing.
    resumed = printed(capsys, "train", "--resume", str(tmp_path / "t"), "--epochs", "3")
    assert resumed == text.replace("epochs = 1\n", "epochs = 3\n") != text
    assert (tmp_path / "t" / "config.toml").read_text(encoding="utf-8") == saved


def test_cv_and_lr_find_print_the_same_config_as_train(capsys):
    argv = ["--config", "mnist_cnn", "--lr", "0.2"]
    text = printed(capsys, "train", *argv)
    assert printed(capsys, "cv", "--folds", "3", *argv) == text
    assert printed(capsys, "lr-find", "--steps", "5", *argv) == text


def test_rl_train_prints_a_config_that_round_trips(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = printed(capsys, "rl", "train", "--algo", "reinforce", "--lr", "0.003")
    assert list(tmp_path.iterdir()) == []
    assert '[agent]\nalgo = "reinforce"\n' in text
    file = tmp_path / "rl.toml"
    file.write_text(text, encoding="utf-8")
    assert load_rl_config(file) == load_rl_config(None, ["--algo", "reinforce", "--lr", "0.003"])
    assert printed(capsys, "rl", "train", "--config", str(file)) == text


def test_search_prints_a_search_file_that_runs_the_same_search(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    space = tmp_path / "space.toml"
    space.write_text(
        '[search]\nmetric = "val_loss"\n\n[space]\n"optim.lr" = {low = 0.001, high = 0.1, '
        'log = true, num = 3}\n"model.sizes" = {choices = [[784, 32, 10], [784, 64, 10]]}\n'
        "\n[train]\nepochs = 4\n",
        encoding="utf-8",
    )
    argv = ["search", str(space), "--method", "grid", "--epochs", "2", "--dropout", "0.1"]
    text = printed(capsys, *argv)
    assert list(tmp_path.iterdir()) == [space]
    assert '"optim.lr" = {low = 0.001, high = 0.1, log = true, num = 3}\n' in text
    assert 'mode = "min"\n' in text and "epochs = 2\n" in text and "dropout = 0.1\n" in text
    file = tmp_path / "printed.toml"
    file.write_text(text, encoding="utf-8")
    original = load_search(space, ["--epochs", "2", "--dropout", "0.1"], method="grid")
    again = load_search(file)
    assert (again.base, again.params) == (original.base, original.params)
    assert [again.method, again.trials, again.metric, again.mode, again.seed] == [
        "grid",
        original.trials,
        "val_loss",
        "min",
        0,
    ]
    assert printed(capsys, "search", "--space", str(file)) == text
