"""What privacy costs in time: a DP-SGD step against a plain SGD step, same model, same batch.

Both contestants run the training loop's step on the model of `configs/mnist_dp.toml` (the
small tanh CNN, batch 512 of full MNIST, or of the embedded slice without --data-dir):

    plain:  forward, loss, backward, optimizer step
    dp:     the same, plus the per-example gradients (hooks + per-layer rules), per-example
            clipping, the Gaussian noise (DPSGD.privatize) - and Poisson-sampled batches

interleaved round by round (benchmarks/common.py), so load on this shared machine hits both
alike; the figure is the median over rounds of the per-round time ratio dp / plain.

    python benchmarks/dp_overhead.py --data-dir ../shared/data                 # both engines
    python benchmarks/dp_overhead.py --engine torch --steps 20 --repeats 7
"""

from __future__ import annotations

import argparse

import common

common.early_threads(1)  # one thread: on a shared 2-core machine, more threads only contend

from gradschool.config import load_config  # noqa: E402
from gradschool.train.trainer import Trainer  # noqa: E402
from gradschool.trust.dp import private_training  # noqa: E402


def make_step(engine: str, dp: bool, data_dir: str | None, batch: int):
    overrides = ["--engine", engine, "--device", "cpu", "--batch-size", str(batch)]
    overrides += ["--progress", "off", "--epochs", "1"]
    overrides += ["--data-dir", data_dir] if data_dir else ["--dataset", "mnist-mini"]
    overrides += [] if dp else ["--no-dp"]
    config = load_config("mnist_dp", overrides)
    if dp:  # DP-SGD's task (Poisson batches) and callback (clipping and noise before the step)
        config, task, steps = private_training(config)
        trainer = Trainer(config, task=task, callbacks=[steps], console=False)
    else:
        trainer = Trainer(config, console=False)
    backend, model, optimizer = trainer.backend, trainer.model, trainer.optimizer
    F = backend.F
    batches = iter(())

    def step() -> None:
        nonlocal batches
        try:
            xb, yb = next(batches)
        except StopIteration:
            batches = iter(trainer.loader)
            xb, yb = next(batches)
        loss = F.cross_entropy(model(backend.tensor(xb)), backend.tensor(yb))
        optimizer.zero_grad()
        loss.backward()
        for cb in trainer.callbacks:  # what the loop does between backward and step
            cb.on_before_step(trainer)
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="holds mnist/ (else the embedded slice)")
    parser.add_argument("--engine", choices=["numpy", "torch", "both"], default="both")
    parser.add_argument("--batch", type=int, default=512, help="(expected) batch size")
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds kept (after a warm-up)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    engines = ["numpy", "torch"] if args.engine == "both" else [args.engine]
    print(common.machine_line())
    for engine in engines:
        steps = {
            name: make_step(engine, name == "dp", args.data_dir, args.batch)
            for name in ("plain", "dp")
        }
        runs = {name: _repeat(step, args.steps) for name, step in steps.items()}
        print(f"\n{engine} engine: {args.steps} steps of batch {args.batch} per round")
        rounds = common.interleave(runs, repeats=args.repeats)
        print(common.ratio_table(rounds, reference="plain", unit=args.steps, unit_name="s/step"))


def _repeat(step, n: int):
    def run() -> None:
        for _ in range(n):
            step()

    return run


if __name__ == "__main__":
    main()
