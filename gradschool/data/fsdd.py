"""The Free Spoken Digit Dataset (FSDD): spoken digits as log-mel "images" for a CNN.

    ds = load_dataset("fsdd", data_dir="../shared/data")      # official split
    ds.X_train.shape                                           # (2700, 1, 40, 64) float32
    ds = load_dataset("fsdd-speaker:theo", data_dir=...)       # train on 5 speakers, test on theo

FSDD (Z. Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0) is
3,000 WAV recordings, 8 kHz mono 16-bit, of 6 speakers each saying each digit 50 times; files
are named `{digit}_{speaker}_{index}.wav`. They live in `<data dir>/fsdd/recordings/`.

Two splits:

- `fsdd`, the official one: index 0-4 of every (digit, speaker) is the test set (300 files),
  5-49 the training set (2,700). Every speaker is in both, so it measures how well the model
  knows *these* voices.
- `fsdd-speaker:<name>`: train on the other five speakers (2,500), test on all 500 recordings
  of <name>, a voice the model has never heard: the honest measure of generalisation.

Each recording is checked against a manifest of md5s shipped with gradschool
(`embedded/fsdd-manifest.json.gz`, computed from a verified copy of release v1.0.10), then
turned into features (`data/audio.py`) as the config's `data.audio` section says. Features are
cached in the user cache directory, one file per feature setting; the cache is used only while
the recordings are unchanged (same names, sizes and modification times), so the 3,000 files are
hashed and transformed once, not on every run.

When the recordings are missing and the network allows, the release archive is downloaded
from GitHub, and only its `recordings/*.wav` that match the manifest are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.audio import AudioSpec, read_wav
from gradschool.data.audio import features as audio_features
from gradschool.data.datasets import EMBEDDED_DIR, Dataset, register_dataset
from gradschool.data.sources import (
    ENV_VAR,
    default_cache_dir,
    member_bytes,
    resolve_data_dir,
    verify_row,
)
from gradschool.errors import DataError

logger = logging.getLogger(__name__)

__all__ = [
    "FSDD_URL",
    "SPEAKERS",
    "download_fsdd",
    "fsdd_features",
    "load_fsdd",
    "manifest",
    "parse_name",
    "recordings_dir",
    "verify_recordings",
]

RELEASE = "v1.0.10"  # the tagged release with 6 speakers and 3,000 recordings
FSDD_URL = (
    f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{RELEASE}.tar.gz"
)
# NOTE: no checksum of the archive itself is pinned: GitHub builds tag archives on the fly, and
# this machine could not fetch one to hash. Each WAV inside is checked against the manifest
# instead, which is what matters: the bytes that are trained on.
MANIFEST_FILE = EMBEDDED_DIR / "fsdd-manifest.json.gz"
FOLDER = "fsdd/recordings"  # inside the data directory
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
CLASSES = [str(d) for d in range(10)]
TEST_INDICES = range(5)  # the official test set: recordings 0-4 of each digit and speaker
LICENSE = "CC BY-SA 4.0 (Z. Jackson et al., Free Spoken Digit Dataset)"
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def parse_name(name: str) -> tuple[int, str, int]:
    """`"7_george_32.wav"` -> (7, "george", 32)."""
    match = _NAME.match(Path(name).name)
    if match is None:
        raise DataError(f"{name}: not an FSDD file name ({{digit}}_{{speaker}}_{{index}}.wav)")
    return int(match.group(1)), match.group(2), int(match.group(3))


@cache
def manifest() -> dict[str, str]:
    """{file name: md5 of its bytes} for the 3,000 recordings of the pinned release."""
    try:
        with gzip.open(MANIFEST_FILE, "rt", encoding="utf-8") as f:
            return dict(json.load(f)["files"])
    except (OSError, ValueError, KeyError) as e:
        raise DataError(
            f"{MANIFEST_FILE}: the FSDD manifest is missing or unreadable ({e}). The package "
            "install is damaged: reinstall gradschool."
        ) from None


def recordings_dir(data_dir: Any = None) -> Path:
    """`<data dir>/fsdd/recordings` (the data directory as `sources.resolve_data_dir` finds it)."""
    return resolve_data_dir(data_dir) / FOLDER


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _missing(folder: Path) -> list[str]:
    return [name for name in manifest() if not (folder / name).is_file()]


# --- download ---------------------------------------------------------------------------------


def download_fsdd(folder: Path, url: str = FSDD_URL, timeout: float = 120.0) -> list[str]:
    """Download the release archive and put its recordings that match the manifest in `folder`.

    Only `.../recordings/<name>.wav` members whose name is in the manifest are read (never a
    path from the archive: nothing can be written outside `folder`), each checked against its
    md5 and written through a temporary file and a rename. Returns the names written.
    Network errors propagate as `OSError`; a file with a wrong md5 raises `DataError`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = manifest()
    logger.info("downloading %s", url)
    written = []
    with tempfile.TemporaryFile() as archive:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, archive, 1 << 20)
        archive.seek(0)
        with tarfile.open(fileobj=archive, mode="r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not (member.isfile() and len(parts) >= 2 and parts[-2] == "recordings"):
                    continue
                name = parts[-1]
                if name not in wanted or (folder / name).is_file():
                    continue
                data = member_bytes(tar, member)
                actual = hashlib.md5(data).hexdigest()
                if actual != wanted[name]:
                    raise DataError(
                        f"{url}: {name} in the archive has md5 {actual}, expected "
                        f"{wanted[name]}. The release differs from the one gradschool knows "
                        f"({RELEASE}); nothing more was written."
                    )
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, folder / name)
                written.append(name)
    return written


