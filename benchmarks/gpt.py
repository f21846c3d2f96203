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
import math
import time

import common

common.early_threads()

import numpy as np  # noqa: E402

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
    """Records each evaluation with its times; stops at a target loss, or (with
    `stop_at_budget`) at the first evaluation past a time budget.

    Times per row: `wall_s` and `cpu_s` since the start of `fit` (evaluations included);
    `train_s` (the trainer's own clock of its batch loops, wall) and `train_cpu_s` (CPU
    seconds of the batch loops alone: on one thread, about what an idle core would take for
    the training steps, whatever the machine's load).

    `confirm` (a number of batches, e.g. 200): the target is judged on that many fixed
    validation batches of `confirm_batch` windows, whatever the run's own evaluation is. A
    run's cheaper evaluation that comes within two standard errors of the target triggers
    the full one (its time counts as evaluation, not training); the run stops when the full
    estimate is at or below the target. The first 50 of the 200 canonical batches of 12
    windows are the bundled config's own 50 (the same random draws, `fixed_batches`).
    """

    def __init__(
        self,
        target: float | None,
        budget_s: float | None,
        stop_at_budget: bool,
        confirm: int | None = None,
        confirm_batch: int = 12,
    ) -> None:
        self.target, self.budget_s, self.stop_at_budget = target, budget_s, stop_at_budget
        self.confirm, self.confirm_batch = confirm, confirm_batch
        self.rows: list[dict] = []
        self.start = self.cpu_start = self.train_cpu = self.epoch_cpu = self.last_cpu = 0.0
        self.confirm_s = 0.0

    def on_fit_start(self, trainer) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_start(self, trainer) -> None:
        self.epoch_cpu = self.last_cpu = time.process_time()

    def on_batch_end(self, trainer, loss) -> None:
        self.last_cpu = time.process_time()

    def on_epoch_end(self, trainer, row) -> None:
        self.train_cpu += self.last_cpu - self.epoch_cpu
        result = {
            "step": row["step"],
            "val_loss": row["val_loss"],
            "val_loss_se": row.get("val_loss_se"),
            "train_eval_loss": row.get("train_eval_loss"),
        }
        judged = row["val_loss"]
        se = row.get("val_loss_se")
        se = se if se is not None and math.isfinite(se) else 0.0
        if self.confirm and self.target is not None and row["val_loss"] <= self.target + 2 * se:
            began = time.perf_counter()
            loss, error = canonical_val_loss(trainer, self.confirm, self.confirm_batch)
            self.confirm_s += time.perf_counter() - began
            result.update(confirm_loss=loss, confirm_se=error, confirm_batches=self.confirm)
            judged = loss
        elif self.confirm:
            judged = math.inf  # not judged on the canonical batches: cannot meet the target
        wall = time.perf_counter() - self.start
        result.update(
            wall_s=wall,
            # CPU seconds of this process (all its threads): with one thread, about the
            # wall time the run would take on an idle core.
            cpu_s=time.process_time() - self.cpu_start,
            train_s=trainer.state.train_time,
            train_cpu_s=self.train_cpu,
            # wall seconds of the canonical-batch judgements so far: the benchmark's own, not
            # the run's (left out of the run's evaluation share)
            confirm_s=self.confirm_s,
        )
        self.rows.append(result)
        if self.target is not None and judged <= self.target:
            trainer.stop, trainer.state.stop_reason = True, f"val_loss <= {self.target}"
        if self.stop_at_budget and self.budget_s is not None and wall >= self.budget_s:
            trainer.stop, trainer.state.stop_reason = True, f"{self.budget_s:.0f} s budget"


def canonical_val_loss(trainer, batches: int, batch: int) -> tuple[float, float]:
    """(mean, standard error) of the loss over `batches` fixed validation batches of `batch`
    windows of the model's context: the same windows for every run and recipe."""
    import numpy as np

    from gradschool.data.text import fixed_batches

    task, backend, model = trainer.task, trainer.backend, trainer.model
    windows = fixed_batches(task.data.val_ids, task.block_size, batch, batches, 0)
    was_training = model.training
    model.eval()
    losses = []
    with backend.no_grad():
        for x, y in windows:
            losses.append(task.loss(backend.F, model(backend.tensor(x)), backend.tensor(y)))
    model.train(was_training)
    values = np.array([float(backend.to_numpy(loss)) for loss in losses])
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


# ---- the plain torch contestant: the same model and recipe, written the textbook way ---------


