"""`gradschool export RUN --to safetensors|onnx|npz`: a run's model for other tools.

safetensors  the weights, named as torch names them, in Hugging Face's safetensors format: a
             JSON header and raw little-endian arrays, so loading it runs no code (unlike a
             pickle). torch reads it with `safetensors.torch.load_file`, NumPy with
             `safetensors.numpy.load_file`; its metadata holds the run's config, classes,
             vocabulary and normalisation, so `gradschool.load_run(FILE)` rebuilds the model.
onnx         the model as an ONNX graph (`torch.onnx.export`), for onnxruntime and the tools
             that read ONNX. A NumPy-engine run is exported through its torch twin: the same
             models.py function builds it, and it gets the same weights. The graph is then run
             in onnxruntime on test inputs and compared with gradschool's own outputs.
npz          the same arrays as a NumPy .npz (np.load(path) reads it, no pickle), with the
             metadata as JSON in the entry `__metadata__`.

    gradschool export runs/<name> --to safetensors    # -> runs/<name>/export/model.safetensors
    gradschool export runs/<name> --to onnx --checkpoint best --out model.onnx
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.errors import ConfigError, GradschoolError
from gradschool.loading import EXPORT_INSTALL as INSTALL
from gradschool.loading import require
from gradschool.version import __version__

FORMATS = {"safetensors": ".safetensors", "onnx": ".onnx", "npz": ".npz"}
ONNX_TOLERANCE = 1e-5  # max |onnxruntime - gradschool| / max(1, max |gradschool|)
OPSET = 17


@dataclass
class Exported:
    """What `export_run` wrote, and what it checked (one line each, for the CLI)."""

    path: Path
    format: str
    lines: list[str] = field(default_factory=list)


def export_run(
    run: str | Path,
    to: str,
    out: str | Path | None = None,
    checkpoint: str = "last",
    dynamo: bool = False,
    check: bool = True,
) -> Exported:
    """Write a run's model (checkpoint "last", "best" or a file) in format `to`.

    `out` defaults to RUN/export/model.<ext> (model-best.<ext> for the best checkpoint).
    ONNX: `dynamo=True` uses torch's newer torch.export-based exporter (it needs the
    onnxscript package); `check` runs the graph in onnxruntime when it is installed.
    """
    from gradschool.loading import load_run

    if to not in FORMATS:
        raise ConfigError(f"unknown export format {to!r}: choose {', '.join(FORMATS)}")
    loaded = load_run(run, checkpoint=checkpoint)
    if out is None:
        stem = "model" if checkpoint == "last" else f"model-{Path(checkpoint).stem}"
        out = loaded.path / "export" / f"{stem}{FORMATS[to]}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if to == "safetensors":
        return _safetensors(loaded, out)
    if to == "npz":
        return _npz(loaded, out)
    return _onnx(loaded, out, dynamo, check)


def metadata(loaded: Any) -> dict[str, str]:
    """What a reader needs beside the weights, as the str -> str map safetensors stores."""
    from gradschool.config import to_toml

    config = loaded.config
    info = {
        "gradschool_version": __version__,
        "engine": config.train.engine,
        "dtype": config.train.dtype,
        "model": config.model.name,
        "checkpoint": loaded.checkpoint.name,
        "input_shape": list(loaded.input_shape),
        "classes": loaded.classes,
        "vocabulary": loaded.preprocess.vocab.chars if loaded.preprocess.vocab else None,
        "preprocessing": loaded.preprocess.state_dict(),
    }
    # "format": "pt" tells Hugging Face tools the tensors follow torch's state_dict layout.
    return {"format": "pt", "gradschool": json.dumps(info), "config": to_toml(config)}


def _arrays(loaded: Any) -> dict[str, np.ndarray]:
    # NOTE: copies: the GPT's lm_head.weight and wte.weight are one tied tensor in the model,
    # and safetensors refuses two names for one memory; as copies, each loads into its name.
    # NOTE: np.array(order="C"), not np.ascontiguousarray, which turns a 0-d array (BatchNorm's
    # num_batches_tracked) into shape (1,).
    return {k: np.array(v, order="C", copy=True) for k, v in loaded.state_dict().items()}


def _safetensors(loaded: Any, out: Path) -> Exported:
    from gradschool.checkpoint import atomic_write

    st = require("safetensors.numpy", "safetensors")
    arrays = _arrays(loaded)
    atomic_write(out, lambda tmp: st.save_file(arrays, str(tmp), metadata=metadata(loaded)))
    n = sum(a.size for a in arrays.values())
    return Exported(out, "safetensors", [f"{len(arrays)} tensors, {n:,} values"])


def _npz(loaded: Any, out: Path) -> Exported:
    from gradschool.checkpoint import atomic_write

    arrays = _arrays(loaded)
    # A str array, not an object array: np.load reads it back with allow_pickle=False.
    arrays["__metadata__"] = np.array(json.dumps(metadata(loaded)))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # (see checkpoint.py)

    atomic_write(out, write)
    return Exported(out, "npz", [f"{len(arrays) - 1} arrays and __metadata__ (JSON)"])


# ---- ONNX ---------------------------------------------------------------------------------------


def torch_twin(loaded: Any) -> Any:
    """The run's model on torch in float32 on the CPU, with the run's weights (a torch run's
    own model; a NumPy-engine run's twin, built by the same models.py function)."""
    from gradschool.loading import build_model_with_weights

    model, _ = build_model_with_weights(
        loaded.config,
        loaded.preprocess,
        loaded.classes,
        loaded.state_dict(),
        "torch",
        "cpu",
        loaded.checkpoint,
    )
    return model.float().eval()


def example_inputs(loaded: Any, seed: int = 0) -> list[np.ndarray]:
    """Test inputs for the exported graph: token ids of two lengths for the GPT (the graph
    takes any batch and any length up to the context), else a batch of standardised inputs."""
    rng = np.random.default_rng(seed)
    if loaded.preprocess.vocab is not None:
        V, T = len(loaded.preprocess.vocab), loaded.input_shape[0]
        return [rng.integers(0, V, (2, T)), rng.integers(0, V, (3, max(1, T // 2)))]
    return [rng.standard_normal((8, *loaded.input_shape)).astype(np.float32)]


def _onnx(loaded: Any, out: Path, dynamo: bool, check: bool) -> Exported:
    import inspect
    import warnings

    from gradschool.checkpoint import atomic_write

    torch = require("torch", "torch")
    onnx = require("onnx", "onnx")
    twin = torch_twin(loaded)
    example = torch.from_numpy(example_inputs(loaded)[0][:1])
    axes = {0: "batch", 1: "sequence"} if loaded.preprocess.vocab is not None else {0: "batch"}
    kwargs: dict[str, Any] = {
        "input_names": ["input"],
        "output_names": ["logits"],
        "dynamic_axes": {"input": axes, "logits": axes},
        # torch.export's exporter starts at opset 18; the TorchScript one is at home in 17.
        "opset_version": OPSET + 1 if dynamo else OPSET,
    }
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # The TorchScript exporter (dynamo=False) needs no onnxscript and takes a fraction of
        # a second; torch.export's (dynamo=True) is the one newer torch releases develop.
        kwargs["dynamo"] = dynamo
    if dynamo:
        require("onnxscript", "onnxscript")
        kwargs["verbose"] = False  # no progress lines

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # deprecation and tracer notes, not the user's concern
            warnings.simplefilter("ignore")
            torch.onnx.export(twin, (example,), str(tmp), **kwargs)
        graph = onnx.load(str(tmp))
        for key, value in metadata(loaded).items():
            graph.metadata_props.add(
                key=f"gradschool.{key}" if key != "format" else key, value=value
            )
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))

    try:
        atomic_write(out, write)
    except GradschoolError:
        raise
    except Exception as err:  # noqa: BLE001 - the exporter's own errors, said plainly
        raise GradschoolError(
            f"torch.onnx.export could not export this {loaded.config.model.name} model "
            f"({type(err).__name__}: {err}). "
            + ("Try without --dynamo." if dynamo else "Try --dynamo (needs onnxscript).")
        ) from err
    exporter = "torch.export (dynamo)" if dynamo else "TorchScript"
    opset = max(o.version for o in onnx.load(str(out)).opset_import if o.domain in ("", "ai.onnx"))
    lines = [f"opset {opset}, {exporter} exporter, float32, dynamic axes: {list(axes.values())}"]
    if check:
        lines.append(check_onnx(out, loaded))
    return Exported(out, "onnx", lines)


def onnx_difference(path: Path, loaded: Any, inputs: list[np.ndarray] | None = None) -> float:
    """max |onnxruntime - gradschool| / max(1, max |gradschool|) over `inputs` (default:
    example_inputs), gradschool's outputs computed by the run's own engine."""
    ort = require("onnxruntime", "onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x in inputs if inputs is not None else example_inputs(loaded):
        x = np.asarray(x)
        feed = x.astype(np.int64) if loaded.preprocess.vocab is not None else x.astype(np.float32)
        got = session.run(None, {"input": feed})[0].astype(np.float64)
        want = loaded.predict(x).astype(np.float64)
        if got.shape != want.shape:
            raise GradschoolError(
                f"the exported graph gives outputs of shape {got.shape} for inputs of shape "
                f"{x.shape}, gradschool's model {want.shape}: the export is broken."
            )
        scale = max(1.0, float(np.abs(want).max()))
        worst = max(worst, float(np.abs(got - want).max()) / scale)
    return worst


def check_onnx(path: Path, loaded: Any) -> str:
    """Run the exported graph in onnxruntime and compare it with gradschool's outputs."""
    try:
        importlib.import_module("onnxruntime")
    except ImportError:
        return f"not run in onnxruntime (not installed: `{INSTALL}` to check the graph)"
    diff = onnx_difference(path, loaded)
    if diff > ONNX_TOLERANCE:
        raise GradschoolError(
            f"the exported graph, run in onnxruntime, differs from gradschool's model by "
            f"{diff:.2e} (relative to the logits' scale), more than {ONNX_TOLERANCE:g}: the "
            f"export does not compute the same function. Please report it with the run's "
            f"config.toml; the file {path} was written."
        )
    n = sum(len(x) for x in example_inputs(loaded))
    return (
        f"onnxruntime {importlib.import_module('onnxruntime').__version__}: max difference "
        f"from gradschool's {loaded.config.train.engine} engine {diff:.1e} on {n} test inputs "
        f"(tolerance {ONNX_TOLERANCE:g})"
    )
