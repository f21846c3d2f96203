"""From a data set to the arrays a training run uses: subset, validation split, normalisation.

Everything a run needs to see its data the same way again (which examples were held out,
the normalisation statistics) follows from the config and the seed, so a resumed run, an
`eval` of a finished run and each fold of a cross-validation rebuild it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.data.datasets import Dataset, load_dataset
from gradschool.data.loader import stratified_split
from gradschool.data.transforms import Normalizer, to_float


@dataclass
class Prepared:
    """Float arrays ready for a model: X in the shape the model reads, y int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray | None  # None when prepared with_test=False (search, cv)
    y_test: np.ndarray | None
    classes: list[str]
    normalizer: Normalizer | None
    source: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _as_float(X: np.ndarray, scale: bool) -> np.ndarray:
    """uint8 pixels become float32 in [0, 1] (like torchvision's ToTensor) unless
    normalize = "none", which keeps the raw 0..255 values."""
    if X.dtype == np.uint8 and scale:
        return to_float(X)
    return X.astype(np.float32, copy=False)


# data.val_fraction = "auto" (the default) holds this much out where a validation split is kept.
AUTO_VAL_FRACTION = 0.1


def resolve_val_fraction(data_config: Any, config: Any = None) -> float:
    """The validation fraction a run uses: `data.val_fraction`, or for "auto" (the default)

    - 0.1 on the embedded data sets (mnist-mini, shakespeare-mini): the default job and the
      lectures watch validation against test accuracy, which is what they teach;
    - 0.0 on a full data set (mnist, fashion-mnist, cifar10...): the seed's recipe trains on
      the whole training set and measures the test set, so `gradschool train --dataset mnist`
      trains on all 60,000 images, as the seed's own loop does (98% rather than 97.5%);
    - 0.1 whenever `config` (the whole run) watches a validation metric: early stopping, the
      plateau schedule or the best checkpoint on a val_ metric named explicitly, or a language
      model (its val loss).

    NOTE: with no validation split, the per-epoch figure is the test accuracy ("test acc").
    That is fine for watching a fixed recipe; nothing may be *chosen* by it (early stopping
    and search refuse test metrics), which is why anything that chooses gets a split.
    """
    fraction = data_config.val_fraction
    if fraction != "auto":
        return float(fraction)
    from gradschool.data.datasets import is_embedded

    if is_embedded(data_config.dataset) or (config is not None and _watches_validation(config)):
        return AUTO_VAL_FRACTION
    return 0.0


def _watches_validation(config: Any) -> bool:
    stop, schedule = config.early_stopping, config.schedule
    return (
        config.model.name == "gpt"
        or (stop.patience is not None and stop.monitor.startswith("val_"))
        or (schedule.name == "plateau" and schedule.plateau_metric.startswith("val_"))
        or str(getattr(config.train, "checkpoint_monitor", "auto")).startswith("val_")
    )


def split_indices(y: np.ndarray, data_config: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices into the training set, as the config asks: an optional
    stratified subset of `train_subset` examples, then a stratified validation split."""
    indices = np.arange(len(y))
    if data_config.train_subset is not None and data_config.train_subset < len(y):
        fraction = 1 - data_config.train_subset / len(y)
        keep, _ = stratified_split(y, fraction, seed=seed + 7919)
        indices = np.sort(keep)
    val_fraction = resolve_val_fraction(data_config)
    if val_fraction > 0:
        train, val = stratified_split(y[indices], val_fraction, seed=seed)
        return indices[np.sort(train)], indices[np.sort(val)]
    return indices, indices[:0]


def prepare_data(
    data_config: Any,
    seed: int,
    dataset: Dataset | None = None,
    train_idx: np.ndarray | None = None,
    val_idx: np.ndarray | None = None,
    with_test: bool = True,
) -> Prepared:
    """Load (or take) a data set and return normalised float arrays.

    `train_idx` / `val_idx` override the config's split (k-fold cross-validation passes each
    fold's indices). NOTE: the normalisation statistics are fitted on the training part only,
    never on validation or test data: that would leak information about them into training.
    `with_test=False` leaves the test split out (X_test = y_test = None) without reading it:
    hyper-parameter search and cross-validation must choose without ever seeing it.
    """
    if dataset is None:
        dataset = load_dataset(
            data_config.dataset,
            data_config.data_dir,
            download=data_config.download,
            data_config=data_config,
        )
    if train_idx is None:
        train_idx, val_idx = split_indices(dataset.y_train, data_config, seed)
    scale = data_config.normalize != "none"
    X_train = _as_float(dataset.X_train[train_idx], scale)
    has_val = val_idx is not None and len(val_idx) > 0
    X_val = _as_float(dataset.X_train[val_idx], scale) if has_val else None
    X_test = _as_float(dataset.X_test, scale) if with_test else None
    normalizer = None
    if data_config.normalize == "standard":
        normalizer = Normalizer().fit(X_train)
        X_train = normalizer(X_train)
        X_test = normalizer(X_test) if X_test is not None else None
        X_val = normalizer(X_val) if X_val is not None else None
    return Prepared(
        X_train=X_train,
        y_train=dataset.y_train[train_idx].astype(np.int64),
        X_val=X_val,
        y_val=dataset.y_train[val_idx].astype(np.int64) if X_val is not None else None,
        X_test=X_test,
        y_test=dataset.y_test.astype(np.int64) if with_test else None,
        classes=list(dataset.classes),
        normalizer=normalizer,
        source=str(dataset.source),
    )
