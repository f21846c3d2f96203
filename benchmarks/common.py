"""Shared helpers for the scripts in benchmarks/: threads, interleaved timing, ratios, memory.

Every benchmark here compares engines on the same work *in the same run*, because on a shared
machine absolute times move with everybody else's load. The helpers make the robust way the
easy way:

    import common                            # benchmarks/ is on sys.path when a script runs
    common.early_threads()                   # apply --threads N before NumPy / torch start
    ...
    common.set_threads(1)                    # or at run time: BLAS (OpenBLAS) and torch
    rounds = common.interleave({"numpy": run_numpy, "torch": run_torch}, repeats=5)
    print(common.ratio_table(rounds, reference="torch"))
    # long runs: common.interleave_pieces alternates the contestants every piece of the work
    print(common.machine_line())             # CPU, cores, load average, versions, threads

- `interleave` runs the contestants A, B, A, B, ... (after a warm-up round) and records wall
  and CPU seconds of each; `ratio_table` reports, per contestant, the median time and the
  median over rounds of the *per-round* ratio to the reference (each A compared with the B run
  right beside it, so a load spike that hits a round hits both).
- `peak_rss_of` runs a function in a fresh Python process and returns its peak resident memory
  (VmHWM), so each engine's peak is measured alone, without the other's allocations.

NOTE: this module imports neither NumPy nor torch at import time, so that `early_threads()`
can still set the thread variables both read when they start.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"  # the shared data sets, when present (tests, CI)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---- threads ----------------------------------------------------------------------------------


def early_threads(default: int | None = 1, argv: list[str] | None = None) -> int | None:
    """Read `--threads N` (or `--threads=N`) from the command line, else `default`, and put N
    in the environment variables NumPy's BLAS and torch read when they start. Call it before
    importing NumPy. Returns N (None: leave every library at its default, all cores).

    `--threads 0` means the libraries' defaults too.
    """
    argv = sys.argv if argv is None else argv
    value: Any = default
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        elif arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
    threads = int(value) if value not in (None, "") else None
    if threads:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    return threads or None


def blas_threads() -> int | None:
    """The number of threads NumPy's OpenBLAS uses now (None if it cannot be asked)."""
    from gradschool.threads import get_threads

    return get_threads()["blas"]


def set_threads(threads: int | None) -> dict[str, int | None]:
    """Set NumPy's BLAS threads and torch's intra-op threads to `threads`, now (None: leave
    them). Returns the settings in force afterwards: {"blas": n, "torch": n}.

    NOTE: through `gradschool.threads`, which calls OpenBLAS's own setter, so this works
    after NumPy has started; torch is imported first, so that it is set too.
    """
    from gradschool.threads import get_threads
    from gradschool.threads import set_threads as _set

    _torch()
    return _set(threads) if threads else get_threads()


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---- the machine ------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux/macOS
        return (float("nan"),) * 3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, load, memory, versions, threads."""
    import numpy as np

    torch = _torch()
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "load_average": tuple(round(x, 2) for x in load_average()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch else None,
        "threads": set_threads(None),
    }


def machine_line() -> str:
    m = machine()
    load = ", ".join(f"{x:.1f}" for x in m["load_average"])
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; load average {load} "
        f"(1/5/15 min); Python {m['python']}, NumPy {m['numpy']}, torch {m['torch']}; "
        f"threads: BLAS {m['threads']['blas']}, torch {m['threads']['torch']}"
    )


# ---- timing -----------------------------------------------------------------------------------


@dataclass
class Times:
    """One contestant's rounds: wall seconds and CPU seconds (all threads of the process)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def interleave(
    contestants: dict[str, Callable[[], Any]],
    repeats: int = 5,
    warmup: int = 1,
    verbose: bool = True,
) -> dict[str, Times]:
    """Run every contestant once per round, in turn (A, B, A, B, ...), for `warmup` rounds
    that are thrown away and then `repeats` rounds that are kept.

    A contestant may return a number of seconds to use instead of its own wall time (e.g. the
    training time a trainer measured, without its set-up), or a pair (wall, cpu) seconds to
    use instead of both (see `TrainClock`).
    """
    results = {name: Times() for name in contestants}
    for r in range(warmup + repeats):
        for name, fn in contestants.items():
            wall, cpu, value = timed(fn)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                wall = float(value)
            elif isinstance(value, tuple) and len(value) == 2:
                wall, cpu = (float(v) for v in value)
            if r >= warmup:
                results[name].wall.append(wall)
                results[name].cpu.append(cpu)
        if verbose and r >= warmup:
            line = "  ".join(f"{n} {t.wall[-1]:.3f}s" for n, t in results.items())
            print(f"  round {r - warmup + 1}/{repeats}: {line}  (load {load_average()[0]:.1f})")
    return results


