"""Where data set files live: the data directory, checksums, and the downloader.

The data directory is chosen, first match wins, from

1. the explicit argument (`--data-dir` on the command line, `data_dir=` in Python);
2. the environment variable `GRADSCHOOL_DATA`;
3. the user cache: `$XDG_CACHE_HOME/gradschool`, else `~/.cache/gradschool`.

Inside it each data set has its own folder (`mnist/`, `fashion-mnist/`), holding its files either
gzip-compressed (`train-images-idx3-ubyte.gz`, as published) or raw (`train-images-idx3-ubyte`).
A file is trusted only when the md5 of its *decompressed* content matches the published one, so
a file recompressed by another tool (a Debian package, `gzip -9`) is still accepted.

When files are missing and downloading is allowed, they are fetched from the official mirrors
into a temporary file, checked, then renamed into place: an interrupted or wrong download never
leaves a file that looks complete. When that fails too, the `DataError` lists exactly which files
to put in which folder, and where to get them.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gradschool.data.idx import PathLike, read_bytes, read_idx_header
from gradschool.errors import DataError

logger = logging.getLogger(__name__)

ENV_VAR = "GRADSCHOOL_DATA"
# Files that passed their checksum are remembered in <user cache>/verified.json, keyed on the
# absolute path, size and mtime, so loading them again does not re-hash 50 MB. `verify` ignores
# it and always re-hashes.
VERIFIED_CACHE = "verified.json"
DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FileSpec:
    """One published file: its raw name and the md5 of its decompressed content."""

    name: str  # e.g. "train-images-idx3-ubyte"; the published file is name + ".gz"
    md5: str


@dataclass(frozen=True)
class Source:
    """A data set published as a set of files: where it lives and how to check it."""

    name: str  # registry name, e.g. "mnist"
    title: str  # human name, e.g. "MNIST"
    folder: str  # sub-folder of the data directory, e.g. "mnist"
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order; each ends in "/"
    license: str

    def urls(self, spec: FileSpec) -> list[str]:
        """The download URLs of `spec`, one per mirror (the published files are `.gz`)."""
        return [base + spec.name + ".gz" for base in self.mirrors]


SOURCES: dict[str, Source] = {}


def member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """The bytes of one regular file in an open tar archive, read in memory (nothing from the
    archive is ever written to a path it names)."""
    file = tar.extractfile(member)
    if file is None:  # a folder or a link: the callers take regular files only
        raise DataError(f"{member.name} in the archive is not a regular file")
    return file.read()


def register_source(source: Source) -> Source:
    """Add `source` to `SOURCES` (so `verify` and the missing-file messages know it)."""
    SOURCES[source.name] = source
    return source


MNIST = register_source(
    Source(
        name="mnist",
        title="MNIST",
        folder="mnist",
        files=(
            FileSpec("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
            FileSpec("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
            FileSpec("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
            FileSpec("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
        ),
        # The mirror torchvision uses first; yann.lecun.com is the original home but often
        # refuses downloads (HTTP 403), so it is only the fallback.
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        license="CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. J. C. Burges)",
    )
)

FASHION_MNIST = register_source(
    Source(
        name="fashion-mnist",
        title="Fashion-MNIST",
        folder="fashion-mnist",
        files=(
            FileSpec("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            FileSpec("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
            FileSpec("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
            FileSpec("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        license="MIT (Zalando Research)",
    )
)


# --- the data directory ------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/gradschool`, or `~/.cache/gradschool` when XDG_CACHE_HOME is unset."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gradschool"


def resolve_data_dir(data_dir: PathLike | None = None) -> Path:
    """The data directory: `data_dir` if given, else `$GRADSCHOOL_DATA`, else the user cache.

    The directory need not exist (it is created when something is downloaded into it).
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return default_cache_dir()


