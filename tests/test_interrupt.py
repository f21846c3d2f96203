"""Stopping a run with Ctrl-C or SIGTERM (train/interrupt.py) and resuming it mid-epoch.

The claims under test, with real signals sent to a real `gradschool train` process:
- SIGTERM stops a run like Ctrl-C: it finishes the step, saves a checkpoint of exactly where it
  is, says how to resume, and exits 143 (Ctrl-C: 130);
- resumed, a run stopped mid-epoch equals the uninterrupted run: the same weights and the same
  metrics.csv, bit for bit on the NumPy engine (float tolerance on torch);
- the resume hint is printed only when there is a checkpoint to resume from;
- the handlers belong to the command line: `fit()` leaves a library user's own handlers alone,
  and the CLI restores the previous ones when it is done.

The test process finds the step through GRADSCHOOL_TEST_FAULT=pause:K (train/launch.py): the run
prints "paused at step K" and waits there for the signal, so the stop is at a known step.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradschool.checkpoint import load_tree
from gradschool.cli import main
from gradschool.config import Config, with_updates
from gradschool.train import interrupt
from gradschool.train.callbacks import Callback
from gradschool.train.run import RunDir
from gradschool.train.trainer import fit

# 900 training examples at batch 64: 15 batches per epoch, so step 20 is batch 5 of epoch 2.
# Dropout, a per-batch cosine schedule, early stopping and best checkpoints: every piece of
# state a resumed run must carry on exactly.
ARGS = [
    "--train-subset", "1000", "--epochs", "3", "--dropout", "0.2", "--schedule.name", "cosine",
    "--schedule.interval", "batch", "--patience", "5", "--progress", "off", "--log-every", "5",
]  # fmt: skip
TIMES = ("epoch_time", "train_time")  # wall-clock: the only columns that may differ


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _stopped_run(args: list[str], step: int, signum: int) -> subprocess.CompletedProcess:
    """`gradschool train ARGS` in a subprocess, sent `signum` once it has done `step` steps."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gradschool", "train", *args],
        env={**_env(), "GRADSCHOOL_TEST_FAULT": f"pause:{step}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith(f"paused at step {step}"):
                process.send_signal(signum)
                break
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines) + out, err)


def _weights(run: RunDir) -> dict[str, np.ndarray]:
    path = run.find_checkpoint()
    if path.suffix == ".npz":
        return load_tree(path)["model"]
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in ckpt["model"].items()}


def _metrics(run: RunDir) -> list[dict[str, str]]:
    with open(run.metrics_path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(f)]


