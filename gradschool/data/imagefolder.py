"""Image folders: the layout of ImageNet (and of most photo data sets), decoded with Pillow.

One folder per class, the class name being the folder's name:

    root/<class>/<image>                  one pool of images; a stratified 20% becomes the test set
    root/train/<class>/<image>            separate training and test images
    root/test/<class>/<image>             (`val/` is accepted for `test/`, as ImageNet names it)

Classes are numbered in sorted order of their names (as torchvision's ImageFolder does), and
images within a class in sorted order of their file names, so a tree always loads the same.
The tree may be a folder or a `.tar` / `.tar.gz` archive of one; an archive is read in one
streaming pass and never extracted (no thousands of small files written to disk, and no path
in the archive can point outside a folder, because nothing is written).

Decoding 60,000 JPEGs takes a while, so the decoded arrays are cached once in the user cache
(`<cache>/images/*.npz`, see sources.default_cache_dir), keyed by a checksum: the md5 of an
archive's bytes, or for a folder the list of its files with their sizes and modification
times, together with the loading options. A changed tree gets a new key, never stale arrays.

    ds = load_image_folder("photos/")                 # Dataset: X (N, 3, H, W) uint8, y int64
    ds = load_image_folder("cifar10-jpeg.tar.gz", image_size=32)

Registered data sets: `cifar10-jpeg` (CIFAR-10 re-encoded as JPEG, `<data dir>/cifar10-jpeg.tar.gz`
or its extracted folder) and `imagefolder:<path>` for any tree (`--dataset imagefolder:photos/`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.datasets import Dataset, register_dataset, register_path_dataset
from gradschool.data.loader import stratified_split
from gradschool.data.sources import (
    default_cache_dir,
    member_bytes,
    resolve_data_dir,
    verify_row,
)
from gradschool.errors import DataError

logger = logging.getLogger(__name__)

# The extensions torchvision's ImageFolder accepts (compared case-insensitively).
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
TEST_SPLITS = ("test", "val")
CACHE_VERSION = 1  # bump when the cached arrays' meaning changes


@dataclass
class _Tree:
    """What a tree holds: class names, and per split the images as (relative path, label)."""

    classes: list[str]
    files: dict[str, list[tuple[str, int]]]  # "train" / "test" / "all" -> sorted entries
    split_layout: bool


def _is_image(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(".") and name.lower().endswith(EXTENSIONS)


def _strip_top(paths: list[str]) -> tuple[str, list[str]]:
    """Drop one folder that holds everything (`cifar10-jpeg/train/...` -> `train/...`), as an
    archive usually wraps its tree in one. Returns (the prefix dropped, the paths)."""
    tops = {p.split("/", 1)[0] for p in paths}
    if len(tops) == 1 and all(p.count("/") >= 2 for p in paths):
        top = tops.pop()
        if top not in ("train", *TEST_SPLITS):
            return top + "/", [p[len(top) + 1 :] for p in paths]
    return "", paths


def _tree(paths: Iterable[str], where: str) -> _Tree:
    """Read the layout off the relative paths of a tree's image files."""
    paths = sorted(p for p in paths if _is_image(p))
    if not paths:
        raise DataError(
            f"{where} holds no images ({', '.join(EXTENSIONS)}). An image folder looks like "
            f"root/<class>/<image> or root/train/<class>/<image> + root/test/<class>/<image>."
        )
    parts = [p.split("/") for p in paths]
    splits = {q[0] for q in parts if len(q) >= 3}
    split_layout = "train" in splits and bool(splits & set(TEST_SPLITS))
    if split_layout:
        keyed = []
        for p, q in zip(paths, parts):
            if len(q) < 3 or q[0] not in ("train", *TEST_SPLITS):
                raise DataError(
                    f"{where}: {p} is outside train/<class>/ and test/<class>/: in the split "
                    f"layout every image sits in train/<class>/ or test/<class>/ (or val/<class>/)"
                )
            keyed.append(("train" if q[0] == "train" else "test", q[1], p))
    else:
        loose = [p for p, q in zip(paths, parts) if len(q) < 2]
        if loose:
            raise DataError(
                f"{where}: {loose[0]} is not inside a class folder. Put each image in "
                f"root/<class name>/ (the folder's name is its label)."
            )
        keyed = [("all", q[0], p) for p, q in zip(paths, parts)]
    classes = sorted({c for _, c, _ in keyed})
    label = {c: i for i, c in enumerate(classes)}
    files: dict[str, list[tuple[str, int]]] = {}
    for split, c, p in keyed:
        files.setdefault(split, []).append((p, label[c]))
    return _Tree(classes, files, split_layout)


