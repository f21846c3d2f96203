"""Convolutions of the MNIST CNN: the NumPy engine against PyTorch's CPU kernels, in one process.

The network of configs/mnist_cnn.toml has two convolutions:

    conv1   (B, 1, 28, 28)  -> 32 channels, 3x3, padding 1
    conv2   (B, 32, 14, 14) -> 64 channels, 3x3, padding 1

For each, one round is a forward pass and a backward pass (gradients of the input, the weight
and the bias, from a fixed upstream gradient) on the same arrays in both engines: the engine's
im2col convolution (`engine/conv.py`: sliding-window view -> patch matrix -> one matrix
product; col2im backward) against `torch.nn.functional.conv2d`. Rounds are interleaved
(engine, torch, engine, torch, ...) and the figure is the median over rounds of the per-round
ratio engine / torch. `--model` adds a whole training step of the MNIST CNN (forward, loss,
backward, SGD step; conv, ReLU, max-pool, linear layers) on both engines.

    python benchmarks/conv.py                  # batch 128, 1 thread, 15 rounds
    python benchmarks/conv.py --threads 2 --model
    python benchmarks/conv.py --quick          # tiny (CI)
"""

from __future__ import annotations

import common

common.early_threads()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from gradschool import engine  # noqa: E402
from gradschool.engine import functional as F  # noqa: E402
from gradschool.models import cnn  # noqa: E402

# (name, input channels, image side, output channels, kernel, padding): configs/mnist_cnn.toml
LAYERS = [("conv1", 1, 28, 32, 3, 1), ("conv2", 32, 14, 64, 3, 1)]


def conv_contestants(batch: int, c_in: int, side: int, c_out: int, k: int, pad: int) -> dict:
    """Forward + backward of one conv layer on each engine, from the same float32 arrays."""
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c_in, side, side)).astype(np.float32)
    w = (rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)
    b = np.zeros(c_out, dtype=np.float32)
    g = rng.standard_normal((batch, c_out, side, side)).astype(np.float32)  # upstream gradient
    ex, ew, eb = (engine.Tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tg = torch.tensor(g)

    def run_engine() -> np.ndarray:
        ex.grad = ew.grad = eb.grad = None
        out = F.conv2d(ex, ew, eb, padding=pad)
        out.backward(g)
        return ew.grad.data

    def run_torch() -> np.ndarray:
        tx.grad = tw.grad = tb.grad = None
        out = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
        out.backward(tg)
        return tw.grad.numpy()

    # The two compute the same thing (float32 rounding apart): a benchmark of wrong code is
    # worthless.
    np.testing.assert_allclose(run_engine(), run_torch(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ex.grad.data, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    return {"numpy": run_engine, "torch": run_torch}


def model_contestants(batch: int) -> dict:
    """One SGD step of the whole MNIST CNN on each engine, from the same weights and batch."""
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    engine.manual_seed(0)
    ours = cnn(engine.nn, "lenet", (1, 28, 28), 10, [32, 64], 3, 128)
    theirs = cnn(torch.nn, "lenet", (1, 28, 28), 10, [32, 64], 3, 128)
    theirs.load_state_dict(
        {k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()}
    )
    opt_e = engine.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    ex, ey, tx, ty = engine.Tensor(x), engine.Tensor(y), torch.tensor(x), torch.tensor(y)

    def run_engine() -> None:
        loss = F.cross_entropy(ours(ex), ey)
        opt_e.zero_grad()
        loss.backward()
        opt_e.step()

    def run_torch() -> None:
        loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()

    return {"numpy": run_engine, "torch": run_torch}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, repeats=15)
    parser.add_argument("--batch-size", type=int, default=128, help="configs/mnist_cnn's 128")
    parser.add_argument("--model", action="store_true", help="also a whole training step")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    batch, repeats = (4, 2) if args.quick else (args.batch_size, args.repeats)
    common.set_threads(args.threads or None)
    print(common.machine_line())
    results: dict = {"batch_size": batch, "repeats": repeats, "machine": common.machine()}
    cases = [(name, conv_contestants(batch, *shape)) for name, *shape in LAYERS]
    if args.model:
        cases.append(("mnist_cnn_step", model_contestants(batch)))
    totals = {"numpy": 0.0, "torch": 0.0}
    for name, contestants in cases:
        print(f"\n{name}: batch {batch}, forward + backward, {repeats} rounds")
        rounds = common.interleave(contestants, repeats=repeats, verbose=not args.quick)
        print(common.ratio_table(rounds, reference="torch", unit=1e-3, unit_name="ms"))
        results[name] = {
            "numpy_ms": rounds["numpy"].median_wall * 1e3,
            "torch_ms": rounds["torch"].median_wall * 1e3,
            "ratio": common.ratio(rounds, "numpy", "torch"),
            "cpu_ratio": common.ratio(rounds, "numpy", "torch", cpu=True),
        }
        if name.startswith("conv"):
            for engine_name in totals:
                totals[engine_name] += rounds[engine_name].median_wall
    results["conv_total_ratio"] = totals["numpy"] / totals["torch"]
    print(
        f"\nboth convolutions, forward + backward: NumPy engine / torch = "
        f"{results['conv_total_ratio']:.2f} (medians; conv1 "
        f"{results['conv1']['ratio']:.2f}, conv2 {results['conv2']['ratio']:.2f})"
    )
    common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
