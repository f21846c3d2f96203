"""Hyper-parameter search: the space syntax, grid and random candidates, trials blind to the
test split (random, grid and Optuna), what is saved, and `gradschool search`."""

from __future__ import annotations

import csv
import json
import math
import os
import signal

import numpy as np
import pytest
from no_test_split import blind

from gradschool.cli import main
from gradschool.config import Config, load_config, with_updates
from gradschool.data.datasets import load_dataset
from gradschool.errors import ConfigError
from gradschool.experiments import search as search_module
from gradschool.experiments.search import (
    SearchSpec,
    _candidates,
    load_search,
    parse_space,
    run_search,
)
from gradschool.train import interrupt
from gradschool.train.callbacks import Callback

TINY = {"train_subset": 200, "epochs": 2, "progress": "off", "sizes": [784, 16, 10]}


@pytest.fixture(scope="module")
def mini():
    return load_dataset("mnist-mini")


def write(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_space_syntax():
    base = Config()
    params = parse_space(
        {
            "optim.lr": {"low": 1e-4, "high": 1e-1, "log": True},
            "epochs": {"low": 2, "high": 9, "int": True},
            "model.sizes": {"choices": [[784, 10], [784, 32, 10]]},
            "batch_size": [32, "full"],  # a bare list is a list of choices
        },
        base,
    )
    lr, epochs, sizes, batch = params
    rng = np.random.default_rng(0)
    lrs = np.array([lr.sample(rng) for _ in range(2000)])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # Log-uniform: the median is the geometric mean of the ends, not their mean.
    assert np.median(lrs) == pytest.approx(math.sqrt(1e-4 * 1e-1), rel=0.15)
    ints = {epochs.sample(rng) for _ in range(500)}
    assert ints == set(range(2, 10))
    assert {json.dumps(sizes.sample(rng)) for _ in range(100)} == {"[784, 10]", "[784, 32, 10]"}
    assert batch.grid() == [32, "full"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"optim.lrr": {"low": 0.1, "high": 1.0}}, "unknown config key"),
        ({"optim.lr": {"low": 1.0, "high": 0.1}}, "low < high"),
        ({"optim.lr": {"low": 0.0, "high": 1.0, "log": True}}, "low must be > 0"),
        ({"optim.lr": {"low": 0.1, "high": 1.0, "step": 2}}, "Unknown field"),
        ({"epochs": {"low": 2, "high": 9}}, "must be an integer"),  # int = true is missing
        ({"activation": {"choices": ["relu", "swish"]}}, "activation"),
        ({}, "no \\[space\\]"),
    ],
)
def test_bad_spaces_are_refused_before_any_trial(space, message):
    with pytest.raises(ConfigError, match=message):
        parse_space(space, Config())


def test_grid_is_every_combination_and_needs_num():
    params = parse_space(
        {"optim.lr": {"low": 0.001, "high": 0.1, "log": True, "num": 3},
         "momentum": {"choices": [0.0, 0.9]}},
        Config(),
    )  # fmt: skip
    spec = SearchSpec(base=Config(), params=params, method="grid")
    candidates = _candidates(spec)
    assert len(candidates) == 6
    assert sorted({c["optim.lr"] for c in candidates}) == pytest.approx([0.001, 0.01, 0.1])
    no_num = parse_space({"optim.lr": {"low": 0.001, "high": 0.1}}, Config())
    with pytest.raises(ConfigError, match="num = N"):
        _candidates(SearchSpec(base=Config(), params=no_num, method="grid"))


def test_random_candidates_depend_on_the_seed_only():
    params = parse_space({"optim.lr": {"low": 1e-3, "high": 1.0, "log": True}}, Config())
    a = _candidates(SearchSpec(base=Config(), params=params, trials=5, seed=1))
    b = _candidates(SearchSpec(base=Config(), params=params, trials=5, seed=1))
    c = _candidates(SearchSpec(base=Config(), params=params, trials=5, seed=2))
    assert a == b and a != c and len(a) == 5


