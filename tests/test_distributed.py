"""Data-parallel training (gradschool/distributed.py) with real torchrun processes over gloo.

The claim under test: N processes at batch B follow the same trajectory as one process at batch
N*B (same initial weights, same data order), and a checkpoint moves freely between the two.
Every distributed run here is a real `gradschool train --nproc 2` (torchrun, two processes,
gloo on the CPU) on a tiny slice of the embedded MNIST set, so the file stays well under a
minute even on two shared cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover - every desktop build has it
    pytest.skip("this PyTorch has no torch.distributed", allow_module_level=True)

from gradschool import distributed  # noqa: E402
from gradschool.cli import main  # noqa: E402
from gradschool.config import load_config  # noqa: E402
from gradschool.errors import GradschoolError  # noqa: E402
from gradschool.train import launch  # noqa: E402
from gradschool.train.run import RunDir  # noqa: E402
from gradschool.train.trainer import fit  # noqa: E402

# 640 training examples, no validation split: 10 global batches of 64 per epoch, so two epochs
# are 20 optimizer steps. The test set is measured each epoch (rank 0 only).
COMMON = [
    "--engine", "torch", "--device", "cpu", "--train-subset", "640", "--val-fraction", "0",
    "--lr", "0.05", "--progress", "off",
]  # fmt: skip
ATOL, RTOL = 1e-5, 1e-4  # float32: the two runs sum the same gradients in different orders


def _gradschool(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m gradschool ARGS` in a fresh process (its --nproc starts torchrun)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "gradschool", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _single(out: Path, name: str, epochs: int, batch_size: int = 64) -> RunDir:
    """A one-process run through the CLI's own code, in this process."""
    overrides = [*COMMON, "--batch-size", str(batch_size), "--epochs", str(epochs)]
    assert main(["train", *overrides, "--out-dir", str(out), "--run-name", name]) == 0
    return RunDir(out / name)


def _weights(run: RunDir) -> dict[str, np.ndarray]:
    ckpt = torch.load(run.find_checkpoint(), map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in ckpt["model"].items()}


def _state(run: RunDir) -> dict:
    return torch.load(run.find_checkpoint(), map_location="cpu", weights_only=True)["state"]


def _assert_same_weights(a: RunDir, b: RunDir) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_allclose(wa[key], wb[key], atol=ATOL, rtol=RTOL, err_msg=key)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunDir]:
    """Two torchrun launches and three single-process runs, shared by the tests below."""
    out = tmp_path_factory.mktemp("ddp")
    runs = {
        "single2": _single(out, "single2", epochs=2),
        "single3": _single(out, "single3", epochs=3),
    }
    # 2 processes x batch 32, 2 epochs = 20 steps of global batch 64.
    result = _gradschool(
        [
            "train",
            *COMMON,
            "--nproc",
            "2",
            "--batch-size",
            "32",
            "--epochs",
            "2",
            "--out-dir",
            str(out),
            "--run-name",
            "ddp2",
        ],  # fmt: skip
        cwd=out,
    )
    runs["ddp2"] = RunDir(out / "ddp2")
    runs["ddp2_stdout"] = result.stdout
    # A single-process checkpoint resumed in 2 processes for a third epoch.
    shutil.copytree(out / "single2", out / "single2_then_ddp")
    _gradschool(
        [
            "train",
            "--resume",
            str(out / "single2_then_ddp"),
            "--nproc",
            "2",
            "--batch-size",
            "32",
            "--epochs",
            "3",
        ],  # fmt: skip
        cwd=out,
    )
    runs["single2_then_ddp"] = RunDir(out / "single2_then_ddp")
    # The 2-process checkpoint resumed in one process at the same global batch.
    shutil.copytree(out / "ddp2", out / "ddp2_then_single")
    resumed = ["train", "--resume", str(out / "ddp2_then_single"), "--nproc", "1"]
    assert main([*resumed, "--batch-size", "64", "--epochs", "3"]) == 0
    runs["ddp2_then_single"] = RunDir(out / "ddp2_then_single")
    return runs