@pytest.mark.parametrize(
    ("engine", "signum", "code"),
    [("numpy", signal.SIGTERM, 143), ("numpy", signal.SIGINT, 130), ("torch", signal.SIGTERM, 143)],
)
def test_a_run_stopped_mid_epoch_resumes_to_the_uninterrupted_result(
    tmp_path: Path, engine: str, signum: int, code: int
) -> None:
    if engine == "torch":
        pytest.importorskip("torch")
    args = [*ARGS, "--engine", engine, "--out-dir", str(tmp_path)]
    assert main(["train", *args, "--run-name", "whole"]) == 0
    whole = RunDir(tmp_path / "whole")

    stopped = _stopped_run([*args, "--run-name", "parts"], step=20, signum=signum)
    run = RunDir(tmp_path / "parts")
    assert stopped.returncode == code, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C (SIGINT)"
    assert f"Stopped by {name}. The checkpoint in {run.path} holds epoch 2, batch 5 (step 20)" in (
        stopped.stderr
    )
    assert f"continue with `gradschool train --resume {run.path}`" in stopped.stderr
    assert run.saved_position() == {"epoch": 1, "step": 20, "batch": 5}
    assert len(_metrics(run)) == 1  # the finished epoch; the second is half done

    assert main(["train", "--resume", str(run.path)]) == 0
    assert _metrics(run) == _metrics(whole)
    a, b = _weights(whole), _weights(run)
    assert a.keys() == b.keys()
    for key in a:
        if engine == "numpy":
            assert np.array_equal(a[key], b[key]), key  # bit for bit
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_a_run_stopped_before_its_first_step_leaves_nothing_and_no_resume_hint(
    tmp_path: Path,
) -> None:
    args = [*ARGS, "--out-dir", str(tmp_path), "--run-name", "early"]
    stopped = _stopped_run(args, step=0, signum=signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "before the first step: nothing was saved" in stopped.stderr
    assert "--resume" not in stopped.stderr
    assert not (tmp_path / "early").exists()


# ---- in this process: the handlers --------------------------------------------------------------


class SignalAt(Callback):
    """Sends this process `signum` after step `step` (`times` times, a second apart if asked)."""

    def __init__(self, step: int, signum: int = signal.SIGTERM, times: int = 1) -> None:
        self.step, self.signum, self.times = step, signum, times

    def on_batch_end(self, trainer, loss) -> None:
        if trainer.state.step == self.step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def small(tmp_path: Path, **updates) -> Config:
    base = {"train.progress": "off", "train_subset": 1000, "epochs": 2, "out_dir": str(tmp_path)}
    return with_updates(Config(), {**base, **updates})


def test_fit_keeps_a_library_users_own_signal_handler(tmp_path: Path) -> None:
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        trainer = fit(small(tmp_path), callbacks=[SignalAt(3)], console=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]  # the user's handler ran; training went on
    assert trainer.state.epoch == 2 and trainer.state.stop_reason is None


def test_opting_in_stops_after_the_step_and_restores_the_handlers(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    config = small(tmp_path, run_name="opt-in")
    run = RunDir.create(config)
    with pytest.raises(interrupt.Interrupted) as stop, interrupt.stop_on_signals():
        fit(config, run=run, callbacks=[SignalAt(7)], console=False)
    assert stop.value.signum == signal.SIGTERM and stop.value.checkpoint == run.find_checkpoint()
    assert interrupt.exit_code(stop.value) == 143
    assert run.saved_position() == {"epoch": 0, "step": 7, "batch": 7}
    assert {s: signal.getsignal(s) for s in interrupt.SIGNALS} == before


def test_a_second_signal_stops_at_once_keeping_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interrupt, "REPEAT_GRACE", 0.0)  # no need to wait a second between them
    config = small(tmp_path, run_name="twice")
    run = RunDir.create(config)
    with pytest.raises(interrupt.Interrupted) as stop, interrupt.stop_on_signals():
        fit(config, run=run, callbacks=[SignalAt(20, times=2)], console=False)
    assert stop.value.checkpoint is None  # abandoned inside the step: nothing new saved
    assert run.saved_position() == {"epoch": 1, "step": 15, "batch": 0}  # epoch 1's checkpoint


def test_cli_restores_the_handlers_it_installed(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    args = ["--train-subset", "200", "--epochs", "1", "--progress", "off"]
    assert main(["train", *args, "--out-dir", str(tmp_path)]) == 0
    assert {s: signal.getsignal(s) for s in interrupt.SIGNALS} == before


# ---- the loaders: skip(n) serves the rest of the epoch unchanged ------------------------------


def _loaders():
    from gradschool.data.augment import AugmentedLoader, Augmenter
    from gradschool.data.loader import DataLoader
    from gradschool.data.poisson import PoissonLoader
    from gradschool.data.text import WindowLoader

    X = np.arange(50 * 16, dtype=np.float32).reshape(50, 1, 4, 4)
    y = np.arange(50) % 3
    return {
        "shuffled": lambda: DataLoader(X, y, batch_size=8, shuffle=True, seed=3),
        "in order": lambda: DataLoader(X, y, batch_size=8),
        "a shard": lambda: DataLoader(X, y, batch_size=4, shuffle=True, rank=1, world_size=2),
        "augmented": lambda: AugmentedLoader(
            DataLoader(X, y, batch_size=8, shuffle=True), Augmenter(["shift:1", "flip"]), seed=5
        ),
        "poisson": lambda: PoissonLoader(X, y, batch_size=8, seed=1),
        "windows": lambda: WindowLoader(np.arange(300) % 7, 8, 4, num_batches=6, seed=2),
    }


@pytest.mark.parametrize("name", list(_loaders()))
@pytest.mark.parametrize("start", [0, 1, 4, 100])
def test_skip_serves_the_rest_of_the_epoch(name: str, start: int) -> None:
    make = _loaders()[name]
    whole = make()
    whole.set_epoch(2)
    expected = list(whole)[start:]
    loader = make()
    loader.set_epoch(2)
    loader.skip(start)
    got = list(loader)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        for u, v in zip(a, b):
            assert np.array_equal(u, v)
    assert loader.epoch == 3 and len(list(loader)) == len(list(whole))  # then a whole epoch


# ---- every kind of batches resumes mid-epoch bit for bit ------------------------------------


@pytest.mark.parametrize(
    ("config_name", "overrides", "step"),
    [
        # DP-SGD: Poisson batches, noise from the engine's generator (trust/dp.py)
        ("seed_mlp", ["--dp", "--dp.noise-multiplier", "1.0", "--train-subset", "1000"], 20),
        # a GPT: random text windows (data/text.py), dropout
        ("gpt_shakespeare", ["--dataset", "shakespeare-mini", "--eval-interval", "20",
                             "--eval-batches", "2", "--n-layer", "1", "--n-embd", "32",
                             "--block-size", "16", "--batch-size", "4", "--dropout", "0.1"], 27),
        # a CNN on augmented batches (data/augment.py)
        ("mnist_cnn", ["--dataset", "mnist-mini", "--train-subset", "300", "--augment",
                       "shift:2,flip", "--channels", "4,8", "--hidden", "16", "--batch-size",
                       "32"], 12),
    ],
)  # fmt: skip
def test_every_kind_of_batches_resumes_mid_epoch_bit_for_bit(
    tmp_path: Path, config_name: str, overrides: list[str], step: int
) -> None:
    from gradschool.config import load_config
    from gradschool.trust.dp import fit_for

    config = load_config(config_name, [*overrides, "--epochs", "2", "--progress", "off"])
    config = with_updates(config, {"out_dir": str(tmp_path)})
    fit_config = fit_for(config)
    whole = fit_config(config, console=False)
    parts = with_updates(config, {"run_name": "parts"})
    run = RunDir.create(parts)
    with pytest.raises(interrupt.Interrupted), interrupt.stop_on_signals():
        fit_config(parts, run=run, callbacks=[SignalAt(step)], console=False)
    assert run.saved_position()["step"] == step and run.saved_position()["batch"] > 0
    resumed = fit_config(run.load_config(), run=run, resume=True, console=False)
    for a, b in zip(whole.state.history, resumed.state.history, strict=True):
        assert {k: v for k, v in a.items() if k not in TIMES} == {
            k: v for k, v in b.items() if k not in TIMES
        }
    wa = whole.backend.state_to_numpy(whole.model.state_dict())
    wb = resumed.backend.state_to_numpy(resumed.model.state_dict())
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
