"""DP-SGD (gradschool/trust/dp.py): per-example gradients against a loop over examples, on
both engines and for every layer type; clipping and noise; Poisson sampling; Opacus's step
on the same model and batch; and private training through the one training loop."""

from __future__ import annotations

import copy
import csv
import math

import numpy as np
import pytest

from gradschool.backends import get_backend
from gradschool.cli import main
from gradschool.config import load_config
from gradschool.data.poisson import PoissonLoader
from gradschool.errors import ConfigError
from gradschool.train.trainer import fit
from gradschool.trust import accountant
from gradschool.trust.dp import DPSGD, fit_private
from gradschool.trust.per_example import per_example_grads

ENGINES = ["numpy", "torch"]


def _backend(engine):
    if engine == "torch":
        pytest.importorskip("torch")
    return get_backend(engine, "float64")


# ---- models exercising each per-example rule -------------------------------------------------


def _seq_model(nn):
    """Embedding (repeated ids) -> LayerNorm over (T, C) -> Linear on (B, T, C) -> mean."""

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 6)
            self.ln = nn.LayerNorm((4, 6))
            self.fc = nn.Linear(6, 5)

        def forward(self, ids):  # (B, 4)
            return self.fc(self.ln(self.emb(ids))).mean(1)  # (B, 5)

    return Seq()


def _conv_model(nn):
    """Conv2d with stride and padding, another without bias, then Linear."""
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.Conv2d(3, 4, 2, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
    )


def _tied_model(nn):
    """The same weight used by an Embedding and a Linear (the GPT's tied lm_head)."""

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, ids):  # (B, T)
            return self.head(self.emb(ids).sum(1))

    return Tied()


