"""From a WAV file to the picture a CNN reads: a log-mel spectrogram, in NumPy.

    wave, sr = read_wav("7_george_3.wav")                 # float64 in [-1, 1), 8000 Hz
    X = features(wave, sr, AudioSpec())                   # (40, 64) float32: mels x frames

The pipeline, one function per step (docs/speech.md explains each with pictures):

1. `read_wav`: PCM samples (the stdlib `wave` module) as floats in [-1, 1); stereo is averaged
   to mono; another sample rate is resampled (`resample`, band-limited, by FFT).
2. `frame`: overlapping frames of `n_fft` samples every `hop_length` samples. The signal is
   first padded with n_fft // 2 zeros on each side ("centred" frames: frame t is centred on
   sample t * hop_length), so frames = 1 + len(x) // hop_length.
3. `hann`: each frame is multiplied by a (periodic) Hann window, so it fades in and out instead
   of being cut off: a hard cut smears energy over all frequencies ("spectral leakage").
4. `stft`: the short-time Fourier transform, the FFT of each windowed frame: (n_fft//2 + 1)
   frequency bins of width sample_rate / n_fft Hz, by frames. `power = |stft|^2`.
5. `mel_filterbank`: n_mels triangular filters, equally spaced on the *mel* scale (HTK's
   formula mel = 2595 log10(1 + f / 700)), which is how pitch is heard: narrow at low
   frequencies, wide at high ones. Triangles peak at 1 (no area normalisation), as HTK's and
   torchaudio's `melscale_fbanks(norm=None, mel_scale="htk")`.
6. `power_to_db`: 10 log10(power), floored at `top_db` (80) below the loudest cell, because
   loudness is heard logarithmically and silence would otherwise go to minus infinity.
7. `mfcc` (optional): a DCT-II (orthonormal) along the mel axis, keeping the first n_mfcc
   coefficients: the smooth outline of the spectrum, decorrelated.
8. `normalize_utterance`: subtract the utterance's mean, divide by its std, so a loud and a
   quiet speaker look alike (log-mel: one mean and std; MFCCs: one per coefficient); then
   `fix_length` pads (with silence) or crops, centred, to a fixed number of frames, so every
   example has the same shape (the CNN needs one).

Every step is checked in tests/test_speech.py: the STFT against `scipy.signal.stft` and
`torch.stft`, the DCT against `scipy.fft.dct`, the whole pipeline on a synthetic tone.

Audio augmentation (used by data/augment.py's `timeshift:K` and `noise:S`) works on batches of
these features, (N, 1, n_mels, frames), at the end of this file.
"""

from __future__ import annotations

import hashlib
import json
import math
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from gradschool.errors import DataError

__all__ = [
    "AudioSpec",
    "add_noise",
    "dct_matrix",
    "features",
    "fix_length",
    "frame",
    "hann",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "normalize_utterance",
    "power_to_db",
    "random_time_shift",
    "read_wav",
    "resample",
    "stft",
    "wav_features",
    "write_wav",
]

# Bumped whenever a change below alters the features computed for the same settings, so that
# cached features (data/fsdd.py) computed by an older version are not reused.
FEATURE_VERSION = 2


@dataclass(frozen=True)
class AudioSpec:
    """Everything that decides the features of a recording (`data.audio` in a config).

    The defaults suit 8 kHz speech: 32 ms frames every 16 ms, 40 mel bands up to 4 kHz,
    64 frames (about 1 s) per example.
    """

    features: Literal["logmel", "mfcc"] = "logmel"
    sample_rate: int = 8000
    n_fft: int = 256  # frame (and window) length in samples
    hop_length: int = 128  # samples between frame starts
    n_mels: int = 40
    n_mfcc: int = 13  # only for features = "mfcc"
    frames: int = 64  # fixed length of every example, in frames
    f_min: float = 0.0
    f_max: float | None = None  # None = sample_rate / 2 (the Nyquist frequency)
    top_db: float = 80.0

    @property
    def n_features(self) -> int:
        """Rows of the feature matrix: mel bands, or MFCC coefficients."""
        return self.n_mfcc if self.features == "mfcc" else self.n_mels

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one example as the model sees it: (1, rows, frames)."""
        return (1, self.n_features, self.frames)

    def key(self) -> str:
        """A short hash of the settings and FEATURE_VERSION (names cached feature files)."""
        text = json.dumps({**asdict(self), "version": FEATURE_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls, audio_config: object | None) -> AudioSpec:
        """The spec of a config's `data.audio` section (None: the defaults)."""
        if audio_config is None:
            return cls()
        names = ("features", "n_fft", "hop_length", "n_mels", "n_mfcc", "frames")
        return cls(**{n: getattr(audio_config, n) for n in names if hasattr(audio_config, n)})


