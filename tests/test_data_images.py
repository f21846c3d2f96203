"""Colour-image data: CIFAR-10's python batches and image folders (the ImageNet layout).

The CIFAR loader is tested on small batch files this test writes in the official format
(a pickled dict of bytes keys with a uint8 array), in a folder, in a .tar.gz and through the
download path (a file:// URL). The image-folder loader is tested on small trees of PNG/JPEG
files written here, and on a few hundred real JPEGs taken out of ../shared/data's
cifar10-jpeg.tar.gz when that folder is present.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gradschool.data import cifar, imagefolder, load_dataset
from gradschool.data.cifar import read_batch, read_cifar10
from gradschool.data.imagefolder import load_image_folder
from gradschool.errors import DataError

Image = pytest.importorskip("PIL.Image", reason="the image-folder loader decodes with Pillow")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own user cache (decoded arrays, verified files)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# ---- CIFAR-10: python batches ----------------------------------------------------------------


class _Python2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle wrote CIFAR-10 (protocol 2): byte strings as Python 2
    `str` (the BINSTRING opcodes). Python 3 writes them as calls to `_codecs.encode`, a name
    the official files never contain, so the safe loader rightly refuses it."""

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        op = (
            pickle.SHORT_BINSTRING + bytes([n])
            if n < 256
            else pickle.BINSTRING + struct.pack("<i", n)
        )
        self.write(op + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: save_bytes}


def _py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _batch_bytes(n: int, seed: int, label_key: bytes = b"labels") -> tuple[bytes, np.ndarray, list]:
    """A batch in the official layout: rows of 1024 red, 1024 green, 1024 blue pixels."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    batch = {b"batch_label": b"testing batch", label_key: labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}  # fmt: skip
    return _py2_pickle(batch), data, labels


def _write_cifar(folder: Path, n: int = 6) -> dict[str, tuple[np.ndarray, list]]:
    """The seven files of cifar-10-batches-py, small; returns what each batch holds."""
    folder.mkdir(parents=True, exist_ok=True)
    content = {}
    for i, name in enumerate([*cifar.TRAIN_BATCHES, *cifar.TEST_BATCHES]):
        raw, data, labels = _batch_bytes(n, seed=i)
        (folder / name).write_bytes(raw)
        content[name] = (data, labels)
    meta = {b"label_names": [c.encode() for c in cifar.CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(_py2_pickle(meta))
    return content


def _md5s(folder: Path) -> dict[str, str]:
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in cifar.FILES}


def test_a_cifar_batch_becomes_channel_first_images():
    raw, data, labels = _batch_bytes(4, seed=0)
    X, y = read_batch(raw)
    assert X.shape == (4, 3, 32, 32) and X.dtype == np.uint8 and y.dtype == np.int64
    # pixel (row 2, column 5) of image 1: red at 2*32+5, green 1024 later, blue 2048 later
    np.testing.assert_array_equal(X[1, :, 2, 5], data[1, [69, 1024 + 69, 2048 + 69]])
    np.testing.assert_array_equal(y, labels)


def test_cifar_folder_loads_with_checksums(tmp_path, monkeypatch):
    content = _write_cifar(tmp_path / cifar.FOLDER)
    monkeypatch.setattr(cifar, "FILES", _md5s(tmp_path / cifar.FOLDER))
    ds = load_dataset("cifar10", tmp_path, download=False)
    assert ds.X_train.shape == (30, 3, 32, 32) and ds.X_test.shape == (6, 3, 32, 32)
    assert ds.classes == cifar.CLASSES
    np.testing.assert_array_equal(ds.y_train[6:12], content["data_batch_2"][1])
    np.testing.assert_array_equal(ds.X_test.reshape(6, -1), content["test_batch"][0])


def test_cifar_refuses_a_file_with_the_wrong_checksum(tmp_path):
    _write_cifar(tmp_path / cifar.FOLDER)  # the real published md5s: these files differ
    with pytest.raises(DataError, match="checksum mismatch.*data_batch_1|data_batch_1.*checksum"):
        load_dataset("cifar10", tmp_path, download=False)


def test_cifar_reads_the_archive_without_extracting_it(tmp_path, monkeypatch):
    folder = tmp_path / "src" / cifar.FOLDER
    content = _write_cifar(folder)
    monkeypatch.setattr(cifar, "FILES", _md5s(folder))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / cifar.ARCHIVE, "w:gz") as tar:
        tar.add(folder, arcname=cifar.FOLDER)
    ds = load_dataset("cifar10", data_dir, download=False)
    np.testing.assert_array_equal(ds.y_test, content["test_batch"][1])
    assert sorted(p.name for p in data_dir.iterdir()) == [cifar.ARCHIVE]  # nothing extracted


def test_cifar_download_checks_the_archive_md5(tmp_path, monkeypatch):
    """The real download code, pointed at a local file:// URL."""
    folder = tmp_path / "src" / cifar.FOLDER
    _write_cifar(folder)
    monkeypatch.setattr(cifar, "FILES", _md5s(folder))
    archive = tmp_path / "src" / "upstream.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=cifar.FOLDER)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(cifar, "URL", archive.as_uri())
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5)
    data_dir = tmp_path / "data"
    ds = load_dataset("cifar10", data_dir, download=True)
    assert len(ds.X_train) == 30 and (data_dir / cifar.ARCHIVE).is_file()
    # A download whose md5 differs is discarded, leaving no file that looks complete.
    with pytest.raises(DataError, match="checksum mismatch"):
        cifar.download_archive(tmp_path / "other.tar.gz", archive.as_uri(), "0" * 32)
    assert not list(tmp_path.glob("other.tar.gz*"))


