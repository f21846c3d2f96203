"""Named data sets: `load_dataset("mnist")` and the registry behind it.

Every data set, whatever its origin (IDX files, the embedded slice, later CIFAR-10 JPEG folders,
spoken digits, text), is returned as the same `Dataset`: NumPy arrays, images channel-first
`(N, C, H, W)` like torch, labels int64. The training loop never learns where data came from.

Adding a data set is one decorated function:

    @register_dataset("my-set", description="...", locate=..., verify=...)
    def _load_my_set(data_dir: Path | None, download: bool) -> Dataset:
        ...

`locate` and `verify` are optional hooks for `gradschool data list` / `gradschool data verify`.
"""

from __future__ import annotations

import difflib
import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.idx import PathLike, parse_idx
from gradschool.data.sources import (
    SOURCES,
    check_data_dir,
    ensure_source,
    locate_source,
    read_verified,
    verify_source,
)
from gradschool.errors import ConfigError, DataError


@dataclass(eq=False)
class Dataset:
    """A train/test pair of arrays with class names.

    X_train: (N, C, H, W) uint8 images (or (N, ...) features for non-image sets)
    y_train: (N,) int64 class indices in [0, len(classes))
    X_test, y_test: the same for the test split
    """

    X_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    classes: list[str]
    name: str
    source: str  # where it came from: a folder, or "embedded: <file>"

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if len(X) != len(y):
                raise DataError(
                    f"data set {self.name!r} ({self.source}): X_{split} has {len(X)} examples "
                    f"but y_{split} has {len(y)} labels. The files do not belong together."
                )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 28, 28)."""
        return tuple(self.X_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={tuple(self.X_train.shape)} {self.X_train.dtype}, "
            f"test={tuple(self.X_test.shape)} {self.X_test.dtype}, "
            f"{self.num_classes} classes, source={self.source!r})"
        )


# --- the registry ------------------------------------------------------------------------------

# (data_dir or None, download: bool, or None for "auto") -> Dataset; a configurable data set's
# loader also takes the run's `data` section: load(data_dir, download, data_config).
LoadFn = Callable[..., Dataset]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set: how to load it, and optional hooks for `data list`/`verify`."""

    name: str
    load: LoadFn
    description: str
    # locate(data_dir) -> {"where": str, "train": int | None, "test": int | None}
    locate: Callable[[Path | None], dict] | None = None
    # verify(data_dir) -> [{"dataset", "file", "expected", "actual", "ok"}, ...]
    verify: Callable[[Path | None], list[dict]] | None = None
    # configurable: load(data_dir, download, data_config) also reads the run's `data` section
    # (the spoken digits compute their features as data.audio says).
    configurable: bool = False


DATASETS: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str,
    *,
    description: str,
    locate: Callable[[Path | None], dict] | None = None,
    verify: Callable[[Path | None], list[dict]] | None = None,
    configurable: bool = False,
) -> Callable[[LoadFn], LoadFn]:
    """Decorator: register `load(data_dir, download) -> Dataset` under `name`.

    `data_dir` is what the user passed (None for "the default"); resolve it with
    `sources.resolve_data_dir`. Names are lower-case with dashes (`fashion-mnist`).
    With `configurable=True`, load is called as `load(data_dir, download, data_config)`,
    where data_config is the run's `data` section (None outside a run: use defaults).
    """
    if name != _canonical(name):
        raise ValueError(f"data set names are lower-case with dashes, got {name!r}")

    def decorator(load: LoadFn) -> LoadFn:
        if name in DATASETS:
            raise ValueError(f"a data set named {name!r} is already registered")
        DATASETS[name] = DatasetEntry(name, load, description, locate, verify, configurable)
        return load

    return decorator


# "prefix:" -> load(the rest): data sets named by a path rather than registered one by one
# (`imagefolder:<path>`, data/imagefolder.py).
PATH_DATASETS: dict[str, Callable[[str], Dataset]] = {}


def register_path_dataset(prefix: str, load: Callable[[str], Dataset]) -> None:
    """Route every data set name `prefix<rest>` to `load(<rest>)`."""
    PATH_DATASETS[prefix] = load


def dataset_names() -> list[str]:
    """The registered data set names, sorted."""
    return sorted(DATASETS)


def _canonical(name: str) -> str:
    # "MNIST", "Fashion_MNIST" and " fashion-mnist " all mean the same set.
    return name.strip().lower().replace("_", "-")


def _entry(name: str) -> DatasetEntry:
    key = _canonical(str(name))
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, dataset_names(), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"unknown data set {name!r}.{hint} The data sets are: {', '.join(dataset_names())}. "
        "`gradschool data list` shows which of them are on this machine."
    )


