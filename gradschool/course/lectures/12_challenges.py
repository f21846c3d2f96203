# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 30 s
#     full: 80 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 12. The challenges: compute, interpretability, privacy
#
# **Goal.** The source ends (section 7) with three challenges of large models:
#
# - "计算资源的需求：AI大模型需要大量的计算资源，这可能限制了其应用范围和扩展性" (they need a great deal of
#   compute, which limits where they can be used and how far they scale);
# - "模型解释性：AI大模型的决策过程可能难以解释" (their decisions are hard to explain);
# - "数据隐私和安全：AI大模型需要大量的数据进行训练，这可能引起数据隐私和安全的问题" (they need a great deal of
#   training data, which raises privacy and security problems).
#
# It names them and stops. This lecture measures each one on models small enough to train here,
# with the tools gradschool has for it: FLOPs counted and timed, number formats taken apart bit
# by bit, training split over two processes; attribution methods, and a test of whether to
# believe them; an attack that tells which examples a model was trained on, and DP-SGD, which
# blunts it at a measured price in accuracy. It ends with the source's section on frameworks
# ("TensorFlow、PyTorch、Keras等"): the source's MLP in Keras, beside gradschool's two engines.
#
# Every part runs in quick mode (a few steps, small subsets) and in full mode (the figures to
# quote). Numbers in the text that depend on the run are printed by the cells, not written here.

# %% [markdown] tags=["zh"]
# # 第 12 讲：大模型的挑战：算力、可解释性与隐私
#
# **目标**：原文第 7 节最后列了大模型面临的三个挑战：
#
# - "计算资源的需求：AI大模型需要大量的计算资源，这可能限制了其应用范围和扩展性"；
# - "模型解释性：AI大模型的决策过程可能难以解释"；
# - "数据隐私和安全：AI大模型需要大量的数据进行训练，这可能引起数据隐私和安全的问题"。
#
# 原文点到为止。这一讲在本机训得动的小模型上把三个挑战逐个量出来，用的都是 gradschool 里现成的工具：数一数、
# 测一测浮点运算次数，把几种数值格式拆到比特，把训练分到两个进程上跑；用归因方法解释模型的决定，再检验这些解释
# 靠不靠得住；用一个攻击判断某个样本是否在训练集里，再用 DP-SGD 挡住它，并实测这要付出多少准确率。最后回到原文
# 关于框架的那一节（"TensorFlow、PyTorch、Keras等"）：用 Keras 跑原文的 MLP，和 gradschool 的两个引擎放在一起比。
#
# 每一部分都有快速模式（步数少、数据子集小）和完整模式（用来引用的数字）。正文里凡是随运行变化的数字，都由代码
# 单元打印出来，不写死在文字里。

# %% setup
import contextlib
import io
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from gradschool import engine as E
from gradschool.config import load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.data.prepare import prepare_data
from gradschool.models import cnn, count_parameters, mlp
from gradschool.threads import get_threads, set_threads
from gradschool.train.trainer import Trainer, fit

try:
    import torch

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False
ENGINE = "torch" if HAVE_TORCH else "numpy"  # the faster engine here, for the training runs

# NOTE: one BLAS/torch thread: these models are small, and on a shared machine one thread is
# both faster and steadier to time (docs/performance.md). Put back in the last cell.
threads_before = get_threads()
set_threads(1)
print(
    t("mode:", "模式："),
    t("quick", "快速") if QUICK else t("full", "完整"),
    "|",
    t("training engine:", "训练用的引擎："),
    ENGINE,
    "|",
    t("threads: 1", "线程数：1"),
)
if not HAVE_TORCH:
    print(
        t(
            "torch is not installed: the FLOP counter check, the two-process run and the Keras section are skipped; the rest runs on the NumPy engine.",
            "没有安装 torch：浮点运算计数器的核对、两进程训练和 Keras 一节会跳过，其余部分在 NumPy 引擎上运行。",
        )
    )

# %% [markdown] tags=["en"]
# ## Part 1. Compute
#
# ### 1.1 Counting the arithmetic of a training step
#
# Almost all the arithmetic of a neural network is in matrix products. A product of an
# $m \times k$ matrix by a $k \times n$ matrix computes $mn$ dot products of length $k$: $mnk$
# multiplications and as many additions,
#
# $$
# \text{FLOPs}(A_{m \times k} B_{k \times n}) = 2mnk .
# $$
#
# A `Linear` layer on a batch of $B$ examples is such a product, $Y = XW^\top$ with
# $X \in \mathbb{R}^{B \times k}$: $2Bkn$ FLOPs. A convolution is one too, once its input is unfolded
# into patches (lecture 9): each of the $B \cdot H' \cdot W' \cdot C_{out}$ output values is a
# dot product of length $C_{in} k_h k_w$, so $2BH'W'C_{out}C_{in}k_hk_w$ FLOPs.
#
# The backward pass of the same layer needs **two** products of that size: the gradient with
# respect to the input, $\partial L/\partial X = (\partial L/\partial Y)\,W$, which is passed on
# to the layer below, and the gradient with respect to the weights,
# $\partial L/\partial W = (\partial L/\partial Y)^\top X$. So a training step costs about three
# forward passes: the forward, and a backward of about twice the forward. (The first layer skips
# $\partial L/\partial X$: nothing below it needs the gradient of the data.) Additions of biases,
# activations and pooling are a few operations per value, negligible next to the products.
#
# We count the seed's MLP (784-128-64-10) at batch 256 and lecture 9's CNN ([16, 32] channels,
# a 64-unit head) at batch 64 layer by layer with these formulas, check the count against
# PyTorch's own FLOP counter (`torch.utils.flop_counter`, which counts the matrix products and
# convolutions the autograd engine really runs), then time the passes. FLOPs divided by
# seconds is the rate this CPU achieves; the reference is the rate of one large square matrix
# product, about the best a CPU core does.

# %% [markdown] tags=["zh"]
# ## 第一部分：算力
#
# ### 1.1 数一数一个训练步要做多少运算
#
# 神经网络里的运算几乎全在矩阵乘法上。$m \times k$ 的矩阵乘 $k \times n$ 的矩阵，要算 $mn$ 个长度为 $k$ 的
# 点积：$mnk$ 次乘法，外加同样多的加法，
#
# $$
# \text{FLOPs}(A_{m \times k} B_{k \times n}) = 2mnk
# $$
#
# 批量为 $B$ 时，一个 `Linear` 层就是这样一次乘法：$Y = XW^\top$，$X \in \mathbb{R}^{B \times k}$，共 $2Bkn$
# 次浮点运算。卷积把输入展开成一个个小块之后（第 9 讲）也是矩阵乘法：$B \cdot H' \cdot W' \cdot C_{out}$
# 个输出值，每个都是长度为 $C_{in} k_h k_w$ 的点积，所以是 $2BH'W'C_{out}C_{in}k_hk_w$ 次。
#
# 同一层的反向传播要做**两次**同样大小的乘法：对输入的梯度 $\partial L/\partial X = (\partial L/\partial Y)\,W$
# （要传给下面一层），和对权重的梯度 $\partial L/\partial W = (\partial L/\partial Y)^\top X$。所以一个训练步
# 大约相当于三次前向：前向一次，反向约两倍于前向。（第一层不用算 $\partial L/\partial X$：它下面没有谁需要数据
# 的梯度。）加偏置、激活函数、池化，每个值只有几次运算，和矩阵乘法比可以忽略。
#
# 下面按这些公式逐层数一数原文的 MLP（784-128-64-10，批量 256）和第 9 讲的 CNN（通道 [16, 32]，分类头 64 个
# 单元，批量 64），再和 PyTorch 自带的浮点运算计数器（`torch.utils.flop_counter`，它统计自动求导引擎实际执行的
# 矩阵乘法和卷积）核对，然后计时。浮点运算次数除以秒数，就是这颗 CPU 实际达到的速度；参照物是一次大的方阵乘法
# 的速度，差不多是一个 CPU 核能达到的上限。


# %% count_flops
def count_flops(model, x) -> tuple[list, int, int]:
    """Run x through the model layer by layer. Returns the rows (layer, output shape, forward
    FLOPs), the forward total, and the training-step total (forward + backward)."""
    rows, forward, backward, first = [], 0, 0, True
    h = x
    for layer in model:
        y = layer(h)
        name = type(layer).__name__
        flops = 0
        if name == "Linear":  # (B, k) @ (k, n)
            flops = 2 * h.shape[0] * h.shape[1] * y.shape[1]
        elif name == "Conv2d":  # B*H'*W'*C_out dot products of length C_in*kh*kw
            flops = 2 * int(np.prod(y.shape)) * int(np.prod(layer.weight.shape[1:]))
        if flops:
            # backward: dL/dW always; dL/dX except in the first layer (the data needs none)
            backward += flops if first else 2 * flops
            first = False
        forward += flops
        rows.append((name, "x".join(map(str, y.shape[1:])), flops))
        h = y
    return rows, forward, forward + backward


# %%
def fastest(fn, repeats: int) -> float:
    """The fastest of `repeats` timed calls, after one warm-up call. NOTE: on a shared machine
    the minimum is the run least disturbed by others; a mean would measure the load."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


REPEATS = 10 if QUICK else 40
lib = torch if HAVE_TORCH else E  # the same code builds and times either engine's models
lib.manual_seed(0)
rng = np.random.default_rng(0)
nets = {
    "MLP 784-128-64-10": (mlp(lib.nn, [784, 128, 64, 10]), (256, 784)),
    "CNN [16, 32] + 64": (cnn(lib.nn, "lenet", (1, 28, 28), 10, [16, 32], 3, 64), (64, 1, 28, 28)),
}
measured = {}
for name, (model, shape) in nets.items():
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    with lib.no_grad():
        rows, fwd, step = count_flops(model, x)
    print(f"--- {name}, " + t("batch", "批量") + f" {shape[0]} ---")
    print(
        f"  {t('layer', '层'):<10}{t('output', '输出'):>12}{t('forward FLOPs', '前向浮点运算'):>18}"
    )
    for layer, out, flops in rows:
        print(f"  {layer:<10}{out:>12}{flops:>18,}" if flops else f"  {layer:<10}{out:>12}")
    print(
        f"  {t('forward', '前向'):<22}{fwd:>18,}\n  {t('training step', '训练步'):<22}{step:>18,}"
        + t(f"  ({step / fwd:.2f} x forward)", f"（前向的 {step / fwd:.2f} 倍）")
    )
    if HAVE_TORCH:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            model.zero_grad()
            model(x).sum().backward()
        assert counter.get_total_flops() == step, (counter.get_total_flops(), step)
        print(
            t(
                "  = torch.utils.flop_counter's count of the same forward + backward: equal",
                "  = torch.utils.flop_counter 对同一次前向 + 反向的计数：相等",
            )
        )

    def forward_only(model=model, x=x):
        with lib.no_grad():
            model(x)

    def training_step(model=model, x=x):
        model.zero_grad()
        model(x).sum().backward()

    measured[name] = (fwd, step, fastest(forward_only, REPEATS), fastest(training_step, REPEATS))
    quoted = {"MLP": 2.1, "CNN": 2.9}[name[:3]]  # the ratios the text below quotes
    assert round(step / fwd, 1) == quoted, (name, step / fwd)
with lib.no_grad():
    mlp_rows, mlp_forward, _ = count_flops(
        nets["MLP 784-128-64-10"][0], lib.tensor(np.zeros((1, 784), np.float32))
    )
assert round(100 * mlp_rows[1][2] / mlp_forward) == 92  # the first layer's share, quoted below

# The reference: one large square product, (512 x 512) @ (512 x 512).
a = lib.tensor(rng.standard_normal((512, 512)).astype(np.float32))
b = lib.tensor(rng.standard_normal((512, 512)).astype(np.float32))
with lib.no_grad():
    matmul_rate = 2 * 512**3 / fastest(lambda: a @ b, REPEATS)
print()
print(
    f"{'':<20}{t('forward', '前向'):>10}{t('step', '训练步'):>10}{t('step/fwd', '训练步/前向'):>12}"
    f"{t('GFLOP/s fwd', 'GFLOP/s 前向'):>14}{t('GFLOP/s step', 'GFLOP/s 训练步'):>14}"
    f"{t('of matmul', '占矩阵乘法'):>11}"
)
for name, (fwd, step, t_fwd, t_step) in measured.items():
    print(
        f"{name:<20}{1e3 * t_fwd:>8.2f}ms{1e3 * t_step:>8.2f}ms{t_step / t_fwd:>12.2f}"
        f"{fwd / t_fwd / 1e9:>14.1f}{step / t_step / 1e9:>14.1f}{step / t_step / matmul_rate:>11.0%}"
    )
print(
    f"{t('matmul 512^3', '矩阵乘法 512^3'):<20}{'':>32}{matmul_rate / 1e9:>14.1f}"
    + t("   (the reference)", "   （参照物）")
)
step_rate = max(step / t_step for _, step, _, t_step in measured.values())  # for section 1.4

fig, ax = plt.subplots(figsize=(8, 3.4))
labels, rates = [], []
for name, (fwd, step, t_fwd, t_step) in measured.items():
    short = name.split()[0]
    labels += [t(f"{short}\nforward", f"{short}\n前向"), t(f"{short}\nstep", f"{short}\n训练步")]
    rates += [fwd / t_fwd / 1e9, step / t_step / 1e9]
labels.append(t("matmul\n512³", "矩阵乘法\n512³"))
rates.append(matmul_rate / 1e9)
ax.bar(range(len(rates)), rates, color=["C0", "C0", "C1", "C1", "grey"])
ax.set_xticks(range(len(rates)), labels)
ax.set(
    ylabel="GFLOP/s",
    title=t(
        f"Counted FLOPs / measured time, one CPU thread ({lib.__name__.split('.')[-1]})",
        f"数出的浮点运算 / 实测时间，单个 CPU 线程（{lib.__name__.split('.')[-1]}）",
    ),
)
show()

# %% [markdown] tags=["en"]
# The count is exact: it equals what PyTorch's counter sees the autograd engine do, for the MLP
# and for the CNN. The CNN's step is 2.9 forward passes, close to the rule of three; the MLP's
# only 2.1, because its first layer holds 92% of its FLOPs and that layer skips
# $\partial L/\partial X$. (Lecture 10's $6ND$ is the same rule for a transformer: $2N$ FLOPs per
# token forward, $4N$ backward.)
#
# The *time* is another matter. Compare the measured step/forward ratio with the counted one,
# and each pass's GFLOP/s with the large matrix product's: not every product runs at the same
# rate. The MLP's few large products come close to the reference; the CNN's small convolutions
# (a 3x3 kernel over 1 or 16 channels) run far below it. So counted FLOPs give a *lower bound*
# on time — FLOPs divided by the best rate of the machine — and how close a model gets to it
# depends on the shapes of its products. That is the whole game of making training fast: big,
# regular matrix products, and hardware built to do little else.
#
# ### 1.2 Why GPUs, and what mixed precision keeps and loses
#
# A GPU has thousands of arithmetic units instead of a CPU's few dozen, and memory several times
# faster; since 2017 NVIDIA's GPUs also have *tensor cores*, units that do nothing but small
# matrix products in reduced precision. Peak dense rates from the vendor's datasheets (TFLOP/s,
# $10^{12}$ FLOP/s):
#
# | GPU (year) | float32 | 16-bit on tensor cores | power (TDP) |
# | --- | --- | --- | --- |
# | V100 SXM2 (2017) | 15.7 | 125 (fp16) | 300 W |
# | A100 SXM (2020) | 19.5 | 312 (bf16 / fp16) | 400 W |
# | H100 SXM (2022) | 67 | 989 (bf16 / fp16) | 700 W |
#
# Compare with the GFLOP/s measured above ($10^9$ FLOP/s, on one CPU core): the 16-bit rate of an
# H100 is about ten thousand times as much, and most of that gap is only available in 16-bit
# formats. That is why large
# models train in **mixed precision**: matrix products take 16-bit inputs (and add up their
# products in float32), while the weights, their updates and numerically delicate operations
# (softmax, losses, sums) stay in float32 (Micikevicius et al. 2018). `gradschool train --precision
# bf16` does this with `torch.autocast` (docs/compute.md).
#
# A floating-point number is $(-1)^s \times 1.m \times 2^{e - \text{bias}}$: a sign bit, $E$
# exponent bits (the range) and $M$ mantissa bits (the precision: the gap between 1 and the next
# number is $2^{-M}$). The three formats:
#
# | format | exponent bits $E$ | mantissa bits $M$ | gap after 1, $2^{-M}$ | largest | smallest normal |
# | --- | --- | --- | --- | --- | --- |
# | float32 | 8 | 23 | $1.2 \times 10^{-7}$ | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
# | float16 | 5 | 10 | $9.8 \times 10^{-4}$ | 65,504 | $6.1 \times 10^{-5}$ |
# | bfloat16 | 8 | 7 | $7.8 \times 10^{-3}$ | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
#
# bfloat16 (Google's "brain float") is float32 with the last 16 bits cut off: the same 8
# exponent bits, so the same range, and only 7 mantissa bits, about 2–3 significant decimal
# digits. float16 spends its bits the other way: more precision, far less range. The cell below
# derives the table from $E$ and $M$ and checks it against NumPy's and PyTorch's own `finfo`,
# builds bfloat16 rounding from float32's bits (round to nearest, ties to even) and checks it
# against PyTorch's conversion, ties included, and then shows the three things that matter:
# how values round, where float16 overflows and underflows while bfloat16 does not, and how a
# small update added to a large weight disappears.

# %% [markdown] tags=["zh"]
# 计数是精确的：无论 MLP 还是 CNN，都和 PyTorch 计数器看到的自动求导引擎实际运算一致。CNN 的训练步是前向的
# 2.9 倍，接近"三倍"的经验法则；MLP 只有 2.1 倍，因为它 92% 的运算在第一层，而第一层不用算
# $\partial L/\partial X$。（第 10 讲的 $6ND$ 就是 Transformer 版的同一条规则：每个 token 前向 $2N$ 次，
# 反向 $4N$ 次。）
#
# *时间*就是另一回事了。把实测的"训练步/前向"时间比和数出来的运算比对照一下，再把每种计算的 GFLOP/s 和大矩阵
# 乘法比一比：不同的矩阵乘法，跑出来的速度并不一样。MLP 那几次大矩阵乘法接近参照物；CNN 的小卷积（3x3 的核，
# 输入只有 1 个或 16 个通道）就慢得多。所以数出来的浮点运算次数给出的是时间的*下限*——次数除以机器的最高速度——
# 模型能离这个下限多近，取决于它的矩阵乘法是什么形状。让训练变快，说到底就是这件事：做又大又规整的矩阵乘法，
# 再配上专门干这件事的硬件。
#
# ### 1.2 为什么要用 GPU，混合精度保住了什么、丢了什么
#
# CPU 只有几十个运算单元，GPU 有几千个，显存的带宽也高好几倍；从 2017 年起，NVIDIA 的 GPU 还有*张量核心*
# （tensor core），专门用低精度做小块矩阵乘法。厂商数据手册上的峰值（稠密运算，TFLOP/s 即每秒 $10^{12}$ 次）：
#
# | GPU（年份） | float32 | 张量核心上的 16 位 | 功耗（TDP） |
# | --- | --- | --- | --- |
# | V100 SXM2（2017） | 15.7 | 125（fp16） | 300 W |
# | A100 SXM（2020） | 19.5 | 312（bf16 / fp16） | 400 W |
# | H100 SXM（2022） | 67 | 989（bf16 / fp16） | 700 W |
#
# 和上面在一个 CPU 核上测到的 GFLOP/s（每秒 $10^9$ 次）比一比：H100 的 16 位速度大约是它的一万倍，而且这个差距
# 的大头只有用 16 位格式才拿得到。
# 所以大模型都用**混合精度**训练：矩阵乘法的输入用 16 位（乘积在 float32 里累加），权重、权重的更新以及数值上
# 娇气的运算（softmax、损失、求和）留在 float32（Micikevicius 等 2018）。`gradschool train --precision bf16`
# 就是用 `torch.autocast` 做的这件事（docs/compute.zh-CN.md）。
#
# 一个浮点数是 $(-1)^s \times 1.m \times 2^{e - \text{bias}}$：一个符号位，$E$ 个指数位（决定范围），$M$ 个尾数位
# （决定精度：1 和下一个可表示的数之间差 $2^{-M}$）。三种格式：
#
# | 格式 | 指数位 $E$ | 尾数位 $M$ | 1 之后的间隔 $2^{-M}$ | 最大值 | 最小正规数 |
# | --- | --- | --- | --- | --- | --- |
# | float32 | 8 | 23 | $1.2 \times 10^{-7}$ | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
# | float16 | 5 | 10 | $9.8 \times 10^{-4}$ | 65,504 | $6.1 \times 10^{-5}$ |
# | bfloat16 | 8 | 7 | $7.8 \times 10^{-3}$ | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
#
# bfloat16（Google 的 "brain float"）就是把 float32 的后 16 位砍掉：指数位同样是 8 个，所以范围一样；尾数只剩
# 7 位，大约 2–3 位有效十进制数字。float16 的取舍正好相反：精度高一些，范围小得多。下面的单元先从 $E$ 和 $M$
# 推出这张表，和 NumPy、PyTorch 自己的 `finfo` 核对；再从 float32 的比特出发实现 bfloat16 的舍入（就近舍入，
# 恰好一半时取偶数），和 PyTorch 的转换核对（包括恰好一半的情况）；然后演示要紧的三件事：数值怎么被舍入，
# float16 在哪里上溢、下溢而 bfloat16 不会，以及加到大权重上的小更新怎么消失。


# %%
def format_facts(E_bits: int, M_bits: int) -> dict[str, float]:
    """Gap after 1, largest finite, smallest normal and smallest subnormal of an IEEE-style
    binary format with E exponent bits and M mantissa bits."""
    bias = 2 ** (E_bits - 1) - 1  # the all-ones exponent is kept for inf and NaN
    return {
        "eps": 2.0**-M_bits,
        "max": (2 - 2.0**-M_bits) * 2.0**bias,
        "tiny": 2.0 ** (1 - bias),
        "subnormal": 2.0 ** (1 - bias - M_bits),
    }


# %% bf16
def to_bf16(x) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32.

    bfloat16 is the top 16 bits of a float32. Adding 0x7FFF, plus 1 when the lowest kept bit
    is odd, then clearing the low 16 bits rounds to nearest with ties to even; a carry into
    the exponent is exactly the rounding up to the next power of two (or to inf)."""
    x = np.asarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    out = u.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), out)