def test_two_processes_at_batch_32_match_one_at_batch_64(runs: dict) -> None:
    ddp, single = runs["ddp2"], runs["single2"]
    assert _state(ddp)["step"] == _state(single)["step"] == 20
    _assert_same_weights(ddp, single)
    # The logged training loss is the mean over both processes: the one-process loss.
    for a, b in zip(ddp.read_metrics(), single.read_metrics()):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1e-9)


def test_only_rank_0_writes(runs: dict) -> None:
    stdout, run = runs["ddp2_stdout"], runs["ddp2"]
    assert stdout.count("Epoch: 2, Loss:") == 1  # one console line per epoch, not two
    assert "2 processes" in stdout
    info = run.read_info()
    assert info["processes"] == 2 and info["device"] == "cpu"
    assert run.load_config().train.nproc == 2
    # rank 1 created no run directory of its own
    assert sorted(p.name for p in run.path.parent.iterdir() if p.name.startswith("ddp2")) == [
        "ddp2",
        "ddp2_then_single",
    ]


def test_distributed_checkpoint_resumes_in_one_process(runs: dict) -> None:
    resumed, straight = runs["ddp2_then_single"], runs["single3"]
    assert _state(resumed)["step"] == 30
    _assert_same_weights(resumed, straight)
    assert [r["epoch"] for r in resumed.read_metrics()] == [1, 2, 3]


def test_single_process_checkpoint_resumes_in_two(runs: dict) -> None:
    resumed, straight = runs["single2_then_ddp"], runs["single3"]
    assert _state(resumed)["step"] == 30
    _assert_same_weights(resumed, straight)
    assert resumed.load_config().train.nproc == 2  # the resumed settings are kept


# ---- without launching: the pieces, and the errors -------------------------------------------


def test_outside_torchrun_nothing_is_distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(var, raising=False)
    assert not distributed.launched()
    assert distributed.current() is None
    config = load_config("seed_mlp", ["--engine", "torch"])
    with distributed.process_group(config.train.device) as group:
        assert group is None
    trainer = fit(load_config("seed_mlp", [*COMMON, "--max-steps", "2"]), console=False)
    assert trainer.backend.world_size == 1 and trainer.net is trainer.model


def test_torchrun_command_ends_torchruns_options() -> None:
    command = launch.torchrun_command(4, ["train", "--nproc", "4", "--monitor", "val_acc"])
    assert command[1:3] == ["-m", "torch.distributed.run"]
    assert "--nproc_per_node=4" in command and "--standalone" in command
    # "--" before gradschool's own arguments, or torchrun reads --nproc as its --nproc-per-node
    assert command[command.index("gradschool") + 1] == "--"


def test_cli_drops_a_leading_double_dash(capsys: pytest.CaptureFixture) -> None:
    assert main(["--", "data", "list"]) == 0
    assert "mnist-mini" in capsys.readouterr().out


