"""`gradschool bench`: run the quick speed and memory benchmarks of benchmarks/.

The benchmarks are scripts in the repository's benchmarks/ folder (each one prints its own
figures: ratios against PyTorch measured in the same run, medians over rounds). This module
only knows which to run and how: each in a fresh Python process, so that each starts with its
own thread settings and its own memory high-water mark.

    gradschool bench                  # the quick set: seed MLP, MNIST CNN, baby GPT, memory
    gradschool bench --quick          # the same in tiny mode (a few batches): a smoke test
    gradschool bench mlp_epoch --threads 2
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gradschool.errors import ConfigError, GradschoolError

# name -> (arguments of the normal quick-set run, what it measures). `--quick` replaces the
# arguments with `--quick` (a few batches).
BENCHMARKS: dict[str, tuple[list[str], str]] = {
    "mlp_epoch": (
        ["--batch-sizes", "1,64,256", "--examples", "20000", "--repeats", "3"],
        "seed MLP: NumPy engine / torch eager per epoch (batch 1, 64, 256), hand-written floor",
    ),
    "cnn_epoch": (
        ["--steps", "20", "--repeats", "3"],
        "MNIST CNN through the trainer: NumPy engine / torch per step",
    ),
    "gpt": (
        ["speed", "--steps", "10", "--repeats", "3", "--engines", "numpy,torch,plain"],
        "baby GPT through the trainer: NumPy engine and torch engine / a plain torch loop",
    ),
    "profile_steps": (
        ["--model", "gpt", "--steps", "5"],
        "GPT or CNN step: phases, the engine's nodes, torch's ops, memory per step",
    ),
    "memory": (
        ["--epochs", "1"],
        "peak memory of the seed recipe per engine, each in its own process",
    ),
    "profile_mlp": (
        ["--batch-size", "64", "--steps", "300"],
        "where a step's time goes: phases per engine and a cProfile of the NumPy engine",
    ),
    "seed_recipe": (
        ["--epochs", "1", "--skip", "seed loop"],
        "the seed recipe through gradschool (both engines) against the seed's own loop",
    ),
}
QUICK_SET = ["mlp_epoch", "cnn_epoch", "gpt", "memory"]


def benchmark_dir() -> Path:
    """benchmarks/ of the source checkout this package runs from."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (folder / "common.py").is_file():
        raise GradschoolError(
            f"gradschool bench runs the scripts in the repository's benchmarks/ folder, which "
            f"is not next to this installation ({folder} is missing). Run it from a source "
            f"checkout installed with `pip install -e .`, or run a script there directly, "
            f"e.g. python benchmarks/mlp_epoch.py --quick."
        )
    return folder


def commands(names: list[str], quick: bool, threads: int | None) -> list[list[str]]:
    """The command line of each benchmark to run."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ConfigError(
            f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}"
        )
    folder = benchmark_dir()
    out = []
    for name in names or QUICK_SET:
        args = ["--quick"] if quick else list(BENCHMARKS[name][0])
        if threads is not None:
            args += ["--threads", str(threads)]
        out.append([sys.executable, str(folder / f"{name}.py"), *args])
    return out


def run_benchmarks(names: list[str], quick: bool = False, threads: int | None = None) -> int:
    """Run them one after another, output streamed; the first failure's exit code, or 0."""
    status = 0
    for cmd in commands(names, quick, threads):
        shown = [Path(cmd[1]).relative_to(benchmark_dir().parent).as_posix(), *cmd[2:]]
        print(f"\n$ python {' '.join(shown)}")
        sys.stdout.flush()
        code = subprocess.run(cmd, cwd=benchmark_dir().parent).returncode
        status = status or code
    return status
