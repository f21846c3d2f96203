"""Differentially private training: DP-SGD (Abadi et al. 2016), on either engine.

A model trained on personal data can remember it: a language model may repeat a phone number
it saw once. Differential privacy (Dwork et al. 2006) bounds how much any ONE example can
change what training outputs, so nobody can tell from the trained model whether your record
was in the data. DP-SGD gets that bound by changing three things in the training step:

1. **Poisson sampling** (`PoissonLoader`): each example joins each batch independently with
   probability q = batch_size / N, so batch sizes vary around batch_size. The accountant's
   privacy amplification by sampling assumes exactly this.
2. **Per-example clipping** (`PerExampleGrads`, `DPSGD.privatize`): compute each example's own
   gradient g_i, rescale it to norm at most C (`max_grad_norm`): g_i * min(1, C / ||g_i||).
   Now no example can move the sum by more than C: its *sensitivity* is C.
3. **Gaussian noise**: add N(0, σ²C²) to every coordinate of the clipped sum, then divide by
   the expected batch size q N. σ is the noise multiplier.

    g = (Σ_i clip_C(g_i) + N(0, σ² C² I)) / (q N)        then the optimizer's usual step

The privacy spent is counted by the accountant (accountant.py): (ε, δ) after T steps at (q, σ).
Given a target ε, `make_private` finds σ by bisection before training starts.

The per-example gradients are the costly part. A loop over the examples would run B backward
passes; instead a forward hook keeps each layer's input a and output y, `y.retain_grad()` keeps
the gradient g = dL/dy that the ONE ordinary backward pass computes, and a per-layer rule turns
(a, g) into all B per-example gradients at once (Goodfellow 2015; Opacus's grad samplers):

    Linear     y = a W^T + b:   dW_i = Σ_t g_it a_it^T (outer products; a batched matmul),
                                 db_i = Σ_t g_it          (t runs over any sequence positions)
    Conv2d     y = W * a:       the same on unfolded (im2col) patches: dW_i = g_i cols_i^T
    Embedding  y = W[ids]:      dW_i = the rows g_it scattered (added) into row ids_it
    LayerNorm  y = â w + b:     dw_i = Σ_t â_it ⊙ g_it,  db_i = Σ_t g_it  (â: normalised input)

The rules are written once over a small table of array operations (`_NumpyOps` for the
engine's arrays, `_TorchOps` for torch tensors), so both engines run the same code.

NOTE: the loss must be a mean (or sum) of per-example losses, as cross-entropy is. Layers that
mix the examples of a batch (BatchNorm) have no per-example gradient and are refused.
NOTE: noise is drawn from the engine's ordinary seeded generator, which is reproducible and
right for learning, but not a cryptographically secure source (Opacus's secure_mode is).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradschool.data.loader import index_like
from gradschool.errors import ConfigError, TrainingError
from gradschool.trust import accountant

__all__ = [
    "DPSGD",
    "PerExampleGrads",
    "PoissonLoader",
    "PrivacyPlan",
    "make_private",
    "per_example_grads",
]


# ---- 1. Poisson sampling ------------------------------------------------------------------


class PoissonLoader:
    """Batches in which each example appears independently with probability `sample_rate`.

    `PoissonLoader(X, y, batch_size=256, seed=0)`: q = batch_size / N, and an epoch is
    ceil(N / batch_size) batches (as many as an ordinary loader's), each of Binomial(N, q)
    examples: 256 on average, sometimes 230, sometimes 280, in rare cases none. The batches of
    epoch e depend only on (seed, e), so a run resumed at epoch e sees the same batches.
    Shaped like `DataLoader` (len, set_epoch, epoch) so the training loop cannot tell them apart.
    """

    def __init__(
        self, *arrays: Any, batch_size: int | str, seed: int = 0, num_batches: int | None = None
    ) -> None:
        n = len(arrays[0])
        if n == 0:
            raise ConfigError("DP-SGD needs at least one training example.")
        expected = n if batch_size == "full" else min(int(batch_size), n)
        self.arrays, self.seed, self.epoch = arrays, int(seed), 0
        self.num_examples = n
        self.sample_rate = expected / n
        self.num_batches = num_batches or math.ceil(n / expected)

    @property
    def expected_batch_size(self) -> float:
        return self.sample_rate * self.num_examples

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self._batches(epoch)

    def _batches(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        # NOTE: a stream of its own ([seed, epoch, 0x0D9]), apart from the weights' and the
        # shuffling loader's, so switching DP on changes nothing else about a run's randomness.
        rng = np.random.default_rng([self.seed, epoch, 0x0D9])
        for _ in range(self.num_batches):
            # One coin per example: the definition of Poisson sampling, read literally.
            idx = np.flatnonzero(rng.random(self.num_examples) < self.sample_rate)
            idx = index_like(self.arrays[0], idx)  # on the data's GPU, if it is on one
            yield tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        return (
            f"PoissonLoader(N={self.num_examples}, q={self.sample_rate:.4g}, "
            f"batches={self.num_batches})"
        )


# ---- 2. per-example gradients: array operations for either engine ----------------------------


class _NumpyOps:
    """What the per-layer rules need, for the NumPy engine (plain arrays)."""

    name = "numpy"

    def __init__(self) -> None:
        from gradschool.engine import Tensor, conv

        self._Tensor, self._conv = Tensor, conv

    def value(self, t: Any) -> np.ndarray:
        return t.data if isinstance(t, self._Tensor) else np.asarray(t)

    def wrap(self, a: np.ndarray | None) -> Any:
        return None if a is None else self._Tensor(a)

    def grad(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else t.grad.data

    def param(self, p: Any) -> np.ndarray:
        return p.data

    def sum(self, x: np.ndarray, dim: int | tuple[int, ...]) -> np.ndarray:
        return x.sum(axis=dim)

    def mean(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        return x.mean(axis=dims, keepdims=True)

    def cast(self, x: np.ndarray, like: np.ndarray) -> np.ndarray:
        return x.astype(like.dtype, copy=False)

    def mT(self, x: np.ndarray) -> np.ndarray:
        return np.swapaxes(x, -1, -2)

    def conv_weight_grads(
        self, a: np.ndarray, g: np.ndarray, kernel: tuple, padding: tuple, stride: tuple
    ) -> np.ndarray:
        # The engine's own im2col: cols (N, K, L) with K = C*kh*kw patch values and L = OH*OW
        # positions, in torch's F.unfold layout. Then dW_i = g_i cols_i^T, a batched matmul.
        N, O = g.shape[:2]
        cols = self._conv.unfold(self._Tensor(a), kernel, 1, padding, stride).data
        return g.reshape(N, O, -1) @ np.swapaxes(cols, 1, 2)  # (N, O, L) @ (N, L, K)

    def scatter_rows(self, ids: np.ndarray, g: np.ndarray, num_rows: int) -> np.ndarray:
        N, D = g.shape[0], g.shape[-1]
        out = np.zeros((N * num_rows, D), dtype=g.dtype)
        flat = (np.arange(N).reshape((N,) + (1,) * (ids.ndim - 1)) * num_rows + ids).reshape(-1)
        np.add.at(out, flat, g.reshape(-1, D))  # repeated ids add up, as they must
        return out.reshape(N, num_rows, D)

    def flat_norms(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt((x.reshape(len(x), -1).astype(np.float64) ** 2).sum(axis=1))

    def weighted_sum(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.tensordot(w.astype(x.dtype), x, axes=1)  # Σ_i w_i x_i

    def normal(self, like: np.ndarray, std: float, generator: Any) -> np.ndarray:
        from gradschool.engine import rng

        gen = generator if generator is not None else rng.generator()
        return (gen.standard_normal(like.shape) * std).astype(like.dtype)

    def zeros(self, like: np.ndarray, n: int) -> np.ndarray:
        return np.zeros((n, *like.shape), dtype=like.dtype)

    def set_grad(self, p: Any, g: np.ndarray) -> None:
        p.grad = self._Tensor(np.ascontiguousarray(g, dtype=p.data.dtype))


class _TorchOps:
    """The same operations on torch tensors (on their device)."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def value(self, t: Any) -> Any:
        return t.detach()

    def wrap(self, a: Any) -> Any:
        return a

    def grad(self, t: Any) -> Any:
        return t.grad

    def param(self, p: Any) -> Any:
        return p.detach()

    def sum(self, x: Any, dim: int | tuple[int, ...]) -> Any:
        return x.sum(dim=dim)

    def mean(self, x: Any, dims: tuple[int, ...]) -> Any:
        return x.mean(dim=dims, keepdim=True)

    def cast(self, x: Any, like: Any) -> Any:
        return x.to(like.dtype)

    def mT(self, x: Any) -> Any:
        return x.transpose(-1, -2)

    def conv_weight_grads(
        self, a: Any, g: Any, kernel: tuple, padding: tuple, stride: tuple
    ) -> Any:
        # The patches as a strided VIEW (N, C, OH, OW, kh, kw), contracted with g by einsum.
        # NOTE: F.unfold (torch's im2col op) gives the same numbers but was 2-50x slower on a
        # loaded CPU: it copies every patch before the matmul.
        (ph, pw), (kh, kw), (sh, sw) = padding, kernel, stride
        padded = self.torch.nn.functional.pad(a, (pw, pw, ph, ph)) if ph or pw else a
        windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)
        return self.torch.einsum("nohw,nchwij->nocij", g, windows)

    def scatter_rows(self, ids: Any, g: Any, num_rows: int) -> Any:
        N, D = g.shape[0], g.shape[-1]
        offsets = self.torch.arange(N, device=ids.device).reshape((N,) + (1,) * (ids.dim() - 1))
        flat = (offsets * num_rows + ids).reshape(-1)
        out = self.torch.zeros(N * num_rows, D, dtype=g.dtype, device=g.device)
        out.index_add_(0, flat, g.reshape(-1, D))
        return out.reshape(N, num_rows, D)

    def flat_norms(self, x: Any) -> Any:
        return x.reshape(len(x), -1).norm(2, dim=1)

    def weighted_sum(self, w: Any, x: Any) -> Any:
        return self.torch.tensordot(w.to(x.dtype), x, dims=1)

    def normal(self, like: Any, std: float, generator: Any) -> Any:
        return self.torch.normal(
            0.0, std, size=like.shape, generator=generator, device=like.device, dtype=like.dtype
        )

    def zeros(self, like: Any, n: int) -> Any:
        return self.torch.zeros((n, *like.shape), dtype=like.dtype, device=like.device)

    def set_grad(self, p: Any, g: Any) -> None:
        p.grad = g.to(p.dtype).reshape(p.shape).contiguous()


