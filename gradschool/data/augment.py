"""Seeded image augmentation: more (plausible) training data for free.

The seed's FAQ (section 8) answers "how do I handle overfitting?" with "regularisation, a
smaller model, more data". Augmentation is the cheap way to the third: each epoch the network
sees every training image moved, turned or mirrored a little differently, so it cannot just
memorise the pixels. What a transform may do depends on the data: a digit shifted by two
pixels or turned by ten degrees is still that digit, but a mirrored 2 is not a 2 (use `flip`
for photos such as CIFAR-10, not for digits).

A config names the transforms, applied in order to each training batch:

    data.augment = ["shift:2", "rotate:10"]       # MNIST
    data.augment = ["crop:4", "flip"]             # CIFAR-10 (the classic recipe)

    shift:K          move it by whole pixels, dy and dx each in [-K, K]
                     (torchvision: RandomAffine(translate=...), which also moves whole pixels)
    crop:P           pad P pixels of background on every side, cut a random window of the
                     original size back out (RandomCrop(size, padding=P))
    crop:P:reflect   the same, padding with the mirror image of the border (padding_mode=...)
    rotate:D         turn it by an angle in [-D, D] degrees about its centre, resampled
                     bilinearly (RandomRotation(D))
    flip, flip:P     mirror it left-right with probability 1/2, or P (RandomHorizontalFlip(P))

For spoken digits (log-mel features (N, 1, mels, frames), see data/audio.py):

    timeshift:K      move it along the time axis only, by whole frames in [-K, K]; vacated
                     frames get the example's own silence level
    noise:S          add Gaussian noise of standard deviation S to every value

NOTE: `shift:K` and `crop:K` draw from the same set of images - padding by K and cutting a
window at offset o in [0, 2K] *is* a shift by o - K. Both names are kept because both are
common; `crop:K:reflect` differs, as it fills the border with picture rather than background.

Contract (see transforms.py): every transform works on a float batch (N, C, H, W) with any
number of channels C, returns a new array of the same shape and dtype, and draws every random
number from the generator it is handed. The trainer's loader derives that generator from
(seed, epoch, batch index), so a resumed run sees exactly the augmented batches an
uninterrupted run would have seen. Augmentation is applied to training batches only; the
validation and test sets are measured on the images as they are.

Vacated pixels are filled with the *background*: the value a black (0) pixel has after the
data's normalisation, one value per channel (`fill`). Filling a standardised MNIST image
with 0 would paint the border mid-grey, not black.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.data import audio
from gradschool.errors import DataError

__all__ = [
    "AugmentedLoader",
    "Augmenter",
    "batch_rng",
    "parse_spec",
    "random_crop",
    "random_flip",
    "random_rotate",
    "random_shift",
    "rotate",
    "spec_problem",
    "translate",
]

# A constant mixed into the seed, so augmentation draws a stream of random numbers of its own:
# it never shares numbers with the loader's shuffling (seeded by (seed, epoch)).
_STREAM = 0xA06


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The generator for batch `batch` of epoch `epoch`: depends on these three numbers only."""
    return np.random.default_rng([seed, epoch, batch, _STREAM])


def _check_images(X: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 4 or X.dtype.kind != "f":
        raise DataError(
            f"augmentation works on float image batches of shape (N, C, H, W), got shape "
            f"{X.shape} and dtype {X.dtype}. Augment image data sets only (for flat features, "
            f"leave data.augment empty)."
        )
    return X


def _fill(fill: Any, channels: int, dtype: np.dtype) -> np.ndarray:
    """The background value per channel, shaped (1, C, 1, 1) to broadcast over a batch."""
    values = np.broadcast_to(np.asarray(fill, dtype=dtype).reshape(-1), (channels,))
    return values.reshape(1, channels, 1, 1)


# ---- moving images by whole pixels -------------------------------------------------------------


def _windows(padded: np.ndarray, top: np.ndarray, left: np.ndarray, H: int, W: int) -> np.ndarray:
    """Cut window n of size (H, W) out of padded[n] at (top[n], left[n]). (N, C, H, W)."""
    n = np.arange(len(padded))[:, None, None]  # (N, 1, 1)
    rows = (top[:, None] + np.arange(H))[:, :, None]  # (N, H, 1)
    cols = (left[:, None] + np.arange(W))[:, None, :]  # (N, 1, W)
    # NOTE: the advanced indices are split by the channel slice, so NumPy puts their
    # broadcast shape (N, H, W) first: the result is (N, H, W, C), moved back below.
    return np.moveaxis(padded[n, :, rows, cols], -1, 1)


def _pad(X: np.ndarray, p: int, fill: Any, mode: str = "constant") -> np.ndarray:
    """X (N, C, H, W) with p pixels added on each side of H and W: (N, C, H + 2p, W + 2p)."""
    if mode == "reflect":
        return np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect")
    N, C, H, W = X.shape
    padded = np.empty((N, C, H + 2 * p, W + 2 * p), dtype=X.dtype)
    padded[...] = _fill(fill, C, X.dtype)  # background everywhere, then the picture inside
    padded[:, :, p : p + H, p : p + W] = X
    return padded


def translate(X: np.ndarray, dy: np.ndarray, dx: np.ndarray, fill: Any = 0.0) -> np.ndarray:
    """Move image n down by dy[n] and right by dx[n] whole pixels (negative: up / left).

    Pixels moved out are lost; vacated ones get `fill` (a number, or one per channel).
    """
    X = _check_images(X)
    dy, dx = np.asarray(dy, dtype=np.int64), np.asarray(dx, dtype=np.int64)
    p = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    if p == 0:
        return X.copy()
    H, W = X.shape[2:]
    # Output pixel (i, j) is input pixel (i - dy, j - dx) = padded pixel (i - dy + p, j - dx + p).
    return _windows(_pad(X, p, fill), p - dy, p - dx, H, W)


def random_shift(
    X: np.ndarray, max_shift: int, rng: np.random.Generator, fill: Any = 0.0
) -> np.ndarray:
    """Each image moved by whole pixels (dy, dx), each uniform in [-max_shift, max_shift]."""
    X = _check_images(X)
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, len(X)))
    return translate(X, dy, dx, fill)


