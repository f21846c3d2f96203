"""CIFAR-10 from its official python-pickle batches, read without running pickled code.

CIFAR-10 (Krizhevsky 2009): 60,000 colour images of 32x32 pixels in 10 classes, 50,000 for
training and 10,000 for testing. The official "python version" is one archive,
`cifar-10-python.tar.gz` (md5 c58f30108f718f92721af3b95e74349a), holding

    cifar-10-batches-py/data_batch_1 ... data_batch_5   10,000 training images each
    cifar-10-batches-py/test_batch                      the 10,000 test images
    cifar-10-batches-py/batches.meta                    the class names

Each batch is a Python pickle of a dict: b"data" a (10000, 3072) uint8 array (each row the
1024 red, then 1024 green, then 1024 blue pixels of one image, row by row) and b"labels" a
list of 10,000 ints in 0..9.

NOTE: unpickling runs code. `pickle.load` calls whatever callable a file names, so a
malicious "data set" can run any command on the machine that loads it (the reason torch's
checkpoints are now loaded with weights_only=True). CIFAR's batches need exactly three names
to be rebuilt: numpy's array reconstructor, `numpy.ndarray` and `numpy.dtype`; dicts, lists,
ints and bytes are built by pickle's own opcodes without naming anything. `_SafeUnpickler`
allows those three names and refuses every other, so a tampered file fails with a DataError
instead of running. On top of that, every file is checked against its published md5.

The data directory (see sources.py) holds either the extracted folder `cifar-10-batches-py/`
or the archive itself; the archive's members are read straight out of it, never extracted.
A missing archive is downloaded from the official URL when the network allows.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.datasets import Dataset, register_dataset
from gradschool.data.sources import (
    DOWNLOAD_TIMEOUT_S,
    member_bytes,
    resolve_data_dir,
    verify_row,
)
from gradschool.errors import DataError

logger = logging.getLogger(__name__)

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
# The published md5 of each file in the folder (the same values torchvision checks).
TRAIN_BATCHES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
TEST_BATCHES = {"test_batch": "40351d587109b95175f43aff81a1287e"}
META = {"batches.meta": "5ff9c542aee3614f3951f8cda6e48888"}
FILES = {**TRAIN_BATCHES, **TEST_BATCHES, **META}
CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


# --- reading a batch without running code ------------------------------------------------------


def _array_reconstructor() -> object:
    # numpy's pickle reconstructor, whatever module it lives in this numpy version
    # (numpy.core.multiarray._reconstruct in numpy 1, numpy._core.multiarray in numpy 2).
    return np.ndarray.__reduce__(np.zeros(1))[0]


class _SafeUnpickler(pickle.Unpickler):
    """An Unpickler that rebuilds only NumPy arrays, dicts, lists, numbers and bytes."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _array_reconstructor,
        ("numpy._core.multiarray", "_reconstruct"): _array_reconstructor,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
    }

    def find_class(self, module: str, name: str) -> object:
        # Called for every global a pickle names (a class or function to call); the only way
        # a pickle can run code. Anything not on the list is refused.
        make = self.ALLOWED.get((module, name))
        if make is None:
            raise pickle.UnpicklingError(
                f"the file asks to call {module}.{name}, which a CIFAR batch never needs"
            )
        return make()


def _get(batch: dict, key: str) -> Any:
    # Python 2 wrote the keys as byte strings (b"data"); accept str keys as well.
    return batch[key.encode()] if key.encode() in batch else batch.get(key)


def read_batch(data: bytes, where: str = "a CIFAR batch") -> tuple[np.ndarray, np.ndarray]:
    """One batch file's bytes -> (X (n, 3, 32, 32) uint8, y (n,) int64), run through
    `_SafeUnpickler`. Raises DataError for anything that is not a well-formed batch."""
    try:
        # encoding="bytes": Python 2's str (keys, the array's raw buffer) stays bytes.
        batch = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - any failure means an unusable file
        raise DataError(
            f"{where} cannot be read as a CIFAR-10 python batch: {err}. Delete it and let "
            f"gradschool download the official archive again ({URL})."
        ) from None
    X = _get(batch, "data") if isinstance(batch, dict) else None
    y = _get(batch, "labels") if isinstance(batch, dict) else None
    if not isinstance(X, np.ndarray) or X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != 3072:
        raise DataError(
            f"{where} is not a CIFAR-10 batch: it needs a 'data' entry of uint8 rows of "
            f"3072 pixels (3 x 32 x 32), got {type(X).__name__} "
            f"{getattr(X, 'shape', '')} {getattr(X, 'dtype', '')}"
        )
    y = np.asarray(y if y is not None else [], dtype=np.int64)
    if y.shape != (len(X),) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise DataError(
            f"{where}: its 'labels' must be {len(X)} class indices in 0..9, got shape {y.shape}"
        )
    # Each row is [1024 red | 1024 green | 1024 blue], each plane row-major: exactly C, H, W.
    return X.reshape(-1, 3, 32, 32), y


def read_meta(data: bytes, where: str = "batches.meta") -> list[str]:
    """The class names from batches.meta (b"label_names")."""
    try:
        meta = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in _get(meta, "label_names")]
    except Exception as err:  # noqa: BLE001
        raise DataError(f"{where} cannot be read as CIFAR-10 metadata: {err}") from None
    return names