def _ops_for(model: Any) -> _NumpyOps | _TorchOps:
    from gradschool.engine import nn as engine_nn

    return _NumpyOps() if isinstance(model, engine_nn.Module) else _TorchOps()


# ---- 2. per-example gradients: one rule per layer type -------------------------------------
# Each rule gets the layer, its input `a` and the gradient `g` of its output, both with the
# batch first, and returns {parameter name: (N, *parameter shape)} - example i's gradient.


def _linear(ops: Any, layer: Any, a: Any, g: Any) -> dict[str, Any]:
    # a (N, ..., in), g (N, ..., out): positions (a sequence's T) folded into one axis P.
    N = a.shape[0]
    a, g = a.reshape(N, -1, a.shape[-1]), g.reshape(N, -1, g.shape[-1])  # (N,P,in), (N,P,out)
    grads = {"weight": ops.mT(g) @ a}  # (N, out, P) @ (N, P, in): Σ_t outer(g_t, a_t)
    if layer.bias is not None:
        grads["bias"] = ops.sum(g, 1)  # (N, out)
    return grads


def _conv_geometry(layer: Any) -> tuple[tuple, tuple, tuple]:
    kernel, stride = tuple(layer.kernel_size), tuple(layer.stride)
    padding = layer.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif stride == (1, 1) and all(k % 2 for k in kernel):  # "same", symmetric
            padding = (kernel[0] // 2, kernel[1] // 2)
        else:
            raise ConfigError(
                f"DP-SGD: no per-example rule for {layer} (padding='same' with an even kernel "
                f"or a stride): give the padding as numbers."
            )
    return kernel, tuple(padding), stride


def _conv2d(ops: Any, layer: Any, a: Any, g: Any) -> dict[str, Any]:
    # a (N, C, H, W), g (N, O, OH, OW). A convolution is a Linear layer applied to every
    # patch of the input (im2col): W (O, C*kh*kw) times the patch at each of the L = OH*OW
    # positions. So, as for Linear, dW_i = Σ_positions outer(g_i at l, patch_i at l).
    kernel, padding, stride = _conv_geometry(layer)
    N = g.shape[0]
    weight = ops.conv_weight_grads(a, g, kernel, padding, stride)
    grads = {"weight": weight.reshape(N, *layer.weight.shape)}  # (N, O, C, kh, kw)
    if layer.bias is not None:
        grads["bias"] = ops.sum(g, (2, 3))  # (N, O)
    return grads


def _embedding(ops: Any, layer: Any, ids: Any, g: Any) -> dict[str, Any]:
    # ids (N, ...) integers, g (N, ..., D): row ids[i, t] of example i's gradient gets g[i, t].
    grad = ops.scatter_rows(ids, g, layer.weight.shape[0])  # (N, V, D)
    padding_idx = getattr(layer, "padding_idx", None)
    if padding_idx is not None:  # torch never updates the padding row
        grad[:, padding_idx] = 0
    return {"weight": grad}


def _layer_norm(ops: Any, layer: Any, a: Any, g: Any) -> dict[str, Any]:
    # a, g (N, ..., *normalized_shape). Recompute â = (a - mean) / sqrt(var + eps).
    dims = tuple(range(a.ndim - len(layer.normalized_shape), a.ndim))
    mean = ops.mean(a, dims)
    var = ops.mean((a - mean) ** 2, dims)  # the biased variance, as the layer uses
    a_hat = (a - mean) / (var + layer.eps) ** 0.5
    N, shape = a.shape[0], tuple(layer.normalized_shape)
    grads = {}
    if layer.weight is not None:
        grads["weight"] = ops.sum((a_hat * g).reshape(N, -1, *shape), 1)  # (N, *shape)
    if layer.bias is not None:
        grads["bias"] = ops.sum(g.reshape(N, -1, *shape), 1)
    return grads


def _rules(nn: Any) -> list[tuple[type, Any]]:
    return [
        (nn.Linear, _linear),
        (nn.Conv2d, _conv2d),
        (nn.Embedding, _embedding),
        (nn.LayerNorm, _layer_norm),
    ]


def _check_layer(layer: Any) -> None:
    """Refuse the options of a supported layer that its rule does not cover."""
    name = type(layer).__name__
    if name == "Conv2d":
        plain = getattr(layer, "padding_mode", "zeros") == "zeros"
        if (
            not plain
            or getattr(layer, "groups", 1) != 1
            or tuple(getattr(layer, "dilation", (1, 1))) != (1, 1)
        ):
            raise ConfigError(
                f"DP-SGD: the per-example rule for Conv2d covers zero padding, groups = 1 and "
                f"dilation = 1; {layer} has others. Use plain convolutions in a private model."
            )
        _conv_geometry(layer)
    if name == "Embedding" and getattr(layer, "scale_grad_by_freq", False):
        raise ConfigError("DP-SGD: Embedding(scale_grad_by_freq=True) mixes the examples.")


class PerExampleGrads:
    """Collects what the per-example gradients of `model` need, and computes them.

        grads = PerExampleGrads(model)      # hooks on every Linear/Conv2d/Embedding/LayerNorm
        loss = F.cross_entropy(model(x), y)
        loss.backward()                     # ONE ordinary backward pass
        per_example = grads.compute()       # [(parameter, (B, *shape)), ...]

    `loss_reduction`: "mean" when the loss is the batch's mean of per-example losses (each
    g then carries a factor 1/B that is undone), "sum" when it is their sum.
    """

    def __init__(self, model: Any, loss_reduction: str = "mean") -> None:
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"loss_reduction must be 'mean' or 'sum', got {loss_reduction!r}")
        self.model, self.loss_reduction = model, loss_reduction
        self.ops = _ops_for(model)
        nn = _engine_nn(model)
        rules = _rules(nn)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self._records: list[tuple[Any, Any, Any, Any]] = []
        self._handles = []
        covered: set[int] = set()
        for name, module in model.named_modules():
            own = [p for p in module._parameters.values() if p is not None and p.requires_grad]
            if not own:
                continue
            rule = next((r for cls, r in rules if isinstance(module, cls)), None)
            if rule is None:
                raise ConfigError(_unsupported_layer(name or "the model", module))
            _check_layer(module)
            covered.update(id(p) for p in own)
            self._handles.append(module.register_forward_hook(self._hook(rule)))
        missing = [n for n, p in model.named_parameters() if id(p) not in covered]
        if missing:
            raise ConfigError(
                f"DP-SGD: the parameters {', '.join(missing)} belong to no layer with a "
                f"per-example rule (Linear, Conv2d, Embedding, LayerNorm)."
            )

    def _hook(self, rule: Any) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> None:
            # Only forward passes that will be differentiated (not evaluation under no_grad).
            if getattr(output, "requires_grad", False):
                output.retain_grad()  # keep dL/d(output) after backward: the rule's g
                self._records.append((module, rule, self.ops.value(args[0]), output))

        return hook

    def clear(self) -> None:
        self._records.clear()

    def remove(self) -> None:
        """Take the hooks away: the model is an ordinary model again."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.clear()

    def compute(self) -> list[tuple[Any, Any]]:
        """[(parameter, per-example gradients (B, *shape))] in model.parameters() order, from
        the last forward and backward pass; forgets that pass."""
        ops, records = self.ops, self._records
        total: dict[int, Any] = {}
        batch = None
        for module, rule, a, output in records:
            g = ops.grad(output)
            if g is None:  # this output did not reach the loss
                continue
            batch = g.shape[0]
            if batch == 0:  # an empty Poisson batch: every per-example gradient list is empty
                continue
            # In the weights' dtype (under bf16 autocast, activations and g are bfloat16).
            like = ops.param(module.weight)
            g = ops.cast(g, like)
            if type(module).__name__ != "Embedding":  # (an Embedding's input is token ids)
                a = ops.cast(a, like)
            for pname, per_example in rule(ops, module, a, g).items():
                p = module._parameters[pname]
                key = id(p)
                # A parameter used twice (tied weights: the GPT's lm_head is its wte) gets the
                # sum of both uses, example by example.
                total[key] = per_example if key not in total else total[key] + per_example
        self.clear()
        if batch is None:  # no forward pass reached the loss
            return [(p, None) for p in self.params]
        scale = batch if self.loss_reduction == "mean" else 1
        out = []
        for p in self.params:
            if id(p) not in total:
                if p.grad is not None and _any_nonzero(ops, p.grad):
                    raise TrainingError(_outside_forward(self.model, p))
                out.append((p, ops.zeros(ops.param(p), batch)))
                continue
            out.append((p, total[id(p)] * scale))
        return out


def _any_nonzero(ops: Any, grad: Any) -> bool:
    value = ops.value(grad)
    return bool((value != 0).any())


def _engine_nn(model: Any) -> Any:
    from gradschool.engine import nn as engine_nn

    if isinstance(model, engine_nn.Module):
        return engine_nn
    import torch

    return torch.nn


def _unsupported_layer(name: str, module: Any) -> str:
    kind = type(module).__name__
    why = (
        " Batch normalisation mixes the examples of a batch (each output depends on the "
        "batch's mean and variance), so no example has a gradient of its own: build the model "
        "without it (--batch-norm false; the resnet arch always has it)."
        if "BatchNorm" in kind
        else ""
    )
    return (
        f"DP-SGD needs every example's own gradient, and computes it for Linear, Conv2d, "
        f"Embedding and LayerNorm layers; layer {name} is a {kind}.{why}"
    )


def _outside_forward(model: Any, p: Any) -> str:
    name = next((n for n, q in model.named_parameters() if q is p), "?")
    return (
        f"DP-SGD: parameter {name} received a gradient outside its layer's forward pass, so "
        f"its per-example gradient is unknown. (The GPT, for one, adds its position table "
        f"directly: x = wte(idx) + wpe.weight[:T].) Private training supports models whose "
        f"weights are used only through their layers (mlp, cnn lenet)."
    )


def per_example_grads(
    model: Any, loss_fn: Any, x: Any, y: Any, loss_reduction: str = "mean"
) -> list[tuple[Any, Any]]:
    """Every example's gradient of `loss_fn(model(x), y)`, in one forward and backward pass.

    Returns [(parameter, (B, *parameter.shape))] in model.parameters() order, the gradients
    as engine tensors.
    """
    grads = PerExampleGrads(model, loss_reduction)
    try:
        for p in grads.params:
            p.grad = None
        loss_fn(model(x), y).backward()
        return [(p, grads.ops.wrap(g)) for p, g in grads.compute()]
    finally:
        grads.remove()


# ---- 3. the private step: clip, sum, noise, scale ---------------------------------------------


class DPSGD:
    """Turns the gradients of one backward pass into DP-SGD's noised gradient.

        dp = DPSGD(model, noise_multiplier=1.1, max_grad_norm=1.0, expected_batch_size=256)
        loss.backward()          # any ordinary backward
        dp.privatize()           # p.grad := (Σ clip(g_i) + N(0, σ²C²)) / expected_batch_size
        optimizer.step()         # any optimizer

    `generator`: where the noise comes from (a torch.Generator, or a NumPy Generator for the
    engine); None = the engine's global seeded generator (saved in checkpoints).
    Clipping is Opacus's: factor_i = min(1, C / (||g_i|| + 1e-6)); C = inf means no clipping.
    """

    def __init__(
        self,
        model: Any,
        *,
        noise_multiplier: float,
        max_grad_norm: float,
        expected_batch_size: float,
        loss_reduction: str = "mean",
        generator: Any = None,
    ) -> None:
        if noise_multiplier < 0 or not max_grad_norm > 0 or not expected_batch_size > 0:
            raise ValueError(
                "need noise_multiplier >= 0, max_grad_norm > 0 and expected_batch_size > 0"
            )
        self.noise_multiplier, self.max_grad_norm = noise_multiplier, max_grad_norm
        self.expected_batch_size, self.generator = expected_batch_size, generator
        self.grads = PerExampleGrads(model, loss_reduction)
        self.ops = self.grads.ops
        self.last_norms: Any = None  # each example's gradient norm before clipping, (B,)

    def privatize(self) -> None:
        """Replace every parameter's .grad by the private gradient of the last batch."""
        ops = self.ops
        per_example = self.grads.compute()
        C, sigma = self.max_grad_norm, self.noise_multiplier
        batch = next((len(g) for _, g in per_example if g is not None), 0)
        if batch:
            # The norm of example i's WHOLE gradient (all parameters together), (B,).
            norms = sum(ops.flat_norms(g) ** 2 for _, g in per_example) ** 0.5
            self.last_norms = norms
            factor = (C / (norms + 1e-6)).clip(max=1.0) if math.isfinite(C) else norms * 0 + 1
        for p, g in per_example:
            like = ops.param(p)
            summed = ops.weighted_sum(factor, g) if batch else like * 0  # Σ_i factor_i g_i
            if sigma > 0:  # std σC; σ = 0 adds nothing (and C = inf would make it NaN)
                summed = summed + ops.normal(like, sigma * C, self.generator)
            ops.set_grad(p, summed / self.expected_batch_size)

    def remove(self) -> None:
        self.grads.remove()


