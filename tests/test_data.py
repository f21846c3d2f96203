"""Data files: the IDX reader, the data directory, checksums, downloads, the registry, and the
embedded mnist-mini slice.

Real-data tests use ../shared/data (see its README) and skip, saying why, when it is absent.
No test touches the network: downloads are served from file:// URLs of temporary folders.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from gradschool.data import (
    datasets,
    idx,
    list_datasets,
    load_dataset,
    read_idx,
    sources,
    verify_datasets,
    write_idx,
)
from gradschool.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Published per-class counts of MNIST (train, test).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _need_shared(folder: str) -> Path:
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} is absent (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test sees the user's data dir or cache, nor another test's verification memo."""
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(sources, "_memo", {})


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", _need_shared("mnist"), download=False)


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion-mnist", _need_shared("fashion-mnist"), download=False)


# --- IDX ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
def test_idx_round_trip(tmp_path, suffix, dtype, shape):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    path = write_idx(tmp_path / f"a{suffix}", a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.dtype.isnative
    assert b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    assert idx.read_idx_header(path) == (a.dtype, shape)


def test_idx_is_big_endian(tmp_path):
    data = idx.idx_bytes(np.array([1, 258], dtype=np.int32))
    assert data == bytes.fromhex("00000c01 00000002 00000001 00000102")


def test_write_idx_gz_is_deterministic(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    assert (
        write_idx(tmp_path / "a.gz", a).read_bytes() == write_idx(tmp_path / "b.gz", a).read_bytes()
    )


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="int64"):
        write_idx(tmp_path / "a", np.arange(3, dtype=np.int64))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated(tmp_path, suffix):
    data = idx.idx_bytes(np.zeros((4, 5), dtype=np.int16))[:-3]
    path = tmp_path / f"short{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(DataError) as e:
        read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "truncated" in msg
    assert "40 payload bytes, found 37" in msg  # expected vs found


def test_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx.idx_bytes(np.zeros(3, dtype=np.uint8)) + b"xx")
    with pytest.raises(DataError, match="3 payload bytes, found 5"):
        read_idx(path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "head"
    path.write_bytes(bytes.fromhex("00000803 0000000a"))  # declares 3 dims, gives 1
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "notidx.gz"
    path.write_bytes(gzip.compress(b"PK\x03\x04 this is a zip file, not IDX"))
    with pytest.raises(DataError, match="not an IDX file") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_idx_bad_dtype_code(tmp_path):
    path = tmp_path / "badcode"
    path.write_bytes(bytes.fromhex("00000701 00000001 00"))
    with pytest.raises(DataError, match="dtype code is 0x07") as e:
        read_idx(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("damage", ["flip", "cut", "not-gzip"])
def test_idx_corrupt_gzip(tmp_path, damage):
    rng = np.random.default_rng(0)
    good = gzip.compress(idx.idx_bytes(rng.integers(0, 255, (50, 50), dtype=np.uint8)))
    bad = {
        "flip": good[:40] + bytes(b ^ 0xFF for b in good[40:60]) + good[60:],
        "cut": good[: len(good) // 2],
        "not-gzip": b"hello, not gzip at all",
    }[damage]
    path = tmp_path / "images-idx2-ubyte.gz"
    path.write_bytes(bad)
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")


# --- the data directory ------------------------------------------------------------------------


def test_resolve_data_dir_precedence(tmp_path, monkeypatch):
    assert sources.resolve_data_dir() == tmp_path / "xdg-cache" / "gradschool"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert sources.resolve_data_dir() == Path.home() / ".cache" / "gradschool"
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path / "env"))
    assert sources.resolve_data_dir() == tmp_path / "env"
    assert sources.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"


def _tiny_source(tmp_path, monkeypatch, mirrors=()) -> tuple[sources.Source, dict]:
    """Register a 2-file IDX source 'tiny' with files written in tmp_path/data/tiny/."""
    arrays = {"a-idx1-ubyte": np.arange(10, dtype=np.uint8), "b-idx1-ubyte": np.ones(4, np.int32)}
    specs = tuple(
        sources.FileSpec(name, sources._md5_hex(idx.idx_bytes(a))) for name, a in arrays.items()
    )
    src = sources.Source("tiny", "Tiny", "tiny", specs, tuple(mirrors), "test")
    monkeypatch.setitem(sources.SOURCES, "tiny", src)
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    write_idx(folder / "a-idx1-ubyte.gz", arrays["a-idx1-ubyte"])
    write_idx(folder / "b-idx1-ubyte", arrays["b-idx1-ubyte"])  # raw files are accepted too
    return src, arrays


def test_verification_is_cached_but_verify_rehashes(tmp_path, monkeypatch):
    src, arrays = _tiny_source(tmp_path, monkeypatch)
    calls = []
    real = sources._md5_hex
    monkeypatch.setattr(sources, "_md5_hex", lambda data: calls.append(1) or real(data))
    paths = sources.ensure_source("tiny", tmp_path / "data", download=False)
    assert {p.name for p in paths.values()} == {"a-idx1-ubyte.gz", "b-idx1-ubyte"}
    spec = src.files[0]
    for _ in range(3):
        sources.read_verified(paths[spec.name], spec.md5)
    assert len(calls) == 1  # hashed once, then remembered
    # Remembered in the user cache, never beside the data (which may be a shared copy).
    assert sources.verified_cache_file() == tmp_path / "xdg-cache" / "gradschool" / "verified.json"
    assert sources.verified_cache_file().is_file()
    assert sorted(p.name for p in paths[spec.name].parent.iterdir()) == [
        "a-idx1-ubyte.gz",
        "b-idx1-ubyte",
    ]
    monkeypatch.setattr(sources, "_memo", {})  # a new process: the cache file remembers
    sources.read_verified(paths[spec.name], spec.md5)
    assert len(calls) == 1
    rows = sources.verify_source("tiny", tmp_path / "data")
    assert len(calls) == 3 and all(r["ok"] for r in rows)  # verify always re-hashes
    # A changed file (new size/mtime) is hashed again, and a wrong one is caught.
    write_idx(paths[spec.name], np.arange(11, dtype=np.uint8))
    with pytest.raises(DataError, match="checksum mismatch") as e:
        sources.read_verified(paths[spec.name], spec.md5)
    assert str(paths[spec.name]) in str(e.value)


def test_missing_files_error_lists_what_to_put_where(tmp_path):
    _need_shared("mnist")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ["train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]:
        shutil.copy(SHARED_DATA / "mnist" / name, folder / name)
    with pytest.raises(DataError) as e:
        load_dataset("mnist", tmp_path, download=False)
    msg = str(e.value)
    assert "2 of its 4 files" in msg
    for name in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]:
        assert str(folder / f"{name}.gz") in msg
        assert f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}.gz" in msg
    assert "labels" not in msg  # the files already there are not listed
    assert "yann.lecun.com" in msg  # the fallback mirror
    assert "turned off" in msg and "mnist-mini" in msg


