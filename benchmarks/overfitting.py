"""The overfitting demonstration, and what augmentation costs per batch.

    python benchmarks/overfitting.py                     # both configs, table + figure
    python benchmarks/overfitting.py --engine torch      # the same on PyTorch
    python benchmarks/overfitting.py --aug-cost-only     # just the augmentation timing

Part 1 trains `overfit_demo` (a wide MLP on 1,000 images, no regularization) and
`overfit_regularized` (the same with weight decay, dropout, augmentation and early stopping)
through the one training loop, and reports each final model's training and validation
accuracy - the gap between them is the overfitting - and draws both runs' curves in one
figure (plots.plot_overfitting). The test split is not loaded: this compares training with
validation only.

Part 2 times one augmented batch against one training step of the seed's MLP on the NumPy
engine, measured in the same process; the result is a ratio (medians of repeated timings: the
machine may be shared, so expect noise).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from gradschool import plots
from gradschool.config import Config, load_config, with_updates
from gradschool.data.augment import Augmenter, batch_rng
from gradschool.data.prepare import prepare_data
from gradschool.train.trainer import Trainer, fit

CONFIGS = {"no regularization": "overfit_demo", "regularized": "overfit_regularized"}


def demo(engine: str, epochs: int | None, figure: Path) -> None:
    histories = {}
    print(f"{'run':20s} {'epochs':>6s} {'train acc':>10s} {'val acc':>8s} {'gap':>6s}  stop")
    for label, name in CONFIGS.items():
        updates = {"engine": engine, "progress": "off"}
        if epochs is not None:
            updates["epochs"] = epochs
        config = with_updates(load_config(name), updates)
        data = prepare_data(config.data, config.train.seed, with_test=False)
        trainer = fit(config, data=data, console=False)
        # The final model (for the regularized run: the best epoch's, restored).
        train = trainer.evaluate(data.X_train, data.y_train)["acc"]
        val = trainer.evaluate(data.X_val, data.y_val)["acc"]
        histories[f"{label} ({name})"] = trainer.state.history
        stop = trainer.state.stop_reason or "all epochs"
        restored = [getattr(cb, "restored_epoch", None) for cb in trainer.callbacks]
        restored = [e for e in restored if e is not None]
        if restored:
            stop += f"; weights of epoch {restored[0]} restored"
        print(
            f"{label:20s} {trainer.state.epoch:6d} {100 * train:9.2f}% {100 * val:7.2f}% "
            f"{100 * (train - val):6.2f}  {stop}",
            flush=True,
        )
    path = plots.plot_overfitting(
        histories, figure, title="1,000 MNIST images, MLP 784-1024-1024-10"
    )
    print(f"figure: {path}")


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def augmentation_cost(repeats: int = 50) -> None:
    """Median time of one augmented batch / one training step of the seed MLP (NumPy engine)."""
    trainer = Trainer(with_updates(Config(), {"progress": "off", "train_subset": 2000}),
                      console=False)  # fmt: skip
    backend, model, F = trainer.backend, trainer.model, trainer.backend.F
    xb, yb = next(iter(trainer.loader))  # (64, 1, 28, 28)

    def step() -> None:
        loss = F.cross_entropy(model(backend.tensor(xb)), backend.tensor(yb))
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()

    step_s = _median_seconds(step, repeats)
    rng = np.random.default_rng(0)
    colour = rng.normal(size=(64, 3, 32, 32)).astype(np.float32)  # a CIFAR-10-sized batch
    cases = [
        (["shift:2"], xb),
        (["rotate:10"], xb),
        (["shift:2", "rotate:10"], xb),
        (["crop:4", "flip"], colour),
    ]
    print(f"\none training step of the seed MLP (batch 64, NumPy engine): {1e3 * step_s:.2f} ms")
    print(f"{'augmentation':28s} {'batch':>18s} {'ms':>7s} {'/ step':>7s}")
    for specs, X in cases:
        aug = Augmenter(specs)
        seconds = _median_seconds(lambda a=aug, X=X: a(X, batch_rng(0, 0, 0)), repeats)
        shape = "x".join(map(str, X.shape))
        print(f"{str(specs):28s} {shape:>18s} {1e3 * seconds:7.2f} {seconds / step_s:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["numpy", "torch"], default="numpy")
    parser.add_argument("--epochs", type=int, default=None, help="override both configs")
    parser.add_argument("--figure", default="docs/figures/overfitting.png")
    parser.add_argument("--aug-cost-only", action="store_true")
    args = parser.parse_args()
    if not args.aug_cost_only:
        demo(args.engine, args.epochs, Path(args.figure))
    augmentation_cost()


if __name__ == "__main__":
    main()
