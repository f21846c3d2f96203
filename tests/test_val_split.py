"""data.val_fraction = "auto" (the default): the seed's recipe on a full data set trains on the
whole training set, as the seed's own loop does; the embedded slice keeps 10% for validation;
anything that chooses by a validation metric gets its split (data/prepare.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradschool.config import load_config
from gradschool.data.prepare import resolve_val_fraction
from gradschool.experiments.search import load_search
from gradschool.train.trainer import Trainer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _auto(*overrides: str) -> float:
    config = load_config("seed_mlp", list(overrides))
    return resolve_val_fraction(config.data, config)


def test_auto_follows_the_data_set_and_what_the_run_watches() -> None:
    assert load_config("seed_mlp").data.val_fraction == "auto"
    assert _auto() == 0.1  # mnist-mini, the embedded slice: validation against test
    assert _auto("--dataset", "mnist") == 0.0  # the seed trains on all 60,000
    assert _auto("--dataset", "fashion-mnist") == 0.0
    # a run that chooses by a validation metric gets a split on any data set
    assert _auto("--dataset", "mnist", "--patience", "3") == 0.1
    assert _auto("--dataset", "mnist", "--patience", "3", "--monitor", "train_loss") == 0.0
    assert _auto("--dataset", "mnist", "--schedule.name", "plateau") == 0.1
    # an explicit value is obeyed everywhere
    assert _auto("--dataset", "mnist", "--val-fraction", "0.2") == 0.2
    assert _auto("--val-fraction", "0") == 0.0
    # the bundled configs whose docs report validation accuracy keep their 10%
    for name in ("mnist_cnn", "fashion_cnn", "fsdd_cnn"):
        assert load_config(name).data.val_fraction == 0.1


def test_a_search_on_a_full_data_set_gets_a_validation_split() -> None:
    assert load_search("seed_mlp", ["--dataset", "mnist"]).base.data.val_fraction == 0.1
    assert load_search("seed_mlp").base.data.val_fraction == "auto"  # 0.1 on mnist-mini


def test_the_default_job_keeps_its_validation_split() -> None:
    trainer = Trainer(load_config("seed_mlp", ["--progress", "off"]), console=False)
    assert len(trainer.data.y_train) == 9_000 and len(trainer.data.y_val) == 1_000


def test_the_seed_recipe_on_full_mnist_trains_on_all_60000(capsys) -> None:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"full MNIST is not in {SHARED_DATA} (the shared data directory)")
    overrides = ["--dataset", "mnist", "--data-dir", str(SHARED_DATA), "--max-steps", "3"]
    trainer = Trainer(load_config("seed_mlp", [*overrides, "--progress", "off"]))
    assert len(trainer.data.y_train) == 60_000 and trainer.data.X_val is None
    trainer.fit()
    line = capsys.readouterr().out.strip().splitlines()[-1]
    # the seed's line, then the test accuracy, labelled as such; no validation figure
    assert line.startswith("Epoch: 1, Loss: ") and ", test acc: " in line
    assert "val acc" not in line
