"""The character-level GPT on both engines: speed per iteration, and training to a loss.

    # time per training iteration of the CPU config, NumPy engine against torch, one process
    python benchmarks/gpt.py speed --data-dir ../shared/data
    # the CPU config trained to the end (2,000 iterations): validation loss, wall and CPU time
    python benchmarks/gpt.py train --engine torch --data-dir ../shared/data
    python benchmarks/gpt.py train --engine numpy --budget-min 20 --data-dir ../shared/data
    # the GPU config on one GPU, timed to a validation loss <= 1.47 (benchmarks/gpu/gpt.sh)
    python benchmarks/gpt.py train --config gpt_shakespeare_gpu --device cuda --target 1.47
    # either mode with a tiny model and a few iterations, to check the script itself
    python benchmarks/gpt.py speed --quick

`--threads N` (default 1) sets the BLAS / OpenMP threads of NumPy and torch before either
starts (benchmarks/common.py); `--threads 0` leaves the libraries' defaults. Every training run
goes through `gradschool.train.fit`, the one loop. `train` reports the loss of every evaluation
with the wall and CPU seconds since the start (evaluations included); `speed` alternates the
engines round by round and reports medians and the median per-round ratio to torch: on a
shared machine absolute times move with the load, ratios much less.
"""

from __future__ import annotations

import argparse
import time

import common

common.early_threads()

from gradschool.config import apply_overrides, load_config, with_updates  # noqa: E402
from gradschool.train.callbacks import Callback  # noqa: E402
from gradschool.train.trainer import fit  # noqa: E402

QUICK = {
    "n_layer": 1,
    "n_head": 2,
    "n_embd": 32,
    "block_size": 32,
    "batch_size": 4,
    "eval_interval": 10,
    "eval_batches": 4,
    "epochs": 2,
    "max_steps": 20,
    "warmup_steps": 5,
}


class Clock(Callback):
    """Records each evaluation with its wall and CPU times; stops at a target loss, or (with
    `stop_at_budget`) at the first evaluation past a time budget."""

    def __init__(self, target: float | None, budget_s: float | None, stop_at_budget: bool) -> None:
        self.target, self.budget_s, self.stop_at_budget = target, budget_s, stop_at_budget
        self.rows: list[dict] = []
        self.start = self.cpu_start = 0.0

    def on_fit_start(self, trainer) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, trainer, row) -> None:
        wall = time.perf_counter() - self.start
        self.rows.append(
            {
                "step": row["step"],
                "val_loss": row["val_loss"],
                "train_eval_loss": row.get("train_eval_loss"),
                "wall_s": wall,
                # CPU seconds of this process (all its threads): with one thread, about the
                # wall time the run would take on an idle core.
                "cpu_s": time.process_time() - self.cpu_start,
                "train_s": trainer.state.train_time,
            }
        )
        if self.target is not None and row["val_loss"] <= self.target:
            trainer.stop, trainer.state.stop_reason = True, f"val_loss <= {self.target}"
        if self.stop_at_budget and self.budget_s is not None and wall >= self.budget_s:
            trainer.stop, trainer.state.stop_reason = True, f"{self.budget_s:.0f} s budget"


def _config(args: argparse.Namespace, updates: dict) -> object:
    base: dict = {"progress": "off"}
    if args.data_dir:
        base["data_dir"] = args.data_dir
    if args.dataset:
        base["dataset"] = args.dataset
    if args.quick:
        base.update(QUICK)
    config = with_updates(load_config(args.config), {**base, **updates})
    # --set KEY=VALUE: any config key, parsed as on the gradschool command line.
    return apply_overrides(config, [f"--{item}" for item in args.set or []])