def test_cifar_missing_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz.*www\.cs\.toronto\.edu"):
        load_dataset("cifar10", tmp_path, download=False)


class _Boom:
    """Unpickling this would create a file: proof that the loader ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_cifar_never_runs_code_from_a_pickle(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _Boom(str(marker)), b"labels": []}, protocol=2)
    with pytest.raises(DataError, match="asks to call"):
        read_batch(evil, "evil_batch")
    assert not marker.exists()
    # the plain pickle module would have run it: the test's premise holds
    pickle.loads(evil)
    assert marker.exists()


def test_cifar_refuses_python3_byte_strings():
    """What the allow-list is: exactly numpy's array reconstruction, nothing else."""
    raw = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=2)
    with pytest.raises(DataError, match="_codecs.encode"):
        read_batch(raw)
    X, _ = read_batch(pickle.dumps({"data": np.ones((1, 3072), np.uint8), "labels": [3]}, 4))
    assert X.sum() == 3072  # protocol 4 writes bytes natively; str keys are accepted too


def test_cifar_rejects_malformed_batches():
    with pytest.raises(DataError, match="3072"):
        read_batch(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match="labels"):
        read_batch(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}))
    with pytest.raises(DataError, match="cannot be read"):
        read_cifar10({name: b"not a pickle" for name in cifar.FILES}, "x", md5s=None)


# ---- image folders ----------------------------------------------------------------------------


def _image(color: tuple[int, int, int], size=(8, 6)) -> Image.Image:
    """A solid colour with one marked pixel, so decoding order and orientation show."""
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    array[...] = color
    array[0, 1] = (255, 255, 255)
    return Image.fromarray(array)


def _write_tree(root: Path, layout: dict[str, int], fmt: str = "PNG", size=(8, 6)) -> None:
    """layout: {"train/cat": 3, "test/dog": 2, ...} -> that many images in each folder."""
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            color = (10 * i, 100 if "cat" in folder else 200, 50)
            _image(color, size).save(root / folder / f"{i:03d}.{fmt.lower()}", fmt)