def ensure_recordings(data_dir: Any = None, download: bool = True) -> Path:
    """The recordings folder, complete: downloaded when missing and allowed, else a DataError
    that says what to put where."""
    folder = recordings_dir(data_dir)
    missing = _missing(folder)
    log = ""
    if missing and download:
        try:
            download_fsdd(folder)
        except (OSError, tarfile.TarError, EOFError, DataError) as e:
            log = f" Downloading {FSDD_URL} failed: {e}."
        missing = _missing(folder)
    if missing:
        what = (
            "is not there"
            if len(missing) == len(manifest())
            else f"is incomplete: {len(missing)} of its {len(manifest())} files are missing "
            f"(e.g. {', '.join(missing[:3])})"
        )
        off = " Downloading was turned off (data.download = false)." if not download else ""
        raise DataError(
            f"The Free Spoken Digit Dataset {what} in {folder}/.{off}{log} Put the 3,000 WAV "
            f"files of release {RELEASE} there: download {FSDD_URL}, unpack it and copy its "
            f"recordings/ folder to {folder}/ (files named {{digit}}_{{speaker}}_{{index}}.wav). "
            f"Or point gradschool at a data directory that has fsdd/recordings/, with "
            f"--data-dir or {ENV_VAR}. `gradschool data verify fsdd` checks every file."
        )
    return folder


# --- checks for `gradschool data list` / `verify` ---------------------------------------------


def verify_recordings(data_dir: Any = None) -> list[dict]:
    """Re-hash every recording: one summary row for the folder, plus one row per bad file.

    The summary's `expected` is the md5 of the manifest (name and md5 of each file, in name
    order) and `actual` the same digest over the files found, so they match exactly when all
    3,000 files are there and intact.
    """
    folder = recordings_dir(data_dir)
    rows, found = [], []
    for name, expected in sorted(manifest().items()):
        path = folder / name
        actual = _md5(path) if path.is_file() else "missing"
        found.append(f"{name} {actual}\n")
        if actual != expected:
            rows.append(verify_row("fsdd", str(path), expected, actual))
    digest = hashlib.md5("".join(f"{n} {m}\n" for n, m in sorted(manifest().items())).encode())
    summary = {
        "dataset": "fsdd",
        "file": f"{folder} ({len(manifest())} WAV files)",
        "expected": digest.hexdigest(),
        "actual": hashlib.md5("".join(found).encode()).hexdigest(),
        "ok": not rows,
    }
    if len(rows) == len(manifest()):  # nothing there: one row says it
        return [{**summary, "actual": "missing"}]
    return [summary, *rows]


def _locate(data_dir: Any = None, test_speaker: str | None = None) -> dict:
    folder = recordings_dir(data_dir)
    present = len(manifest()) - len(_missing(folder))
    if present == 0:
        return {"where": "missing", "train": None, "test": None}
    if present < len(manifest()):
        return {"where": f"partial ({present}/3000 files in {folder})", "train": None, "test": None}
    test = 500 if test_speaker else 300
    return {"where": str(folder), "train": 3000 - test, "test": test}


# --- features, cached -------------------------------------------------------------------------


