"""Attribution methods (gradschool/trust/attribution.py): against hand-computed gradients, the
completeness of integrated gradients, the two engines against each other, and Captum."""

from __future__ import annotations

import numpy as np
import pytest

from gradschool.backends import get_backend
from gradschool.errors import ConfigError
from gradschool.models import cnn, gpt, mlp
from gradschool.trust import attribution as A

try:
    import torch
except ImportError:  # the NumPy-engine tests still run; the others skip, saying why
    torch = None


def _backend(engine):
    if engine == "torch" and torch is None:
        pytest.skip("torch is not installed")
    return get_backend(engine, "float64")


def _pair(make):
    """The same model on both engines (float64), the engine's weights copied from torch's."""
    t, e = _backend("torch"), _backend("numpy")
    torch.manual_seed(0)
    model_t = t.cast_model(make(t.nn))
    model_e = e.cast_model(make(e.nn))
    model_e.load_state_dict({k: v.detach().numpy().copy() for k, v in model_t.state_dict().items()})
    return (t, model_t), (e, model_e)


def _small_cnn(nn):
    return cnn(nn, "lenet", (1, 8, 8), 3, [4], 3, 8, False, 0.0, "tanh")


def _images(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 8, 8)), rng.integers(0, 3, n)


# ---- by hand: a linear model ------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_saliency_and_gxi_of_a_linear_model_are_its_weights(engine):
    # f(x) = W x + b, so ∂f_c/∂x = W[c] for every x, and gradient × input = W[c] * x.
    b = _backend(engine)
    model = b.cast_model(mlp(b.nn, [5, 3]))
    W = b.to_numpy(model[1].weight)
    rng = np.random.default_rng(1)
    x, c = rng.normal(size=(4, 5)), np.array([0, 2, 1, 2])
    sal = A.saliency(model, b, x, c, abs=False)
    np.testing.assert_allclose(sal.values, W[c], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A.saliency(model, b, x, c).values, np.abs(W[c]), atol=1e-12)
    np.testing.assert_allclose(A.gradient_x_input(model, b, x, c).values, W[c] * x, atol=1e-12)
    # For a linear model, IG from 0 is exactly gradient × input, with no integration error.
    ig = A.integrated_gradients(model, b, x, c, steps=2)
    np.testing.assert_allclose(ig.values, W[c] * x, atol=1e-12)
    assert np.abs(ig.delta).max() < 1e-12


# ---- integrated gradients: completeness ------------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_integrated_gradients_are_complete(engine):
    b = _backend(engine)
    b.manual_seed(0)
    model = b.cast_model(_small_cnn(b.nn))
    x, c = _images()
    ig = A.integrated_gradients(model, b, x, c, baseline=0.0, steps=64)
    change = ig.scores - ig.baseline_scores
    # Σ_j IG_j = f(x) - f(x'), up to the quadrature error: tiny with 64 Gauss-Legendre points.
    np.testing.assert_allclose(ig.values.reshape(4, -1).sum(1), change, rtol=1e-6, atol=1e-8)
    assert np.abs(ig.delta).max() < 1e-6 * (1 + np.abs(change).max())
    # With a crude rule the error is larger, and reported.
    crude = A.integrated_gradients(model, b, x, c, steps=4, method="riemann_right")
    assert np.abs(crude.delta).max() > np.abs(ig.delta).max()


def test_quadrature_rules_integrate_exactly_what_they_should():
    for method in ("gausslegendre", "riemann_trapezoid", "riemann_middle"):
        a, w = A.quadrature(20, method)
        assert abs(w.sum() - 1) < 1e-12 and a.min() >= 0 and a.max() <= 1
        assert abs((w * a).sum() - 0.5) < 1e-12  # ∫ α = 1/2: every symmetric rule is exact
    a, w = A.quadrature(5)
    assert abs((w * a**9).sum() - 0.1) < 1e-12  # Gauss-Legendre, 5 points: exact to degree 9


# ---- the engines agree ------------------------------------------------------------------------


@pytest.mark.parametrize("method", A.METHODS)
def test_both_engines_give_the_same_attributions(method):
    (t, model_t), (e, model_e) = _pair(_small_cnn)
    x, c = _images()
    opts = {"samples": 3} if method == "smoothgrad" else {}
    ours = A.attribute(method, model_e, e, x, c, **opts)
    theirs = A.attribute(method, model_t, t, x, c, **opts)
    np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-9, atol=1e-11)


def test_occlusion_of_a_linear_model_is_gradient_x_input():
    # Hiding a window of a linear model drops the score by Σ_window w_j x_j; with 1x1 windows
    # the drop is w_j x_j itself.
    b = get_backend("numpy", "float64")
    model = b.cast_model(mlp(b.nn, [16, 2]))
    x = np.random.default_rng(2).normal(size=(3, 1, 4, 4))
    occ = A.occlusion(model, b, x, [1, 0, 1], window=1, stride=1)
    gxi = A.gradient_x_input(model, b, x, [1, 0, 1])
    np.testing.assert_allclose(occ.values, gxi.values, atol=1e-12)