def test_search_file_metric_and_validation_rules(tmp_path):
    space = '[space]\n"optim.lr" = {low = 0.01, high = 0.1}\n'
    with pytest.raises(ConfigError, match="never used to choose"):
        load_search(write(tmp_path, '[search]\nmetric = "test_acc"\n' + space))
    with pytest.raises(ConfigError, match="val_fraction"):
        load_search(write(tmp_path, space), ["--val-fraction", "0"])
    with pytest.raises(ConfigError, match="unknown \\[search\\] key"):
        load_search(write(tmp_path, "[search]\ntrails = 3\n" + space))
    # Config sections in the search file change the base config.
    spec = load_search(write(tmp_path, "[train]\nepochs = 3\n" + space), ["--lr", "0.5"])
    assert spec.base.train.epochs == 3 and spec.base.optim.lr == 0.5
    assert spec.mode == "max" and spec.method == "random" and spec.trials == 20
    bundled = load_search("seed_mlp")
    assert bundled.trials == 20 and bundled.base == Config()


@pytest.mark.parametrize("method", ["random", "grid"])
def test_trials_never_read_the_test_split_and_everything_is_saved(tmp_path, mini, method):
    text = (
        f'[search]\nmethod = "{method}"\ntrials = 3\n[space]\n'
        '"optim.lr" = {low = 0.01, high = 0.1, log = true, num = 3}\n'
    )
    spec = load_search(write(tmp_path, text))
    spec.base = with_updates(spec.base, TINY)
    out = tmp_path / "out"
    result = run_search(spec, out, dataset=blind(mini))
    assert len(result.trials) == 3 and all(t.status == "ok" for t in result.trials)
    assert all("test_acc" not in row for t in result.trials for row in t.history)
    best = result.best
    assert best.score == max(t.score for t in result.trials)
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows] == [1, 2, 3] and "optim.lr" in rows[0]
    for t in result.trials:
        folder = out / "trials" / f"{t.number:03d}"
        assert load_config(folder / "config.toml") == t.config
        assert (folder / "metrics.csv").exists()
    # best.toml is a config `gradschool train --config` reads: the best trial's, unnamed.
    assert load_config(out / "best.toml") == with_updates(best.config, {"run_name": None})
    summary = json.loads((out / "search.json").read_text())
    assert summary["best"]["trial"] == best.number and summary["metric"] == "val_acc"


def test_a_diverging_trial_is_recorded_not_fatal(tmp_path, mini):
    spec = load_search(write(tmp_path, '[space]\n"optim.lr" = {choices = [1e6, 0.05]}\n'))
    spec.base = with_updates(spec.base, {**TINY, "momentum": 0.9})
    spec.method = "grid"
    with pytest.warns(RuntimeWarning):
        result = run_search(spec, dataset=blind(mini))
    assert result.trials[0].status.startswith("failed") and result.trials[0].score is None
    assert result.best.number == 2


def test_optuna_tpe_with_median_pruning_is_blind_to_the_test_split(tmp_path, mini):
    pytest.importorskip("optuna")
    text = (
        '[search]\nmethod = "optuna"\ntrials = 7\n[space]\n'
        '"optim.lr" = {low = 1e-4, high = 0.3, log = true}\n'
        '"model.sizes" = {choices = [[784, 16, 10], [784, 8, 10]]}\n'
    )
    spec = load_search(write(tmp_path, text))
    spec.base = with_updates(spec.base, {**TINY, "epochs": 3, "train_subset": 150})
    result = run_search(spec, tmp_path / "o", dataset=blind(mini))
    assert len(result.trials) == 7
    assert {t.status for t in result.trials} <= {"ok", "pruned"}
    for t in result.trials:
        assert t.params["model.sizes"] in ([784, 16, 10], [784, 8, 10])
        if t.status == "pruned":  # stopped early by the median rule
            assert t.epochs < 3
    assert result.best is not None and (tmp_path / "o" / "best.toml").exists()