def random_crop(
    X: np.ndarray, padding: int, rng: np.random.Generator, fill: Any = 0.0, mode: str = "constant"
) -> np.ndarray:
    """Pad each image by `padding` pixels (background, or "reflect"), cut a random window of
    the original size back out: torchvision's RandomCrop(size, padding)."""
    X = _check_images(X)
    H, W = X.shape[2:]
    if mode == "reflect" and padding >= min(H, W):
        raise DataError(
            f"crop:{padding}:reflect needs padding < the image size ({H}x{W}): reflection "
            f"mirrors pixels inside the image. Use a smaller padding."
        )
    top, left = rng.integers(0, 2 * padding + 1, size=(2, len(X)))
    return _windows(_pad(X, padding, fill, mode), top, left, H, W)


def random_flip(X: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Each image mirrored left-right with probability p."""
    X = _check_images(X)
    flip = rng.random(len(X)) < p  # (N,)
    return np.where(flip[:, None, None, None], X[..., ::-1], X)


# ---- rotation: an affine resampling -----------------------------------------------------------


def rotate(X: np.ndarray, degrees: np.ndarray, fill: Any = 0.0) -> np.ndarray:
    """Turn image n counter-clockwise (as seen on screen) by degrees[n] about its centre.

    Each output pixel looks up where it came from - the inverse rotation of its position -
    and blends the four input pixels around that point (bilinear interpolation). Points
    outside the image read the background `fill`. All images are done at once: the lookup
    positions are a (N, H, W) array, gathered with one fancy index.
    """
    X = _check_images(X)
    N, C, H, W = X.shape
    theta = np.deg2rad(np.asarray(degrees, dtype=np.float64)).reshape(N, 1, 1)
    cos, sin = np.cos(theta), np.sin(theta)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    y = np.arange(H, dtype=np.float64)[None, :, None] - cy  # (1, H, 1), downwards
    x = np.arange(W, dtype=np.float64)[None, None, :] - cx  # (1, 1, W), rightwards
    # NOTE: with y pointing down, turning the picture counter-clockwise by theta maps a source
    # point (x, y) to (x cos + y sin, -x sin + y cos); we need the inverse, output -> source.
    src_x = x * cos - y * sin + cx  # (N, H, W)
    src_y = x * sin + y * cos + cy
    # Read from a copy padded by one background pixel, so every point outside the image
    # (clipped onto that border) reads the background.
    padded = _pad(X, 1, fill)
    src_y = np.clip(src_y + 1, 0, H + 1)
    src_x = np.clip(src_x + 1, 0, W + 1)
    y0 = np.minimum(np.floor(src_y).astype(np.int64), H)  # top-left corner of the 2x2 cell
    x0 = np.minimum(np.floor(src_x).astype(np.int64), W)
    wy = (src_y - y0).astype(X.dtype)[..., None]  # (N, H, W, 1): weight of the lower row
    wx = (src_x - x0).astype(X.dtype)[..., None]
    n = np.arange(N)[:, None, None]

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return padded[n, :, r, c]  # (N, H, W, C)

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    out = top * (1 - wy) + bottom * wy
    return np.moveaxis(out, -1, 1).astype(X.dtype, copy=False)


def random_rotate(
    X: np.ndarray, max_degrees: float, rng: np.random.Generator, fill: Any = 0.0
) -> np.ndarray:
    """Each image turned by an angle uniform in [-max_degrees, max_degrees]."""
    X = _check_images(X)
    return rotate(X, rng.uniform(-max_degrees, max_degrees, size=len(X)), fill)


# ---- specs: "shift:2" -> a transform ----------------------------------------------------------

Transform = Callable[[np.ndarray, np.random.Generator, Any], np.ndarray]


@dataclass(frozen=True)
class _Spec:
    text: str
    apply: Transform


def _number(text: str, spec: str, kind: type, low: float, high: float, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not (low <= value <= high) or not math.isfinite(value):
        raise DataError(f"augmentation {spec!r}: {what}")
    return value


def parse_spec(spec: str) -> _Spec:
    """One spec string ("shift:2", "crop:4:reflect", "rotate:10", "flip") as a transform."""
    name, *args = str(spec).strip().split(":")
    if name == "shift" and len(args) == 1:
        k = _number(args[0], spec, int, 1, 10_000, "K must be a whole number of pixels >= 1")
        return _Spec(spec, lambda X, rng, fill: random_shift(X, k, rng, fill))
    if name == "crop" and len(args) in (1, 2):
        p = _number(args[0], spec, int, 1, 10_000, "P must be a whole number of pixels >= 1")
        mode = args[1] if len(args) == 2 else "constant"
        if mode not in ("constant", "reflect"):
            raise DataError(f"augmentation {spec!r}: the padding is 'constant' or 'reflect'")
        return _Spec(spec, lambda X, rng, fill: random_crop(X, p, rng, fill, mode))
    if name == "rotate" and len(args) == 1:
        d = _number(args[0], spec, float, 1e-9, 180, "D must be degrees in (0, 180]")
        return _Spec(spec, lambda X, rng, fill: random_rotate(X, d, rng, fill))
    if name == "flip" and len(args) <= 1:
        p = _number(args[0], spec, float, 1e-9, 1, "P must be in (0, 1]") if args else 0.5
        return _Spec(spec, lambda X, rng, fill: random_flip(X, rng, p))
    if name == "timeshift" and len(args) == 1:  # audio (data/audio.py)
        k = _number(args[0], spec, int, 1, 10_000, "K must be a whole number of frames >= 1")
        return _Spec(spec, lambda X, rng, fill: audio.random_time_shift(X, k, rng))
    if name == "noise" and len(args) == 1:
        sd = _number(args[0], spec, float, 1e-9, 100, "S must be a standard deviation > 0")
        return _Spec(spec, lambda X, rng, fill: audio.add_noise(X, sd, rng))
    raise DataError(
        f"unknown augmentation {spec!r}: write shift:K, crop:P, crop:P:reflect, rotate:D, "
        f"flip or flip:P (images), timeshift:K or noise:S (audio), e.g. data.augment = "
        f'["shift:2", "rotate:10"].'
    )


def spec_problem(specs: Sequence[str]) -> str | None:
    """None when every spec parses, else what they must be (for config validation)."""
    for spec in specs:
        try:
            parse_spec(spec)
        except DataError as err:
            return f"a list of augmentations ({err})"
    return None


class Augmenter:
    """Applies a list of specs in order: `Augmenter(["shift:2", "rotate:10"])(X, rng)`.

    fill: the background value, a number or one per channel (see the module docstring).
    """

    def __init__(self, specs: Sequence[str], fill: Any = 0.0) -> None:
        self.steps = [parse_spec(s) for s in specs]
        self.fill = fill

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new batch, same shape and dtype; X itself is never modified."""
        X = _check_images(X)
        out = X
        for step in self.steps:
            out = step.apply(out, rng, self.fill)
        return out.astype(X.dtype, copy=False) if out is not X else X.copy()

    def __repr__(self) -> str:
        return f"Augmenter({[s.text for s in self.steps]}, fill={self.fill!r})"


class AugmentedLoader:
    """A DataLoader whose first array (the inputs) is augmented batch by batch.

    Batch b of epoch e is augmented with `batch_rng(seed, e, b)`, so the augmented batches
    depend only on (seed, epoch, batch): a run resumed at epoch e sees exactly what an
    uninterrupted run saw. `len`, `set_epoch`, `skip` and `epoch` behave as the wrapped
    loader's.
    """

    def __init__(self, loader: Any, augmenter: Augmenter, seed: int) -> None:
        self.loader, self.augmenter, self.seed = loader, augmenter, int(seed)
        self._skip = 0

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def epoch(self) -> int:
        return self.loader.epoch

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def skip(self, batches: int) -> None:
        """Start the next iteration at batch `batches` (a run resumed mid-epoch)."""
        self.loader.skip(batches)
        self._skip = int(batches)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        epoch = self.loader.epoch  # read before iter() advances it
        first, self._skip = self._skip, 0
        return self._batches(epoch, iter(self.loader), first)

    def _batches(
        self, epoch: int, batches: Iterator[tuple[Any, ...]], first: int = 0
    ) -> Iterator[tuple]:
        # Batch b is augmented by batch_rng(seed, epoch, b) however many came before it.
        for b, (xb, *rest) in enumerate(batches, start=first):
            yield (self.augmenter(xb, batch_rng(self.seed, epoch, b)), *rest)

    def __repr__(self) -> str:
        return f"AugmentedLoader({self.loader!r}, {self.augmenter!r})"
