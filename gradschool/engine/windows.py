"""Windows of an image batch, on plain arrays: the one piece that conv.py's primitives and
fused.py's convolution node share.

`window_view` cuts every kh x kw window a kernel visits out of a (padded) batch of images as
a strided *view*, (N, C, OH, OW, kh, kw), without copying; conv.sliding_windows wraps it in a
Tensor with its backward (col2im), and fused.conv2d reads its patches from it block by block.
"""

from __future__ import annotations

import numpy as np


def pad_images(
    x: np.ndarray, ph: int, pw: int, value: float, extra: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """x (N, C, H, W) with ph rows and pw columns of `value` on each side, and `extra` more
    rows / columns at the bottom / right, stored channels-last: the copy is made anyway, and
    conv2d's patches read fastest from that order."""
    N, C, H, W = x.shape
    Hp, Wp = H + 2 * ph + extra[0], W + 2 * pw + extra[1]
    out = np.zeros((N, Hp, Wp, C), dtype=x.dtype).transpose(0, 3, 1, 2)
    if value != 0:
        out[...] = value
    out[:, :, ph : ph + H, pw : pw + W] = x
    return out


def window_view(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: float,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The forward of conv.sliding_windows, on an array: (the windows, a view
    (N, C, OH, OW, kh, kw); the padded size (Hp, Wp) they were cut from).

    ceil_mode (pooling only): OH = ceil((H + 2 ph - kh) / sh) + 1 rather than floor, so the
    last window may hang over the bottom edge into extra padding, as in torch; and, torch's
    rule, a window that would start beyond the input and its top padding is dropped. W alike.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(
            f"kernel_size and stride must be >= 1 and padding >= 0, got kernel_size "
            f"{(kh, kw)}, stride {(sh, sw)}, padding {(ph, pw)}"
        )
    if kh > Hp or kw > Wp:
        raise RuntimeError(
            f"kernel size {(kh, kw)} is larger than the padded input {(Hp, Wp)} (input "
            f"{(H, W)} plus padding {(ph, pw)} on each side): use a smaller kernel or more "
            f"padding, or remove a pooling layer that shrank the image too much"
        )
    OH, OW = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    if ceil_mode:
        OH, OW = -(-(Hp - kh) // sh) + 1, -(-(Wp - kw) // sw) + 1
        OH -= int((OH - 1) * sh >= H + ph)
        OW -= int((OW - 1) * sw >= W + pw)
    extra = (max((OH - 1) * sh + kh - Hp, 0), max((OW - 1) * sw + kw - Wp, 0))  # ceil_mode
    padded = ph or pw or extra != (0, 0)
    xp = pad_images(x, ph, pw, pad_value, extra) if padded else x  # (N, C, Hp (+1), Wp (+1))
    # (N, C, Hp-kh+1, Wp-kw+1, kh, kw): every window at stride 1; keep every sh-th / sw-th.
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return windows[:, :, ::sh, ::sw][:, :, :OH, :OW], xp.shape[2:]