def test_split_layout_classes_in_sorted_order(tmp_path):
    _write_tree(tmp_path, {"train/dog": 3, "train/cat": 2, "val/cat": 1, "val/dog": 1})
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image")
    ds = load_image_folder(tmp_path)
    assert ds.classes == ["cat", "dog"]  # sorted, as torchvision's ImageFolder
    assert ds.X_train.shape == (5, 3, 6, 8) and ds.X_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.y_train, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ds.y_test, [0, 1])
    # PNG is lossless: image train/dog/001 is exactly the colour written, marked pixel at (0, 1)
    np.testing.assert_array_equal(ds.X_train[3, :, 2, 2], [10, 200, 50])
    np.testing.assert_array_equal(ds.X_train[3, :, 0, 1], [255, 255, 255])


def test_single_folder_layout_holds_out_a_stratified_test_set(tmp_path):
    _write_tree(tmp_path, {"cat": 10, "dog": 10}, fmt="JPEG")
    ds = load_image_folder(tmp_path, test_fraction=0.2)
    assert len(ds.X_train) == 16 and len(ds.X_test) == 4
    assert np.bincount(ds.y_test).tolist() == [2, 2]
    again = load_image_folder(tmp_path, test_fraction=0.2, cache=False)
    np.testing.assert_array_equal(again.X_test, ds.X_test)  # the same split every time


def test_archive_with_a_top_folder_and_the_registry_prefix(tmp_path):
    tree = tmp_path / "tree"
    _write_tree(tree / "photos", {"train/cat": 2, "train/dog": 2, "test/cat": 1, "test/dog": 1})
    archive = tmp_path / "photos.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / "photos", arcname="photos")
    from_archive = load_dataset(f"imagefolder:{archive}")
    from_folder = load_dataset(f"imagefolder:{tree / 'photos'}")
    assert from_archive.classes == from_folder.classes == ["cat", "dog"]
    np.testing.assert_array_equal(from_archive.X_train, from_folder.X_train)
    np.testing.assert_array_equal(from_archive.y_test, from_folder.y_test)
    assert from_archive.name == f"imagefolder:{archive}"


def test_decoded_arrays_are_cached_by_checksum(tmp_path, monkeypatch):
    _write_tree(tmp_path / "t", {"cat": 3, "dog": 3})
    first = load_image_folder(tmp_path / "t")
    cached = list(imagefolder.image_cache_dir().glob("*.npz"))
    assert len(cached) == 1 and str(tmp_path / "cache") in str(cached[0])

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the tree did not change")

    monkeypatch.setattr(imagefolder, "decode_image", no_decoding)
    second = load_image_folder(tmp_path / "t")
    np.testing.assert_array_equal(first.X_train, second.X_train)
    assert second.classes == ["cat", "dog"]
    # A changed tree gets a new key: a new image means decoding again.
    _image((1, 2, 3)).save(tmp_path / "t" / "dog" / "zzz.png")
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_folder(tmp_path / "t")


def test_options_resize_grey_and_a_subset(tmp_path):
    _write_tree(tmp_path, {"train/a": 3, "train/b": 3, "train/c": 3, "test/a": 2, "test/c": 2})
    ds = load_image_folder(tmp_path, image_size=(4, 5), mode="L", classes=["c", "a"],
                           max_per_class=2, cache=False)  # fmt: skip
    assert ds.classes == ["a", "c"] and ds.X_train.shape == (4, 1, 4, 5)
    np.testing.assert_array_equal(ds.y_train, [0, 0, 1, 1])
    np.testing.assert_array_equal(ds.y_test, [0, 0, 1, 1])