def _data(kind, n=5, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "conv":
        return rng.normal(size=(n, 2, 7, 7)), rng.integers(0, 5, n)
    return rng.integers(0, 7 if kind == "seq" else 5, (n, 4)), rng.integers(0, 5, n)


MODELS = {"seq": _seq_model, "conv": _conv_model, "tied": _tied_model}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", list(MODELS))
def test_per_example_grads_equal_a_loop_over_examples(engine, kind):
    b = _backend(engine)
    b.manual_seed(0)
    model = b.cast_model(MODELS[kind](b.nn))
    X, y = _data(kind)

    def loss(out, t):
        return b.F.cross_entropy(out, t)

    fast = per_example_grads(model, loss, b.tensor(X), b.tensor(y))
    assert [p for p, _ in fast] == list(model.parameters())
    for i in range(len(X)):  # the slow way: one backward pass per example
        for p in model.parameters():
            p.grad = None
        loss(model(b.tensor(X[i : i + 1])), b.tensor(y[i : i + 1])).backward()
        for p, g in fast:
            np.testing.assert_allclose(b.to_numpy(g[i]), b.to_numpy(p.grad), atol=1e-12)


def test_per_example_grads_agree_between_engines():
    t, e = _backend("torch"), _backend("numpy")
    t.torch.manual_seed(0)
    model_t = t.cast_model(_conv_model(t.nn))
    model_e = e.cast_model(_conv_model(e.nn))
    model_e.load_state_dict({k: v.detach().numpy().copy() for k, v in model_t.state_dict().items()})
    X, y = _data("conv")
    ours = per_example_grads(model_e, e.F.cross_entropy, e.tensor(X), e.tensor(y))
    theirs = per_example_grads(model_t, t.F.cross_entropy, t.tensor(X), t.tensor(y))
    for (_, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(e.to_numpy(a), b.numpy(), atol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_layers_without_a_per_example_gradient_are_refused(engine):
    b = _backend(engine)
    nn = b.nn
    with pytest.raises(ConfigError, match="BatchNorm"):
        DPSGD(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), noise_multiplier=1.0,
              max_grad_norm=1.0, expected_batch_size=4)  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_forward_hooks_behave_like_torchs(engine):
    # The one engine addition DP-SGD needed: Module.register_forward_hook, as torch's.
    b = _backend(engine)
    layer = b.cast_model(b.nn.Linear(3, 2))
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append((m, args[0], out)))
    x = b.tensor(np.ones((4, 3)))
    y = layer(x)
    assert seen[0][0] is layer and seen[0][1] is x and seen[0][2] is y
    replaced = layer.register_forward_hook(lambda m, args, out: out * 0)  # a return replaces
    assert float(b.to_numpy(layer(x)).sum()) == 0.0 and len(seen) == 2
    handle.remove()
    replaced.remove()
    np.testing.assert_allclose(b.to_numpy(layer(x)), b.to_numpy(y))
    assert len(seen) == 2


# ---- the private step --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_no_noise_and_no_clipping_is_the_plain_gradient(engine):
    b = _backend(engine)
    b.manual_seed(1)
    model = b.cast_model(_conv_model(b.nn))
    X, y = _data("conv", n=6)
    dp = DPSGD(model, noise_multiplier=0.0, max_grad_norm=math.inf, expected_batch_size=6)
    b.F.cross_entropy(model(b.tensor(X)), b.tensor(y)).backward()
    plain = [b.to_numpy(p.grad).copy() for p in model.parameters()]
    dp.privatize()
    for p, g in zip(model.parameters(), plain):
        np.testing.assert_allclose(b.to_numpy(p.grad), g, atol=1e-13)


@pytest.mark.parametrize("engine", ENGINES)
def test_clipping_bounds_each_example_and_noise_has_std_sigma_c(engine):
    b = _backend(engine)
    b.manual_seed(2)
    model = b.cast_model(b.nn.Sequential(b.nn.Flatten(), b.nn.Linear(98, 400)))
    X, y = _data("conv", n=8)
    C, B = 0.05, 8
    pe = per_example_grads(model, b.F.cross_entropy, b.tensor(X), b.tensor(y))
    norms = np.sqrt(sum((b.to_numpy(g).reshape(8, -1) ** 2).sum(1) for _, g in pe))
    assert norms.min() > C  # every example gets clipped at this C
    # Without noise: the sum of the examples' gradients, each scaled to norm exactly C.
    dp = DPSGD(model, noise_multiplier=0.0, max_grad_norm=C, expected_batch_size=B)
    b.F.cross_entropy(model(b.tensor(X)), b.tensor(y)).backward()
    dp.privatize()
    clipped = [sum(b.to_numpy(g)[i] * C / (norms[i] + 1e-6) for i in range(8)) / B for _, g in pe]
    for p, want in zip(model.parameters(), clipped):
        np.testing.assert_allclose(b.to_numpy(p.grad), want, atol=1e-12)
    # With noise σ: the private gradient minus the clipped mean is N(0, (σC/B)²) per weight.
    sigma = 2.0
    dp = DPSGD(model, noise_multiplier=sigma, max_grad_norm=C, expected_batch_size=B)
    b.F.cross_entropy(model(b.tensor(X)), b.tensor(y)).backward()
    dp.privatize()
    noise = np.concatenate(
        [(b.to_numpy(p.grad) - want).ravel() for p, want in zip(model.parameters(), clipped)]
    )
    assert abs(noise.mean()) < 4 * sigma * C / B / math.sqrt(noise.size)
    assert noise.std() == pytest.approx(sigma * C / B, rel=0.02)  # 39,600 draws


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_poisson_batch_gives_pure_noise(engine):
    # Poisson sampling may (rarely) pick nobody: the step must still add its noise.
    from gradschool.train.tasks import ClassificationTask

    b = _backend(engine)
    model = b.cast_model(_conv_model(b.nn))
    dp = DPSGD(model, noise_multiplier=1.0, max_grad_norm=0.5, expected_batch_size=4)
    x, y = b.tensor(np.zeros((0, 2, 7, 7))), b.tensor(np.zeros(0, dtype=np.int64))
    loss = ClassificationTask.loss(None, b.F, model(x), y)
    assert float(b.to_numpy(loss)) == 0.0  # not the NaN of a mean over nothing
    loss.backward()
    dp.privatize()
    noise = np.concatenate([b.to_numpy(p.grad).ravel() for p in model.parameters()])
    assert noise.std() == pytest.approx(1.0 * 0.5 / 4, rel=0.3)


def test_dp_step_equals_opacus_on_the_same_model_and_batch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("opacus", reason="Opacus not installed (pip install opacus)")
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    from gradschool.models import cnn

    torch.manual_seed(0)
    ours = cnn(torch.nn, "dpcnn", (1, 16, 16), 10, [2, 4], 3, 8, False, 0.0, "tanh").double()
    theirs = copy.deepcopy(ours)
    x = torch.randn(13, 1, 16, 16, dtype=torch.float64)
    y = torch.randint(0, 10, (13,))
    for sigma, C in [(0.0, 0.05), (1.1, 0.1)]:
        # Same noise generator, seeded alike: the noise, drawn parameter by parameter in the
        # same order, is identical, so the weights must agree to rounding.
        ours_gen, theirs_gen = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        gsm = GradSampleModule(theirs)
        opt_o = DPOptimizer(
            torch.optim.SGD(gsm.parameters(), lr=0.5, momentum=0.9),
            noise_multiplier=sigma,
            max_grad_norm=C,
            expected_batch_size=16,
            generator=theirs_gen,
        )
        opt = torch.optim.SGD(ours.parameters(), lr=0.5, momentum=0.9)
        dp = DPSGD(ours, noise_multiplier=sigma, max_grad_norm=C, expected_batch_size=16,
                   generator=ours_gen)  # fmt: skip
        for _ in range(2):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(ours(x), y).backward()
            dp.privatize()
            opt.step()
            opt_o.zero_grad()
            torch.nn.functional.cross_entropy(gsm(x), y).backward()
            opt_o.step()
        for a, b in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        dp.remove()
        gsm._close()


# ---- Poisson sampling ---------------------------------------------------------------------------


def test_poisson_batches_have_the_right_law_and_replay_on_resume():
    N, B = 2000, 50
    loader = PoissonLoader(np.arange(N), np.arange(N), batch_size=B, seed=3)
    assert len(loader) == 40 and loader.sample_rate == B / N
    epochs = [list(loader) for _ in range(5)]
    sizes = np.array([len(x) for batches in epochs for x, _ in batches])
    assert sizes.mean() == pytest.approx(B, rel=0.05)  # Binomial(N, q): mean qN = 50
    assert sizes.std() == pytest.approx(math.sqrt(N * B / N * (1 - B / N)), rel=0.2)
    counts = np.bincount(np.concatenate([x for batches in epochs for x, _ in batches]), minlength=N)
    assert counts.mean() == pytest.approx(5 * 40 * B / N, rel=0.02)  # each example: q per step
    assert len({len(x) for x, _ in epochs[0]}) > 1  # the batch size varies
    loader.set_epoch(2)  # a resumed run sees epoch 2's very batches
    for (a, _), (b, _) in zip(next(iter([list(loader)])), epochs[2]):
        np.testing.assert_array_equal(a, b)


# ---- private training through the one loop --------------------------------------------------


def _tiny(tmp_path, *extra):
    return load_config(
        "seed_mlp",
        [
            "--train-subset", "200", "--val-fraction", "0", "--sizes", "784,16,10",
            "--dtype", "float64", "--progress", "off", "--out-dir", str(tmp_path),
            "--momentum", "0", "--lr", "0.1", "--epochs", "2", *extra,
        ],
    )  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_dp_training_without_noise_or_clipping_equals_plain_gradient_descent(tmp_path, engine):
    _backend(engine)
    # q = 1 (batch = N): every example in every batch, so DP-SGD with σ = 0 and no effective
    # clipping divides the same sum by the same N as full-batch gradient descent.
    plain = fit(_tiny(tmp_path, "--engine", engine, "--batch-size", "full"), console=False)
    dp = ["--dp", "--noise-multiplier", "0", "--max-grad-norm", "1e12"]
    private = fit_private(
        _tiny(tmp_path, "--engine", engine, "--batch-size", "200", *dp), console=False
    )
    for a, b in zip(plain.model.parameters(), private.model.parameters()):
        np.testing.assert_allclose(private.backend.to_numpy(b), plain.backend.to_numpy(a),
                                   rtol=1e-10, atol=1e-12)  # fmt: skip
    assert private.state.history[-1]["epsilon"] == math.inf  # no noise: no privacy


def test_train_dp_cli_reports_epsilon_every_epoch(tmp_path, capsys):
    code = main(
        ["train", "--train-subset", "300", "--sizes", "784,8,10", "--epochs", "2",
         "--batch-size", "30", "--progress", "off", "--out-dir", str(tmp_path), "--run-name", "dp",
         "--dp", "--target-epsilon", "3", "--delta", "1e-5", "--max-grad-norm", "1.0"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "DP-SGD: noise multiplier" in out and out.count("epsilon: ") == 2
    with open(tmp_path / "dp" / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    eps = [float(r["epsilon"]) for r in rows]
    config = load_config(str(tmp_path / "dp" / "config.toml"))
    sigma = config.dp.noise_multiplier  # the noise found is recorded in the run's config
    n = 270  # 300 minus the 10% validation split
    steps = [int(r["step"]) for r in rows]
    assert steps[-1] == 2 * math.ceil(n / 30)
    for e, s in zip(eps, steps):
        assert e == pytest.approx(accountant.epsilon(sigma, 30 / n, s, 1e-5))
    assert eps[0] < eps[1] <= 3.0 and eps[1] > 2.99
    report = (tmp_path / "dp" / "report.md").read_text(encoding="utf-8")
    assert f"privacy: DP-SGD, (epsilon {eps[1]:.3f}, delta 1e-05)-DP" in report


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target-epsilon", "0.05"], "cannot be reached"),
        (["--noise-multiplier", "0.3", "--target-epsilon", "1"], "more than dp.target_epsilon"),
        ([], "needs a privacy target or a noise level"),
        (["--target-epsilon", "3", "--delta", "0.05"], "not below 1/N"),
        (["--target-epsilon", "3", "--l1", "0.001"], "train.l1"),
        (["--target-epsilon", "3", "--model.name", "cnn", "--batch-norm"], "BatchNorm"),
    ],
)
def test_settings_that_cannot_work_are_refused_clearly(tmp_path, capsys, extra, message):
    argv = ["train", "--train-subset", "100", "--epochs", "2", "--out-dir", str(tmp_path),
            "--progress", "off", "--channels", "2", "--hidden", "4", "--dp", *extra]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