def _fingerprint(folder: Path, names: list[str]) -> str:
    """A hash of the files' names, sizes and modification times: cheap, and it changes when a
    file is replaced or edited, so cached features are never those of other recordings."""
    h = hashlib.sha1()
    for name in names:
        st = (folder / name).stat()
        h.update(f"{name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cache_file(spec: AudioSpec) -> Path:
    return default_cache_dir() / "features" / f"fsdd-{spec.key()}.npz"


def _compute(folder: Path, names: list[str], spec: AudioSpec) -> np.ndarray:
    """Verify each recording against the manifest, then compute its features."""
    wanted = manifest()
    out = np.empty((len(names), *spec.shape), dtype=np.float32)
    bad = []
    for i, name in enumerate(names):
        if _md5(folder / name) != wanted[name]:
            bad.append(name)
            continue
        x, rate = read_wav(folder / name)
        out[i, 0] = audio_features(x, rate, spec)
    if bad:
        raise DataError(
            f"{len(bad)} FSDD recordings in {folder} fail their checksum (e.g. "
            f"{', '.join(bad[:3])}): they are damaged or are not the files of release "
            f"{RELEASE}. Delete them and let gradschool download them again, or copy good "
            f"ones in their place; `gradschool data verify fsdd` lists every bad file."
        )
    return out


def fsdd_features(
    data_dir: Any = None, download: bool = True, spec: AudioSpec | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Path]:
    """Features of all 3,000 recordings, in file-name order, with their labels.

    Returns (X (3000, 1, rows, frames) float32, digits (3000,) int64, speakers (3000,) str,
    indices (3000,) int64, folder). Reads the cache when it matches (see the module docstring).
    """
    spec = spec or AudioSpec()
    folder = ensure_recordings(data_dir, download)
    names = sorted(manifest())
    fingerprint = _fingerprint(folder, names)
    cache_file = _cache_file(spec)
    X = None
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            if str(npz["fingerprint"]) == fingerprint and npz["X"].shape[1:] == spec.shape:
                X = npz["X"]
    except (OSError, ValueError, KeyError):
        pass  # no cache (or a damaged one): compute
    if X is None:
        X = _compute(folder, names, spec)
        _write_cache(cache_file, X, fingerprint)
    parsed = [parse_name(n) for n in names]
    digits = np.array([p[0] for p in parsed], dtype=np.int64)
    speakers = np.array([p[1] for p in parsed])
    indices = np.array([p[2] for p in parsed], dtype=np.int64)
    return X, digits, speakers, indices, folder


def _write_cache(path: Path, X: np.ndarray, fingerprint: str) -> None:
    # NOTE: best effort: a read-only cache directory only costs recomputing next time.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, X=X, fingerprint=np.array(fingerprint))
        os.replace(tmp, path)  # atomic: a concurrent run reads the old file or the new one
    except OSError:
        pass


def load_fsdd(
    data_dir: Any = None,
    download: bool = True,
    data_config: Any = None,
    test_speaker: str | None = None,
) -> Dataset:
    """FSDD as a `Dataset` of features: the official split, or `test_speaker` held out."""
    spec = AudioSpec.from_config(getattr(data_config, "audio", None))
    X, digits, speakers, indices, folder = fsdd_features(data_dir, download, spec)
    if test_speaker is None:
        test = indices < len(TEST_INDICES)
        name = "fsdd"
    else:
        test = speakers == test_speaker
        name = f"fsdd-speaker:{test_speaker}"
    return Dataset(
        X_train=X[~test],  # (2700, 1, rows, frames), or (2500, ...) speaker-held-out
        y_train=digits[~test],
        X_test=X[test],
        y_test=digits[test],
        classes=list(CLASSES),
        name=name,
        source=f"{folder} ({spec.features}, key {spec.key()})",
    )


@register_dataset(
    "fsdd",
    description="spoken digits (FSDD), 2,700 / 300 recordings, official split (log-mel)",
    locate=_locate,
    verify=verify_recordings,
    configurable=True,
)
def _load_fsdd(data_dir: Path | None, download: bool, data_config: Any = None) -> Dataset:
    return load_fsdd(data_dir, download, data_config)


def _register_speaker(speaker: str) -> None:
    def load(data_dir: Path | None, download: bool, data_config: Any = None) -> Dataset:
        return load_fsdd(data_dir, download, data_config, test_speaker=speaker)

    register_dataset(
        f"fsdd-speaker:{speaker}",
        description=f"spoken digits (FSDD), 2,500 / 500: the speaker {speaker} held out",
        locate=lambda d: _locate(d, speaker),
        configurable=True,
    )(load)


for _speaker in SPEAKERS:
    _register_speaker(_speaker)