def _given_dir(data_dir: PathLike | None) -> tuple[Path, str] | None:
    """The data directory the user named, and how they named it; None for the user cache."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser(), f"--data-dir {data_dir}"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"{ENV_VAR}={env}"
    return None


def closest_existing(path: Path) -> str:
    """A hint at what a folder that does not exist was meant to be: " Did you mean
    ../shared/data?" when every missing part of it is close to a folder that exists (a typo),
    else " The nearest folder above it that exists is /abs/path." Empty if nothing exists."""
    parts: list[str] = []
    ancestor = path
    while not ancestor.is_dir():
        if ancestor == ancestor.parent:  # not even the root (or ".") exists
            return ""
        parts.insert(0, ancestor.name)
        ancestor = ancestor.parent
    guess = ancestor
    for part in parts:
        try:
            folders = [p.name for p in guess.iterdir() if p.is_dir()]
        except OSError:
            folders = []
        close = difflib.get_close_matches(part, folders, n=1, cutoff=0.6)
        if not close:
            return f" The nearest folder above it that exists is {os.path.abspath(ancestor)}."
        guess = guess / close[0]
    return f" Did you mean {guess}?"


def describe_data_dir(data_dir: PathLike | None = None) -> str:
    """Which data directory is used and why, for `gradschool data list` / `verify`:
    `/root/.cache/gradschool (the user cache: neither --data-dir nor GRADSCHOOL_DATA is set)`."""
    given = _given_dir(data_dir)
    if given is None:
        where = f"{default_cache_dir()} (the user cache: neither --data-dir nor {ENV_VAR} is set)"
    else:
        where = f"{given[0]} (from {given[1]})"
    path = resolve_data_dir(data_dir)
    if not path.is_dir():
        where += "; it does not exist." + (closest_existing(path) if given else "")
    return where


def data_dir_hint() -> str:
    """How to point gradschool at the data sets, for messages about missing ones."""
    return (
        f"To use data sets you have, point gradschool at the folder that holds them (its "
        f"mnist/, fashion-mnist/, fsdd/ ... sub-folders): add --data-dir DIR to the command "
        f"(e.g. `gradschool data list --data-dir ../shared/data`), or set {ENV_VAR}=DIR once "
        f"for every command. A training run downloads a missing set when the network allows "
        f"(see docs/data.md)."
    )


def check_data_dir(data_dir: PathLike | None, download: bool | None) -> bool:
    """Whether missing files may be downloaded, after checking the data directory named.

    `download` None (the default, "auto"): download into the user cache, or into a data
    directory that exists; a directory named by --data-dir or GRADSCHOOL_DATA that does not
    exist is an error (a typo must not create empty folders and start a download), which
    names the closest existing path. True: download, creating the directory if needed
    (`--download`). False: never download.
    """
    given = _given_dir(data_dir)
    if download is not None or given is None:
        return bool(download is None or download)
    path, how = given
    if path.is_dir():
        return True
    what = "is a file, not a folder" if path.exists() else "does not exist"
    raise DataError(
        f"the data directory {path} (from {how}) {what}; nothing was created or downloaded."
        f"{closest_existing(path) if not path.exists() else ''} Give the folder that holds "
        f"your data sets (e.g. one with mnist/ in it; `gradschool data list --data-dir DIR` "
        f"shows what a folder holds). To download into a new folder there, add --download."
    )


def find_file(folder: Path, spec: FileSpec) -> Path | None:
    """The file of `spec` in `folder`, raw (`name`) or compressed (`name.gz`); None if absent."""
    for candidate in (folder / spec.name, folder / (spec.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


# --- checksums and the verification cache ------------------------------------------------------


def _md5_hex(data: bytes) -> str:
    # One place that hashes, so tests can count how often it runs.
    return hashlib.md5(data).hexdigest()


def file_md5(path: PathLike) -> str:
    """md5 of the *decompressed* content of `path` (a `.gz` or raw file); always re-hashes."""
    return _md5_hex(read_bytes(path))


_memo: dict[tuple[str, int, int], str] = {}  # (absolute path, size, mtime_ns) -> verified md5


def verified_cache_file() -> Path:
    """The JSON file remembering which files passed their checksum (in the user cache)."""
    return default_cache_dir() / VERIFIED_CACHE


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _cache_entries() -> dict:
    try:
        entries = json.loads(verified_cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _known_good(path: Path, md5: str) -> bool:
    """True when `path`, unchanged since (same size and mtime), was verified against `md5`."""
    key = _stat_key(path)
    if _memo.get(key) == md5:
        return True
    if _cache_entries().get(key[0]) == {"size": key[1], "mtime_ns": key[2], "md5": md5}:
        _memo[key] = md5
        return True
    return False


def _remember_good(path: Path, md5: str) -> None:
    key = _stat_key(path)
    _memo[key] = md5
    entries = _cache_entries()
    entries[key[0]] = {"size": key[1], "mtime_ns": key[2], "md5": md5}
    # NOTE: the note goes to the user cache, never beside the data: a data directory may be a
    # shared, read-only copy that must stay untouched. When the cache cannot be written either,
    # only the in-process memo remembers (a new process re-hashes: about 0.1 s for MNIST).
    cache = verified_cache_file()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=cache.name, dir=cache.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, indent=1, sort_keys=True)
        os.replace(tmp, cache)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def read_verified(path: PathLike, md5: str) -> bytes:
    """The decompressed content of `path`, after checking it against `md5`.

    The check is skipped when the file is unchanged since it last passed (see `VERIFIED_CACHE`).
    """
    path = Path(path)
    data = read_bytes(path)
    if not _known_good(path, md5):
        actual = _md5_hex(data)
        if actual != md5:
            raise DataError(
                f"{path}: checksum mismatch: the md5 of its decompressed content is {actual}, "
                f"expected {md5}. The file is damaged or is not the published one. Delete it "
                "and let gradschool download it again, or copy a good copy in its place."
            )
        _remember_good(path, md5)
    return data


# --- download ----------------------------------------------------------------------------------


def download_file(url: str, dest: PathLike, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `dest`, checking the md5 of its decompressed content.

    The bytes go to a temporary file beside `dest`, which is renamed to `dest` only after the
    checksum matches, so a crash or a wrong file never leaves a half-written `dest`. On a
    mismatch the temporary file is deleted and `DataError` is raised. Network failures raise
    the usual `OSError` (`urllib.error.URLError`, `TimeoutError`); the caller decides whether to
    try another mirror. Returns the path written: `dest`, or `dest` without its `.gz` when the
    server sent the file uncompressed (so the name never lies about the content).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        actual = file_md5(tmp)
        if actual != md5:
            raise DataError(
                f"{url}: checksum mismatch: the md5 of the downloaded file's decompressed "
                f"content is {actual}, expected {md5}; the download was discarded. The mirror "
                "may serve a different version; try again later or fetch the file by hand."
            )
        with open(tmp, "rb") as f:
            is_gzip = f.read(2) == b"\x1f\x8b"
        if dest.suffix == ".gz" and not is_gzip:
            dest = dest.with_suffix("")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _try_download(
    source: Source, spec: FileSpec, folder: Path, log: list[str], dead: set[str]
) -> Path | None:
    """Try each mirror for `spec`; append one line per failure to `log`.

    A mirror that cannot be reached at all (no DNS, no route, a timeout) goes into `dead` and is
    not tried for the remaining files: behind a firewall that drops packets, each attempt would
    otherwise wait the full timeout.
    """
    for base, url in zip(source.mirrors, source.urls(spec)):
        if base in dead:
            continue
        logger.info("downloading %s", url)
        try:
            return download_file(url, folder / (spec.name + ".gz"), spec.md5)
        except urllib.error.HTTPError as e:  # the server answered (404, 403): try the next file
            log.append(f"{url}: {e}")
        except (OSError, ValueError, http.client.HTTPException) as e:
            # URLError and TimeoutError are OSErrors; ValueError: a malformed URL.
            log.append(f"{url}: {e} (not trying this mirror again)")
            dead.add(base)
        except DataError as e:  # a checksum mismatch
            log.append(str(e))
    return None


def ensure_source(
    name: str, data_dir: PathLike | None = None, download: bool = True
) -> dict[str, Path]:
    """Make sure every file of source `name` is in the data directory; return their paths.

    Missing files are downloaded when `download` is true. Returns `{raw file name: path}`.
    Raises `DataError` listing exactly which files to put where when some are still missing.
    Does not check checksums (`read_verified` does, as each file is read).
    """
    source = SOURCES[name]
    folder = resolve_data_dir(data_dir) / source.folder
    found: dict[str, Path] = {}
    missing: list[FileSpec] = []
    for spec in source.files:
        path = find_file(folder, spec)
        if path is None:
            missing.append(spec)
        else:
            found[spec.name] = path
    log: list[str] = []
    if missing and download:
        still_missing = []
        dead: set[str] = set()
        for spec in missing:
            path = _try_download(source, spec, folder, log, dead)
            if path is None:
                still_missing.append(spec)
            else:
                found[spec.name] = path
        missing = still_missing
    if missing:
        raise DataError(_missing_message(source, folder, missing, download, log))
    return found


def _missing_message(
    source: Source, folder: Path, missing: list[FileSpec], download: bool, log: list[str]
) -> str:
    what = (
        f"The {source.title} data set is not in {folder}/."
        if len(missing) == len(source.files)
        else f"The {source.title} data set is incomplete: {len(missing)} of its "
        f"{len(source.files)} files are not in {folder}/."
    )
    lines = [f"{what} Put these files there (the .gz as published, or decompressed):"]
    for spec in missing:
        lines.append(f"  {folder / (spec.name + '.gz')}   <- {source.urls(spec)[0]}")
    if len(source.mirrors) > 1:
        lines.append("  (other mirrors: " + ", ".join(source.mirrors[1:]) + ")")
    if not download:
        lines.append("Downloading was turned off, so gradschool did not try to fetch them.")
    elif log:
        lines.append("Downloading them failed:")
        lines.extend(f"  {entry}" for entry in log)
    lines.append(
        f"Or point gradschool at a directory that has them, with --data-dir or {ENV_VAR} "
        "(its layout: <data dir>/" + source.folder + "/<file>). Each file is checked by the md5 "
        "of its decompressed content; `gradschool data verify` checks them all. To work "
        "without any download, use the embedded data set `mnist-mini`."
    )
    return "\n".join(lines)


# --- reports for `gradschool data list` / `gradschool data verify` ------------------------------


def locate_source(name: str, data_dir: PathLike | None = None) -> dict:
    """Where source `name` is: `{"where", "train", "test"}` (example counts from IDX headers).

    `where` is the folder when all files are present, `"missing"` when none is, and
    `"partial (k/n files in <folder>)"` otherwise. Counts are None when unknown.
    """
    source = SOURCES[name]
    folder = resolve_data_dir(data_dir) / source.folder
    paths = [find_file(folder, spec) for spec in source.files]
    present = sum(p is not None for p in paths)
    if present == 0:
        where = "missing"
    elif present < len(paths):
        where = f"partial ({present}/{len(paths)} files in {folder})"
    else:
        where = str(folder)
    counts: dict[str, int | None] = {"train": None, "test": None}
    for spec, path in zip(source.files, paths):
        if path is not None and "labels" in spec.name:
            split = "train" if spec.name.startswith("train") else "test"
            with contextlib.suppress(DataError):  # unreadable: `verify` will say why
                counts[split] = read_idx_header(path)[1][0]
    return {"where": where, **counts}


def verify_row(dataset: str, file: str, expected: str, actual: str) -> dict:
    """One row of `gradschool data verify`: `{"dataset", "file", "expected", "actual", "ok"}`."""
    return {"dataset": dataset, "file": file, "expected": expected, "actual": actual,
            "ok": actual == expected}  # fmt: skip


def verify_file(dataset: str, folder: Path, spec: FileSpec, missing: str | None = None) -> dict:
    """Re-hash the file of `spec` in `folder` (raw or `.gz`): its `verify_row`.

    `file` is the path found, or `missing` (default: the published `name.gz`) when there is
    none; `actual` is the md5, `"missing"` or `"unreadable: <why>"`. Never raises for a bad
    file: that is what the row is for. A good file is remembered, so loading it next time
    does not hash it again.
    """
    path = find_file(folder, spec)
    if path is None:
        published = missing or str(folder / (spec.name + ".gz"))
        return verify_row(dataset, published, spec.md5, "missing")
    try:
        actual = file_md5(path)
    except DataError as e:
        actual = f"unreadable: {e}"
    if actual == spec.md5:
        _remember_good(path, spec.md5)
    return verify_row(dataset, str(path), spec.md5, actual)


def verify_source(name: str, data_dir: PathLike | None = None) -> list[dict]:
    """Re-hash every file of source `name`: one `verify_file` row per file."""
    source = SOURCES[name]
    folder = resolve_data_dir(data_dir) / source.folder
    return [verify_file(name, folder, spec) for spec in source.files]
