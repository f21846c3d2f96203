"""`gradschool.load_run`: a trained model, ready for a script or a notebook.

    import gradschool

    run = gradschool.load_run("runs/my-run")              # the run's own engine
    run = gradschool.load_run("runs/my-run", engine="torch", checkpoint="best")
    x = run.preprocess(images)            # uint8 (N, 1, 28, 28) -> as training saw them
    logits = run.predict(x)               # (N, 10) NumPy array, eval mode, no graph
    run.model                             # the torch.nn.Module (or NumPy-engine Module)
    run.config                            # the run's Config, as trained
    run.classes                           # ["0", "1", ...]

Everything comes from the run directory, never from the training data: the settings
(config.toml), the input shape, classes and vocabulary (run.json), the weights and the
normalisation constants (the checkpoint). A model trained on one engine loads on the other:
the weights travel as NumPy arrays and both engines build the same modules (models.py).
A `.safetensors` file written by `gradschool export` loads the same way, with no code run.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.errors import CheckpointError, DataError, GradschoolError

__all__ = ["LoadedRun", "Preprocessing", "load_run"]


EXPORT_INSTALL = 'pip install "gradschool[export]"'


def require(module: str, package: str) -> Any:
    """Import `module` (safetensors, onnx, onnxruntime), or say how to install the export extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise GradschoolError(
            f"exporting needs the {package} package, which is not installed ({err}). Install "
            f"the export tools with `{EXPORT_INSTALL}` (or `pip install {package}`)."
        ) from err


@dataclass
class Preprocessing:
    """What happens to an input before the model sees it, exactly as in training.

    Images: uint8 pixels are scaled to [0, 1] (unless data.normalize = "none"), then each
    channel is standardised with the training set's `mean` and `std`. Text (the GPT): each
    character becomes its id in `vocab`. Spoken digits: a WAV file becomes the run's
    log-mel / MFCC features (`audio`), then the same standardisation.
    """

    normalize: str = "none"  # the run's data.normalize
    normalizer: Any = None  # data.transforms.Normalizer, or None
    vocab: Any = None  # data.text.CharVocab (GPT runs)
    audio: Any = None  # data.audio.AudioSpec (spoken-digit runs)
    input_shape: tuple[int, ...] = ()

    @property
    def mean(self) -> np.ndarray | None:
        return None if self.normalizer is None else self.normalizer.mean

    @property
    def std(self) -> np.ndarray | None:
        return None if self.normalizer is None else self.normalizer.std

    def __call__(self, raw: Any) -> np.ndarray:
        """A batch (or one example) of raw inputs as the model's input array."""
        if self.vocab is not None:
            return self._text(raw)
        paths = [raw] if isinstance(raw, (str, Path)) else raw
        is_files = isinstance(paths, (list, tuple)) and all(
            isinstance(p, (str, Path)) for p in paths
        )
        if self.audio is not None and is_files and paths:
            from gradschool.data.audio import wav_features  # recordings: WAV files

            raw = np.stack([wav_features(p, self.audio)[None] for p in paths])
        X = np.asarray(raw)
        if X.shape == self.input_shape:  # one example: add the batch axis
            X = X[None]
        if X.shape[1:] != self.input_shape:
            raise DataError(
                f"this model reads inputs of shape (N, {', '.join(map(str, self.input_shape))})"
                f", got an array of shape {X.shape}. Reshape them (one example: "
                f"{self.input_shape})."
            )
        if X.dtype == np.uint8 and self.normalize != "none":
            from gradschool.data.transforms import to_float

            X = to_float(X)
        X = X.astype(np.float32, copy=False)
        return self.normalizer(X) if self.normalizer is not None else X

    def _text(self, raw: Any) -> np.ndarray:
        texts = [raw] if isinstance(raw, str) else list(raw)
        unknown = sorted({c for t in texts for c in self.vocab.unknown(t)})
        if unknown:
            raise DataError(
                f"characters {''.join(unknown)!r} are not in this model's vocabulary "
                f"{self.vocab.chars!r}; replace them."
            )
        if len({len(t) for t in texts}) != 1:
            raise DataError("texts in one batch must have the same length; pass them one by one")
        return np.stack([self.vocab.encode(t) for t in texts]).astype(np.int64)  # (N, T)

    def state_dict(self) -> dict[str, Any]:
        """The constants as plain JSON values (what `gradschool export` stores)."""
        return {
            "normalize": self.normalize,
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
            "vocabulary": self.vocab.chars if self.vocab is not None else None,
            "input_shape": list(self.input_shape),
        }


