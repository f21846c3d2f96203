"""The benchmarks in their tiny modes (a few batches), so that they cannot rot.

No test here asserts a time: the figures of a benchmark mean something only on a quiet machine
and as ratios measured in one run (docs/performance.md). What is checked is that each script
runs end to end and reports what it promises (a ratio per contestant, the same work done by
each engine, a peak memory per run).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

pytest.importorskip("torch")  # every benchmark compares against PyTorch


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark script as a module; restore the environment and the thread
    settings it changes (each sets 1 thread for NumPy's BLAS and torch)."""
    import torch

    from gradschool.threads import get_threads, set_threads

    before = get_threads()
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored afterwards
    yield importlib.import_module
    if before["blas"]:
        set_threads(before["blas"])
    torch.set_num_threads(before["torch"] or torch.get_num_threads())


def test_common_interleaves_and_reports_median_ratios(bench):
    common = bench("common")
    calls = []
    results = common.interleave(
        {"a": lambda: calls.append("a") or 2.0, "b": lambda: calls.append("b") or (1.0, 0.5)},
        repeats=3,
        warmup=1,
        verbose=False,
    )
    assert calls == ["a", "b"] * 4  # interleaved, the warm-up round thrown away
    assert results["a"].wall == [2.0] * 3 and results["b"].cpu == [0.5] * 3
    assert common.ratio(results, "a", "b") == 2.0
    table = common.ratio_table(results, reference="b")
    assert "a" in table and "2.00" in table
    order = []

    def factory(name):
        def build():
            order.append(f"new {name}")
            return lambda k: order.append(f"{name}{k}")

        return build

    whole, parts = common.interleave_pieces(
        {"a": factory("a"), "b": factory("b")}, pieces=2, repeats=1, verbose=False
    )
    # the warm-up runs piece 0 of fresh contestants; then the pieces alternate
    assert order == ["new a", "a0", "new b", "b0", "new a", "new b", "a0", "b0", "a1", "b1"]
    assert len(whole["a"].wall) == 1 and len(parts["b"].wall) == 2
    assert whole["a"].wall[0] == sum(parts["a"].wall)
    assert common.early_threads(None, ["x", "--threads", "3"]) == 3
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    assert common.set_threads(1) == {"blas": 1, "torch": 1}
    assert "cores" in common.machine_line()


def test_mlp_epoch_quick(bench, capsys):
    out = bench("mlp_epoch").main(["--quick", "--batch-sizes", "16", "--composite", "--trainer"])
    (batch,) = out["batches"]
    assert set(batch["ratio_wall"]) == {"numpy", "torch", "floor", "composite"}
    assert set(batch["trainer"]["ratio_wall"]) == {"numpy", "torch", "numpy-fit", "torch-fit"}
    assert batch["ratio_wall"]["torch"] == 1.0
    losses = batch["losses"]  # the same work: the same mean loss on every path
    for name in ("torch", "floor", "composite"):
        assert abs(losses[name] - losses["numpy"]) < 1e-3, name
    assert "per step" in capsys.readouterr().out


def test_cnn_epoch_quick(bench):
    out = bench("cnn_epoch").main(["--quick"])
    assert out["steps"] == 2 and set(out["median_ms_per_step"]) == {"numpy", "torch"}


def test_seed_recipe_quick(bench):
    out = bench("seed_recipe").main(["--quick", "--skip", "seed loop"])
    assert set(out["wall_s"]) == {
        "seed loop, tutorial loader",
        "seed loop @1t",
        "gradschool torch",
        "gradschool numpy",
    }
    assert all(0 <= acc[0] <= 1 for acc in out["test_acc"].values())


def test_seed_recipe_seeds_quick(bench):
    out = bench("seed_recipe").main(["--quick", "--seeds", "0,1", "--skip", "seed loop"])
    assert out["seeds"] == [0, 1] and "gradschool torch, --val-fraction 0.1" in out["test_acc"]
    assert all(len(accs) == 2 for accs in out["test_acc"].values())


def test_cifar_precision_quick(bench):
    out = bench("cifar_precision").main(["--quick"])
    assert set(out["median_ms_per_step"]) == {"fp32 NCHW", "fp32 NHWC", "bf16 NCHW", "bf16 NHWC"}
    assert out["auto"] in ("fp32", "bf16") and out["ratio_wall"]["fp32 NCHW"] == 1.0


