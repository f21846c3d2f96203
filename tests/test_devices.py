"""Devices, precision, compilation and memory layout (docs/compute.md).

What a CPU can check runs here: bf16 autocast (torch has it on the CPU too), torch.compile's
wrapping (with the compiler's "eager" backend, which traces the model but generates no code, so
the test takes seconds, not a minute of C++ compilation), channels-last, staging, and every
clear error. What needs a GPU skips with the reason; benchmarks/gpu/run_all.sh covers it.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

from gradschool.backends import backend_for, get_backend, resolve_device
from gradschool.cli import main
from gradschool.config import TrainConfig, load_config
from gradschool.errors import ConfigError, GradschoolError
from gradschool.train.trainer import Trainer, fit

torch = pytest.importorskip("torch")

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU (none is visible here)")

# A few steps of the seed's MLP on the embedded MNIST slice, on the CPU.
TINY = [
    "--engine", "torch", "--device", "cpu", "--train-subset", "512", "--batch-size", "64",
    "--epochs", "1", "--progress", "off",
]  # fmt: skip


def _config(*extra: str):
    return load_config("seed_mlp", [*TINY, *extra])


# ---- devices ----------------------------------------------------------------------------------


@pytest.mark.skipif(HAS_CUDA, reason="checks the error on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(capsys: pytest.CaptureFixture, tmp_path) -> None:
    with pytest.raises(GradschoolError, match="--device cuda was asked for") as err:
        resolve_device("cuda", "torch")
    assert "--device cpu" in str(err.value)
    # the same through the CLI: one paragraph, no traceback, exit status 2, no run directory
    out = ["--out-dir", str(tmp_path)]
    assert main(["train", "--engine", "torch", "--device", "cuda", *out]) == 1
    printed = capsys.readouterr().err
    assert "--device cuda was asked for" in printed and "Traceback" not in printed
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(HAS_MPS, reason="checks the error on a machine without an Apple GPU")
def test_mps_without_an_apple_gpu_is_a_clear_error() -> None:
    with pytest.raises(GradschoolError, match="PyTorch sees no Apple GPU"):
        resolve_device("mps", "torch")


def test_auto_takes_the_fastest_device_there_is() -> None:
    expected = "cuda:0" if HAS_CUDA else "mps" if HAS_MPS else "cpu"
    assert resolve_device("auto", "torch") == expected
    assert resolve_device("auto", "numpy") == "cpu"
    assert resolve_device("cpu", "torch") == "cpu"
    assert str(get_backend("torch", device="cpu").device) == "cpu"


def test_the_numpy_engine_runs_on_the_cpu_only() -> None:
    with pytest.raises(GradschoolError, match="NumPy engine runs on the CPU only"):
        get_backend("numpy", device="cuda")
    for setting in (
        ["--device", "cuda"],
        ["--precision", "bf16"],
        ["--compile"],
        ["--channels-last"],
        ["--nproc", "2"],
    ):
        with pytest.raises(ConfigError, match="needs the torch engine") as err:
            load_config("seed_mlp", setting)
        assert "--engine torch" in str(err.value)
    backend = get_backend("numpy")
    with pytest.raises(GradschoolError, match="needs the torch engine"):
        backend.autocast("bf16")
    with pytest.raises(GradschoolError, match="train.compile needs the torch engine"):
        backend.prepare_model(object(), TrainConfig(compile=True))
    assert isinstance(backend.autocast("fp32"), contextlib.nullcontext)


def test_bf16_needs_float32() -> None:
    with pytest.raises(ConfigError, match="needs train.dtype"):
        _config("--precision", "bf16", "--dtype", "float64")


# ---- staging: data put on the device once ------------------------------------------------------


def test_stage_puts_each_array_on_the_device_once() -> None:
    X = np.random.default_rng(0).normal(size=(10, 1, 4, 4)).astype(np.float32)
    cpu = get_backend("torch", device="cpu")
    staged = cpu.stage(X)
    assert isinstance(staged, torch.Tensor) and staged.device == cpu.device
    assert np.shares_memory(staged.numpy(), X)  # on the CPU: shared, not copied
    batch = staged[np.array([3, 1, 4], dtype=np.int64)]  # what the DataLoader does
    np.testing.assert_array_equal(batch.numpy(), X[[3, 1, 4]])
    # On a device (the "meta" device stands in for a GPU) each array is copied there once,
    # and evaluation, which stages the test set every epoch, gets the same tensor back.
    from gradschool.backends import TorchBackend

    device = TorchBackend("float32", "meta")
    on_device = device.stage(X)
    assert on_device.device.type == "meta" and device.stage(X) is on_device
    other = X.copy()
    assert device.stage(other) is not on_device
    del other  # a dead array's entry goes away with it
    assert list(device._staged) == [id(X)]


def test_evaluation_stages_the_sets() -> None:
    trainer = fit(_config("--max-steps", "2"), console=False)
    data = trainer.data
    # predict gives what the model gives on the same inputs
    expected = trainer.model.eval()(torch.from_numpy(data.X_test[:7])).detach().numpy()
    np.testing.assert_allclose(trainer.predict(data.X_test[:7]), expected, rtol=1e-6)
    staged = []
    trainer.backend.stage = lambda X: staged.append(X) or torch.from_numpy(X)
    trainer.predict(data.X_test)
    assert staged[0] is data.X_test  # the whole set, once, not batch by batch


def test_the_loader_indexes_a_device_tensor_with_a_device_index() -> None:
    # NOTE: a GPU tensor indexed with a NumPy array would copy the index to the GPU each batch
    # and wait for the GPU (a sync). The loader turns the epoch's order into a tensor on the
    # data's device once; "meta" tensors stand in for a GPU here.
    from gradschool.data.loader import DataLoader, index_like

    order = np.arange(5, dtype=np.int64)
    assert index_like(np.zeros(5), order) is order
    assert index_like(torch.zeros(5), order) is order  # CPU tensors take NumPy indices
    on_meta = index_like(torch.empty(5, device="meta"), order)
    assert isinstance(on_meta, torch.Tensor) and on_meta.device.type == "meta"
    X, y = torch.empty(10, 3, device="meta"), torch.empty(10, dtype=torch.long, device="meta")
    shapes = [tuple(xb.shape) for xb, _ in DataLoader(X, y, batch_size=4, shuffle=True)]
    assert shapes == [(4, 3), (4, 3), (2, 3)]


# ---- bf16 autocast ---------------------------------------------------------------------------


def test_bf16_autocast_trains_on_the_cpu() -> None:
    fp32 = fit(_config(), console=False)
    bf16 = fit(_config("--precision", "bf16"), console=False)
    # the forward pass runs in bfloat16 inside autocast; the weights stay float32
    backend, model = bf16.backend, bf16.model
    with backend.autocast("bf16"):
        assert model(backend.tensor(bf16.data.X_test[:2])).dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # bf16 has an 8-bit mantissa (about 2-3 significant digits): the losses agree roughly
    a, b = fp32.state.history[0], bf16.state.history[0]
    assert np.isfinite(b["train_loss"])
    assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
    assert abs(b["test_acc"] - a["test_acc"]) < 0.05
    assert not np.allclose(fp32.model[1].weight.detach(), model[1].weight.detach(), atol=0)


def test_the_report_says_how_the_numbers_were_computed(tmp_path) -> None:
    from gradschool.train.run import RunDir

    config = _config("--precision", "bf16", "--out-dir", str(tmp_path), "--run-name", "r")
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    report = (run.path / "report.md").read_text(encoding="utf-8")
    assert "- engine: torch (float32, bf16 autocast) on cpu, seed 0" in report


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(GradschoolError, match="unknown precision"):
        get_backend("torch", device="cpu").autocast("fp8")


# ---- torch.compile and channels-last ----------------------------------------------------------


def test_compile_wraps_the_model_and_keeps_its_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = torch.compile
    calls = []

    def eager_compile(model, **kwargs):  # trace with TorchDynamo, generate no code
        calls.append(model)
        return real_compile(model, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", eager_compile)
    plain = fit(_config("--max-steps", "3"), console=False)
    compiled = fit(_config("--max-steps", "3", "--compile"), console=False)
    assert calls == [compiled.model]
    assert compiled.net is not compiled.model  # the loop calls the compiled module...
    assert "model" in compiled.checkpoint() and all(  # ...the checkpoint holds plain names
        not k.startswith("_orig_mod") for k in compiled.model.state_dict()
    )
    for p, q in zip(plain.model.parameters(), compiled.model.parameters()):
        torch.testing.assert_close(p, q)  # "eager" changes nothing numerically


def test_channels_last_converts_conv_weights_and_staged_images() -> None:
    config = _config("--channels-last")
    backend = backend_for(config.train)
    assert backend.channels_last
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten())
    net = backend.prepare_model(conv, config.train)
    assert net is conv
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    images = backend.stage(np.zeros((8, 1, 6, 6), dtype=np.float32))
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert images[np.array([5, 2])].is_contiguous(memory_format=torch.channels_last)
    assert backend.stage(np.zeros((8, 3), dtype=np.float32)).is_contiguous()  # not images


def test_channels_last_changes_no_result() -> None:
    plain = fit(_config("--max-steps", "3"), console=False)
    nhwc = fit(_config("--max-steps", "3", "--channels-last"), console=False)
    assert plain.state.history[0]["test_loss"] == pytest.approx(
        nhwc.state.history[0]["test_loss"], rel=1e-6
    )


def test_rng_state_round_trips_in_the_checkpoint_format() -> None:
    backend = get_backend("torch", device="cpu")
    backend.manual_seed(3)
    state = backend.get_rng_state()
    first = torch.rand(3)
    backend.set_rng_state({"cpu": state})  # the GPU form: {"cpu": ..., "cuda": ...}
    torch.testing.assert_close(torch.rand(3), first)


def test_run_json_says_where_the_run_computed(tmp_path) -> None:
    from gradschool.train.run import RunDir

    where = ["--out-dir", str(tmp_path), "--run-name", "where"]
    assert main(["train", *TINY, "--max-steps", "1", *where]) == 0
    info = RunDir(tmp_path / "where").read_info()
    assert info["device"] == "cpu" and info["processes"] == 1


# ---- on a GPU (skipped here, run by a GPU session) -------------------------------------------


@needs_cuda
def test_cuda_bf16_channels_last_trains() -> None:  # pragma: no cover - needs a GPU
    trainer = fit(
        load_config("seed_mlp", [*TINY[2:], "--engine", "torch", "--device", "cuda",
                                 "--precision", "bf16", "--channels-last"]),
        console=False,
    )  # fmt: skip
    assert trainer.backend.device.type == "cuda"
    assert next(trainer.model.parameters()).device.type == "cuda"
    assert np.isfinite(trainer.state.history[-1]["train_loss"])


@needs_cuda
def test_cuda_rng_state_is_checkpointed() -> None:  # pragma: no cover - needs a GPU
    backend = get_backend("torch", device="cuda")
    state = backend.get_rng_state()
    assert set(state) == {"cpu", "cuda"}
    first = torch.rand(3, device="cuda")
    backend.set_rng_state(state)
    torch.testing.assert_close(torch.rand(3, device="cuda"), first)


@needs_cuda
def test_an_epoch_on_the_gpu_waits_for_it_only_at_the_end() -> None:  # pragma: no cover
    # Synchronising operations (a .item(), a blocking copy) raise inside the batch loop; the
    # loop's own reads (NaN check, epoch end) happen outside the window checked here.
    trainer = Trainer(load_config("seed_mlp", [*TINY[2:], "--engine", "torch", "--device", "cuda"]),
                      console=False)  # fmt: skip
    backend, loss_fn = trainer.backend, trainer.task.loss
    batches = iter(trainer.loader)
    first = next(batches)  # the epoch's order goes to the GPU here, once per epoch
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for xb, yb in itertools.chain([first], batches):
            loss = loss_fn(backend.F, trainer.net(backend.tensor(xb)), backend.tensor(yb))
            trainer.optimizer.zero_grad()
            loss.backward()
            trainer.optimizer.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
