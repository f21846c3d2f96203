"""Regularization on both engines: dropout against torch, the L1 penalty's gradient, weight
decay through the loop, and early stopping (best weights restored, state kept on resume)."""

from __future__ import annotations

import numpy as np
import pytest

from gradschool.backends import get_backend
from gradschool.config import Config, with_updates
from gradschool.errors import ConfigError
from gradschool.models import mlp
from gradschool.train.early_stopping import EarlyStopping, resolve_mode
from gradschool.train.regularization import l1_penalty
from gradschool.train.run import RunDir
from gradschool.train.trainer import Trainer, fit

ENGINES = ["numpy", "torch"]


def backend_or_skip(engine: str, dtype: str = "float64"):
    if engine == "torch":
        pytest.importorskip("torch")
    return get_backend(engine, dtype)


def small(**updates) -> Config:
    base = {"train.progress": "off", "train_subset": 400, "epochs": 2, "sizes": [784, 32, 10]}
    return with_updates(Config(), {**base, **updates})


# ---- dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_is_inverted_dropout_like_torch(engine, p):
    """Training mode: each element is 0 (with probability p) or x / (1 - p), exactly as
    torch.nn.Dropout (its masks come from another generator, so the law is compared, not the
    draws); the gradient is the same mask; eval mode is the identity."""
    backend = backend_or_skip(engine)
    backend.manual_seed(0)
    # NOTE: not seed 0: the engine's generator, seeded 0, would draw the mask from these very
    # uniforms, and the kept elements would be exactly the large ones.
    x_np = np.random.default_rng(12345).uniform(1, 2, size=(200, 100))
    layer = backend.nn.Dropout(p)
    x = backend.tensor(x_np)
    x.requires_grad_(True)
    out = layer(x)
    out.sum().backward()
    y = backend.to_numpy(out)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x_np[kept] / (1 - p), rtol=1e-12)
    assert abs((~kept).mean() - p) < 0.01  # 20,000 draws: 4 standard errors at most
    np.testing.assert_allclose(backend.to_numpy(x.grad), kept / (1 - p), rtol=1e-12)
    # Expected value unchanged: that is why the kept units are scaled up.
    assert abs(y.mean() / x_np.mean() - 1) < 0.05
    layer.eval()
    np.testing.assert_array_equal(backend.to_numpy(layer(backend.tensor(x_np))), x_np)


def test_dropout_in_a_model_matches_torch_in_eval_mode():
    torch = pytest.importorskip("torch")
    np_backend, torch_backend = get_backend("numpy", "float64"), get_backend("torch", "float64")
    np_model = np_backend.cast_model(mlp(np_backend.nn, [20, 16, 3], dropout=0.5))
    torch_model = torch_backend.cast_model(mlp(torch_backend.nn, [20, 16, 3], dropout=0.5))
    weights = np_backend.state_to_numpy(np_model.state_dict())
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    X = np.random.default_rng(0).normal(size=(8, 20))
    np_model.eval()
    torch_model.eval()
    np.testing.assert_allclose(
        np_model(np_backend.tensor(X)).data,
        torch_model(torch_backend.tensor(X)).detach().numpy(),
        rtol=1e-12,
    )
    np_model.train()
    a, b = np_model(np_backend.tensor(X)).data, np_model(np_backend.tensor(X)).data
    assert not np.allclose(a, b)  # training mode draws a new mask each call


