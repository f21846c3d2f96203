"""Every example's own gradient, from ONE ordinary backward pass (Goodfellow 2015; Opacus's
grad samplers), on either engine.

A loop over the examples would run B backward passes. Instead a forward hook keeps each
layer's input a and output y, `y.retain_grad()` keeps the gradient g = dL/dy that the ordinary
backward pass computes, and a per-layer rule turns (a, g) into all B per-example gradients at
once:

    Linear     y = a W^T + b:   dW_i = Σ_t g_it a_it^T (outer products; a batched matmul),
                                 db_i = Σ_t g_it          (t runs over any sequence positions)
    Conv2d     y = W * a:       the same on unfolded (im2col) patches: dW_i = g_i cols_i^T
    Embedding  y = W[ids]:      dW_i = the rows g_it scattered (added) into row ids_it
    LayerNorm  y = â w + b:     dw_i = Σ_t â_it ⊙ g_it,  db_i = Σ_t g_it  (â: normalised input)

The rules are written once over the array operations of array_ops.py, so both engines run the
same code. DP-SGD (dp.py) clips and noises what `PerExampleGrads.compute` returns.

NOTE: the loss must be a mean (or sum) of per-example losses, as cross-entropy is. Layers that
mix the examples of a batch (BatchNorm) have no per-example gradient and are refused.
"""

from __future__ import annotations

from typing import Any

from gradschool.errors import ConfigError, TrainingError
from gradschool.trust.array_ops import engine_nn, ops_for

__all__ = ["PerExampleGrads", "per_example_grads"]


# ---- one rule per layer type -------------------------------------
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
        self.ops = ops_for(model)
        nn = engine_nn(model)
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