def read_cifar10(read: dict[str, bytes], where: str, md5s: dict[str, str] | None) -> Dataset:
    """A Dataset from the batch files' bytes (`{"data_batch_1": b"...", ...}`).

    md5s: the expected md5 of each file (`FILES`, the published ones); None skips the check.
    """
    for name, data in read.items():
        if md5s is not None and hashlib.md5(data).hexdigest() != md5s[name]:
            raise DataError(
                f"{where}/{name}: checksum mismatch, its md5 is {hashlib.md5(data).hexdigest()} "
                f"but the published file's is {md5s[name]}. The file is damaged or not the "
                f"official one: delete it and let gradschool download {URL} again."
            )
    train = [read_batch(read[n], f"{where}/{n}") for n in TRAIN_BATCHES]
    X_test, y_test = read_batch(read["test_batch"], f"{where}/test_batch")
    classes = read_meta(read["batches.meta"], f"{where}/batches.meta")
    return Dataset(
        X_train=np.concatenate([X for X, _ in train]),  # (50000, 3, 32, 32) uint8
        y_train=np.concatenate([y for _, y in train]),  # (50000,) int64
        X_test=X_test,  # (10000, 3, 32, 32) uint8
        y_test=y_test,
        classes=classes,
        name="cifar10",
        source=where,
    )


# --- where the files are -----------------------------------------------------------------------


def _read_folder(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def _read_archive(archive: Path) -> dict[str, bytes]:
    """The batch files straight out of the archive (no extraction to disk)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # one streaming pass over the compressed archive
                name = member.name.removeprefix("./")
                folder, _, base = name.rpartition("/")
                if folder == FOLDER and base in FILES and member.isfile():
                    found[base] = member_bytes(tar, member)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(
            f"{archive} is not a readable tar.gz archive ({err}). Delete it and download "
            f"{URL} again (md5 {ARCHIVE_MD5})."
        ) from None
    missing = sorted(set(FILES) - set(found))
    if missing:
        raise DataError(
            f"{archive} lacks {', '.join(f'{FOLDER}/{m}' for m in missing)}: it is not the "
            f"official CIFAR-10 python archive. Download {URL} (md5 {ARCHIVE_MD5})."
        )
    return found


def _md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_archive(dest: Path, url: str | None = None, md5: str | None = None) -> Path:
    """Download the archive (default: the official `URL`) to `dest` through a temporary file,
    renamed into place only once the md5 of its bytes matches (default: the published
    `ARCHIVE_MD5`): a broken download never looks complete."""
    url, md5 = url or URL, md5 or ARCHIVE_MD5
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        logger.info("downloading %s", url)
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r,
        ):
            shutil.copyfileobj(r, out, 1 << 20)
        actual = _md5_file(tmp)
        if actual != md5:
            raise DataError(
                f"{url}: checksum mismatch, the download's md5 is {actual}, expected {md5}; "
                f"it was discarded. Try again later, or fetch the file by hand."
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _locate(data_dir: Path | None) -> tuple[str, Path] | None:
    """("folder", path) or ("archive", path) for what the data directory holds, else None."""
    root = resolve_data_dir(data_dir)
    if all((root / FOLDER / name).is_file() for name in FILES):
        return "folder", root / FOLDER
    if (root / ARCHIVE).is_file():
        return "archive", root / ARCHIVE
    return None


def _missing(root: Path, download: bool, why: str = "") -> DataError:
    tried = f" Downloading it failed: {why}." if why else ""
    off = (
        " Downloading was turned off, so gradschool did not try to fetch it."
        if not download
        else ""
    )
    return DataError(
        f"CIFAR-10 is not in {root}/.{tried}{off} Put the official archive there:\n"
        f"  {root / ARCHIVE}   <- {URL}  (md5 {ARCHIVE_MD5})\n"
        f"or its extracted folder {root / FOLDER}/ (data_batch_1..5, test_batch, "
        f"batches.meta). Or point gradschool at a directory that has them, with --data-dir "
        f"or GRADSCHOOL_DATA. Without any download, the image-folder copy `cifar10-jpeg` "
        f"(a .tar.gz of JPEG files) may be at hand instead."
    )


def load_cifar10(data_dir: Path | None = None, download: bool = True) -> Dataset:
    """CIFAR-10 from the data directory's folder or archive (downloaded when missing)."""
    found = _locate(data_dir)
    if found is None:
        root = resolve_data_dir(data_dir)
        if not download:
            raise _missing(root, download)
        try:
            download_archive(root / ARCHIVE)
        except (OSError, DataError) as err:
            raise _missing(root, download, str(err)) from None
        found = ("archive", root / ARCHIVE)
    kind, path = found
    files = _read_folder(path) if kind == "folder" else _read_archive(path)
    return read_cifar10(files, str(path), FILES)


def _locate_row(data_dir: Path | None) -> dict:
    found = _locate(data_dir)
    if found is None:
        return {"where": "missing", "train": None, "test": None}
    return {"where": str(found[1]), "train": 50_000, "test": 10_000}


def _verify(data_dir: Path | None) -> list[dict]:
    found = _locate(data_dir)
    root = resolve_data_dir(data_dir)
    rows = []
    if found is not None and found[0] == "archive":
        return [verify_row("cifar10", str(found[1]), ARCHIVE_MD5, _md5_file(found[1]))]
    for name, expected in FILES.items():
        path = root / FOLDER / name
        actual = _md5_file(path) if path.is_file() else "missing"
        rows.append(verify_row("cifar10", str(path), expected, actual))
    return rows


@register_dataset(
    "cifar10",
    description="CIFAR-10 colour images (python batches), 50,000 train / 10,000 test, 32x32",
    locate=_locate_row,
    verify=_verify,
)
def _load(data_dir: Path | None, download: bool) -> Dataset:
    return load_cifar10(data_dir, download)
