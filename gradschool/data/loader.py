"""Batches and splits: `DataLoader`, `random_split`, `stratified_split`, `kfold`.

Everything here works on *indices*, never on copies of the data: a split is a sorted int64 index
array, and the loader gathers each batch with one fancy-indexing call, `X[idx]`. So the same
code serves NumPy arrays and torch tensors, and a k-fold loop over a 60,000-image set costs a
few index arrays, not k copies of the images.

Randomness is explicit and reproducible: a split depends only on its `seed`; the order of epoch
k of a shuffled loader depends only on `(seed, k)`, so a run resumed at epoch k sees exactly the
batches the uninterrupted run would have seen (the contract of torch's
`DistributedSampler.set_epoch`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gradschool.errors import DataError

Batch = tuple[Any, ...]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    # A SeedSequence built from (seed, stream...) gives independent, reproducible streams:
    # epoch 3 of seed 0 never depends on how many numbers epochs 0-2 drew.
    return np.random.default_rng([seed, *stream])


def _check_batch_size(batch_size: Any) -> int | str:
    if isinstance(batch_size, str) and batch_size.strip().lower() == "full":
        return "full"
    if (
        isinstance(batch_size, numbers.Integral)
        and not isinstance(batch_size, bool)
        and int(batch_size) >= 1
    ):
        return int(batch_size)
    raise DataError(
        f'batch_size must be a positive integer or the string "full", got {batch_size!r}'
        f" ({type(batch_size).__name__}). Use 1 for stochastic gradient descent, N for "
        'mini-batch gradient descent, or "full" for (full-batch) gradient descent.'
    )


class DataLoader:
    """Iterate over aligned arrays in batches: `for xb, yb in DataLoader(X, y, batch_size=64)`.

    arrays: one or more array-likes of the same length N (NumPy arrays, torch tensors: anything
        with `len()` and fancy indexing by an int64 NumPy array). Batch i is
        `tuple(a[idx_i] for a in arrays)`.
    batch_size: an int >= 1, or "full" for the whole set as one batch (gradient descent).
    shuffle: reshuffle every epoch; the order of epoch k depends only on (seed, k).
    drop_last: drop the final batch when it is smaller than batch_size.
    indices: restrict the loader to these example indices (a validation split, a k-fold part),
        without copying the arrays.
    rank, world_size: for data-parallel training over `world_size` processes. Every process
        draws the same epoch order (same seed); each *global* batch holds
        batch_size * world_size examples and process `rank` takes its own contiguous part, so
        N processes at batch B see exactly the batches one process at batch N*B would.

    NOTE: each `iter(loader)` (each `for` loop) uses the current epoch and then advances it, so a
    plain `for epoch ...: for batch in loader:` reshuffles every epoch like torch's DataLoader.
    A resumed run calls `loader.set_epoch(k)` before its first epoch to get epoch k's order.

    NOTE: without shuffle and without `indices`, batches are slices, i.e. *views* of the arrays
    (no copy; cheap for "full"). Do not modify a batch in place unless you mean to modify the
    data set.
    """

    def __init__(
        self,
        *arrays: Any,
        batch_size: int | str,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        indices: Sequence[int] | np.ndarray | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not arrays:
            raise DataError("DataLoader needs at least one array, e.g. DataLoader(X, y, ...).")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise DataError(
                f"DataLoader's arrays must all have the same length, got lengths {lengths}. "
                "Each array holds one item per example (e.g. images and their labels)."
            )
        self.arrays = arrays
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed)
        self.drop_last = bool(drop_last)
        self.indices = None if indices is None else _check_indices(indices, lengths[0])
        if not 0 <= rank < world_size:
            raise DataError(f"rank must be in [0, world_size), got rank {rank} of {world_size}")
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._skip = 0  # batches the next iteration leaves out (a run resumed mid-epoch)

    @property
    def num_examples(self) -> int:
        """Examples seen per epoch (before drop_last)."""
        return len(self.arrays[0]) if self.indices is None else len(self.indices)

    def _batch_len(self) -> int:
        """Examples per global batch (all processes together)."""
        if isinstance(self.batch_size, str):  # "full"
            return max(self.num_examples, 1)
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n, bs = self.num_examples, self._batch_len()
        return n // bs if self.drop_last else math.ceil(n / bs)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch `epoch`'s order (for resuming a run)."""
        self.epoch = _check_seed(epoch)

    def skip(self, batches: int) -> None:
        """Make the next iteration start at batch `batches` of its epoch: the same batches the
        whole epoch would serve from there on (a run resumed mid-epoch), none gathered before."""
        self._skip = _check_seed(batches)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch `epoch`, in the order they are served. (n,) int64."""
        base = (
            np.arange(len(self.arrays[0]), dtype=np.int64) if self.indices is None else self.indices
        )
        if not self.shuffle:
            return base
        return base[_rng(self.seed, epoch).permutation(len(base))]

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        first, self._skip = self._skip, 0
        # Not a generator itself: the epoch advances when iteration starts, not at first next().
        return self._batches(epoch, first)

    def _batches(self, epoch: int, first: int = 0) -> Iterator[Batch]:
        bs, n_batches = self._batch_len(), len(self)
        shard = self._shard
        if not self.shuffle and self.indices is None:
            for i in range(first, n_batches):
                start, stop = shard(i * bs, min((i + 1) * bs, self.num_examples))
                yield tuple(a[start:stop] for a in self.arrays)
            return
        order = index_like(self.arrays[0], self.order(epoch))
        for i in range(first, n_batches):
            start, stop = shard(i * bs, min((i + 1) * bs, len(order)))
            idx = order[start:stop]
            yield tuple(a[idx] for a in self.arrays)

    def _shard(self, start: int, stop: int) -> tuple[int, int]:
        """This process's part [start, stop) of the global batch [start, stop)."""
        if self.world_size == 1:
            return start, stop
        size = stop - start
        return start + size * self.rank // self.world_size, start + size * (
            self.rank + 1
        ) // self.world_size

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.num_examples} examples, batch_size={self.batch_size!r}, "
            f"{len(self)} batches, shuffle={self.shuffle}, seed={self.seed}, "
            f"drop_last={self.drop_last})"
        )