def interleave_pieces(
    factories: dict[str, Callable[[], Callable[[int], Any]]],
    pieces: int,
    repeats: int = 3,
    warmup: bool = True,
    verbose: bool = True,
) -> tuple[dict[str, Times], dict[str, Times]]:
    """`interleave` for long runs (an epoch of 60,000 steps), cut into `pieces`.

    Each round builds every contestant afresh (`factory()` returns `run(k)`, which runs piece
    k of the work, keeping its state between pieces), then runs piece 0 of each contestant,
    piece 1 of each, and so on: the contestants alternate every few seconds, not every few
    minutes, so a change of the machine's load between them is rare. With `warmup`, piece 0
    of each contestant is run once first and thrown away.

    Returns (whole, parts): per contestant, the Times of the whole runs (the sum of its pieces
    in each round) and the Times of every piece (rounds one after another), whose per-piece
    ratios (`ratio(parts, a, b)`) are the robust figure.
    """
    if warmup:
        for factory in factories.values():
            factory()(0)
    whole = {name: Times() for name in factories}
    parts = {name: Times() for name in factories}
    for r in range(repeats):
        runs = {name: factory() for name, factory in factories.items()}
        for k in range(pieces):
            for name, run in runs.items():
                wall, cpu, _ = timed(lambda run=run, k=k: run(k))
                parts[name].wall.append(wall)
                parts[name].cpu.append(cpu)
        for name in factories:
            whole[name].wall.append(sum(parts[name].wall[-pieces:]))
            whole[name].cpu.append(sum(parts[name].cpu[-pieces:]))
        if verbose:
            line = "  ".join(f"{n} {t.wall[-1]:.3f}s" for n, t in whole.items())
            print(f"  round {r + 1}/{repeats}: {line}  (load {load_average()[0]:.1f})")
    return whole, parts


class TrainClock:
    """A trainer callback that adds up the wall and CPU seconds of the epochs (from each
    epoch's start to its end, the evaluation in between included: give the trainer no
    validation or test split to time training alone). `fit(..., callbacks=[clock])`, then
    return `clock.seconds` from a contestant."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._start = (0.0, 0.0)

    @property
    def seconds(self) -> tuple[float, float]:
        return self.wall, self.cpu

    # The Callback interface (gradschool.train.callbacks.Callback), written out so that this
    # module imports nothing from gradschool at import time.
    def on_setup(self, trainer: Any) -> None:
        pass

    def on_fit_start(self, trainer: Any) -> None:
        pass

    def on_before_step(self, trainer: Any) -> None:
        pass

    def on_epoch_start(self, trainer: Any) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def on_batch_end(self, trainer: Any, loss: Any) -> None:
        pass

    def on_epoch_end(self, trainer: Any, row: Any) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]

    def on_fit_end(self, trainer: Any) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def round_ratios(results: dict[str, Times], name: str, reference: str, cpu: bool = False) -> list:
    """name / reference in each round (the two were run side by side)."""
    a = results[name].cpu if cpu else results[name].wall
    b = results[reference].cpu if cpu else results[reference].wall
    return [x / y for x, y in zip(a, b)]


def ratio(results: dict[str, Times], name: str, reference: str, cpu: bool = False) -> float:
    """The median over rounds of name / reference: the figure the benchmarks report."""
    return statistics.median(round_ratios(results, name, reference, cpu))


def ratio_table(
    results: dict[str, Times],
    reference: str,
    unit: float = 1.0,
    unit_name: str = "s",
    ratios_from: dict[str, Times] | None = None,
) -> str:
    """A table: per contestant, median wall and CPU time (divided by `unit`, e.g. the number
    of steps for a time per step) and the median per-round ratios to `reference` (per-piece
    ratios when `ratios_from` gives the pieces of `interleave_pieces`)."""
    pairs = ratios_from or results
    what = "per-piece" if ratios_from else "per-round"
    lines = [
        f"{'':12s} {'wall ' + unit_name:>12s} {'cpu ' + unit_name:>12s} "
        f"{'wall ratio':>11s} {'cpu ratio':>10s}   (ratios: median of {what} ratios "
        f"to {reference})"
    ]
    for name, t in results.items():
        lines.append(
            f"{name:12s} {t.median_wall / unit:12.4g} {t.median_cpu / unit:12.4g} "
            f"{ratio(pairs, name, reference):11.2f} {ratio(pairs, name, reference, True):10.2f}"
        )
    return "\n".join(lines)


# ---- memory -----------------------------------------------------------------------------------


def peak_rss_of(module: str, function: str, kwargs: dict[str, Any], timeout: float = 3600) -> dict:
    """Run `module.function(**kwargs)` in a fresh Python process and return
    {"peak_rss_mib": ..., "result": <what the function returned, JSON>}.

    The peak is the child's high-water mark of resident memory (VmHWM from /proc, or
    ru_maxrss where /proc is absent): everything the engine, its libraries and the data held
    at the worst moment, measured alone in its own process.
    """
    code = (
        "import json, sys, importlib\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        f"mod = importlib.import_module({module!r})\n"
        f"result = getattr(mod, {function!r})(**json.loads(sys.argv[1]))\n"
        "from common import _peak_rss_mib\n"
        "print('@@RESULT@@' + json.dumps({'peak_rss_mib': _peak_rss_mib(), 'result': result}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed in its subprocess:\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@") :])
    raise RuntimeError(f"{module}.{function} printed no result:\n{proc.stdout[-3000:]}")


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (2**20 if sys.platform == "darwin" else 1024)


def write_json(path: str | None, data: Any) -> None:
    """Write a benchmark's results to `path` (its --json option); nothing when none was given."""
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1)


def add_common_arguments(parser: Any, repeats: int = 5) -> None:
    """--threads, --repeats and --quick, the same in every benchmark."""
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS and torch threads for both engines (0 = the libraries' defaults)",
    )
    parser.add_argument("--repeats", type=int, default=repeats, help="rounds kept (medians)")
    parser.add_argument("--quick", action="store_true", help="a few batches (CI smoke test)")