def plain_gpt(torch, vocab_size: int, n_layer: int, n_head: int, n_embd: int, block_size: int,
              bias: bool, gelu: str = "tanh"):  # fmt: skip
    """The GPT of `gradschool.models.gpt` written in plain torch.nn, as nanoGPT's model.py
    writes it (same layers, same parameter names, same GPT-2 initialisation), so that
    `plain.load_state_dict(gradschool_model.state_dict())` makes the two the same function.
    `gelu` is "tanh" (gradschool's model) or "none" (nanoGPT's exact GELU)."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.gelu = nn.GELU(approximate=gelu)
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd, bias=bias)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight  # weight tying
            for name, p in self.named_parameters():
                if p.dim() == 2:  # GPT-2's initialisation
                    std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                    nn.init.normal_(p, mean=0.0, std=std)
                elif "ln" not in name:
                    nn.init.zeros_(p)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    return GPT()


def plain_lr(config, step: int) -> float:
    """nanoGPT's get_lr, for the config's schedule: a linear warm-up from
    warmup_start_factor * lr, then a cosine from lr to min_lr at max_steps."""
    s, lr = config.schedule, config.optim.lr
    if step < s.warmup_steps:
        f = s.warmup_start_factor
        return lr * (f + (1 - f) * step / s.warmup_steps)
    T = max((config.train.max_steps or 1) - s.warmup_steps, 1)
    t = min(step - s.warmup_steps, T)
    return s.min_lr + (lr - s.min_lr) * (1 + math.cos(math.pi * t / T)) / 2


class PlainLoop:
    """The textbook torch loop over `plain_gpt`: batches of random windows drawn as gradschool
    draws them (the same generator and windows), AdamW, clipping at 1.0, the learning rate
    set per step (nanoGPT's get_lr). `run(steps)` returns (wall, CPU) seconds of the steps."""

    def __init__(self, config, gelu: str | None = None, fused_adamw: bool = False) -> None:
        import torch

        from gradschool.data.text import load_corpus, prepare_text, random_starts, windows

        self.torch, self.config = torch, config
        d, m, o = config.data, config.model, config.optim
        text, _ = load_corpus(d.dataset, d.data_dir, d.download, d.text_file)
        self.data = prepare_text(text, d.val_fraction, "")
        torch.manual_seed(config.train.seed)
        gelu = gelu or ("none" if m.gelu == "exact" else "tanh")  # default: the config's
        self.model = plain_gpt(torch, self.data.vocab_size, m.n_layer, m.n_head, m.n_embd,
                               m.block_size, m.bias, gelu)  # fmt: skip
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=o.lr,
            betas=tuple(o.betas),
            weight_decay=o.weight_decay,
            **({"fused": True} if fused_adamw else {}),
        )
        self.rng = np.random.default_rng([config.train.seed, 0, 0])
        self.draw = lambda: windows(
            self.data.train_ids,
            random_starts(self.rng, len(self.data.train_ids), m.block_size, d.batch_size),
            m.block_size,
        )
        self.step_count = 0
        self.losses: list[float] = []

    def run(self, steps: int) -> tuple[float, float]:
        torch, F = self.torch, self.torch.nn.functional
        model, optimizer, clip = self.model, self.optimizer, self.config.optim.clip_grad_norm
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            xb, yb = self.draw()
            x, y = torch.from_numpy(xb).long(), torch.from_numpy(yb).long()
            lr = plain_lr(self.config, self.step_count)
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            self.step_count += 1
        self.losses.append(loss.item())  # one read-back, at the end
        return time.perf_counter() - wall, time.process_time() - cpu


