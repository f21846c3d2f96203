"""Stratified k-fold cross-validation: a loop over the one training loop.

The seed's FAQ (section 8) answers "how do I evaluate a model?" with "a validation set, or
cross-validation". One validation split gives one number, and with a small data set that
number depends a good deal on which examples happened to land in it. k-fold cross-validation
uses every example for validation once:

    split the training examples into k folds, each with the classes' proportions (stratified)
    for i in 1..k:  train a fresh model on the other k - 1 folds, measure it on fold i
    report the k scores, their mean and their standard deviation

Each fold is an ordinary run of `train.fit`, given that fold's arrays (`data=`), so whatever
a config can do (engines, optimizers, augmentation, early stopping) works here unchanged.
Two rules keep the estimate honest:

- the normalisation statistics of fold i come from its k - 1 training folds only
  (`prepare_data(train_idx=, val_idx=)`), never from the fold it is measured on;
- the test split is not even loaded into the folds (`with_test=False`): cross-validation
  chooses, the test set only confirms, once, at the end.

NOTE: the standard deviation reported is the sample one (ddof = 1) of the k fold scores. The
folds share most of their training data, so it describes how much a score moves with the
choice of validation examples; it is not a confidence interval of the mean.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.config import Config, save_config
from gradschool.data.datasets import Dataset, load_dataset
from gradschool.data.loader import stratified_kfold
from gradschool.data.prepare import prepare_data, split_indices
from gradschool.errors import ConfigError

__all__ = ["CVResult", "FoldResult", "cross_validate", "fold_indices"]


@dataclass
class FoldResult:
    """One fold: its sizes, the final model's validation measures, its epoch history."""

    fold: int
    n_train: int
    n_val: int
    val_loss: float
    val_acc: float
    epochs: int
    seconds: float
    history: list[dict[str, Any]] = field(repr=False, default_factory=list)


@dataclass
class CVResult:
    folds: list[FoldResult]

    def scores(self, metric: str = "val_acc") -> np.ndarray:
        return np.array([getattr(f, metric) for f in self.folds], dtype=np.float64)

    def mean(self, metric: str = "val_acc") -> float:
        return float(self.scores(metric).mean())

    def std(self, metric: str = "val_acc") -> float:
        """Sample standard deviation (ddof = 1) over the folds."""
        s = self.scores(metric)
        return float(s.std(ddof=1)) if len(s) > 1 else 0.0

    def summary(self) -> str:
        acc, loss = self.scores("val_acc") * 100, self.scores("val_loss")
        return (
            f"{len(self.folds)}-fold CV: val acc {acc.mean():.2f}% ± {acc.std(ddof=1):.2f} "
            f"(min {acc.min():.2f}, max {acc.max():.2f}); val loss {loss.mean():.4f} ± "
            f"{loss.std(ddof=1):.4f}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": [
                {k: v for k, v in dataclasses.asdict(f).items() if k != "history"}
                for f in self.folds
            ],
            "mean": {m: self.mean(m) for m in ("val_acc", "val_loss")},
            "std": {m: self.std(m) for m in ("val_acc", "val_loss")},
        }


def fold_indices(
    y: np.ndarray, folds: int, data_config: Any, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train_idx, val_idx) pairs of indices into the data set's training split.

    The pool is the training split (or the config's stratified `train_subset` of it); the
    config's own validation fraction is ignored, since each fold holds out its own part.
    """
    pool, _ = split_indices(y, dataclasses.replace(data_config, val_fraction=0.0), seed)
    parts = stratified_kfold(y[pool], folds, seed=seed)
    return [(pool[train], pool[val]) for train, val in parts]


def cross_validate(
    config: Config,
    folds: int = 5,
    *,
    dataset: Dataset | None = None,
    on_fold: Callable[[FoldResult], None] | None = None,
) -> CVResult:
    """Train one fresh model per fold through `train.fit`; measure each on its held-out fold.

    Every fold uses the same config (and so the same seed: the same initial weights), so the
    spread of the scores comes from the data alone. `on_fold` is called after each fold.
    """
    from gradschool.trust.dp import fit_for

    if not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {folds!r} (--folds 5).")
    if dataset is None:
        data_config = config.data
        dataset = load_dataset(data_config.dataset, data_config.data_dir, data_config.download)
    seed = config.train.seed
    results = []
    parts = fold_indices(dataset.y_train, folds, config.data, seed)
    for i, (train_idx, val_idx) in enumerate(parts):
        start = time.perf_counter()
        data = prepare_data(
            config.data,
            seed,
            dataset=dataset,
            train_idx=train_idx,
            val_idx=val_idx,
            with_test=False,
        )
        trainer = fit_for(config)(config, data=data, console=False)
        # The final model (the best epoch's, when early stopping restored it) on its fold.
        measured = trainer.evaluate(data.X_val, data.y_val)
        result = FoldResult(
            fold=i + 1,
            n_train=len(train_idx),
            n_val=len(val_idx),
            val_loss=measured["loss"],
            val_acc=measured["acc"],
            epochs=trainer.state.epoch,
            seconds=time.perf_counter() - start,
            history=trainer.state.history,
        )
        results.append(result)
        if on_fold is not None:
            on_fold(result)
    return CVResult(results)


def save_cv(result: CVResult, config: Config, out: Path) -> Path:
    """Write config.toml, folds.csv (one row per fold) and cv.json (with mean and std)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.toml")
    rows = result.to_dict()["folds"]
    with open(out / "folds.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "cv.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return out


def default_out_dir(config: Config, folds: int) -> Path:
    name = config.train.run_name or (
        f"cv{folds}-{config.data.dataset}-{config.model.name}-{config.train.engine}-"
        f"{time.strftime('%Y%m%d-%H%M%S')}"
    )
    return Path(config.train.out_dir) / name
