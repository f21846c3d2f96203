"""CartPole-v1 with REINFORCE and A2C on both engines: evaluation return, steps and time.

Trains each (algorithm, engine, seed) with `gradschool rl train`'s defaults (plus any
`--key value` overrides given after the script's own options), evaluates the final policy on
100 fresh episodes (greedy), and prints one table. Needs the [rl] extra (gymnasium).

    OMP_NUM_THREADS=1 python benchmarks/cartpole.py
    python benchmarks/cartpole.py --algos a2c --engines torch --seeds 0 1 2 --json /tmp/cp.json

"Solved at" is the number of environment steps after which the mean return of the last 100
training episodes (sampled actions) first reached 475, CartPole-v1's threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from gradschool.apps.rl import load_rl_config  # noqa: E402
from gradschool.apps.rl_run import create_run, train_agent  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", nargs="+", default=["reinforce", "a2c"])
    parser.add_argument("--engines", nargs="+", default=["numpy", "torch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--runs", default=None, help="also save each run's directory here")
    args, overrides = parser.parse_known_args()
    rows = []
    for algo in args.algos:
        for engine in args.engines:
            for seed in args.seeds:
                config = load_rl_config(
                    None,
                    [f"--algo={algo}", f"--engine={engine}", f"--seed={seed}",
                     "--progress=off", *overrides],
                )  # fmt: skip
                run = None
                if args.runs:
                    config.train.out_dir = args.runs
                    config.train.run_name = f"cartpole-{algo}-{engine}-seed{seed}"
                    run = create_run(config)
                result = train_agent(config, run, console=False)
                ev = result.eval_returns
                row = {
                    "algo": algo,
                    "engine": engine,
                    "seed": seed,
                    "updates": result.history[-1]["step"],
                    "env_steps": result.env_steps,
                    "episodes": len(result.episodes),
                    "solved_at": result.solved_at,
                    "eval_mean": float(ev.mean()),
                    "eval_std": float(ev.std()),
                    "eval_min": float(ev.min()),
                    "train_time": result.train_time,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| algorithm | engine | seed | eval return (100 ep.) | min | env steps | "
        "solved at (steps) | training time |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        solved = "-" if r["solved_at"] is None else str(r["solved_at"])
        print(
            f"| {r['algo']} | {r['engine']} | {r['seed']} | {r['eval_mean']:.1f} ± "
            f"{r['eval_std']:.1f} | {r['eval_min']:.0f} | {r['env_steps']} | {solved} | "
            f"{r['train_time']:.0f} s |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
