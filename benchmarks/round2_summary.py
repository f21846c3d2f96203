"""The figures of benchmarks/round2.sh, read from its JSON files, against issue 22's targets.

    python benchmarks/round2_summary.py OUT_DIR                  # the table
    python benchmarks/round2_summary.py OUT_DIR --figure docs/figures/gpt_time_to_loss.png

Each figure is what one script measured (ratios: medians of per-round ratios measured in one
run; times: the runs' own clocks). A target whose input file is missing is reported as not
measured, so the script also summarises a partial run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

TARGET_LOSS = 1.88


def _load(out: Path, name: str) -> Any:
    path = out / name
    return json.loads(path.read_text()) if path.is_file() else None


def _ratio(result: dict, name: str, reference: str, key: str = "cpu_s") -> float:
    """Median over rounds of name / reference (the two ran side by side in each round)."""
    a, b = result[name][key], result[reference][key]
    return statistics.median(x / y for x, y in zip(a, b))


def time_to_target(run: dict | None, target: float = TARGET_LOSS) -> dict | None:
    """The first evaluation at or below the target: its step, training time and wall time."""
    if run is None:
        return None
    # Judged on the canonical 200 batches when the run confirmed there (--confirm-batches).
    key = "confirm_loss" if any("confirm_loss" in r for r in run["evaluations"]) else "val_loss"
    hit = next((r for r in run["evaluations"] if r.get(key, float("inf")) <= target), None)
    if hit is None:
        last = run["evaluations"][-1]
        return {"reached": False, "val_loss": last["val_loss"], "step": last["step"]}
    return {
        "reached": True,
        "step": hit["step"],
        "val_loss": hit[key],
        "val_loss_se": hit.get("confirm_se" if key == "confirm_loss" else "val_loss_se"),
        "train_s": hit["train_s"],
        "train_cpu_s": hit.get("train_cpu_s"),
        "wall_s": hit["wall_s"],
        # the run's own evaluations: the wall time outside its batch loops, leaving out the
        # benchmark's judgements on the 200 canonical batches (confirm_s)
        "eval_share": 1 - hit["train_s"] / (hit["wall_s"] - hit.get("confirm_s", 0.0)),
    }


def rows(out: Path) -> list[tuple[str, str, str, bool | None]]:
    """(target, threshold, measured, met) for every target issue 22 names."""
    table: list[tuple[str, str, str, bool | None]] = []

    def add(what: str, limit: str, value: float | None, ok: Any, fmt: str = "{:.2f}") -> None:
        shown = "not measured" if value is None else fmt.format(value)
        table.append((what, limit, shown, None if value is None else bool(ok(value))))

    speed = _load(out, "gpt_speed.json")
    if speed is not None and {"torch", "plain"} <= set(speed):
        for key, kind in (("cpu_s", "CPU"), ("wall_s", "wall")):
            add(f"GPT: torch engine / plain torch loop ({kind})", "<= 1.0",
                _ratio(speed, "torch", "plain", key), lambda v: v <= 1.0)  # fmt: skip
        if "plain-fused" in speed:
            add("GPT: torch engine / plain loop with fused AdamW (CPU)", "(loop overhead)",
                _ratio(speed, "torch", "plain-fused"), lambda v: True)  # fmt: skip
        if "numpy" in speed:
            for key, kind in (("cpu_s", "CPU"), ("wall_s", "wall")):
                add(f"GPT: NumPy engine / torch engine ({kind})", "<= 1.5",
                    _ratio(speed, "numpy", "torch", key), lambda v: v <= 1.5)  # fmt: skip
    else:
        add("GPT: torch engine / plain torch loop", "<= 1.0", None, None)
        add("GPT: NumPy engine / torch engine", "<= 1.5", None, None)
    cnn = _load(out, "cnn_epoch.json")
    add("CNN step: NumPy engine / torch (wall)", "<= 1.5", cnn and cnn["ratio_wall"],
        lambda v: v <= 1.5)  # fmt: skip
    add("CNN step: NumPy engine / torch (CPU)", "<= 1.5", cnn and cnn["ratio_cpu"],
        lambda v: v <= 1.5)  # fmt: skip
    for name, label in (("ttl_fast.json", "fast recipe"), ("ttl_current.json", "bundled config")):
        hit = time_to_target(_load(out, name))
        if hit is None or not hit["reached"]:
            add(f"GPT to val loss {TARGET_LOSS} ({label}): training s", "<= 75", None, None)
            if hit is not None:  # ran, but the target was not reached
                table[-1] = (*table[-1][:2], f"not reached ({hit['val_loss']:.3f})", False)
            continue
        add(f"GPT to val loss {TARGET_LOSS} ({label}): training s", "<= 75", hit["train_s"],
            lambda v: v <= 75, "{:.1f}")  # fmt: skip
        add(f"  ... wall s, evaluations included (step {hit['step']})", "", hit["wall_s"],
            lambda v: True, "{:.1f}")  # fmt: skip
        add(f"  ... validation loss there (+- {hit['val_loss_se'] or float('nan'):.4f})",
            f"<= {TARGET_LOSS}", hit["val_loss"], lambda v: v <= TARGET_LOSS, "{:.4f}")  # fmt: skip
        add(f"  ... share of wall time in evaluation ({label})", "< 10%",
            100 * hit["eval_share"], lambda v: v < 10, "{:.1f}%")  # fmt: skip
    for engine, limit in (("torch", 3.5), ("numpy", 15.0)):
        run = _load(out, f"speedrun_{engine}.json")
        trainer = run and run.get("trainer")
        add(f"MNIST speedrun, {engine}: mean training s (2 threads)", f"<= {limit}",
            trainer and statistics.mean(trainer["seconds"]),
            lambda v, limit=limit: v <= limit)  # fmt: skip
        add(f"MNIST speedrun, {engine}: mean test accuracy %", ">= 99.0",
            trainer and 100 * statistics.mean(trainer["test_acc"]),
            lambda v: v >= 99.0)  # fmt: skip
    # No regression: against round one's engine measured in the same run (base_*.json) when
    # there is one, else against round one's published figures (another machine).
    mlp, base = _load(out, "mlp_epoch.json"), _load(out, "base_mlp_epoch.json")
    for bs, published in ((1, 0.54), (64, 0.71), (256, 0.70)):

        def ratio(run: Any, bs: int = bs) -> float | None:
            b = next((b for b in (run or {}).get("batches", []) if b["batch_size"] == bs), None)
            return b and b["ratio_wall"]["numpy"]

        before = ratio(base) if ratio(base) is not None else published
        label = "round one's engine here" if ratio(base) is not None else "round one, AMD"
        limit = f"<= {before:.2f} ({label})"
        add(f"seed MLP batch {bs}: NumPy engine / torch (wall)", limit, ratio(mlp),
            lambda v, b=before: v <= b + 0.03)  # fmt: skip
    base_speed, base_cnn = _load(out, "base_gpt_speed.json"), _load(out, "base_cnn_epoch.json")
    if base_speed is not None and {"numpy", "torch"} <= set(base_speed):
        add("  before: GPT NumPy engine / torch (wall), round one's engine", "",
            _ratio(base_speed, "numpy", "torch", "wall_s"), lambda v: True)  # fmt: skip
    if base_cnn is not None:
        add("  before: CNN step NumPy engine / torch (wall), round one's engine", "",
            base_cnn["ratio_wall"], lambda v: True)  # fmt: skip
    return table


def figure(out: Path, path: Path) -> None:
    """Validation loss against seconds of training: the bundled config and the fast recipe."""
    from matplotlib.figure import Figure  # no pyplot: the backend stays the caller's

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for name, label in (("ttl_current.json", "bundled config (gpt_shakespeare)"),
                        ("ttl_fast.json", "fast recipe (gpt_shakespeare_fast)")):  # fmt: skip
        run = _load(out, name)
        if run is None:
            continue
        evals = run["evaluations"]
        for key, style in (("train_s", "-o"), ("wall_s", ":")):
            ax.plot([r[key] for r in evals], [r["val_loss"] for r in evals], style, ms=3,
                    label=f"{label}, {'training' if key == 'train_s' else 'wall, with evaluations'}")  # fmt: skip  # noqa: E501
    ax.axhline(TARGET_LOSS, color="grey", lw=0.8, ls="--")
    ax.axvline(75, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("seconds (one thread)")
    ax.set_ylabel("validation loss (each config's own estimate)")
    ax.set_ylim(1.6, 2.6)
    ax.legend(fontsize=7)
    ax.set_title("baby GPT on tiny Shakespeare: time to a validation loss of 1.88")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the folder round2.sh wrote")
    parser.add_argument("--figure", default=None, help="also draw the time-to-loss figure")
    args = parser.parse_args(argv)
    out = Path(args.out)
    table = rows(out)
    width = max(len(r[0]) for r in table)
    print(f"{'target':{width}s}  {'limit':>28s}  {'measured':>12s}  met")
    for what, limit, shown, ok in table:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{what:{width}s}  {limit:>28s}  {shown:>12s}  {mark}")
    if args.figure:
        figure(out, Path(args.figure))


if __name__ == "__main__":
    main()
