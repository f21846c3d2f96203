"""Speech recognition: spoken digits, heard by a CNN that reads spectrograms.

    gradschool train --config fsdd_cnn                  # the one training loop, on FSDD
    gradschool predict runs/<name> my_seven.wav         # top-3 digits with probabilities
    gradschool speech spectrograms --data-dir D         # one spectrogram of each digit

The recordings become log-mel spectrograms (data/audio.py): 2-D arrays (mel band x frame)
that a convolutional network reads like a one-channel image, trained by `gradschool train`
exactly as the image models are. This module is what is specific to sound *after* training:
predicting the digit of any WAV file with the features and normalisation the run was trained
with, and the figure of what the network sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.data.audio import AudioSpec, wav_features
from gradschool.errors import ConfigError

__all__ = ["SpeechPredictor", "digit_spectrograms", "load_predictor", "plot_digit_spectrograms"]


@dataclass
class SpeechPredictor:
    """A trained spoken-digit model with the exact input pipeline of its run."""

    model: Any
    backend: Any
    spec: AudioSpec  # the run's data.audio: how a recording becomes features
    normalizer: Any  # the run's data normalizer (data.normalize = "standard"), or None
    classes: list[str]

    def features(self, path: str | Path) -> np.ndarray:
        """One recording as the model's input: (1, 1, rows, frames) float32."""
        X = wav_features(path, self.spec)[None, None]  # per-utterance normalised, fixed length
        return self.normalizer(X) if self.normalizer is not None else X

    def probabilities(self, path: str | Path) -> np.ndarray:
        """P(digit | recording), (n_classes,): the softmax of the model's logits."""
        backend = self.backend
        with backend.no_grad():
            logits = backend.to_numpy(self.model(backend.tensor(self.features(path))))[0]
        z = np.exp(logits.astype(np.float64) - logits.max())
        return z / z.sum()

    def top(self, path: str | Path, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely classes of a recording, with their probabilities."""
        p = self.probabilities(path)
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.classes[i], float(p[i])) for i in order]


def load_predictor(run_dir: str | Path) -> SpeechPredictor:
    """The model of a `gradschool train` run on spoken digits, ready to predict WAV files.

    Everything comes from the run directory: the feature settings (`data.audio` in its
    config.toml), the weights and the fitted normaliser (its checkpoint). No data set needed.
    """
    from gradschool.data.fsdd import CLASSES
    from gradschool.loading import load_run
    from gradschool.train.run import RunDir

    run = RunDir.open(Path(run_dir))
    config = run.load_config()
    if not config.data.dataset.startswith("fsdd"):
        raise ConfigError(
            f"{run.path} was trained on {config.data.dataset!r}; `gradschool predict` reads WAV "
            f'files, so it needs a run trained on spoken digits (data.dataset = "fsdd" or '
            f'"fsdd-speaker:<name>", e.g. `gradschool train --config fsdd_cnn`). For image '
            f"runs, use `gradschool eval {run.path}`."
        )
    loaded = load_run(run.path)  # the model with the checkpoint's weights, in eval mode
    spec = AudioSpec.from_config(config.data.audio)
    model, backend, normalizer = loaded.model, loaded.backend, loaded.preprocess.normalizer
    return SpeechPredictor(model, backend, spec, normalizer, list(CLASSES))


def digit_spectrograms(
    data_dir: Any = None,
    speaker: str = "jackson",
    index: int = 0,
    spec: AudioSpec | None = None,
    files: list[str | Path] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """The features of one recording of each digit (FSDD's `{d}_{speaker}_{index}.wav`), or
    of the given `files`: (list of (rows, frames) arrays, their titles)."""
    from gradschool.data.fsdd import SPEAKERS, ensure_recordings
    from gradschool.data.sources import check_data_dir

    spec = spec or AudioSpec()
    if files:
        paths = [Path(f) for f in files]
        titles = [p.name for p in paths]
    else:
        if speaker not in SPEAKERS:
            raise ConfigError(
                f"unknown FSDD speaker {speaker!r}; the speakers are {', '.join(SPEAKERS)}"
            )
        # A --data-dir that does not exist is a typo: never created (check_data_dir).
        folder = ensure_recordings(data_dir, download=check_data_dir(data_dir, None))
        paths = [folder / f"{d}_{speaker}_{index}.wav" for d in range(10)]
        titles = [f"digit {d}" for d in range(10)]
    return [wav_features(p, spec) for p in paths], titles


def plot_digit_spectrograms(
    out: str | Path,
    data_dir: Any = None,
    speaker: str = "jackson",
    spec: AudioSpec | None = None,
    files: list[str | Path] | None = None,
) -> Path:
    """The figure of `digit_spectrograms`: what the CNN sees of each spoken digit."""
    from gradschool import plots

    spec = spec or AudioSpec()
    images, titles = digit_spectrograms(data_dir, speaker, spec=spec, files=files)
    what = "MFCCs" if spec.features == "mfcc" else "log-mel spectrograms"
    who = "" if files else f", speaker {speaker}"
    return plots.plot_spectrograms(
        images,
        titles,
        Path(out),
        title=f"{what} ({spec.n_features} x {spec.frames}, per-utterance normalised{who})",
        ylabel="MFCC" if spec.features == "mfcc" else "mel band",
    )