def _select(tree: _Tree, classes: Sequence[str] | None, max_per_class: int | None) -> _Tree:
    """Keep only `classes` (renumbered 0..k-1 in sorted order) and the first `max_per_class`
    images of each class in each split: a quick look at a big tree (tests, previews)."""
    if classes is None and max_per_class is None:
        return tree
    keep = sorted(tree.classes if classes is None else classes)
    unknown = sorted(set(keep) - set(tree.classes))
    if unknown:
        raise DataError(
            f"no class folder named {', '.join(unknown)}; the classes are {tree.classes}"
        )
    new_label = {tree.classes.index(c): i for i, c in enumerate(keep)}
    files = {}
    for split, entries in tree.files.items():
        count: dict[int, int] = {}
        chosen = []
        for path, old in entries:
            if old in new_label and (max_per_class is None or count.get(old, 0) < max_per_class):
                count[old] = count.get(old, 0) + 1
                chosen.append((path, new_label[old]))
        files[split] = chosen
    return _Tree(keep, files, tree.split_layout)


# --- decoding ----------------------------------------------------------------------------------


def _pillow() -> Any:  # the module PIL.Image
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow is a core dependency
        raise DataError(
            "decoding images needs Pillow, which is not installed: pip install pillow"
        ) from err
    return Image


def decode_image(
    data: bytes, mode: str = "RGB", size: tuple[int, int] | None = None, where: str = "image"
) -> np.ndarray:
    """One encoded image (JPEG, PNG...) -> (C, H, W) uint8; mode "RGB" gives C = 3, "L" C = 1.
    `size` = (H, W) resizes (bilinear) when the image differs."""
    Image = _pillow()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert(mode)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            array = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as err:  # PIL's UnidentifiedImageError is OSError
        raise DataError(f"{where} cannot be decoded as an image: {err}") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)