def test_profile_mlp_quick(bench, capsys):
    bench("profile_mlp").main(["--quick"])
    out = capsys.readouterr().out
    assert "numpy / torch" in out and "engine: fused.py" in out


def test_memory_measures_the_numpy_engine_alone_in_its_own_process(bench):
    out = bench("memory").main(["--quick", "--skip", "gradschool torch,seed loop"])
    run = out["runs"]["gradschool numpy"]
    assert run["peak_rss_mib"] > 10
    assert run["result"]["imported_torch"] is False  # the NumPy engine never loads torch


def test_cli_bench_runs_a_benchmark_script():
    from gradschool.bench import commands

    (cmd,) = commands(["cnn_epoch"], quick=True, threads=1)
    assert cmd[1].endswith("cnn_epoch.py") and cmd[2:] == ["--quick", "--threads", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "gradschool", "bench", "--quick", "cnn_epoch"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "$ python benchmarks/cnn_epoch.py --quick" in proc.stdout
    assert "wall ratio" in proc.stdout


def test_cli_bench_names_an_unknown_benchmark(capsys):
    from gradschool.cli import main

    assert main(["bench", "nope"]) == 2
    assert "unknown benchmark nope" in capsys.readouterr().err


def test_profile_steps_quick(bench, capsys):
    bench("profile_steps").main(["--quick", "--model", "cnn"])
    out = capsys.readouterr().out
    assert "numpy / torch" in out and "conv2d" in out and "MB allocated per step" in out


def test_gpt_train_judges_a_target_on_the_canonical_batches(tmp_path):
    out = tmp_path / "ttl.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpt.py", "train", "--quick", "--dataset", "shakespeare-mini",
         "--target", "9", "--confirm-batches", "3", "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "judged on 3 fixed validation batches" in proc.stdout
    row = json.loads(out.read_text())["evaluations"][0]
    assert row["confirm_batches"] == 3 and row["confirm_loss"] <= 9 and row["confirm_se"] > 0


def test_round2_summary_reads_every_target(bench, tmp_path, capsys):
    """The summary of benchmarks/round2.sh on made-up results: each target, met or not."""
    files = {
        "gpt_speed.json": {
            "numpy": {"wall_s": [2.4, 2.6], "cpu_s": [2.4, 2.6]},
            "torch": {"wall_s": [2.0, 2.0], "cpu_s": [2.0, 2.0]},
            "plain": {"wall_s": [2.1, 2.1], "cpu_s": [2.1, 2.1]},
        },
        "cnn_epoch.json": {"ratio_wall": 1.7, "ratio_cpu": 1.6},
        "ttl_fast.json": {"evaluations": [
            {"step": 100, "val_loss": 2.5, "train_s": 6.0, "wall_s": 7.0},
            {"step": 200, "val_loss": 1.9, "confirm_loss": 1.87, "confirm_se": 0.004,
             "train_s": 60.0, "wall_s": 64.0},
        ]},
        "speedrun_torch.json": {"trainer": {"seconds": [3.0, 3.2], "test_acc": [0.991, 0.990]}},
        "mlp_epoch.json": {"batches": [{"batch_size": 64, "ratio_wall": {"numpy": 0.70}}]},
    }  # fmt: skip
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    summary = bench("round2_summary")
    summary.main([str(tmp_path)])
    out = {line.split("  ")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert out["GPT: torch engine / plain torch loop (CPU)"].endswith("0.95  yes")
    assert out["GPT: NumPy engine / torch engine (CPU)"].endswith("1.25  yes")
    assert out["CNN step: NumPy engine / torch (wall)"].endswith("1.70  NO")
    assert out["GPT to val loss 1.88 (fast recipe): training s"].endswith("60.0  yes")
    assert "not measured" in out["GPT to val loss 1.88 (bundled config): training s"]
    assert out["MNIST speedrun, torch: mean test accuracy %"].endswith("99.05  yes")
    assert out["seed MLP batch 64: NumPy engine / torch (wall)"].endswith("0.70  yes")