def test_missing_fashion_mnist_names_its_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist", download=False)
    msg = str(e.value)
    assert f"The Fashion-MNIST data set is not in {tmp_path / 'fashion-mnist'}/" in msg
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in msg


def test_download_from_mirror(tmp_path, monkeypatch, caplog):
    _need_shared("mnist")
    # Mirror 1 is dead; mirror 2 (a local folder) has the published .gz files.
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED_DATA / "mnist", mirror)
    src = sources.SOURCES["mnist"]
    dead = (tmp_path / "dead").as_uri() + "/"
    monkeypatch.setitem(
        sources.SOURCES, "mnist", dataclasses.replace(src, mirrors=(dead, mirror.as_uri() + "/"))
    )
    data_dir = tmp_path / "data"
    with caplog.at_level("INFO", logger="gradschool"):  # "downloading URL", per attempt
        ds = load_dataset("mnist", data_dir, download=True)
    assert ds.X_train.shape == (60000, 1, 28, 28) and ds.source == str(data_dir / "mnist")
    files = sorted(p.name for p in (data_dir / "mnist").iterdir())
    assert files == sorted(f"{s.name}.gz" for s in src.files)
    # The unreachable mirror was tried for the first file only, not once per file.
    assert sum(dead in r.getMessage() for r in caplog.records) == 1


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    src, arrays = _tiny_source(tmp_path, monkeypatch)
    shutil.rmtree(tmp_path / "data" / "tiny")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_idx(mirror / "a-idx1-ubyte.gz", arrays["a-idx1-ubyte"])  # good
    write_idx(mirror / "b-idx1-ubyte.gz", np.zeros(4, np.int32))  # wrong content
    monkeypatch.setitem(
        sources.SOURCES, "tiny", dataclasses.replace(src, mirrors=(mirror.as_uri() + "/",))
    )
    with pytest.raises(DataError) as e:
        sources.ensure_source("tiny", tmp_path / "data", download=True)
    msg = str(e.value)
    assert "checksum mismatch" in msg and "b-idx1-ubyte" in msg and "1 of its 2 files" in msg
    # The good file was kept; the bad one left neither a file nor a partial download.
    assert sorted(p.name for p in (tmp_path / "data" / "tiny").iterdir()) == ["a-idx1-ubyte.gz"]


