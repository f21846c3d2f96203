"""Convolution, pooling and batch normalisation, as functions on (N, C, H, W) images.

Read this after `functional.py`. Image recognition (the source's first application of deep
learning) runs on convolutional networks (LeCun et al. 1998), and everything they need comes
from ONE new primitive:

1. `sliding_windows(x, kernel_size, stride, padding)`: every kh x kw patch a kernel visits,
   (N, C, H, W) -> (N, C, OH, OW, kh, kw). Its forward is a *view* of the (padded) input made
   by `np.lib.stride_tricks.sliding_window_view`: no pixel is copied. Its backward ("col2im")
   adds each patch's gradient back where the patch came from. This is the classic "im2col"
   trick (Chellapilla et al. 2006): it turns convolution into one matrix product.

Everything else but one op is a *composite* of that primitive and the ops of `tensor.py`, so
its gradient comes for free:

2. `conv2d` = windows -> reshape into a matrix of patches -> `@` the kernels as a matrix.
3. `avg_pool2d` = windows -> `mean` over each window.
4. `adaptive_avg_pool2d` = two matrix products with fixed averaging matrices.
5. `batch_norm` = mean and variance over (N, H, W), then scale and shift (Ioffe & Szegedy
   2015), updating the running statistics in training mode.

The one exception is a second primitive, `max_pool2d`: the largest value of each window, with
a hand-written backward that sends each window's gradient to ONE element of the window, the
element torch picks. Why it needs a rule at all is explained beside it.

The shapes, with OH = (H + 2 * padding - kh) // stride + 1 (and OW likewise):

    x        (N, C, H, W)                     input images
    windows  (N, C, OH, OW, kh, kw)           a view: patch (oh, ow) of channel c of image n
    cols     (N * OH * OW, kh * kw * C)       one patch per row: the "im2col" matrix (a copy)
    weight   (O, C, kh, kw) -> (O, kh*kw*C)   one kernel per row, in the same order
    out      cols @ weight^T: (N*OH*OW, O) -> (N, OH, OW, O) -> permuted to (N, O, OH, OW)

Names and arguments follow `torch.nn.functional`, and `functional.py` re-exports them. The
layers (`nn.Conv2d`, `nn.MaxPool2d`, `nn.BatchNorm2d`...) are in `conv_layers.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradschool.engine import fused
from gradschool.engine.tensor import Tensor, no_grad
from gradschool.engine.windows import window_view

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "max_pool2d",
    "sliding_windows",
    "unfold",
]

IntPair = int | tuple[int, int] | Sequence[int]


def as_pair(value: IntPair, name: str) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays; anything else is a clear error."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_images(x: Tensor, op: str) -> None:
    if x.ndim != 4:
        raise RuntimeError(
            f"{op} expects a batch of images of shape (N, C, H, W), got shape {x.shape}; "
            f"add the batch dimension with x.unsqueeze(0) for a single image"
        )


def _channels_last(a: np.ndarray) -> bool:
    """True when an (N, C, ...) array is stored channels-last, (N, H, W, C) in memory, as the
    output of `conv2d` is."""
    return a.ndim >= 4 and a.shape[1] > 1 and a.strides[1] < a.strides[3]


# The integer of each float's size: max pooling's backward masks a float's bits.
_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def _empty_like_layout(
    like: np.ndarray | bool,
    shape: tuple[int, int, int, int],
    dtype: Any = None,
    alloc: Any = np.zeros,
) -> np.ndarray:
    """Zeros (or `alloc`'s array) of logical shape (N, C, H, W), stored channels-last when
    `like` is (or when `like` is True).

    NOTE: only the memory order differs, never the values. Keeping one order through a
    network matters for speed: a `+=` or a copy that reads one order and writes the other
    strides through memory and runs several times slower than one that does not.
    """
    N, C, H, W = shape
    if dtype is None:
        assert isinstance(like, np.ndarray), "give dtype when `like` is a bool"
        dtype = like.dtype
    if like is True or (like is not False and _channels_last(like)):
        return alloc((N, H, W, C), dtype=dtype).transpose(0, 3, 1, 2)
    return alloc(shape, dtype=dtype)


# ============================================================================================
# The primitive: sliding windows (im2col)
# ============================================================================================


def sliding_windows(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    pad_value: float = 0.0,
) -> Tensor:
    """Every window a kh x kw kernel visits: (N, C, H, W) -> (N, C, OH, OW, kh, kw).

    `out[n, c, i, j]` is the patch `x_padded[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw]`, where
    `x_padded` has `padding` rows/columns of `pad_value` added on each side (0 for convolution
    and average pooling, -inf for max pooling, as torch pads them). The same as torch's
    `F.pad(x, ...).unfold(2, kh, sh).unfold(3, kw, sw)`.

    Forward: a strided *view*, no copy. NOTE: the view is read-only, and neighbouring windows
    share memory (with stride 1, each pixel appears in up to kh * kw windows).
    """
    _check_images(x, "sliding_windows")
    (kh, kw), (sh, sw) = as_pair(kernel_size, "kernel_size"), as_pair(stride, "stride")
    ph, pw = as_pair(padding, "padding")
    N, C, H, W = x.shape
    windows, (Hp, Wp) = window_view(x.data, (kh, kw), (sh, sw), (ph, pw), pad_value)
    OH, OW = windows.shape[2:4]  # windows: (N, C, OH, OW, kh, kw), a view

    def backward(g: np.ndarray) -> tuple:
        # col2im. Pixel x_padded[n, c, i*sh + a, j*sw + b] was copied into window (i, j) at
        # kernel offset (a, b), once for every window that covers it; its gradient is the
        # sum over those copies. One strided `+=` per kernel offset (a, b) adds the
        # gradients of ALL windows at once: kh * kw vectorised adds, no loop over pixels.
        # NOTE: `+=` on a strided slice is safe here: within one offset (a, b) the windows
        # touch distinct pixels, so no index repeats inside a single add.
        grad = _empty_like_layout(g, (N, C, Hp, Wp))  # zeros, in the memory order of g
        if (sh, sw) == (kh, kw):
            # Windows that tile the image (2x2 pooling): every pixel is in at most one
            # window, so the adds are one assignment: (N, C, OH, kh, OW, kw) -> the image.
            tiles = g.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, OH * kh, OW * kw)
            grad[:, :, : OH * kh, : OW * kw] = tiles
        else:
            for a in range(kh):
                for b in range(kw):
                    grad[:, :, a : a + sh * OH : sh, b : b + sw * OW : sw] += g[:, :, :, :, a, b]
        return (grad[:, :, ph : ph + H, pw : pw + W],)  # drop the padding's gradient

    return Tensor._make(windows, (x,), backward, "sliding_windows")


def unfold(
    input: Tensor,
    kernel_size: IntPair,
    dilation: IntPair = 1,
    padding: IntPair = 0,
    stride: IntPair = 1,
) -> Tensor:
    """torch's `F.unfold` (im2col in torch's layout): (N, C, H, W) -> (N, C*kh*kw, OH*OW).

    Column l holds the patch at output position l = oh * OW + ow, flattened channel-major.
    NOTE: dilation other than 1 is not supported by this engine.
    """
    if as_pair(dilation, "dilation") != (1, 1):
        raise NotImplementedError("unfold: this engine supports dilation=1 only")
    windows = sliding_windows(input, kernel_size, stride, padding)  # (N, C, OH, OW, kh, kw)
    N, C, OH, OW, kh, kw = windows.shape
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)


# ============================================================================================
# Composites
# ============================================================================================


def _conv_padding(
    padding: IntPair | str, kernel: tuple[int, int], stride: tuple[int, int]
) -> IntPair:
    """torch's padding strings: "valid" = no padding; "same" = output as large as the input
    (stride 1; this engine needs odd kernels for it, so that the padding is symmetric)."""
    if not isinstance(padding, str):
        return padding
    if padding == "valid":
        return 0
    if padding == "same":
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise NotImplementedError(
                f"padding='same' needs odd kernel sizes in this engine, got {kernel}: torch pads "
                f"an even kernel unevenly, which this engine does not; pass padding explicitly"
            )
        return (kernel[0] // 2, kernel[1] // 2)
    raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library), as torch's.

    input (N, C, H, W), weight (O, C // groups, kh, kw), bias (O,) -> (N, O, OH, OW), where
    out[n, o, i, j] = bias[o] + sum over c, a, b of weight[o, c, a, b] * patch(i, j)[c, a, b].

    It is im2col + one matrix product: every patch becomes a row of `cols`, every kernel a
    row of the weight matrix, and `cols @ W^T` computes all N * OH * OW * O dot products in
    one call to BLAS. `groups` splits the channels into independent convolutions (groups = C
    is a depthwise convolution): the same product, batched over the groups.

    NOTE: the result is a permuted view, (N, OH, OW, O) in memory ("channels last"), which is
    how the matrix product lays it out; the next layer reads it without a copy.
    """
    _check_images(input, "conv2d")
    if as_pair(dilation, "dilation") != (1, 1):
        raise NotImplementedError("conv2d: this engine supports dilation=1 only")
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d weight must be (O, C // groups, kh, kw), got {weight.shape}")
    N, C, H, W = input.shape
    O, Cg, kh, kw = weight.shape
    if groups < 1 or C % groups or O % groups or C // groups != Cg:
        raise RuntimeError(
            f"conv2d: input with {C} channels and weight of shape {weight.shape} with "
            f"groups={groups}: need C == weight.shape[1] * groups ({Cg} * {groups}) and "
            f"O = {O} divisible by groups; check in_channels of the layer against its input"
        )
    stride = as_pair(stride, "stride")
    pad = _conv_padding(padding, (kh, kw), stride)
    if fused.is_fused_enabled() and groups == 1:
        # NOTE: fused mode (the default) runs the lines below as one node with the backward
        # written out (fused.conv2d); they are the taught composite.
        return fused.conv2d(input, weight, bias, stride, as_pair(pad, "padding"))
    windows = sliding_windows(input, (kh, kw), stride, pad)  # (N, C, OH, OW, kh, kw)
    OH, OW = windows.shape[2:4]
    if groups == 1:
        # One patch per row, its values in (kh, kw, C) order: (N*OH*OW, kh*kw*C). The reshape
        # is the one copy of im2col. NOTE: (kh, kw, C) rather than (C, kh, kw): with the input
        # stored channels-last, as conv2d leaves its output, each patch row is then kh*kw
        # contiguous runs of C values, and the copy is several times faster.
        cols = windows.permute(0, 2, 3, 4, 5, 1).reshape(N * OH * OW, kh * kw * C)
        kernels = weight.permute(0, 2, 3, 1).reshape(O, kh * kw * C)  # the same order
        out = cols @ kernels.T  # (N*OH*OW, O): every patch against every kernel
        out = out.reshape(N, OH, OW, O).permute(0, 3, 1, 2)  # (N, O, OH, OW), a view
    else:
        G, Og = groups, O // groups
        # (N, G, Cg, OH, OW, kh, kw) -> (G, N, OH, OW, kh, kw, Cg) -> (G, N*OH*OW, kh*kw*Cg)
        cols = windows.reshape(N, G, Cg, OH, OW, kh, kw).permute(1, 0, 3, 4, 5, 6, 2)
        cols = cols.reshape(G, N * OH * OW, kh * kw * Cg)
        kernels = weight.reshape(G, Og, Cg, kh, kw).permute(0, 1, 3, 4, 2)
        kernels = kernels.reshape(G, Og, kh * kw * Cg)
        out = cols @ kernels.transpose(1, 2)  # (G, N*OH*OW, Og): one product per group
        out = out.reshape(G, N, OH, OW, Og).permute(1, 0, 4, 2, 3).reshape(N, O, OH, OW)
    if bias is not None:
        out = out + bias.reshape(1, O, 1, 1)
    return out


def max_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each window, torch's `F.max_pool2d`: (N, C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size (windows that tile the image), as in torch. The padding is
    -inf, so it never wins. ceil_mode=True keeps a last, partial window at the bottom / right
    edge where floor would drop it. return_indices=True also returns where each maximum was,
    as torch does: its flat index h * W + w in its input plane, int64, (N, C, OH, OW).

    The backward, and why it needs a rule. max(a, b) passes the gradient to the larger input
    and nothing to the other. Where a == b it has no derivative: nudging a up moves the
    output, nudging it down does not. Any split of the gradient among tied maxima (shares >= 0
    that add up to 1) is a valid *subgradient*, and none is more right than another, so every
    library picks a convention, and two engines agree only if they pick the same one. Ties
    are everywhere in real images: an MNIST digit's background is one constant value, and so
    is every feature map over it, so each 2x2 window there holds four equal maxima.

    torch's convention (its CPU and CUDA kernels): scan the window in row-major order and keep
    an element only if it is strictly greater than the best so far, so the FIRST maximum wins
    and gets the window's whole gradient. This engine does the same (`_first_max`). Where
    windows overlap (stride < kernel), one pixel can win several windows: it gets the sum.
    NOTE: this op used to be `amax` over the windows, whose backward splits a tie evenly
    (torch.amax's convention, right for amax): the same loss and weight gradients on real
    digits, but other input gradients: on ten real test digits the saliency maps differed from
    torch's by up to 0.30 (their largest value: 1.05; tests/test_parity_real_digits.py).
    """
    if as_pair(dilation, "dilation") != (1, 1):
        raise NotImplementedError("max_pool2d: this engine supports dilation=1 only")
    _check_images(input, "max_pool2d")
    kernel = as_pair(kernel_size, "kernel_size")
    _check_pool_padding(padding, kernel)
    stride = kernel if stride is None else as_pair(stride, "stride")
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, as_pair(padding, "padding")
    N, C, H, W = input.shape
    windows, (Hp, Wp) = window_view(input.data, kernel, stride, (ph, pw), -np.inf, ceil_mode)
    OH, OW = windows.shape[2:4]  # windows: (N, C, OH, OW, kh, kw), a view
    # Element (a, b) of every window at once: (N, C, OH, OW) strided views, k = a * kw + b.
    offsets = [windows[:, :, :, :, a, b] for a in range(kh) for b in range(kw)]
    # NOTE: the max as a chain of elementwise maxima over the kh * kw offsets: the same values
    # as windows.max(axis=(4, 5)), which NumPy runs as a slow reduction over a 6-D view.
    out = offsets[0].copy() if len(offsets) == 1 else np.maximum(offsets[0], offsets[1])
    for element in offsets[2:]:
        np.maximum(out, element, out=out)  # (N, C, OH, OW), in the input's memory order
    first = _first_max(offsets, out, (kh, kw), (ph, pw), stride)  # the winner's offset k
    tiled = (sh, sw) == (kh, kw)  # windows that tile the image: each pixel in at most one
    x_channels_last = _channels_last(input.data)  # the input's memory order, for grad

    def backward(g: np.ndarray) -> tuple:
        # Each window's gradient goes to its winner only. One strided write per kernel offset
        # (a, b), as in col2im: the windows whose winner sits at (a, b) put their g there.
        # NOTE: g's bits ANDed with a mask of all-ones (winner) or all-zeros (not): exactly g
        # or exactly +0.0, even where g is inf or nan (g * (first == k) would leave
        # 0 * inf = nan, and -0.0 for a negative g), in one pass and no temporary.
        # Tiling windows cover each pixel once, so the writes go straight into the gradient;
        # overlapping ones `+=`, because windows may share a winner, which then gets the sum
        # of their gradients (as torch's kernel adds them).
        # NOTE: in the memory order of the input, not of g: the ReLU and convolution before
        # this pool then run their backward on arrays laid out as in their forward (g may
        # come back through a Flatten as plain (N, C, H, W) while the conv's output is
        # channels-last; mixing the two orders makes every elementwise pass stride).
        alloc = np.empty if tiled else np.zeros
        grad = _empty_like_layout(x_channels_last, (N, C, Hp, Wp), g.dtype, alloc=alloc)
        if x_channels_last and not _channels_last(g):  # g in the same order, K times smaller
            g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        if tiled:  # pixels no window covers (the edge floor mode drops) get no gradient
            grad[:, :, OH * kh :] = 0
            grad[:, :, : OH * kh, OW * kw :] = 0
        bits = g.view(_INT[g.itemsize])
        for k in range(kh * kw):
            a, b = divmod(k, kw)
            where = grad[:, :, a : a + sh * OH : sh, b : b + sw * OW : sw]
            keep = np.negative((first == k).view(np.int8), dtype=_INT[g.itemsize])  # 0 or ~0
            if tiled:
                np.bitwise_and(bits, keep, out=where.view(bits.dtype))
            else:
                where += np.bitwise_and(bits, keep).view(g.dtype)
        return (grad[:, :, ph : ph + H, pw : pw + W],)  # drop the padding's (zero) gradient

    result = Tensor._make(out, (input,), backward, "max_pool2d")
    if not return_indices:
        return result
    a, b = np.divmod(first, kw)  # the winner's row and column within its window
    rows = sh * np.arange(OH)[:, None] - ph + a  # (N, C, OH, OW), in input coordinates
    cols = sw * np.arange(OW)[None, :] - pw + b
    return result, Tensor((rows * W + cols).astype(np.int64))


def _first_max(
    offsets: list[np.ndarray],
    out: np.ndarray,
    kernel: tuple[int, int],
    padding: tuple[int, int],
    stride: tuple[int, int],
) -> np.ndarray:
    """Which element of each window torch's max pooling picks, as the offset k = a * kw + b
    of row a, column b in the window: the first maximum in row-major order. (N, C, OH, OW).

    `offsets[k]` is element k of every window, (N, C, OH, OW); `out` the windows' maxima.
    torch's kernel, per window: best = -inf, pick = the window's first real (unpadded) pixel;
    then for each element v in row-major order: if v > best or v is NaN: best, pick = v, k.
    Here it runs on all windows at once, one vectorised step per offset k (no loop over
    pixels). With miss_k = (element k != max), 0 or 1, the first maximum is

        pick = miss_0 (1 + miss_1 (1 + miss_2 (... (1 + miss_{K-2}))))

    (0 if element 0 is a maximum, else 1 if element 1 is, ...; K - 1 if none of the first
    K - 1 is), evaluated from the inside out. Two cases that rule meets:
    NOTE: a window whose real pixels are all -inf keeps torch's starting pick, its first real
    pixel, never a padded one (which would lose the gradient).
    NOTE: a window holding NaN has max NaN and picks its LAST NaN (torch's `or v is NaN`).
    """
    kw, K = kernel[1], len(offsets)
    OH, OW = out.shape[2:]
    dtype = np.min_scalar_type(K)
    pick = np.zeros(out.shape, dtype) if K == 1 else (offsets[K - 2] != out).astype(dtype)
    for k in range(K - 3, -1, -1):
        pick += np.asarray(1, dtype=dtype)
        pick *= offsets[k] != out
    (ph, pw), (sh, sw) = padding, stride
    if (ph or pw) and np.isneginf(out).any():
        a0 = np.maximum(ph - sh * np.arange(OH), 0)[:, None]  # the first real row, column
        b0 = np.maximum(pw - sw * np.arange(OW), 0)[None, :]
        pick[...] = np.where(np.isneginf(out), a0 * kw + b0, pick)
    nan = np.isnan(out)
    if nan.any():
        for k in range(K):  # forward: the last NaN wins
            pick[nan & np.isnan(offsets[k])] = k
    return pick


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window. Padding is 0; with count_include_pad=False the padded zeros
    are left out of each window's count, as in torch."""
    if ceil_mode or divisor_override is not None:
        raise NotImplementedError(
            "avg_pool2d: this engine supports ceil_mode=False and divisor_override=None only"
        )
    kernel = as_pair(kernel_size, "kernel_size")
    _check_pool_padding(padding, kernel)
    stride = kernel if stride is None else stride
    windows = sliding_windows(input, kernel, stride, padding)  # (N, C, OH, OW, kh, kw)
    if count_include_pad or as_pair(padding, "padding") == (0, 0):
        return windows.mean(dim=(4, 5))
    # How many real (unpadded) pixels each window covers: windows of a plane of ones. A
    # constant, so it needs no gradient. (1, 1, OH, OW)
    ones = Tensor(np.ones((1, 1) + input.shape[2:], dtype=input.dtype))
    count = sliding_windows(ones, kernel, stride, padding).sum(dim=(4, 5))
    return windows.sum(dim=(4, 5)) / count


def _check_pool_padding(padding: IntPair, kernel: tuple[int, int]) -> None:
    ph, pw = as_pair(padding, "padding")
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise RuntimeError(
            f"pad should be at most half of effective kernel size, but got pad={(ph, pw)} and "
            f"kernel_size={kernel} (torch's rule: a window must never lie entirely in padding)"
        )


def _adaptive_matrix(size_in: int, size_out: int, dtype: Any) -> np.ndarray:
    """(size_out, size_in): row i averages input cells floor(i*in/out) .. ceil((i+1)*in/out)-1,
    the windows torch's adaptive pooling uses (they may overlap when in is not a multiple)."""
    A = np.zeros((size_out, size_in), dtype=dtype)
    for i in range(size_out):  # a loop over output *sizes*, not over pixels or images
        start, end = (i * size_in) // size_out, -(-((i + 1) * size_in) // size_out)
        A[i, start:end] = 1.0 / (end - start)
    return A


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average-pool to a fixed output size, whatever the input size (torch's semantics).

    Averaging rows and then columns are both linear maps, so the whole pool is
    `A_h @ x @ A_w^T` with fixed averaging matrices A_h (OH, H) and A_w (OW, W): two matrix
    products, batched over N and C, and a gradient for free. `output_size=1` is global
    average pooling, the head of a ResNet.
    """
    _check_images(input, "adaptive_avg_pool2d")
    H, W = input.shape[2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = H if oh is None else oh, W if ow is None else ow
    if (oh, ow) == (1, 1):
        return input.mean(dim=(2, 3), keepdim=True)  # the common case, in one reduction
    A_h = Tensor(_adaptive_matrix(H, oh, input.dtype))  # (OH, H)
    A_w = Tensor(_adaptive_matrix(W, ow, input.dtype))  # (OW, W)
    return A_h @ input @ A_w.T  # (OH, H) @ (N, C, H, W) @ (W, OW) -> (N, C, OH, OW)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation (Ioffe & Szegedy 2015), torch's `F.batch_norm`.

    For each channel c (axis 1 of (N, C), (N, C, L) or (N, C, H, W)):

        y = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c]

    training=True: mean_c and var_c are the statistics of THIS batch, over every axis but 1
    (the biased variance, dividing by the count n), and the running statistics are updated in
    place: running = (1 - momentum) * running + momentum * batch statistic, where the
    variance fed to the running estimate is the unbiased one (dividing by n - 1), as torch.
    training=False: the running statistics are used, so the output of one example no longer
    depends on the others in its batch (evaluation, inference).

    A composite: its well-known hand-derived backward (section 3 of the paper) comes out of
    the primitives below by itself.
    """
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm expects input of shape (N, C, ...), got {input.shape}")
    C = input.shape[1]
    dims = (0, *range(2, input.ndim))  # every axis but the channels
    shape = (1, C) + (1,) * (input.ndim - 2)  # per-channel values, broadcastable
    if training:
        n = input.numel() // C
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{input.shape}: batch norm cannot estimate a variance from one value; use a "
                f"batch of at least 2 (drop_last) or model.eval()"
            )
        mean = input.mean(dim=dims, keepdim=True)  # (1, C, 1, 1)
        centered = input - mean
        var = (centered * centered).mean(dim=dims, keepdim=True)  # biased: / n
        if running_mean is not None and running_var is not None:
            with no_grad():
                # NOTE: in place (`.data[...] =`), so the buffers the module holds change.
                m = momentum
                running_mean.data[...] = (1 - m) * running_mean.data + m * mean.data.reshape(C)
                unbiased = var.data.reshape(C) * (n / (n - 1))
                running_var.data[...] = (1 - m) * running_var.data + m * unbiased
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm with training=False needs running_mean and running_var")
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
        centered = input - mean
    out = centered * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out