# ---- 1. reading and writing WAV files ----------------------------------------------------------


def _decode_pcm(raw: bytes, width: int) -> np.ndarray:
    """Little-endian PCM bytes -> float64 samples in [-1, 1)."""
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if width == 3:  # 24-bit: put each 3-byte sample in the top of an int32
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(b), 4), dtype=np.uint8)
        padded[:, 1:] = b
        return padded.view("<i4").reshape(-1).astype(np.float64) / 2.0**31
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2.0**31
    raise DataError(f"{width * 8}-bit samples are not PCM that gradschool reads")


# The first bytes of the audio files people have instead of a WAV (their "magic numbers").
_MAGIC = (
    (b"ID3", "an MP3 file with an ID3 tag"),
    (b"\xff\xfb", "an MP3 file"),
    (b"\xff\xf3", "an MP3 file"),
    (b"\xff\xf1", "an AAC file in ADTS framing"),
    (b"OggS", "an Ogg file, Vorbis or Opus audio"),
    (b"fLaC", "a FLAC file"),
    (b"\x1aE\xdf\xa3", "a WebM/Matroska file"),
    (b"FORM", "an AIFF file"),
    (b"#!AMR", "an AMR file, a phone recording"),
)
# WAVE format codes that are not integer PCM (the `wave` module reads only code 1).
_FORMATS = {2: "ADPCM", 3: "32-bit floating point", 6: "A-law", 7: "mu-law", 85: "MP3"}


def _why_not_wav(path: Path, err: BaseException) -> str:
    """What is wrong with a file `wave` refused, in words: the `wave` module's messages are
    terse ("unknown format: 3"), and a truncated header gives an EOFError with no message."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        return f"it cannot be read: {e.strerror or e}"
    if not head:
        return "the file is empty, 0 bytes"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"it is {kind}, not a WAV file"
    if head[4:8] == b"ftyp":
        return "it is an MP4/M4A file, AAC audio such as a phone's voice memo, not a WAV file"
    if head[:4] != b"RIFF":
        if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            return "it is a text file, not audio"
        return f"it does not start with a WAV header: its first bytes are {head[:8]!r}"
    if len(head) < 12 or isinstance(err, EOFError):
        return "it is cut short: the file ends before its WAV header does"
    if head[8:12] != b"WAVE":
        return f"it is a RIFF file of type {head[8:12]!r}, not WAVE"
    text = str(err)
    if text.startswith("unknown format:"):
        code = int(text.split(":")[1]) if text.split(":")[1].strip().isdigit() else None
        kind = "in an encoding other than integer PCM"
        kind = _FORMATS.get(code, kind) if code is not None else kind
        return f"its samples are {kind}, WAVE format code {code}, and gradschool reads integer PCM"
    if "chunk" in text and "missing" in text:  # wave: "fmt chunk and/or data chunk missing"
        return "its WAV header is incomplete, with no 'fmt ' or 'data' part: a cut-short file"
    return text or type(err).__name__


def read_wav(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """A WAV file's samples as float64 in [-1, 1), mono, and its sample rate.

    Integer PCM of 8, 16, 24 or 32 bits is read with the stdlib `wave` module; several channels
    are averaged. With `sample_rate`, the sound is resampled to that rate (and that rate is
    returned). A file that is not PCM WAV raises `DataError` saying how to convert it.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            raw = f.readframes(f.getnframes())
        x = _decode_pcm(raw, width)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Give the path of a .wav file.") from None
    except (wave.Error, EOFError, DataError, ValueError) as e:
        raise DataError(
            f"{path}: not a PCM WAV file gradschool can read: {_why_not_wav(path, e)}. "
            f"Convert it to 16-bit PCM "
            f"WAV, e.g. `ffmpeg -i {path.name} -ac 1 -ar 8000 -sample_fmt s16 out.wav` or "
            f"`sox {path.name} -b 16 out.wav`."
        ) from None
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    if sample_rate is not None and sample_rate != rate:
        x, rate = resample(x, rate, sample_rate), sample_rate
    return x, rate