def test_download_file_uncompressed_keeps_honest_name(tmp_path):
    served = write_idx(tmp_path / "served", np.arange(5, dtype=np.uint8))
    md5 = sources.file_md5(served)
    out = sources.download_file(served.as_uri(), tmp_path / "dl" / "x-idx1-ubyte.gz", md5)
    assert out == tmp_path / "dl" / "x-idx1-ubyte"
    assert read_idx(out).tolist() == [0, 1, 2, 3, 4]


def test_download_file_failure_cleans_up(tmp_path):
    with pytest.raises(OSError):
        sources.download_file((tmp_path / "absent.gz").as_uri(), tmp_path / "out.gz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


# --- real data ---------------------------------------------------------------------------------


def test_mnist_loads(mnist):
    assert mnist.X_train.shape == (60000, 1, 28, 28) and mnist.X_train.dtype == np.uint8
    assert mnist.X_test.shape == (10000, 1, 28, 28) and mnist.X_test.dtype == np.uint8
    assert mnist.y_train.dtype == np.int64 and mnist.y_test.dtype == np.int64
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS
    assert mnist.classes == [str(d) for d in range(10)] and mnist.input_shape == (1, 28, 28)
    assert mnist.X_train.max() == 255 and mnist.X_train.min() == 0


def test_fashion_mnist_loads(fashion):
    assert fashion.X_train.shape == (60000, 1, 28, 28) and fashion.X_train.dtype == np.uint8
    assert fashion.X_test.shape == (10000, 1, 28, 28)
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert fashion.classes[0] == "T-shirt/top" and fashion.classes[9] == "Ankle boot"


def test_verify_and_list_real_data():
    data_dir = _need_shared("fashion-mnist")
    _need_shared("mnist")
    rows = verify_datasets(data_dir, ["mnist", "fashion-mnist"])
    assert len(rows) == 8 and all(r["ok"] for r in rows), rows
    assert {r["expected"] for r in rows} == {
        s.md5 for n in ("mnist", "fashion-mnist") for s in sources.SOURCES[n].files
    }
    listing = {r["name"]: r for r in list_datasets(data_dir)}
    assert listing["mnist"]["where"] == str(data_dir / "mnist")
    assert (listing["mnist"]["train"], listing["mnist"]["test"]) == (60000, 10000)
    assert listing["mnist-mini"]["where"] == "embedded"
    # Loading and verifying wrote nothing into the (shared) data directory.
    for name in ("mnist", "fashion-mnist"):
        found = sorted(p.name for p in (data_dir / name).iterdir())
        assert found == sorted(f"{s.name}.gz" for s in sources.SOURCES[name].files)


def test_list_and_verify_missing(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    listing = {r["name"]: r for r in list_datasets(tmp_path)}
    assert listing["fashion-mnist"]["where"] == "missing"
    assert listing["mnist"]["where"].startswith("partial (1/4 files")
    assert listing["mnist"]["train"] == 3 and listing["mnist"]["examples"] == "3/?"
    assert listing["mnist-mini"]["examples"] == "10000/2000"
    # By default only what is (partly) here is verified; a named set is verified anyway.
    assert {r["dataset"] for r in verify_datasets(tmp_path)} == {"mnist", "mnist-mini"}
    assert len(verify_datasets(tmp_path, ["fashion-mnist"])) == 4
    rows = {Path(r["file"]).name: r for r in verify_datasets(tmp_path, ["mnist"])}
    assert rows["train-images-idx3-ubyte.gz"]["actual"] == "missing"
    assert not rows["train-labels-idx1-ubyte"]["ok"]
    assert not any(r["ok"] for r in rows.values())


# --- the registry ------------------------------------------------------------------------------


def test_unknown_name_suggests():
    # a wrong name in the config (exit status 2), not a missing data set
    with pytest.raises(ConfigError, match="Did you mean 'mnist'") as e:
        load_dataset("minst")
    assert "fashion-mnist" in str(e.value) and "mnist-mini" in str(e.value)
    with pytest.raises(ConfigError, match="unknown data set 'cifar100'"):
        verify_datasets(names=["cifar100"])


def test_names_are_normalised():
    assert datasets._entry("MNIST_Mini").name == "mnist-mini"


def test_register_a_dataset(monkeypatch):
    monkeypatch.setattr(datasets, "DATASETS", dict(datasets.DATASETS))

    @datasets.register_dataset("toy", description="two points")
    def _toy(data_dir, download):
        X = np.zeros((2, 3), np.float32)
        y = np.array([0, 1])
        return datasets.Dataset(X, y, X, y, ["a", "b"], "toy", "made up")

    assert load_dataset("toy").num_classes == 2
    assert "toy" in datasets.dataset_names()
    with pytest.raises(ValueError, match="already registered"):
        datasets.register_dataset("toy", description="again")(_toy)
    X = np.zeros((2, 1))
    with pytest.raises(DataError, match="2 examples but y_train has 1"):
        datasets.Dataset(X, np.zeros(1), X, np.zeros(2), [], "bad", "test")


# --- mnist-mini --------------------------------------------------------------------------------


def test_mnist_mini_loads_without_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path))  # an empty data dir
    ds = load_dataset("mnist-mini", download=False)
    assert ds.X_train.shape == (10000, 1, 28, 28) and ds.X_train.dtype == np.uint8
    assert ds.X_test.shape == (2000, 1, 28, 28) and ds.y_test.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [1000] * 10
    assert np.bincount(ds.y_test).tolist() == [200] * 10
    assert ds.source.startswith("embedded") and list(tmp_path.iterdir()) == []
    # Not sorted by class: the slice keeps MNIST's own order.
    assert len(np.unique(ds.y_train[:50])) == 10