def index_like(array: Any, order: np.ndarray) -> Any:
    """The epoch's order where `array` lives: a NumPy array, or for a torch tensor on a GPU,
    a tensor on that GPU (copied once per epoch).

    NOTE: a GPU tensor indexed by a NumPy array copies the index to the GPU first, and that
    copy waits for all the GPU's queued work: one stall of the CPU per batch, which undoes the
    CPU running ahead of the GPU. Slicing a GPU index tensor instead is free.
    """
    device = getattr(array, "device", None)
    if device is None or getattr(device, "type", "cpu") == "cpu" or isinstance(array, np.ndarray):
        return order
    import torch  # only reached with torch tensors, so torch is there

    return torch.as_tensor(order, device=device)


def _check_indices(indices: Any, n: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise DataError(
            f"indices must be a 1-D array of integers, got shape {idx.shape} and dtype "
            f"{idx.dtype}. Use the index arrays random_split / stratified_split / kfold return."
        )
    if idx.min() < 0 or idx.max() >= n:
        raise DataError(
            f"indices must lie in [0, {n}) for arrays of length {n}, got values from "
            f"{idx.min()} to {idx.max()}. Were the indices made for a different data set?"
        )
    return idx.astype(np.int64, copy=False)


# --- splits: each returns sorted int64 index arrays --------------------------------------------


def _check_n(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise DataError(f"{what} must be a non-negative integer (a number of examples), got {n!r}")
    return int(n)


def random_split(n: int, lengths_or_fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Split `range(n)` at random into parts of the given sizes.

    `lengths_or_fractions` is either integers that sum to n (`[50000, 10000]`) or fractions
    that sum to 1 (`[0.8, 0.2]`). Fractions are rounded like `torch.utils.data.random_split`:
    each part gets floor(n * f), and the leftover examples go one each to the first parts.
    Returns one sorted (size_i,) int64 index array per part; together they partition range(n).
    """
    n = _check_n(n, "n")
    seed = _check_seed(seed)
    parts = list(lengths_or_fractions)
    if not parts:
        raise DataError("random_split needs at least one length or fraction.")
    if all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in parts):
        sizes = [int(p) for p in parts]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise DataError(
                f"random_split: the lengths {sizes} must be non-negative and sum to n={n} "
                f"(they sum to {sum(sizes)}). Or pass fractions that sum to 1, e.g. [0.8, 0.2]."
            )
    elif all(isinstance(p, numbers.Real) and not isinstance(p, bool) for p in parts):
        fracs = [float(p) for p in parts]
        if any(f < 0 for f in fracs) or not math.isclose(sum(fracs), 1.0, abs_tol=1e-6):
            raise DataError(
                f"random_split: the fractions {fracs} must be non-negative and sum to 1 "
                f"(they sum to {sum(fracs)}). Or pass integer lengths that sum to n={n}."
            )
        sizes = [math.floor(n * f) for f in fracs]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        raise DataError(
            f"random_split: pass all integers (lengths) or all fractions, got {parts!r}."
        )
    perm = _rng(seed).permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [np.sort(perm[a:b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]


def _check_labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"labels y must be a 1-D array (one class per example), got {y.shape}.")
    return y


def stratified_split(
    y: Sequence[int] | np.ndarray,
    val_fraction: float | None = None,
    *,
    val_size: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split examples into (train_idx, val_idx) keeping each class's share in both parts.

    Give exactly one of `val_fraction` (in (0, 1)) or `val_size` (an int in (0, N)). Class c,
    with n_c of the N examples, gets n_c * V / N validation examples rounded by the
    largest-remainder method, so every class is within one example of its exact share and the
    total is exactly V. Returns two sorted int64 index arrays that partition range(N).
    """
    y = _check_labels(y)
    n = len(y)
    seed = _check_seed(seed)
    if (val_fraction is None) == (val_size is None):
        raise DataError("stratified_split: give exactly one of val_fraction or val_size.")
    if val_fraction is not None:
        if not (isinstance(val_fraction, numbers.Real) and 0 < val_fraction < 1):
            raise DataError(
                f"stratified_split: val_fraction must be between 0 and 1, got {val_fraction!r}."
            )
        total = round(n * float(val_fraction))
    else:
        if (
            isinstance(val_size, bool)
            or not isinstance(val_size, numbers.Integral)
            or not 0 < val_size < n
        ):
            raise DataError(
                f"stratified_split: val_size must be an integer between 1 and {n - 1} "
                f"(there are {n} examples), got {val_size!r}."
            )
        total = int(val_size)
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * total / n  # exact, fractional share of each class
    take = np.floor(quota).astype(np.int64)
    # Largest remainder: the classes whose share was rounded down the most get one more.
    leftover = total - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:leftover]] += 1
    rng = _rng(seed)
    val = []
    for c in range(len(classes)):
        members = np.flatnonzero(y_idx == c)
        val.append(rng.permutation(members)[: take[c]])
    val_idx = np.sort(np.concatenate(val)).astype(np.int64)
    is_val = np.zeros(n, dtype=bool)
    is_val[val_idx] = True
    return np.flatnonzero(~is_val).astype(np.int64), val_idx


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 2 <= int(k) <= n:
        raise DataError(
            f"k-fold needs an integer k between 2 and the number of examples ({n}), got {k!r}."
        )
    return int(k)


def _folds_from_assignment(fold: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # fold[i] = which fold example i validates in; train on the rest.
    return [
        (np.flatnonzero(fold != j).astype(np.int64), np.flatnonzero(fold == j).astype(np.int64))
        for j in range(k)
    ]


def kfold(n: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation: k pairs (train_idx, val_idx) of sorted int64 index arrays.

    The k validation parts partition range(n), their sizes differ by at most one, and each
    train_idx is the complement of its val_idx.
    """
    n = _check_n(n, "n")
    k = _check_k(k, n)
    seed = _check_seed(seed)
    fold = np.empty(n, dtype=np.int64)
    fold[_rng(seed).permutation(n)] = np.arange(n) % k
    return _folds_from_assignment(fold, k)


def stratified_kfold(
    y: Sequence[int] | np.ndarray, k: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation keeping class proportions: k pairs (train_idx, val_idx).

    Each class's examples are shuffled and dealt round-robin to the folds, one class after
    the other without restarting the count, so every fold gets its class's share within one
    example and the fold sizes differ by at most one. A class with fewer than k examples is
    simply absent from some validation folds.
    """
    y = _check_labels(y)
    n = len(y)
    k = _check_k(k, n)
    seed = _check_seed(seed)
    rng = _rng(seed)
    _, y_idx = np.unique(y, return_inverse=True)
    # Examples grouped by class (shuffled within each class), then dealt 0, 1, ..., k-1, 0, ...
    dealt = np.concatenate(
        [rng.permutation(np.flatnonzero(y_idx == c)) for c in range(y_idx.max() + 1)]
    )
    fold = np.empty(n, dtype=np.int64)
    fold[dealt] = np.arange(n) % k
    return _folds_from_assignment(fold, k)