# ---- training: the plan that turns a config into a private run --------------------------------


class PrivacyPlan:
    """A run's privacy settings, resolved: q, σ, the steps, and ε spent so far.

    Made by `make_private` from the [dp] section; the trainer asks it for `privatize()` after
    every backward pass and for `epsilon(step)` after every epoch.
    """

    def __init__(
        self,
        dp: DPSGD,
        *,
        sample_rate: float,
        total_steps: int,
        delta: float,
        target_epsilon: float | None,
    ) -> None:
        self.dp, self.sample_rate, self.total_steps = dp, sample_rate, total_steps
        self.delta, self.target_epsilon = delta, target_epsilon

    @property
    def noise_multiplier(self) -> float:
        return self.dp.noise_multiplier

    def privatize(self) -> None:
        self.dp.privatize()

    def epsilon(self, steps: int) -> float:
        """ε spent after `steps` steps (at this run's δ)."""
        return accountant.epsilon(self.noise_multiplier, self.sample_rate, steps, self.delta)

    def describe(self) -> str:
        eps = self.epsilon(self.total_steps)
        return (
            f"DP-SGD: noise multiplier {self.noise_multiplier:.4g}, clipping norm "
            f"{self.dp.max_grad_norm:g}, sampling rate {self.sample_rate:.4g} (expected batch "
            f"{self.dp.expected_batch_size:.0f}), {self.total_steps} steps -> epsilon "
            f"{eps:.3f} at delta {self.delta:g}"
        )


