"""gradschool lr-find: the learning-rate range test, through the one training loop."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.errors import ConfigError
from gradschool.experiments import lr_find as lrf
from gradschool.train.trainer import Trainer


def small(tmp_path, **updates) -> Config:
    base = {"train.progress": "off", "train_subset": 600, "out_dir": str(tmp_path),
            "sizes": [784, 32, 10], "batch_size": 32}  # fmt: skip
    return with_updates(Config(), {**base, **updates})


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_the_sweep_is_exponential_and_stops_when_the_loss_explodes(tmp_path, engine, monkeypatch):
    if engine == "torch":
        pytest.importorskip("torch")
    fits = []
    real_fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self: fits.append(self) or real_fit(self))
    result = lrf.lr_find(small(tmp_path, engine=engine), 1e-4, 100.0, steps=80)
    # One Trainer.fit: the one loop, its steps those of the sweep.
    assert len(fits) == 1 and fits[0].state.step == len(result.lrs)
    n = len(result.lrs)
    want = 1e-4 * (100.0 / 1e-4) ** (np.arange(n) / 79)
    np.testing.assert_allclose(result.lrs, want, rtol=1e-6)
    # SGD with momentum 0.9 cannot survive lr 100: the sweep ends early, on divergence.
    assert n < 80 and "4 x its minimum" in result.stop_reason
    assert result.smoothed[-1] > 4 * result.smoothed.min()
    # The smoothed loss is the debiased exponential average of the recorded losses.
    avg, smooth = 0.0, []
    for i, loss in enumerate(result.losses):
        avg = lrf.BETA * avg + (1 - lrf.BETA) * loss
        smooth.append(avg / (1 - lrf.BETA ** (i + 1)))
    np.testing.assert_allclose(result.smoothed, smooth, rtol=1e-9)
    assert set(result.suggestions) == {"steepest", "minimum/10"}
    for lr in result.suggestions.values():
        assert result.lrs[0] / 10 <= lr <= result.lrs[-1]
    # Nothing was written: no run folder anywhere.
    assert not any(tmp_path.iterdir())


def test_suggestions_on_known_curves():
    lrs = np.logspace(-6, 1, 100)
    # The loss falls fastest at lr = 1e-2 and is lowest at the right end of its plateau.
    loss = 2.0 - np.tanh(2 * (np.log10(lrs) + 2))
    got = lrf.suggest(lrs, loss)
    assert got["steepest"] == pytest.approx(1e-2, rel=0.2)
    assert got["minimum/10"] == pytest.approx(lrs[94] / 10)  # the last point not trimmed
    # A flat curve ties everywhere: the first candidate wins, deterministically.
    flat = lrf.suggest(lrs, np.full(100, 2.3))
    assert flat["steepest"] == pytest.approx(lrs[10]) and flat["minimum/10"] == lrs[10] / 10
    assert lrf.suggest(lrs[:9], loss[:9]) == {}  # too few points to say anything


def test_the_command_writes_its_own_folder_only(tmp_path, capsys):
    out = tmp_path / "lrf"
    args = ["lr-find", "--steps", "40", "--start-lr", "1e-4", "--end-lr", "1", "--out", str(out),
            "--train-subset", "300", "--progress", "off",
            "--out-dir", str(tmp_path / "runs")]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "suggested steepest" in printed and "no run was changed" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml", "lr_find.csv", "lr_find.json", "lr_find.png",
    ]  # fmt: skip
    assert not (tmp_path / "runs").exists()
    with open(out / "lr_find.csv") as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((out / "lr_find.json").read_text())
    assert summary["steps_run"] == len(rows) and float(rows[0]["lr"]) == pytest.approx(1e-4)
    assert summary["suggestions"]["steepest"] in [float(r["lr"]) for r in rows]
    assert (out / "lr_find.png").stat().st_size > 10_000


def test_bad_ranges_are_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="0 < start_lr < end_lr"):
        lrf.lr_find(small(tmp_path), 1.0, 0.1)
    assert main(["lr-find", "--steps", "3"]) == 2
    assert "at least 10" in capsys.readouterr().err
