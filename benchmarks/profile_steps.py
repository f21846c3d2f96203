"""Where a training step of the GPT or the MNIST CNN goes, op by op, on both engines.

    python benchmarks/profile_steps.py --model gpt --data-dir ../shared/data
    python benchmarks/profile_steps.py --model cnn --data-dir ../shared/data
    python benchmarks/profile_steps.py --model gpt --composite    # the taught composites
    python benchmarks/profile_steps.py --quick                    # tiny (CI)

The step is the trainer's: the bundled config (`gpt_shakespeare`, `mnist_cnn`) built by
`Trainer`, its batches, loss, clipping and optimizer, run by hand so that each phase can be
timed. Three views, CPU time (what the process spent, not what it waited for a core):

1. Phases per step: forward + loss, backward, clipping, optimizer step (medians over steps).
2. Ops: the NumPy engine's forward and backward time per kind of node (each node's
   `_make` and backward closure timed), beside torch's profiler table of the same step.
3. Memory: for the NumPy engine, the arrays each node makes (its output, its gradients) and
   the sum over nodes of the new memory each needed at its peak (tracemalloc, reset at every
   node: a lower bound of the bytes allocated per step, temporaries included); for torch,
   the bytes its profiler saw allocated by the step's ops. Fewer bytes is fewer passes
   through memory: in these models a NumPy pass over an activation costs about as much as
   the arithmetic on it.
"""

from __future__ import annotations

import common

common.early_threads()

import argparse  # noqa: E402
import importlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections import defaultdict  # noqa: E402
from typing import Any  # noqa: E402

from gradschool.config import load_config, with_updates  # noqa: E402
from gradschool.train.trainer import Trainer  # noqa: E402

CONFIGS = {"gpt": "gpt_shakespeare", "cnn": "mnist_cnn"}
QUICK = {
    "gpt": {"n_layer": 1, "n_embd": 32, "n_head": 2, "block_size": 16, "batch_size": 4,
            "dataset": "shakespeare-mini", "eval_batches": 1},
    "cnn": {"dataset": "mnist-mini", "batch_size": 16, "channels": [4, 8], "hidden": 16},
}  # fmt: skip


def make_trainer(args: argparse.Namespace, engine: str) -> Trainer:
    updates: dict[str, Any] = {"engine": engine, "progress": "off", "threads": args.threads}
    if args.model == "cnn":
        updates["val_fraction"] = 0.0
    if args.data_dir:
        updates["data_dir"] = args.data_dir
    if args.quick:
        updates.update(QUICK[args.model])
    return Trainer(with_updates(load_config(CONFIGS[args.model]), updates), console=False)


class Step:
    """One training step of a Trainer, phase by phase (the lines of Trainer.fit)."""

    def __init__(self, trainer: Trainer) -> None:
        self.t, self.batches = trainer, iter(())

    def batch(self) -> tuple[Any, Any]:
        try:
            xb, yb = next(self.batches)
        except StopIteration:
            self.batches = iter(self.t.loader)
            xb, yb = next(self.batches)
        return self.t.backend.tensor(xb), self.t.backend.tensor(yb)

    def run(self, clock: Any = time.process_time) -> list[float]:
        t, (x, y) = self.t, self.batch()
        c0 = clock()
        with t.backend.autocast(t.config.train.precision):  # bf16: forward and loss only
            loss = t.task.loss(t.backend.F, t.net(x), y)
        c1 = clock()
        t.optimizer.zero_grad()
        loss.backward()
        c2 = clock()
        clip = t.config.optim.clip_grad_norm
        if clip is not None:
            t.backend.nn.utils.clip_grad_norm_(t.model.parameters(), clip)
        c3 = clock()
        t.optimizer.step()
        if t.scheduler is not None and t.config.schedule.interval == "batch":
            t.scheduler.step()
        c4 = clock()
        return [c1 - c0, c2 - c1, c3 - c2, c4 - c3]


def phases(args: argparse.Namespace) -> None:
    print(f"\n1. phases, CPU ms per step (median of {args.steps} steps after 2 warm-up steps)")
    print(f"{'':8s} {'forward+loss':>13s} {'backward':>9s} {'clip':>7s} {'step':>7s} {'total':>7s}")
    totals = {}
    for engine in ("numpy", "torch"):
        step = Step(make_trainer(args, engine))
        runs = [step.run() for _ in range(args.steps + 2)][2:]
        med = [1e3 * statistics.median(r[k] for r in runs) for k in range(4)]
        totals[engine] = 1e3 * statistics.median(sum(r) for r in runs)
        print(f"{engine:8s} {med[0]:13.1f} {med[1]:9.1f} {med[2]:7.1f} {med[3]:7.1f} "
              f"{totals[engine]:7.1f}")  # fmt: skip
    print(f"numpy / torch: {totals['numpy'] / totals['torch']:.2f}")


