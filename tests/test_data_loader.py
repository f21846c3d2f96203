"""Batches, splits and transforms: DataLoader, random_split, stratified_split, k-fold,
to_float and Normalizer. Small synthetic arrays only, so these run in well under a second."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradschool.data import (
    DataLoader,
    Normalizer,
    kfold,
    random_split,
    stratified_kfold,
    stratified_split,
    to_float,
)
from gradschool.errors import DataError


def _epoch_indices(loader) -> list[np.ndarray]:
    # Each example's value equals its index, so a batch of the first array is its indices.
    return [batch[0] for batch in loader]


# --- DataLoader --------------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 10, 11, 64])
def test_loader_covers_every_index_once(shuffle, batch_size):
    n = 10
    X, y = np.arange(n), np.arange(n) * 10
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-n // batch_size)
    seen = np.concatenate([xb for xb, _ in batches])
    assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, xb * 10)  # arrays stay aligned
        assert len(xb) <= batch_size
    if not shuffle:
        np.testing.assert_array_equal(seen, X)


def test_full_batch_is_one_batch():
    X = np.arange(7)
    loader = DataLoader(X, batch_size="full")
    assert len(loader) == 1
    (batch,) = list(loader)
    np.testing.assert_array_equal(batch[0], X)
    assert np.shares_memory(batch[0], X)  # NOTE in the docstring: unshuffled batches are views
    shuffled = DataLoader(X, batch_size="full", shuffle=True)
    assert sorted(next(iter(shuffled))[0].tolist()) == list(range(7))
    assert len(DataLoader(np.arange(0), batch_size="full")) == 0


def test_drop_last():
    X = np.arange(10)
    loader = DataLoader(X, batch_size=4, drop_last=True, shuffle=True)
    batches = _epoch_indices(loader)
    assert len(loader) == len(batches) == 2 and all(len(b) == 4 for b in batches)
    assert len(DataLoader(X, batch_size=11, drop_last=True)) == 0
    assert len(DataLoader(X, batch_size=5, drop_last=True)) == 2


def test_shuffle_depends_only_on_seed_and_epoch():
    X = np.arange(100)
    a = DataLoader(X, batch_size=16, shuffle=True, seed=7)
    b = DataLoader(X, batch_size=16, shuffle=True, seed=7)
    epochs_a = [np.concatenate(_epoch_indices(a)) for _ in range(3)]  # epochs 0, 1, 2
    # A resumed run: jump straight to epoch 2.
    b.set_epoch(2)
    np.testing.assert_array_equal(np.concatenate(_epoch_indices(b)), epochs_a[2])
    b.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate(_epoch_indices(b)), epochs_a[0])
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # a new order each epoch
    assert not np.array_equal(epochs_a[0], X)
    c = DataLoader(X, batch_size=16, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate(_epoch_indices(c)), epochs_a[0])
    np.testing.assert_array_equal(a.order(1), epochs_a[1])


def test_loader_indices_restrict_without_copy():
    X = np.arange(20) * 2
    idx = np.array([3, 17, 5, 8, 0])
    loader = DataLoader(X, batch_size=2, shuffle=True, indices=idx)
    assert len(loader) == 3 and loader.num_examples == 5
    seen = np.concatenate([b[0] for b in loader])
    assert sorted(seen.tolist()) == sorted((idx * 2).tolist())
    plain = DataLoader(X, batch_size=10, indices=idx)
    np.testing.assert_array_equal(next(iter(plain))[0], X[idx])  # given order kept
    with pytest.raises(DataError, match=r"\[0, 20\)"):
        DataLoader(X, batch_size=2, indices=[0, 20])
    with pytest.raises(DataError, match="1-D array of integers"):
        DataLoader(X, batch_size=2, indices=[0.5, 1.0])


def test_loader_works_with_torch_tensors():
    torch = pytest.importorskip("torch")
    X = torch.arange(12).reshape(6, 2)
    y = torch.arange(6)
    for shuffle in (False, True):
        batches = list(DataLoader(X, y, batch_size=4, shuffle=shuffle, indices=None))
        assert all(isinstance(t, torch.Tensor) for b in batches for t in b)
        assert sorted(torch.cat([yb for _, yb in batches]).tolist()) == list(range(6))
        for xb, yb in batches:
            assert torch.equal(xb[:, 0], yb * 2)
    (xb, yb), *_ = DataLoader(X, y, batch_size=3, indices=np.array([5, 1]))
    assert yb.tolist() == [5, 1]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "32", "half", True, None, [4]])
def test_bad_batch_size(bad):
    with pytest.raises(DataError, match="batch_size must be a positive integer"):
        DataLoader(np.arange(4), batch_size=bad)


def test_loader_argument_errors():
    with pytest.raises(DataError, match="same length"):
        DataLoader(np.arange(4), np.arange(5), batch_size=2)
    with pytest.raises(DataError, match="at least one array"):
        DataLoader(batch_size=2)
    with pytest.raises(DataError, match="seed"):
        DataLoader(np.arange(4), batch_size=2, seed=-1)
    assert len(DataLoader(np.arange(4), batch_size=np.int64(3))) == 2
    assert DataLoader(np.arange(4), batch_size="FULL").batch_size == "full"


# --- splits ------------------------------------------------------------------------------------


def _assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert joined.dtype == np.int64 and len(joined) == n
    assert sorted(joined.tolist()) == list(range(n))


def test_random_split():
    parts = random_split(10, [7, 3], seed=1)
    assert [len(p) for p in parts] == [7, 3]
    _assert_partition(parts, 10)
    assert all(np.all(np.diff(p) > 0) for p in parts)  # sorted
    fr = random_split(10, [0.5, 0.25, 0.25], seed=1)
    assert [len(p) for p in fr] == [6, 2, 2]  # floor 5, 2, 2; the leftover goes to part 0
    _assert_partition(fr, 10)
    same = random_split(10, [7, 3], seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, same))
    other = random_split(10, [7, 3], seed=2)
    assert not np.array_equal(parts[1], other[1])
    for bad in ([5, 4], [0.5, 0.4], [5, 0.5], [], [-1, 11]):
        with pytest.raises(DataError, match="random_split"):
            random_split(10, bad)


def _labels():
    # 5 classes of unequal sizes: 50, 31, 17, 9, 3 (110 examples), shuffled.
    y = np.repeat(np.arange(5), [50, 31, 17, 9, 3])
    return np.random.default_rng(0).permutation(y)


@pytest.mark.parametrize("kw", [{"val_fraction": 0.2}, {"val_fraction": 0.33}, {"val_size": 13}])
def test_stratified_split_keeps_proportions(kw):
    y = _labels()
    train, val = stratified_split(y, seed=4, **kw)
    _assert_partition([train, val], len(y))
    total = kw.get("val_size") or round(len(y) * kw["val_fraction"])
    assert len(val) == total
    counts = np.bincount(y)
    share = counts * total / len(y)
    assert np.all(np.abs(np.bincount(y[val], minlength=5) - share) < 1)
    again = stratified_split(y, seed=4, **kw)
    assert np.array_equal(val, again[1])


def test_stratified_split_errors():
    y = _labels()
    for kw in ({}, {"val_fraction": 0.2, "val_size": 3}, {"val_fraction": 1.0}, {"val_size": 0}):
        with pytest.raises(DataError, match="stratified_split"):
            stratified_split(y, **kw)
    with pytest.raises(DataError, match="1-D"):
        stratified_split(np.zeros((4, 2)), 0.5)


def test_kfold_partitions():
    folds = kfold(23, 5, seed=0)
    assert len(folds) == 5
    _assert_partition([val for _, val in folds], 23)
    assert {len(val) for _, val in folds} == {4, 5}
    for train, val in folds:
        _assert_partition([train, val], 23)
    with pytest.raises(DataError, match="k-fold"):
        kfold(3, 4)
    with pytest.raises(DataError, match="k-fold"):
        kfold(10, 1)


def test_stratified_kfold_partitions_and_keeps_proportions():
    y = _labels()
    k = 4
    folds = stratified_kfold(y, k, seed=0)
    _assert_partition([val for _, val in folds], len(y))
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    counts = np.bincount(y)
    for train, val in folds:
        _assert_partition([train, val], len(y))
        assert np.all(np.abs(np.bincount(y[val], minlength=5) - counts / k) < 1)


# --- transforms --------------------------------------------------------------------------------


def test_to_float():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    f = to_float(x)
    assert f.dtype == np.float32 and f.shape == x.shape
    np.testing.assert_allclose(f, [[0.0, 0.2, 1.0]])
    with pytest.raises(DataError, match="uint8"):
        to_float(f)


def test_normalizer_fits_given_data_only():
    rng = np.random.default_rng(0)
    X = rng.normal([[[[1.0]], [[-3.0]]]], [[[[2.0]], [[0.5]]]], size=(200, 2, 4, 4))
    train = X[:100].astype(np.float32)
    norm = Normalizer().fit(train)
    assert norm.mean.dtype == np.float32 and norm.mean.shape == (2,)
    np.testing.assert_allclose(norm.mean, train.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(norm.std, train.std(axis=(0, 2, 3)), rtol=1e-5)
    assert not np.allclose(norm.mean, X.mean(axis=(0, 2, 3)), rtol=1e-6)  # not the whole set
    Z = norm(train)
    assert Z.dtype == np.float32 and Z.shape == train.shape
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    np.testing.assert_allclose(norm.inverse(Z), train, atol=1e-5)


def test_normalizer_state_round_trip():
    X = np.random.default_rng(1).random((50, 3, 2, 2)).astype(np.float32)
    norm = Normalizer().fit(X)
    state = json.loads(json.dumps(norm.state_dict()))  # as saved in a run directory
    again = Normalizer.from_state_dict(state)
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_array_equal(again.std, norm.std)
    np.testing.assert_array_equal(again(X), norm(X))
    with pytest.raises(DataError, match="mean"):
        Normalizer.from_state_dict({"mu": [0.0]})


def test_normalizer_edge_cases():
    with pytest.raises(DataError, match="not fitted"):
        Normalizer()(np.zeros((2, 1)))
    flat = np.zeros((5, 3), dtype=np.uint8)  # (N, D) features; all constant
    flat[:, 1] = [0, 10, 20, 30, 40]
    norm = Normalizer().fit(flat)
    assert norm.std.tolist()[0] == 1.0  # zero spread: std taken as 1, no division by zero
    assert np.isfinite(norm(flat)).all()
    with pytest.raises(DataError, match="fitted on 3 channels"):
        norm(np.zeros((2, 4)))