# %%
FORMATS = {"float32": (8, 23), "float16": (5, 10), "bfloat16": (8, 7)}
print(
    f"{t('format', '格式'):<10}{'E':>3}{'M':>4}{t('gap after 1', '1 之后的间隔'):>14}"
    f"{t('largest', '最大值'):>12}{t('smallest normal', '最小正规数'):>17}"
    f"{t('digits', '有效数字'):>9}"
)
for fmt, (e_bits, m_bits) in FORMATS.items():
    facts = format_facts(e_bits, m_bits)
    reference = (
        np.finfo(np.float32 if fmt == "float32" else np.float16)
        if fmt != "bfloat16"
        else (torch.finfo(torch.bfloat16) if HAVE_TORCH else None)
    )
    if reference is not None:  # the formula against the library's own description
        assert (facts["eps"], facts["max"], facts["tiny"]) == (
            float(reference.eps),
            float(reference.max),
            float(reference.tiny),
        ), fmt
    print(
        f"{fmt:<10}{e_bits:>3}{m_bits:>4}{facts['eps']:>14.3g}{facts['max']:>12.3g}"
        f"{facts['tiny']:>17.3g}{math.log10(2 ** (m_bits + 1)):>9.1f}"
    )
print(t("(each row = finfo of NumPy / PyTorch)", "（每一行都和 NumPy / PyTorch 的 finfo 一致）"))

# bfloat16 rounding from the bits, against PyTorch's conversion: random values over 80 binary
# orders of magnitude, and values exactly halfway between two bfloat16 numbers (ties).
values = rng.standard_normal(20_000).astype(np.float32) * np.float32(2.0) ** rng.integers(
    -40, 40, 20_000
).astype(np.float32)
ties = np.float32(1 + 2.0**-8) * np.float32(2.0) ** np.arange(-10, 11, dtype=np.float32)
ties = np.concatenate([ties, ties * np.float32(1 + 2.0**-7), -ties, [0.0, 3.4e38, -3.4e38]])
values = np.concatenate([values, ties.astype(np.float32), [np.inf, -np.inf, 70000.0]])
mine = to_bf16(values)
if HAVE_TORCH:
    theirs = torch.from_numpy(values).to(torch.bfloat16).float().numpy()
    assert np.array_equal(mine, theirs), "bf16 rounding differs from torch"
    print(
        t(
            f"to_bf16 = torch's float32 -> bfloat16 conversion on {len(values):,} values, {len(ties)} of them ties: equal",
            f"to_bf16 = torch 的 float32 -> bfloat16 转换，共 {len(values):,} 个数，其中 {len(ties)} 个恰好在一半：完全相同",
        )
    )
print(
    t("1 + 2^-8 (a tie) ->", "1 + 2^-8（恰好一半）->"),
    to_bf16(1 + 2.0**-8),
    "|",
    t("1 + 3·2^-8 (a tie) ->", "1 + 3·2^-8（恰好一半）->"),
    to_bf16(1 + 3 * 2.0**-8),
    t("(ties go to the even neighbour)", "（恰好一半时取尾数为偶数的那个）"),
)

saved_errors = np.seterr(over="ignore")  # NOTE: float16(70000) is inf, on purpose; reset below
print()
print(f"{t('value', '数值'):>14}{'float32':>16}{'float16':>16}{'bfloat16':>16}")
for v in (0.1, 1 / 3, math.pi, 1000.1, 65504.0, 70000.0, 1e-5, 1e-8):
    print(
        f"{v:>14.8g}{float(np.float32(v)):>16.8g}{float(np.float16(v)):>16.8g}"
        f"{float(to_bf16(v)):>16.8g}"
    )
assert np.isinf(np.float16(70000.0)) and np.isfinite(to_bf16(70000.0))
assert np.float16(1e-8) == 0 and to_bf16(1e-8) > 0

# A weight of 1.0 receives 1,000 updates of +0.001, each sum rounded to the storage format.
n_updates, update = 1000, 0.001
paths = {fmt: [1.0] for fmt in FORMATS}
round_to = {"float32": np.float32, "float16": np.float16, "bfloat16": to_bf16}
for _ in range(n_updates):
    for fmt, path in paths.items():
        path.append(float(round_to[fmt](np.float32(path[-1]) + np.float32(update))))
print()
print(
    t(
        f"w = 1.0 after {n_updates} updates of +{update} (exact: {1 + n_updates * update}):",
        f"w = 1.0 加上 {n_updates} 次 +{update} 之后（精确值：{1 + n_updates * update}）：",
    ),
    "  ".join(f"{fmt} {path[-1]:.6g}" for fmt, path in paths.items()),
)
assert paths["bfloat16"][-1] == 1.0 and abs(paths["float32"][-1] - 2.0) < 1e-3

# The price in a matrix product: inputs rounded to 16 bits, products added up in float32 (what
# tensor cores do), against the exact product in float64.
A = rng.standard_normal((64, 512))
B = rng.standard_normal((512, 64))
exact = A @ B
print(
    t(
        "relative error of a (64 x 512) @ (512 x 64) product:",
        "(64 x 512) @ (512 x 64) 乘积的相对误差：",
    )
)
for fmt in FORMATS:
    r = round_to[fmt]
    approx = np.asarray(r(A), np.float32) @ np.asarray(r(B), np.float32)
    error = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
    print(f"  {fmt:<10}{error:.1e}")

fig, (ax_w, ax_r) = plt.subplots(1, 2, figsize=(11, 3.6))
for fmt, path in paths.items():
    ax_w.plot(path, label=fmt, lw=2 if fmt == "bfloat16" else 1.2)
ax_w.plot(1 + update * np.arange(n_updates + 1), "k:", lw=1, label=t("exact", "精确值"))
ax_w.set(
    xlabel=t("update", "更新次数"),
    ylabel="w",
    title=t("w = 1.0, then +0.001 per update", "w = 1.0，每次加 0.001"),
)
ax_w.legend(fontsize=8)
grid = np.logspace(-9, 6, 400)
for fmt in FORMATS:
    r = round_to[fmt]
    err = np.abs(np.asarray(r(grid), np.float64) - grid) / grid
    ax_r.loglog(grid, np.maximum(err, 1e-9), ".", ms=2, label=fmt)
ax_r.set(
    xlabel=t("value", "数值"),
    ylabel=t("relative rounding error", "相对舍入误差"),
    ylim=(1e-9, 2),
    title=t(
        "float16: coarse below 6e-5, gone above 65,504",
        "float16：小于 6e-5 变粗，大于 65,504 直接溢出",
    ),
)
ax_r.legend(fontsize=8)
fig.tight_layout()
show()
np.seterr(**saved_errors)

# %% [markdown] tags=["en"]
# Three things to take from the cell. **Rounding**: bfloat16 keeps about 2–3 significant digits
# (π becomes 3.140625), float16 about 3. **Range**: float16 turns 70,000 into infinity and
# 10⁻⁸ into zero — an activation or a loss above 65,504, a gradient below 6·10⁻⁸, and training
# breaks; that is why float16 training multiplies the loss by a large factor before backward
# and divides the gradients after (*loss scaling*). bfloat16 has float32's range and needs no
# such trick, which is why it became the default on hardware that has it. **Small updates**: a
# bfloat16 weight of 1.0 cannot move by less than half its gap, $2^{-8} \approx 0.0039$; every
# update of 0.001 is rounded away, and after a thousand of them the weight has not moved at
# all (float16 moves, but in the wrong steps). A learning rate times a gradient is very often
# that small next to the weight. That is why mixed precision keeps a float32 *master copy* of
# the weights, applies the updates there, and uses 16 bits only for the products, whose error
# (the last lines above: about $10^{-3}$ relative for bfloat16 inputs) the training tolerates.
#
# ### 1.3 Data parallelism: the same step, computed by several processes
#
# With a batch $\mathcal{B}$ of $B$ examples, training takes the step with the mean gradient
# $g = \frac{1}{B}\sum_{i \in \mathcal{B}} \nabla \ell_i$. Split the batch into $P$ equal shards
# $\mathcal{B}_1, \dots, \mathcal{B}_P$ of $B/P$ examples; then
#
# $$
# g = \frac{1}{B}\sum_{i \in \mathcal{B}} \nabla \ell_i
#   = \frac{1}{P}\sum_{p=1}^{P} g_p, \qquad g_p = \frac{P}{B}\sum_{i \in \mathcal{B}_p} \nabla \ell_i
# $$
#
# the mean over the shards of each shard's mean gradient. **Data-parallel** training puts a full
# copy of the model in each of $P$ processes (usually one per GPU); each process computes $g_p$ on
# its own shard, the processes *all-reduce* their gradients (every one ends up with the sum,
# which each divides by $P$), and all take the same step from the same weights, so they stay
# identical. $P$ processes at batch $B/P$ each follow exactly the trajectory of one process at
# batch $B$ — in about $1/P$ of the time when the all-reduce is cheap next to the compute. (A ring
# all-reduce sends and receives about twice the gradient's size per process, whatever $P$ is.)
#
# gradschool does this with PyTorch's own machinery (docs/compute.md): `gradschool train --nproc
# 2` starts two processes under `torchrun`, connects them over gloo (the CPU transport; NCCL on
# GPUs), gives each one half of every global batch and wraps the model in
# `DistributedDataParallel`, which all-reduces the gradients during the backward pass. Below:
# first the identity above on a real batch, then the same training run twice — two processes at
# batch 32, one process at batch 64 — compared epoch by epoch, and weight by weight at the end.

# %% [markdown] tags=["zh"]
# 从这个单元里要记住三件事。**舍入**：bfloat16 只有 2–3 位有效数字（π 变成 3.140625），float16 大约 3 位。
# **范围**：float16 会把 70,000 变成无穷大、把 10⁻⁸ 变成 0——激活值或损失超过 65,504，或者梯度小于 6·10⁻⁸，
# 训练就坏了；所以用 float16 训练时要先把损失乘上一个大数再反向传播，算完再把梯度除回来（*损失缩放*，loss
# scaling）。bfloat16 的范围和 float32 一样，用不着这种技巧，这也是有硬件支持时它成了默认选择的原因。
# **小更新**：值为 1.0 的 bfloat16 权重，每次至少要挪动半个间隔，也就是 $2^{-8} \approx 0.0039$；每次 0.001 的
# 更新都被舍入掉了，加了一千次，权重纹丝不动（float16 倒是动了，可步子是错的）。学习率乘梯度，和权重本身比起来，
# 经常就这么小。所以混合精度要保留一份 float32 的权重*主副本*（master copy），更新都加在它上面，16 位只用来做
# 矩阵乘法——乘法的误差（上面最后几行：bfloat16 输入约 $10^{-3}$ 的相对误差）训练是受得了的。
#
# ### 1.3 数据并行：同一步，由几个进程一起算
#
# 一个批次 $\mathcal{B}$ 有 $B$ 个样本，训练按平均梯度 $g = \frac{1}{B}\sum_{i \in \mathcal{B}} \nabla \ell_i$
# 走一步。把这个批次平分成 $P$ 份 $\mathcal{B}_1, \dots, \mathcal{B}_P$，每份 $B/P$ 个样本，那么
#
# $$
# g = \frac{1}{B}\sum_{i \in \mathcal{B}} \nabla \ell_i
#   = \frac{1}{P}\sum_{p=1}^{P} g_p, \qquad g_p = \frac{P}{B}\sum_{i \in \mathcal{B}_p} \nabla \ell_i
# $$
#
# 也就是各份平均梯度的平均。**数据并行**训练在 $P$ 个进程里各放一份完整的模型（通常一个进程一块 GPU）；每个进程
# 在自己那一份数据上算 $g_p$，然后所有进程做一次*全归约*（all-reduce）：每个进程都拿到梯度之和，再各自除以 $P$。
# 大家从同样的权重出发、走同样的一步，所以权重始终一致。$P$ 个进程、每个批量 $B/P$，和一个进程、批量 $B$ 走的是
# 完全相同的轨迹——如果全归约的开销比计算小，时间只要大约 $1/P$。（环形全归约中，每个进程收发的数据量约为梯度
# 大小的两倍，和 $P$ 无关。）
#
# gradschool 用的是 PyTorch 自己的这一套（docs/compute.zh-CN.md）：`gradschool train --nproc 2` 在 `torchrun`
# 下启动两个进程，用 gloo（CPU 上的通信后端；GPU 上用 NCCL）把它们连起来，每个进程拿每个全局批次的一半，模型用
# `DistributedDataParallel` 包起来，它在反向传播的过程中就对梯度做全归约。下面先在一个真实批次上验证上面的等式，
# 再把同一次训练跑两遍——两个进程各用批量 32，一个进程用批量 64——逐轮比较，最后逐个权重比较。

# %%
from gradschool.data.datasets import load_dataset

# The identity, on the NumPy engine in float64: the seed's MLP and 64 real MNIST images.
mnist = load_dataset("mnist-mini")
xb = E.tensor(mnist.X_train[:64].reshape(64, -1).astype(np.float64) / 255)
yb = E.tensor(mnist.y_train[:64].astype(np.int64))
E.manual_seed(0)
net = mlp(E.nn, [784, 128, 64, 10]).double()


def mean_gradient(rows: slice) -> list[np.ndarray]:
    """The gradient of the mean cross-entropy over the examples `rows` of the batch."""
    net.zero_grad()
    E.nn.functional.cross_entropy(net(xb[rows]), yb[rows]).backward()
    return [p.grad.numpy().copy() for p in net.parameters()]


whole = mean_gradient(slice(0, 64))
halves = [mean_gradient(slice(0, 32)), mean_gradient(slice(32, 64))]
averaged = [(g1 + g2) / 2 for g1, g2 in zip(*halves)]
gap = max(float(np.abs(a - w).max()) for a, w in zip(averaged, whole))
print(
    t(
        "batch of 64 vs the average of its two halves' mean gradients, largest difference:",
        "64 个样本的平均梯度 vs 两半各自平均梯度的平均，最大差值：",
    ),
    f"{gap:.1e}",
)
assert gap < 1e-12
uneven = [
    (g1 + g2) / 2 for g1, g2 in zip(mean_gradient(slice(0, 40)), mean_gradient(slice(40, 64)))
]
print(
    t(
        "shards of 40 and 24 averaged plainly:",
        "分成 40 和 24 两份再直接平均：",
    ),
    f"{max(float(np.abs(a - w).max()) for a, w in zip(uneven, whole)):.1e}",
    t(
        "(unequal shards need weights 40/64 and 24/64)",
        "（两份不等大时，要按 40/64 和 24/64 加权）",
    ),
)

