"""Text for a character-level language model: corpora, a vocabulary, random windows.

    from gradschool.data.text import load_corpus, prepare_text, WindowLoader

    text, source = load_corpus("tinyshakespeare", data_dir="../shared/data")
    data = prepare_text(text, val_fraction=0.1)       # split by position, vocabulary
    data.vocab.encode("ROMEO:")                         # array([30, 27, 25, 17, 27, 10])
    for x, y in WindowLoader(data.train_ids, block_size=64, batch_size=12, num_batches=250):
        ...                                             # x, y: (12, 64) int64, y = x shifted

A character-level model predicts the next character from the ones before it (Karpathy's
char-rnn and nanoGPT's shakespeare_char). Its "tokens" are the distinct characters of the
training text; its examples are windows of `block_size` characters x[t : t+T], whose targets
are the same window shifted by one, y = x[t+1 : t+T+1]: every position is a prediction.

Corpora: `shakespeare-mini` (ten plays, embedded in the package, no network), and
`tinyshakespeare` (char-rnn's 1.1 MB corpus) from a data directory, verified by md5, downloaded
from its official URL when absent; or any UTF-8 file (`data.text_file`). See docs/gpt.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.datasets import EMBEDDED_DIR, Dataset, register_dataset
from gradschool.data.idx import read_bytes
from gradschool.data.sources import (
    FileSpec,
    check_data_dir,
    download_file,
    find_file,
    read_verified,
    resolve_data_dir,
    verify_file,
)
from gradschool.errors import DataError

# --- corpora ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSource:
    """A text corpus published as one file."""

    name: str
    folder: str  # sub-folder of the data directory
    file: FileSpec  # the file's name and the md5 of its (decompressed) content
    url: str
    license: str


TINY_SHAKESPEARE = TextSource(
    name="tinyshakespeare",
    folder="tinyshakespeare",
    file=FileSpec("input.txt", "6fb458f1232090904fb40fe944165e91"),
    url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    license="public-domain text (Karpathy's char-rnn selection of Shakespeare)",
)
TEXT_SOURCES = {TINY_SHAKESPEARE.name: TINY_SHAKESPEARE}

EMBEDDED_TEXT = "shakespeare-mini"
EMBEDDED_TEXT_FILE = EMBEDDED_DIR / "shakespeare-mini.txt.gz"
# md5 of the decompressed text, printed by scripts/make_embedded_text.py.
EMBEDDED_TEXT_MD5 = "5d013dcd4247977f54aeb939503f6f12"
TEXT_CORPORA = (EMBEDDED_TEXT, TINY_SHAKESPEARE.name)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{where} is not UTF-8 text ({e}). A character-level model reads UTF-8; convert "
            f"the file first, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`."
        ) from None


def _read_embedded() -> str:
    path = EMBEDDED_TEXT_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: the embedded text corpus is missing; reinstall gradschool, or rebuild it "
            f"with scripts/make_embedded_text.py (see its docstring)."
        )
    return _decode(read_verified(path, EMBEDDED_TEXT_MD5), str(path))


def _ensure_source(source: TextSource, data_dir: Any, download: bool) -> Path:
    """The corpus file in the data directory, downloaded (checked by md5) when absent."""
    folder = resolve_data_dir(data_dir) / source.folder
    path = find_file(folder, source.file)
    if path is not None:
        return path
    tried = ""
    if download:
        try:
            return download_file(source.url, folder / source.file.name, source.file.md5)
        except (OSError, ValueError, DataError) as e:  # URLError and timeouts are OSErrors
            tried = f" Downloading it from {source.url} failed: {e}."
    else:
        tried = " Downloading was turned off (data.download = false)."
    raise DataError(
        f"the {source.name} corpus is not in {folder}/.{tried} Put {source.file.name} there "
        f"(from {source.url}; md5 {source.file.md5}), or point --data-dir or GRADSCHOOL_DATA "
        f"at a directory holding {source.folder}/{source.file.name}. To work without any "
        f"download, use the embedded corpus: --dataset {EMBEDDED_TEXT}."
    )


def load_corpus(
    name: str, data_dir: Any = None, download: bool | None = None, text_file: str | None = None
) -> tuple[str, str]:
    """(text, where it came from) for a corpus name, or for `text_file` when given.
    `download` as for `load_dataset` (None: never into a named folder that does not exist)."""
    if text_file is not None:
        path = Path(text_file).expanduser()
        text = _decode(read_bytes(path), str(path))  # read_bytes also accepts a .gz file
        return text, str(path.resolve())
    key = name.strip().lower().replace("_", "-")
    if key == EMBEDDED_TEXT:
        return _read_embedded(), f"embedded: {EMBEDDED_TEXT_FILE}"
    if key in TEXT_SOURCES:
        source = TEXT_SOURCES[key]
        path = _ensure_source(source, data_dir, check_data_dir(data_dir, download))
        return _decode(read_verified(path, source.file.md5), str(path)), str(path)
    raise DataError(
        f"data set {name!r} is not a text corpus, and a language model (model.name = gpt) "
        f"trains on text. Use --dataset {' or --dataset '.join(TEXT_CORPORA)}, or "
        f"--text-file PATH for any UTF-8 file."
    )


# --- the vocabulary -----------------------------------------------------------------------------


class CharVocab:
    """Characters <-> integer ids: id i is the i-th distinct character in sorted order.

    `CharVocab.from_text("hello")` has 4 tokens, e h l o -> 0 1 2 3.
    """

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars) or list(chars) != sorted(chars):
            raise DataError("a vocabulary is a string of distinct characters in sorted order")
        self.chars = chars
        self._ids = {c: i for i, c in enumerate(chars)}
        # A lookup table from code point to id (-1 = not in the vocabulary), for fast encoding.
        self._table = np.full(max(map(ord, chars), default=0) + 1, -1, dtype=np.int64)
        self._table[[ord(c) for c in chars]] = np.arange(len(chars))

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters: {self.chars!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and other.chars == self.chars

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` that have no id, sorted."""
        return sorted(set(text) - set(self._ids))

    def encode(self, text: str) -> np.ndarray:
        """Ids (int64, shape (len(text),)); raises DataError naming unknown characters."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one per character
        inside = codes < len(self._table)
        ids = np.full(len(codes), -1, dtype=np.int64)
        ids[inside] = self._table[codes[inside]]
        if (ids < 0).any():
            missing = self.unknown(text)
            raise DataError(
                f"{len(missing)} character(s) of the text are not in the vocabulary: "
                f"{''.join(missing)!r}. The model knows only the {len(self)} characters of its "
                f"training text: {self.chars!r}."
            )
        return ids

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))

    def state_dict(self) -> dict[str, str]:
        return {"chars": self.chars}

    @classmethod
    def from_state_dict(cls, state: dict[str, str]) -> CharVocab:
        return cls(state["chars"])


# --- split and encode ---------------------------------------------------------------------------


@dataclass
class TextData:
    """A corpus split by position and encoded: what a language-model run trains on."""

    train_ids: np.ndarray = field(repr=False)  # (N_train,) int64
    val_ids: np.ndarray = field(repr=False)  # (N_val,) int64
    vocab: CharVocab
    source: str = ""
    dropped: int = 0  # validation characters left out because the training text lacks them
    normalizer: None = None  # (images have one; text has none: the trainer's checkpoint asks)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def prepare_text(text: str, val_fraction: float = 0.1, source: str = "") -> TextData:
    """Split `text` by position (the first 1 - val_fraction for training, the rest for
    validation), build the vocabulary from the training part, and encode both parts.

    NOTE: split by position, never by shuffling characters or windows: neighbouring windows
    overlap, so a random split would put the same text in both parts, and the validation
    loss would measure memory, not generalisation.
    NOTE: the vocabulary comes from the training text only (what the model could learn);
    a validation character it never saw is dropped and counted in `dropped`.
    """
    cut = int(len(text) * (1 - val_fraction))
    train_text, val_text = text[:cut], text[cut:]
    vocab = CharVocab.from_text(train_text)
    unknown = set(vocab.unknown(val_text))
    if unknown:
        kept = "".join(c for c in val_text if c not in unknown)
        dropped, val_text = len(val_text) - len(kept), kept
    else:
        dropped = 0
    return TextData(vocab.encode(train_text), vocab.encode(val_text), vocab, source, dropped)


# --- windows ------------------------------------------------------------------------------------


def windows(ids: np.ndarray, starts: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """x = ids[s : s+T] and y = ids[s+1 : s+T+1] for each start s: two (len(starts), T) arrays."""
    index = starts[:, None] + np.arange(block_size)  # (B, T)
    return ids[index], ids[index + 1]


def _check_length(ids: np.ndarray, block_size: int, what: str) -> None:
    if len(ids) < block_size + 1:
        raise DataError(
            f"the {what} text has {len(ids)} characters, fewer than block_size + 1 = "
            f"{block_size + 1}, so it holds no window: use a longer text, a smaller "
            f"model.block_size, or a different data.val_fraction."
        )


def random_starts(rng: np.random.Generator, n: int, block_size: int, count: int) -> np.ndarray:
    """`count` window starts, uniform over every window that fits in n characters."""
    return rng.integers(0, n - block_size, size=count)


class WindowLoader:
    """`num_batches` batches of random windows per epoch: `for x, y in loader`, each (B, T).

    As in nanoGPT, windows are drawn with replacement from anywhere in the text, so one "epoch"
    is not a pass over the data but simply `num_batches` training iterations (the interval
    between two evaluations). The windows of epoch k depend only on (seed, rank, k), so a
    resumed run sees exactly the batches the uninterrupted run would have seen, and each
    data-parallel process (`rank`) draws its own windows.
    """

    def __init__(
        self,
        ids: np.ndarray,
        block_size: int,
        batch_size: int,
        num_batches: int,
        seed: int = 0,
        rank: int = 0,
    ) -> None:
        _check_length(ids, block_size, "training")
        self.ids, self.block_size, self.batch_size = ids, block_size, batch_size
        self.num_batches, self.seed, self.rank, self.epoch = num_batches, seed, rank, 0
        self._skip = 0

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, batches: int) -> None:
        """Start the next iteration at batch `batches` (a run resumed mid-epoch): the windows
        before it are still drawn, so the rest come out the same."""
        self._skip = int(batches)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, self.rank, self.epoch])
        self.epoch += 1
        first, self._skip = min(self._skip, self.num_batches), 0
        for _ in range(first):
            random_starts(rng, len(self.ids), self.block_size, self.batch_size)
        for _ in range(first, self.num_batches):
            starts = random_starts(rng, len(self.ids), self.block_size, self.batch_size)
            yield windows(self.ids, starts, self.block_size)


def fixed_batches(
    ids: np.ndarray, block_size: int, batch_size: int, count: int, stream: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` batches of random windows that are the same in every run and on every engine.

    NOTE: drawn from a constant seed (not the run's seed), so validation losses of runs with
    different seeds, engines or settings are measured on the very same windows and compare
    fairly; nanoGPT draws new random batches at each evaluation instead, which adds noise.
    """
    _check_length(ids, block_size, "validation" if stream == 0 else "training")
    rng = np.random.default_rng([0x5EED, stream])
    starts = random_starts(rng, len(ids), block_size, count * batch_size)
    return [
        windows(ids, starts[i * batch_size : (i + 1) * batch_size], block_size)
        for i in range(count)
    ]


