"""Where the time of a training step goes: the seed MLP on the NumPy engine, beside torch.

Two views of the same loop (forward + loss, zero_grad + backward, optimizer step):

1. Phases: CPU microseconds per step of each phase, for the NumPy engine and torch eager,
   in rounds that alternate the two (medians). CPU time, not wall time: on a shared machine
   it leaves out the time the process waited for a core.
2. cProfile of the NumPy engine: the functions with the most time of their own, and the same
   time grouped by where it is spent (NumPy's C functions, each engine file, the rest).

    python benchmarks/profile_mlp.py                    # batch 64, 500 steps, 1 thread
    python benchmarks/profile_mlp.py --batch-size 1 --steps 3000
    python benchmarks/profile_mlp.py --composite        # the taught path (fused mode off)

It needs nothing newer than the engine's public surface, so it also profiles an older
version of the engine: `git archive <commit> | tar -x -C /tmp/old` and run it with
`PYTHONPATH=/tmp/old` (docs/performance.md's "before" figures).
"""

from __future__ import annotations

import common

common.early_threads()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from gradschool import engine, models  # noqa: E402

SIZES = [784, 128, 64, 10]


def make(kind: str, seed: int = 0):
    """(model, optimizer, tensor maker, cross_entropy) of one engine."""
    if kind == "numpy":
        engine.manual_seed(seed)
        model = models.mlp(engine.nn, SIZES)
        optimizer = engine.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        return model, optimizer, engine.Tensor, engine.functional.cross_entropy
    import torch

    torch.manual_seed(seed)
    model = models.mlp(torch.nn, SIZES)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, optimizer, torch.from_numpy, torch.nn.functional.cross_entropy


def phases(kind: str, X, y, bs: int, steps: int) -> list[float]:
    """CPU microseconds per step: [forward + loss, zero_grad + backward, step]."""
    model, optimizer, tensor, cross_entropy = make(kind)
    clock = time.process_time
    spent = [0.0, 0.0, 0.0]
    n = len(X) // bs
    for i in range(steps):
        j = (i % n) * bs
        t0 = clock()
        loss = cross_entropy(model(tensor(X[j : j + bs])), tensor(y[j : j + bs]))
        t1 = clock()
        optimizer.zero_grad()
        loss.backward()
        t2 = clock()
        optimizer.step()
        t3 = clock()
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        spent[2] += t3 - t2
    return [1e6 * s / steps for s in spent]


def profile(X, y, bs: int, steps: int, top: int) -> None:
    model, optimizer, tensor, cross_entropy = make("numpy")
    n = len(X) // bs

    def run() -> None:
        for i in range(steps):
            j = (i % n) * bs
            loss = cross_entropy(model(tensor(X[j : j + bs])), tensor(y[j : j + bs]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    run()  # warm-up
    # NOTE: CPU time, not cProfile's default wall clock: a moment spent waiting for a core
    # would otherwise be charged to whichever function was running.
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # own time of every function
    groups: dict[str, float] = defaultdict(float)
    rows = []
    for (path, line, name), (_, calls, own, _cum, _) in stats.stats.items():
        if path == "~":  # a C function: NumPy's (ufuncs, methods) or Python's builtins
            numpy_c = "numpy" in name or "method '" in name or "ufunc" in name
            group = "NumPy C functions" if numpy_c else "Python built-ins"
        elif "gradschool" in path:
            group = "engine: " + Path(path).name
        elif "numpy" in path:
            group = "NumPy Python wrappers"
        else:
            group = "other Python"
        groups[group] += own
        rows.append((own, calls, f"{Path(path).name}:{line}({name})" if path != "~" else name))
    print(f"\ncProfile, NumPy engine, {steps} steps of batch {bs}: own time by group")
    print("(CPU time. cProfile adds a cost to every Python call, so Python's share reads high;")
    print(" a matrix product `a @ b` is no call of its own: BLAS time counts in its caller)")
    for group, own in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * own / total:5.1f}%  {1e6 * own / steps:8.1f} us/step  {group}")
    print(f"\ntop {top} functions by own time (us per step, calls per step)")
    for own, calls, where in sorted(rows, reverse=True)[:top]:
        print(f"  {1e6 * own / steps:8.1f}  {calls / steps:6.1f}  {where}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--composite", action="store_true", help="fused mode off")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (read early)")
    parser.add_argument("--quick", action="store_true", help="a few steps (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds, args.top = 5, 1, 5
    if args.composite:
        from gradschool.engine.fused import set_fused_enabled

        set_fused_enabled(False)
    try:
        import torch

        torch.set_num_threads(args.threads or torch.get_num_threads())
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    X = rng.standard_normal((max(args.batch_size * 100, 6400), 784)).astype(np.float32)
    y = rng.integers(0, 10, len(X))
    load = ", ".join(f"{x:.1f}" for x in common.load_average())
    print(f"seed MLP, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds; "
          f"{common.cpu_model()}, load average {load}; threads {args.threads}")  # fmt: skip
    runs: dict[str, list[list[float]]] = {"numpy": [], "torch": []}
    for _ in range(args.rounds + 1):  # the first round warms up
        for kind in runs:
            runs[kind].append(phases(kind, X, y, args.batch_size, args.steps))
    head = f"{'forward+loss':>13s} {'backward':>9s} {'step':>7s} {'total':>7s}"
    print(f"\n{'CPU us/step':12s} {head}")
    totals = {}
    for kind, rounds in runs.items():
        med = [statistics.median(r[k] for r in rounds[1:] or rounds) for k in range(3)]
        totals[kind] = sum(med)
        print(f"{kind:12s} {med[0]:13.0f} {med[1]:9.0f} {med[2]:7.0f} {totals[kind]:7.0f}")
    print(f"numpy / torch: {totals['numpy'] / totals['torch']:.2f}")
    profile(X, y, args.batch_size, args.steps, args.top)


if __name__ == "__main__":
    main()
