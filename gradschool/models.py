"""Models, each written once against a backend's `nn`.

`mlp(backend.nn, ...)` builds a NumPy-engine model when given `gradschool.engine.nn` and a
torch model when given `torch.nn`: the code below never knows which. That is how the parity
tests can build the same network twice, copy the weights across, and compare.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any

import numpy as np

from gradschool.errors import ConfigError

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU"}


def mlp(nn: Any, sizes: list[int], activation: str = "relu", dropout: float = 0.0) -> Any:
    """A multi-layer perceptron: Flatten, then Linear layers of the given sizes with an
    activation (and optional dropout) between them; the last layer outputs raw logits.

    The seed's example network is `mlp(nn, [784, 128, 64, 10])`: fc1 784->128, ReLU,
    fc2 128->64, ReLU, fc3 64->10 (source section 4).
    """
    if len(sizes) < 2:
        raise ConfigError(
            f"model.sizes needs at least an input and an output size, got {sizes}; "
            f"e.g. sizes = [784, 128, 64, 10]"
        )
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    layers = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(getattr(nn, ACTIVATIONS[activation])())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


# ---- cnn: convolutional networks for images (LeNet-style, and a small ResNet) ----------------


@functools.cache
def _residual_class(nn: Any) -> type:
    """`Residual(body)`: x + body(x), the skip connection of a ResNet (He et al. 2016).

    NOTE: made per engine (a class must subclass its own engine's `nn.Module`), once.
    """

    class Residual(nn.Module):
        def __init__(self, body: Any) -> None:
            super().__init__()
            self.body = body

        def forward(self, x: Any) -> Any:
            return x + self.body(x)  # the block learns a correction to x, not a new x

    return Residual


def _conv_bn(nn: Any, c_in: int, c_out: int, activation: str, batch_norm: bool = True) -> list:
    """3x3 convolution (padding 1, so H and W are kept) [-> BatchNorm2d] -> activation.

    With batch norm the conv has no bias: the norm subtracts the channel mean, which would
    cancel any bias, and then adds its own shift (`BatchNorm2d.bias`)."""
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    return layers + [getattr(nn, ACTIVATIONS[activation])()]


def cnn(
    nn: Any,
    arch: str = "lenet",
    input_shape: tuple[int, int, int] = (1, 28, 28),
    num_classes: int = 10,
    channels: list[int] | tuple[int, ...] = (32, 64),
    kernel_size: int = 3,
    hidden: int = 128,
    batch_norm: bool = False,
    dropout: float = 0.0,
    activation: str = "relu",
) -> Any:
    """A convolutional network for (C, H, W) images, written once for either engine.

    arch="lenet" (LeCun et al. 1998, with ReLU and max pooling): for each width c in
    `channels`, a stage Conv2d(k x k, "same" padding) [-> BatchNorm2d] -> activation ->
    MaxPool2d(2), halving H and W; then Flatten -> Linear(hidden) -> activation [-> Dropout]
    -> Linear(num_classes). `cnn(nn)` is the MNIST network of configs/mnist_cnn.toml:
    (1, 28, 28) -> 32 x 14 x 14 -> 64 x 7 x 7 -> 3136 -> 128 -> 10.

    arch="resnet": the 9-layer ResNet of Page's DAWNBench entry ("How to train your ResNet",
    2018), built for 32x32 colour images and scaled by `channels` = [c0, c1, c2, c3]:
    prep conv(c0) -> conv(c1), pool, residual(conv(c1), conv(c1)) -> conv(c2), pool ->
    conv(c3), pool, residual(conv(c3), conv(c3)) -> global average pool -> Linear. Every conv
    is 3x3 with BatchNorm; the image shrinks 32 -> 16 -> 8 -> 4 while channels grow.
    """
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    c_in, H, W = input_shape
    act = getattr(nn, ACTIVATIONS[activation])
    head_dropout = [nn.Dropout(dropout)] if dropout > 0 else []
    if arch == "lenet":
        if kernel_size % 2 == 0:
            raise ConfigError(
                f"model.kernel_size must be odd for the lenet arch (padding k // 2 keeps the "
                f"image size only for odd k), got {kernel_size}; e.g. --kernel-size 3 or 5"
            )
        layers: list = []
        for c in channels:
            layers.append(nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2))
            layers += [nn.BatchNorm2d(c)] if batch_norm else []
            layers += _act_and_pool(nn, act, activation)
            c_in, H, W = c, H // 2, W // 2
        if H < 1 or W < 1:
            raise ConfigError(
                f"the lenet arch halves the image {len(channels)} times, which leaves nothing "
                f"of a {input_shape[1]}x{input_shape[2]} input; use fewer model.channels"
            )
        layers += [nn.Flatten(), nn.Linear(c_in * H * W, hidden), act(), *head_dropout]
        return nn.Sequential(*layers, nn.Linear(hidden, num_classes))
    if arch == "resnet":
        if len(channels) != 4:
            raise ConfigError(
                f"the resnet arch takes exactly 4 widths in model.channels (prep, layer1, "
                f"layer2, layer3), got {list(channels)}; e.g. --channels 16,32,64,128"
            )
        if H < 8 or W < 8:
            raise ConfigError(
                f"the resnet arch halves the image 3 times and needs at least 8x8 inputs, got "
                f"{H}x{W}; use arch lenet for small images"
            )
        Residual = _residual_class(nn)
        c0, c1, c2, c3 = channels

        def block(c_in: int, c_out: int, pool: bool) -> list:
            layers = _conv_bn(nn, c_in, c_out, activation)
            # NOTE: pool after BN + ReLU, as in Page's network; ReLU and max commute anyway.
            return layers + [nn.MaxPool2d(2)] if pool else layers

        def residual(c: int) -> Any:
            return Residual(nn.Sequential(*block(c, c, False), *block(c, c, False)))

        return nn.Sequential(
            *block(c_in, c0, False),  # prep: (c0, H, W)
            *block(c0, c1, True),  # layer1: (c1, H/2, W/2)
            residual(c1),
            *block(c1, c2, True),  # layer2: (c2, H/4, W/4)
            *block(c2, c3, True),  # layer3: (c3, H/8, W/8)
            residual(c3),
            nn.AdaptiveAvgPool2d(1),  # global average pool: (c3, 1, 1)
            nn.Flatten(),
            *head_dropout,
            nn.Linear(c3, num_classes),
        )
    if arch == "dpcnn":
        return _dpcnn(nn, c_in, H, W, num_classes, channels, hidden, act, head_dropout)
    if arch == "speedrun":
        return _speedrun(nn, c_in, H, W, num_classes, channels, hidden, act, activation)
    raise ConfigError(f"unknown cnn arch {arch!r}; choose lenet, resnet, dpcnn or speedrun")


def _act_and_pool(nn: Any, act: Any, activation: str) -> list:
    """The activation and a 2x2 max-pool after a convolution.

    NOTE: a ReLU is applied AFTER the pool. The two commute: ReLU never decreases, so the
    largest of four ReLU'd values is the ReLU of the largest, and the gradient reaches the
    same pixel either way (where ReLU ties the window at 0, its gradient is 0 on both paths).
    The function and its gradients are the same, and the ReLU runs on a quarter of the
    values. GELU is not monotonic, and tanh and sigmoid saturate into ties in float32, so
    those stay before the pool.
    """
    if activation == "relu":
        return [nn.MaxPool2d(2), act()]
    return [act(), nn.MaxPool2d(2)]


def _speedrun(
    nn: Any, c_in: int, H: int, W: int, num_classes: int, channels: Any, hidden: int,
    act: Any, activation: str,
) -> Any:  # fmt: skip
    """The network of the MNIST speedrun (tuomaso/train_mnist_fast, 99.04% mean test accuracy
    after one epoch): unpadded convolutions, so the image shrinks before every pool. For 28x28
    MNIST with channels 24, 32: conv 5x5 -> (24, 24, 24), pool -> 12x12, conv 3x3 ->
    (32, 10, 10), pool -> 5x5 -> Linear(800, hidden) -> Linear(num_classes). A quarter of
    the lenet arch's multiplications at the same widths (whose "same" padding keeps 28x28
    and 14x14 maps).
    """
    if len(channels) != 2:
        raise ConfigError(
            f"the speedrun arch has 2 conv layers and takes 2 widths in model.channels, got "
            f"{list(channels)}; e.g. --channels 24,32"
        )
    c1, c2 = channels
    H, W = ((H - 4) // 2 - 2) // 2, ((W - 4) // 2 - 2) // 2
    if H < 1 or W < 1:
        raise ConfigError("the speedrun arch needs images of at least 12x12 pixels")
    return nn.Sequential(
        nn.Conv2d(c_in, c1, 5), *_act_and_pool(nn, act, activation),
        nn.Conv2d(c1, c2, 3), *_act_and_pool(nn, act, activation),
        nn.Flatten(), nn.Linear(c2 * H * W, hidden), act(), nn.Linear(hidden, num_classes),
    )  # fmt: skip


def _dpcnn(
    nn: Any, c_in: int, H: int, W: int, num_classes: int, channels: Any, hidden: int,
    act: Any, head_dropout: list,
) -> Any:  # fmt: skip
    """The small CNN of the DP-SGD literature (Papernot et al. 2021, "Tempered sigmoid
    activations"; Tramer & Boneh 2021; the MNIST example of Opacus): few weights, because
    DP-SGD's noise grows with the number of parameters. For 28x28 MNIST with channels 16, 32:
    conv 8x8 stride 2 pad 3 -> (16, 14, 14), max-pool 2 stride 1 -> 13x13, conv 4x4 stride 2
    -> (32, 5, 5), max-pool 2 stride 1 -> 4x4 -> Linear(512, hidden) -> Linear(num_classes).
    No batch norm: it mixes the examples of a batch, which DP-SGD cannot allow.
    """
    if len(channels) != 2:
        raise ConfigError(
            f"the dpcnn arch has 2 conv layers and takes 2 widths in model.channels, got "
            f"{list(channels)}; e.g. --channels 16,32"
        )
    c1, c2 = channels
    H, W = (H + 6 - 8) // 2 + 1 - 1, (W + 6 - 8) // 2 + 1 - 1  # conv 8/2/3, then pool 2/1
    H, W = (H - 4) // 2 + 1 - 1, (W - 4) // 2 + 1 - 1  # conv 4/2, then pool 2/1
    if H < 1 or W < 1:
        raise ConfigError("the dpcnn arch needs images of at least 16x16 pixels")
    return nn.Sequential(
        nn.Conv2d(c_in, c1, 8, stride=2, padding=3), act(), nn.MaxPool2d(2, 1),
        nn.Conv2d(c1, c2, 4, stride=2), act(), nn.MaxPool2d(2, 1),
        nn.Flatten(), nn.Linear(c2 * H * W, hidden), act(), *head_dropout,
        nn.Linear(hidden, num_classes),
    )  # fmt: skip


# ---- gpt: a character-level transformer (nanoGPT's model, layer by layer) -------------------


@functools.cache
def _gpt_classes(nn: Any) -> types.SimpleNamespace:
    """The GPT's Module classes, defined once per engine (`nn` is `torch.nn` or the engine's).

    NOTE: a class must subclass *its engine's* `nn.Module`, so the classes are made by this
    factory, which receives `nn`; the code below is the same for both engines.
    """
    F = nn.functional

    class CausalSelfAttention(nn.Module):
        """Multi-head self-attention where position t sees only positions <= t."""

        def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
            super().__init__()
            self.n_head, self.dropout = n_head, dropout
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # q, k, v in one matmul
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.resid_dropout = nn.Dropout(dropout)

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            qkv = self.c_attn(x)  # (B, T, 3C)

            def heads(t: Any) -> Any:  # (B, T, C) -> (B, n_head, T, C / n_head)
                return t.reshape(B, T, self.n_head, C // self.n_head).transpose(1, 2)

            # NOTE: split, not three slices qkv[..., i*C:(i+1)*C]: torch's backward of a split
            # is one concatenation, of three slices three zero-filled (B, T, 3C) arrays added up.
            q, k, v = (heads(t) for t in qkv.split(C, dim=2))
            # softmax(q k^T / sqrt(hs) + causal mask) v, per head: (B, nh, T, hs). On the
            # engine this is the explicit formula (engine/transformer.py); torch runs a fused
            # kernel, proven equal to the explicit form in tests/test_gpt.py.
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            y = y.transpose(1, 2).reshape(B, T, C)  # heads side by side again
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        """Position-wise feed-forward: C -> 4C -> GELU -> C."""

        def __init__(self, n_embd: int, dropout: float, bias: bool, gelu: str = "tanh") -> None:
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            # NOTE: GELU's tanh form (GPT-2's) by default, on both engines: the exact form
            # needs erf, which the engine computes per element with math.erf (exact but ~25x
            # slower). On torch the exact form (nanoGPT's) is the faster one: gelu="exact".
            self.gelu = nn.GELU(approximate="tanh" if gelu == "tanh" else "none")
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x: Any) -> Any:
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        """Pre-norm residual block (GPT-2): x + attn(ln(x)), then x + mlp(ln(x))."""

        def __init__(
            self, n_embd: int, n_head: int, dropout: float, bias: bool, gelu: str = "tanh"
        ) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
            self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
            self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
            self.mlp = MLP(n_embd, dropout, bias, gelu)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        """Token ids (B, T) -> next-token logits (B, T, vocab_size)."""

        def __init__(
            self,
            vocab_size: int,
            n_layer: int,
            n_head: int,
            n_embd: int,
            block_size: int,
            dropout: float,
            bias: bool,
            gelu: str = "tanh",
        ) -> None:
            super().__init__()
            self.block_size = block_size
            self.wte = nn.Embedding(vocab_size, n_embd)  # token embedding
            self.wpe = nn.Embedding(block_size, n_embd)  # position embedding
            self.drop = nn.Dropout(dropout)
            self.h = nn.ModuleList(
                [Block(n_embd, n_head, dropout, bias, gelu) for _ in range(n_layer)]
            )
            self.ln_f = nn.LayerNorm(n_embd, bias=bias)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            # Weight tying (Press & Wolf 2017): the output layer scores token v by the dot
            # product with v's own embedding, so the two share one (V, C) matrix.
            self.lm_head.weight = self.wte.weight
            # nanoGPT's (GPT-2's) initialisation: N(0, 0.02) weights, zero biases, and the
            # projections into the residual stream scaled by 1/sqrt(2 n_layer), so that the
            # residual sum does not grow with depth.
            for module in self.modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            for name, param in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def forward(self, idx: Any) -> Any:
            T = idx.shape[1]  # idx: (B, T)
            if idx.shape[1] > self.block_size:
                raise ValueError(f"sequence of length {T} > block_size {self.block_size}")
            # Position t's vector is row t of wpe: slicing the table is wpe(arange(T)).
            x = self.drop(self.wte(idx) + self.wpe.weight[:T])  # (B, T, C)
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))  # (B, T, vocab_size)

    return types.SimpleNamespace(
        CausalSelfAttention=CausalSelfAttention, MLP=MLP, Block=Block, GPT=GPT
    )


def gpt(
    nn: Any,
    vocab_size: int,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd: int = 128,
    block_size: int = 64,
    dropout: float = 0.0,
    bias: bool = True,
    gelu: str = "tanh",
) -> Any:
    """A GPT (decoder-only transformer) over `vocab_size` tokens, nanoGPT's layout.

    wte + wpe -> dropout -> n_layer x Block(LayerNorm, causal attention, LayerNorm, MLP) ->
    LayerNorm -> lm_head (tied to wte). `gpt(nn, 65)` is nanoGPT's "baby" Shakespeare model
    (4 layers, 4 heads, 128 dims, context 64). See docs/gpt.md for every shape.
    """
    if n_embd % n_head:
        raise ConfigError(
            f"model.n_embd ({n_embd}) must be divisible by model.n_head ({n_head}): each head "
            f"gets n_embd / n_head dimensions, e.g. --n-embd {n_head * max(n_embd // n_head, 1)}"
        )
    if gelu not in ("tanh", "exact"):
        raise ConfigError(f"model.gelu must be 'tanh' or 'exact', got {gelu!r}")
    GPT = _gpt_classes(nn).GPT
    return GPT(vocab_size, n_layer, n_head, n_embd, block_size, dropout, bias, gelu)


def build_model(nn: Any, model_config: Any, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """The model a config asks for, checked against the data it will see."""
    if model_config.name == "gpt":
        c = model_config  # input_shape is (block_size,); num_classes is the vocabulary size
        return gpt(nn, num_classes, c.n_layer, c.n_head, c.n_embd, c.block_size, c.dropout, c.bias,
                   c.gelu)  # fmt: skip
    if model_config.name == "mlp":
        sizes = list(model_config.sizes)
        n_inputs = int(np.prod(input_shape))
        if sizes[0] != n_inputs or sizes[-1] != num_classes:
            raise ConfigError(
                f"model.sizes {sizes} does not fit the data: its inputs have "
                f"{'x'.join(map(str, input_shape))} = {n_inputs} values and there are "
                f"{num_classes} classes, so sizes must start with {n_inputs} and end with "
                f"{num_classes}, e.g. --sizes {n_inputs},128,64,{num_classes}"
            )
        return mlp(nn, sizes, model_config.activation, model_config.dropout)
    if model_config.name == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(
                f"model.name = 'cnn' needs images of shape (C, H, W), but this data set's "
                f"examples have shape {tuple(input_shape)}; use model.name = 'mlp' for flat data"
            )
        c, (C, H, W) = model_config, input_shape
        return cnn(nn, c.arch, (C, H, W), num_classes, list(c.channels),
                   c.kernel_size, c.hidden, c.batch_norm, c.dropout, c.activation)  # fmt: skip
    raise ConfigError(f"unknown model {model_config.name!r}")


def count_parameters(model: Any) -> int:
    return sum(int(np.prod(tuple(p.shape))) for p in model.parameters())