# ---- Captum ------------------------------------------------------------------------------------


def _captum():
    return pytest.importorskip("captum.attr", reason="Captum is not installed (pip install captum)")


def test_gradient_methods_equal_captums():
    ca = _captum()
    (t, model), _ = _pair(_small_cnn)
    x, c = _images()
    xt, ct = torch.tensor(x), torch.tensor(c)
    model.eval()
    np.testing.assert_allclose(
        A.saliency(model, t, x, c).values,
        ca.Saliency(model).attribute(xt, target=ct).numpy(),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        A.gradient_x_input(model, t, x, c).values,
        ca.InputXGradient(model).attribute(xt, target=ct).detach().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "method",
    ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"],
)
def test_integrated_gradients_equal_captums(method):
    ca = _captum()
    (t, model), _ = _pair(_small_cnn)
    x, c = _images()
    base = np.full_like(x, -0.5)
    ours = A.integrated_gradients(model, t, x, c, baseline=base, steps=16, method=method)
    model.eval()
    theirs, delta = ca.IntegratedGradients(model).attribute(
        torch.tensor(x),
        baselines=torch.tensor(base),
        target=torch.tensor(c),
        n_steps=16,
        method=method,
        return_convergence_delta=True,
    )
    theirs = theirs.detach().numpy()
    if method == "riemann_trapezoid":
        # Captum's trapezoid weights are 1/n (halved at the ends): they sum to (n-1)/n.
        theirs = theirs * 16 / 15
    # NOTE: Captum casts the quadrature weights to float32, hence ~1e-7, not 1e-12.
    np.testing.assert_allclose(ours.values, theirs, rtol=1e-6, atol=1e-9)
    if method != "riemann_trapezoid":
        np.testing.assert_allclose(ours.delta, delta.numpy(), rtol=1e-5, atol=1e-8)


def test_smoothgrad_equals_captums_noise_tunnel():
    ca = _captum()
    (t, model), _ = _pair(_small_cnn)
    x, c = _images(3)
    samples, stdev = 5, 0.3
    model.eval()
    torch.manual_seed(7)
    theirs = ca.NoiseTunnel(ca.Saliency(model)).attribute(
        torch.tensor(x),
        nt_type="smoothgrad",
        nt_samples=samples,
        stdevs=stdev,
        target=torch.tensor(c),
    )
    # The same noise: Captum draws one normal per value of x repeated example by example.
    torch.manual_seed(7)
    # NOTE: Captum's std tensor is torch.tensor(stdev): float32, so the noise is float32 too.
    noise = torch.normal(0, torch.tensor(stdev).repeat((3 * samples, *x.shape[1:]))).double()
    noise = noise.numpy().reshape(3, samples, *x.shape[1:]).swapaxes(0, 1)
    ours = A.smoothgrad(model, t, x, c, noise=noise)
    np.testing.assert_allclose(ours.values, theirs.numpy(), rtol=1e-9, atol=1e-12)


def test_occlusion_equals_captums():
    ca = _captum()
    (t, model), _ = _pair(_small_cnn)
    x, c = _images()
    model.eval()
    for window, stride in [(3, 2), (4, 3), (2, 2)]:
        ours = A.occlusion(model, t, x, c, window=window, stride=stride, baseline=0.25)
        theirs = ca.Occlusion(model).attribute(
            torch.tensor(x),
            sliding_window_shapes=(1, window, window),
            strides=(1, stride, stride),
            baselines=0.25,
            target=torch.tensor(c),
        )
        # NOTE: Captum divides by float32 window counts, which returns float32 attributions.
        np.testing.assert_allclose(ours.values, theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["scalar", "one_input", "batch", "leading_one", "plane"])
def test_occlusion_with_a_per_pixel_baseline_equals_captums(kind):
    ca = _captum()
    (t, model), (e, model_e) = _pair(_small_cnn)
    x, c = _images()
    rng = np.random.default_rng(3)
    baseline = {
        "scalar": -0.5,
        "one_input": rng.normal(size=x.shape[1:]),  # (C, H, W): e.g. the mean training image
        "batch": rng.normal(size=x.shape),  # (N, C, H, W): one baseline per example
        "leading_one": rng.normal(size=(1, *x.shape[1:])),
        "plane": rng.normal(size=x.shape[2:]),  # (H, W): broadcast over the channels
    }[kind]
    ours = A.occlusion(model, t, x, c, window=3, stride=2, baseline=baseline)
    model.eval()
    theirs = ca.Occlusion(model).attribute(
        torch.tensor(x),
        sliding_window_shapes=(1, 3, 3),
        strides=(1, 2, 2),
        baselines=baseline if kind == "scalar" else torch.tensor(baseline),
        target=torch.tensor(c),
    )
    np.testing.assert_allclose(ours.values, theirs.numpy(), rtol=1e-6, atol=1e-7)
    # and the NumPy engine gives the torch engine's numbers
    same = A.occlusion(model_e, e, x, c, window=3, stride=2, baseline=baseline)
    np.testing.assert_allclose(same.values, ours.values, rtol=1e-9, atol=1e-11)


