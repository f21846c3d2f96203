"""Best and last checkpoints (train.save_top_k, train.checkpoint_monitor), eval --checkpoint,
and report.md as a model card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.errors import CheckpointError, ConfigError
from gradschool.train.model_checkpoint import ModelCheckpoint, find_checkpoint
from gradschool.train.run import RunDir
from gradschool.train.trainer import Trainer, fit

ENGINES = ["numpy", "torch"]


def small(tmp_path, **updates) -> Config:
    base = {
        "train.progress": "off",
        "train_subset": 400,
        "epochs": 4,
        "out_dir": str(tmp_path),
        "run_name": "r",
        "sizes": [784, 16, 10],
    }
    return with_updates(Config(), {**base, **updates})


def trained(tmp_path, **updates) -> tuple[RunDir, Trainer]:
    config = small(tmp_path, **updates)
    run = RunDir.create(config)
    return run, fit(config, run=run, console=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_top_k_by_val_loss_are_kept_and_hold_their_epochs_weights(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    # lr 0.5 makes the validation loss go up and down, so the best are not the last epochs.
    run, trainer = trained(tmp_path, engine=engine, save_top_k=2, lr=0.5, epochs=5)
    rows = run.read_metrics()
    ranked = sorted(rows, key=lambda r: r["val_loss"])[:2]
    manifest = json.loads((run.path / "checkpoints.json").read_text())
    assert manifest["monitor"] == "val_loss" and manifest["mode"] == "min"
    assert [e["epoch"] for e in manifest["best"]] == [r["epoch"] for r in ranked]
    suffix = ".npz" if engine == "numpy" else ".pt"
    kept = sorted(p.name for p in run.path.glob("best-epoch*"))
    assert kept == sorted(f"best-epoch{r['epoch']}{suffix}" for r in ranked)
    # The best file holds that epoch's weights: evaluating it gives that epoch's val_loss.
    best = find_checkpoint(run, "best")
    assert best.name == f"best-epoch{ranked[0]['epoch']}{suffix}"
    evaluator = Trainer(run.load_config(), console=False)
    evaluator.load_checkpoint(best, weights_only=True)
    data = evaluator.data
    val = evaluator.evaluate(data.X_val, data.y_val)
    assert val["loss"] == pytest.approx(ranked[0]["val_loss"], rel=1e-5)
    assert find_checkpoint(run, "last") == run.find_checkpoint()


def test_val_acc_is_ranked_highest_first_and_ties_keep_the_earlier_epoch(tmp_path):
    run, trainer = trained(tmp_path, epochs=1, checkpoint_monitor="val_acc", save_top_k=2)
    keeper = next(cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert keeper.mode == "max"
    keeper.kept = []
    for epoch, acc in [(1, 0.5), (2, 0.5), (3, 0.75), (4, 0.5), (5, 0.25)]:
        keeper.on_epoch_end(trainer, {"epoch": epoch, "step": epoch, "val_acc": acc})
    assert [(e["epoch"], e["value"]) for e in keeper.kept] == [(3, 0.75), (1, 0.5)]
    assert sorted(p.name for p in run.path.glob("best-epoch*")) == [
        "best-epoch1.npz",
        "best-epoch3.npz",
    ]
    keeper.on_epoch_end(trainer, {"epoch": 6, "step": 6, "val_acc": float("nan")})
    assert [e["epoch"] for e in keeper.kept] == [3, 1]  # NaN is never the best


def test_save_top_k_zero_and_every_epoch(tmp_path):
    run, _ = trained(tmp_path, save_top_k=0, epochs=2)
    assert not list(run.path.glob("best-epoch*")) and not (run.path / "checkpoints.json").exists()
    with pytest.raises(CheckpointError, match="no best checkpoint"):
        find_checkpoint(run, "best")
    assert "best: none kept (train.save_top_k = 0)" in (run.path / "report.md").read_text()
    run, _ = trained(tmp_path, save_top_k=-1, epochs=3, run_name="all")
    assert len(list(run.path.glob("best-epoch*.npz"))) == 3


def test_no_validation_split(tmp_path):
    run, _ = trained(tmp_path, val_fraction=0.0, epochs=1)
    assert not list(run.path.glob("best-epoch*"))
    assert "best: none kept (the run measures no val_loss" in (run.path / "report.md").read_text()
    with pytest.raises(ConfigError, match="no validation split"):
        trained(tmp_path, val_fraction=0.0, epochs=1, checkpoint_monitor="val_acc", run_name="x")
    with pytest.raises(ConfigError, match="never a test metric"):
        small(tmp_path, checkpoint_monitor="test_acc")
    with pytest.raises(ConfigError, match="does not measure"):
        trained(tmp_path, epochs=1, checkpoint_monitor="train_acc", run_name="y")


def test_a_resumed_run_keeps_ranking_the_same_files(tmp_path):
    config = small(tmp_path, epochs=2, save_top_k=1, lr=0.5)
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    before = json.loads((run.path / "checkpoints.json").read_text())["best"]
    stray = run.path / "best-epoch9.npz"  # left by a crash after the last checkpoint
    stray.write_bytes(b"")
    resumed = fit(with_updates(config, {"epochs": 4}), run=run, resume=True, console=False)
    keeper = next(cb for cb in resumed.callbacks if isinstance(cb, ModelCheckpoint))
    rows = run.read_metrics()
    best = min(rows, key=lambda r: r["val_loss"])
    assert [e["epoch"] for e in keeper.kept] == [best["epoch"]]
    assert not stray.exists() and len(list(run.path.glob("best-epoch*"))) == 1
    if best["epoch"] <= 2:
        assert keeper.kept[0]["file"] == before[0]["file"]


def test_eval_picks_the_checkpoint(tmp_path, capsys):
    run, _ = trained(tmp_path, epochs=3, lr=0.5)
    best = min(run.read_metrics(), key=lambda r: r["val_loss"])
    assert main(["eval", str(run.path), "--checkpoint", "best", "--brief"]) == 0
    out = capsys.readouterr().out
    assert f"Checkpoint: best-epoch{best['epoch']}.npz (best: epoch {best['epoch']}" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("val "))
    val_loss = float(line.split("loss ")[1].split()[0])
    assert val_loss == pytest.approx(best["val_loss"], abs=1e-4)
    assert main(["eval", str(run.path), "--brief"]) == 0
    assert "Checkpoint: checkpoint.npz (last)" in capsys.readouterr().out
    assert main(["eval", str(run.path), "--checkpoint", "nope.npz", "--brief"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_report_is_a_model_card(tmp_path):
    run, trainer = trained(tmp_path, epochs=2)
    report = (run.path / "report.md").read_text(encoding="utf-8")
    for section in ("## Checkpoints", "### Intended use", "### Data", "### Metrics",
                    "### Limitations", "### Loading it"):  # fmt: skip
        assert section in report
    assert "licence: CC BY-SA 3.0 (Y. LeCun" in report
    last = trainer.state.history[-1]
    assert f"test accuracy: {100 * last['test_acc']:.2f}%" in report
    assert "gradschool.load_run(" in report
    mean = np.asarray(trainer.data.normalizer.mean)
    assert mean.shape == (1,)  # per channel: the card says the statistics are kept
    assert "standardised with the training set's mean and std" in report