@dataclass
class LoadedRun:
    """A run's model, rebuilt: see the module docstring for an example."""

    model: Any
    config: Any
    preprocess: Preprocessing
    backend: Any
    classes: list[str] | None
    path: Path
    checkpoint: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.preprocess.input_shape

    def predict(self, x: Any, batch_size: int = 1000) -> np.ndarray:
        """The model's outputs (logits) for prepared inputs `x`, as NumPy, in eval mode."""
        backend, model = self.backend, self.model
        x = np.asarray(x)
        model.eval()
        with backend.no_grad():
            outs = [
                backend.to_numpy(model(backend.tensor(x[i : i + batch_size])))
                for i in range(0, len(x), batch_size)
            ]
        return np.concatenate(outs)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as NumPy arrays, named as torch names them."""
        return self.backend.state_to_numpy(self.model.state_dict())


def load_run(
    run: str | Path,
    engine: str | None = None,
    checkpoint: str = "last",
    device: str = "cpu",
) -> LoadedRun:
    """Rebuild a run's model with its config and preprocessing.

    `run`: a run directory (runs/<name>), or a `.safetensors` file from `gradschool export`.
    `engine`: "numpy" or "torch" (None: the run's own). `checkpoint`: "last", "best" (the
    best epoch kept by train.save_top_k / checkpoint_monitor) or a checkpoint file's path.
    `device`: where the torch engine puts the model ("cpu", "cuda", "auto").
    """
    from gradschool.train.model_checkpoint import find_checkpoint
    from gradschool.train.run import RunDir

    if str(run).endswith(".safetensors") and Path(run).is_file():
        return _load_safetensors(Path(run), engine, device)
    rundir = RunDir.open(Path(run))
    config = rundir.load_config()
    info = rundir.read_info()
    path = find_checkpoint(rundir, checkpoint)
    reader = _backend(config.train.engine, config.train.dtype, "cpu")
    ckpt = reader.load(path)
    weights = {k: reader.to_numpy(v) for k, v in ckpt["model"].items()}
    preprocess, classes = _preprocessing(config, info, ckpt.get("normalizer"), rundir)
    model, backend = build_model_with_weights(
        config, preprocess, classes, weights, engine, device, path
    )
    return LoadedRun(model, config, preprocess, backend, classes, rundir.path, path, info)


def _backend(engine: str, dtype: str, device: str) -> Any:
    from gradschool.backends import get_backend

    return get_backend(engine, dtype, device)


def _preprocessing(
    config: Any, info: dict[str, Any], normalizer_state: Any, rundir: Any
) -> tuple[Preprocessing, list[str] | None]:
    """The input pipeline and class names of a run, from its config and run.json."""
    from gradschool.data.transforms import Normalizer

    normalizer = Normalizer.from_state_dict(normalizer_state) if normalizer_state else None
    d = config.data
    if config.model.name == "gpt":
        from gradschool.data.text import CharVocab

        chars = info.get("vocabulary")
        if not chars:
            raise CheckpointError(
                f"{rundir.path}/run.json holds no vocabulary, so token ids cannot be mapped to "
                f"characters. Was the run made by an older gradschool? Train it again."
            )
        shape: tuple[int, ...] = (config.model.block_size,)
        return Preprocessing("none", None, CharVocab(chars), None, shape), None
    if str(d.dataset).startswith("fsdd"):
        from gradschool.data.audio import AudioSpec
        from gradschool.data.fsdd import CLASSES

        spec = AudioSpec.from_config(d.audio)
        return Preprocessing(d.normalize, normalizer, None, spec, tuple(spec.shape)), CLASSES
    if "input_shape" in info and "classes" in info:
        shape, classes = tuple(info["input_shape"]), list(info["classes"])
    else:
        # A run from before run.json kept them: read the data set once to learn them.
        from gradschool.data.prepare import prepare_data

        data = prepare_data(d, config.train.seed)
        shape, classes = tuple(data.input_shape), list(data.classes)
    return Preprocessing(d.normalize, normalizer, None, None, shape), classes


def build_model_with_weights(
    config: Any,
    preprocess: Preprocessing,
    classes: list[str] | None,
    weights: dict[str, np.ndarray],
    engine: str | None,
    device: str,
    source: Path,
) -> tuple[Any, Any]:
    """The model `config` describes, on `engine` (default: the run's own) and `device`, holding
    `weights`, in eval mode; and its backend. `source` names the weights' file in errors."""
    from gradschool.models import build_model

    backend = _backend(engine or config.train.engine, config.train.dtype, device)
    n_out = len(preprocess.vocab) if preprocess.vocab is not None else len(classes or [])
    model = backend.cast_model(build_model(backend.nn, config.model, preprocess.input_shape, n_out))
    try:
        model.load_state_dict(backend.numpy_to_state(weights))
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"the weights in {source} do not fit the model its config describes ({err}). "
            f"Was config.toml edited after training? Load it with the run's own config."
        ) from err
    model.eval()
    return model, backend


def _load_safetensors(path: Path, engine: str | None, device: str) -> LoadedRun:
    """A model from a file written by `gradschool export --to safetensors`: its metadata holds
    the config and the preprocessing, its tensors the weights. Nothing in it is executed."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    from gradschool.config import Config

    safetensors_numpy = require("safetensors.numpy", "safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
    if "gradschool" not in meta or "config" not in meta:
        raise CheckpointError(
            f"{path} was not written by `gradschool export` (its metadata has no gradschool "
            f"config), so gradschool cannot tell which model it holds. Load it with "
            f"safetensors.torch.load_file into a model you build yourself."
        )
    config = Config.from_dict(tomllib.loads(meta["config"]))
    info = json.loads(meta["gradschool"])
    weights = safetensors_numpy.load_file(str(path))
    pre = info.get("preprocessing", {})
    preprocess, classes = _preprocessing(config, info, pre.get("normalizer"), _Where(path))
    model, backend = build_model_with_weights(
        config, preprocess, classes, weights, engine, device, path
    )
    return LoadedRun(model, config, preprocess, backend, classes, path.parent, path, info)


@dataclass
class _Where:
    path: Path