def speed(args: argparse.Namespace) -> dict:
    """Time per training iteration on each engine, the engines alternating round by round."""
    steps = 3 if args.quick else args.steps

    def contestant(engine: str):
        updates = {"engine": engine, "max_steps": steps, "epochs": 1, "eval_interval": steps}
        config = _config(args, {**updates, "eval_batches": 1, "warmup_steps": 0})

        def run() -> tuple[float, float]:
            clock = common.TrainClock()  # the epoch: `steps` iterations and one eval batch
            fit(config, callbacks=[clock], console=False)
            return clock.seconds

        return run

    engines = args.engines.split(",")
    rounds = common.interleave({e: contestant(e) for e in engines}, repeats=args.repeats)
    print(f"\ntime per training iteration ({steps} iterations per round, {args.repeats} rounds):")
    reference = "torch" if "torch" in engines else engines[0]
    print(common.ratio_table(rounds, reference, unit=steps / 1000, unit_name="ms"))
    return {
        engine: {"wall_s": t.wall, "cpu_s": t.cpu, "steps": steps} for engine, t in rounds.items()
    }


def train(args: argparse.Namespace) -> dict:
    """One run of the config; the loss at every evaluation, with times."""
    updates: dict = {"engine": args.engine}
    if args.device:
        updates["device"] = args.device
    config = _config(args, updates)
    budget = args.budget_min * 60 if args.budget_min else None
    clock = Clock(args.target, budget, args.stop_at_budget)
    start = time.perf_counter()
    trainer = fit(config, callbacks=[clock], console=True)
    total = time.perf_counter() - start
    rows = clock.rows
    within = [r for r in rows if budget is None or r["wall_s"] <= budget]
    best = min(within, key=lambda r: r["val_loss"]) if within else None
    hit = next((r for r in rows if args.target is not None and r["val_loss"] <= args.target), None)
    m = config.model
    print(
        f"\n{config.train.engine} engine, {m.n_layer} layers x {m.n_embd}, "
        f"{trainer.state.step} iterations, wall {total:.1f} s with setup "
        f"(training steps {trainer.state.train_time:.1f} s)"
    )
    if best is not None:
        print(
            f"  lowest validation loss{' within the budget' if budget else ''}: "
            f"{best['val_loss']:.4f} at step {best['step']} ({best['wall_s']:.1f} s wall, "
            f"{best['cpu_s']:.1f} s CPU)"
        )
    if args.target is not None:
        reached = (
            f"{hit['wall_s']:.1f} s wall ({hit['train_s']:.1f} s in training steps), "
            f"step {hit['step']}"
            if hit
            else "not reached"
        )
        print(f"  time to val loss <= {args.target}: {reached}")
    return {"evaluations": rows, "wall_s": total, "steps": trainer.state.step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["speed", "train"])
    parser.add_argument("--config", default="gpt_shakespeare", help="a bundled name or a file")
    parser.add_argument("--data-dir", default=None, help="holds tinyshakespeare/input.txt")
    parser.add_argument("--dataset", default=None, help="e.g. shakespeare-mini (embedded)")
    parser.add_argument("--set", action="append", help="any config key, e.g. --set seed=1")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    common.add_common_arguments(parser, repeats=5)
    speed_args = parser.add_argument_group("speed")
    speed_args.add_argument("--engines", default="numpy,torch")
    speed_args.add_argument("--steps", type=int, default=20, help="iterations per round")
    train_args = parser.add_argument_group("train")
    train_args.add_argument("--engine", default="torch", choices=["numpy", "torch"])
    train_args.add_argument("--device", default=None, help="torch: cpu, cuda, ...")
    train_args.add_argument("--target", type=float, default=None, help="stop at this val loss")
    train_args.add_argument(
        "--budget-min", type=float, default=None, help="report the best loss within this time"
    )
    train_args.add_argument("--stop-at-budget", action="store_true", help="and stop there")
    args = parser.parse_args()
    common.set_threads(args.threads or None)
    print(common.machine_line())
    result = speed(args) if args.mode == "speed" else train(args)
    common.write_json(args.json, {"args": vars(args), "machine": common.machine(), **result})


if __name__ == "__main__":
    main()
