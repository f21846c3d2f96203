"""gradschool export (safetensors, ONNX, npz) and gradschool.load_run, on both engines, checked
with the formats' own readers: safetensors in torch and NumPy, ONNX graphs in onnxruntime."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import gradschool
from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.data.datasets import load_dataset
from gradschool.errors import GradschoolError
from gradschool.export import export_run, onnx_difference
from gradschool.models import build_model
from gradschool.train.run import RunDir
from gradschool.train.trainer import fit

EXTRA = 'export tools: pip install "gradschool[export]"'
ENGINES = ["numpy", "torch"]

# Each model family, tiny, trained for two steps (the weights just need to be trained ones).
FAMILIES = {
    "mlp": {"sizes": [784, 16, 10], "dropout": 0.1},
    "cnn": {"model.name": "cnn", "channels": [4, 8], "hidden": 16, "batch_norm": True},
    "resnet": {"model.name": "cnn", "arch": "resnet", "channels": [4, 4, 8, 8]},
    "gpt": {
        "model.name": "gpt", "data.dataset": "shakespeare-mini", "n_layer": 1, "n_head": 2,
        "n_embd": 16, "block_size": 16, "batch_size": 8, "eval_interval": 2, "eval_batches": 1,
        "optim.name": "adamw", "train_subset": None,
    },
}  # fmt: skip


def train(tmp_path: Path, family: str, engine: str, **updates) -> Path:
    if engine == "torch":
        pytest.importorskip("torch")
    name = f"{family}-{engine}"
    base = {"train.progress": "off", "train_subset": 200, "epochs": 2, "max_steps": 2,
            "out_dir": str(tmp_path), "run_name": name, "engine": engine}  # fmt: skip
    config = with_updates(Config(), {**base, **FAMILIES[family], **updates})
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    return run.path


def real_inputs(loaded) -> np.ndarray:
    """Real inputs: the embedded test images, or windows of the embedded text."""
    if loaded.preprocess.vocab is not None:
        from gradschool.data.text import load_corpus

        text, _ = load_corpus("shakespeare-mini")
        T = loaded.input_shape[0]
        return loaded.preprocess([text[i : i + T] for i in range(0, 40 * T, 10 * T)])
    return loaded.preprocess(load_dataset("mnist-mini").X_test[:16])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_safetensors_load_in_torch_and_in_numpy(tmp_path, family, engine):
    st_numpy = pytest.importorskip("safetensors.numpy", reason=EXTRA)
    run = train(tmp_path, family, engine)
    result = export_run(run, "safetensors")
    assert result.path == run / "export" / "model.safetensors"
    loaded = gradschool.load_run(run)
    x = real_inputs(loaded)
    want = loaded.predict(x)
    # torch: the safetensors reader, into a model built by models.py - no gradschool loader.
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch", reason=EXTRA)
    model = build_model(torch.nn, loaded.config.model, loaded.input_shape, want.shape[-1])
    model.load_state_dict(st_torch.load_file(str(result.path)))
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # NumPy engine: the NumPy reader, into the engine's model.
    from gradschool import engine as np_engine
    from gradschool.backends import get_backend

    backend = get_backend("numpy")
    model = build_model(np_engine.nn, loaded.config.model, loaded.input_shape, want.shape[-1])
    model.load_state_dict(backend.numpy_to_state(st_numpy.load_file(str(result.path))))
    model.eval()
    with backend.no_grad():
        got = backend.to_numpy(model(backend.tensor(x)))
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # The file alone rebuilds the model: config and preprocessing are in its metadata.
    again = gradschool.load_run(result.path, engine="numpy")
    np.testing.assert_allclose(again.predict(x), want, atol=1e-5, rtol=1e-5)
    assert again.classes == loaded.classes


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("family", ["mlp", "cnn", "gpt"])
def test_onnx_matches_gradschool_in_onnxruntime(tmp_path, family, engine):
    pytest.importorskip("onnx", reason=EXTRA)
    pytest.importorskip("onnxruntime", reason=EXTRA)
    pytest.importorskip("torch")
    run = train(tmp_path, family, engine)
    result = export_run(run, "onnx", out=tmp_path / "m.onnx")
    assert "onnxruntime" in result.lines[-1] and "max difference" in result.lines[-1]
    loaded = gradschool.load_run(run)
    x = real_inputs(loaded)
    assert onnx_difference(result.path, loaded, [x, x[:1]]) < 1e-5
    if family == "gpt":  # any context length up to block_size
        assert onnx_difference(result.path, loaded, [x[:, :5]]) < 1e-5
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    assert json.loads(meta["gradschool.gradschool"])["model"] == loaded.config.model.name


def test_onnx_through_torch_export_dynamo(tmp_path):
    pytest.importorskip("onnxscript", reason="export --dynamo needs onnxscript")
    pytest.importorskip("onnxruntime", reason=EXTRA)
    run = train(tmp_path, "mlp", "numpy")
    result = export_run(run, "onnx", dynamo=True)
    assert "dynamo" in result.lines[0]
    loaded = gradschool.load_run(run)
    assert onnx_difference(result.path, loaded, [real_inputs(loaded)]) < 1e-5


def test_npz_reads_without_pickle(tmp_path):
    run = train(tmp_path, "cnn", "numpy")
    result = export_run(run, "npz", checkpoint="best")
    assert result.path.name == "model-best.npz"
    with np.load(result.path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["__metadata__"]))
        arrays = {k: npz[k] for k in npz.files if k != "__metadata__"}
    loaded = gradschool.load_run(run, checkpoint="best")
    for k, v in loaded.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v)
    info = json.loads(meta["gradschool"])
    assert info["checkpoint"].startswith("best-epoch") and info["input_shape"] == [1, 28, 28]
    assert info["preprocessing"]["normalizer"]["mean"] == pytest.approx(
        loaded.preprocess.mean.tolist()
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_load_run_on_either_engine_with_the_runs_preprocessing(tmp_path, engine):
    from gradschool.train.trainer import Trainer

    run = train(tmp_path, "mlp", engine, epochs=1)
    trained_on = gradschool.load_run(run)
    other = gradschool.load_run(run, engine="numpy" if engine == "torch" else "torch")
    assert trained_on.backend.name == engine and other.backend.name != engine
    # preprocess(raw uint8) is exactly what training fed the model.
    trainer = Trainer(trained_on.config, console=False)
    raw = load_dataset("mnist-mini").X_test[:50]
    x = trained_on.preprocess(raw)
    np.testing.assert_array_equal(x, trainer.data.X_test[:50])
    np.testing.assert_array_equal(trained_on.preprocess(raw[0]), x[:1])  # one example
    np.testing.assert_allclose(other.predict(x), trained_on.predict(x), atol=1e-5, rtol=1e-5)
    assert trained_on.classes == [str(d) for d in range(10)]
    with pytest.raises(GradschoolError, match=r"inputs of shape \(N, 1, 28, 28\)"):
        trained_on.preprocess(raw[:, 0])


def test_load_run_of_a_gpt_encodes_text(tmp_path):
    run = train(tmp_path, "gpt", "numpy")
    loaded = gradschool.load_run(run)
    ids = loaded.preprocess("ROMEO:")
    assert ids.shape == (1, 6) and ids.dtype == np.int64
    assert "".join(loaded.preprocess.vocab.chars[i] for i in ids[0]) == "ROMEO:"
    assert loaded.predict(ids).shape == (1, 6, len(loaded.preprocess.vocab))
    with pytest.raises(GradschoolError, match="not in this model's vocabulary"):
        loaded.preprocess("ROMEO: \u00e9")


def test_speech_cnn_export_and_load(tmp_path, monkeypatch):
    """The spoken-digit CNN (a cnn on spectrograms), on fake FSDD recordings."""
    from test_speech import _write_fake_fsdd

    from gradschool.apps.speech import load_predictor
    from gradschool.data import fsdd

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "data"
    files = _write_fake_fsdd(data / "fsdd" / "recordings")
    monkeypatch.setattr(fsdd, "manifest", lambda: files)
    args = ["train", "--config", "fsdd_cnn", "--data-dir", str(data), "--download", "false",
            "--epochs", "1", "--channels", "4,8", "--hidden", "16", "--n-mels", "16",
            "--frames", "32", "--progress", "off", "--out-dir", str(tmp_path),
            "--run-name", "s"]  # fmt: skip
    assert main(args) == 0
    run = tmp_path / "s"
    wav = data / "fsdd" / "recordings" / "7_alice_9.wav"
    loaded = gradschool.load_run(run)
    x = loaded.preprocess(wav)
    assert x.shape == (1, 1, 16, 32)
    predictor = load_predictor(run)
    np.testing.assert_allclose(x, predictor.features(wav))
    st = pytest.importorskip("safetensors.torch", reason=EXTRA)
    path = export_run(run, "safetensors").path
    torch = pytest.importorskip("torch")
    model = build_model(torch.nn, loaded.config.model, loaded.input_shape, 10)
    model.load_state_dict(st.load_file(str(path)))
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, loaded.predict(x), atol=1e-5, rtol=1e-5)


def test_export_command_and_missing_package(tmp_path, capsys, monkeypatch):
    pytest.importorskip("safetensors", reason=EXTRA)
    run = train(tmp_path, "mlp", "numpy")
    out = tmp_path / "w.safetensors"
    assert main(["export", str(run), "--to", "safetensors", "--out", str(out)]) == 0
    assert f"as safetensors: {out}" in capsys.readouterr().out and out.exists()
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    assert main(["export", str(run), "--to", "safetensors"]) == 1
    assert 'pip install "gradschool[export]"' in capsys.readouterr().err
    assert main(["export", str(run), "--to", "npz", "--checkpoint", "best"]) == 0