# --- the data-set registry (so `gradschool data list / verify` show the corpora) -----------------


def _not_arrays(name: str) -> Dataset:
    raise DataError(
        f"{name!r} is a text corpus: train a language model on it (model.name = gpt), e.g. "
        f"`gradschool train --config gpt_shakespeare --dataset {name}`."
    )


def _locate_tiny(data_dir: Path | None) -> dict:
    folder = resolve_data_dir(data_dir) / TINY_SHAKESPEARE.folder
    path = find_file(folder, TINY_SHAKESPEARE.file)
    return {"where": str(folder) if path else "missing", "train": None, "test": None}


def _verify_tiny(data_dir: Path | None) -> list[dict]:
    folder = resolve_data_dir(data_dir) / TINY_SHAKESPEARE.folder
    spec = TINY_SHAKESPEARE.file
    return [verify_file(TINY_SHAKESPEARE.name, folder, spec, missing=str(folder / spec.name))]


@register_dataset(
    TINY_SHAKESPEARE.name,
    description="text: char-rnn's tiny Shakespeare, 1,115,394 characters (gpt)",
    locate=_locate_tiny,
    verify=_verify_tiny,
)
def _load_tiny(data_dir: Path | None, download: bool) -> Dataset:
    return _not_arrays(TINY_SHAKESPEARE.name)


@register_dataset(
    EMBEDDED_TEXT,
    description="text: ten Shakespeare plays shipped with gradschool, 1,273,734 characters (gpt)",
    locate=lambda d: {
        "where": "embedded" if EMBEDDED_TEXT_FILE.is_file() else "missing (reinstall)",
        "train": None,
        "test": None,
    },
)
def _load_embedded(data_dir: Path | None, download: bool) -> Dataset:
    return _not_arrays(EMBEDDED_TEXT)


__all__ = [
    "EMBEDDED_TEXT",
    "TEXT_CORPORA",
    "TEXT_SOURCES",
    "CharVocab",
    "TextData",
    "TextSource",
    "WindowLoader",
    "fixed_batches",
    "load_corpus",
    "prepare_text",
    "random_starts",
    "windows",
]
