"""The two engines agree on REAL images, not only on random noise.

Random-normal test inputs never tie, so an op that routes the gradient of a tie differently
on the two engines passes every op check on them. Real images tie all the time: an MNIST
digit's background is one constant value after normalisation, and so is every feature map
over it, so every 2x2 max-pooling window there holds four equal maxima. This test trains a
LeNet-style CNN a few hundred steps on real MNIST digits (the full set in ../shared/data when
present, else the embedded mnist-mini slice, which is real MNIST too), then runs the SAME
weights on both engines in float64 and compares, on ten real test digits:

    logits, the loss, every parameter's gradient, saliency and integrated gradients

to 1e-8. It failed before max pooling routed its gradient as torch does (all of it to the
first maximum of the window; it used to be split evenly among tied maxima). Run this file
directly to print the largest differences:

    OMP_NUM_THREADS=1 .venv/bin/python tests/test_parity_real_digits.py
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="compares the NumPy engine against torch")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TOL = 1e-8


def _digit_config() -> Any:
    """The LeNet of the course, small: conv(8) -> ReLU -> pool -> conv(16) -> ReLU -> pool ->
    Linear(32) -> ReLU -> Linear(10), trained on real digits on the torch engine."""
    from gradschool.config import Config, with_updates

    if (SHARED_DATA / "mnist").is_dir():
        data = {"dataset": "mnist", "data_dir": str(SHARED_DATA), "download": False}
    else:  # the embedded slice: real MNIST digits, shipped inside the package
        data = {"dataset": "mnist-mini"}
    return with_updates(
        Config(),
        {
            **data,
            "engine": "torch",
            "model.name": "cnn",
            "channels": [8, 16],
            "hidden": 32,
            "batch_size": 32,
            "train_subset": 3200,
            "lr": 0.05,
            "max_steps": 300,
            "progress": "off",
            "seed": 0,
        },
    )


@functools.cache
def _trained_pair() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """(torch model, engine model) in float64 with the same trained weights, and ten real
    normalised test digits (10, 1, 28, 28) with their labels."""
    from gradschool.backends import get_backend
    from gradschool.models import build_model
    from gradschool.train.trainer import Trainer

    torch.set_num_threads(1)
    config = _digit_config()
    trainer = Trainer(config, console=False)
    trainer.fit()
    weights = trainer.backend.state_to_numpy(trainer.model.state_dict())
    t, e = get_backend("torch", "float64"), get_backend("numpy", "float64")
    shape, classes = trainer.task.input_shape, trainer.task.num_classes
    model_t = t.cast_model(build_model(t.nn, config.model, shape, classes))
    model_e = e.cast_model(build_model(e.nn, config.model, shape, classes))
    model_t.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in weights.items()})
    model_e.load_state_dict({k: v.astype(np.float64) for k, v in weights.items()})
    X, y = trainer.data.X_test[:10].astype(np.float64), trainer.data.y_test[:10]
    return (t, model_t), (e, model_e), X, y


def compare_engines_on_real_digits() -> dict[str, float]:
    """The largest absolute difference between the engines, per quantity (and the scale of
    each quantity, as `<name>_scale`, so a difference can be read against it)."""
    from gradschool.trust import attribution as A

    (t, model_t), (e, model_e), X, y = _trained_pair()
    diffs: dict[str, float] = {}

    def record(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
        diffs[name] = float(np.abs(np.asarray(ours) - np.asarray(theirs)).max())
        diffs[f"{name}_scale"] = float(np.abs(np.asarray(theirs)).max())

    # Forward and backward of the loss, train mode (no dropout or batch norm here).
    out = {}
    for name, (b, model) in {"numpy": (e, model_e), "torch": (t, model_t)}.items():
        model.train()
        model.zero_grad()
        x = b.tensor(X)
        x.requires_grad_(True)
        logits = model(x)
        loss = b.F.cross_entropy(logits, b.tensor(y))
        loss.backward()
        grads = {k: b.to_numpy(p.grad) for k, p in model.named_parameters()}
        out[name] = (b.to_numpy(logits), float(loss.item()), grads, b.to_numpy(x.grad))
    (lo_e, loss_e, g_e, xg_e), (lo_t, loss_t, g_t, xg_t) = out["numpy"], out["torch"]
    assert sorted(g_e) == sorted(g_t)
    record("logits", lo_e, lo_t)
    record("loss", loss_e, loss_t)
    for k in g_t:
        record(f"grad:{k}", g_e[k], g_t[k])
    record("input_grad", xg_e, xg_t)

    # Attributions of each digit's own class, on both engines.
    record("saliency", A.saliency(model_e, e, X, y).values, A.saliency(model_t, t, X, y).values)
    ig_e = A.integrated_gradients(model_e, e, X, y, steps=32)
    ig_t = A.integrated_gradients(model_t, t, X, y, steps=32)
    record("integrated_gradients", ig_e.values, ig_t.values)
    return diffs


def _max_pool_ties(X: np.ndarray, model: Any) -> int:
    """How many 2x2 pooling windows of the first pooling layer hold tied maxima on X."""
    x = torch.from_numpy(X)
    for layer in model:
        if isinstance(layer, torch.nn.MaxPool2d):
            windows = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*x.shape[:2], -1, 4)
            top = windows.max(-1, keepdim=True).values
            return int(((windows == top).sum(-1) > 1).sum())
        x = layer(x)
    raise AssertionError("the model has no max-pooling layer")


def test_both_engines_agree_on_a_lenet_trained_on_real_digits():
    diffs = compare_engines_on_real_digits()
    bad = {k: v for k, v in diffs.items() if not k.endswith("_scale") and not v <= TOL}
    assert not bad, f"the engines differ by more than {TOL} on real digits: {bad}"


def test_real_digits_do_tie_in_max_pooling():
    # The point of the test above: real digits put tied maxima in pooling windows (random
    # inputs almost never do). If this ever fails, the test above proves less than it says.
    (t, model_t), _, X, _ = _trained_pair()
    model_t.eval()
    with torch.no_grad():
        assert _max_pool_ties(X, model_t) > 100


if __name__ == "__main__":
    found = compare_engines_on_real_digits()
    for name, value in found.items():
        if not name.endswith("_scale"):
            scale = found[f"{name}_scale"]
            print(f"{name:28s} max |numpy - torch| = {value:9.3g}   (max |torch| {scale:.3g})")
