"""Data: named data sets as NumPy arrays, checksummed files, batches and splits.

    from gradschool.data import load_dataset, DataLoader, stratified_split, to_float

    ds = load_dataset("mnist-mini")               # embedded: no network, no data dir
    train_idx, val_idx = stratified_split(ds.y_train, 0.1, seed=0)
    X = to_float(ds.X_train)                      # (N, 1, 28, 28) float32 in [0, 1]
    for xb, yb in DataLoader(X, ds.y_train, batch_size=64, shuffle=True, indices=train_idx):
        ...

Nothing here imports torch or the engine: data loading returns NumPy arrays, and the trainer
converts each batch with `backend.tensor()`. See docs/data.md.
"""

from gradschool.data.cifar import load_cifar10  # registers cifar10
from gradschool.data.datasets import (
    DATASETS,
    Dataset,
    dataset_names,
    list_datasets,
    load_dataset,
    register_dataset,
    verify_datasets,
)
from gradschool.data.fsdd import load_fsdd  # registers the spoken digits
from gradschool.data.idx import read_idx, write_idx
from gradschool.data.imagefolder import (  # registers cifar10-jpeg
    load_image_folder,
)
from gradschool.data.loader import (
    DataLoader,
    kfold,
    random_split,
    stratified_kfold,
    stratified_split,
)
from gradschool.data.sources import (
    SOURCES,
    default_cache_dir,
    download_file,
    resolve_data_dir,
)
from gradschool.data.text import CharVocab, load_corpus, prepare_text  # registers the corpora
from gradschool.data.transforms import Normalizer, to_float

__all__ = [
    "DATASETS",
    "SOURCES",
    "CharVocab",
    "DataLoader",
    "Dataset",
    "Normalizer",
    "dataset_names",
    "default_cache_dir",
    "download_file",
    "kfold",
    "list_datasets",
    "load_cifar10",
    "load_fsdd",
    "load_corpus",
    "load_dataset",
    "load_image_folder",
    "prepare_text",
    "random_split",
    "read_idx",
    "register_dataset",
    "resolve_data_dir",
    "stratified_kfold",
    "stratified_split",
    "to_float",
    "verify_datasets",
    "write_idx",
]
