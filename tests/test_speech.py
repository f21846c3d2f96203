"""Spoken digits: WAV reading, the feature pipeline (checked against scipy and torch), the FSDD
data set (manifest, download, splits, cache), a tiny training run and `gradschool predict`."""

from __future__ import annotations

import hashlib
import io
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.data import audio, fsdd, load_dataset
from gradschool.data.audio import AudioSpec
from gradschool.data.augment import Augmenter, batch_rng
from gradschool.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SR = 8000


def tone(freq: float, seconds: float = 0.5, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    # Feature caches and verification notes go to a temporary user cache, never ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


# ---- WAV files -----------------------------------------------------------------------------


def test_wav_round_trip(tmp_path):
    x = tone(440.0)
    audio.write_wav(tmp_path / "a.wav", x, SR)
    y, sr = audio.read_wav(tmp_path / "a.wav")
    assert sr == SR and y.dtype == np.float64 and len(y) == len(x)
    assert np.abs(y - x).max() <= 1 / 32768  # 16-bit quantisation


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_sample_widths_and_stereo(tmp_path, width):
    x = tone(300.0, 0.1)
    scale = 2 ** (8 * width - 1)
    ints = np.round(x * (scale - 1)).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    frame = width
    stereo = b"".join(raw[i : i + frame] * 2 for i in range(0, len(raw), frame))
    with wave.open(str(tmp_path / "s.wav"), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(width)
        f.setframerate(SR)
        f.writeframes(stereo)
    y, _ = audio.read_wav(tmp_path / "s.wav")
    assert np.abs(y - x).max() < 2.5 / scale  # both channels averaged back to x


def test_read_wav_says_how_to_convert(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(DataError, match="16-bit PCM"):
        audio.read_wav(tmp_path / "bad.wav")
    with pytest.raises(DataError, match="no such file"):
        audio.read_wav(tmp_path / "missing.wav")


def test_resample_keeps_the_pitch():
    y = audio.resample(tone(1000.0, 0.5, sr=16000), 16000, SR)
    assert len(y) == 4000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * SR / len(y) == pytest.approx(1000.0, abs=SR / len(y))


# ---- the feature pipeline ------------------------------------------------------------------


def test_tone_peaks_in_its_frequency_bin_and_mel_band():
    x = tone(1000.0)  # 1000 Hz, bin 1000 / (8000 / 256) = 32
    power = np.abs(audio.stft(x, 256, 128)) ** 2
    assert power.shape == (129, 1 + len(x) // 128)
    assert set(np.argmax(power[:, 2:-2], axis=0)) == {32}  # every full frame
    fb = audio.mel_filterbank(SR, 256, 40)
    edges = audio.mel_to_hz(np.linspace(0, audio.hz_to_mel(4000.0), 42))
    expected_band = int(np.argmin(np.abs(edges[1:-1] - 1000.0)))  # the nearest centre
    assert np.argmax(fb[:, 32]) == expected_band
    X = audio.features(x, SR, AudioSpec())
    assert X.shape == (40, 64) and X.dtype == np.float32
    middle = X[:, 32 - 10 : 32 + 10]  # the tone is centred in the 64 frames
    assert set(np.argmax(middle, axis=0)) == {expected_band}


def test_hann_is_periodic_and_mel_scale_is_htk():
    assert np.allclose(audio.hann(4), [0.0, 0.5, 1.0, 0.5])
    assert audio.hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)
    assert audio.mel_to_hz(audio.hz_to_mel(2500.0)) == pytest.approx(2500.0)
    fb = audio.mel_filterbank(SR, 256, 40)
    assert fb.shape == (40, 129) and fb.min() >= 0 and fb.max() <= 1
    assert (fb.sum(axis=1) > 0).all()  # no empty band at the default settings
    assert (np.diff(np.argmax(fb, axis=1)) >= 0).all()  # bands climb in frequency


@pytest.mark.parametrize("n", [1000, 1024, 3333, 300])
def test_stft_matches_scipy(n):
    signal = pytest.importorskip("scipy.signal", reason="scipy cross-check: pip install scipy")
    x = np.random.default_rng(n).standard_normal(n)
    ours = audio.stft(x, 256, 128)
    _, _, theirs = signal.stft(
        x, window="hann", nperseg=256, noverlap=128, boundary="zeros", padded=True
    )
    # scipy scales by 1 / sum(window) and may add one end frame; see audio.stft's NOTE.
    theirs = theirs * audio.hann(256).sum()
    assert theirs.shape[1] in (ours.shape[1], ours.shape[1] + 1)
    np.testing.assert_allclose(ours, theirs[:, : ours.shape[1]], atol=1e-10)


def test_stft_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal(2000)
    theirs = torch.stft(
        torch.tensor(x),
        256,
        128,
        window=torch.hann_window(256, dtype=torch.float64),
        center=True,
        pad_mode="constant",
        return_complex=True,
    ).numpy()
    np.testing.assert_allclose(audio.stft(x, 256, 128), theirs, atol=1e-10)


def test_dct_matches_scipy():
    fft = pytest.importorskip("scipy.fft", reason="scipy cross-check: pip install scipy")
    X = np.random.default_rng(0).standard_normal((40, 7))
    np.testing.assert_allclose(
        audio.mfcc(X, 13), fft.dct(X, type=2, norm="ortho", axis=0)[:13], atol=1e-12
    )
    D = audio.dct_matrix(40, 40)
    np.testing.assert_allclose(D @ D.T, np.eye(40), atol=1e-12)  # orthonormal


def test_fix_length_pads_with_silence_and_crops_centred():
    X = np.arange(6.0).reshape(2, 3)
    padded = audio.fix_length(X, 7, fill=np.array([-1.0, -2.0]))
    assert padded.tolist() == [[-1, -1, 0, 1, 2, -1, -1], [-2, -2, 3, 4, 5, -2, -2]]
    assert audio.fix_length(np.arange(10.0)[None], 4).tolist() == [[3, 4, 5, 6]]


def test_features_are_normalised_per_utterance():
    quiet, loud = tone(500.0, amp=0.01), tone(500.0, amp=0.9)
    for kind in ("logmel", "mfcc"):
        spec = AudioSpec(features=kind, frames=32)  # 32 < 1 + 4000 // 128: cropped, no padding
        a, b = audio.features(quiet, SR, spec), audio.features(loud, SR, spec)
        assert a.shape == (spec.n_features, 32)
        np.testing.assert_allclose(a, b, atol=1e-3)  # loudness does not matter
    X = audio.features(tone(500.0, 0.3), SR, AudioSpec(features="mfcc"))
    assert X.shape == (13, 64)


def test_audio_augmentations_are_seeded():
    X = np.random.default_rng(0).standard_normal((5, 1, 4, 10)).astype(np.float32)
    aug = Augmenter(["timeshift:3", "noise:0.1"])
    a, b = aug(X, batch_rng(0, 1, 2)), aug(X, batch_rng(0, 1, 2))
    assert a.shape == X.shape and a.dtype == X.dtype and np.array_equal(a, b)
    assert not np.array_equal(a, aug(X, batch_rng(0, 1, 3)))
    shifted = audio.random_time_shift(X, 3, np.random.default_rng(0))
    for n in range(5):  # each example is X moved by some s in [-3, 3], its edge repeated
        matches = []
        for s in range(-3, 4):
            src = np.clip(np.arange(10) - s, 0, 9)
            matches.append(np.array_equal(shifted[n], X[n][..., src]))
        assert any(matches)
    noise = audio.add_noise(np.zeros((200, 1, 10, 10), np.float32), 0.2, np.random.default_rng(0))
    assert noise.std() == pytest.approx(0.2, rel=0.05)
    with pytest.raises(DataError, match="timeshift:K or noise:S"):
        Augmenter(["pitch:2"])


# ---- FSDD: a synthetic copy in the real layout ---------------------------------------------


def _write_fake_fsdd(folder: Path) -> dict[str, str]:
    """10 "digits" (tones of different pitch), 2 speakers, indices 0-9; their md5s."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {}
    for d in range(10):
        for speaker in ("alice", "bob"):
            for i in range(10):
                x = tone(300.0 + 300.0 * d, rng.uniform(0.25, 0.6), amp=rng.uniform(0.1, 0.8))
                x = x + 0.01 * rng.standard_normal(len(x))
                name = f"{d}_{speaker}_{i}.wav"
                audio.write_wav(folder / name, x, SR)
                files[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    return files


@pytest.fixture
def fake_fsdd(tmp_path, monkeypatch):
    files = _write_fake_fsdd(tmp_path / "data" / "fsdd" / "recordings")
    monkeypatch.setattr(fsdd, "manifest", lambda: files)
    return tmp_path / "data"


def test_fake_fsdd_official_split(fake_fsdd):
    ds = load_dataset("fsdd", fake_fsdd, download=False)
    assert ds.X_train.shape == (100, 1, 40, 64) and ds.X_test.shape == (100, 1, 40, 64)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert sorted(np.bincount(ds.y_test)) == [10] * 10
    assert ds.classes == [str(d) for d in range(10)]
    # data.audio reaches the loader: MFCCs of another length.
    config = with_updates(Config(), {"data.audio.features": "mfcc", "data.audio.frames": 40})
    ds = load_dataset("fsdd", fake_fsdd, download=False, data_config=config.data)
    assert ds.X_train.shape == (100, 1, 13, 40)


def test_fake_fsdd_cache_follows_the_files(fake_fsdd, monkeypatch):
    first = load_dataset("fsdd", fake_fsdd, download=False)
    calls = []
    compute = fsdd._compute
    monkeypatch.setattr(fsdd, "_compute", lambda *a: calls.append(1) or compute(*a))
    again = load_dataset("fsdd", fake_fsdd, download=False)
    assert calls == [] and np.array_equal(first.X_train, again.X_train)  # from the cache
    # A damaged recording changes the fingerprint: recomputed, and its checksum fails.
    victim = fake_fsdd / "fsdd" / "recordings" / "3_bob_7.wav"
    victim.write_bytes(victim.read_bytes()[:-10] + b"\0" * 10)
    with pytest.raises(DataError, match="fail their checksum"):
        load_dataset("fsdd", fake_fsdd, download=False)
    rows = fsdd.verify_recordings(fake_fsdd)
    assert not rows[0]["ok"] and [Path(r["file"]).name for r in rows[1:]] == ["3_bob_7.wav"]


def test_missing_fsdd_says_what_to_put_where(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("fsdd", tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "fsdd" / "recordings") in message
    assert fsdd.FSDD_URL in message and "turned off" in message
    listing = {r["name"]: r for r in __import__("gradschool.data").data.list_datasets(tmp_path)}
    assert listing["fsdd"]["where"] == "missing"


def test_download_keeps_only_verified_recordings(tmp_path, monkeypatch):
    source = tmp_path / "release"
    files = _write_fake_fsdd(source)
    monkeypatch.setattr(fsdd, "manifest", lambda: files)
    archive = tmp_path / "v1.0.10.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in files:
            tar.add(source / name, arcname=f"free-spoken-digit-dataset-1.0.10/recordings/{name}")
        evil = b"escape"
        info = tarfile.TarInfo("../recordings/../../evil.wav")
        info.size = len(evil)
        tar.addfile(info, io.BytesIO(evil))
    folder = tmp_path / "data" / "fsdd" / "recordings"
    written = fsdd.download_fsdd(folder, url=archive.as_uri())
    assert sorted(written) == sorted(files) and not (tmp_path / "evil.wav").exists()
    assert fsdd.verify_recordings(tmp_path / "data")[0]["ok"]
    # A release whose files differ from the manifest is refused.
    monkeypatch.setattr(fsdd, "manifest", lambda: {"0_alice_0.wav": "0" * 32})
    other = tmp_path / "other"
    with pytest.raises(DataError, match="differs from the one gradschool knows"):
        fsdd.download_fsdd(other, url=archive.as_uri())
    assert not any(other.iterdir())


# ---- training through the one loop, then predict -------------------------------------------


def test_tiny_training_run_lowers_the_loss_then_predicts(fake_fsdd, tmp_path, capsys):
    args = [
        "train", "--config", "fsdd_cnn", "--data-dir", str(fake_fsdd), "--download", "false",
        "--epochs", "3", "--channels", "4,8", "--hidden", "16", "--n-mels", "16",
        "--frames", "32", "--progress", "off", "--out-dir", str(tmp_path / "runs"),
        "--run-name", "s", "--val-fraction", "0",
    ]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    losses = [float(line.split("Loss: ")[1].split(",")[0]) for line in out.splitlines()
              if line.startswith("Epoch:")]  # fmt: skip
    assert len(losses) == 3 and losses[-1] < losses[0]
    wav = fake_fsdd / "fsdd" / "recordings" / "7_alice_9.wav"
    assert main(["predict", str(tmp_path / "runs" / "s"), str(wav)]) == 0
    line = capsys.readouterr().out.strip()
    shares = [float(part.split("(")[1].rstrip("%)")) for part in line.split(": ", 1)[1].split("  ")]
    assert len(shares) == 3 and shares == sorted(shares, reverse=True) and sum(shares) <= 100.1


def test_predict_refuses_an_image_run(tmp_path, capsys):
    run = tmp_path / "img"
    run.mkdir()
    (run / "config.toml").write_text('[data]\ndataset = "mnist-mini"\n')
    assert main(["predict", str(run), "x.wav"]) == 2
    assert "gradschool eval" in capsys.readouterr().err


def test_spectrogram_figure_of_given_files(tmp_path, capsys):
    wavs = []
    for f in (400.0, 900.0):
        wavs.append(str(audio.write_wav(tmp_path / f"{int(f)}.wav", tone(f), SR)))
    out = tmp_path / "spec.png"
    assert main(["speech", "spectrograms", *wavs, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


# ---- the real FSDD (skipped without ../shared/data) -----------------------------------------


@pytest.fixture(scope="module")
def real_fsdd():
    if not (SHARED_DATA / "fsdd" / "recordings").is_dir():
        pytest.skip(f"FSDD not found in {SHARED_DATA} (the shared data directory)")
    return SHARED_DATA


def test_real_fsdd_splits(real_fsdd):
    ds = load_dataset("fsdd", real_fsdd, download=False)
    assert len(ds.y_train) == 2700 and len(ds.y_test) == 300
    assert ds.X_train.shape[1:] == (1, 40, 64)
    assert np.bincount(ds.y_test).tolist() == [30] * 10
    held = load_dataset("fsdd-speaker:theo", real_fsdd, download=False)
    assert len(held.y_train) == 2500 and len(held.y_test) == 500
    assert np.bincount(held.y_test).tolist() == [50] * 10
    assert [r["ok"] for r in fsdd.verify_recordings(real_fsdd)] == [True]