# %%
DDP_N, DDP_EPOCHS = (512, 3) if QUICK else (2048, 3)  # 8 (quick) or 32 global batches per epoch
COMMON = [
    "--engine", "torch", "--device", "cpu", "--train-subset", str(DDP_N), "--val-fraction", "0",
    "--lr", "0.05", "--epochs", str(DDP_EPOCHS), "--progress", "off",
]  # fmt: skip
if not HAVE_TORCH:
    print(
        t(
            "(torch is not installed: data-parallel training runs on PyTorch, so this part is skipped)",
            "（没有安装 torch：数据并行训练基于 PyTorch，这一部分跳过）",
        )
    )
else:
    from gradschool.train.launch import train as train_command  # what `gradschool train` runs
    from gradschool.train.run import RunDir

    out_dir = Path(tempfile.mkdtemp(prefix="lecture12-ddp-"))
    # Two processes, batch 32 each: `gradschool train --nproc 2` in a fresh process, as a
    # learner would type it (it starts torchrun, which starts the two workers).
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "gradschool", "train", *COMMON, "--nproc", "2",
               "--batch-size", "32", "--out-dir", str(out_dir), "--run-name", "two"]  # fmt: skip
    print("$ gradschool " + " ".join(command[3:]).replace(str(out_dir), "<tmp>"))
    t0 = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    two_seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(
            f"the 2-process run failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    launched = result.stdout.split("\n", 1)[1]  # the lines after "Launching 2 processes: ..."
    print(launched.replace(str(out_dir), "<tmp>").rstrip())
    # One process, batch 64, through the same command-line code (in this process).
    print("$ gradschool " + " ".join(["train", *COMMON, "--batch-size", "64"]))
    t0 = time.perf_counter()
    one_args = [*COMMON, "--batch-size", "64", "--out-dir", str(out_dir), "--run-name", "one"]
    with contextlib.redirect_stdout(io.StringIO()) as said:
        status = train_command(load_config("seed_mlp", one_args), ["train", *one_args])
    one_seconds = time.perf_counter() - t0
    assert status == 0, said.getvalue()
    print(said.getvalue().replace(str(out_dir), "<tmp>").rstrip())

    two, one = RunDir(out_dir / "two"), RunDir(out_dir / "one")
    print()
    print(
        f"{t('epoch', '轮'):>6}{t('steps', '步数'):>7}{t('loss, 2 processes', '损失，2 个进程'):>20}"
        f"{t('loss, 1 process', '损失，1 个进程'):>20}{t('difference', '差'):>12}"
    )
    for r2, r1 in zip(two.read_metrics(), one.read_metrics()):
        assert r2["step"] == r1["step"]
        assert abs(r2["train_loss"] - r1["train_loss"]) <= 1e-5 * abs(r1["train_loss"])
        assert r2["test_acc"] == r1["test_acc"]
        print(
            f"{r2['epoch']:>6}{r2['step']:>7}{r2['train_loss']:>20.7f}{r1['train_loss']:>20.7f}"
            f"{abs(r2['train_loss'] - r1['train_loss']):>12.1e}"
        )
    w2, w1 = (
        torch.load(run.find_checkpoint(), map_location="cpu", weights_only=True)["model"]
        for run in (two, one)
    )
    weight_gap = max(float((w2[k] - w1[k]).abs().max()) for k in w1)
    print(
        t("final weights, largest difference:", "最终权重，最大差值："),
        f"{weight_gap:.1e}",
        t("(float32: the two runs add the same numbers in another order)",
          "（float32：两次训练加的是同样的数，只是顺序不同）"),
    )  # fmt: skip
    assert weight_gap < 1e-4
    print(
        t(
            f"time: 2 processes {two_seconds:.1f} s (with start-up), 1 process {one_seconds:.1f} s",
            f"用时：2 个进程 {two_seconds:.1f} 秒（含启动），1 个进程 {one_seconds:.1f} 秒",
        )
    )
    shutil.rmtree(out_dir, ignore_errors=True)

# %% [markdown] tags=["en"]
# Same losses, same test accuracy, same weights to float32 rounding: the two processes *are* the
# one-process run, computed in two halves. And slower: for a model this small, starting the
# processes and exchanging 109,386 gradients every step costs more than the halved arithmetic
# saves (docs/benchmarks.md measures the overhead). Data parallelism pays when one step's
# compute dwarfs the all-reduce — large models on fast GPUs. It has a limit, too: every process
# holds the whole model, its gradients and its optimizer state, which for the largest models no
# single GPU can (next section). They are split further, *inside* the model: each weight matrix
# cut across GPUs (tensor parallelism), the layers cut into stages (pipeline parallelism), the
# optimizer state sharded (ZeRO, PyTorch's FSDP).
#
# ### 1.4 What scale costs: GPT-3 in GPU-days and megawatt-hours
#
# Lecture 10 counted GPT-3's training compute with $C \approx 6ND$ ($N$ parameters, $D$
# training tokens). With the figures its paper gives — $N = 175 \times 10^9$, $D = 300 \times
# 10^9$ (Brown et al. 2020, who report $3.14 \times 10^{23}$ FLOPs) — time and energy follow from
# two more numbers: the rate a GPU *sustains* over the run, and the power it draws. Patterson et
# al. (2021, "Carbon emissions and large neural network training", table 4) give both for GPT-3's
# run on 10,000 V100 GPUs: 24.6 TFLOP/s per GPU measured (a fifth of the 125 peak), 330 W per GPU
# including its share of the server, in a data centre whose total draw is 1.1 times that of its
# computers (PUE). They report 14.8 days and 1,287 MWh.
#
# $$
# T_{\mathrm{GPU}} = \frac{6ND}{R}, \qquad E = T_{\mathrm{GPU}} \times P \times \mathrm{PUE}
# $$
#
# with $R$ the sustained FLOP/s of one GPU, $T_{\mathrm{GPU}}$ the GPU-time (divide by the number of
# GPUs for the wall time) and $P$ the power of one GPU.
#
# The cell recomputes their figures from these, then asks the same of a modern GPU (an H100 at an
# assumed 40% of its 989 TFLOP/s bf16 peak — large runs report 40–50%, e.g. PaLM's 46%, Chowdhery
# et al. 2022 — and its 700 W rating) and of this CPU at the training-step rate measured in 1.1.
# Memory is the other wall: training with Adam in mixed precision keeps about 16 bytes per
# parameter — bf16 weights and gradients (2 + 2), a float32 master copy (4), Adam's two moments
# (4 + 4) (Rajbhandari et al. 2020, "ZeRO").

# %% [markdown] tags=["zh"]
# 损失一样、测试准确率一样、权重在 float32 舍入误差内也一样：两个进程的训练*就是*那次单进程训练，只不过分成
# 两半来算。而且更慢：模型这么小，启动进程、每步交换 109,386 个梯度的开销，比省下的一半计算还多
# （docs/benchmarks.md 里测了这笔开销）。只有当一步的计算量远大于全归约时，数据并行才划算——大模型跑在快 GPU
# 上就是这样。它也有极限：每个进程都要装下整个模型、它的梯度和优化器状态，最大的那些模型没有哪块 GPU 装得下
# （见下一节）。于是还要在模型*内部*再切：把每个权重矩阵切到几块 GPU 上（张量并行），把层切成几段（流水线并行），
# 把优化器状态分片存放（ZeRO，PyTorch 里的 FSDP）。
#
# ### 1.4 规模的代价：GPT-3 要多少 GPU·天、多少兆瓦时
#
# 第 10 讲用 $C \approx 6ND$（$N$ 个参数、$D$ 个训练 token）算过 GPT-3 的训练算力。用论文给出的数字——
# $N = 175 \times 10^9$、$D = 300 \times 10^9$（Brown 等 2020，报告的是 $3.14 \times 10^{23}$ 次浮点运算）——
# 再加两个数，就能算出时间和能耗：GPU 在整个训练中*持续*达到的速度，以及它的功耗。Patterson 等（2021，
# "Carbon emissions and large neural network training"，表 4）给出了 GPT-3 在 10,000 块 V100 上训练时的这两个数：
# 实测每块 GPU 24.6 TFLOP/s（只有 125 峰值的五分之一），每块 GPU 连同服务器分摊的部分共 330 W，数据中心的总功耗是
# 计算机本身的 1.1 倍（PUE）。他们报告的结果是 14.8 天、1,287 兆瓦时。
#
# $$
# T_{\mathrm{GPU}} = \frac{6ND}{R}, \qquad E = T_{\mathrm{GPU}} \times P \times \mathrm{PUE}
# $$
#
# 其中 $R$ 是单块 GPU 持续达到的速度（FLOP/s），$T_{\mathrm{GPU}}$ 是总的 GPU 时间（除以 GPU 块数就是实际用时），
# $P$ 是单块 GPU 的功耗，$E$ 是能耗。
#
# 下面的单元先用这些数重算他们的结果，再问同样的问题：换成今天的 GPU 会怎样（H100，假设达到其 989 TFLOP/s bf16
# 峰值的 40%——大规模训练报告的一般是 40–50%，比如 PaLM 的 46%，Chowdhery 等 2022——功耗按额定的 700 W），换成
# 这颗 CPU 又会怎样（按 1.1 节实测的训练步速度）。另一道墙是显存：用 Adam 做混合精度训练，每个参数大约要占 16
# 字节——bf16 的权重和梯度（2 + 2）、float32 的主副本（4）、Adam 的两个矩估计（4 + 4）（Rajbhandari 等 2020，
# "ZeRO"）。

# %%
N_GPT3, D_GPT3 = 175e9, 300e9  # parameters, training tokens (Brown et al. 2020)
C_GPT3 = 6 * N_GPT3 * D_GPT3

# %% training_cost
DAY = 86_400.0


def training_cost(flops: float, rate: float, watts: float, pue: float = 1.1) -> tuple:
    """(GPU-days, energy in MWh) of `flops` at a sustained `rate` FLOP/s per device."""
    device_seconds = flops / rate
    return device_seconds / DAY, device_seconds / 3600 * watts * pue / 1e6


# %%

print(
    t("training compute 6ND =", "训练算力 6ND ="),
    f"{C_GPT3:.3e} FLOPs",
    t("(the paper: 3.14e23)", "（论文：3.14e23）"),
)
scenarios = [  # name, sustained FLOP/s per device, watts per device, devices
    (t("V100, as GPT-3 was trained", "V100，GPT-3 当年的训练"), 24.6e12, 330, 10_000),
    (t("H100, 40% of bf16 peak", "H100，bf16 峰值的 40%"), 0.40 * 989e12, 700, 1_024),
    # 15 W: a rough share of a server CPU's power for one core (an assumption, not a measurement)
    (t("this CPU core (section 1.1)", "这颗 CPU 的一个核（1.1 节）"), step_rate, 15, 1),
]
print(
    f"{'':<30}{t('TFLOP/s', 'TFLOP/s'):>9}{t('device-days', '设备·天'):>14}{t('devices', '设备数'):>9}"
    f"{t('wall time', '实际用时'):>16}{t('energy', '能耗'):>14}"
)
costs = {}
for name, rate, watts, devices in scenarios:
    days, mwh = training_cost(C_GPT3, rate, watts)
    wall = days / devices
    wall_text = (
        t(f"{wall:,.1f} days", f"{wall:,.1f} 天")
        if wall < 3650
        else t(f"{wall / 365.25:,.0f} years", f"{wall / 365.25:,.0f} 年")
    )
    costs[name] = (days, mwh)
    print(
        f"{name:<30}{rate / 1e12:>9.3g}{days:>14,.0f}{devices:>9,}{wall_text:>16}{mwh:>10,.0f} MWh"
    )
v100_days, v100_mwh = costs[scenarios[0][0]]
# Patterson et al. 2021: 14.8 days on 10,000 V100s, 1,287 MWh.
assert abs(v100_days / 10_000 - 14.8) / 14.8 < 0.01 and abs(v100_mwh - 1287) / 1287 < 0.01
assert round(v100_days, -3) == 148_000 and round(v100_mwh, -1) == 1290  # as the summary quotes
print(
    t(
        "the V100 row reproduces Patterson et al.'s 14.8 days and 1,287 MWh (within 1%)",
        "V100 这一行和 Patterson 等报告的 14.8 天、1,287 兆瓦时一致（误差 1% 以内）",
    )
)
state_tb = 16 * N_GPT3 / 1e12
print(
    t(
        f"training state at 16 bytes per parameter: {state_tb:.1f} TB = {state_tb * 1e3 / 141:.0f} H200s of 141 GB, before a single activation",
        f"按每个参数 16 字节算，训练状态共 {state_tb:.1f} TB = {state_tb * 1e3 / 141:.0f} 块 141 GB 的 H200，还没算任何激活值",
    )
)

# %% [markdown] tags=["en"]
# Read the V100 row as a check and the others as what-ifs. The same arithmetic on today's GPUs
# takes about a sixteenth of the GPU-days and an eighth of the energy, and still needs a
# thousand GPUs for more than a week; on one CPU core it would outlast recorded history. The
# compute *price* of a large model is time × devices × power, and every factor of it was
# measured or stated above: the FLOP count is exact arithmetic (1.1), the rate is what the
# hardware sustains on the model's shapes, not its datasheet peak, and the energy follows. (The
# H100 and CPU rows rest on assumptions stated in the cell: a utilisation, a power draw; the CPU
# row's rate is this machine's, measured today.)
#
# ## Part 2. Interpretability: why did the model say that?
#
# ### 2.1 Four attribution methods, and a check on one of them
#
# A classifier's decision is the score $f_c(x)$ of a class $c$ (its logit). An *attribution*
# gives every input feature $x_j$ — here a pixel — a number saying how much it pushed that score.
# Four standard methods, all in `gradschool/trust/attribution.py` (equal to Captum's numbers,
# docs/trust.md):
#
# - **Saliency** (Simonyan et al. 2014): $|\partial f_c / \partial x_j|$, the size of the gradient:
#   which pixels, nudged, would change the score most.
# - **SmoothGrad** (Smilkov et al. 2017): saliency averaged over $n$ noisy copies of the input,
#   $\frac{1}{n}\sum_k |\nabla f_c(x + \varepsilon_k)|$, $\varepsilon_k \sim \mathcal{N}(0, s^2)$: a
#   ReLU network's gradient jumps from pixel to pixel, and the average shows the shape under it.
# - **Integrated gradients** (Sundararajan et al. 2017): walk in a straight line from a baseline
#   $x'$ (a black image) to $x$ and add up the gradients on the way,
#
# $$
# \text{IG}_j(x) = (x_j - x'_j) \int_0^1 \frac{\partial f_c\left(x' + \alpha (x - x')\right)}{\partial x_j}\, d\alpha .
# $$
#
#   By the fundamental theorem of calculus along that path, the attributions add up exactly to
#   the change of the score they explain — **completeness**:
#
# $$
# \sum_j \text{IG}_j(x) = f_c(x) - f_c(x') .
# $$
#
#   The integral is computed with $n$ Gauss–Legendre points, so the sum is only close; its error
#   $\delta = \sum_j \text{IG}_j - (f_c(x) - f_c(x'))$ is a check we can run.
# - **Occlusion** (Zeiler & Fergus 2014): hide a 4×4 patch (set it to black), see how much the
#   score drops, slide the patch; each pixel gets the mean drop of the patches that covered it.
#   No gradients at all.
#
# First a model to explain: lecture 9's CNN, trained on the embedded MNIST slice through the
# same training loop as every lecture (`fit` with `configs/mnist_cnn.toml`, lecture 9's
# changes, and fewer images and epochs in quick mode).

# %% [markdown] tags=["zh"]
# V100 那一行是核对，其余几行是假设。同样的运算放到今天的 GPU 上，GPU·天数约为原来的十六分之一，能耗约八分之一，
# 但仍然要一千块 GPU 跑上一个多星期；放在一个 CPU 核上，要跑的时间比有文字记载的历史还长。大模型在算力上的
# *代价*就是时间 × 设备数 × 功耗，上面每一项都有来历：浮点运算次数是精确的算术（1.1 节）；速度要看硬件在模型
# 那些矩阵形状上实际能持续跑多快，而不是数据手册上的峰值；能耗随之而来。（H100 和 CPU 两行依赖单元里写明的假设：
# 利用率、功耗；CPU 那一行的速度是这台机器今天实测的。）
#
# ## 第二部分：可解释性——模型为什么这么判断？
#
# ### 2.1 四种归因方法，以及其中一种的自检
#
# 分类器的决定就是某个类别 $c$ 的分数 $f_c(x)$（logit）。*归因*（attribution）给每个输入特征 $x_j$（这里是一个
# 像素）一个数，表示它把这个分数推高或拉低了多少。四种常用方法都在 `gradschool/trust/attribution.py` 里（和
# Captum 的结果一致，见 docs/trust.zh-CN.md）：
#
# - **显著图**（saliency，Simonyan 等 2014）：$|\partial f_c / \partial x_j|$，梯度的大小：哪些像素稍微一动，
#   分数变化最大。
# - **SmoothGrad**（Smilkov 等 2017）：对输入加 $n$ 次噪声，把显著图平均起来，
#   $\frac{1}{n}\sum_k |\nabla f_c(x + \varepsilon_k)|$，$\varepsilon_k \sim \mathcal{N}(0, s^2)$：ReLU 网络的梯度在
#   像素之间跳来跳去，平均之后才看得出底下的形状。
# - **积分梯度**（integrated gradients，Sundararajan 等 2017）：从基线 $x'$（一张全黑的图）沿直线走到 $x$，
#   把一路上的梯度加起来，
#
# $$
# \text{IG}_j(x) = (x_j - x'_j) \int_0^1 \frac{\partial f_c\left(x' + \alpha (x - x')\right)}{\partial x_j}\, d\alpha
# $$
#
#   沿这条路径用微积分基本定理，所有归因加起来恰好等于它要解释的分数变化——这叫**完备性**（completeness）：
#
# $$
# \sum_j \text{IG}_j(x) = f_c(x) - f_c(x')
# $$
#
#   积分用 $n$ 个 Gauss–Legendre 点来算，所以两边只是近似相等；误差
#   $\delta = \sum_j \text{IG}_j - (f_c(x) - f_c(x'))$ 就是一个可以运行的自检。
# - **遮挡**（occlusion，Zeiler 和 Fergus 2014）：把一块 4×4 的区域涂黑，看分数掉了多少，再把这块挪到别处；
#   每个像素的归因是盖住过它的那些块造成的平均下降。完全不用梯度。
#
# 先要有一个待解释的模型：第 9 讲的 CNN，在内置的 MNIST 小数据集上，用每一讲都用的同一个训练循环训练（`fit`
# 加 `configs/mnist_cnn.toml`，按第 9 讲的改法，快速模式用更少的图片和轮数）。

# %%
from gradschool.trust import attribution as A

cnn_config = with_updates(
    load_config("mnist_cnn"),
    {
        "data.dataset": "mnist-mini",
        "data.train_subset": 4000 if QUICK else None,
        "data.augment": [],
        "model.channels": [16, 32],
        "model.hidden": 64,
        "model.dropout": 0.0,
        "train.epochs": 2 if QUICK else 6,
        "train.engine": ENGINE,
        "train.threads": 1,
    },
)
digits = prepare_data(cnn_config.data, cnn_config.train.seed)
trained = fit(cnn_config, data=digits)
cnn_model, backend = trained.model, trained.backend
print(
    t("test accuracy:", "测试集准确率："),
    f"{100 * trained.state.history[-1]['test_acc']:.2f}%",
    t(f"({len(digits.y_train):,} training images)", f"（{len(digits.y_train):,} 张训练图片）"),
)

SHOWN = 4 if QUICK else 6
X = digits.X_test[:SHOWN].astype(np.float64)  # (n, 1, 28, 28), normalised
y = digits.y_test[:SHOWN]
black = float(digits.X_train.min())  # a black pixel after normalisation: the baseline
noise = 0.15 * float(X.max() - X.min())  # SmoothGrad's s: 15% of the input's range (its paper)
maps = {
    "saliency": A.saliency(cnn_model, backend, X, y),
    "SmoothGrad": A.smoothgrad(cnn_model, backend, X, y, samples=25 if QUICK else 50, stdev=noise),
    "IG": A.integrated_gradients(cnn_model, backend, X, y, baseline=black, steps=64),
    "occlusion": A.occlusion(cnn_model, backend, X, y, window=4, stride=2, baseline=black),
}

ig = maps["IG"]
change = ig.scores - ig.baseline_scores
print(
    t(
        "integrated gradients, completeness: sum of attributions vs f(x) - f(black)",
        "积分梯度的完备性：归因之和 vs f(x) - f(全黑)",
    )
)
for i in range(SHOWN):
    print(
        f"  #{i} ({t('digit', '数字')} {y[i]}): {ig.values[i].sum():+9.4f} vs {change[i]:+9.4f}   δ = {ig.delta[i]:+.1e}"
    )
worst = float(np.abs(ig.delta).max() / np.abs(change).max())
print(t("steps   largest |δ| / largest score change", "点数    最大 |δ| / 最大分数变化"))
for steps in (4, 16, 64):
    run = A.integrated_gradients(cnn_model, backend, X, y, baseline=black, steps=steps)
    print(f"{steps:>5}   {float(np.abs(run.delta).max() / np.abs(change).max()):.2%}")
assert worst < 0.02, worst

fig, axes = plt.subplots(SHOWN, 5, figsize=(9.5, 1.95 * SHOWN))
for i in range(SHOWN):
    axes[i, 0].imshow(X[i, 0], cmap="gray")
    axes[i, 0].set_ylabel(t(f"digit {y[i]}", f"数字 {y[i]}"))
    for j, (name, result) in enumerate(maps.items(), start=1):
        v = result.values[i, 0]
        if name in ("IG", "occlusion"):  # signed: red pushed the score up, blue down
            m = float(np.abs(v).max()) or 1.0
            axes[i, j].imshow(v, cmap="bwr", vmin=-m, vmax=m)
        else:
            axes[i, j].imshow(v, cmap="Reds")
        if i == 0:
            axes[i, j].set_title(name)
    axes[0, 0].set_title(t("input", "输入"))
for a in axes.ravel():
    a.set_xticks([])
    a.set_yticks([])
fig.suptitle(t("What made the CNN choose the true class?", "是什么让 CNN 选了正确的类别？"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# The check passes: the integrated-gradients attributions add up to the change of the score, to
# the small error the table shows, and the error falls as the number of points grows. It falls
# more slowly than Gauss–Legendre does for smooth functions because max-pooling and ReLU make the
# path piecewise smooth (docs/trust.md measures this on the full-size model).
#
# The maps look plausible: saliency and SmoothGrad light up the strokes and their surroundings,
# integrated gradients and occlusion show which strokes raised the score (red) and which
# lowered it (blue). But *plausible* is not evidence. How would we know if a map showed us
# nothing about the model?
#
# ### 2.2 When attributions mislead: the randomisation test
#
# Adebayo et al. (2018, "Sanity checks for saliency maps") proposed a test any explanation should
# pass: an explanation of a model's decision must depend on the model. Replace the trained
# weights by random ones — a network that has learned nothing, at 10% accuracy — and explain the
# same inputs. If the maps barely change, they were showing the input, not the model.
#
# To measure "barely change" without trusting our eyes, compare the two maps of each image by
# their **Spearman rank correlation**: rank the pixels of each map by $|\text{attribution}|$ and
# take the correlation of the ranks (1: the same order; 0: unrelated). Ties (the many pixels with
# attribution exactly 0) share the mean of their ranks. We compute it over the whole image and
# over the digit's own pixels (those not black), and, for the random model, against the input
# itself.

# %% [markdown] tags=["zh"]
# 自检通过了：积分梯度的归因之和等于分数的变化，误差很小（见表），而且点数越多误差越小。它下降得不如光滑函数上
# Gauss–Legendre 那么快，因为最大池化和 ReLU 让这条路径只是分段光滑（docs/trust.zh-CN.md 在完整大小的模型上
# 测过这一点）。
#
# 这些图看上去都挺像回事：显著图和 SmoothGrad 点亮了笔画及其周围，积分梯度和遮挡显示哪些笔画抬高了分数（红）、
# 哪些拉低了分数（蓝）。可是*看着像回事*不等于证据。如果一张图其实没告诉我们任何关于模型的信息，我们怎么才能知道？
#
# ### 2.2 归因什么时候会误导人：随机化检验
#
# Adebayo 等（2018，"Sanity checks for saliency maps"）提出了一个任何解释方法都该通过的检验：对模型决定的解释，
# 必须依赖于这个模型。把训练好的权重换成随机权重——一个什么都没学会、准确率只有 10% 的网络——再解释同样的输入。
# 如果图几乎没变，那它展示的就是输入本身，而不是模型。
#
# 为了不凭肉眼判断"几乎没变"，我们用 **Spearman 秩相关**来比较每张图的两张归因图：按 $|\text{归因}|$ 给每张图的
# 像素排名，再算两组名次的相关系数（1：顺序完全一样；0：毫无关系）。并列的像素（大量归因恰好为 0 的像素）取它们
# 名次的平均值。我们在整张图上算一次，在数字本身的像素（非黑色的像素）上再算一次；对随机模型，还要和输入本身比一比。


# %%
def ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of the values of `a` (flattened); tied values share their mean rank."""
    a = np.asarray(a, dtype=np.float64).ravel()
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a))
    r[order] = np.arange(len(a))
    _, group, counts = np.unique(a, return_inverse=True, return_counts=True)
    return (np.bincount(group, weights=r) / counts)[group]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks."""
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


assert abs(spearman([1, 2, 2, 3], [10, 20, 20, 30]) - 1) < 1e-12  # ties ranked alike
assert abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12

# The same architecture with fresh random weights (another seed), never trained.
random_net = Trainer(with_updates(cnn_config, {"train.seed": 1}), data=digits, console=False)
random_model = random_net.model
random_acc = float((random_net.predict(digits.X_test).argmax(1) == digits.y_test).mean())
print(
    t("test accuracy of the random network:", "随机网络的测试准确率："), f"{100 * random_acc:.1f}%"
)
methods = {
    "saliency": lambda m: A.saliency(m, backend, X, y).values,
    "SmoothGrad": lambda m: (
        A.smoothgrad(m, backend, X, y, samples=25 if QUICK else 50, stdev=noise).values
    ),
    "gradient × input": lambda m: A.gradient_x_input(m, backend, X, y).values,
    "IG": lambda m: A.integrated_gradients(m, backend, X, y, baseline=black, steps=64).values,
    "occlusion": lambda m: A.occlusion(m, backend, X, y, window=4, stride=2, baseline=black).values,
}
digit_pixels = black + 1e-6 < X  # the pixels of the digit: not black
print(
    f"{t('method', '方法'):<18}{t('trained vs random:', '训练好的 vs 随机的：'):>24}"
    f"{t('random vs input', '随机的 vs 输入'):>18}"
)
print(
    f"{'':<18}{t('whole image', '整张图'):>12}{t('digit only', '只看数字'):>12}{t('digit only', '只看数字'):>18}"
)
rho, random_maps = {}, {}
for name, explain in methods.items():
    a_map, r_map = np.abs(explain(cnn_model)), np.abs(explain(random_model))
    random_maps[name] = r_map
    whole = np.mean([spearman(a_map[i], r_map[i]) for i in range(SHOWN)])
    digit = np.mean(
        [spearman(a_map[i][digit_pixels[i]], r_map[i][digit_pixels[i]]) for i in range(SHOWN)]
    )
    to_input = np.mean(
        [spearman(r_map[i][digit_pixels[i]], X[i][digit_pixels[i]]) for i in range(SHOWN)]
    )
    rho[name] = (whole, digit, to_input)
    print(f"{name:<18}{whole:>12.2f}{digit:>12.2f}{to_input:>18.2f}")
# Integrated gradients is exactly 0 wherever the input equals the baseline, whatever the model:
# over the whole image its maps of the two models agree far more than saliency's do.
assert rho["IG"][0] > 0.8 and rho["IG"][0] > rho["saliency"][0] + 0.3, rho

fig, axes = plt.subplots(2, 4, figsize=(9, 4.6))
for col, name in enumerate(("saliency", "IG")):
    i = 0
    a_map = np.abs(methods[name](cnn_model))[i, 0]
    for row, (label, m) in enumerate(
        (
            (t("trained", "训练好的"), a_map),
            (t("random weights", "随机权重"), random_maps[name][i, 0]),
        )
    ):
        axes[row, 2 * col].imshow(m, cmap="Reds")
        axes[row, 2 * col].set_title(f"{name}: {label}", fontsize=9)
    axes[0, 2 * col + 1].imshow(X[i, 0], cmap="gray")
    axes[0, 2 * col + 1].set_title(t("input", "输入"), fontsize=9)
    axes[1, 2 * col + 1].axis("off")
    axes[1, 2 * col + 1].text(
        0.5, 0.5,
        t(f"rank correlation\nwhole image {rho[name][0]:.2f}\ndigit only {rho[name][1]:.2f}",
          f"秩相关\n整张图 {rho[name][0]:.2f}\n只看数字 {rho[name][1]:.2f}"),
        ha="center", va="center",
    )  # fmt: skip
for a in axes.ravel():
    a.set_xticks([])
    a.set_yticks([])
fig.suptitle(
    t(
        "The same digit explained by a trained and by a random network",
        "同一个数字，分别由训练好的网络和随机网络来解释",
    )
)
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# A network at chance level, and its integrated-gradients map is still a clean picture of the
# digit: over the whole image it ranks the pixels almost exactly as the trained model's map
# does. The reason is in the formula: $\text{IG}_j$ carries the factor $(x_j - x'_j)$, which is 0 on
# every black pixel *whatever the model*, and gradient × input carries $x_j$ the same way. So
# their maps always look like the input's strokes; and even within the strokes, the random
# model's map follows the input's brightness (last column). Occlusion is zero on the background
# for the same reason (hiding black with black changes nothing). Saliency and SmoothGrad change
# completely when the weights do: whatever they show, it comes from the model.
#
# That does not make integrated gradients wrong: it is complete (2.1), and inside the strokes
# the trained and random maps differ. It means a map that *looks like the object* proves
# nothing: compare it with the same method on a randomised model, and read only what changes.
#
# ### 2.3 Which characters made the GPT predict the next one?
#
# For a language model the inputs are token ids, which have no gradient. The attribution is
# taken one step later, at the **token embeddings** $e_t = W_{te}[\text{id}_t]$ (lecture 10):
# integrated gradients from the zero embedding to $e_t$, summed over the embedding dimension to
# give one number per character, with completeness as before (`token_attribution` in
# `gradschool/trust/attribution.py`; `gradschool explain RUN_DIR --prompt ...` draws it).
#
# To know what the right answer is, we plant it. The GPT of lecture 10 (one block here, two
# heads, 32 dimensions) is trained on lines of text that repeat a random five-letter word
# ("qmnpsqmnpsqmn…"). Once a line has started repeating, the next character is *exactly* the
# character five places back, and nothing else matters. A model that learned the rule must use
# that character; an attribution that points elsewhere is wrong. We ask 20 new prompts (words
# never seen in training) and count how often each method's largest attribution falls on that
# character — for the trained model and, as in 2.2, for the same model untrained.

# %% [markdown] tags=["zh"]
# 一个只有瞎猜水平的网络，它的积分梯度图照样是一个干干净净的数字：在整张图上，它给像素排的顺序和训练好的模型
# 几乎一模一样。原因就在公式里：$\text{IG}_j$ 带着因子 $(x_j - x'_j)$，在每个黑色像素上它都是 0，*不管模型是
# 什么*；梯度 × 输入同样带着 $x_j$。所以它们的图总是长得像输入的笔画；即使只看笔画内部，随机模型的图也跟着输入的
# 亮度走（最后一列）。遮挡在背景上为 0 也是同样的道理（用黑色去遮黑色，什么都没变）。显著图和 SmoothGrad 则随权重
# 一起彻底改变：它们显示的东西，确实来自模型。
#
# 这并不是说积分梯度错了：它满足完备性（2.1 节），而且在笔画内部，训练好的和随机的两张图并不一样。它说明的是：
# 一张*长得像物体*的归因图什么也证明不了；要拿同一种方法在随机化的模型上算一遍来对照，只去解读那些变了的部分。
#
# ### 2.3 是哪些字符让 GPT 预测出下一个字符？
#
# 对语言模型来说，输入是 token 编号，编号没有梯度。所以归因往后挪一步，在 **token 嵌入** $e_t = W_{te}[\text{id}_t]$
# 上做（第 10 讲）：从全零的嵌入到 $e_t$ 做积分梯度，再在嵌入维度上求和，每个字符得到一个数，完备性照样成立
# （`gradschool/trust/attribution.py` 里的 `token_attribution`；`gradschool explain RUN_DIR --prompt ...` 会把它
# 画出来）。
#
# 为了知道正确答案是什么，我们自己埋一个进去。第 10 讲的 GPT（这里用 1 个块、2 个头、32 维）在这样的文本上训练：
# 每一行都在重复一个随机的五字母单词（"qmnpsqmnpsqmn…"）。一行一旦开始重复，下一个字符就*恰好*是往前数第五个
# 字符，别的都无关紧要。学会了这条规则的模型必须用到那个字符；指向别处的归因就是错的。我们拿 20 个新的开头（训练
# 中从没见过的单词）来问，数一数每种方法归因最大的字符有多少次正好落在那个字符上——训练好的模型算一遍，再像 2.2
# 节那样，对没训练过的同一个模型算一遍。

# %%
from gradschool.apps.gpt import encode_prompt, from_trainer
from gradschool.data.text import prepare_text

PERIOD, LETTERS = 5, np.array(list("abcdefghijklmnopqrstuvwxyz"))
text_rng = np.random.default_rng(12)


def periodic_line(length: int) -> str:
    word = "".join(text_rng.choice(LETTERS, PERIOD))
    return (word * (length // PERIOD + 1))[:length]


lines = [periodic_line(int(text_rng.integers(20, 40))) for _ in range(3000)]
planted = prepare_text("\n".join(lines) + "\n", val_fraction=0.1, source="planted rule, period 5")
GPT_STEPS = 300 if QUICK else 1000
gpt_config = with_updates(
    load_config("gpt_shakespeare"),
    {
        "model.n_layer": 1,
        "model.n_head": 2,
        "model.n_embd": 32,
        "model.block_size": 32,
        "data.batch_size": 16,
        "data.eval_interval": GPT_STEPS // 2,
        "data.eval_batches": 5,
        "train.epochs": 2,
        "train.max_steps": GPT_STEPS,
        "schedule.warmup_steps": GPT_STEPS // 20,
        "train.engine": ENGINE,
        "train.threads": 1,
    },
)
print(t("examples of the training text:", "训练文本示例："), repr("\n".join(lines[:3])))
gpt_trainer = fit(gpt_config, data=planted, console=False)
print(
    t(f"{GPT_STEPS} steps, validation loss", f"{GPT_STEPS} 步，验证损失"),
    f"{gpt_trainer.state.history[-1]['val_loss']:.3f}",
    t(f"(uniform guess: ln {planted.vocab_size} = {math.log(planted.vocab_size):.3f})",
      f"（均匀瞎猜：ln {planted.vocab_size} = {math.log(planted.vocab_size):.3f}）"),
)  # fmt: skip
untrained_gpt = Trainer(gpt_config, data=planted, console=False)

prompts = [periodic_line(int(text_rng.integers(2 * PERIOD + 1, 32))) for _ in range(20)]
gpt_methods = ("ig", "saliency", "gxi")
# Where each method's top attribution falls, as the distance back from the character to predict
# (5: the decisive character). IG and gradient x input are signed: the top is the character
# that pushed the answer's logit up most; saliency is a size.
tops = {(who, m): [] for who in ("trained", "untrained") for m in gpt_methods}
correct, deltas = 0, []
for prompt in prompts:
    decisive = len(prompt) - PERIOD  # the next character is prompt[decisive]
    for who, source in (("trained", gpt_trainer), ("untrained", untrained_gpt)):
        loaded = from_trainer(source)
        ids = encode_prompt(loaded.vocab, prompt)
        target = int(loaded.vocab.encode(prompt[decisive])[0])  # the character the rule says
        for m in gpt_methods:
            result = A.token_attribution(
                loaded.model, loaded.backend, ids, target=target, method=m, steps=32
            )
            top = int(np.argmax(result["values"]))  # saliency's values are sizes already
            tops[who, m].append(len(prompt) - top)
            if who == "trained" and m == "ig":
                deltas.append(abs(result["delta"]))
                with loaded.backend.no_grad():
                    logits = loaded.backend.to_numpy(
                        loaded.model(loaded.backend.tensor(ids[None]))
                    )[0, -1]
                correct += int(np.argmax(logits) == target)
hits = {key: sum(d == PERIOD for d in found) for key, found in tops.items()}
print(
    t(f"the trained model predicts the rule's character for {correct} of {len(prompts)} prompts",
      f"训练好的模型在 {len(prompts)} 个开头中有 {correct} 个预测出了规则给出的字符"),
)  # fmt: skip
print(
    f"{t('top attribution on the decisive character', '归因最大的正是起决定作用的字符'):<44}"
    f"{'IG':>7}{'saliency':>10}{'gxi':>7}"
)
for who in ("trained", "untrained"):
    label = (
        t("trained GPT", "训练好的 GPT")
        if who == "trained"
        else t("untrained GPT", "没训练过的 GPT")
    )
    counts = "".join(
        f"{f'{hits[who, m]}/{len(prompts)}':>{w}}" for m, w in zip(gpt_methods, (7, 10, 7))
    )
    print(f"{label:<44}{counts}")
elsewhere = [d for d in tops["trained", "ig"] if d != PERIOD]
print(
    t("trained GPT, IG: distance back of the top character when it is not the decisive one:",
      "训练好的 GPT，积分梯度：归因最大的字符不是决定性字符时，它在往前第几位："),
    sorted(elsewhere) if elsewhere else t("(never)", "（没有这种情况）"),
)  # fmt: skip
print(t("IG completeness, largest |δ|:", "积分梯度的完备性，最大 |δ|："), f"{max(deltas):.1e}")
assert hits["trained", "ig"] >= 0.6 * len(prompts), hits
assert hits["untrained", "ig"] <= 0.25 * len(prompts), hits

# One prompt, drawn: each character's attribution for the trained and the untrained model.
prompt = prompts[0]
decisive = len(prompt) - PERIOD
fig, axes = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True)
for a, (who, source) in zip(axes, (("trained", gpt_trainer), ("untrained", untrained_gpt))):
    loaded = from_trainer(source)
    target = int(loaded.vocab.encode(prompt[decisive])[0])
    ig_values = A.token_attribution(
        loaded.model, loaded.backend, encode_prompt(loaded.vocab, prompt), target=target, steps=32
    )["values"]
    colors = ["C3" if i == decisive else "C0" for i in range(len(prompt))]
    a.bar(range(len(prompt)), ig_values, color=colors)
    a.axhline(0, color="grey", lw=0.5)
    a.set_ylabel(t("IG", "积分梯度"))
    a.set_title(
        t(f"{who} GPT: which characters raise the logit of {prompt[decisive]!r} after {prompt!r}",
          f"{'训练好的' if who == 'trained' else '没训练过的'} GPT：在 {prompt!r} 之后，哪些字符抬高了 {prompt[decisive]!r} 的 logit"),
        fontsize=9,
    )  # fmt: skip
axes[1].set_xticks(range(len(prompt)), list(prompt))
axes[1].set_xlabel(
    t("input character (red: the one the rule copies)", "输入字符（红色：规则要复制的那个）")
)
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# Here the attributions pass both tests. The trained GPT's integrated gradients put the largest
# push on the one character the rule copies (red) for most prompts — for all of them after the
# quick mode's short training — and the untrained model's attributions are small and point
# elsewhere, so these maps do depend on what the model learned. Where the top falls elsewhere
# (the line above lists where, if anywhere), it falls one place past a copy of the decisive
# character — 6, 11 or 16 back: a copy of the *last* character, which marks where the repeating
# word restarts. That character does not hold the answer, but it helps the attention decide where
# to look, and attribution measures influence through every path, the choice of where to look
# included. An attribution says what the output depends on, which is not always what we would
# call the reason.
#
# Gradient × input (the table's last column) is the one-point version of integrated gradients,
# $e_t \cdot \nabla_{e_t} f$ at the input alone; in a network this non-linear that first-order
# picture can point at the wrong character, which the planted rule exposes and a
# plausible-looking map never would.
#
# ## Part 3. Privacy: what a model gives away about its training data
#
# ### 3.1 A membership-inference attack
#
# A model is trained to have low loss on its training examples. If it fits them much better than
# examples it has not seen, its loss alone betrays which examples were in the training set — a
# **membership-inference attack** (Shokri et al. 2017; the loss-threshold form of Yeom et al.
# 2018): given an example and the model, guess "member" when the loss is below a threshold. When
# the training data are medical records, "this record was in the training set" is itself the
# leak.
#
# We make the risk visible on purpose: an MLP (784-32-10) trained on only 500 MNIST images for
# many epochs, until it fits them perfectly. The attacker gets the model's loss on the 500
# members and on 500 test images it never saw. Two measures of the attack, for every threshold
# at once:
#
# - the **AUC**: the probability that a random member has a lower loss than a random non-member
#   (0.5: the attack is a coin toss; 1: it is never wrong);
# - the **advantage**: the largest $\text{TPR} - \text{FPR}$ over all thresholds (true-positive rate
#   on members minus false-positive rate on non-members; the attack's best balanced accuracy is
#   $(1 + \text{advantage})/2$).
#
# Measured on 500 + 500 examples, an attack that knows nothing still shows some advantage by
# chance: the advantage is the Kolmogorov–Smirnov statistic of the two loss samples, whose 95%
# point for two samples of $n$ is about $1.36\sqrt{2/n}$ = 0.086 here.

# %% [markdown] tags=["zh"]
# 在这里，归因两项检验都通过了。对大多数开头（快速模式训练得短，对全部开头），训练好的 GPT 的积分梯度把最大的
# 推力给了规则要复制的那个字符（红色）；没训练过的模型，归因都很小，而且指向别处，说明这些归因确实取决于模型学到
# 了什么。归因最大的字符不是决定性字符的时候（上面那一行列出了具体位置，如果有的话），它落在某个决定性字符副本的
# 后一位——往前第 6、11 或 16 位：那其实是*最后一个*字符的副本，标出了重复的单词从哪里重新开始。这个字符本身并不
# 包含答案，但它帮注意力决定往哪里看；而归因衡量的是经由所有路径的影响，"往哪里看"这条路径也算在内。归因告诉我们的
# 是输出依赖于什么，这不一定是我们所说的"原因"。
#
# 梯度 × 输入（表的最后一列）是积分梯度的"单点版"，只在输入这一点上算 $e_t \cdot \nabla_{e_t} f$；在这么非线性的
# 网络里，这种一阶近似可能指向错误的字符——埋好的规则把这一点暴露出来，而一张看起来像模像样的图永远不会。
#
# ## 第三部分：隐私——模型会泄露多少训练数据的信息
#
# ### 3.1 成员推断攻击
#
# 训练的目标就是让模型在训练样本上损失低。如果模型对训练样本拟合得比没见过的样本好得多，光看损失就能知道哪些
# 样本在训练集里——这就是**成员推断攻击**（membership inference，Shokri 等 2017；这里用 Yeom 等 2018 的损失阈值
# 形式）：拿到一个样本和模型，损失低于某个阈值就猜"是成员"。如果训练数据是病历，"这份病历在训练集里"本身就是泄露。
#
# 我们有意把风险放大给大家看：一个 MLP（784-32-10），只用 500 张 MNIST 图片训练很多轮，直到把它们完全记住。攻击者
# 拿到模型在这 500 个成员上的损失，以及在 500 张它从没见过的测试图片上的损失。对所有阈值一起衡量攻击效果，用两个量：
#
# - **AUC**：随机抽一个成员、随机抽一个非成员，成员的损失更低的概率（0.5：攻击等于抛硬币；1：从不出错）；
# - **优势**（advantage）：在所有阈值上 $\text{TPR} - \text{FPR}$ 的最大值（成员中被猜中的比例减去非成员中被误判
#   的比例；攻击最好的平衡准确率就是 $(1 + \text{优势})/2$）。
#
# 在 500 + 500 个样本上测，一个什么都不知道的攻击也会碰巧显出一点优势：优势就是两组损失的 Kolmogorov–Smirnov
# 统计量，两组各 $n$ 个样本时，它的 95% 分位点约为 $1.36\sqrt{2/n}$，这里是 0.086。

# %%
MIA_EPOCHS = 20 if QUICK else 60
mia_config = with_updates(
    load_config("seed_mlp"),
    {
        "data.train_subset": 500,
        "data.val_fraction": 0.0,  # every one of the 500 is a training example: a member
        "data.batch_size": 50,
        "model.sizes": [784, 32, 10],
        "optim.lr": 0.05,
        "train.epochs": MIA_EPOCHS,
        "train.engine": ENGINE,
        "train.threads": 1,
    },
)
small = prepare_data(mia_config.data, mia_config.train.seed)
members, members_y = small.X_train, small.y_train
others, others_y = small.X_test[: len(members)], small.y_test[: len(members)]  # never trained on


def example_losses(trainer: Trainer, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cross-entropy of each example under the trained model (what the attacker computes)."""
    z = trainer.predict(X).astype(np.float64)
    z -= z.max(1, keepdims=True)
    return np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]


def attack(member_loss: np.ndarray, other_loss: np.ndarray) -> dict[str, float]:
    """The loss-threshold attack, all thresholds at once: AUC = P(member loss < other loss)
    (ties count half), and the advantage max(TPR - FPR) over thresholds."""
    d = other_loss[None, :] - member_loss[:, None]  # (members, others)
    auc = float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)
    thresholds = np.unique(np.concatenate([member_loss, other_loss]))
    tpr = (member_loss[None, :] <= thresholds[:, None]).mean(1)
    fpr = (other_loss[None, :] <= thresholds[:, None]).mean(1)
    return {"auc": auc, "advantage": float((tpr - fpr).max()), "tpr": tpr, "fpr": fpr}


from gradschool.trust.dp import fit_for  # the plain loop, or the loop with DP-SGD plugged in


def mia_run(config, label: str) -> dict:
    trainer = fit_for(config)(config, data=small, console=False)
    m_loss, o_loss = (
        example_losses(trainer, members, members_y),
        example_losses(trainer, others, others_y),
    )
    result = attack(m_loss, o_loss)
    result.update(
        label=label,
        train_acc=float((trainer.predict(members).argmax(1) == members_y).mean()),
        test_acc=trainer.state.history[-1]["test_acc"],
        epsilon=trainer.state.history[-1].get("epsilon"),
        member_loss=m_loss,
        other_loss=o_loss,
        trainer=trainer,
    )
    return result


overfit = mia_run(mia_config, t("no DP", "不加 DP"))
chance = 1.36 * math.sqrt(2 / len(members))
assert round(chance, 3) == 0.086  # as the text above quotes
print(
    t(f"trained on {len(members)} images for {MIA_EPOCHS} epochs:", f"在 {len(members)} 张图片上训练 {MIA_EPOCHS} 轮："),
    t(f"training accuracy {overfit['train_acc']:.1%}, test accuracy {overfit['test_acc']:.1%}",
      f"训练集准确率 {overfit['train_acc']:.1%}，测试集准确率 {overfit['test_acc']:.1%}"),
)  # fmt: skip
print(
    t("mean loss: members", "平均损失：成员"),
    f"{overfit['member_loss'].mean():.4f},",
    t("non-members", "非成员"),
    f"{overfit['other_loss'].mean():.4f}",
)
print(
    t("attack: AUC", "攻击：AUC"),
    f"{overfit['auc']:.3f}",
    t("(chance 0.5), advantage", "（瞎猜为 0.5），优势"),
    f"{overfit['advantage']:.3f}",
    t(
        f"(chance level at this sample size: about {chance:.3f})",
        f"（这个样本量下的碰巧水平：约 {chance:.3f}）",
    ),
)
assert overfit["train_acc"] == 1.0 and overfit["auc"] > 0.6 and overfit["advantage"] > chance

fig, (ax_h, ax_roc) = plt.subplots(1, 2, figsize=(10.5, 3.6))
bins = np.logspace(-8, 2, 41)  # losses below 1e-8 are counted in the first bin
ax_h.hist(
    np.maximum(overfit["member_loss"], 1e-8),
    bins,
    alpha=0.6,
    label=t("members (trained on)", "成员（训练过）"),
)
ax_h.hist(
    np.maximum(overfit["other_loss"], 1e-8),
    bins,
    alpha=0.6,
    label=t("non-members (test images)", "非成员（测试图片）"),
)
ax_h.set(xscale="log", xlabel=t("loss of the example (log scale)", "样本的损失（对数刻度）"), ylabel=t("examples", "样本数"),
         title=t("The model's loss gives its training set away", "模型的损失暴露了它的训练集"))  # fmt: skip
ax_h.legend(fontsize=8)
ax_roc.plot(overfit["fpr"], overfit["tpr"], label=f"AUC {overfit['auc']:.2f}")
ax_roc.plot([0, 1], [0, 1], "k:", lw=1, label=t("coin toss", "抛硬币"))
ax_roc.set(xlabel=t("false-positive rate (non-members called members)", "假阳性率（非成员被判为成员）"),
           ylabel=t("true-positive rate", "真阳性率"),
           title=t("The attack at every threshold (ROC)", "所有阈值下的攻击效果（ROC 曲线）"))  # fmt: skip
ax_roc.legend(fontsize=8)
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# The model has learned its 500 images by heart, and the attack tells them from the test images
# far better than chance. This model is small and its data are digits, but the mechanism is
# general: large language models have been shown to reproduce training text word for word,
# names and phone numbers included (Carlini et al. 2021). "Needs a great deal of data" is only
# half of the source's privacy challenge; the other half is that a model *is* a function of its
# data, and can be questioned about it.
#
# ### 3.2 DP-SGD: bound what any one example can do
#
# **Differential privacy** (Dwork et al. 2006) makes the promise precise. A training algorithm
# $M$ is $(\varepsilon, \delta)$-differentially private if for any two data sets $D, D'$ that
# differ in one example, and any set $S$ of outcomes,
#
# $$
# P[M(D) \in S] \le e^{\varepsilon}\, P[M(D') \in S] + \delta .
# $$
#
# Whatever the attacker does with the model, it sees almost the same distribution of models
# with or without your example. For membership this gives a hard limit: a test that calls
# "member" with true-positive rate TPR and false-positive rate FPR must satisfy
# $\text{TPR} \le e^\varepsilon \text{FPR} + \delta$ and $1 - \text{FPR} \le e^\varepsilon (1 - \text{TPR}) + \delta$
# (Kairouz et al. 2015); the two lines meet where the advantage is largest:
#
# $$
# \text{TPR} - \text{FPR} \le \frac{e^{\varepsilon} - 1 + 2\delta}{e^{\varepsilon} + 1} .
# $$
#
# **DP-SGD** (Abadi et al. 2016) makes training private by changing one step. Each example $i$
# of the batch $\mathcal{B}_t$ (drawn with probability $q$ per example: Poisson sampling) gets
# its own gradient $g_i = \nabla_\theta \ell(x_i, y_i; \theta)$; then
#
# $$
# \bar g_i = g_i \cdot \min\!\left(1, \frac{C}{\lVert g_i \rVert_2}\right)
# \qquad \text{(clip each example's gradient to norm } C\text{)}
# $$
#
# $$
# \tilde g = \frac{1}{qN}\left(\sum_{i \in \mathcal{B}_t} \bar g_i + \mathcal{N}(0, \sigma^2 C^2 I)\right),
# \qquad \theta \leftarrow \theta - \eta\, \tilde g
# \qquad \text{(add Gaussian noise, then the usual step)}
# $$
#
# Clipping bounds how far any one example can move the sum (its *sensitivity* is $C$); the
# noise, $\sigma$ times that bound, hides whether it was there at all. $\sigma$ is the **noise
# multiplier**. How much privacy $T$ such steps spend is the job of the **accountant**
# (`gradschool/trust/accountant.py`): it computes the Rényi divergence of one sampled Gaussian
# step (Mironov 2017), adds it over the $T$ steps, and converts the sum to $(\varepsilon, \delta)$
# (Balle et al. 2020) — the same formulas as Opacus's RDP accountant (docs/trust.md).
#
# In gradschool that is the `[dp]` table of a config (`configs/mnist_dp.toml`, or `--dp
# --noise-multiplier 1.0` on the command line). Below, first the two steps by hand on one batch,
# with per-example gradients from `gradschool/trust/dp.py`; then ε as the accountant computes it.

# %% [markdown] tags=["zh"]
# 这个模型把那 500 张图片背得滚瓜烂熟，攻击区分它们和测试图片的能力远高于瞎猜。这个模型很小，数据也只是手写数字，
# 但道理是通用的：已经有研究表明，大语言模型能一字不差地吐出训练文本，连人名和电话号码都在内（Carlini 等 2021）。
# "需要大量数据"只是原文所说隐私挑战的一半；另一半是：模型*本身*就是它所用数据的函数，可以被人拿来盘问。
#
# ### 3.2 DP-SGD：限制任何一个样本的影响
#
# **差分隐私**（differential privacy，Dwork 等 2006）把这个承诺说得很精确。一个训练算法 $M$ 满足
# $(\varepsilon, \delta)$-差分隐私，是指对任意两个只差一个样本的数据集 $D, D'$，以及任意一个结果集合 $S$，都有
#
# $$
# P[M(D) \in S] \le e^{\varepsilon}\, P[M(D') \in S] + \delta
# $$
#
# 不管攻击者拿模型做什么，有没有你这个样本，他看到的模型分布几乎一样。对成员推断来说，这给出了一条硬性上限：
# 一个以真阳性率 TPR、假阳性率 FPR 判断"是成员"的检验，必须满足 $\text{TPR} \le e^\varepsilon \text{FPR} + \delta$
# 以及 $1 - \text{FPR} \le e^\varepsilon (1 - \text{TPR}) + \delta$（Kairouz 等 2015）；两条直线的交点就是优势最大的
# 地方：
#
# $$
# \text{TPR} - \text{FPR} \le \frac{e^{\varepsilon} - 1 + 2\delta}{e^{\varepsilon} + 1}
# $$
#
# **DP-SGD**（Abadi 等 2016）只改训练中的一步，就让训练满足差分隐私。批次 $\mathcal{B}_t$（每个样本以概率 $q$
# 独立入选：泊松采样）里的每个样本 $i$ 各算各的梯度 $g_i = \nabla_\theta \ell(x_i, y_i; \theta)$，然后
#
# $$
# \bar g_i = g_i \cdot \min\!\left(1, \frac{C}{\lVert g_i \rVert_2}\right)
# $$
#
# $$
# \tilde g = \frac{1}{qN}\left(\sum_{i \in \mathcal{B}_t} \bar g_i + \mathcal{N}(0, \sigma^2 C^2 I)\right),
# \qquad \theta \leftarrow \theta - \eta\, \tilde g
# $$
#
# 第一式是逐样本裁剪：把每个样本的梯度范数限制在 $C$ 以内，这样任何一个样本能让梯度之和移动的距离都不超过 $C$
# （即*敏感度*为 $C$）；第二式先加高斯噪声——噪声是这个上限的 $\sigma$ 倍，用来掩盖这个样本到底在不在——
# 再按平常的方式走一步。$\sigma$ 叫
# **噪声乘子**（noise multiplier）。$T$ 步这样的训练花掉多少隐私，由**隐私会计**（accountant，
# `gradschool/trust/accountant.py`）来算：先算一步带采样的高斯机制的 Rényi 散度（Mironov 2017），在 $T$ 步上累加，
# 再换算成 $(\varepsilon, \delta)$（Balle 等 2020）——和 Opacus 的 RDP 会计用的是同一套公式（docs/trust.zh-CN.md）。
#
# 在 gradschool 里，这就是配置文件的 `[dp]` 表（`configs/mnist_dp.toml`，或者命令行上的 `--dp --noise-multiplier 1.0`）。
# 下面先在一个批次上手工走一遍这两步，逐样本梯度来自 `gradschool/trust/dp.py`；再看隐私会计算出的 ε。

# %%
from gradschool.trust import accountant
from gradschool.trust.per_example import per_example_grads

C, SIGMA = 1.0, 1.0
# The first step of a private run of the same MLP: its weights as initialised, 8 examples.
first_step = Trainer(mia_config, data=small, console=False)
model, be = first_step.model, first_step.backend
xb, yb = be.tensor(members[:8]), be.tensor(members_y[:8])  # (8, 1, 28, 28): flattened by the model
grads = [
    be.to_numpy(g).reshape(8, -1) for _, g in per_example_grads(model, be.F.cross_entropy, xb, yb)
]
g = np.concatenate(grads, axis=1).astype(np.float64)  # (8, 25,450): one row per example
# Check: the mean of the per-example gradients is the ordinary batch gradient.
for p in model.parameters():
    p.grad = None
be.F.cross_entropy(model(xb), yb).backward()
ordinary = np.concatenate([be.to_numpy(p.grad).ravel() for p in model.parameters()])
assert np.allclose(g.mean(0), ordinary, atol=1e-6), "per-example gradients"
for p in model.parameters():
    p.grad = None

norms = np.linalg.norm(g, axis=1)
clipped = g * np.minimum(1.0, C / (norms + 1e-6))[:, None]  # step 1 (Opacus's 1e-6)
noisy = clipped.sum(0) + np.random.default_rng(0).normal(0.0, SIGMA * C, g.shape[1])  # step 2
print(
    t(
        "per-example gradients: mean = the ordinary batch gradient (checked)",
        "逐样本梯度：平均值 = 普通的批次梯度（已核对）",
    )
)
print(t("norm before clipping:", "裁剪前的范数："), np.round(norms, 3))
print(t("norm after clipping: ", "裁剪后的范数： "), np.round(np.linalg.norm(clipped, axis=1), 3))
signal, noise_norm = np.linalg.norm(clipped.sum(0)), np.linalg.norm(noisy - clipped.sum(0))
print(
    t(
        f"sum of the clipped gradients: norm {signal:.2f} (at most {len(g)} x C); the noise on {g.shape[1]:,} coordinates: norm {noise_norm:.1f} (about σC√d = {SIGMA * C * math.sqrt(g.shape[1]):.1f})",
        f"裁剪后梯度之和：范数 {signal:.2f}（最多 {len(g)} x C）；{g.shape[1]:,} 个坐标上的噪声：范数 {noise_norm:.1f}（约为 σC√d = {SIGMA * C * math.sqrt(g.shape[1]):.1f}）",
    )
)
assert np.all(np.linalg.norm(clipped, axis=1) <= C + 1e-9)

# The accountant: epsilon after T steps at sampling rate q, for a few noise multipliers.
N_DP = 5000 if QUICK else 10_000  # training images of the privacy-accuracy runs below
DP_BATCH, DP_EPOCHS = 250, (3 if QUICK else 10)
q = DP_BATCH / N_DP
steps_axis = np.unique(np.linspace(1, DP_EPOCHS * N_DP // DP_BATCH, 25).astype(int))
fig, ax = plt.subplots(figsize=(7, 3.4))
orders = accountant.DEFAULT_ORDERS
for sigma in (0.7, 1.0, 2.0):
    one_step = accountant.compute_rdp(q, sigma, 1, orders)  # Rényi DP of one step, per order
    # Composition: the RDP of T steps is T times that of one; then convert to (ε, δ).
    eps_curve = [accountant.rdp_to_epsilon(orders, s * one_step, 1e-5)[0] for s in steps_axis]
    assert abs(eps_curve[-1] - accountant.epsilon(sigma, q, int(steps_axis[-1]), 1e-5)) < 1e-9
    ax.plot(steps_axis, eps_curve, label=f"σ = {sigma}")
ax.set(xlabel=t("steps", "步数"), ylabel="ε (δ = 1e-5)", yscale="log",
       title=t(f"Privacy spent as training goes on (q = {q:g})", f"隐私随训练步数的消耗（q = {q:g}）"))  # fmt: skip
ax.legend()
show()
print(
    t("the noise multiplier for ε = 1 over this run:", "整个训练只花 ε = 1 所需的噪声乘子："),
    f"σ = {accountant.noise_multiplier_for(1.0, 1e-5, q, DP_EPOCHS * N_DP // DP_BATCH):.3f}",
)

# %% [markdown] tags=["en"]
# Clipping did its job: no example's gradient is longer than $C$ any more. And look at the noise:
# its norm is about $\sigma C \sqrt{d}$ over the model's $d$ weights, hundreds of times the sum of
# eight clipped gradients. DP-SGD works only because the batch is large (the clipped gradients
# add up when they agree, the noise does not grow with the batch) and the steps are many (the
# noise averages out along the way). The accountant's curves show the other side of the
# bargain: every step spends privacy, more noise spends it more slowly, and ε grows with the
# number of steps.
#
# ### 3.3 The price: privacy against accuracy, measured
#
# Two experiments, both through the one training loop with the `[dp]` settings of a config:
#
# 1. **The trade-off.** The same MLP trained on a larger set with DP-SGD at several noise
#    multipliers (clipping norm $C = 1$, expected batch 250, δ = 10⁻⁵), and once without DP; for
#    each run, the ε the accountant certifies and the test accuracy.
# 2. **The attack under DP.** The overfit setting of 3.1 (500 images, the same epochs), trained
#    again with DP-SGD at several noise multipliers, and attacked again.
#
# The bundled `configs/mnist_dp.toml` is the full-size recipe (a small tanh CNN on all 60,000
# MNIST images, 40 epochs); docs/trust.md reports it at 98.10% test accuracy for ε = 3. The runs
# here are smaller so that the whole curve fits in a lecture.

# %% [markdown] tags=["zh"]
# 裁剪起作用了：现在没有哪个样本的梯度长度超过 $C$。再看噪声：在模型的 $d$ 个权重上，它的范数约为
# $\sigma C \sqrt{d}$，是八个裁剪后梯度之和的好几百倍。DP-SGD 之所以还能训练，全靠批次够大（方向一致的裁剪梯度会
# 叠加起来，噪声却不随批次变大）、步数够多（噪声在一步步训练中相互抵消）。隐私会计的曲线则是这笔交易的另一面：
# 每一步都要花掉隐私，噪声越大花得越慢，ε 随步数增长。
#
# ### 3.3 代价：隐私和准确率，实测的取舍
#
# 两个实验，都用同一个训练循环，加上配置里的 `[dp]` 设置：
#
# 1. **取舍曲线**：同一个 MLP，在更大的数据集上用 DP-SGD 训练，取几个不同的噪声乘子（裁剪范数 $C = 1$，期望批量
#    250，δ = 10⁻⁵），再不加 DP 训练一次；每次都记下隐私会计给出的 ε 和测试准确率。
# 2. **DP 下的攻击**：3.1 节那个过拟合的设置（500 张图片，同样的轮数），改用 DP-SGD、取几个噪声乘子重新训练，
#    再攻击一遍。
#
# 随包附带的 `configs/mnist_dp.toml` 是完整规模的配方（一个小型 tanh CNN，用全部 6 万张 MNIST 训练 40 轮）；
# docs/trust.zh-CN.md 报告它在 ε = 3 时测试准确率 98.10%。这里的训练规模小一些，好让整条曲线能在一讲里跑完。

# %%
SIGMAS = [0.7, 1.5, 3.0] if QUICK else [0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0]
tradeoff_config = with_updates(
    load_config("seed_mlp"),
    {
        "data.train_subset": None if N_DP >= 10_000 else N_DP,
        "data.val_fraction": 0.0,  # every training image is private data; the test set is not
        "data.batch_size": DP_BATCH,
        "model.sizes": [784, 32, 10],
        "optim.lr": 0.1,
        "train.epochs": DP_EPOCHS,
        "train.engine": ENGINE,
        "train.threads": 1,
    },
)
tradeoff_data = prepare_data(tradeoff_config.data, tradeoff_config.train.seed)
private = {"dp.enabled": True, "dp.max_grad_norm": 1.0, "dp.delta": 1e-5}
curve = []
print(f"{'σ':>6}{'ε':>9}{t('test accuracy', '测试准确率'):>16}{t('time', '用时'):>9}")
for sigma in [None, *SIGMAS]:
    change = {} if sigma is None else {**private, "dp.noise_multiplier": sigma}
    t0 = time.perf_counter()
    config = with_updates(tradeoff_config, change)
    # fit_for: the plain loop, or the loop with DP-SGD plugged in (what `gradschool train` picks)
    run = fit_for(config)(config, data=tradeoff_data, console=False)
    seconds = time.perf_counter() - t0
    last = run.state.history[-1]
    eps = last.get("epsilon") if sigma is not None else math.inf
    if sigma is not None:  # the loop's ε is the accountant's, for the steps it took
        rate = DP_BATCH / len(tradeoff_data.y_train)
        assert abs(eps - accountant.epsilon(sigma, rate, run.state.step, 1e-5)) < 1e-9
    curve.append((sigma, eps, last["test_acc"]))
    print(
        f"{'—' if sigma is None else sigma:>6}{eps:>9.2f}{100 * last['test_acc']:>15.2f}%{seconds:>8.1f}s"
    )
no_dp_acc = curve[0][2]
assert no_dp_acc > curve[-1][2] + 0.02, "the most private run costs accuracy"
assert all(a[1] > b[1] for a, b in zip(curve[1:], curve[2:])), "more noise, smaller epsilon"

MIA_SIGMAS = [1.0, 2.0] if QUICK else [0.5, 1.0, 2.0, 4.0]
attacked = [overfit]
for sigma in MIA_SIGMAS:
    dp_config = with_updates(mia_config, {**private, "dp.noise_multiplier": sigma})
    attacked.append(mia_run(dp_config, f"σ = {sigma}"))
print()
print(
    f"{'':<10}{'ε':>9}{t('train acc', '训练准确率'):>12}{t('test acc', '测试准确率'):>12}"
    f"{'AUC':>8}{t('advantage', '优势'):>11}{t('DP bound', 'DP 上限'):>11}"
)
for r in attacked:
    eps = r["epsilon"] if r["epsilon"] is not None else math.inf
    bound = (math.exp(eps) - 1 + 2e-5) / (math.exp(eps) + 1) if eps < 700 else 1.0
    print(
        f"{r['label']:<10}{eps:>9.2f}{100 * r['train_acc']:>11.1f}%{100 * r['test_acc']:>11.1f}%"
        f"{r['auc']:>8.3f}{r['advantage']:>11.3f}{bound:>11.3f}"
    )
    assert r["advantage"] <= bound + 1e-12  # the theorem, checked on this attack
assert attacked[-1]["auc"] < overfit["auc"] and attacked[-1]["advantage"] < overfit["advantage"]

fig, (ax_acc, ax_adv) = plt.subplots(1, 2, figsize=(11, 3.8))
eps_values = [c[1] for c in curve[1:]]
ax_acc.plot(eps_values, [100 * c[2] for c in curve[1:]], "o-", label=t("DP-SGD", "DP-SGD"))
for sigma, eps, acc in curve[1:]:
    ax_acc.annotate(
        f"σ={sigma}", (eps, 100 * acc), textcoords="offset points", xytext=(4, -10), fontsize=8
    )
ax_acc.axhline(
    100 * no_dp_acc, color="k", ls="--", lw=1, label=t("without DP (ε = ∞)", "不加 DP（ε = ∞）")
)
ax_acc.set(xscale="log", xlabel=t("ε spent (δ = 1e-5), smaller = more private", "花掉的 ε（δ = 1e-5），越小越私密"),
           ylabel=t("test accuracy (%)", "测试准确率（%）"),
           title=t(f"Privacy costs accuracy ({len(tradeoff_data.y_train):,} images, {DP_EPOCHS} epochs)",
                   f"隐私要拿准确率来换（{len(tradeoff_data.y_train):,} 张图片，{DP_EPOCHS} 轮）"))  # fmt: skip
ax_acc.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
ax_acc.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
ax_acc.margins(x=0.15, y=0.15)
ax_acc.legend(fontsize=8)
grid_eps = np.logspace(-1, 2, 200)
ax_adv.plot(grid_eps, (np.exp(grid_eps) - 1 + 2e-5) / (np.exp(grid_eps) + 1), "k:", lw=1,
            label=t("the most any attack can reach under (ε, δ)-DP", "(ε, δ)-DP 下任何攻击的上限"))  # fmt: skip
ax_adv.plot([r["epsilon"] for r in attacked[1:]], [r["advantage"] for r in attacked[1:]], "o-",
            label=t("the loss attack on DP-SGD models", "损失攻击，DP-SGD 训练的模型"))  # fmt: skip
ax_adv.axhline(
    overfit["advantage"],
    color="C3",
    ls="--",
    lw=1,
    label=t("the loss attack without DP", "损失攻击，不加 DP"),
)
ax_adv.axhline(
    chance,
    color="grey",
    ls="-.",
    lw=1,
    label=t("chance level (500 + 500 examples)", "碰巧水平（500 + 500 个样本）"),
)
ax_adv.set(xscale="log", xlabel="ε", ylabel=t("attack advantage (TPR − FPR)", "攻击优势（TPR − FPR）"),
           ylim=(0, 1.45), title=t("DP-SGD blunts the membership attack", "DP-SGD 削弱了成员推断攻击"))  # fmt: skip
ax_adv.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
ax_adv.legend(fontsize=7, loc="upper left")
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# Read the two tables together. **Accuracy**: every private run is below the run without DP, and
# the most private one (smallest ε) is lowest; between neighbouring noise levels the differences
# can be within the noise of a single run, so read the trend, not each step. **The attack**: with
# DP-SGD its AUC and advantage fall toward chance as ε shrinks. Two honest remarks. The
# guarantee (the DP bound column, and the dotted line) is far above what this attack achieves:
# it holds against *every* attack, including ones much stronger than a loss threshold, and at
# the ε values of the overfit runs it promises little. And privacy is expensive on 500
# examples: the clipped, noised gradient of a small data set says little, so the model learns
# little. With more data the same noise costs less accuracy (the trade-off runs use ten or twenty
# times as many images, and the full-size `mnist_dp` recipe loses almost nothing at ε = 3) —
# which is why DP-SGD suits exactly the large data sets whose privacy the source worries about.
#
# ## Part 4. The frameworks the source names
#
# The source recommends "TensorFlow、PyTorch、Keras等" and prints its example in PyTorch. The three
# are not alternatives of the same kind:
#
# - **PyTorch** (Meta, 2016): tensors with automatic differentiation, layers (`torch.nn`) and
#   optimizers; you write the training loop yourself (the source's example does). gradschool's
#   NumPy engine copies its interface.
# - **TensorFlow** (Google, 2015): the same kind of library, with its own tensors and
#   differentiation (`tf.GradientTape`); since TensorFlow 2 its high-level interface is Keras.
# - **Keras** (2015): a high-level interface — `Sequential` models, `compile`, `fit` — that does not
#   compute anything itself. Keras 3 (2023) runs on a *backend* of your choice: TensorFlow, JAX or
#   PyTorch.
#
# So the source's MLP can be written in Keras once and run on PyTorch here (`KERAS_BACKEND=torch`;
# TensorFlow is a 600 MB install this lecture does without). Below, the same recipe — 784-128-64-10,
# ReLU, cross-entropy, SGD with learning rate 0.01 and momentum 0.9, batch 64, the same training
# images — in three ways: gradschool on its NumPy engine, gradschool on PyTorch, and Keras on
# PyTorch. Keras is an optional extra (`pip install 'gradschool[keras]'`); without it, the Keras
# column is skipped, saying so. What you write in each:
#
# | | plain PyTorch (lecture 6) | Keras 3 | gradschool |
# | --- | --- | --- | --- |
# | the model | a `nn.Module` class, its `forward` | `keras.Sequential([Dense(128, "relu"), ...])` | `[model] sizes = [784, 128, 64, 10]` |
# | loss and optimizer | `nn.CrossEntropyLoss()`, `optim.SGD(...)` | `model.compile(optimizer=SGD(...), loss=...)` | `[optim] name = "sgd"`, `lr`, `momentum` |
# | the training loop | written by hand (zero_grad, backward, step) | `model.fit(X, y, batch_size=64, epochs=10)` | `gradschool train --config seed_mlp` |
# | data | your `DataLoader` | NumPy arrays | a data-set name (`mnist-mini`) |
# | what you get back | what you printed | a `History` of metrics | a run folder: metrics, checkpoints, plots, report |

# %% [markdown] tags=["zh"]
# 把两张表放在一起看。**准确率**：每一次加了 DP 的训练都比不加的低，最私密（ε 最小）的那次最低；相邻两个噪声水平
# 之间的差别，可能还在单次训练的随机波动之内，所以要看趋势，不要逐项较真。**攻击**：用 DP-SGD 训练后，随着 ε
# 变小，AUC 和优势都在往瞎猜的水平降。有两点要实话实说。第一，理论保证（"DP 上限"那一列和图里的点线）远高于这个
# 攻击实际达到的水平：它要对*所有*攻击都成立，包括比损失阈值强得多的攻击；而在过拟合实验的这些 ε 下，它其实承诺
# 不了多少。第二，在 500 个样本上，隐私非常昂贵：小数据集上裁剪过、加了噪声的梯度，带的信息很少，模型也就学不到
# 多少。数据越多，同样的噪声损失的准确率越少（取舍曲线那组实验用的图片多了十到二十倍；完整规模的 `mnist_dp` 配方
# 在 ε = 3 时几乎没有损失）——所以 DP-SGD 正适合原文所担心的那种大规模数据。
#
# ## 第四部分：原文提到的几个框架
#
# 原文推荐了"TensorFlow、PyTorch、Keras等"，例子用的是 PyTorch。这三者其实不是同一类东西：
#
# - **PyTorch**（Meta，2016）：带自动求导的张量、网络层（`torch.nn`）和优化器；训练循环要自己写（原文的例子就是）。
#   gradschool 的 NumPy 引擎照搬了它的接口。
# - **TensorFlow**（Google，2015）：同类的库，有自己的张量和自动求导（`tf.GradientTape`）；从 TensorFlow 2 开始，
#   它的高层接口就是 Keras。
# - **Keras**（2015）：一套高层接口——`Sequential` 模型、`compile`、`fit`——本身不做计算。Keras 3（2023）可以选择
#   *后端*：TensorFlow、JAX 或 PyTorch。
#
# 所以原文的 MLP 用 Keras 写一遍，就能在这里的 PyTorch 上跑（`KERAS_BACKEND=torch`；TensorFlow 要装 600 MB，这一讲
# 用不着）。下面把同一个配方——784-128-64-10、ReLU、交叉熵、SGD（学习率 0.01、动量 0.9）、批量 64、同一批训练图片——
# 用三种方式跑：gradschool 的 NumPy 引擎、gradschool 的 PyTorch 引擎、跑在 PyTorch 上的 Keras。Keras 是可选依赖
# （`pip install 'gradschool[keras]'`）；没装的话，Keras 那一列会跳过，并说明原因。三种写法各要写些什么：
#
# | | 直接用 PyTorch（第 6 讲） | Keras 3 | gradschool |
# | --- | --- | --- | --- |
# | 模型 | 一个 `nn.Module` 类和它的 `forward` | `keras.Sequential([Dense(128, "relu"), ...])` | `[model] sizes = [784, 128, 64, 10]` |
# | 损失和优化器 | `nn.CrossEntropyLoss()`、`optim.SGD(...)` | `model.compile(optimizer=SGD(...), loss=...)` | `[optim] name = "sgd"`、`lr`、`momentum` |
# | 训练循环 | 自己写（zero_grad、backward、step） | `model.fit(X, y, batch_size=64, epochs=10)` | `gradschool train --config seed_mlp` |
# | 数据 | 自己的 `DataLoader` | NumPy 数组 | 数据集的名字（`mnist-mini`） |
# | 得到什么 | 你自己打印的东西 | 一个记录指标的 `History` | 一个运行目录：指标、检查点、图、报告 |

# %% frameworks: gradschool
FW_EPOCHS = 2 if QUICK else 10
seed_recipe = with_updates(
    load_config("seed_mlp"),
    {"train.epochs": FW_EPOCHS, "train.threads": 1},
)
fw_data = prepare_data(seed_recipe.data, seed_recipe.train.seed)  # the same arrays for all three
fw_results = {}
for engine in ["numpy", "torch"] if HAVE_TORCH else ["numpy"]:
    run = fit(with_updates(seed_recipe, {"train.engine": engine}), data=fw_data, console=False)
    fw_results[f"gradschool, {engine}"] = {
        "per_epoch": run.state.train_time / FW_EPOCHS,
        "test_acc": run.state.history[-1]["test_acc"],
        "loss": run.state.history[-1]["train_loss"],
        "weights": count_parameters(run.model),
    }
    print(f"gradschool, {engine}: " + t("done", "完成"))


# %% frameworks: keras
def torch_state() -> tuple:
    """What another section could notice: torch's random state, default dtype, threads and
    autograd mode, and NumPy's global random state."""
    return (
        torch.get_rng_state().numpy().tobytes(),
        torch.get_default_dtype(),
        torch.get_num_threads(),
        torch.is_grad_enabled(),
        np.random.get_state()[1].tobytes(),
    )


keras = None
if not HAVE_TORCH:
    print(
        t(
            "Keras skipped: it would run on PyTorch, which is not installed.",
            "跳过 Keras：它要跑在 PyTorch 上，而这里没有安装 PyTorch。",
        )
    )
elif (
    "keras" in sys.modules
    and sys.modules["keras"] is not None
    and sys.modules["keras"].backend.backend() != "torch"
):
    print(t(f"Keras skipped: it was already imported with the {sys.modules['keras'].backend.backend()} backend in this process.",
            f"跳过 Keras：这个进程里已经以 {sys.modules['keras'].backend.backend()} 后端导入过它了。"))  # fmt: skip
else:
    before = torch_state()
    previous = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "torch"  # NOTE: read once, when keras is first imported
    try:
        import keras
    except ImportError:
        print(
            t(
                "Keras is not installed, so its column is skipped. Install it with: pip install 'gradschool[keras]' (Keras 3, run here on its PyTorch backend).",
                "没有安装 Keras，所以跳过它那一列。安装方法：pip install 'gradschool[keras]'（Keras 3，在这里用它的 PyTorch 后端）。",
            )
        )
    finally:
        if previous is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = previous

if keras is not None:
    X_flat = fw_data.X_train.reshape(len(fw_data.X_train), -1)
    X_test_flat = fw_data.X_test.reshape(len(fw_data.X_test), -1)

    class EpochTimes(keras.callbacks.Callback):
        """Wall time of each epoch of model.fit (training only: no validation here)."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None) -> None:
            self.seconds.append(time.perf_counter() - self._t0)

    # NOTE: keras.utils.set_random_seed seeds Python's, NumPy's and torch's global generators;
    # they are saved here and put back after, so no other section sees a different state.
    saved_python, saved_numpy = __import__("random").getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        keras.utils.set_random_seed(0)
        net_k = keras.Sequential(
            [
                keras.Input(shape=(784,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10),  # logits; the loss applies the softmax
            ]
        )
        net_k.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        timer = EpochTimes()
        history = net_k.fit(X_flat, fw_data.y_train, batch_size=64, epochs=FW_EPOCHS, shuffle=True,
                            verbose=0, callbacks=[timer])  # fmt: skip
        _, keras_acc = net_k.evaluate(X_test_flat, fw_data.y_test, batch_size=1000, verbose=0)
    __import__("random").setstate(saved_python)
    np.random.set_state(saved_numpy)
    assert torch_state() == before, "Keras changed torch's (or NumPy's) global state"
    print(
        t(
            f"Keras {keras.__version__} on the {keras.backend.backend()} backend: done; torch's global state is as it was",
            f"Keras {keras.__version__}（{keras.backend.backend()} 后端）：完成；torch 的全局状态原样未动",
        )
    )
    fw_results[f"Keras {keras.__version__}, torch"] = {
        # NOTE: the first epoch includes Keras building its training function: the mean of the
        # others is the steady speed (with one epoch, that one is all there is).
        "per_epoch": float(np.mean(timer.seconds[1:] or timer.seconds)),
        "test_acc": float(keras_acc),
        "loss": float(history.history["loss"][-1]),
        "weights": int(net_k.count_params()),
    }

# %% frameworks: side by side
print(
    f"{t('framework, engine', '框架，引擎'):<26}{t('weights', '权重'):>9}{t('s / epoch', '秒/轮'):>11}"
    f"{t('final loss', '最终损失'):>12}{t('test acc', '测试准确率'):>11}"
)
for name, r in fw_results.items():
    print(
        f"{name:<26}{r['weights']:>9,}{r['per_epoch']:>11.3f}{r['loss']:>12.3f}{100 * r['test_acc']:>10.2f}%"
    )
assert len({r["weights"] for r in fw_results.values()}) == 1, "the same network everywhere"
assert all(r["test_acc"] > 0.85 for r in fw_results.values())
print(
    t(
        f"({FW_EPOCHS} epochs of {len(fw_data.y_train):,} images, batch 64; seconds per epoch of training, one thread, measured in this run)",
        f"（{len(fw_data.y_train):,} 张图片训练 {FW_EPOCHS} 轮，批量 64；每轮的训练秒数，单线程，本次运行实测）",
    )
)
fig, (ax_t, ax_a) = plt.subplots(1, 2, figsize=(10, 3.2))
names = list(fw_results)
ax_t.barh(
    names, [fw_results[n]["per_epoch"] for n in names], color=["C0", "C1", "C2"][: len(names)]
)
ax_t.set(xlabel=t("seconds per epoch", "每轮秒数"), title=t("Speed", "速度"))
ax_a.barh(
    names, [100 * fw_results[n]["test_acc"] for n in names], color=["C0", "C1", "C2"][: len(names)]
)
ax_a.set(
    xlabel=t("test accuracy (%)", "测试准确率（%）"), xlim=(80, 100), title=t("Accuracy", "准确率")
)
ax_a.set_yticks([])
fig.suptitle(t("The source's MLP, three ways", "原文的 MLP，三种跑法"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# Same network, same data, same recipe, and the same accuracy to within the spread of random
# initialisations (Keras initialises `Dense` layers with Glorot's rule, PyTorch `Linear` with
# Kaiming's, and draws its own data order). The differences are in what you write and what it
# costs per step: for a model this small, a step is a few hundred microseconds of arithmetic, and
# the time per epoch mostly measures each framework's own overhead around it — Python calls,
# bookkeeping, callbacks — not the speed of the arithmetic, which PyTorch does in all but the
# first row. For large models the arithmetic dominates and the frameworks converge; choose by
# what you need to write and read. (The figures above are this run's, on one shared CPU core.)
#
# ## Summary
#
# - **Compute.** A matrix product costs $2mnk$ FLOPs; a training step about three forward passes
#   (a little less when the first layer dominates). Counted exactly, checked against PyTorch's
#   counter; measured, the rate depends on the shapes. GPUs win by doing such products in 16
#   bits on tensor cores; bfloat16 keeps float32's range with 7 mantissa bits, so products are
#   done in 16 bits and weights updated in 32. Data parallelism splits each batch over processes
#   and averages gradients: two processes at batch 32 *are* one at batch 64, loss for loss. At
#   GPT-3's scale, $6ND = 3.15 \times 10^{23}$ FLOPs at a sustained 24.6 TFLOP/s per V100 is about
#   148,000 GPU-days and 1,290 MWh, as Patterson et al. reported.
# - **Interpretability.** Saliency, SmoothGrad, integrated gradients and occlusion score each
#   input feature; integrated gradients are complete (they add up to $f(x) - f(x')$, checked).
#   But a map that looks like the object proves nothing: the randomisation test shows integrated
#   gradients (and gradient × input, and occlusion) drawing the digit even for a network at chance.
#   With a rule planted in the data, integrated gradients on the GPT's embeddings find the
#   character that decides in most prompts, and only in the trained model; where they do not,
#   they show a cue that steers the attention — influence is not the same as reason.
# - **Privacy.** An overfit model's losses tell its training examples from others (AUC well
#   above 0.5). DP-SGD clips each example's gradient to $C$ and adds $\mathcal{N}(0, \sigma^2 C^2)$
#   noise; the RDP accountant turns $\sigma$, the sampling rate and the steps into $(\varepsilon,
#   \delta)$. Measured: more privacy costs accuracy, and the attack's advantage falls toward
#   chance — under a bound the theory guarantees for every attack.
# - **Frameworks.** PyTorch and TensorFlow compute; Keras is an interface over them (Keras 3
#   over PyTorch here). The source's MLP trains to the same accuracy in Keras, in gradschool's
#   NumPy engine and on PyTorch.

# %% [markdown] tags=["zh"]
# 同样的网络、同样的数据、同样的配方，准确率也一样，差别在不同随机初始化的波动范围之内（Keras 的 `Dense` 层用
# Glorot 规则初始化，PyTorch 的 `Linear` 用 Kaiming 规则，数据顺序也是 Keras 自己抽的）。差别在于要写的东西，以及
# 每一步的开销：模型这么小，一步的运算只要几百微秒，每轮的时间量的主要是各个框架围绕运算的那些额外开销——Python
# 调用、记账、回调——而不是运算本身的速度；除了第一行，运算其实都是 PyTorch 在做。模型一大，运算占了大头，各框架的
# 速度就趋于一致；选哪个，看你要写什么、读什么。（上面的数字是这次运行在一个共享 CPU 核上测的。）
#
# ## 小结
#
# - **算力**：一次矩阵乘法要 $2mnk$ 次浮点运算；一个训练步约等于三次前向（第一层占大头时略少）。精确地数出来，和
#   PyTorch 的计数器核对一致；实际测速，速度取决于矩阵的形状。GPU 赢在用张量核心以 16 位做这种乘法；bfloat16
#   保留了 float32 的范围、只有 7 位尾数，所以乘法用 16 位做，权重在 32 位里更新。数据并行把每个批次分到几个进程上、
#   再平均梯度：两个进程各用批量 32，*就是*一个进程用批量 64，损失一一相同。到了 GPT-3 的规模，$6ND = 3.15 \times
#   10^{23}$ 次浮点运算，按每块 V100 持续 24.6 TFLOP/s 算，约 148,000 GPU·天、1,290 兆瓦时，和 Patterson 等的报告一致。
# - **可解释性**：显著图、SmoothGrad、积分梯度和遮挡给每个输入特征打分；积分梯度满足完备性（加起来等于
#   $f(x) - f(x')$，已核对）。但长得像物体的归因图什么也证明不了：随机化检验表明，即使网络只有瞎猜的水平，积分梯度
#   （以及梯度 × 输入、遮挡）照样画出那个数字。在数据里埋一条规则，GPT 嵌入上的积分梯度在大多数开头上都能找到起决定作用
#   的那个字符，而且只有训练好的模型才这样；找不到的时候，它指出的是一个引导注意力的线索——有影响不等于是原因。
# - **隐私**：过拟合模型的损失能把它的训练样本和其他样本区分开（AUC 明显高于 0.5）。DP-SGD 把每个样本的梯度裁剪到
#   $C$，再加 $\mathcal{N}(0, \sigma^2 C^2)$ 的噪声；RDP 隐私会计把 $\sigma$、采样率和步数换算成 $(\varepsilon,
#   \delta)$。实测结果：隐私越强，准确率越低，攻击的优势也降向瞎猜的水平——而且始终在理论对任何攻击都保证的上限之下。
# - **框架**：PyTorch 和 TensorFlow 负责计算；Keras 是架在它们之上的接口（这里是 Keras 3 跑在 PyTorch 上）。原文的
#   MLP 用 Keras、用 gradschool 的 NumPy 引擎、用 PyTorch 训练，准确率都一样。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 12 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 12`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 12 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 12` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import numpy as np

from gradschool import engine as E
from gradschool.course.exercises import Formula, Number, Open, exercise
from gradschool.models import mlp
from gradschool.trust import accountant

exercise(
    1,
    en="""
        Count the FLOPs of one training step (forward and backward) of the seed's MLP at batch
        64, with the rules of 1.1. Check with `count_flops` (and `FlopCounterMode`).
    """,
    zh="""
        按 1.1 节的规则，数一数原文的 MLP 在批量 64 时一个训练步（前向加反向）的浮点运算次数。用 `count_flops`
        （以及 `FlopCounterMode`）核对。
    """,
    check=Number(
        lambda: count_flops(
            mlp(E.nn, [784, 128, 64, 10]), E.tensor(np.zeros((64, 784), np.float32))
        )[2],
        rel=0,
    ),
    hints=[
        (
            "A product $(B, k) @ (k, n)$ is $2Bkn$ FLOPs. The forward pass has three of them: 784→128, 128→64, 64→10.",
            "一次 $(B, k) @ (k, n)$ 的乘法是 $2Bkn$ 次浮点运算。前向有三次：784→128、128→64、64→10。",
        ),
        (
            "The backward pass computes $\\partial L/\\partial W$ for every layer (the forward's size again) and $\\partial L/\\partial X$ for every layer but the first (nothing below it needs it).",
            "反向要给每一层算 $\\partial L/\\partial W$（和前向一样大），还要给除第一层以外的每一层算 $\\partial L/\\partial X$（第一层下面没有谁需要它）。",
        ),
    ],
    solution=(
        """
        {{ answer:,.0f }} FLOPs. Forward: $2 \\cdot 64 \\cdot (784 \\cdot 128 + 128 \\cdot 64 + 64 \\cdot 10)$;
        backward: the weight gradients of all three layers (the same again) plus the input
        gradients of layers 2 and 3, $2 \\cdot 64 \\cdot (128 \\cdot 64 + 64 \\cdot 10)$. The step is
        a little over twice the forward pass, not three times: the first layer, which holds
        most of the work, needs no input gradient. `count_flops(mlp(torch.nn, [784, 128, 64, 10]),
        torch.randn(64, 784))[2]` gives the same, and so does torch's `FlopCounterMode` around
        a forward and backward pass (matrix products only).
        """,
        """
        {{ answer:,.0f }} 次浮点运算。前向：$2 \\cdot 64 \\cdot (784 \\cdot 128 + 128 \\cdot 64 + 64 \\cdot 10)$；反向：三层的
        权重梯度（和前向一样多），加上第 2、3 层的输入梯度 $2 \\cdot 64 \\cdot (128 \\cdot 64 + 64 \\cdot 10)$。一步只比前向的
        两倍多一点，而不是三倍：计算量最大的第一层不需要输入梯度。`count_flops(mlp(torch.nn, [784, 128, 64, 10]),
        torch.randn(64, 784))[2]` 得到同样的数；把 torch 的 `FlopCounterMode` 套在一次前向加反向外面也一样（只数矩阵乘法）。
        """,
    ),
    setup=("count_flops",),
)

# %% tags=["exercise"]


def smallest_change(weight: float) -> float:
    """The smallest |update| that changes a bfloat16 weight (rounded with the lecture's
    to_bf16): half the gap to the nearer neighbour, found by bisection on each side. (It is
    an infimum: an update of exactly half a gap is a tie, which rounds back to an even w.)"""
    w = np.float32(weight)
    sizes = []
    for sign in (-1.0, 1.0):
        low, high = 0.0, float(w)  # an update of |w| always changes w
        for _ in range(80):
            mid = (low + high) / 2
            changed = to_bf16(np.float32(w + sign * mid)) != w
            low, high = (low, mid) if changed else (mid, high)
        neighbour = float(to_bf16(np.float32(w + sign * high)))
        sizes.append(abs(neighbour - float(w)) / 2)
    return min(sizes)


def bf16_answers() -> list[float]:
    after = float(to_bf16(np.float32(1.0) - np.float32(0.003)))
    return [after, smallest_change(1.0), smallest_change(256.0)]


exercise(
    2,
    en="""
        A bfloat16 weight equal to 1.0 receives an update of $-0.003$. What is it afterwards?
        What is the smallest update (in absolute value) that changes it, and the smallest that
        changes a weight equal to 256?
    """,
    zh="""
        一个值为 1.0 的 bfloat16 权重收到一次 $-0.003$ 的更新，更新之后它是多少？能让它改变的最小更新（绝对值）是多少？
        值为 256 的权重呢？
    """,
    check=Number(
        bf16_answers,
        rel=1e-3,
        names=[
            ("1.0 - 0.003 in bfloat16", "bfloat16 里的 1.0 - 0.003"),
            ("smallest change of 1.0", "能改变 1.0 的最小更新"),
            ("smallest change of 256", "能改变 256 的最小更新"),
        ],
    ),
    hints=[
        (
            "bfloat16 keeps 7 mantissa bits: between 1 and 2 its numbers are $2^{-7}$ apart, between 0.5 and 1 they are $2^{-8}$ apart. A result is rounded to the nearest of them.",
            "bfloat16 保留 7 位尾数：1 到 2 之间相邻两数相差 $2^{-7}$，0.5 到 1 之间相差 $2^{-8}$。结果会舍入到最近的那个数。",
        ),
        (
            "An update changes w only if it moves w past the midpoint to a neighbour: downwards from 1.0 the neighbour is $2^{-8}$ away, upwards $2^{-7}$. The smallest change is the smaller half-gap (answer that bound; exactly at it a tie rounds back). Three values separated by ';'.",
            "只有越过到相邻数的中点，更新才会改变 w：从 1.0 往下，相邻的数在 $2^{-8}$ 之外，往上在 $2^{-7}$ 之外。最小的改变量就是较小的那个半间隔（回答这个界；恰好等于它时平局会舍回原值）。三个值用分号 ; 隔开。",
        ),
    ],
    solution=(
        """
        `{{ "; ".join(f"{v:.10g}" for v in answer) }}`. $1 - 0.003 = 0.997$ lies between the
        bfloat16 neighbours $1 - 2^{-8} = 0.99609375$ and 1.0, nearer the first (0.00091 away
        against 0.003), so the weight becomes {{ answer[0]:.8f }}: the update is rounded to
        $-2^{-8}$, 30% larger than asked. The smallest change of 1.0 is downwards, past half
        the gap below it: $2^{-9}$ = {{ answer[1]:.9f }} (exactly $2^{-9}$ is a tie and rounds to
        even, back to 1.0; upwards it takes more than $2^{-8}$). For 256 the gaps are 1 below
        and 2 above: more than {{ answer[2]:g }}. An update smaller than that — $\\alpha$ times a
        small gradient, typically — vanishes: that is why mixed precision keeps a float32 copy
        of the weights and updates it, and rounds to bfloat16 only for the products.
        """,
        """
        `{{ "; ".join(f"{v:.10g}" for v in answer) }}`。$1 - 0.003 = 0.997$ 落在 bfloat16 的两个相邻数
        $1 - 2^{-8} = 0.99609375$ 和 1.0 之间，离前者更近（0.00091 对 0.003），所以权重变成 {{ answer[0]:.8f }}：这次更新
        被舍入成了 $-2^{-8}$，比要求的大了 30%。能改变 1.0 的最小更新是往下、越过下方半个间隔：$2^{-9}$ =
        {{ answer[1]:.9f }}（恰好等于 $2^{-9}$ 时是平局，舍入到偶数，又回到 1.0；往上则要超过 $2^{-8}$）。256 下方的间隔是
        1，上方是 2：要超过 {{ answer[2]:g }}。比这更小的更新——通常就是学习率乘一个小梯度——会直接消失：所以混合精度训练
        保留一份 float32 的权重来更新，只在做乘法时舍入成 bfloat16。
        """,
    ),
    setup=("bf16",),
)

# %% tags=["exercise"]


def whole_batch_gradient(g1: float, g2: float) -> float:
    """The mean of 64 per-example gradients whose first 40 average g1 and last 24 average g2
    (each shard a mean plus deviations that sum to zero)."""
    rng = np.random.default_rng(0)
    shards = []
    for mean, n in ((g1, 40), (g2, 24)):
        deviations = rng.normal(size=n)
        shards.append(mean + deviations - deviations.mean())
    return float(np.concatenate(shards).mean())


exercise(
    3,
    en="""
        Two processes get shards of 40 and 24 examples of a batch of 64 (section 1.3 printed
        the error of the plain average). Write the weighted average of their mean gradients
        $g_1, g_2$ that equals the gradient of the whole batch: a formula in `g1` and `g2`.
    """,
    zh="""
        一个 64 个样本的批次分给两个进程，一个 40 个、一个 24 个（1.3 节打印了直接平均的误差）。写出它们的平均梯度
        $g_1, g_2$ 的加权平均，使它等于整个批次的梯度：答案是关于 `g1` 和 `g2` 的公式。
    """,
    check=Formula(
        answer="(40 * g1 + 24 * g2) / 64",
        reference=whole_batch_gradient,
        variables={"g1": (-1.0, 1.0), "g2": (-1.0, 1.0)},
    ),
    hints=[
        (
            "The batch's gradient is the mean of its 64 per-example gradients. What is the *sum* of the first shard's gradients, given their mean $g_1$?",
            "整个批次的梯度是 64 个样本梯度的平均值。已知第一份的平均梯度是 $g_1$，那么它的梯度*之和*是多少？",
        ),
        (
            "Add the two sums and divide by 64: each mean is weighted by its share of the batch, $n_k / B$. The plain $(g_1 + g_2)/2$ is right only for equal shards.",
            "把两份的和加起来再除以 64：每份的平均梯度按它在批次里的占比 $n_k / B$ 加权。直接平均 $(g_1 + g_2)/2$ 只在两份一样大时才对。",
        ),
    ],
    solution=(
        """
        `{{ answer }}`: $g = \\frac{40\\, g_1 + 24\\, g_2}{64}$, each process's mean gradient
        times its share of the batch. DDP averages the processes' gradients with equal
        weights, $(g_1 + g_2)/2$, which is the batch's gradient only when the shards are equal;
        with unequal shards, weight each process's gradient by $n_k/\\bar{n}$ before the
        all-reduce (or make the shards equal, as `DistributedSampler` does by padding). In the
        cell of 1.3, `(40 * g1 + 24 * g2) / 64` against the whole batch's gradient differs by
        rounding only.
        """,
        """
        `{{ answer }}`：$g = \\frac{40\\, g_1 + 24\\, g_2}{64}$，每个进程的平均梯度乘以它在批次里的占比。DDP 对各进程的梯度
        等权平均，$(g_1 + g_2)/2$，只有各份一样大时才等于整个批次的梯度；各份不一样大时，全归约之前要先把每个进程的梯度
        乘上 $n_k/\\bar{n}$（或者让各份一样大，`DistributedSampler` 就是靠补齐做到的）。在 1.3 节的单元里，
        `(40 * g1 + 24 * g2) / 64` 和整个批次的梯度只差舍入误差。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        Chinchilla (Hoffmann et al. 2022) has 70 billion parameters trained on 1.4 trillion
        tokens. With `training_cost`, how many H100-days at 40% of 989 TFLOP/s, and how many
        MWh at 700 W and PUE 1.1?
    """,
    zh="""
        Chinchilla（Hoffmann 等 2022）有 700 亿个参数，用 1.4 万亿个 token 训练。用 `training_cost` 算一算：按 989
        TFLOP/s 的 40% 要多少 H100·天？按 700 W、PUE 1.1 要多少兆瓦时？
    """,
    check=Number(
        lambda: list(training_cost(6 * 70e9 * 1.4e12, 0.4 * 989e12, 700)),
        rel=0.01,
        names=[("H100-days", "H100·天"), ("MWh", "兆瓦时")],
    ),
    hints=[
        (
            "Training compute is about $6ND$ FLOPs (section 1.4): N parameters, D tokens.",
            "训练算力约为 $6ND$ 次浮点运算（1.4 节）：N 是参数个数，D 是 token 数。",
        ),
        (
            '`training_cost(6 * N * D, 0.4 * 989e12, 700)` returns (device-days, MWh); PUE 1.1 is its default. Answer both, days first: `--answer "A; B"`.',
            '`training_cost(6 * N * D, 0.4 * 989e12, 700)` 返回（设备·天，兆瓦时）；PUE 默认就是 1.1。两个都要回答，天数在前：`--answer "A; B"`。',
        ),
    ],
    solution=(
        """
        About {{ answer[0]:,.0f }} H100-days and {{ answer[1]:,.0f }} MWh:
        $C = 6 \\cdot 70 \\cdot 10^9 \\cdot 1.4 \\cdot 10^{12} = 5.88 \\cdot 10^{23}$ FLOPs, about
        1.9 times GPT-3's; at $0.4 \\cdot 989$ TFLOP/s that is $1.49 \\cdot 10^9$ device-seconds,
        and at 700 W times a PUE of 1.1 the energy follows. On 1,024 H100s it would take
        about {{ answer[0] / 1024:.0f }} days. Chinchilla's point was that for the same compute
        a smaller model trained on more tokens (about 20 per parameter) beats a larger one
        trained on fewer.
        """,
        """
        约 {{ answer[0]:,.0f }} 个 H100·天、{{ answer[1]:,.0f }} 兆瓦时：
        $C = 6 \\cdot 70 \\cdot 10^9 \\cdot 1.4 \\cdot 10^{12} = 5.88 \\cdot 10^{23}$ 次浮点运算，约为 GPT-3 的 1.9 倍；按
        $0.4 \\cdot 989$ TFLOP/s 算是 $1.49 \\cdot 10^9$ 设备·秒，再乘 700 W 和 PUE 1.1 就得到能耗。用 1,024 块 H100 大约要
        {{ answer[0] / 1024:.0f }} 天。Chinchilla 要说明的是：算力相同时，用更多 token（每个参数约 20 个）训练一个较小的
        模型，胜过用较少 token 训练一个更大的模型。
        """,
    ),
    setup=("training_cost",),
)

# %% tags=["exercise"]
exercise(
    5,
    en="""
        With `accountant.epsilon`, compute ε for σ = 1.0, sampling rate q = 0.05, 100 steps,
        δ = 10⁻⁵. Then find, with `accountant.noise_multiplier_for`, the σ that keeps the same
        run at ε = 1. Train the trade-off MLP with that σ: what test accuracy does ε = 1 cost
        here?
    """,
    zh="""
        用 `accountant.epsilon` 算出 σ = 1.0、采样率 q = 0.05、100 步、δ = 10⁻⁵ 时的 ε。再用
        `accountant.noise_multiplier_for` 求出让同样的训练只花 ε = 1 的 σ。用这个 σ 训练取舍实验里的 MLP：在这里，
        ε = 1 要付出多少测试准确率？
    """,
    check=Number(
        lambda: [
            accountant.epsilon(1.0, 0.05, 100, 1e-5),
            accountant.noise_multiplier_for(1.0, 1e-5, 0.05, 100),
        ],
        rel=0.01,
        names=[("ε at σ = 1", "σ = 1 时的 ε"), ("σ for ε = 1", "ε = 1 时的 σ")],
    ),
    hints=[
        (
            "`accountant.epsilon(noise_multiplier, sample_rate, steps, delta)` and `accountant.noise_multiplier_for(target_epsilon, delta, sample_rate, steps)`: mind the order of the arguments.",
            "`accountant.epsilon(noise_multiplier, sample_rate, steps, delta)` 和 `accountant.noise_multiplier_for(target_epsilon, delta, sample_rate, steps)`：注意参数的顺序。",
        ),
        (
            "ε falls as σ grows: the σ for ε = 1 is larger than 1. Answer both values, ε first, separated by ';'.",
            "σ 越大 ε 越小：ε = 1 所需的 σ 大于 1。两个值都要回答，ε 在前，用分号 ; 隔开。",
        ),
    ],
    solution=(
        """
        ε = {{ answer[0]:.2f }} at σ = 1; σ = {{ answer[1]:.2f }} keeps the run at ε = 1 (the
        bisection stops within 0.01 of the target, so your σ may differ in the second
        decimal). To train: 5,000 training images in batches of 250 give q = 0.05, and 5 epochs
        give 100 steps: `config = with_updates(tradeoff_config, {**private,
        "data.train_subset": 5000, "data.batch_size": 250, "train.epochs": 5,
        "dp.noise_multiplier": sigma})`, then `fit_for(config)(config, data=prepare_data(config.data,
        config.train.seed))`, and the same with σ = 1 and without DP to compare.
        More than twice the noise at the same clipping costs a few points of test accuracy
        against the run at ε ≈ {{ answer[0]:.0f }}, and more against the run without DP: privacy
        is paid in accuracy, and the price falls as the data set grows (q shrinks).
        """,
        """
        σ = 1 时 ε = {{ answer[0]:.2f }}；σ = {{ answer[1]:.2f }} 能让同样的训练只花 ε = 1（二分法在离目标 0.01 以内就
        停下，所以你得到的 σ 第二位小数可能不同）。训练：5,000 张训练图、批量 250，就是 q = 0.05，训练 5 轮就是 100 步：
        `config = with_updates(tradeoff_config, {**private, "data.train_subset": 5000, "data.batch_size": 250,
        "train.epochs": 5, "dp.noise_multiplier": sigma})`，再 `fit_for(config)(config, data=prepare_data(config.data,
        config.train.seed))`；用 σ = 1 和不加 DP 各跑一次来比较。裁剪不变、噪声加到两倍多，测试准确率比 ε ≈ {{ answer[0]:.0f }} 的那次
        低几个百分点，比不加 DP 的低得更多：隐私是用准确率换来的，数据集越大（q 越小），代价越小。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    6,
    en="""
        The randomisation test of 2.2 replaced *every* weight. Adebayo et al. also randomise
        *cascading*: first only the last layer, then the last two, and so on. Do it for the
        CNN (copy the trained weights, then re-initialise the top layers from `random_model`)
        and watch the rank correlation of saliency and of integrated gradients layer by layer.
        Which method notices first that the model has changed?
    """,
    zh="""
        2.2 节的随机化检验把*所有*权重都换掉了。Adebayo 等还做了*逐层*随机化：先只换最后一层，再换最后两层，依此类推。
        在 CNN 上做一遍（先复制训练好的权重，再从 `random_model` 拿来顶上几层的权重），逐层观察显著图和积分梯度的秩相关。
        哪种方法最先"察觉"模型变了？
    """,
    check=Open(),
    hints=[
        (
            "Copy the trained model with `load_state_dict(cnn_model.state_dict())`; for k = 1, 2, ..., copy `random_model`'s parameters of the last k weight layers into it, recompute each method's maps and their Spearman correlation with the trained maps.",
            "用 `load_state_dict(cnn_model.state_dict())` 复制训练好的模型；对 k = 1, 2, ……，把 `random_model` 最后 k 个带权重层的参数拷进去，重新计算每种方法的归因图，以及它们和训练后归因图的 Spearman 相关。",
        )
    ],
    solution=(
        """
        ```python
        layers = [name for name, _ in cnn_model.named_parameters() if name.endswith("weight")]
        for k in range(1, len(layers) + 1):
            model = Trainer(cnn_config, data=digits, console=False).model
            model.load_state_dict(cnn_model.state_dict())  # a copy of the trained network
            top = {n.rsplit(".", 1)[0] for n in layers[-k:]}
            state = {n: p for n, p in random_model.state_dict().items() if n.rsplit(".", 1)[0] in top}
            model.load_state_dict({**model.state_dict(), **state})
            # methods[name](model), then spearman(...) against the trained maps, per method
        ```

        Expected (Adebayo et al. 2018): saliency's correlation with the trained map drops as
        soon as the last layer is randomised, and keeps dropping; integrated gradients over
        the whole image stays high much longer, because its $(x - x')$ factor draws the digit
        whatever the weights, and falls more slowly even on the digit's own pixels. Saliency
        notices first. A method that cannot tell a trained model from a scrambled one explains
        the input more than the model — the sanity check every attribution method must pass.
        """,
        """
        ```python
        layers = [name for name, _ in cnn_model.named_parameters() if name.endswith("weight")]
        for k in range(1, len(layers) + 1):
            model = Trainer(cnn_config, data=digits, console=False).model
            model.load_state_dict(cnn_model.state_dict())  # 复制一份训练好的网络
            top = {n.rsplit(".", 1)[0] for n in layers[-k:]}
            state = {n: p for n, p in random_model.state_dict().items() if n.rsplit(".", 1)[0] in top}
            model.load_state_dict({**model.state_dict(), **state})
            # 对每种方法：methods[name](model)，再和训练后的归因图算 spearman(...)
        ```

        预期结果（Adebayo 等 2018）：最后一层一随机化，显著图和训练后图的相关就下降，而且越降越多；整张图上的积分梯度则在
        很长时间里都保持很高的相关，因为它的 $(x - x')$ 因子不管权重是什么都会把数字画出来，即使只看数字本身的像素，它也降得
        更慢。显著图最先察觉。一种方法如果分不清训练好的模型和被打乱的模型，它解释的就更多是输入而不是模型——这是每种归因
        方法都必须通过的合理性检验。
        """,
    ),
)

# %% teardown
set_threads(threads_before["blas"] or 0)  # the threads as they were before this lecture
print(t("BLAS/torch threads restored.", "BLAS/torch 线程数已恢复。"))
