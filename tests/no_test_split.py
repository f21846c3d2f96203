"""A data set whose test split cannot be read: proof that search and cross-validation never
look at it (imported by name, like op_check)."""

from __future__ import annotations

import dataclasses

from gradschool.data.datasets import Dataset


class SplitReadError(AssertionError):
    pass


class _NoTestDataset(Dataset):
    def __getattribute__(self, name):
        if name in ("X_test", "y_test"):
            raise SplitReadError(f"the test split was read ({name})")
        return super().__getattribute__(name)


def blind(dataset: Dataset) -> Dataset:
    """A copy of `dataset` that raises SplitReadError when its test split is touched."""
    # Built whole first (its __post_init__ checks the test split), then made blind.
    copy = dataclasses.replace(dataset)
    copy.__class__ = _NoTestDataset
    return copy