def engine_ops(args: argparse.Namespace) -> None:
    """Time and memory of every node of the NumPy engine's step, by kind of node."""
    tensor = importlib.import_module("gradschool.engine.tensor")
    step = Step(make_trainer(args, "numpy"))
    step.run()
    fwd: dict[str, float] = defaultdict(float)
    bwd: dict[str, float] = defaultdict(float)
    made: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    make = tensor.Tensor._make
    state = {"last": 0.0}

    def node_peak(op: str) -> None:  # new memory at this node's peak, then start afresh
        current, top = tracemalloc.get_traced_memory()
        peak[op] += max(top - state["base"], 0)
        tracemalloc.reset_peak()
        state["base"] = tracemalloc.get_traced_memory()[0]

    def timed_make(data: Any, parents: Any, backward: Any, op: str) -> Any:
        # Forward: the time since the previous node was made is charged to this one (its
        # arithmetic ran just before its _make); Python between nodes counts too.
        now = time.process_time()
        fwd[op] += now - state["last"]
        made[op] += getattr(data, "nbytes", 0)
        node_peak(op)
        if backward is not None:
            inner = backward

            def backward(g: Any, inner: Any = inner, op: str = op) -> Any:
                c = time.process_time()
                grads = inner(g)
                bwd[op] += time.process_time() - c
                made[op] += sum(getattr(a, "nbytes", 0) for a in grads if a is not None)
                node_peak(op)
                return grads

        out = make(data, parents, backward, op)
        state["last"] = time.process_time()
        return out

    tensor.Tensor._make = staticmethod(timed_make)
    tracemalloc.start()
    try:
        for _ in range(args.steps):
            tracemalloc.reset_peak()  # the optimizer step before is not the first node's
            state["base"], state["last"] = tracemalloc.get_traced_memory()[0], time.process_time()
            step.run()
    finally:
        tensor.Tensor._make = staticmethod(make)
        tracemalloc.stop()
    n = args.steps
    print(f"\n2. NumPy engine, per kind of node: CPU ms and MB per step ({n} steps)")
    head = ("node", "forward", "backward", "arrays made", "new at peak")
    print("{:16s} {:>8s} {:>9s} {:>12s} {:>12s}".format(*head))
    rows = [(op, fwd[op], bwd[op], made[op], peak[op]) for op in fwd]
    rows.sort(key=lambda r: -(r[1] + r[2]))
    rows.append(("all nodes", *(sum(r[k] for r in rows) for k in range(1, 5))))
    for op, f, b, m, p in rows:  # ms per step, MB per step
        ms, mb = (1e3 * f / n, 1e3 * b / n), (m / n / 1e6, p / n / 1e6)
        print(f"{op:16s} {ms[0]:8.2f} {ms[1]:9.2f} {mb[0]:12.1f} {mb[1]:12.1f}")


def torch_ops(args: argparse.Namespace) -> None:
    import torch

    step = Step(make_trainer(args, "torch"))
    step.run()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True) as prof:  # fmt: skip
        for _ in range(args.steps):
            step.run()
    events = prof.key_averages()
    # Each op's own allocations (frees are recorded apart, as negative sizes).
    allocated = sum(max(e.self_cpu_memory_usage, 0) for e in prof.events())
    print(f"\n3. torch, the profiler's table ({args.steps} steps; self CPU time is per run)")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top))
    print(f"torch: {allocated / args.steps / 1e6:.1f} MB allocated per step by its ops")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(CONFIGS), default="gpt")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per view")
    parser.add_argument("--top", type=int, default=15, help="rows of torch's table")
    parser.add_argument("--composite", action="store_true", help="fused mode off")
    common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.top = 2, 5
    if args.data_dir is None and not args.quick:
        args.data_dir = str(common.DATA_DIR) if common.DATA_DIR.is_dir() else None
    if args.composite:
        from gradschool.engine.fused import set_fused_enabled

        set_fused_enabled(False)
    common.set_threads(args.threads or None)
    print(f"{CONFIGS[args.model]}: one training step, phase by phase and op by op")
    print(common.machine_line())
    phases(args)
    engine_ops(args)
    torch_ops(args)


if __name__ == "__main__":
    main()
