"""train.deterministic: torch's deterministic algorithms (bit-identical reruns), recorded in
run.json; on the NumPy engine nothing to switch, and it says so."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from gradschool.backends import CUBLAS_WORKSPACE, use_deterministic
from gradschool.config import load_config
from gradschool.train.run import RunDir
from gradschool.train.trainer import fit

torch = pytest.importorskip("torch")

# A small CNN, so convolutions (cuDNN's choice on a GPU) are in the run, on 200 examples.
CNN = [
    "--config", "mnist_cnn", "--dataset", "mnist-mini", "--channels", "4,8", "--hidden", "16",
    "--batch-size", "32", "--train-subset", "200", "--epochs", "2", "--progress", "off",
    "--engine", "torch", "--device", "cpu", "--val-fraction", "0",
]  # fmt: skip


@pytest.fixture
def torch_flags():
    """torch's switches are global for the process: put them back after the test."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2:]


def weights(trainer) -> dict[str, np.ndarray]:
    return {k: trainer.backend.to_numpy(v) for k, v in trainer.model.state_dict().items()}


def test_two_deterministic_torch_runs_give_bit_identical_weights(tmp_path, torch_flags):
    config = load_config(CNN[1], [*CNN[2:], "--deterministic", "--out-dir", str(tmp_path)])
    assert config.train.deterministic
    torch.backends.cudnn.benchmark = True  # as a notebook might have left it
    first = fit(config, run=RunDir.create(config), console=False)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.benchmark is False and torch.backends.cudnn.deterministic
    second = fit(config, console=False)
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys() and len(a) >= 6
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key  # bit for bit, not allclose
    # the run says so in run.json
    info = json.loads((first.run.path / "run.json").read_text())
    assert info["deterministic"] is True and info["engine"] == "torch"
    # warn_only=False: an op with no deterministic implementation raises instead of running
    with pytest.raises(RuntimeError, match="deterministic"):
        torch.zeros(3).put_(torch.tensor([0]), torch.tensor([1.0]))


def test_run_json_records_a_run_that_is_not_deterministic(tmp_path):
    config = load_config("seed_mlp", ["--train-subset", "100", "--epochs", "1", "--progress",
                                      "off", "--out-dir", str(tmp_path)])  # fmt: skip
    assert not config.train.deterministic
    trainer = fit(config, run=RunDir.create(config), console=False)
    assert json.loads((trainer.run.path / "run.json").read_text())["deterministic"] is False


def test_on_a_gpu_the_cublas_workspace_is_fixed(monkeypatch, torch_flags):
    # Only the environment is touched on the CUDA path, so this runs without a GPU too.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    done = use_deterministic("torch", "cuda:0")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE == ":4096:8"
    assert "CUBLAS_WORKSPACE_CONFIG=:4096:8" in done
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the user's choice is kept
    assert "CUBLAS_WORKSPACE_CONFIG=:16:8" in use_deterministic("torch", "cuda")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    assert "CUBLAS" not in use_deterministic("torch", "cpu")
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # not on the CPU


def test_the_numpy_engine_has_nothing_to_switch_and_says_so(tmp_path, caplog, torch_flags):
    torch.use_deterministic_algorithms(False)
    argv = ["--train-subset", "100", "--epochs", "1", "--progress", "off", "--deterministic"]
    config = load_config("seed_mlp", [*argv, "--out-dir", str(tmp_path)])
    with caplog.at_level(logging.INFO, logger="gradschool"):
        first = fit(config, run=RunDir.create(config), console=False)
    assert "nothing to switch on the NumPy engine" in caplog.text
    assert not torch.are_deterministic_algorithms_enabled()  # torch left alone
    assert json.loads((first.run.path / "run.json").read_text())["deterministic"] is True
    a, b = weights(first), weights(fit(config, console=False))
    assert a.keys() == b.keys() and len(a) == 6  # 3 layers' weights and biases
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