def test_mnist_mini_is_a_slice_of_mnist(mnist):
    arrays = datasets._read_mnist_mini()
    np.testing.assert_array_equal(mnist.X_train[arrays["train_index"]], arrays["X_train"])
    np.testing.assert_array_equal(mnist.y_test[arrays["test_index"]], arrays["y_test"])


def test_mnist_mini_rebuild_is_reproducible(mnist, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_embedded", REPO / "scripts" / "make_embedded.py"
    )
    make_embedded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_embedded)
    arrays = make_embedded.build(SHARED_DATA)
    assert {k: datasets.array_md5(a) for k, a in arrays.items()} == datasets.MNIST_MINI_MD5
    # The writer is byte-reproducible (fixed zip timestamps) and np.load reads it.
    small = {"X_train": arrays["X_train"][:5], "y_train": arrays["y_train"][:5]}
    a = make_embedded.write_npz(tmp_path / "a.npz", small).read_bytes()
    b = make_embedded.write_npz(tmp_path / "b.npz", small).read_bytes()
    assert a == b
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(npz["y_train"], small["y_train"])


def test_mnist_mini_corrupt_install(tmp_path, monkeypatch):
    arrays = datasets._read_mnist_mini()
    arrays["y_train"] = arrays["y_train"].copy()
    arrays["y_train"][0] += 1
    bad = tmp_path / "mnist-mini.npz"
    np.savez(bad, **arrays)
    monkeypatch.setattr(datasets, "MNIST_MINI_FILE", bad)
    with pytest.raises(DataError, match=r"fails its checksum \(arrays: y_train\)") as e:
        load_dataset("mnist-mini")
    assert str(bad) in str(e.value) and "reinstall" in str(e.value)
    rows = {r["file"].rsplit(":", 1)[1]: r["ok"] for r in verify_datasets(names=["mnist-mini"])}
    assert rows == {k: k != "y_train" for k in datasets.MNIST_MINI_MD5}
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="unreadable"):
        load_dataset("mnist-mini")
    bad.unlink()
    with pytest.raises(DataError, match="missing"):
        load_dataset("mnist-mini")
