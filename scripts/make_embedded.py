"""Build the embedded default data set, gradschool/data/embedded/mnist-mini.npz.

mnist-mini is a stratified slice of real MNIST: 1,000 training images of each digit (10,000)
and 200 test images of each digit (2,000), picked at random with a fixed seed from the
official MNIST files, kept in their original MNIST order. Run from the repository root:

    python scripts/make_embedded.py --data-dir ../shared/data

The MNIST files are verified by md5 before use, and the .npz is written byte for byte the same
on every run (fixed zip timestamps), so rebuilding does not create a git diff. The script prints
the md5 of each stored array: they must equal `MNIST_MINI_MD5` in gradschool/data/datasets.py
(the loader checks them), and a test rebuilds the slice and compares.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from gradschool.data.datasets import (  # noqa: E402
    MNIST_MINI_FILE,
    MNIST_MINI_MD5,
    array_md5,
    load_dataset,
)

SEED = 0
TRAIN_PER_CLASS = 1_000
TEST_PER_CLASS = 200


def stratified_pick(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` random indices of each class in `y`, returned sorted (original order)."""
    picks = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def build(data_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of mnist-mini, from the verified MNIST files in `data_dir`/mnist/."""
    mnist = load_dataset("mnist", data_dir, download=False)
    # Separate seeded streams for train and test, so changing one size never changes the other.
    train_index = stratified_pick(mnist.y_train, TRAIN_PER_CLASS, np.random.default_rng([SEED, 0]))
    test_index = stratified_pick(mnist.y_test, TEST_PER_CLASS, np.random.default_rng([SEED, 1]))
    return {
        "X_train": mnist.X_train[train_index],  # (10000, 1, 28, 28) uint8
        "y_train": mnist.y_train[train_index].astype(np.uint8),  # (10000,)
        "X_test": mnist.X_test[test_index],  # (2000, 1, 28, 28) uint8
        "y_test": mnist.y_test[test_index].astype(np.uint8),  # (2000,)
        "train_index": train_index,  # positions in MNIST's 60,000 training images
        "test_index": test_index,  # positions in MNIST's 10,000 test images
    }


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` as a compressed .npz that `np.load` reads, with reproducible bytes.

    NOTE: np.savez_compressed stamps each member with the current time, so every rebuild would
    change the file; here each member gets the zip epoch (1980-01-01) instead.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=str(REPO.parent / "shared" / "data"),
        help="data directory holding mnist/ (default: ../shared/data)",
    )
    parser.add_argument("--out", default=str(MNIST_MINI_FILE), help="the .npz to write")
    args = parser.parse_args(argv)
    arrays = build(args.data_dir)
    out = write_npz(args.out, arrays)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    md5 = {key: array_md5(a) for key, a in arrays.items()}
    print("MNIST_MINI_MD5 = {")
    for key, value in md5.items():
        print(f'    "{key}": "{value}",')
    print("}")
    if md5 != MNIST_MINI_MD5:
        print("NOTE: these differ from MNIST_MINI_MD5 in gradschool/data/datasets.py; update it.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