def _decode_all(
    entries: list[tuple[str, int]],
    read: Callable[[str], bytes],
    mode: str,
    size: tuple[int, int] | None,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every entry into one (N, C, H, W) uint8 array; labels (N,) int64."""
    images: list[np.ndarray] = []
    for path, _ in entries:
        image = decode_image(read(path), mode, size, f"{where}/{path}")
        if images and image.shape != images[0].shape:
            raise DataError(
                f"{where}: images differ in size ({entries[0][0]} is "
                f"{images[0].shape[1]}x{images[0].shape[2]}, {path} is "
                f"{image.shape[1]}x{image.shape[2]}); a batch needs one size: pass image_size "
                f"(e.g. image_size=224) to resize them all."
            )
        images.append(image)
    channels = 3 if mode == "RGB" else 1
    shape = (0, channels, *(size or (0, 0)))
    X = np.stack(images) if images else np.zeros(shape, dtype=np.uint8)
    return X, np.array([label for _, label in entries], dtype=np.int64)


# --- the cache of decoded arrays ---------------------------------------------------------------


def image_cache_dir() -> Path:
    """Where decoded arrays are cached: `<user cache>/images` (never inside the repository)."""
    return default_cache_dir() / "images"


def _cache_file(fingerprint: str, options: dict, name: str) -> Path:
    key = hashlib.sha256(
        json.dumps({"v": CACHE_VERSION, "tree": fingerprint, **options}, sort_keys=True).encode()
    ).hexdigest()[:24]
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40]
    return image_cache_dir() / f"{safe}-{key}.npz"


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        # allow_pickle=False: a cache file is data, it can never run code.
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError):
        return None  # absent or damaged: decode again


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (temporary file, then rename); a cache that cannot be written is not
    an error, only slower next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # (see checkpoint.py)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


# --- sources: a folder or an archive -----------------------------------------------------------


def _md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_archive(path: Path) -> bool:
    return path.is_file() and any(path.name.endswith(s) for s in (".tar", ".tar.gz", ".tgz"))


def _folder_source(root: Path) -> tuple[_Tree, str, Callable]:
    paths, stats = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if _is_image(rel):
                st = full.stat()
                paths.append(rel)
                stats.append(f"{rel}:{st.st_size}:{st.st_mtime_ns}")
    tree = _tree(paths, str(root))
    fingerprint = "folder:" + hashlib.sha256("\n".join(stats).encode()).hexdigest()
    return tree, fingerprint, lambda files: {p: (root / p).read_bytes() for p in files}


def _archive_source(archive: Path) -> tuple[_Tree, Callable]:
    """Read every image member's bytes in ONE streaming pass over the archive.

    NOTE: a .tar.gz has no index: listing it is a pass over all of it, and reading a member
    out of order decompresses from the start again. So the encoded bytes are kept in memory
    (for CIFAR-10 about 70 MB, less than the decoded arrays they become) and the tree is read
    off their names afterwards. Nothing is written to disk.
    """
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and _is_image(name):
                    blobs[name] = member_bytes(tar, member)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{archive} is not a readable tar archive: {err}") from None
    prefix, rel = _strip_top(list(blobs))
    tree = _tree(rel, str(archive))
    return tree, lambda files: {name: blobs[prefix + name] for name in files}


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    image_size: int | tuple[int, int] | None = None,
    mode: str = "RGB",
    classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
    test_fraction: float = 0.2,
    cache: bool = True,
    name: str | None = None,
    expected_md5: str | None = None,
) -> Dataset:
    """A Dataset from an image-folder tree (a folder, or a .tar / .tar.gz archive of one).

    image_size: resize every image to (H, W) (an int means square); None requires all images
        to share one size. mode: "RGB" (3 channels) or "L" (grey, 1 channel).
    classes / max_per_class: load only these classes / the first N images of each class in
        each split (sorted by file name).
    test_fraction: for a tree without train/ and test/, the stratified share held out as the
        test set (seed 0, so always the same images).
    cache: reuse / store the decoded arrays in `image_cache_dir()`.
    expected_md5: for an archive, refuse it unless its bytes have this md5.
    """
    root = Path(root).expanduser()
    if mode not in ("RGB", "L"):
        raise DataError(f"mode must be 'RGB' or 'L', got {mode!r}")
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if _is_archive(root):
        # The key is the archive's md5 (a quick hash of one file), so a cached load never
        # lists the archive's members (a pass over all of it).
        fingerprint = "archive-md5:" + _md5_file(root)
        if expected_md5 is not None and fingerprint != "archive-md5:" + expected_md5:
            raise DataError(
                f"{root}: checksum mismatch, its md5 is {fingerprint.split(':', 1)[1]} but "
                f"{expected_md5} was expected. The archive is damaged or a different one; "
                f"load your own tree with --dataset imagefolder:{root} instead."
            )
        source = lambda: _archive_source(root)  # noqa: E731 - (tree, reader), only on a miss
    elif root.is_dir():
        tree, fingerprint, read_many = _folder_source(root)
        source = lambda: (tree, read_many)  # noqa: E731
    else:
        raise DataError(
            f"{root} is neither a folder nor a .tar/.tar.gz archive of images. An image folder "
            f"looks like root/<class>/<image> or root/train/<class>/<image> + root/test/..."
        )
    name = name or f"imagefolder:{root}"
    options = {
        "size": size,
        "mode": mode,
        "classes": None if classes is None else sorted(classes),
        "max_per_class": max_per_class,
        "test_fraction": test_fraction,
    }
    path = _cache_file(fingerprint, options, name)
    arrays = _read_cache(path) if cache else None
    if arrays is None or "classes" not in arrays:
        tree, read_many = source()
        tree = _select(tree, classes, max_per_class)
        arrays = _decode_tree(tree, read_many, mode, size, str(root), test_fraction)
        arrays["classes"] = np.array(tree.classes, dtype=str)
        if cache:
            _write_cache(path, arrays)
    return Dataset(
        X_train=arrays["X_train"],
        y_train=arrays["y_train"],
        X_test=arrays["X_test"],
        y_test=arrays["y_test"],
        classes=[str(c) for c in arrays["classes"]],
        name=name,
        source=str(root),
    )


def _decode_tree(
    tree: _Tree,
    read_many: Callable[[set[str]], dict[str, bytes]],
    mode: str,
    size: tuple[int, int] | None,
    where: str,
    test_fraction: float,
) -> dict[str, np.ndarray]:
    wanted = {p for entries in tree.files.values() for p, _ in entries}
    logger.info(
        "decoding %s images from %s (once: the arrays are cached in %s)",
        f"{len(wanted):,}",
        where,
        image_cache_dir(),
    )
    blobs = read_many(wanted)
    decoded = {
        split: _decode_all(entries, blobs.__getitem__, mode, size, where)
        for split, entries in tree.files.items()
    }
    if tree.split_layout:
        (X_train, y_train), (X_test, y_test) = decoded["train"], decoded["test"]
    else:
        X, y = decoded["all"]
        train, test = stratified_split(y, test_fraction, seed=0)
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


# --- registered data sets ----------------------------------------------------------------------

CIFAR10_JPEG_ARCHIVE = "cifar10-jpeg.tar.gz"
CIFAR10_JPEG_FOLDER = "cifar10-jpeg"
# md5 of the archive gradschool was tested with (CIFAR-10 re-encoded as JPEG at quality ~75).
# There is no official archive of this re-encoding; see docs/cnn.md.
CIFAR10_JPEG_MD5 = "67664af876dd64ad10750410502e5f72"


def _cifar10_jpeg_path(data_dir: Path | None) -> Path | None:
    root = resolve_data_dir(data_dir)
    for path in (root / CIFAR10_JPEG_FOLDER, root / CIFAR10_JPEG_ARCHIVE):
        if path.exists():
            return path
    return None


def _locate_cifar10_jpeg(data_dir: Path | None) -> dict:
    path = _cifar10_jpeg_path(data_dir)
    if path is None:
        return {"where": "missing", "train": None, "test": None}
    return {"where": str(path), "train": 50_000, "test": 10_000}


def _verify_cifar10_jpeg(data_dir: Path | None) -> list[dict]:
    path = _cifar10_jpeg_path(data_dir)
    if path is not None and path.is_dir():
        return []  # an extracted folder has no published checksum
    expected = CIFAR10_JPEG_MD5
    target = path or resolve_data_dir(data_dir) / CIFAR10_JPEG_ARCHIVE
    actual = _md5_file(target) if path is not None else "missing"
    return [verify_row("cifar10-jpeg", str(target), expected, actual)]


@register_dataset(
    "cifar10-jpeg",
    description="CIFAR-10 as JPEG image folders (train/ test/), 50,000 / 10,000, 32x32 colour",
    locate=_locate_cifar10_jpeg,
    verify=_verify_cifar10_jpeg,
)
def _load_cifar10_jpeg(data_dir: Path | None, download: bool) -> Dataset:
    path = _cifar10_jpeg_path(data_dir)
    if path is None:
        root = resolve_data_dir(data_dir)
        raise DataError(
            f"cifar10-jpeg is not in {root}/: put the archive {CIFAR10_JPEG_ARCHIVE} (a tar.gz "
            f"of cifar10-jpeg/{{train,test}}/<class>/<image>.jpg) or its extracted folder "
            f"{CIFAR10_JPEG_FOLDER}/ there, or point --data-dir / GRADSCHOOL_DATA at the folder "
            f"that holds it. It has no download: the official CIFAR-10 is the data set "
            f"`cifar10` (python batches, downloaded from the official site)."
        )
    md5 = CIFAR10_JPEG_MD5 if path.is_file() else None
    return load_image_folder(path, image_size=32, name="cifar10-jpeg", expected_md5=md5)


def load_image_folder_spec(spec: str) -> Dataset:
    """`imagefolder:<path>` from a config or the command line: the tree at <path>."""
    if not spec:
        raise DataError(
            "imagefolder: needs a path, e.g. --dataset imagefolder:photos/ (a folder of "
            "<class>/<image> or train/<class>/<image> + test/<class>/<image>, or a .tar.gz)"
        )
    return load_image_folder(spec)


register_path_dataset("imagefolder:", load_image_folder_spec)
