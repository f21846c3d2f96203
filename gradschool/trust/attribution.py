"""Why did the model say that? Attribution: a score for every input feature (pixel, token).

A trained network is a function f from an input x to class scores; its decision is
f_c(x), the score of class c (the logit, before softmax). An *attribution* method gives each
input feature x_j a number: how much it pushed f_c up (positive) or down (negative). The
standard methods, all here, on both engines:

- **Saliency** (Simonyan et al. 2014): |∂f_c/∂x_j|, the gradient's size. Which pixels, if
  nudged, would change the score most.
- **Gradient × input** (Shrikumar et al. 2016): x_j ∂f_c/∂x_j. For a linear model
  f_c = Σ_j w_j x_j + b it is exactly each feature's term w_j x_j of the sum.
- **SmoothGrad** (Smilkov et al. 2017): saliency averaged over noisy copies x + N(0, s²),
  (1/n) Σ_k |∇f_c(x + ε_k)|. Gradients of ReLU networks jump from pixel to pixel; the
  average shows the shape underneath.
- **Integrated gradients** (Sundararajan et al. 2017): walk from a baseline x' (a black
  image) to x and add up the gradients on the way,

      IG_j(x) = (x_j - x'_j) ∫_0^1 ∂f_c(x' + α (x - x')) / ∂x_j dα.

  By the fundamental theorem of calculus along that path, the attributions add up to the
  change of the score: Σ_j IG_j = f_c(x) - f_c(x'), *completeness*. The integral is a sum
  over `steps` points α_k with weights w_k (Gauss-Legendre, or Riemann sums), and the sum's
  error is reported: delta = Σ_j IG_j - (f_c(x) - f_c(x')).
- **Occlusion** (Zeiler & Fergus 2014): slide a patch of baseline values over the input and
  see how much the score drops with each part hidden; a feature's attribution is the mean
  drop over the patches that covered it. No gradients at all.

On the torch engine every method gives Captum's numbers (tests/test_attribution.py); the
functions take NumPy inputs and return NumPy attributions of the same shape, so the NumPy
engine runs exactly the same code.

For a language model (the GPT), `token_attribution` scores each character of a prompt for
the model's prediction of the NEXT character, with respect to the token embeddings (summed
over the embedding dimension): what Captum calls layer integrated gradients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.errors import ConfigError

__all__ = [
    "METHODS",
    "Attribution",
    "attribute",
    "class_scores",
    "gradient_x_input",
    "input_gradients",
    "integrated_gradients",
    "occlusion",
    "quadrature",
    "saliency",
    "smoothgrad",
    "token_attribution",
]

METHODS = ("ig", "saliency", "gxi", "smoothgrad", "occlusion")


@dataclass
class Attribution:
    """What an attribution method returns: `values` shaped like the inputs, and for
    integrated gradients its completeness error per example."""

    values: np.ndarray  # (N, *input shape)
    method: str
    delta: np.ndarray | None = None  # IG: Σ attributions - (f(x) - f(baseline)), (N,)
    scores: np.ndarray | None = None  # f_c(x), (N,)
    baseline_scores: np.ndarray | None = None  # f_c(baseline), (N,)


# ---- the two things every method needs: scores and their input gradients -------------------


@contextlib.contextmanager
def _explaining(model: Any) -> Iterator[None]:
    """Eval mode (no dropout, batch norm's running statistics), and no gradients for the
    weights: attribution differentiates with respect to the input only."""
    was_training = getattr(model, "training", False)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def _gradient(backend: Any, total: Any, leaf: Any) -> Any:
    """d total / d leaf for a scalar `total`: torch.autograd.grad on torch (no .grad left on
    the model's parameters), backward() on the engine, whose leaf then holds it."""
    if backend.name == "torch":
        (grad,) = backend.torch.autograd.grad(total, leaf)
        return grad
    total.backward()
    return leaf.grad


def _one_hot(target: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(target), num_classes))
    out[np.arange(len(target)), target] = 1.0
    return out


def _baseline_like(baseline: Any, x: np.ndarray, method: str) -> np.ndarray:
    """The baseline x' as a float64 array shaped like the batch x (N, *shape).

    Accepted, as Captum accepts them: a number (every feature); an array shaped like one
    input (*shape), the same for every example; shaped like the batch (N, *shape), one per
    example; or any shape that broadcasts to the batch, such as (1, *shape) or (1, H, W) for
    images (N, C, H, W). Anything else is a clear error, never a bare broadcast traceback.
    """
    try:
        base = np.asarray(baseline, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"the {method} baseline must be a number or an array of numbers, got "
            f"{type(baseline).__name__}: pass e.g. 0.0 (a black image) or an array shaped like "
            f"one input {x.shape[1:]}"
        ) from None
    try:
        if np.broadcast_shapes(base.shape, x.shape) == x.shape:
            return np.array(np.broadcast_to(base, x.shape))  # a copy: writable, owned
    except ValueError:
        pass
    raise ConfigError(
        f"the {method} baseline has shape {base.shape}, which does not fit the inputs of shape "
        f"{x.shape} ({len(x)} examples of shape {x.shape[1:]}): give a number (every feature), "
        f"an array shaped like one input {x.shape[1:]} (the same for every example), or like "
        f"the batch {x.shape} (one baseline per example), as Captum's baselines"
    )


def _targets(target: Any, n: int) -> np.ndarray:
    t = np.asarray(target, dtype=np.int64).reshape(-1)
    return np.full(n, int(t[0]), dtype=np.int64) if t.size == 1 and n != 1 else t


def class_scores(
    model: Any, backend: Any, x: np.ndarray, target: Any, batch_size: int = 256
) -> np.ndarray:
    """f_c(x) for each example: the model's output (logit) for class target[i]. (N,)"""
    x = np.asarray(x)
    target = _targets(target, len(x))
    out = []
    with _explaining(model), backend.no_grad():
        for i in range(0, len(x), batch_size):
            logits = backend.to_numpy(model(backend.tensor(x[i : i + batch_size])))
            out.append(logits[np.arange(len(logits)), target[i : i + batch_size]])
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def _grad_and_score(model: Any, backend: Any, x: np.ndarray, target: np.ndarray) -> tuple:
    """∂f_c/∂x and f_c(x) for one batch; the model is already in _explaining mode."""
    xt = backend.tensor(x)
    xt.requires_grad_(True)
    logits = model(xt)  # (B, classes)
    pick = backend.tensor(_one_hot(target, logits.shape[-1]))
    # Σ_i f_{c_i}(x_i): each example's score depends on its own input only, so ONE backward
    # pass gives every example's gradient.
    scores = (logits * pick).sum(-1)
    grad = _gradient(backend, scores.sum(), xt)
    return backend.to_numpy(grad).astype(np.float64), backend.to_numpy(scores).astype(np.float64)


def input_gradients(
    model: Any, backend: Any, x: np.ndarray, target: Any, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(∂f_c/∂x for each example (N, *shape), the scores f_c(x) (N,)), in batches."""
    x = np.asarray(x)
    target = _targets(target, len(x))
    grads, scores = [], []
    with _explaining(model):
        for i in range(0, len(x), batch_size):
            g, s = _grad_and_score(
                model, backend, x[i : i + batch_size], target[i : i + batch_size]
            )
            grads.append(g)
            scores.append(s)
    return np.concatenate(grads), np.concatenate(scores)


# ---- the methods ----------------------------------------------------------------------------


def saliency(model: Any, backend: Any, x: np.ndarray, target: Any, abs: bool = True) -> Attribution:
    """|∂f_c/∂x| (Simonyan et al. 2014); the signed gradient with abs=False (Captum's
    Saliency, same default)."""
    grad, scores = input_gradients(model, backend, x, target)
    return Attribution(np.abs(grad) if abs else grad, "saliency", scores=scores)


def gradient_x_input(model: Any, backend: Any, x: np.ndarray, target: Any) -> Attribution:
    """x ⊙ ∂f_c/∂x (Captum's InputXGradient)."""
    grad, scores = input_gradients(model, backend, x, target)
    return Attribution(np.asarray(x, dtype=np.float64) * grad, "gxi", scores=scores)


def smoothgrad(
    model: Any,
    backend: Any,
    x: np.ndarray,
    target: Any,
    samples: int = 50,
    stdev: float = 0.15,
    seed: int = 0,
    abs: bool = True,
    noise: np.ndarray | None = None,
) -> Attribution:
    """The mean saliency over `samples` noisy copies x + N(0, stdev²) (Smilkov et al. 2017).

    `stdev` is in the input's units (Captum's `stdevs`; the paper's "noise level" is a
    fraction of max - min: ~0.15 of the range). `noise` (samples, N, *shape) may be given;
    otherwise it is drawn from NumPy's generator seeded by `seed`, the same on both engines.
    """
    x = np.asarray(x, dtype=np.float64)
    target = _targets(target, len(x))
    if noise is None:
        noise = np.random.default_rng(seed).normal(0.0, stdev, size=(samples, *x.shape))
    noisy = (x[None] + noise).reshape(-1, *x.shape[1:])  # (samples * N, ...)
    grad, _ = input_gradients(model, backend, noisy, np.tile(target, len(noise)))
    grad = grad.reshape(len(noise), *x.shape)
    return Attribution((np.abs(grad) if abs else grad).mean(0), "smoothgrad")


def quadrature(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Points α_k in [0, 1] and weights w_k with ∫_0^1 g(α) dα ≈ Σ_k w_k g(α_k).

    gausslegendre (Captum's default): exact for polynomials of degree < 2 steps, so a few
    dozen points are usually enough. riemann_left/right/middle: the rectangle rules, weights
    1/steps. riemann_trapezoid: the trapezoid rule on `steps` equally spaced points
    including both ends, weights 1/(steps - 1), halved at the ends.
    NOTE: Captum's "riemann_trapezoid" weights are 1/steps (halved at the ends), which sum to
    1 - 1/steps: its integral is short by the factor (steps - 1)/steps. Ours sum to 1.
    """
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return 0.5 * (nodes + 1.0), 0.5 * weights  # mapped to [0, 1]
    if steps < 2:
        raise ConfigError(f"the {method} rule needs at least 2 steps, got {steps}")
    if method == "riemann_trapezoid":
        w = np.full(steps, 1.0 / (steps - 1))
        w[0] = w[-1] = 0.5 / (steps - 1)
        return np.linspace(0.0, 1.0, steps), w
    w = np.full(steps, 1.0 / steps)
    if method == "riemann_left":
        return np.linspace(0.0, 1.0 - 1.0 / steps, steps), w
    if method == "riemann_right":
        return np.linspace(1.0 / steps, 1.0, steps), w
    if method == "riemann_middle":
        return np.linspace(0.5 / steps, 1.0 - 0.5 / steps, steps), w
    raise ConfigError(
        f"unknown integration rule {method!r}: choose gausslegendre, riemann_left, "
        f"riemann_right, riemann_middle or riemann_trapezoid"
    )


def integrated_gradients(
    model: Any,
    backend: Any,
    x: np.ndarray,
    target: Any,
    baseline: float | np.ndarray = 0.0,
    steps: int = 50,
    method: str = "gausslegendre",
) -> Attribution:
    """Integrated gradients from `baseline` (a number, or an array shaped like one input or
    like x) to x, with `steps` points of the rule `method` (see `quadrature`).

    The result's `delta` is each example's completeness error Σ_j IG_j - (f_c(x) - f_c(x')):
    how far the sum of the attributions is from the change of the score it explains.
    """
    x = np.asarray(x, dtype=np.float64)
    target = _targets(target, len(x))
    base = _baseline_like(baseline, x, "integrated gradients")
    alphas, weights = quadrature(steps, method)
    path_grad = np.empty_like(x)
    chunk = max(1, 2048 // steps)  # examples per pass: steps x chunk points on their paths
    for i in range(0, len(x), chunk):
        xs, bs = x[i : i + chunk], base[i : i + chunk]
        a = alphas.reshape((-1,) + (1,) * x.ndim)
        path = (bs + a * (xs - bs)).reshape(-1, *x.shape[1:])  # (steps * n, ...): x' + α(x - x')
        grad, _ = input_gradients(model, backend, path, np.tile(target[i : i + chunk], steps))
        grad = grad.reshape(steps, len(xs), *x.shape[1:])
        path_grad[i : i + chunk] = np.tensordot(weights, grad, axes=1)  # Σ_k w_k ∇f(path_k)
    values = (x - base) * path_grad
    scores = class_scores(model, backend, x, target)
    base_scores = class_scores(model, backend, base, target)
    delta = values.reshape(len(x), -1).sum(1) - (scores - base_scores)
    return Attribution(values, "ig", delta, scores, base_scores)


def occlusion(
    model: Any,
    backend: Any,
    x: np.ndarray,
    target: Any,
    window: tuple[int, ...] | int = 4,
    stride: tuple[int, ...] | int = 2,
    baseline: float | np.ndarray = 0.0,
    batch_size: int = 256,
) -> Attribution:
    """Hide one window of the input at a time (set it to `baseline`) and record how much the
    score drops: f_c(x) - f_c(x with the window hidden). Each feature's attribution is the
    mean drop over the windows that covered it (Captum's Occlusion).

    `baseline`: what a hidden feature becomes, as Captum's `baselines`: a number, an array
    shaped like one input (a per-pixel baseline, e.g. the mean training image), or shaped
    like the batch x (one per example); any shape that broadcasts to x's.

    `window`, `stride`: per input dimension (after the batch), or one int for the trailing
    spatial dimensions (2 for images (C, H, W), with all channels hidden together; 1 for flat
    inputs). Windows start at 0, stride, 2 stride, ..., and the last one may hang over the
    edge (it is cut there), so every feature is covered, as in Captum.
    """
    x = np.asarray(x, dtype=np.float64)
    target = _targets(target, len(x))
    base = _baseline_like(baseline, x, "occlusion")  # (N, *shape)
    shape = x.shape[1:]
    window, stride = _window(window, shape), _window(stride, shape, fill=1)
    if any(w > s for w, s in zip(window, shape)):
        raise ConfigError(f"the occlusion window {window} is larger than the input {shape}")
    counts = [
        int(np.ceil((s - w) / st)) + 1 if s > w else 1 for s, w, st in zip(shape, window, stride)
    ]
    scores = class_scores(model, backend, x, target, batch_size)
    total = np.zeros_like(x)
    covered = np.zeros(shape)
    for position in np.ndindex(*counts):
        box = tuple(slice(p * st, p * st + w) for p, st, w in zip(position, stride, window))
        where = (slice(None), *box)  # the window in every example
        hidden = x.copy()
        hidden[where] = base[where]  # the window, from x'
        drop = scores - class_scores(model, backend, hidden, target, batch_size)  # (N,)
        total[where] += drop.reshape((-1,) + (1,) * len(shape))
        covered[box] += 1
    return Attribution(total / covered, "occlusion", scores=scores)


def _window(value: tuple[int, ...] | int, shape: tuple[int, ...], fill: int | None = None) -> tuple:
    """An int applies to the trailing spatial dims; earlier dims are covered whole (window)
    or stepped by 1 (stride)."""
    if not isinstance(value, (int, np.integer)):
        if len(value) != len(shape):
            raise ConfigError(f"give one window/stride size per input dimension {shape}")
        return tuple(int(v) for v in value)
    spatial = 2 if len(shape) >= 3 else len(shape)
    lead = shape[: len(shape) - spatial] if fill is None else (fill,) * (len(shape) - spatial)
    return tuple(lead) + (int(value),) * spatial


def attribute(
    method: str, model: Any, backend: Any, x: np.ndarray, target: Any, **options: Any
) -> Attribution:
    """One entry point for the CLI: method = ig | saliency | gxi | smoothgrad | occlusion."""
    functions: dict[str, Callable[..., Attribution]] = {
        "ig": integrated_gradients,
        "saliency": saliency,
        "gxi": gradient_x_input,
        "smoothgrad": smoothgrad,
        "occlusion": occlusion,
    }
    if method not in functions:
        raise ConfigError(
            f"unknown attribution method {method!r}: choose one of {', '.join(METHODS)}"
        )
    return functions[method](model, backend, x, target, **options)


# ---- language models: which characters made the model predict the next one ----------------


def _embedding_layer(model: Any, backend: Any) -> Any:
    """The token embedding: the GPT's `wte`, else the model's first Embedding."""
    layer = getattr(model, "wte", None)
    if layer is None:
        layer = next((m for m in model.modules() if isinstance(m, backend.nn.Embedding)), None)
    if layer is None:
        raise ConfigError("token attribution needs a model with a token embedding layer")
    return layer


def _embedding_grads(
    model: Any, backend: Any, ids: np.ndarray, embeddings: np.ndarray, position: int, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on token `ids` (B, T) with the embedding layer's output REPLACED by
    `embeddings` (B, T, C); return (∂ score / ∂ embeddings (B, T, C), the scores (B,)), where
    score = the logit of token `target` at `position`."""
    layer = _embedding_layer(model, backend)
    leaf = backend.tensor(embeddings)
    leaf.requires_grad_(True)
    # A forward hook that returns a value replaces the layer's output (torch's rule, and the
    # engine's): the rest of the model runs on our embeddings, and we get their gradient.
    handle = layer.register_forward_hook(lambda module, args, output: leaf)
    try:
        logits = model(backend.tensor(ids))  # (B, T, V)
        scores = logits[:, position, target]  # (B,)
        grad = _gradient(backend, scores.sum(), leaf)
    finally:
        handle.remove()
    return backend.to_numpy(grad).astype(np.float64), backend.to_numpy(scores).astype(np.float64)


def token_attribution(
    model: Any,
    backend: Any,
    ids: np.ndarray,
    target: int | None = None,
    method: str = "ig",
    steps: int = 50,
    baseline_id: int | None = None,
) -> dict[str, Any]:
    """Attribution of the next-token prediction after `ids` (T,) to each input token.

    The score is the logit of `target` (default: the token the model finds likeliest) at the
    last position. Attributions are taken with respect to the token embeddings e_t (T, C) and
    summed over the C dimensions, one number per token:
      ig:       integrated gradients from the baseline embeddings (zeros, or the embedding of
                `baseline_id` at every position) to e; completeness holds for the sum;
      gxi:      e ⊙ ∂score/∂e;   saliency: |∂score/∂e| (summed: a size, never negative).
    Returns {"values" (T,), "target", "prob" (the model's probability of target), "delta"}.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(1, -1)
    position = ids.shape[1] - 1
    layer = _embedding_layer(model, backend)
    with _explaining(model):
        with backend.no_grad():
            logits = backend.to_numpy(model(backend.tensor(ids)))[0, -1].astype(np.float64)
            emb = backend.to_numpy(layer(backend.tensor(ids))).astype(np.float64)  # (1, T, C)
            base = (
                np.zeros_like(emb)
                if baseline_id is None
                else backend.to_numpy(layer(backend.tensor(np.full_like(ids, baseline_id))))
            ).astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        target = int(np.argmax(logits)) if target is None else int(target)
        delta = None
        if method == "ig":
            alphas, weights = quadrature(steps)
            path = base + alphas.reshape(-1, 1, 1) * (emb - base)  # (steps, T, C)
            many = np.repeat(ids, len(alphas), axis=0)
            grad, _ = _embedding_grads(model, backend, many, path, position, target)
            values = (emb[0] - base[0]) * (weights.reshape(-1, 1, 1) * grad).sum(0)  # (T, C)
            _, ends = _embedding_grads(
                model, backend, np.repeat(ids, 2, 0), np.concatenate([emb, base]), position, target
            )
            delta = float(values.sum() - (ends[0] - ends[1]))
        elif method in ("gxi", "saliency"):
            grad, _ = _embedding_grads(model, backend, ids, emb, position, target)
            values = emb[0] * grad[0] if method == "gxi" else np.abs(grad[0])
        else:
            raise ConfigError(f"token attribution supports ig, gxi and saliency, not {method!r}")
    return {
        "values": values.sum(-1),
        "target": target,
        "prob": float(probs[target]),
        "delta": delta,
    }