def test_nproc_needs_the_torch_engine(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--nproc", "2"]) == 2  # the NumPy engine is the default
    err = capsys.readouterr().err
    assert "train.nproc = 2 needs the torch engine" in err and "--engine torch" in err
    with pytest.raises(GradschoolError, match="NumPy engine trains in one process"):
        launch.launch(2, ["train"], engine="numpy")


def test_a_loader_that_does_not_shard_is_refused() -> None:
    class WindowLoader:  # like a language-model loader that knows nothing of ranks
        pass

    distributed.check_sharded(WindowLoader(), 1)  # one process: anything goes
    with pytest.raises(GradschoolError, match="not split among the 2 processes"):
        distributed.check_sharded(WindowLoader(), 2)


def test_a_last_batch_too_small_to_share_is_dropped(caplog) -> None:
    from gradschool.data.loader import DataLoader

    X = np.zeros((65, 2), dtype=np.float32)  # 64 + 1: the last global batch has 1 example
    shards = [DataLoader(X, batch_size=32, rank=r, world_size=2) for r in (0, 1)]
    with caplog.at_level("WARNING", logger="gradschool"):
        for loader in shards:
            distributed.check_sharded(loader, 2)
    assert len(caplog.records) == 2  # one per process's loader
    for record in caplog.records:
        assert record.name == "gradschool.distributed" and record.levelname == "WARNING"
        assert "too few to give each of the 2 processes one" in record.getMessage()
    assert [len(loader) for loader in shards] == [1, 1]
    assert [len(xb) for loader in shards for (xb,) in loader] == [32, 32]
    even = DataLoader(np.zeros((66, 2)), batch_size=32, rank=0, world_size=2)  # 64 + 2
    distributed.check_sharded(even, 2)
    assert len(even) == 2 and not even.drop_last


# ---- a process that dies, a group that restarts, a launcher that is stopped --------------------
# GRADSCHOOL_TEST_FAULT (train/launch.py): kill:R:K makes rank R SIGKILL itself after step K in
# the group's first attempt; pause:K makes every rank wait after step K for a signal.


def _run_until(args: list[str], cwd: Path, fault: str, signal_on: str | None = None):
    """`python -m gradschool ARGS` with a fault; with `signal_on`, SIGTERM it (the launcher)
    once that line appears. Returns (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", GRADSCHOOL_TEST_FAULT=fault)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        [sys.executable, "-m", "gradschool", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        if signal_on is not None:
            for line in process.stdout:
                seen.append(line)
                if line.startswith(signal_on):
                    process.send_signal(signal.SIGTERM)
                    break
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    return process.returncode, "".join(seen) + out, err


DDP2 = [*COMMON, "--nproc", "2", "--batch-size", "32", "--epochs", "2"]


def test_a_dead_process_fails_the_run_in_one_paragraph_and_its_checkpoint_loads(
    runs: dict, tmp_path: Path
) -> None:
    args = ["train", *DDP2, "--out-dir", str(tmp_path), "--run-name", "dead"]
    code, out, err = _run_until(args, tmp_path, fault="kill:1:13")  # epoch 2, batch 3
    run = RunDir(tmp_path / "dead")
    assert code != 0, out[-2000:] + err[-2000:]
    paragraph = next(line for line in err.splitlines() if "error:" in line)
    assert "process rank 1 of the 2 was killed by signal 9 (SIGKILL)" in paragraph
    assert f"The last checkpoint in {run.path}, at the end of epoch 1 (step 10)" in paragraph
    assert f"`gradschool train --resume {run.path}`" in paragraph and "--max-restarts" in paragraph
    assert "Traceback" not in err  # rank 0 says in one line that it lost its peer
    # Loadable: resumed in one process at the same global batch, it ends where an
    # uninterrupted run ends.
    resumed = ["train", "--resume", str(run.path), "--nproc", "1", "--batch-size", "64"]
    assert main(resumed) == 0
    _assert_same_weights(run, runs["single2"])


def test_max_restarts_restarts_the_group_from_the_last_checkpoint(
    runs: dict, tmp_path: Path
) -> None:
    args = ["train", *DDP2, "--max-restarts", "1", "--out-dir", str(tmp_path), "--run-name", "r"]
    code, out, err = _run_until(args, tmp_path, fault="kill:1:13")
    assert code == 0, out[-2000:] + err[-3000:]
    run = RunDir(tmp_path / "r")
    assert f"Resuming {run.path} from the end of epoch 1 (step 10) (restart 1:" in out
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["r"]  # one run folder
    assert run.load_config().train.max_restarts == 1
    assert _state(run)["step"] == 20
    _assert_same_weights(run, runs["ddp2"])
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2]


def test_sigterm_to_the_launcher_stops_every_process_after_the_same_step(
    runs: dict, tmp_path: Path
) -> None:
    args = ["train", *DDP2, "--out-dir", str(tmp_path), "--run-name", "term"]
    code, out, err = _run_until(args, tmp_path, fault="pause:13", signal_on="paused at step 13")
    run = RunDir(tmp_path / "term")
    assert code == 143, out[-2000:] + err[-3000:]
    assert f"The checkpoint in {run.path} holds epoch 2, batch 3 (step 13)" in err
    assert f"continue with `gradschool train --resume {run.path}`" in err
    assert run.saved_position() == {"epoch": 1, "step": 13, "batch": 3}
    resumed = ["train", "--resume", str(run.path), "--nproc", "1", "--batch-size", "64"]
    assert main(resumed) == 0
    _assert_same_weights(run, runs["single2"])