class StepClock(Callback):
    """Wall and CPU seconds from an epoch's start to its last batch's end: the training steps
    alone (no evaluation, which `fit` runs after the last batch)."""

    def __init__(self) -> None:
        self.start = self.end = (0.0, 0.0)

    def on_epoch_start(self, trainer) -> None:
        self.start = (time.perf_counter(), time.process_time())

    def on_batch_end(self, trainer, loss) -> None:
        self.end = (time.perf_counter(), time.process_time())

    @property
    def seconds(self) -> tuple[float, float]:
        return self.end[0] - self.start[0], self.end[1] - self.start[1]


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
    """Time per training iteration of each contestant, alternating round by round.

    Contestants: `numpy` and `torch` (gradschool's engines through `fit`, the one loop) and
    `plain` (PlainLoop: the same model written in plain torch.nn, the textbook loop with
    torch's default AdamW); `plain-fused` is that loop with torch's fused AdamW (what
    gradschool's torch engine uses), `plain-exact` with nanoGPT's exact GELU. Each round
    times the training steps alone (`fit`'s evaluation after the last batch is left out)."""
    steps = 3 if args.quick else args.steps

    def contestant(name: str):
        engine = "torch" if name.startswith("plain") else name
        updates = {"engine": engine, "max_steps": steps, "epochs": 1, "eval_interval": steps}
        config = _config(args, {**updates, "eval_batches": 1, "warmup_steps": 0})
        if name.startswith("plain"):
            loop = PlainLoop(
                config,
                gelu="none" if name == "plain-exact" else None,
                fused_adamw=name == "plain-fused",
            )
            return lambda: loop.run(steps)

        def run() -> tuple[float, float]:
            clock = StepClock()
            fit(config, callbacks=[clock], console=False)
            return clock.seconds

        return run

    engines = args.engines.split(",")
    rounds = common.interleave({e: contestant(e) for e in engines}, repeats=args.repeats)
    print(f"\ntime per training iteration ({steps} iterations per round, {args.repeats} rounds):")
    reference = next((e for e in ("plain", "torch") if e in engines), engines[0])
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
    clock = Clock(args.target, budget, args.stop_at_budget, args.confirm_batches)
    start = time.perf_counter()
    trainer = fit(config, callbacks=[clock], console=True)
    total = time.perf_counter() - start
    rows = clock.rows
    within = [r for r in rows if budget is None or r["wall_s"] <= budget]
    best = min(within, key=lambda r: r["val_loss"]) if within else None
    judged = "confirm_loss" if args.confirm_batches else "val_loss"
    hit = next(
        (r for r in rows if args.target is not None and r.get(judged, math.inf) <= args.target),
        None,
    )
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
            f"{hit['wall_s']:.1f} s wall ({hit['train_s']:.1f} s in training steps, "
            f"{hit['train_cpu_s']:.1f} s CPU), step {hit['step']}"
            if hit
            else "not reached"
        )
        print(f"  time to val loss <= {args.target}: {reached}")
        if hit and args.confirm_batches:
            print(
                f"  judged on {args.confirm_batches} fixed validation batches of 12 windows: "
                f"{hit['confirm_loss']:.4f} +- {hit['confirm_se']:.4f} (standard error)"
            )
    return {"evaluations": rows, "wall_s": total, "steps": trainer.state.step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=["speed", "train"], default="speed")
    parser.add_argument("--config", default="gpt_shakespeare", help="a bundled name or a file")
    parser.add_argument("--data-dir", default=None, help="holds tinyshakespeare/input.txt")
    parser.add_argument("--dataset", default=None, help="e.g. shakespeare-mini (embedded)")
    parser.add_argument("--set", action="append", help="any config key, e.g. --set seed=1")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    common.add_common_arguments(parser, repeats=5)
    speed_args = parser.add_argument_group("speed")
    speed_args.add_argument(
        "--engines",
        default="numpy,torch,plain",
        help="of numpy, torch, plain, plain-fused, plain-exact",
    )
    speed_args.add_argument("--steps", type=int, default=20, help="iterations per round")
    train_args = parser.add_argument_group("train")
    train_args.add_argument("--engine", default="torch", choices=["numpy", "torch"])
    train_args.add_argument("--device", default=None, help="torch: cpu, cuda, ...")
    train_args.add_argument("--target", type=float, default=None, help="stop at this val loss")
    train_args.add_argument(
        "--budget-min", type=float, default=None, help="report the best loss within this time"
    )
    train_args.add_argument("--stop-at-budget", action="store_true", help="and stop there")
    train_args.add_argument(
        "--confirm-batches",
        type=int,
        default=None,
        help="judge --target on this many fixed validation batches of 12 windows (e.g. 200)",
    )
    args = parser.parse_args()
    if args.data_dir is None and args.dataset is None:
        # The shared data directory when there is one (tests, benchmarks), else the corpus
        # embedded in gradschool (a fresh machine, `gradschool bench`).
        shared = common.DATA_DIR / "tinyshakespeare"
        args.data_dir, args.dataset = (
            (str(common.DATA_DIR), None) if shared.is_dir() else (None, "shakespeare-mini")
        )
    common.set_threads(args.threads or None)
    print(common.machine_line())
    result = speed(args) if args.mode == "speed" else train(args)
    common.write_json(args.json, {"args": vars(args), "machine": common.machine(), **result})


if __name__ == "__main__":
    main()
