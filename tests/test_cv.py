"""k-fold cross-validation: the folds partition the data, keep the class proportions, each
fold's normalisation sees its training part only, the test split is never read, and
`gradschool cv` runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from no_test_split import SplitReadError, blind

from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.data.datasets import load_dataset
from gradschool.data.prepare import prepare_data
from gradschool.data.transforms import to_float
from gradschool.experiments.cv import cross_validate, fold_indices


@pytest.fixture(scope="module")
def mini():
    return load_dataset("mnist-mini")


@pytest.mark.parametrize("subset", [None, 1000])
def test_folds_partition_the_pool_and_are_stratified(mini, subset):
    config = with_updates(Config(), {"train_subset": subset})
    folds = fold_indices(mini.y_train, 5, config.data, seed=0)
    pool = np.sort(np.concatenate([val for _, val in folds]))
    assert len(pool) == (subset or len(mini.y_train)) and len(np.unique(pool)) == len(pool)
    classes, counts = np.unique(mini.y_train[pool], return_counts=True)
    for train, val in folds:
        assert not np.intersect1d(train, val).size
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), pool)
        # Each class's share of the fold is within one example of its share of the pool.
        fold_counts = np.array([(mini.y_train[val] == c).sum() for c in classes])
        assert np.abs(fold_counts - counts / 5).max() <= 1
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1


def test_each_folds_normalisation_sees_only_its_training_part(mini):
    config = with_updates(Config(), {"train_subset": 2000})
    folds = fold_indices(mini.y_train, 4, config.data, seed=0)
    pool = np.concatenate([val for _, val in folds])
    everything = to_float(mini.X_train[pool]).mean(dtype=np.float64)
    with pytest.raises(SplitReadError):  # the guard works
        prepare_data(config.data, 0, dataset=blind(mini))
    for train, val in folds:
        data = prepare_data(config.data, 0, dataset=blind(mini), train_idx=train, val_idx=val,
                            with_test=False)  # fmt: skip
        expected = to_float(mini.X_train[train]).mean(dtype=np.float64)
        assert data.normalizer.mean[0] == pytest.approx(expected, rel=1e-5)
        assert data.normalizer.mean[0] != pytest.approx(everything, rel=1e-5)
        assert data.X_test is None and data.y_test is None
        # The training part is exactly standardised; the held-out fold only approximately.
        assert abs(float(data.X_train.mean())) < 1e-4
        assert abs(float(data.X_val.mean())) > 1e-4


def test_cross_validate_trains_a_fresh_model_per_fold_blind_to_the_test_split(mini):
    config = with_updates(
        Config(), {"train_subset": 300, "epochs": 1, "progress": "off", "sizes": [784, 16, 10]}
    )
    seen = []
    result = cross_validate(config, 3, dataset=blind(mini), on_fold=seen.append)
    assert [f.fold for f in result.folds] == [1, 2, 3] and seen == result.folds
    assert sum(f.n_val for f in result.folds) == 300
    assert all(f.n_train + f.n_val == 300 for f in result.folds)
    assert all("test_acc" not in row for f in result.folds for row in f.history)
    scores = result.scores("val_acc")
    assert result.mean() == pytest.approx(scores.mean())
    assert result.std() == pytest.approx(scores.std(ddof=1))
    assert "3-fold CV" in result.summary()


def test_cv_command(tmp_path, capsys):
    out = tmp_path / "cv"
    argv = ["cv", "--folds", "2", "--out", str(out), "--train-subset", "200", "--epochs", "1",
            "--progress", "off"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "fold 1" in text and "fold 2" in text and "2-fold CV: val acc" in text and "±" in text
    saved = json.loads((out / "cv.json").read_text())
    assert len(saved["folds"]) == 2 and {"val_acc", "val_loss"} <= set(saved["mean"])
    assert (out / "folds.csv").exists() and (out / "config.toml").exists()
    assert main(["cv", "--folds", "1", "--train-subset", "200"]) == 2  # a clear error
    assert "at least 2 folds" in capsys.readouterr().err
