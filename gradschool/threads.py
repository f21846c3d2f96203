"""CPU threads: how many cores NumPy's BLAS and torch use for one operation.

Both libraries start one thread per core. For the small matrices of a learner's models (the
seed's MLP multiplies 64 x 784 by 784 x 128) that is rarely a gain: waking and joining the
threads costs about as much as the work they share, and on a busy machine, where other
processes hold the cores, each thread waits for a core and one step can take 10-30 times
longer (docs/performance.md has the measurements). `train.threads = N` (`--threads N`) sets
both libraries to N threads for the run; 0 leaves their defaults.

    set_threads(1)         # now, for both libraries
    get_threads()          # {"blas": 1, "torch": 1}

    with limited_threads(1) as refresh:   # for a block of code, then back as it was
        ...                               # (the lecture runner holds each lecture at 1)
        refresh()                         # after code that may have imported torch

NOTE: NumPy's BLAS reads OMP_NUM_THREADS / OPENBLAS_NUM_THREADS once, when it loads, so a
setting made after `import numpy` must go through the library itself: OpenBLAS (what NumPy's
wheels ship) has `openblas_set_num_threads`, called here through ctypes, which is what the
threadpoolctl package does for every BLAS. Another BLAS (MKL in conda's NumPy) keeps what the
environment said at start; `get_threads()["blas"]` is then None.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["get_threads", "limited_threads", "set_threads"]

# Symbol names of the same two functions in the OpenBLAS builds NumPy's wheels bundle
# (scipy-openblas, with 64-bit integers) and in a system OpenBLAS.
_SET = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
        "openblas_set_num_threads")  # fmt: skip
_GET = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
        "openblas_get_num_threads")  # fmt: skip


def _openblas_function(names: tuple[str, ...]) -> list:
    """The first of `names` found in each OpenBLAS library loaded in this process.

    Found through the process's memory map (Linux); elsewhere none is found."""
    import numpy  # noqa: F401 - loads NumPy's BLAS, if it is not loaded yet

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()})
    found = []
    for path in paths:
        if not path.startswith("/"):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                found.append(fn)
                break
    return found


def get_threads() -> dict[str, int | None]:
    """{"blas": threads of NumPy's BLAS, "torch": torch's intra-op threads}; None where it
    cannot be told (another BLAS; torch not imported)."""
    blas = _openblas_function(_GET)
    torch = sys.modules.get("torch")
    return {
        "blas": int(blas[0]()) if blas else None,
        "torch": torch.get_num_threads() if torch is not None else None,
    }


def set_threads(threads: int) -> dict[str, int | None]:
    """Use `threads` threads in NumPy's BLAS and in torch (if imported; else it would start
    with its default, so it is imported here only when already in use). 0 does nothing.
    Returns `get_threads()`."""
    if threads:
        for fn in _openblas_function(_SET):
            fn(ctypes.c_int(int(threads)))
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(int(threads))
    return get_threads()


# What libraries loaded later (torch reads OMP_NUM_THREADS when imported) and child processes
# (DDP workers) take as their thread count.
_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def limited_threads(threads: int) -> Iterator[Callable[[], None]]:
    """Hold NumPy's BLAS and torch at `threads` threads inside the block, then restore what
    was there (0: change nothing). Yields `refresh()`: call it after code that may have
    imported torch, whose thread count is set once it is loaded.

    NOTE: the environment variables are set too, so a library loaded inside the block and a
    process started from it begin with `threads` threads. torch imported inside the block
    keeps `threads` after it (its own default was never set)."""
    if not threads:
        yield lambda: None
        return
    saved_env = {key: os.environ.get(key) for key in _ENV}
    before = get_threads()
    had_torch = before["torch"] is not None
    for key in _ENV:
        os.environ[key] = str(int(threads))
    set_threads(threads)
    seen_torch = had_torch

    def refresh() -> None:
        nonlocal seen_torch
        torch = sys.modules.get("torch")
        if torch is not None and not seen_torch:
            torch.set_num_threads(int(threads))
            seen_torch = True

    try:
        yield refresh
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if before["blas"] is not None:
            for fn in _openblas_function(_SET):
                fn(ctypes.c_int(before["blas"]))
        torch = sys.modules.get("torch")
        if torch is not None and had_torch:
            torch.set_num_threads(before["torch"])
