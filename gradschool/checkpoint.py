"""Checkpoints that survive a crash, and never run code when read.

`save_tree` / `load_tree` store a nested structure of dicts, lists, numbers, strings and
arrays (a model's state_dict, an optimizer's state, the history of metrics...) in one `.npz`
file: the arrays as NumPy entries, the structure as JSON beside them. Loading uses
`allow_pickle=False`, so a checkpoint is only ever data.

`atomic_write` is how every file that matters is written: to a temporary file in the same
directory, flushed to disk, then renamed over the old one. A rename is atomic, so a process
killed mid-write leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.errors import CheckpointError

_META_KEY = "__structure__"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp_path)`, then move the result to `path` in one atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _pack(obj: Any, arrays: dict[str, np.ndarray], to_numpy: Callable) -> Any:
    """Replace every array in `obj` by a reference {"__array__": key}, collecting the arrays."""
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [_pack(k, arrays, to_numpy), _pack(v, arrays, to_numpy)] for k, v in obj.items()
            ]
        }
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays, to_numpy) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    array = np.asarray(to_numpy(obj))
    key = f"a{len(arrays)}"
    arrays[key] = array
    return {"__array__": key}


def _unpack(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        return {_unpack(k, arrays): _unpack(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def save_tree(obj: Any, path: Path, to_numpy: Callable = np.asarray) -> None:
    """Write `obj` (nested dicts / lists / scalars / arrays) to `path` (.npz), atomically."""
    arrays: dict[str, np.ndarray] = {}
    structure = _pack(obj, arrays, to_numpy)
    arrays[_META_KEY] = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            # (ignored: numpy's stub fears that the dict might hold its keyword allow_pickle)
            np.savez(f, **arrays)  # type: ignore[arg-type]

    atomic_write(Path(path), write)


def load_tree(path: Path) -> Any:
    """Read what `save_tree` wrote. A damaged or foreign file raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        structure = json.loads(arrays.pop(_META_KEY).tobytes().decode())
        return _unpack(structure, arrays)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(
            f"cannot read the checkpoint {path}: {err}. The file is damaged or was not written "
            f"by gradschool; start a fresh run, or restore the file from a copy."
        ) from err