def test_baselines_of_the_wrong_shape_are_a_clear_error():
    b = get_backend("numpy", "float64")
    model = b.cast_model(_small_cnn(b.nn))
    x, c = _images()  # (4, 1, 8, 8)
    for bad in (np.zeros(4), np.zeros((1, 8, 7)), np.zeros((2, 1, 8, 8))):
        with pytest.raises(ConfigError, match=r"does not fit the inputs of shape \(4, 1, 8, 8\)"):
            A.occlusion(model, b, x, c, baseline=bad)
        with pytest.raises(ConfigError, match="shaped like one input"):
            A.integrated_gradients(model, b, x, c, baseline=bad, steps=2)
    with pytest.raises(ConfigError, match="a number or an array of numbers"):
        A.occlusion(model, b, x, c, baseline="black")


# ---- language models: per-token attribution -----------------------------------------------------


def _tiny_gpt(nn):
    return gpt(nn, vocab_size=11, n_layer=1, n_head=2, n_embd=8, block_size=6)


@pytest.mark.parametrize("method", ["ig", "gxi", "saliency"])
def test_token_attribution_agrees_across_engines_and_ig_is_complete(method):
    (t, model_t), (e, model_e) = _pair(_tiny_gpt)
    ids = np.array([3, 1, 4, 1, 5, 9])
    ours = A.token_attribution(model_e, e, ids, method=method, steps=32)
    theirs = A.token_attribution(model_t, t, ids, method=method, steps=32)
    assert ours["target"] == theirs["target"] and ours["values"].shape == (6,)
    np.testing.assert_allclose(ours["values"], theirs["values"], rtol=1e-8, atol=1e-11)
    if method == "ig":
        assert abs(ours["delta"]) < 1e-6


def test_token_attribution_equals_captums_layer_integrated_gradients():
    ca = _captum()
    (t, model), _ = _pair(_tiny_gpt)
    ids = np.array([[3, 1, 4, 1, 5, 9]])
    ours = A.token_attribution(model, t, ids[0], target=2, method="ig", steps=20, baseline_id=0)
    model.eval()
    lig = ca.LayerIntegratedGradients(lambda i: model(i)[:, -1, :], model.wte)
    theirs = lig.attribute(
        torch.tensor(ids), baselines=torch.zeros_like(torch.tensor(ids)), target=2, n_steps=20
    )
    np.testing.assert_allclose(ours["values"], theirs.sum(-1)[0].detach().numpy(), rtol=1e-6)


# ---- gradschool explain ------------------------------------------------------------------


def test_explain_cli_draws_heat_maps_and_reports_completeness(tmp_path, capsys):
    from gradschool.cli import main

    train = ["train", "--train-subset", "200", "--sizes", "784,16,10", "--epochs", "1"]
    train += ["--progress", "off", "--out-dir", str(tmp_path), "--run-name", "mlp"]
    assert main(train) == 0
    out = tmp_path / "ig.png"
    assert main(["explain", str(tmp_path / "mlp"), "--index", "0", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "completeness" in text and "#3: f(x) - f(black)" in text and out.stat().st_size > 0
    assert main(["explain", str(tmp_path / "mlp"), "--method", "occlusion", "--index", "1"]) == 0
    assert (tmp_path / "mlp" / "plots" / "explain_occlusion.png").exists()
    assert main(["explain", str(tmp_path / "mlp"), "--index", "99999"]) == 2
    assert "not a test example" in capsys.readouterr().err


def test_explain_cli_highlights_the_characters_of_a_gpt_prompt(tmp_path, capsys):
    from gradschool.cli import main

    train = ["train", "--config", "gpt_shakespeare", "--dataset", "shakespeare-mini"]
    train += ["--epochs", "1", "--eval-interval", "2", "--eval-batches", "1", "--n-layer", "1"]
    train += ["--n-embd", "16", "--n-head", "2", "--block-size", "16", "--batch-size", "2"]
    train += ["--progress", "off", "--out-dir", str(tmp_path), "--run-name", "gpt"]
    assert main(train) == 0
    assert main(["explain", str(tmp_path / "gpt"), "--prompt", "To be, or not to"]) == 0
    text = capsys.readouterr().out
    assert "next character" in text and "completeness error" in text
    page = (tmp_path / "gpt" / "plots" / "explain_text_ig.html").read_text(encoding="utf-8")
    assert (
        page.count("<span") == 16 and (tmp_path / "gpt" / "plots" / "explain_text_ig.png").exists()
    )