# Shipped inside the package: no data directory, no download (see the val_fraction "auto" rule
# in data/prepare.py too).
EMBEDDED_DATASETS = ("mnist-mini", "shakespeare-mini")


def is_embedded(name: str) -> bool:
    """True for the data sets shipped inside gradschool (`EMBEDDED_DATASETS`)."""
    return _canonical(str(name)) in EMBEDDED_DATASETS


def load_dataset(
    name: str,
    data_dir: PathLike | None = None,
    download: bool | None = None,
    data_config: Any = None,
) -> Dataset:
    """Load the data set `name` as NumPy arrays.

    `data_dir` overrides the data directory (default: `$GRADSCHOOL_DATA`, else
    `~/.cache/gradschool`). `download`: None (the default) downloads missing files into the
    user cache or a data directory that exists, and refuses a named data directory that does
    not exist (a typo: nothing is created); True also creates it; False forbids the network, so
    missing files raise a `DataError` that says which files to put where. `mnist-mini` is
    embedded in the package and needs neither. `data_config` (a config's `data` section)
    reaches the data sets registered as configurable, e.g. the spoken digits' feature settings
    `data.audio`.
    """
    for prefix, load in PATH_DATASETS.items():  # a path, not a registered name
        if str(name).startswith(prefix):
            return load(str(name)[len(prefix) :])
    entry = _entry(name)
    data_dir = None if data_dir is None else Path(data_dir)
    if not is_embedded(entry.name):
        download = check_data_dir(data_dir, download)
    if entry.configurable:
        return entry.load(data_dir, download, data_config)
    return entry.load(data_dir, download)


def list_datasets(data_dir: PathLike | None = None) -> list[dict]:
    """One row per registered data set, for `gradschool data list`.

    Each row: `{"name", "description", "where", "train", "test", "examples"}`; `where` is a
    folder, `"embedded"`, `"missing"` or `"partial (...)"`; `train`/`test` are example counts
    (None when unknown) and `examples` is them as text, `"60000/10000"` (`"?"` for unknown).
    Reads only file headers, so it is fast.
    """
    data_dir = None if data_dir is None else Path(data_dir)
    rows = []
    for name in dataset_names():
        entry = DATASETS[name]
        found = entry.locate(data_dir) if entry.locate else {}
        rows.append(
            {
                "name": name,
                "description": entry.description,
                "where": found.get("where", "unknown"),
                "train": found.get("train"),
                "test": found.get("test"),
                "examples": "/".join(
                    "?" if found.get(k) is None else str(found[k]) for k in ("train", "test")
                ),
            }
        )
    return rows


def verify_datasets(data_dir: PathLike | None = None, names: list[str] | None = None) -> list[dict]:
    """Re-hash the files of `names`: one row per file, `{"dataset", "file", "expected",
    "actual", "ok"}`.

    By default, every data set that has checksums and is at least partly on this machine (a set
    you never downloaded is not an error); name a set to verify it even when it is missing. A
    missing or unreadable file gives a row with `ok=False`, not an exception; an unknown name
    raises `DataError`.
    """
    data_dir = None if data_dir is None else Path(data_dir)
    if names:
        entries = [_entry(n) for n in names]
    else:
        entries = [
            entry
            for entry in map(DATASETS.__getitem__, dataset_names())
            if entry.locate is None or entry.locate(data_dir)["where"] != "missing"
        ]
    rows = []
    for entry in entries:
        if entry.verify is not None:
            rows.extend(entry.verify(data_dir))
    return rows


# --- MNIST and Fashion-MNIST from IDX files ----------------------------------------------------

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _load_idx_source(
    source_name: str, classes: list[str], data_dir: Path | None, download: bool
) -> Dataset:
    """Load a four-file IDX set (train/t10k images/labels), each checked by its md5."""
    source = SOURCES[source_name]
    paths = ensure_source(source_name, data_dir, download)
    arrays = {
        spec.name: parse_idx(read_verified(paths[spec.name], spec.md5), str(paths[spec.name]))
        for spec in source.files
    }
    # NOTE: IDX stores images as (N, 28, 28); add the channel axis torch's Conv2d expects.
    return Dataset(
        X_train=arrays["train-images-idx3-ubyte"][:, None],  # (60000, 1, 28, 28) uint8
        y_train=arrays["train-labels-idx1-ubyte"].astype(np.int64),  # (60000,)
        X_test=arrays["t10k-images-idx3-ubyte"][:, None],  # (10000, 1, 28, 28) uint8
        y_test=arrays["t10k-labels-idx1-ubyte"].astype(np.int64),  # (10000,)
        classes=list(classes),
        name=source_name,
        source=str(paths["train-images-idx3-ubyte"].parent),
    )


