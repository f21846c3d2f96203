"""The training loop: golden run, engine parity, resume, NaN guard, crash-safe checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from gradschool.backends import get_backend
from gradschool.config import Config, with_updates
from gradschool.errors import CheckpointError, TrainingError
from gradschool.train.callbacks import Callback
from gradschool.train.run import RunDir
from gradschool.train.trainer import Trainer, fit


class Losses(Callback):
    """Records every batch loss, and stops training after `limit` batches."""

    def __init__(self, limit: int | None = None) -> None:
        self.losses: list[float] = []
        self.limit = limit

    def on_batch_end(self, trainer: Trainer, loss) -> None:
        self.losses.append(float(loss.item()))


def small(**updates) -> Config:
    base = {"train.progress": "off", "train_subset": 1000, "epochs": 2}
    return with_updates(Config(), {**base, **updates})


# ---- golden run ------------------------------------------------------------------------------

# The first five batch losses of the seed recipe (MLP 784-128-64-10, SGD lr 0.01 momentum 0.9,
# batch 64) on mnist-mini with the NumPy engine, seed 0. If a change to the engine, the data
# pipeline or the initialisation alters these, it changed what `gradschool train` computes.
GOLDEN = [2.313847064971924, 2.296797752380371, 2.290984869003296, 2.323246717453003,
          2.273994207382202]  # fmt: skip


def test_golden_run_first_five_losses():
    rec = Losses()
    trainer = Trainer(with_updates(Config(), {"max_steps": 5, "progress": "off"}),
                      callbacks=[rec], console=False)  # fmt: skip
    trainer.fit()
    np.testing.assert_allclose(rec.losses, GOLDEN, rtol=1e-5)
    assert trainer.state.step == 5 and trainer.state.stop_reason == "max_steps = 5"


# ---- parity of the two engines -----------------------------------------------------------------


def test_engines_give_the_same_losses_for_50_steps():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    config = small(max_steps=50, epochs=5)
    np_rec, torch_rec = Losses(), Losses()
    np_trainer = Trainer(config, callbacks=[np_rec], console=False)
    torch_cfg = with_updates(config, {"engine": "torch"})
    torch_trainer = Trainer(torch_cfg, data=np_trainer.data, callbacks=[torch_rec], console=False)
    # Same initial weights: copy the NumPy engine's into the torch model.
    weights = np_trainer.backend.state_to_numpy(np_trainer.model.state_dict())
    torch_trainer.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    np_trainer.fit()
    torch_trainer.fit()
    assert len(np_rec.losses) == 50
    np.testing.assert_allclose(np_rec.losses, torch_rec.losses, rtol=1e-5)


# ---- resume ------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_resume_gives_the_same_metrics_as_an_uninterrupted_run(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    config = small(engine=engine, epochs=4, dropout=0.2, out_dir=str(tmp_path))
    whole = fit(with_updates(config, {"run_name": "whole"}), run=None, console=False)

    first = with_updates(config, {"run_name": "parts", "epochs": 2})
    run = RunDir.create(first)
    fit(first, run=run, console=False)
    assert run.read_metrics()[-1]["epoch"] == 2
    resumed = fit(with_updates(run.load_config(), {"epochs": 4}), run=run, resume=True,
                  console=False)  # fmt: skip

    keys = ["train_loss", "val_loss", "val_acc", "test_loss", "test_acc", "step"]
    for a, b in zip(whole.state.history, resumed.state.history, strict=True):
        for key in keys:
            assert a[key] == pytest.approx(b[key], rel=1e-6), key
    assert [row["epoch"] for row in run.read_metrics()] == [1, 2, 3, 4]


def test_resume_without_a_checkpoint_says_so(tmp_path):
    config = small(out_dir=str(tmp_path), run_name="empty")
    run = RunDir.create(config)
    run.write_config(config)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        fit(config, run=run, resume=True, console=False)


def test_resume_with_a_different_model_is_refused(tmp_path):
    config = small(out_dir=str(tmp_path), run_name="r", epochs=1)
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    other = with_updates(config, {"sizes": [784, 32, 10], "epochs": 2})
    with pytest.raises(CheckpointError, match="does not match"):
        fit(other, run=run, resume=True, console=False)


# ---- failures ----------------------------------------------------------------------------------


class ExplodeAt(Callback):
    """Sets an absurd learning rate when epoch `epoch` starts, so the loss diverges."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, trainer: Trainer) -> None:
        if trainer.state.epoch + 1 == self.epoch:
            for group in trainer.optimizer.param_groups:
                group["lr"] = 1e30


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = small(out_dir=str(tmp_path), run_name="nan", epochs=3)
    run = RunDir.create(config)
    with pytest.raises(TrainingError) as err:
        fit(config, run=run, callbacks=[ExplodeAt(2)], console=False)
    message = str(err.value)
    assert "epoch 2" in message and "learning rate" in message and "--resume" in message
    ckpt = get_backend("numpy").load(run.find_checkpoint())
    assert ckpt["state"]["epoch"] == 1
    assert all(np.isfinite(v).all() for v in ckpt["model"].values())
    assert [row["epoch"] for row in run.read_metrics()] == [1]


def test_a_crash_during_a_checkpoint_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    config = small(out_dir=str(tmp_path), run_name="crash", epochs=1)
    run = RunDir.create(config)
    trainer = fit(config, run=run, console=False)
    path = run.find_checkpoint()
    before = path.read_bytes()

    def dies_midway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt  # the process is interrupted inside the write

    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint()
    assert path.read_bytes() == before
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == []


def test_a_damaged_checkpoint_gives_a_clear_error(tmp_path):
    config = small(out_dir=str(tmp_path), run_name="damaged", epochs=1)
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    path = run.find_checkpoint()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="damaged"):
        fit(config, run=run, resume=True, console=False)


# ---- the run directory -------------------------------------------------------------------------


def test_run_directory_is_self_describing(tmp_path):
    config = small(out_dir=str(tmp_path), run_name="described", epochs=1)
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    names = {p.name for p in run.path.iterdir()}
    assert {"config.toml", "run.json", "metrics.csv", "checkpoint.npz", "report.md"} <= names
    assert (run.path / "plots" / "curves.png").stat().st_size > 1000
    info = run.read_info()
    assert info["seed"] == 0 and info["engine"] == "numpy" and "gradschool_version" in info
    assert "git_commit" in info and "numpy" in info["versions"]
    assert run.load_config() == config
    row = run.read_metrics()[0]
    assert {"epoch", "step", "examples_seen", "lr", "train_loss", "test_acc"} <= set(row)


def test_batch_size_full_is_one_step_per_epoch():
    trainer = fit(small(batch_size="full", epochs=3), console=False)
    assert [row["step"] for row in trainer.state.history] == [1, 2, 3]
    assert trainer.state.history[-1]["examples_seen"] == 3 * len(trainer.data.y_train)


def test_console_prints_the_seeds_line(capsys):
    fit(small(epochs=1), console=True)
    out = capsys.readouterr().out
    assert out.startswith("Epoch: 1, Loss: ")
    assert "val acc" in out and "test acc" in out
