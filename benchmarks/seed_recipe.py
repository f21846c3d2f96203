"""The seed's recipe end to end: gradschool (both engines) against the seed's own PyTorch loop.

The seed's example (source section 4) trains an MLP 784-128-64-10 with SGD (lr 0.01,
momentum 0.9) and cross-entropy for 10 epochs. As printed it cannot run; `seed_loop` below is
that code completed in the most literal way (the missing `F` import, `net = Net()` and a
`trainloader` — a torch DataLoader over in-memory tensors, batch 64, shuffled), which is what
a learner would write. All three runs see the same normalised full-MNIST arrays, in one process,
one after another, and the script prints wall times as ratios to the seed's loop.

    python benchmarks/seed_recipe.py --data-dir ../shared/data            # full run
    python benchmarks/seed_recipe.py --data-dir ../shared/data --quick    # a few batches
"""

from __future__ import annotations

import argparse
import time

from gradschool.config import Config, with_updates
from gradschool.data.prepare import prepare_data
from gradschool.train.trainer import fit


def seed_loop(data, epochs: int, max_batches: int | None = None) -> tuple[float, float]:
    """The seed's code, completed. Returns (wall seconds, test accuracy)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F  # noqa: N812 - the import the seed forgot
    import torch.optim as optim

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 64)
            self.fc3 = nn.Linear(64, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    torch.manual_seed(0)
    dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    )
    trainloader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    for epoch in range(epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader, 0):
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if max_batches is not None and i + 1 >= max_batches:
                break
        print("Epoch: %d, Loss: %.3f" % (epoch + 1, running_loss / len(trainloader)))  # noqa: UP031 - as the seed wrote it
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = net(torch.from_numpy(data.X_test)).argmax(1).numpy()
    return seconds, float((predicted == data.y_test).mean())


def gradschool_run(config: Config, data) -> tuple[float, float]:
    start = time.perf_counter()
    trainer = fit(config, data=data, console=True)
    seconds = time.perf_counter() - start
    return seconds, trainer.state.history[-1]["test_acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a few batches (CI smoke test)")
    args = parser.parse_args()

    base = with_updates(
        Config(),
        {
            "dataset": args.dataset if not args.quick else "mnist-mini",
            "data_dir": args.data_dir,
            "epochs": 1 if args.quick else args.epochs,
            "val_fraction": 0.0,  # the seed trains on the whole training set
            "progress": "off",
            "max_steps": 5 if args.quick else None,
        },
    )
    data = prepare_data(base.data, base.train.seed)
    print(f"{len(data.y_train)} training and {len(data.y_test)} test examples")

    results = {}
    print("\n== the seed's own loop (PyTorch, DataLoader over in-memory tensors)")
    results["seed loop"] = seed_loop(data, base.train.epochs, 5 if args.quick else None)
    for engine in ("torch", "numpy"):
        print(f"\n== gradschool train --engine {engine}")
        results[f"gradschool {engine}"] = gradschool_run(
            with_updates(base, {"engine": engine}), data
        )

    reference = results["seed loop"][0]
    print(f"\n{'run':18s} {'seconds':>8s} {'ratio':>6s} {'test acc':>9s}")
    for name, (seconds, acc) in results.items():
        print(f"{name:18s} {seconds:8.1f} {seconds / reference:6.2f} {100 * acc:8.2f}%")


if __name__ == "__main__":
    main()