def test_image_folder_errors_are_clear(tmp_path):
    _write_tree(tmp_path / "mixed", {"cat": 1})
    _write_tree(tmp_path / "mixed", {"dog": 1}, size=(5, 5))
    with pytest.raises(DataError, match="differ in size.*image_size"):
        load_image_folder(tmp_path / "mixed", cache=False)
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        load_image_folder(tmp_path / "empty")
    _image((0, 0, 0)).save(tmp_path / "loose.png")
    (tmp_path / "flat").mkdir()
    _image((0, 0, 0)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="not inside a class folder"):
        load_image_folder(tmp_path / "flat")
    with pytest.raises(DataError, match="neither a folder nor"):
        load_image_folder(tmp_path / "loose.png")
    (tmp_path / "bad" / "cat").mkdir(parents=True)
    (tmp_path / "bad" / "cat" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot be decoded"):
        load_image_folder(tmp_path / "bad")


def test_a_cnn_trains_on_an_image_folder(tmp_path):
    """End to end: --dataset imagefolder:<path> with the lenet CNN, through the one loop."""
    from gradschool.config import Config, with_updates
    from gradschool.train.trainer import Trainer

    _write_tree(tmp_path / "t", {"train/cat": 8, "train/dog": 8, "test/cat": 2, "test/dog": 2},
                size=(12, 12))  # fmt: skip
    config = with_updates(Config(), {
        "dataset": f"imagefolder:{tmp_path / 't'}", "model.name": "cnn", "channels": [4],
        "hidden": 8, "batch_size": 4, "val_fraction": 0.25, "epochs": 1, "progress": "off",
        "augment": ["crop:2", "flip"],
    })  # fmt: skip
    history = Trainer(config, console=False).fit()
    assert len(history) == 1 and 0 <= history[0]["test_acc"] <= 1


# ---- the real CIFAR-10 JPEG archive (../shared/data) -----------------------------------------


@pytest.mark.skipif(
    not (SHARED_DATA / "cifar10-jpeg.tar.gz").is_file(),
    reason="../shared/data/cifar10-jpeg.tar.gz is absent (the shared data folder of the project)",
)
def test_real_cifar10_jpegs_load_as_an_image_folder(tmp_path):
    """Takes the first 40 images of two classes in each split out of the real archive (one
    streaming pass that stops early) and loads them with the folder loader."""
    wanted = {f"{split}/{c}" for split in ("train", "test") for c in ("airplane", "cat")}
    taken: dict[str, int] = {}
    with tarfile.open(SHARED_DATA / "cifar10-jpeg.tar.gz", "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")  # cifar10-jpeg/train/cat/0001.jpg
            folder = "/".join(parts[1:3])
            if member.isfile() and folder in wanted and taken.get(folder, 0) < 40:
                taken[folder] = taken.get(folder, 0) + 1
                target = tmp_path / "cifar" / folder / parts[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
            if len(taken) == len(wanted) and min(taken.values()) == 40:
                break
    ds = load_image_folder(tmp_path / "cifar")
    assert ds.classes == ["airplane", "cat"]
    assert ds.X_train.shape == (80, 3, 32, 32) and ds.X_test.shape == (80, 3, 32, 32)
    assert np.bincount(ds.y_train).tolist() == [40, 40]
    # Real photos: every channel spans a wide range, and airplanes (sky) are bluer than cats.
    assert ds.X_train.min() < 30 and ds.X_train.max() > 225
    blue_minus_red = ds.X_train[:, 2].mean(axis=(1, 2)) - ds.X_train[:, 0].mean(axis=(1, 2))
    assert blue_minus_red[ds.y_train == 0].mean() > blue_minus_red[ds.y_train == 1].mean()
    # The registry's data set reads the same images (its cache is built on first use only
    # outside the tests: here just the md5 the loader checks).
    assert hashlib.md5((SHARED_DATA / "cifar10-jpeg.tar.gz").read_bytes()).hexdigest() == (
        imagefolder.CIFAR10_JPEG_MD5
    )


def test_cifar10_jpeg_missing_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="cifar10-jpeg.tar.gz"):
        load_dataset("cifar10-jpeg", tmp_path)


def test_decode_image_gives_channel_first_uint8():
    buffer = io.BytesIO()
    _image((1, 2, 3)).save(buffer, "PNG")
    array = imagefolder.decode_image(buffer.getvalue())
    assert array.shape == (3, 6, 8) and array.dtype == np.uint8
    assert array[:, 3, 3].tolist() == [1, 2, 3]