def make_private(trainer: Any, console: bool = False) -> PrivacyPlan:
    """Resolve `trainer.config.dp` for this trainer's model and loader; check it can work.

    Finds σ for the target ε when `dp.noise_multiplier` is not given (and writes it into
    trainer.config, so the run's config.toml records it and a resumed run keeps it). Raises a
    ConfigError, saying what to change, for settings that cannot reach the target.
    """
    from gradschool.config import with_updates

    config = trainer.config
    dp, train = config.dp, config.train
    _refuse_incompatible(config, trainer.backend)
    loader = trainer.loader
    base = getattr(loader, "loader", loader)  # an AugmentedLoader wraps the Poisson loader
    if not isinstance(base, PoissonLoader):
        raise ConfigError(
            f"DP-SGD needs Poisson-sampled batches, but the {type(trainer.task).__name__} "
            f"made a {type(base).__name__}: private training works for classification tasks."
        )
    n, q = base.num_examples, base.sample_rate
    steps = train.epochs * len(loader)
    if train.max_steps is not None:
        steps = min(steps, train.max_steps)
    if dp.delta >= 1 / n:
        raise ConfigError(
            f"dp.delta = {dp.delta:g} is not below 1/N = {1 / n:.3g} (N = {n} training "
            f"examples): a δ that large allows leaking a whole example outright. Use a "
            f"δ well below 1/N, e.g. --delta {10 ** math.floor(math.log10(0.1 / n)):g}."
        )
    sigma = dp.noise_multiplier
    if sigma is None:
        if dp.target_epsilon is None:
            raise ConfigError(
                "DP-SGD needs a privacy target or a noise level: give --target-epsilon "
                "(e.g. 3) or --noise-multiplier (e.g. 1.1)."
            )
        try:
            sigma = accountant.noise_multiplier_for(dp.target_epsilon, dp.delta, q, steps)
        except ValueError as err:
            raise ConfigError(
                f"dp.target_epsilon = {dp.target_epsilon:g} cannot be reached: {err}. "
                f"Allow a larger ε, or train for fewer steps (now {steps}: "
                f"{train.epochs} epochs of {len(loader)} batches) or with a smaller batch "
                f"(sampling rate q = {q:.4g}); every step spends privacy."
            ) from None
        trainer.config = config = with_updates(config, {"dp.noise_multiplier": sigma})
    elif dp.target_epsilon is not None:
        reached = accountant.epsilon(sigma, q, steps, dp.delta)
        if reached > dp.target_epsilon:
            raise ConfigError(
                f"with dp.noise_multiplier = {sigma:g} the run would spend epsilon = "
                f"{reached:.3f} over {steps} steps, more than dp.target_epsilon = "
                f"{dp.target_epsilon:g}. Leave --noise-multiplier out to have it found, raise "
                f"it, train for fewer steps, or allow a larger --target-epsilon."
            )
    private = DPSGD(
        trainer.model,
        noise_multiplier=sigma,
        max_grad_norm=dp.max_grad_norm,
        expected_batch_size=base.expected_batch_size,
    )
    plan = PrivacyPlan(
        private, sample_rate=q, total_steps=steps, delta=dp.delta, target_epsilon=dp.target_epsilon
    )
    if console:
        print(plan.describe(), flush=True)
    return plan


def _refuse_incompatible(config: Any, backend: Any) -> None:
    """Settings that would break the privacy guarantee or the per-example gradients."""
    problems = []
    if config.train.l1:
        problems.append("train.l1 (its gradient would skip the clipping; use weight decay)")
    if config.optim.clip_grad_norm is not None:
        problems.append("optim.clip_grad_norm (DP-SGD clips each example: dp.max_grad_norm)")
    if config.train.compile:
        problems.append("train.compile (the per-example hooks need the eager model)")
    if backend.world_size > 1:
        problems.append("several processes (run DP-SGD in one process)")
    if config.model.name == "gpt":
        problems.append("model.name = gpt (it uses its position table outside a layer)")
    if problems:
        raise ConfigError(f"DP-SGD cannot be combined with {'; '.join(problems)}.")
