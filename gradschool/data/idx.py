"""The IDX file format: read and write the files MNIST and Fashion-MNIST ship in.

An IDX file is a tiny header followed by a raw array, all big-endian
(http://yann.lecun.com/exdb/mnist/, bottom of the page):

    bytes 0-1   0x00 0x00           always zero (a quick "is this IDX?" check)
    byte  2     dtype code          0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float,
                                    0x0E double
    byte  3     ndim                number of dimensions
    then        ndim x uint32       the size of each dimension, big-endian
    then        the payload         prod(dims) items, row-major (C order), big-endian

So `train-images-idx3-ubyte` starts `00 00 08 03`, then 60000, 28, 28, then 47,040,000 pixels.
The published files are gzip-compressed; this module reads both forms.

Every problem a user can cause (wrong file, truncated download, corrupt gzip) raises
`DataError` with a message that names the file and says how to fix it.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from gradschool.errors import DataError

# IDX dtype code -> NumPy dtype. Multi-byte types are big-endian on disk (">").
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# The reverse map, keyed on the native-endian kind+size ("u1", "i2", "f4", ...).
_KIND_TO_CODE: dict[str, int] = {
    f"{dt.kind}{dt.itemsize}": code for code, dt in _CODE_TO_DTYPE.items()
}
_GZIP_MAGIC = b"\x1f\x8b"
_FIX_HINT = (
    "Delete the file and download it again (or copy a good one in its place); "
    "`gradschool data verify` checks every file against its published checksum."
)

PathLike = str | os.PathLike


def read_bytes(path: PathLike) -> bytes:
    """Return the content of `path`, decompressed when it is gzip.

    A file is treated as gzip when its name ends in `.gz` or when it starts with the gzip magic
    bytes (some mirrors serve gzip data under the raw name).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: no such file. Check the path, or put the file there "
            "(see `gradschool data list` for where each data set is looked for)."
        ) from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e}). Check its permissions.") from None
    if path.suffix == ".gz" or raw[:2] == _GZIP_MAGIC:
        if raw[:2] != _GZIP_MAGIC:
            raise DataError(
                f"{path}: the name ends in .gz but the file is not gzip-compressed (it starts "
                f"with bytes {raw[:4].hex(' ')}, not 1f 8b). {_FIX_HINT}"
            )
        try:
            return gzip.decompress(raw)
        # NOTE: a damaged gzip stream fails in three different ways: BadGzipFile (an OSError)
        # for a bad header or CRC, EOFError when the stream is cut short, zlib.error for
        # garbage in the middle.
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(
                f"{path}: the gzip stream is corrupt or truncated ({e}). {_FIX_HINT}"
            ) from None
    return raw


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX `data` (already decompressed) into a native-endian array of the stored shape.

    `name` is only used in error messages (pass the file's path).
    """
    if len(data) < 4:
        raise DataError(
            f"{name}: not an IDX file: it is only {len(data)} bytes long, shorter than the "
            f"4-byte IDX magic number. {_FIX_HINT}"
        )
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"{name}: not an IDX file: an IDX file starts with two zero bytes, this one starts "
            f"with {data[:4].hex(' ')}. Check that you pointed at the right file "
            f"(e.g. train-images-idx3-ubyte). {_FIX_HINT}"
        )
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise DataError(
            f"{name}: not a valid IDX file: its dtype code is 0x{code:02X}, the IDX format "
            f"only defines {known}. {_FIX_HINT}"
        )
    if ndim == 0:
        raise DataError(f"{name}: not a valid IDX file: it declares 0 dimensions. {_FIX_HINT}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{name}: truncated IDX file: its header declares {ndim} dimensions and needs "
            f"{header_len} bytes, but the file has only {len(data)}. {_FIX_HINT}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _CODE_TO_DTYPE[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_len
    if found != expected:
        what = "truncated" if found < expected else "corrupt"
        shape = " x ".join(str(d) for d in dims)
        raise DataError(
            f"{name}: {what} IDX file: a {shape} array of {dtype.name} needs {expected:,} "
            f"payload bytes, found {found:,}. {_FIX_HINT}"
        )
    # .astype makes a native-endian, writable copy (frombuffer over bytes is read-only).
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (`.gz` or raw) into a native-endian NumPy array.

    The shape is the one stored in the file: `(60000, 28, 28)` uint8 for MNIST training images,
    `(60000,)` uint8 for its labels. Raises `DataError` naming the file when it is missing, not
    IDX, truncated, or a corrupt gzip stream.
    """
    return parse_idx(read_bytes(path), name=str(path))


def read_idx_header(path: PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """Return `(dtype, shape)` from an IDX file's header without reading the payload.

    Cheap even for a 47 MB gzip file: only the first few bytes are decompressed. Used to count
    examples for `gradschool data list`. Does not check the payload length (use `read_idx`).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            is_gz = f.read(2) == _GZIP_MAGIC
        opener = gzip.open if is_gz else open
        with opener(path, "rb") as f:
            head = f.read(4)
            ndim = head[3] if len(head) == 4 else 0
            head += f.read(4 * ndim)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read the IDX header ({e}). {_FIX_HINT}") from None
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _CODE_TO_DTYPE or ndim == 0:
        raise DataError(
            f"{path}: not an IDX file (it starts with {head[:4].hex(' ')}). {_FIX_HINT}"
        )
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX file (the header is cut short). {_FIX_HINT}")
    dims = struct.unpack(f">{ndim}I", head[4:])
    return _CODE_TO_DTYPE[head[2]].newbyteorder("="), tuple(dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode `array` as IDX bytes (header + big-endian payload)."""
    array = np.asarray(array)
    key = f"{array.dtype.kind}{array.dtype.itemsize}"
    if key not in _KIND_TO_CODE:
        raise DataError(
            f"cannot write a {array.dtype} array as IDX: the format only stores uint8, int8, "
            "int16, int32, float32 and float64. Convert it first, e.g. `array.astype(np.int32)`."
        )
    if not 1 <= array.ndim <= 255:
        raise DataError(f"cannot write a {array.ndim}-d array as IDX: it needs 1 to 255 dims.")
    code = _KIND_TO_CODE[key]
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload = np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    return header + payload


def write_idx(path: PathLike, array: np.ndarray) -> Path:
    """Write `array` to `path` as IDX, gzip-compressed when the name ends in `.gz`.

    The gzip header carries no timestamp (mtime=0), so the same array always gives the same
    bytes. Returns the path written.
    """
    path = Path(path)
    data = idx_bytes(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path