def write_wav(path: str | Path, x: np.ndarray, sample_rate: int) -> Path:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file (values are clipped)."""
    pcm = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767)
    path = Path(path)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.astype("<i2").tobytes())
    return path


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by FFT: keep (or zero-pad) the spectrum up to the new Nyquist
    frequency, transform back with the new length (as `scipy.signal.resample` does)."""
    n_out = max(int(round(len(x) * rate_out / rate_in)), 1)
    spectrum = np.fft.rfft(x)
    kept = np.zeros(n_out // 2 + 1, dtype=complex)
    m = min(len(kept), len(spectrum))
    kept[:m] = spectrum[:m]
    return np.fft.irfft(kept, n_out) * (n_out / len(x))


# ---- 2-4. frames, window, short-time Fourier transform -----------------------------------------


def hann(n: int) -> np.ndarray:
    """The periodic Hann window, 0.5 - 0.5 cos(2 pi k / n) for k = 0..n-1.

    NOTE: *periodic* (the window of length n+1 without its last point), as spectral analysis
    uses: `scipy.signal.get_window("hann", n)` and `torch.hann_window(n)`. The symmetric one
    (`np.hanning(n)`) suits filter design, and shifts every STFT value slightly.
    """
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def frame(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Centred overlapping frames: (1 + len(x) // hop_length, n_fft), a view (no copy).

    The signal is padded with n_fft // 2 zeros on both sides first, so frame t is centred on
    sample t * hop_length and the first and last samples get a whole frame around them.
    """
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x, n_fft // 2)
    n_frames = 1 + len(x) // hop_length
    if len(padded) < n_fft:  # shorter than one frame even after padding
        padded = np.pad(padded, (0, n_fft - len(padded)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)  # (len - n_fft + 1, n_fft)
    return windows[::hop_length][:n_frames]


def stft(x: np.ndarray, n_fft: int = 256, hop_length: int = 128) -> np.ndarray:
    """The short-time Fourier transform: (n_fft // 2 + 1, frames) complex, unscaled.

    Column t is the FFT of frame t times the Hann window. Bin k is frequency k * sr / n_fft.

    NOTE: conventions, as checked in tests/test_speech.py:
    - equals `torch.stft(x, n_fft, hop_length, window=torch.hann_window(n_fft), center=True,
      pad_mode="constant", return_complex=True)`;
    - equals `scipy.signal.stft(x, window="hann", nperseg=n_fft, noverlap=n_fft - hop_length,
      boundary="zeros", padded=True)[2] * hann(n_fft).sum()`: scipy's default scaling
      ("spectrum") divides by the window's sum; and when hop_length does not divide len(x),
      scipy pads the end and returns one frame more, which this function leaves out.
    """
    frames = frame(x, n_fft, hop_length) * hann(n_fft)  # (T, n_fft)
    return np.fft.rfft(frames, axis=-1).T  # (n_fft // 2 + 1, T)


# ---- 5. the mel scale and its filter bank --------------------------------------------------------


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK's mel scale: 2595 log10(1 + f / 700). 1000 Hz is 1000 mel."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """The inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """n_mels triangular filters over the n_fft // 2 + 1 STFT bins: (n_mels, n_fft // 2 + 1).

    The n_mels + 2 edges are equally spaced in mel between f_min and f_max; filter m rises
    linearly (in Hz) from edge m to 1 at edge m + 1 and falls back to 0 at edge m + 2.
    Same as torchaudio's `melscale_fbanks(..., norm=None, mel_scale="htk")`, transposed.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)  # centre frequency of each bin
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1)
    rising = (bins - lower) / (centre - lower)  # 0 at the lower edge, 1 at the centre
    falling = (upper - bins) / (upper - centre)  # 1 at the centre, 0 at the upper edge
    return np.maximum(0.0, np.minimum(rising, falling))


# ---- 6-7. decibels, MFCCs ------------------------------------------------------------------------


def power_to_db(power: np.ndarray, top_db: float | None = 80.0, amin: float = 1e-10) -> np.ndarray:
    """10 log10(max(power, amin)), floored at top_db below its maximum (librosa's rule)."""
    db = 10.0 * np.log10(np.maximum(power, amin))
    return db if top_db is None else np.maximum(db, db.max() - top_db)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix (n_out, n_in): y = D @ x gives the first n_out
    coefficients of `scipy.fft.dct(x, type=2, norm="ortho")`.

    D[k, n] = s_k cos(pi k (2n + 1) / (2 n_in)), s_0 = sqrt(1 / n_in), s_k = sqrt(2 / n_in).
    """
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    D = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    D[0] /= math.sqrt(2.0)
    return D


def mfcc(log_mel_db: np.ndarray, n_mfcc: int) -> np.ndarray:
    """Mel-frequency cepstral coefficients: the DCT of each frame's log-mel column.

    (n_mels, T) -> (n_mfcc, T). Coefficient 0 is the frame's mean loudness; the next ones
    describe the spectrum's envelope (the shape of the vocal tract), ever finer.
    """
    return dct_matrix(n_mfcc, log_mel_db.shape[0]) @ log_mel_db


# ---- 8. per-utterance normalisation and fixed length ---------------------------------------------


def normalize_utterance(
    X: np.ndarray, per_row: bool = False, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of one utterance's features X (rows, T): (mean, std + eps), each (rows, 1).

    per_row=False: one mean and std for the whole array (log-mel: loudness no longer matters,
    the spectral shape stays). per_row=True: one per row, i.e. per coefficient (MFCCs: the
    "cepstral mean and variance normalisation" of speech recognisers, because c0, the
    loudness, lives on a scale of its own). Apply as (X - mean) / std.
    """
    if per_row:
        return X.mean(axis=1, keepdims=True), X.std(axis=1, keepdims=True) + eps
    rows = X.shape[0]
    return np.full((rows, 1), X.mean()), np.full((rows, 1), X.std() + eps)


def fix_length(X: np.ndarray, frames: int, fill: np.ndarray | float | None = None) -> np.ndarray:
    """Pad or crop the time axis (the last) of X (rows, T) to `frames`, keeping it centred.

    Padding uses `fill`: a number, or one value per row (default: X's minimum).
    NOTE: centred, not left-aligned: then the test examples sit where the training ones do,
    and random time shifts (augmentation) move them both ways equally.
    """
    length = X.shape[-1]
    if length >= frames:
        start = (length - frames) // 2
        return X[..., start : start + frames]
    fill = X.min() if fill is None else fill
    left = (frames - length) // 2
    out = np.empty((*X.shape[:-1], frames), dtype=X.dtype)
    out[...] = np.asarray(fill, dtype=X.dtype).reshape(-1, 1) if np.ndim(fill) else fill
    out[..., left : left + length] = X
    return out


def features(x: np.ndarray, sample_rate: int, spec: AudioSpec | None = None) -> np.ndarray:
    """A recording's features, (n_features, spec.frames) float32: steps 2-8 above.

    `x` is float samples at `sample_rate`; a rate other than spec.sample_rate is resampled.
    The frames added to reach `spec.frames` are *silence*: a column at the utterance's
    quietest level (in dB), sent through the same DCT and normalisation as the real frames;
    the normalisation statistics are those of the real frames only.
    """
    spec = spec or AudioSpec()
    x = np.asarray(x, dtype=np.float64)
    if sample_rate != spec.sample_rate:
        x = resample(x, sample_rate, spec.sample_rate)
    power = np.abs(stft(x, spec.n_fft, spec.hop_length)) ** 2  # (n_fft // 2 + 1, T)
    fb = mel_filterbank(spec.sample_rate, spec.n_fft, spec.n_mels, spec.f_min, spec.f_max)
    X = power_to_db(fb @ power, spec.top_db)  # (n_mels, T) log-mel in dB
    silence = np.full((spec.n_mels, 1), X.min())  # (n_mels, 1)
    if spec.features == "mfcc":
        X, silence = mfcc(X, spec.n_mfcc), mfcc(silence, spec.n_mfcc)  # (n_mfcc, T), (n_mfcc, 1)
    mean, std = normalize_utterance(X, per_row=spec.features == "mfcc")
    X, silence = (X - mean) / std, (silence - mean) / std
    return fix_length(X, spec.frames, fill=silence[:, 0]).astype(np.float32)


def wav_features(path: str | Path, spec: AudioSpec | None = None) -> np.ndarray:
    """`features` of a WAV file: (n_features, frames) float32."""
    spec = spec or AudioSpec()
    x, rate = read_wav(path)
    return features(x, rate, spec)


# ---- augmentation of feature batches (data.augment = ["timeshift:K", "noise:S"]) -----------------


def _check_batch(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim < 2 or X.dtype.kind != "f":
        raise DataError(
            f"audio augmentation works on float feature batches (N, ..., frames), got shape "
            f"{X.shape} and dtype {X.dtype}."
        )
    return X


def random_time_shift(X: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each example along its last (time) axis by a whole number of frames, uniform in
    [-max_shift, max_shift]; the frames moved out are lost, and the vacated ones repeat the
    edge frame (for a padded example: its silence, as `fix_length` padded it).

    A spoken digit said a little earlier or later is still that digit.
    """
    X = _check_batch(X)
    N, T = len(X), X.shape[-1]
    shifts = rng.integers(-max_shift, max_shift + 1, size=N)  # (N,)
    # Output frame t reads input frame t - shift, clipped into [0, T): the edge repeats.
    src = np.clip(np.arange(T)[None, :] - shifts[:, None], 0, T - 1)  # (N, T)
    flat = X.reshape(N, -1, T)  # (N, C * rows, T)
    return np.take_along_axis(flat, src[:, None, :], axis=-1).reshape(X.shape)


def add_noise(X: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """X plus Gaussian noise N(0, std^2), independently per value.

    NOTE: the noise is added to the (normalised) features, not to the sound: the features are
    computed once and cached, so this is the cheap stand-in for a noisier recording. With
    per-utterance normalisation the features have unit spread, so std = 0.1 to 0.3 is mild.
    """
    X = _check_batch(X)
    return (X + rng.normal(0.0, std, size=X.shape)).astype(X.dtype, copy=False)