def test_search_command(tmp_path, capsys):
    space = write(tmp_path, '[search]\nmethod = "grid"\n[space]\n"momentum" = [0.0, 0.9]\n')
    out = tmp_path / "s"
    argv = ["search", "--space", str(space), "--out", str(out), "--train-subset", "200",
            "--epochs", "1", "--progress", "off"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "grid search over momentum" in text and "trial   2" in text and "Best: trial" in text
    assert "test split is not used" in text and (out / "best.toml").exists()
    assert main(["search", "--space", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- stopping and resuming a search -------------------------------------------------------------


class SignalAt(Callback):
    """Sends this process SIGTERM after step `step` of its run."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, trainer, loss) -> None:
        if trainer.state.step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def stop_in_trial(monkeypatch, number: int, step: int = 3) -> None:
    """Make trial `number` receive a real SIGTERM after `step` steps of its training."""
    real = search_module.run_trial

    def run_trial(spec, n, params, dataset, callbacks=None):
        extra = [SignalAt(step)] if n == number else []
        return real(spec, n, params, dataset, [*(callbacks or []), *extra])

    monkeypatch.setattr(search_module, "run_trial", run_trial)


def table(folder) -> list[dict[str, str]]:
    """trials.csv without its wall-clock column."""
    with open(folder / "trials.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.parametrize(("method", "trials", "stop"), [("random", 3, 2), ("optuna", 6, 4)])
def test_a_stopped_search_resumes_to_the_uninterrupted_table(
    tmp_path, mini, monkeypatch, method, trials, stop
):
    if method == "optuna":
        pytest.importorskip("optuna")
    text = (
        f'[search]\nmethod = "{method}"\ntrials = {trials}\n[space]\n'
        '"optim.lr" = {low = 1e-3, high = 0.3, log = true}\n"momentum" = [0.0, 0.9]\n'
    )
    spec = load_search(write(tmp_path, text))
    spec.base = with_updates(spec.base, {**TINY, "epochs": 3, "train_subset": 150})
    whole = run_search(spec, tmp_path / "whole", dataset=blind(mini))

    out = tmp_path / "parts"
    with monkeypatch.context() as patch:
        stop_in_trial(patch, stop)  # SIGTERM in the middle of trial `stop`'s training
        with pytest.raises(interrupt.Interrupted), interrupt.stop_on_signals():
            run_search(spec, out, dataset=blind(mini))
    assert [int(row["trial"]) for row in table(out)] == list(range(1, stop))
    if method == "optuna":  # the study is kept in the folder, the stopped trial marked failed
        assert (out / "optuna.journal").exists()
    resumed = run_search(spec, out, dataset=blind(mini))  # the same folder: continued
    assert len(resumed.trials) == trials
    assert table(out) == table(tmp_path / "whole")
    assert load_config(out / "best.toml") == load_config(tmp_path / "whole" / "best.toml")
    assert resumed.best.number == whole.best.number


def test_a_folder_of_another_search_is_refused(tmp_path, mini):
    spec = load_search(write(tmp_path, '[search]\ntrials = 1\n[space]\n"momentum" = [0.0, 0.9]\n'))
    spec.base = with_updates(spec.base, TINY)
    run_search(spec, tmp_path / "o", dataset=blind(mini))
    spec.seed = 7
    with pytest.raises(ConfigError, match="holds another search .*seed = 7"):
        run_search(spec, tmp_path / "o", dataset=blind(mini))


def test_search_command_stopped_and_resumed(tmp_path, capsys, monkeypatch):
    space = write(tmp_path, '[search]\nmethod = "grid"\n[space]\n"momentum" = [0.0, 0.5, 0.9]\n')
    args = ["--space", str(space), "--train-subset", "200", "--epochs", "2", "--progress", "off"]
    assert main(["search", *args, "--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "s"
    with monkeypatch.context() as patch:
        stop_in_trial(patch, 2)
        assert main(["search", *args, "--out", str(out)]) == 143
    err = capsys.readouterr().err
    assert f"Stopped by SIGTERM. 1 finished trial(s) are saved in {out}" in err
    assert f"Continue with `gradschool search --resume {out}`" in err
    assert main(["search", "--resume", str(out), "--lr", "0.5"]) == 2  # settings are kept
    assert "only --trials can" in capsys.readouterr().err
    assert main(["search", "--resume", str(out)]) == 0
    assert "Continuing the search saved in" in capsys.readouterr().out
    assert table(out) == table(tmp_path / "whole")


def test_search_stopped_before_any_trial_finished_leaves_nothing(tmp_path, capsys, monkeypatch):
    space = write(tmp_path, '[search]\nmethod = "grid"\n[space]\n"momentum" = [0.0, 0.9]\n')
    out = tmp_path / "s"
    stop_in_trial(monkeypatch, 1)
    argv = ["search", "--space", str(space), "--out", str(out), *["--train-subset", "200"]]
    assert main([*argv, "--progress", "off"]) == 143
    err = capsys.readouterr().err
    assert "before any trial finished: nothing was saved" in err and "--resume" not in err
    assert not out.exists()