# ---- L1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_l1_penalty_gradient_is_lambda_times_sign(engine):
    backend = backend_or_skip(engine)
    backend.manual_seed(0)
    model = backend.cast_model(mlp(backend.nn, [6, 5, 3]))
    weight = model[1].weight
    with backend.no_grad():
        # An exact zero: the gradient there is 0, as for torch.abs.
        if engine == "torch":
            weight[0, 0] = 0.0
        else:
            weight.data[0, 0] = 0.0
    lam = 0.3
    penalty = l1_penalty(model, lam)
    penalty.backward()
    weights = {k: backend.to_numpy(v) for k, v in model.state_dict().items()}
    expected = lam * sum(np.abs(v).sum() for k, v in weights.items() if v.ndim >= 2)
    assert float(penalty.item()) == pytest.approx(expected, rel=1e-12)
    for name, param in zip(model.state_dict(), model.parameters()):
        grad = None if param.grad is None else backend.to_numpy(param.grad)
        if len(param.shape) >= 2:
            np.testing.assert_array_equal(grad, lam * np.sign(backend.to_numpy(param)))
        else:  # biases are not penalised
            assert grad is None or not grad.any(), name
    assert backend.to_numpy(model[1].weight.grad)[0, 0] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_the_loop_adds_l1_to_the_objective(engine):
    """One plain-SGD step with l1 differs from one without by exactly -lr * l1 * sign(w)."""
    backend_or_skip(engine)
    config = small(engine=engine, dtype="float64", max_steps=1, momentum=0.0, lr=0.1)
    plain = fit(config, console=False)
    with_l1 = fit(with_updates(config, {"l1": 0.01}), console=False)
    start = Trainer(config, console=False)  # same seed: the same initial weights
    w0 = start.backend.state_to_numpy(start.model.state_dict())
    w_plain = plain.backend.state_to_numpy(plain.model.state_dict())
    w_l1 = with_l1.backend.state_to_numpy(with_l1.model.state_dict())
    for key, w in w0.items():
        expected = -0.1 * 0.01 * np.sign(w) if w.ndim >= 2 else 0 * w
        np.testing.assert_allclose(w_l1[key] - w_plain[key], expected, atol=1e-12)
    # The logged loss is the data loss alone (the penalty is not part of it).
    assert with_l1.state.history[0]["train_loss"] == pytest.approx(
        plain.state.history[0]["train_loss"], rel=1e-12
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_adamw_decays_the_weights_decoupled_from_the_gradient(engine):
    """AdamW: w <- w - lr * wd * w - lr * adam_step(g), so after one step the runs with and
    without decay differ by exactly -lr * wd * w0. Adam's coupled decay (wd * w added to g)
    passes through the adaptive scaling, so it does not."""
    backend_or_skip(engine)
    lr, wd = 0.01, 0.1

    def one_step(name, decay):
        config = small(engine=engine, dtype="float64", max_steps=1, lr=lr)
        config = with_updates(config, {"optim.name": name, "weight_decay": decay})
        return weights_of(fit(config, console=False))

    w0 = weights_of(Trainer(small(engine=engine, dtype="float64"), console=False))
    plain, decayed = one_step("adamw", 0.0), one_step("adamw", wd)
    for key, w in w0.items():
        np.testing.assert_allclose(decayed[key] - plain[key], -lr * wd * w, atol=1e-12)
    coupled = one_step("adam", wd)
    differences = [np.abs(coupled[k] - plain[k] + lr * wd * w).max() for k, w in w0.items()]
    assert max(differences) > 1e-4


def test_l1_and_weight_decay_shrink_the_weights():
    def norm(trainer, order):
        weights = trainer.backend.state_to_numpy(trainer.model.state_dict())
        return sum(np.abs(v).sum() if order == 1 else (v**2).sum() for v in weights.values()
                   if v.ndim >= 2)  # fmt: skip

    plain = fit(small(epochs=2), console=False)
    l1 = fit(small(epochs=2, l1=1e-3), console=False)
    wd = fit(small(epochs=2, weight_decay=1e-2), console=False)
    assert norm(l1, 1) < norm(plain, 1)
    assert norm(wd, 2) < norm(plain, 2)


# ---- early stopping ------------------------------------------------------------------------------


def test_mode_auto_and_test_metrics_are_refused():
    assert resolve_mode("val_acc", "auto") == "max" and resolve_mode("val_loss", "auto") == "min"
    assert resolve_mode("val_loss", "max") == "max"
    with pytest.raises(ConfigError, match="never a test metric"):
        with_updates(Config(), {"early_stopping.monitor": "test_acc"})
    with pytest.raises(ConfigError, match="honest test"):
        EarlyStopping(monitor="test_loss")


def test_early_stopping_needs_a_validation_split():
    with pytest.raises(ConfigError, match="no validation split"):
        fit(small(val_fraction=0.0, patience=2), console=False)


def weights_of(trainer):
    return trainer.backend.state_to_numpy(trainer.model.state_dict())


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    """Scripted scores: best at epoch 2, then two worse epochs -> stop at 4, weights of 2."""
    trainer = Trainer(small(epochs=10), console=False)
    stopper = EarlyStopping("val_loss", patience=2, min_delta=0.01, verbose=False)
    stopper.on_fit_start(trainer)
    snapshots = {}
    for epoch, score in [(1, 1.0), (2, 0.5), (3, 0.495), (4, 0.7)]:
        for p in trainer.model.parameters():  # "training": new weights each epoch
            p.data[...] = np.random.default_rng(epoch).normal(size=p.shape)
        snapshots[epoch] = weights_of(trainer)
        trainer.state.epoch = epoch
        stopper.on_epoch_end(trainer, {"epoch": epoch, "val_loss": score})
        assert trainer.stop == (epoch == 4)  # 0.495 is not better by min_delta = 0.01
    assert stopper.best_epoch == 2 and stopper.wait == 2
    assert "did not improve for 2 epochs" in trainer.state.stop_reason
    stopper.on_fit_end(trainer)
    for key, value in weights_of(trainer).items():
        np.testing.assert_array_equal(value, snapshots[2][key])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_real_run_ends_with_its_best_epochs_weights(engine, tmp_path):
    backend_or_skip(engine)
    # A tiny training set and a large rate: the validation loss soon gets worse.
    config = small(engine=engine, epochs=8, train_subset=200, lr=0.2, patience=3,
                   out_dir=str(tmp_path), run_name="es")  # fmt: skip
    run = RunDir.create(config)
    trainer = fit(config, run=run, console=False)
    history = trainer.state.history
    best = min(history, key=lambda row: row["val_loss"])
    final = trainer.evaluate(trainer.data.X_val, trainer.data.y_val)
    assert final["loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    if trainer.state.stop_reason:
        assert trainer.state.stop_reason.startswith("early stopping")
    # The checkpoint `gradschool eval` reads holds the same (best) weights.
    evaluator = Trainer(config, console=False)
    evaluator.load_checkpoint(run.find_checkpoint(), weights_only=True)
    again = evaluator.evaluate(trainer.data.X_val, trainer.data.y_val)
    assert again["loss"] == pytest.approx(final["loss"], rel=1e-6)


def test_early_stopping_state_survives_resume(tmp_path):
    config = small(epochs=6, patience=2, monitor="val_acc", augment=["shift:1"],
                   out_dir=str(tmp_path))  # fmt: skip
    whole = fit(with_updates(config, {"run_name": "whole"}), console=False)
    first = with_updates(config, {"run_name": "parts", "epochs": 3})
    run = RunDir.create(first)
    part = fit(first, run=run, console=False)
    stopper = next(cb for cb in part.callbacks if isinstance(cb, EarlyStopping))
    if part.state.stop_reason:
        pytest.skip("stopped within the first part; nothing left to resume")
    resumed = fit(with_updates(run.load_config(), {"epochs": 6}), run=run, resume=True,
                  console=False)  # fmt: skip
    assert [r["val_acc"] for r in resumed.state.history] == pytest.approx(
        [r["val_acc"] for r in whole.state.history], rel=1e-6
    )
    a = next(cb for cb in whole.callbacks if isinstance(cb, EarlyStopping))
    b = next(cb for cb in resumed.callbacks if isinstance(cb, EarlyStopping))
    assert (a.best, a.best_epoch, a.wait) == (b.best, b.best_epoch, b.wait)
    assert stopper.best is not None
    assert whole.state.stop_reason == resumed.state.stop_reason
    for key, value in weights_of(whole).items():
        np.testing.assert_allclose(weights_of(resumed)[key], value, rtol=1e-6)
