"""Turn stored images into network inputs: `to_float`, `Normalizer`.

Data sets are stored as uint8 (a quarter of the memory of float32); they become float32 only
here, just before the model. The usual recipe:

    X = to_float(ds.X_train)                # uint8 [0, 255] -> float32 [0, 1]
    norm = Normalizer().fit(X[train_idx])   # statistics of the TRAINING part only
    X_train, X_val = norm(X[train_idx]), norm(X[val_idx])

NOTE: fit the normalizer on the training part only. Statistics that include validation or test
examples leak information about them into training, and the measured accuracy is optimistic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradschool.errors import DataError


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images in [0, 255] -> float32 in [0, 1], same shape.

    NOTE: only uint8 input is accepted: a float array is already converted, and dividing it by
    255 a second time would silently shrink every input (a classic bug).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DataError(
            f"to_float expects uint8 images in [0, 255], got dtype {images.dtype}. If the "
            "images are already floats in [0, 1], use them as they are."
        )
    return images.astype(np.float32) / np.float32(255.0)


class Normalizer:
    """Per-channel standardisation: `(X - mean[c]) / std[c]`, fitted on training data.

    X is (N, C, ...) (images (N, C, H, W); features (N, D), where each feature is a "channel");
    mean and std are (C,) float32, taken over every axis except axis 1. Output is float32.

    `state_dict()` is a plain dict of lists of floats, so it can be written into a run
    directory (JSON, TOML) and read back with `Normalizer.from_state_dict(state)`.
    """

    # NOTE: a channel with zero spread (e.g. a border pixel that is always 0 when features are
    # pixels) would divide by zero; its std is taken as 1, as scikit-learn's StandardScaler does.
    _MIN_STD = 1e-12

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None  # (C,) float32
        self.std: np.ndarray | None = None  # (C,) float32

    @staticmethod
    def _check(X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim < 2:
            raise DataError(
                f"Normalizer expects a batch of shape (N, C, ...), got shape {X.shape}. "
                "For a single vector of features, add the batch axis: X[None]."
            )
        return X

    def fit(self, X: np.ndarray) -> Normalizer:
        """Compute per-channel mean and std of `X` (N, C, ...); return self."""
        X = self._check(X)
        axes = (0, *range(2, X.ndim))
        # Accumulate in float64: a float32 sum over 47M pixels loses digits.
        mean = X.mean(axis=axes, dtype=np.float64)
        std = X.std(axis=axes, dtype=np.float64)
        std[std < self._MIN_STD] = 1.0
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        return self

    def _stats(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise DataError("this Normalizer is not fitted: call .fit(X_train) first.")
        if X.shape[1] != len(self.mean):
            raise DataError(
                f"this Normalizer was fitted on {len(self.mean)} channels, but the input has "
                f"{X.shape[1]} (shape {X.shape}). Fit and apply it to the same kind of data."
            )
        shape = (1, -1) + (1,) * (X.ndim - 2)  # broadcast (C,) over (N, C, ...)
        return self.mean.reshape(shape), self.std.reshape(shape)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """(X - mean) / std per channel, as float32, same shape as X."""
        X = self._check(X)
        mean, std = self._stats(X)
        return ((X.astype(np.float32, copy=False) - mean) / std).astype(np.float32, copy=False)

    def inverse(self, X: np.ndarray) -> np.ndarray:
        """Undo the normalisation (for plotting inputs or saliency maps)."""
        X = self._check(X)
        mean, std = self._stats(X)
        return (X.astype(np.float32, copy=False) * std + mean).astype(np.float32, copy=False)

    def state_dict(self) -> dict[str, list[float]]:
        """`{"mean": [...], "std": [...]}` as plain floats (JSON/TOML-friendly)."""
        if self.mean is None or self.std is None:
            raise DataError("this Normalizer is not fitted: call .fit(X_train) first.")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> Normalizer:
        """Restore from `state_dict()` output; return self."""
        try:
            mean = np.asarray(state["mean"], dtype=np.float32).reshape(-1)
            std = np.asarray(state["std"], dtype=np.float32).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"a Normalizer state must be {{'mean': [...], 'std': [...]}}, got {state!r} "
                f"({e}). Was the run directory's file edited by hand?"
            ) from None
        if mean.shape != std.shape or (std <= 0).any():
            raise DataError(
                f"a Normalizer state needs mean and std of the same length with std > 0, got "
                f"{state!r}. Was the run directory's file edited by hand?"
            )
        self.mean, self.std = mean, std
        return self

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Normalizer:
        return cls().load_state_dict(state)

    def __repr__(self) -> str:
        if self.mean is None or self.std is None:
            return "Normalizer(unfitted)"
        return f"Normalizer(mean={self.mean.tolist()}, std={self.std.tolist()})"


# --- Augmentations (to come) -------------------------------------------------------------------
# Random augmentations (flips, crops, small rotations, noise) will live here. Their contract,
# so they compose with the loader and stay reproducible:
#
#     augment(X_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray
#
# - they act on one float32 batch (N, C, H, W) at a time, inside the training loop, after
#   `to_float` and before `Normalizer` (or after it: say which in the docstring);
# - they draw every random number from the `rng` they are given (the trainer derives it from
#   the run's seed and the epoch), never from a global RNG, so a resumed run repeats them;
# - they are applied to training batches only, never to validation or test data.