@register_dataset(
    "mnist",
    description="MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey",
    locate=lambda d: locate_source("mnist", d),
    verify=lambda d: verify_source("mnist", d),
)
def _load_mnist(data_dir: Path | None, download: bool) -> Dataset:
    return _load_idx_source("mnist", MNIST_CLASSES, data_dir, download)


@register_dataset(
    "fashion-mnist",
    description="Fashion-MNIST clothing images, 60,000 train / 10,000 test, 28x28 grey",
    locate=lambda d: locate_source("fashion-mnist", d),
    verify=lambda d: verify_source("fashion-mnist", d),
)
def _load_fashion_mnist(data_dir: Path | None, download: bool) -> Dataset:
    return _load_idx_source("fashion-mnist", FASHION_MNIST_CLASSES, data_dir, download)


# --- mnist-mini: the slice embedded in the package ---------------------------------------------

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
MNIST_MINI_FILE = EMBEDDED_DIR / "mnist-mini.npz"
MNIST_MINI_SIZES = {"train": 10_000, "test": 2_000}
# md5 of each stored array (see `array_md5`), printed by scripts/make_embedded.py. A corrupt or
# hand-edited install fails loudly instead of training on wrong data.
MNIST_MINI_MD5 = {
    "X_train": "a1814da9a9d6da1539a0e9f80f2a6062",
    "y_train": "569b5df1591f234c2e0fe81ee9b7afc1",
    "X_test": "c53919e085fffe6e3745da05959dd091",
    "y_test": "5d649d3b7135d6338de8947e37df3722",
    "train_index": "249564872009066d78b62301a26e64f9",
    "test_index": "2505d3991cbe1ab09c79c66e70615f9d",
}


def array_md5(array: np.ndarray) -> str:
    """md5 of an array's dtype, shape and C-order bytes (so a reshape changes it too)."""
    array = np.ascontiguousarray(array)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.md5(header + array.tobytes()).hexdigest()


_REINSTALL_HINT = (
    "The package install is damaged: reinstall gradschool (`pip install --force-reinstall "
    "gradschool`), or, from a source checkout, rebuild the file with "
    "`python scripts/make_embedded.py --data-dir <folder holding mnist/>`."
)


def _read_mnist_mini() -> dict[str, np.ndarray]:
    path = MNIST_MINI_FILE  # looked up at call time, so tests can point it elsewhere
    if not path.is_file():
        raise DataError(f"{path}: the embedded data file is missing. {_REINSTALL_HINT}")
    try:
        # allow_pickle=False (the default, spelled out): an .npz must never run code.
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"{path}: the embedded data file is unreadable ({e}). {_REINSTALL_HINT}"
        ) from None
    return arrays


def _verify_mnist_mini(data_dir: Path | None = None) -> list[dict]:
    rows = []
    arrays: dict[str, np.ndarray] = {}
    error = None
    try:
        arrays = _read_mnist_mini()
    except DataError as e:
        error = f"unreadable: {e}"
    for key, expected in MNIST_MINI_MD5.items():
        if error is not None:
            actual = error
        else:
            actual = array_md5(arrays[key]) if key in arrays else "missing"
        rows.append(
            {
                "dataset": "mnist-mini",
                "file": f"{MNIST_MINI_FILE}:{key}",
                "expected": expected,
                "actual": actual,
                "ok": actual == expected,
            }
        )
    return rows


def _locate_mnist_mini(data_dir: Path | None = None) -> dict:
    # data_dir is ignored: the slice ships inside the package.
    where = "embedded" if MNIST_MINI_FILE.is_file() else "missing (reinstall gradschool)"
    return {"where": where, **MNIST_MINI_SIZES}


@register_dataset(
    "mnist-mini",
    description="a stratified MNIST slice shipped with gradschool, 10,000 / 2,000 (no download)",
    locate=_locate_mnist_mini,
    verify=_verify_mnist_mini,
)
def _load_mnist_mini(data_dir: Path | None = None, download: bool = True) -> Dataset:
    # data_dir and download are ignored: the slice ships inside the package.
    arrays = _read_mnist_mini()
    bad = [
        key
        for key, expected in MNIST_MINI_MD5.items()
        if key not in arrays or array_md5(arrays[key]) != expected
    ]
    if bad:
        raise DataError(
            f"{MNIST_MINI_FILE}: the embedded data fails its checksum (arrays: "
            f"{', '.join(bad)}). {_REINSTALL_HINT}"
        )
    return Dataset(
        X_train=arrays["X_train"],  # (10000, 1, 28, 28) uint8
        y_train=arrays["y_train"].astype(np.int64),
        X_test=arrays["X_test"],  # (2000, 1, 28, 28) uint8
        y_test=arrays["y_test"].astype(np.int64),
        classes=list(MNIST_CLASSES),
        name="mnist-mini",
        source=f"embedded: {MNIST_MINI_FILE}",
    )
