"""The seed's recipe end to end: gradschool (both engines) against the seed's own PyTorch loop.

The seed's example (source section 4) trains an MLP 784-128-64-10 with SGD (lr 0.01,
momentum 0.9) and cross-entropy for 10 epochs. As printed it cannot run; `seed_loop` below is
that code completed (the missing `F` import, `net = Net()` and a `trainloader`). The seed never
says what `trainloader` is, so two are measured: the loader of PyTorch's own tutorials, which
the seed's loop is copied from (torchvision's MNIST data set with ToTensor and Normalize: a
PIL image and two transforms per sample), and the leanest one a learner could write (a
DataLoader over the normalised in-memory tensors). Every run trains on full MNIST, in one
process, one after another (rounds alternate the runs when --repeats > 1), and the script
prints wall times as ratios to the seed's loop, with each run's test accuracy:

    seed loop           the seed's code, DataLoader over in-memory tensors, torch's default
                        threads (one per core)
    seed loop, tutorial loader
                        the same code with the tutorials' per-sample loader, on --threads N
                        threads (reference for the issue's target: gradschool torch / this)
    seed loop @Nt       the in-memory version with torch on --threads N threads
    gradschool torch    `gradschool train --engine torch --threads N`: the whole data set
                        staged as tensors, index batches, no per-step host syncs
    gradschool numpy    `gradschool train --engine numpy --threads N`

A gradschool time is the whole `fit` (model building and the test evaluation after every
epoch included); the seed loop's is its training loop plus one test evaluation at the end.

    python benchmarks/seed_recipe.py --data-dir ../shared/data            # full run
    python benchmarks/seed_recipe.py --data-dir ../shared/data --skip "seed loop"
    python benchmarks/seed_recipe.py --epochs 1 --loaders     # + an epoch of batches alone
    python benchmarks/seed_recipe.py --quick                              # a few batches
    python benchmarks/seed_recipe.py --data-dir ../shared/data --seeds 0,1,2 --threads 1

--seeds runs no timing: it trains every seed with the seed's loop and with the default command
`gradschool train --dataset mnist --data-dir DIR` on both engines (which, like the seed, trains
on all 60,000 images), and with --val-fraction 0.1 for contrast, and prints each seed's test
accuracy and the mean (docs/benchmarks.md, "The seed recipe's accuracy over seeds").

--skip leaves runs out (comma-separated names): on a busy machine, torch's default threads
fight the other processes for the cores and the seed loop as written can take many times
longer than the others.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

# NOTE: no common.early_threads() here: the thread variables would change torch's *default*,
# and the seed loop as written runs with that default. Threads are set at run time instead.
import common

from gradschool.config import Config, with_updates
from gradschool.data.datasets import load_dataset
from gradschool.data.prepare import prepare_data
from gradschool.train.trainer import fit

# torchvision's MNIST statistics, the constants of its tutorials' transforms.Normalize
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def tutorial_loader(raw: Any, batch_size: int = 64) -> Any:
    """The `trainloader` of PyTorch's own tutorials, where the seed's loop comes from
    (`for i, data in enumerate(trainloader, 0)`, `running_loss`): torchvision.datasets.MNIST,
    which makes a PIL image of every sample, with transforms ToTensor and
    Normalize((0.1307,), (0.3081,)), in a DataLoader(batch_size=64, shuffle=True).
    torchvision does not import beside this machine's torch build, so its three per-sample
    steps are written out here with PIL and torch, the way torchvision performs them."""
    import numpy as np
    import torch
    from PIL import Image

    images, labels = raw.X_train.reshape(-1, 28, 28), raw.y_train

    class MNIST(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int) -> tuple[Any, int]:
            img = Image.fromarray(images[i])  # datasets.MNIST: a PIL image (mode "L")
            x = torch.from_numpy(np.array(img, np.uint8, copy=True))  # transforms.ToTensor
            x = x.view(1, 28, 28).contiguous().to(torch.float32).div(255)
            return x.sub_(MNIST_MEAN).div_(MNIST_STD), int(labels[i])  # transforms.Normalize

    return torch.utils.data.DataLoader(MNIST(), batch_size=batch_size, shuffle=True)


def seed_loop(
    data, epochs: int, max_batches: int | None = None, raw: Any = None, seed: int = 0
) -> tuple[float, float]:
    """The seed's code, completed. Returns (wall seconds, test accuracy).

    `trainloader`: a DataLoader over the normalised in-memory tensors (TensorDataset), or with
    `raw` (the data set's uint8 images), the tutorials' per-sample loader (`tutorial_loader`).
    """
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

    torch.manual_seed(seed)  # the weights and the DataLoader's shuffling
    start = time.perf_counter()
    if raw is None:
        dataset = torch.utils.data.TensorDataset(
            torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
        )
        trainloader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
        X_test, y_test = data.X_test, data.y_test
    else:
        trainloader = tutorial_loader(raw)
        X_test = (raw.X_test.reshape(len(raw.X_test), -1) / 255 - MNIST_MEAN) / MNIST_STD
        X_test, y_test = X_test.astype("float32"), raw.y_test
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
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
    with torch.no_grad():
        predicted = net(torch.from_numpy(X_test)).argmax(1).numpy()
    seconds = time.perf_counter() - start
    return seconds, float((predicted == y_test).mean())


def loader_costs(data, repeats: int = 3) -> dict[str, float]:
    """CPU seconds of one epoch of batches alone (no training), median of `repeats`: the
    seed's per-sample DataLoader against gradschool's index batches over staged tensors."""
    import statistics

    import torch

    from gradschool.backends import get_backend
    from gradschool.data.loader import DataLoader

    def seed_batches() -> None:
        dataset = torch.utils.data.TensorDataset(
            torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
        )
        for _ in torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True):
            pass

    backend = get_backend("torch")

    def our_batches() -> None:
        X, y = backend.stage(data.X_train), backend.stage(data.y_train)
        for xb, yb in DataLoader(X, y, batch_size=64, shuffle=True, seed=0):
            backend.tensor(xb), backend.tensor(yb)

    costs = {}
    for name, fn in (("seed DataLoader", seed_batches), ("gradschool batches", our_batches)):
        costs[name] = statistics.median(common.timed(fn)[1] for _ in range(repeats))
    return costs


def gradschool_run(config: Config, data: Any) -> tuple[float, float]:
    start = time.perf_counter()
    trainer = fit(config, data=data, console=True)
    seconds = time.perf_counter() - start
    return seconds, trainer.state.history[-1]["test_acc"]


def base_config(args: argparse.Namespace) -> Config:
    return with_updates(
        Config(),
        {
            "dataset": args.dataset if not args.quick else "mnist-mini",
            "data_dir": args.data_dir or _default_data_dir(),
            "epochs": 1 if args.quick else args.epochs,
            "val_fraction": 0.0,  # the seed trains on the whole training set
            "progress": "off",
            "max_steps": 5 if args.quick else None,
        },
    )


def _default_data_dir() -> str | None:
    return str(common.DATA_DIR) if (common.DATA_DIR / "mnist").is_dir() else None


def contestants(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    """name -> a function that runs it and returns (seconds, test accuracy)."""
    import torch

    base = base_config(args)
    threads = args.threads or None
    default_threads = torch.get_num_threads()
    max_batches = 5 if args.quick else None

    def seed(n: int, raw: Any = None) -> Any:
        def run() -> tuple[float, float]:
            torch.set_num_threads(n)
            common.set_threads(n)
            return seed_loop(data, base.train.epochs, max_batches, raw)

        return run

    def ours(engine: str) -> Any:
        config = with_updates(base, {"engine": engine, "threads": args.threads})

        def run() -> tuple[float, float]:
            if not threads:
                common.set_threads(default_threads)
            return gradschool_run(config, data)

        return run

    raw = load_dataset(base.data.dataset, base.data.data_dir, download=False)
    runs = {"seed loop": seed(default_threads)}
    # the tutorials' loader on the threads of the runs it is compared with (--threads N)
    runs["seed loop, tutorial loader"] = seed(threads or default_threads, raw)
    if threads:
        runs[f"seed loop @{threads}t"] = seed(threads)
    runs["gradschool torch"] = ours("torch")
    runs["gradschool numpy"] = ours("numpy")
    skip = {s.strip() for s in (args.skip or "").split(",") if s.strip()}
    return {name: fn for name, fn in runs.items() if name not in skip}


def accuracy_over_seeds(args: argparse.Namespace) -> dict[str, Any]:
    """--seeds 0,1,2: the test accuracy of each seed, and their mean, for the seed's own loop
    and for `gradschool train --dataset mnist --data-dir DIR --seed S --engine E` exactly as
    the command builds it (the bundled seed_mlp config: data.val_fraction "auto" trains on all
    60,000 images), plus the same with `--val-fraction 0.1` (54,000 images: 6,000 held out)."""
    import statistics

    from gradschool.config import load_config

    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    quick = ["--max-steps", "5", "--epochs", "1"] if args.quick else ["--epochs", str(args.epochs)]
    dataset = "mnist-mini" if args.quick else args.dataset
    common_args = ["--dataset", dataset, "--progress", "off", *quick]
    data_dir = args.data_dir or _default_data_dir()
    if data_dir:
        common_args += ["--data-dir", data_dir]
    if args.threads:
        common_args += ["--threads", str(args.threads)]
    print(common.machine_line())
    variants = {
        "seed loop": None,
        "gradschool numpy": ["--engine", "numpy"],
        "gradschool torch": ["--engine", "torch"],
        "gradschool numpy, --val-fraction 0.1": ["--engine", "numpy", "--val-fraction", "0.1"],
        "gradschool torch, --val-fraction 0.1": ["--engine", "torch", "--val-fraction", "0.1"],
    }
    skip = {x.strip() for x in (args.skip or "").split(",") if x.strip()}
    variants = {k: v for k, v in variants.items() if k not in skip}
    acc: dict[str, list[float]] = {name: [] for name in variants}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for seed in seeds:
        for name, extra in variants.items():
            print(f"\n== seed {seed}: {name}", flush=True)
            config = load_config("seed_mlp", [*common_args, "--seed", str(seed), *(extra or [])])
            if extra is None:  # the seed's loop on the same prepared arrays (all 60,000)
                common.set_threads(args.threads or None)
                data = prepare_data(config.data, seed)
                wall, test_acc = seed_loop(data, config.train.epochs, 5 if args.quick else None,
                                           seed=seed)  # fmt: skip
            else:
                wall, test_acc = gradschool_run(config, None)
            print(f"test accuracy {100 * test_acc:.2f}% ({wall:.1f} s)", flush=True)
            acc[name].append(test_acc)
            seconds[name].append(wall)
    print(f"\ntest accuracy after {quick[-1]} epochs, seeds {args.seeds}:")
    print(f"{'run':38s} {'mean':>7s} {'std':>6s}  each seed")
    for name, values in acc.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        each = "  ".join(f"{100 * v:.2f}%" for v in values)
        print(f"{name:38s} {100 * statistics.mean(values):6.2f}% {100 * spread:5.2f}  {each}")
    print(f"load average at the end: {common.load_average()}")
    out = {"machine": common.machine(), "seeds": seeds, "test_acc": acc, "wall_s": seconds}
    common.write_json(args.json, out)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="default: ../shared/data if present")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip", default=None, help="runs to leave out, comma-separated")
    parser.add_argument(
        "--loaders", action="store_true", help="also time an epoch of batches alone (CPU)"
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument(
        "--seeds",
        default=None,
        help="e.g. 0,1,2: test accuracy per seed and its mean (the default command, both "
        "engines, the seed's loop), instead of the timing runs",
    )
    common.add_common_arguments(parser, repeats=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    if args.seeds:
        return accuracy_over_seeds(args)

    base = base_config(args)
    data = prepare_data(base.data, base.train.seed)
    print(f"{len(data.y_train)} training and {len(data.y_test)} test examples")
    print(common.machine_line())

    accuracy: dict[str, list[float]] = {}
    runs = contestants(args, data)

    def timed(name: str, fn: Any) -> Any:
        def run() -> float:
            print(f"\n== {name}")
            seconds, acc = fn()
            accuracy.setdefault(name, []).append(acc)
            return seconds

        return run

    if not args.quick:  # first use of each engine (imports, allocations) stays out of the times
        print("\n== warm-up: 20 batches of each engine (not timed)")
        seed_loop(data, 1, max_batches=20)
        for engine in ("torch", "numpy"):
            fit(with_updates(base, {"engine": engine, "max_steps": 20, "epochs": 1}), data=data,
                console=False)  # fmt: skip
    results = common.interleave(
        {name: timed(name, fn) for name, fn in runs.items()}, repeats=args.repeats, warmup=0
    )
    reference = "seed loop" if "seed loop" in results else next(iter(results))
    print(f"\nmedians of {args.repeats} round(s); ratios: median of per-round ratios")
    print(f"{'run':28s} {'seconds':>8s} {'ratio':>6s} {'cpu s':>8s} {'ratio':>6s} {'test acc':>9s}")
    for name, t in results.items():
        ratio = common.ratio(results, name, reference)
        cpu_ratio = common.ratio(results, name, reference, cpu=True)
        acc = 100 * max(accuracy[name])
        print(
            f"{name:28s} {t.median_wall:8.1f} {ratio:6.2f} {t.median_cpu:8.1f} {cpu_ratio:6.2f} "
            f"{acc:8.2f}%"
        )
    references = ["seed loop, tutorial loader", f"seed loop @{args.threads}t"]
    for same in (r for r in references if r in results):
        for name in ("gradschool torch", "gradschool numpy"):
            if name in results:
                print(f"{name} / {same}: {common.ratio(results, name, same):.2f}")
    costs = None
    if args.loaders:
        common.set_threads(args.threads or None)
        costs = loader_costs(data, 1 if args.quick else 3)
        print("one epoch of batches alone, CPU seconds: " + ", ".join(
            f"{k} {v:.3f}" for k, v in costs.items()
        ))  # fmt: skip
    print(f"load average at the end: {common.load_average()}")
    out = {
        "loader_cpu_s": costs,
        "machine": common.machine(),
        "epochs": base.train.epochs,
        "wall_s": {k: t.wall for k, t in results.items()},
        "cpu_s": {k: t.cpu for k, t in results.items()},
        "test_acc": accuracy,
    }
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
