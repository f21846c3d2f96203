"""TensorBoard logging (--log tensorboard), read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.errors import GradschoolError
from gradschool.train.callbacks import Callback
from gradschool.train.run import RunDir
from gradschool.train.trainer import Trainer, fit

ENGINES = ["numpy", "torch"]


def accumulator(path):
    ea = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason='TensorBoard logging needs the extra: pip install "gradschool[tensorboard]"',
    )
    acc = ea.EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    return acc


def scalars(acc, tag) -> tuple[list[int], np.ndarray]:
    events = acc.Scalars(tag)
    return [e.step for e in events], np.array([e.value for e in events])


class Losses(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer: Trainer, loss) -> None:
        self.losses.append(float(loss.item()))


def config(tmp_path, **updates) -> Config:
    base = {
        "train.progress": "off",
        "train_subset": 300,
        "epochs": 2,
        "out_dir": str(tmp_path),
        "run_name": "tb",
        "sizes": [784, 16, 10],
        "log": ["tensorboard"],
    }
    return with_updates(Config(), {**base, **updates})


@pytest.fixture(autouse=True)
def _needs_tensorboard():
    pytest.importorskip(
        "tensorboard",
        reason='TensorBoard logging needs the extra: pip install "gradschool[tensorboard]"',
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_scalars_match_metrics_csv_and_the_loop(tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    # A per-batch schedule, so the logged rate of each step can be checked exactly.
    cfg = config(tmp_path, engine=engine, log_histograms=True,
                 **{"schedule.name": "linear", "schedule.interval": "batch",
                    "start_factor": 0.5, "total_steps": 8, "momentum": 0.0})  # fmt: skip
    run, losses = RunDir.create(cfg), Losses()
    trainer = fit(cfg, run=run, callbacks=[losses], console=False)
    acc = accumulator(run.path)
    rows = run.read_metrics()
    for key in ("train_loss", "val_loss", "val_acc", "test_acc", "lr"):
        steps, values = scalars(acc, f"epoch/{key}")
        assert steps == [r["step"] for r in rows], key
        np.testing.assert_allclose(values, [r[key] for r in rows], rtol=1e-6, err_msg=key)
    n = rows[-1]["step"]
    steps, values = scalars(acc, "step/loss")
    assert steps == list(range(1, n + 1))
    np.testing.assert_allclose(values, losses.losses, rtol=1e-6)
    # The rate each step used: LinearLR from 0.5 lr to lr over 8 steps, then lr.
    steps, lrs = scalars(acc, "step/lr")
    want = [0.01 * (0.5 + 0.5 * min(k - 1, 8) / 8) for k in range(1, n + 1)]
    np.testing.assert_allclose(lrs, want, rtol=1e-6)
    # The last step's gradient norm is that of the gradients the model still holds.
    backend = trainer.backend
    grads = [backend.to_numpy(p.grad).astype(np.float64) for p in trainer.model.parameters()]
    norm = np.sqrt(sum((g**2).sum() for g in grads))
    assert scalars(acc, "step/grad_norm")[1][-1] == pytest.approx(norm, rel=1e-5)
    tags = acc.Tags()
    for name, _ in trainer.model.named_parameters():
        assert f"weights/{name}" in tags["tensors"] and f"grads/{name}" in tags["tensors"]
    images = acc.Images("samples/predictions")
    assert [im.step for im in images] == [r["step"] for r in rows] and images[0].width > 100
    assert "_hparams_/session_start_info" in tags["tensors"]
    assert tags["graph"]  # torch traced the model (the NumPy engine's torch twin)


def test_hyper_parameters_and_their_metrics(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    cfg = config(tmp_path, lr=0.05)
    run = RunDir.create(cfg)
    fit(cfg, run=run, console=False)
    acc = accumulator(run.path)
    (event,) = acc.Tensors("_hparams_/session_start_info")
    content = acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["lr"].number_value == pytest.approx(0.05)
    assert start.hparams["engine"].string_value == "numpy"
    content = acc.summary_metadata["_hparams_/experiment"].plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"epoch/val_loss", "epoch/test_acc"} <= metrics


def test_a_gpt_run_logs_text_samples(tmp_path):
    from tensorboard.util import tensor_util

    cfg = config(tmp_path, **{
        "model.name": "gpt", "data.dataset": "shakespeare-mini", "n_layer": 1, "n_head": 2,
        "n_embd": 16, "block_size": 16, "batch_size": 8, "eval_interval": 10,
        "eval_batches": 2, "optim.name": "adamw", "lr": 0.01, "train_subset": None,
    })  # fmt: skip
    run = RunDir.create(cfg)
    fit(cfg, run=run, console=False)
    acc = accumulator(run.path)
    texts = acc.Tensors("samples/text")
    assert [t.step for t in texts] == [10, 20]
    text = tensor_util.make_ndarray(texts[-1].tensor_proto).item().decode()
    assert len(text.replace("\n", "").replace("    ", "")) > 100
    assert [e.step for e in acc.Scalars("epoch/val_ppl")] == [10, 20]


class InterruptAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer: Trainer, row) -> None:
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_a_resumed_run_replaces_what_the_interrupted_attempt_logged(tmp_path):
    # Checkpoints at epochs 2 and 4; interrupted after epoch 3 was logged but not saved.
    cfg = config(tmp_path, epochs=4, checkpoint_every=2)
    run = RunDir.create(cfg)
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, run=run, callbacks=[InterruptAt(3)], console=False)
    first = scalars(accumulator(run.path), "epoch/train_loss")
    assert len(first[0]) == 3
    losses = Losses()
    fit(cfg, run=run, resume=True, callbacks=[losses], console=False)
    acc = accumulator(run.path)
    rows = run.read_metrics()
    steps, values = scalars(acc, "epoch/train_loss")
    assert steps == [r["step"] for r in rows]  # epoch 3 once, from the resumed attempt
    np.testing.assert_allclose(values, [r["train_loss"] for r in rows], rtol=1e-6)
    steps, values = scalars(acc, "step/loss")
    assert steps == list(range(1, rows[-1]["step"] + 1))
    np.testing.assert_allclose(values[rows[1]["step"] :], losses.losses, rtol=1e-6)


def test_without_the_package_the_flag_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    with pytest.raises(GradschoolError, match=r'pip install "gradschool\[tensorboard\]"'):
        Trainer(config(tmp_path), run=RunDir.create(config(tmp_path)), console=False)
    args = ["train", "--log", "tensorboard", "--out-dir", str(tmp_path), "--run-name", "cli"]
    assert main(args) == 1  # a missing package: the run cannot go on (not a usage error)
    assert "gradschool[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()  # no empty run folder left behind
