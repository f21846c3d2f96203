# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 18 s
#     full: 51 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 9. Convolutional networks: image recognition
#
# **Goal.** Image recognition is the first application of large models the source names, and
# MNIST, CIFAR and ImageNet are its data sets. The network that made image recognition work is
# the convolutional network (CNN). We build it from the operation up: why a plain MLP is the
# wrong shape for images, what a convolution computes (computed three ways, and checked against
# PyTorch), what pooling and batch normalisation add, and then a LeNet-style CNN trained
# through gradschool's one training loop on the embedded MNIST slice, side by side with the
# source's MLP — same number of weights, same recipe. Then we look inside: the filters it
# learned, what one digit looks like to it, and the digits it still gets wrong. Last, what
# changes for colour photos (CIFAR-10) and for ImageNet's folders.

# %% [markdown] tags=["zh"]
# # 第 9 讲：卷积神经网络与图像识别
#
# **目标**：原文列举大模型的应用场景时，第一个就是图像识别，推荐的数据集是 MNIST、CIFAR 和 ImageNet。真正让图像
# 识别做起来的网络是卷积神经网络（CNN）。这一讲从最底层的运算讲起：为什么普通的 MLP 天生不适合处理图像；卷积到底
# 在算什么（用三种方法算一遍，再和 PyTorch 对一下）；池化和批归一化又起什么作用。然后用 gradschool 的同一个训练循环，
# 在内置的 MNIST 小数据集上训练一个 LeNet 风格的 CNN，和原文的 MLP 放在一起比——权重个数差不多、训练配方完全一样。
# 接着打开网络看看：它学到了哪些卷积核，一张数字图在它"眼里"是什么样子，哪些数字它还是认错了。最后说说换成彩色
# 照片（CIFAR-10）和 ImageNet 那样的图片文件夹时，需要改什么。

# %% [markdown] tags=["en"]
# ## What the source says
#
# Section 5 ("实际应用场景", where it is used) opens with "图像识别：通过训练大模型，我们可以实现对图像的
# 分类、检测和识别等任务" — image recognition: by training large models we can classify, detect
# and recognise images. Section 6 lists the data sets: "数据集：ImageNet、CIFAR、MNIST等".
#
# Two corrections. **Image recognition does not need a large model**: the CNN below has about
# 106,000 weights — as many as the source's own MLP — and reads handwritten digits with about
# 98% accuracy. What it needs is the right *shape* of model, and the source never names one:
# for images that is the convolutional network (LeCun et al. 1989 and 1998 for digits;
# Krizhevsky et al.'s AlexNet won ImageNet with one in 2012, He et al.'s ResNet in 2015 — published
# at CVPR 2016).
# And **"classification, detection, recognition" are different tasks**: this lecture is
# classification (one label per image); detection finds and boxes every object in an image,
# with the same convolutional layers and another head.
#
# ## Why an MLP is the wrong shape for images
#
# The source's MLP flattens a 28×28 digit into 784 numbers and connects each to 128 hidden
# units: 784 × 128 = 100,352 weights, 92% of all its weights. Three things are wrong with that:
#
# - **Every pixel gets its own weights.** A unit that detects a stroke at the top left and one
#   that detects the same stroke at the bottom right are learned separately, each from the
#   examples that happen to have a stroke there.
# - **Flattening forgets who is next to whom.** Shuffle the 784 pixels with a fixed
#   permutation, the same for every image: the MLP trains exactly as well (exercise 1). Yet
#   neighbouring pixels are what makes a stroke.
# - **A shifted digit is a different input.** Move a digit two pixels to the right and, as a
#   vector, it shares less than half of its ink with itself (measured below).
#
# A convolutional layer fixes all three with two ideas. **Local connections**: each output
# looks at a small k×k patch of the image. **Weight sharing**: the same small kernel is slid
# over every position. A 3×3 kernel has 9 weights and a bias, used at all 784 positions; it
# detects its pattern wherever the pattern is, and a shifted input gives a shifted output
# (*translation equivariance*). Pooling then makes small shifts matter even less.

# %% [markdown] tags=["zh"]
# ## 原文怎么说
#
# 原文第 5 节"实际应用场景"第一条就是："图像识别：通过训练大模型，我们可以实现对图像的分类、检测和识别等任务。"
# 第 6 节列出的数据集是："数据集：ImageNet、CIFAR、MNIST等。"
#
# 这里要纠正两点。**图像识别并不需要大模型**：下面的 CNN 只有大约 10.6 万个权重——和原文自己那个 MLP 差不多——
# 认手写数字的准确率就能到 98% 左右。需要的是*结构*对路的模型，而原文一个也没提：处理图像，用的就是卷积神经网络
# （LeCun 等人 1989 年和 1998 年用它识别手写数字；2012 年 Krizhevsky 等人的 AlexNet 用它拿下 ImageNet 比赛；
# 2015 年 He 等人的 ResNet 夺冠，论文发表于 CVPR 2016）。另外，**"分类、检测、识别"是不同的任务**：这一讲做的是分类（每张图给一个标签）；
# 检测是要在图里找出每个物体并框出来，用的也是同样的卷积层，只是后面接的"头"不一样。
#
# ## 为什么 MLP 不适合处理图像
#
# 原文的 MLP 先把 28×28 的数字图拉平成 784 个数，再把每个数都连到 128 个隐藏单元上：784 × 128 = 100,352 个权重，
# 占了全部权重的 92%。这样做有三个毛病：
#
# - **每个像素都有自己的一套权重。** 左上角有一笔、右下角有同样的一笔，要由两组不同的权重分别去学，而且各自只能
#   从恰好在那个位置有笔画的样本里学。
# - **一拉平，谁挨着谁就丢了。** 把 784 个像素按一个固定的排列打乱（每张图都用同一个排列），MLP 训练起来一点都不受
#   影响（练习 1）。可笔画恰恰是由相邻的像素组成的。
# - **数字挪一下就成了另一个输入。** 把数字往右挪两个像素，作为向量，它和原来的自己重合的笔画还不到一半（下面实测）。
#
# 卷积层用两个想法同时解决这三个问题。**局部连接**：每个输出只看图上一个 k×k 的小块。**权重共享**：同一个小卷积核
# 在所有位置上滑过去。一个 3×3 的卷积核只有 9 个权重加 1 个偏置，却在全部 784 个位置上重复使用；图案出现在哪儿，它就
# 在哪儿响应，输入平移，输出也跟着平移（*平移等变性*）。后面再接上池化，小的平移就更无所谓了。

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from gradschool.backends import get_backend
from gradschool.config import load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.data.augment import translate
from gradschool.data.datasets import load_dataset
from gradschool.data.prepare import prepare_data
from gradschool.engine import Tensor
from gradschool.engine.conv import sliding_windows
from gradschool.models import cnn, count_parameters, mlp
from gradschool.plots import add_curves, finish_curves, loss_accuracy_axes
from gradschool.threads import get_threads, set_threads
from gradschool.train.trainer import fit

try:
    import torch

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False
    print(
        t(
            "torch is not installed: the comparisons with PyTorch are skipped; everything else runs on the NumPy engine.",
            "没有安装 torch：和 PyTorch 的对照跳过，其余部分都在 NumPy 引擎上运行。",
        )
    )

THREADS_BEFORE = get_threads()["blas"]  # given back at the end of the lecture
engine = get_backend("numpy")  # float32, as training uses
mnist = load_dataset("mnist-mini")  # uint8 (10000, 1, 28, 28) and (2000, 1, 28, 28); no network

seed_mlp = mlp(engine.nn, [784, 128, 64, 10])
first_layer = 784 * 128
print(
    t("the source's MLP: ", "原文的 MLP：")
    + f"{count_parameters(seed_mlp):,} "
    + t("weights, of which", "个权重，其中第一层")
    + f" {first_layer:,} "
    + t(
        f"({100 * first_layer / count_parameters(seed_mlp):.0f}%) in the first layer",
        f"个（占 {100 * first_layer / count_parameters(seed_mlp):.0f}%）",
    )
)
print(
    t(
        "one 3x3 convolution kernel: 9 weights + 1 bias, used at every one of the 784 positions",
        "一个 3x3 卷积核：9 个权重 + 1 个偏置，在 784 个位置上反复使用",
    )
)

# A shifted digit, seen as a vector: how much ink do the two images share?
digits = mnist.X_test[:500].astype(np.float32) / 255  # (500, 1, 28, 28) in [0, 1]
for shift in (1, 2, 3):
    moved = translate(digits, np.zeros(len(digits)), np.full(len(digits), shift))
    ink, ink_moved = digits > 0.5, moved > 0.5
    shared = (ink & ink_moved).sum(axis=(1, 2, 3)) / ink.sum(axis=(1, 2, 3))
    print(
        t(
            f"moved {shift} pixel(s) right: on average {100 * shared.mean():.0f}% of a digit's ink pixels are still ink",
            f"右移 {shift} 个像素：平均只有 {100 * shared.mean():.0f}% 的笔画像素还落在笔画上",
        )
    )

# %% [markdown] tags=["en"]
# ## Convolution: a sliding dot product
#
# A convolutional layer with $O$ kernels of size $k \times k$ over an image with $C$ channels
# computes, for each kernel $o$ and each output position $(i, j)$, one dot product between the
# kernel and the patch of the image under it, plus a bias:
#
# $$
# y_{o,i,j} = b_o + \sum_{c=1}^{C}\sum_{a=0}^{k-1}\sum_{b=0}^{k-1} w_{o,c,a,b}\, x_{c,\, s i + a - p,\, s j + b - p}
# $$
#
# where $s$ is the stride (how far the kernel moves between positions) and $p$ the padding
# (rows and columns of zeros added around the image). The output has
#
# $$
# H_{\mathrm{out}} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1
# $$
#
# rows, and as many columns by the same formula. Examples: a 28×28 digit with $k = 3$, $p = 1$,
# $s = 1$ stays 28×28 ("same" padding); with $k = 5$, $p = 0$ it becomes 24×24; a 2×2 pooling
# window with stride 2 halves it, $(28 - 2)/2 + 1 = 14$.
#
# NOTE: what deep learning calls convolution is, strictly, a *cross-correlation*: the kernel is
# not flipped as in the convolution of signal processing. Since the kernel is learned, nothing
# depends on it, and every library (PyTorch, gradschool) computes the formula above.
#
# ### One convolution, computed three ways
#
# 1. **Plain loops**, the formula written out: seven nested loops (images, kernels, rows,
#    columns, channels, kernel rows, kernel columns). Right, and hopelessly slow: for teaching
#    only.
# 2. **gradschool's engine**, `F.conv2d`: *im2col*. The primitive `sliding_windows` gives every
#    patch the kernel visits as a *view* of the image, $(N, C, H_{out}, W_{out}, k, k)$, with no
#    pixel copied. Reshaped, that is a matrix with one patch per row; the kernels, flattened,
#    are a matrix with one kernel per row; **one matrix product** computes all the dot products
#    at once (Chellapilla et al. 2006). Its gradient comes from the chain rule for free: only
#    `sliding_windows` has a hand-written backward (docs/cnn.md).
# 3. **PyTorch**'s `torch.nn.functional.conv2d`, when it is installed.
#
# A tiny input: one image with 2 channels of 5×5, three 3×3 kernels, stride 2, padding 1, so
# the output is 3 channels of $\lfloor (5 + 2 - 3)/2 \rfloor + 1 = 3$ by 3.

# %% [markdown] tags=["zh"]
# ## 卷积：滑动的点积
#
# 设卷积层有 $O$ 个 $k \times k$ 的卷积核，输入图像有 $C$ 个通道。对每个卷积核 $o$ 和每个输出位置 $(i, j)$，它算的
# 就是卷积核和它盖住的那一小块图像的点积，再加上偏置：
#
# $$
# y_{o,i,j} = b_o + \sum_{c=1}^{C}\sum_{a=0}^{k-1}\sum_{b=0}^{k-1} w_{o,c,a,b}\, x_{c,\, s i + a - p,\, s j + b - p}
# $$
#
# 其中 $s$ 是步幅（stride，卷积核每次挪多远），$p$ 是填充（在图像四周补几圈 0）。输出的行数是
#
# $$
# H_{\mathrm{out}} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1
# $$
#
# 列数也按同样的公式算。举几个例子：28×28 的数字图，$k = 3$、$p = 1$、$s = 1$，输出还是 28×28（即 "same" 填充）；
# $k = 5$、$p = 0$ 时变成 24×24；2×2、步幅 2 的池化窗口把它减半，$(28 - 2)/2 + 1 = 14$。
#
# 注意：深度学习里说的"卷积"，严格讲是*互相关*：卷积核并不像信号处理里的卷积那样先翻转一下。反正卷积核是学出来的，
# 翻不翻都一样，所以所有的库（PyTorch、gradschool）算的都是上面这个式子。
#
# ### 同一个卷积，三种算法
#
# 1. **朴素循环**，把公式原样写出来：七层嵌套循环（图像、卷积核、行、列、通道、核的行、核的列）。结果是对的，但慢得
#    没法用，只用来教学。
# 2. **gradschool 引擎**的 `F.conv2d`，用的是 *im2col*。底层原语 `sliding_windows` 把卷积核走过的每一小块都拿出来，
#    形状是 $(N, C, H_{out}, W_{out}, k, k)$，而且只是原图的一个*视图*，一个像素都不复制。把它重排成矩阵，每行是一个
#    小块；卷积核拉平后也是一个矩阵，每行一个核；**一次矩阵乘法**就把所有点积都算出来了（Chellapilla 等，2006）。
#    梯度由链式法则自动得到：只有 `sliding_windows` 手写了反向传播（见 docs/cnn.zh-CN.md）。
# 3. **PyTorch** 的 `torch.nn.functional.conv2d`（装了 torch 才跑）。
#
# 用一个很小的输入：一张图，2 个通道，每个 5×5；3 个 3×3 的卷积核，步幅 2，填充 1，所以输出是 3 个通道，每个
# $\lfloor (5 + 2 - 3)/2 \rfloor + 1 = 3$ 行 3 列。


# %%
def conv2d_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int):
    """The formula, loop by loop. x (N, C, H, W), w (O, C, k, k), b (O,) -> (N, O, OH, OW)."""
    N, C, H, W = x.shape
    O, _, k, _ = w.shape
    OH, OW = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # zeros around
    y = np.zeros((N, O, OH, OW))
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    total = b[o]
                    for c in range(C):
                        for a in range(k):
                            for bb in range(k):
                                total += w[o, c, a, bb] * xp[n, c, stride * i + a, stride * j + bb]
                    y[n, o, i, j] = total
    return y


rng = np.random.default_rng(0)
x = rng.normal(size=(1, 2, 5, 5))  # (N, C, H, W)
w = rng.normal(size=(3, 2, 3, 3))  # (O, C, k, k)
b = rng.normal(size=3)  # (O,)
STRIDE, PAD = 2, 1

# 1. The loops.
y_loops = conv2d_loops(x, w, b, STRIDE, PAD)

# 2. The engine, in float64 so that the comparison shows only rounding.
engine64 = get_backend("numpy", "float64")
X, W, B = (Tensor(a, requires_grad=True) for a in (x, w, b))
y_engine = engine64.F.conv2d(X, W, B, stride=STRIDE, padding=PAD)  # (1, 3, 3, 3)

# ... and im2col spelled out: the windows, one patch per row, one matrix product.
windows = sliding_windows(X, 3, STRIDE, PAD)  # (N, C, OH, OW, k, k): a view, no copy
# NOTE: patches in torch's (C, k, k) order here; F.conv2d itself orders them (k, k, C), which
# copies faster from the channels-last memory it keeps (docs/cnn.md). Same numbers either way.
cols = windows.permute(0, 2, 3, 1, 4, 5).reshape(1 * 3 * 3, 2 * 3 * 3)  # (N*OH*OW, C*k*k)
kernels = W.reshape(3, 2 * 3 * 3)  # (O, C*k*k): one kernel per row, the same order
y_im2col = (cols @ kernels.T + B).reshape(1, 3, 3, 3).permute(0, 3, 1, 2)  # (N, O, OH, OW)
print(t("windows (a view of x):", "windows（x 的视图）：").ljust(30), windows.shape)
print(t("im2col matrix, patch per row:", "im2col 矩阵，每行一个小块：").ljust(30), cols.shape)
print(t("kernels, one per row:", "卷积核，每行一个：").ljust(30), kernels.shape)
print(t("output:", "输出：").ljust(30), y_engine.shape)
print()
print(t("max |difference| from the loops:", "与循环结果的最大 |差|："))
conv_diffs = []  # every |difference| printed below, for the summary
for label, y in (
    (t("engine F.conv2d", "引擎 F.conv2d"), y_engine),
    (t("im2col by hand", "手写 im2col"), y_im2col),
):
    conv_diffs.append(np.abs(engine64.to_numpy(y) - y_loops).max())
    print(f"  {label:<28}{conv_diffs[-1]:.1e}")

# The gradients, from a loss whose gradient with respect to y is g.
g = rng.normal(size=y_loops.shape)
(y_engine * Tensor(g)).sum().backward()
if HAVE_TORCH:
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y_torch = torch.nn.functional.conv2d(xt, wt, bt, stride=STRIDE, padding=PAD)
    (y_torch * torch.tensor(g)).sum().backward()
    conv_diffs.append(np.abs(y_torch.detach().numpy() - y_loops).max())
    print(f"  {'torch F.conv2d':<28}{conv_diffs[-1]:.1e}")
    print(
        t("max |difference| of the gradients, engine vs torch:", "梯度的最大 |差|，引擎对 torch：")
    )
    for name, ours, theirs in (("dL/dx", X, xt), ("dL/dw", W, wt), ("dL/db", B, bt)):
        diff = np.abs(engine64.to_numpy(ours.grad) - theirs.grad.numpy()).max()
        conv_diffs.append(diff)
        print(f"  {name:<28}{diff:.1e}")
else:
    print(
        t("  (torch is not installed: no torch column)", "  （没有安装 torch：没有 torch 这一列）")
    )

# %% [markdown] tags=["en"]
# Why the matrix product matters: the second convolution of the network we train below sees a
# batch of 64 images with 16 channels of 14×14 and has 32 kernels of 3×3. Its im2col matrix is
# $(64 \cdot 14 \cdot 14) \times (16 \cdot 3 \cdot 3)$ = 12,544 × 144, and one product with the
# 144 × 32 kernel matrix does 58 million multiply-adds. We time the loops on a slice of that
# work and the engine on all of it.

# %% [markdown] tags=["zh"]
# 为什么非得变成矩阵乘法？看看下面要训练的网络里的第二个卷积层：输入是一批 64 张图，每张 16 个通道、14×14，
# 卷积核 32 个、3×3。它的 im2col 矩阵是 $(64 \cdot 14 \cdot 14) \times (16 \cdot 3 \cdot 3)$ = 12,544 × 144，和 144 × 32
# 的卷积核矩阵乘一次，就是 5800 万次乘加。我们让循环只算其中一小部分，让引擎算全部，各计一下时间。

# %%
batch = rng.normal(size=(64, 16, 14, 14)).astype(np.float32)
kernels2 = rng.normal(size=(32, 16, 3, 3)).astype(np.float32)
macs = 64 * 14 * 14 * 32 * 16 * 3 * 3  # multiply-adds of the whole layer

# The loops on 1 image, 8 channels in, 8 kernels: 1/256 of the work.
start = time.perf_counter()
conv2d_loops(batch[:1, :8], kernels2[:8, :8], np.zeros(8), 1, 1)
loop_seconds = (time.perf_counter() - start) * 256

start = time.perf_counter()
repeats = 5
for _ in range(repeats):
    engine.F.conv2d(engine.tensor(batch), engine.tensor(kernels2), padding=1)
engine_seconds = (time.perf_counter() - start) / repeats
print(t("multiply-adds in the layer:", "这一层的乘加次数：").ljust(34), f"{macs:,}")
print(
    t("plain loops (extrapolated):", "朴素循环（按比例推算）：").ljust(34),
    f"{loop_seconds:8.1f} s",
)
print(
    t("engine F.conv2d (im2col):", "引擎 F.conv2d（im2col）：").ljust(34),
    f"{1000 * engine_seconds:8.1f} ms",
)
print(t("ratio:", "倍数：").ljust(34), f"{loop_seconds / engine_seconds:,.0f}x")

# %% [markdown] tags=["en"]
# ### A kernel is a pattern detector
#
# Before any training, three hand-made 3×3 kernels on a real digit: a vertical-edge and a
# horizontal-edge detector (Sobel's) and a diagonal one. Each output pixel is large where the
# patch under the kernel looks like the kernel: red where the pattern is, blue where its
# opposite is. A CNN learns such kernels from the data instead.

# %% [markdown] tags=["zh"]
# ### 卷积核就是图案检测器
#
# 还没训练之前，先拿三个手工设计的 3×3 卷积核作用在一张真实的数字图上：竖边检测器、横边检测器（Sobel 算子），以及一个
# 斜线检测器。卷积核盖住的那一小块越像卷积核本身，输出就越大：红色是图案所在的地方，蓝色是相反的图案。CNN 做的事，
# 就是从数据里把这样的卷积核学出来。

# %%
digit = mnist.X_test[np.flatnonzero(mnist.y_test == 4)[0]].astype(np.float32) / 255  # (1, 28, 28)
hand_kernels = {
    t("vertical edges", "竖边"): [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    t("horizontal edges", "横边"): [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
    t("diagonal", "斜线"): [[2, 1, 0], [1, 0, -1], [0, -1, -2]],
}
weight = np.array(list(hand_kernels.values()), dtype=np.float32)[:, None]  # (3, 1, 3, 3)
maps = engine.F.conv2d(engine.tensor(digit[None]), engine.tensor(weight), padding=1)
maps = engine.to_numpy(maps)[0]  # (3, 28, 28)

fig, axes = plt.subplots(2, 4, figsize=(10, 5.2), gridspec_kw={"height_ratios": [1, 4]})
axes[0, 0].axis("off")
axes[1, 0].imshow(digit[0], cmap="gray_r")
axes[1, 0].set_title(t("input", "输入"))
for col, (name, kernel) in enumerate(hand_kernels.items(), start=1):
    axes[0, col].imshow(kernel, cmap="RdBu_r", vmin=-2, vmax=2)
    axes[0, col].set_title(t("kernel: ", "卷积核：") + name, fontsize=9)
    limit = np.abs(maps[col - 1]).max()
    axes[1, col].imshow(maps[col - 1], cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[1, col].set_title(t("output", "输出"), fontsize=9)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.suptitle(t("Three hand-made 3x3 kernels on a digit", "三个手工 3x3 卷积核作用在一张数字图上"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## Pooling and batch normalisation
#
# **Max pooling** slides a $k \times k$ window (usually 2×2, stride 2) over each channel and
# keeps the largest value:
#
# $$
# y_{c,i,j} = \max_{0 \leq a,\, b < k}\; x_{c,\, s i + a,\, s j + b}
# $$
#
# It halves the height and width, so the next layer's 3×3 kernel covers twice as much of the
# image, and keeps only whether a feature was found in each window, not exactly where: a
# stroke moved by one pixel inside a window gives the same output. It has no weights; its
# gradient flows only to the largest value of each window. In the engine it is
# `sliding_windows` followed by a maximum.
#
# **Batch normalisation** (Ioffe & Szegedy 2015) standardises each channel $c$ over the batch
# and all pixels, $\mu_c = \frac{1}{NHW}\sum_{n,i,j} x_{n,c,i,j}$ and $\sigma_c^2$ likewise, then
# lets the network choose its own scale and shift:
#
# $$
# \hat{x} = \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \quad y = \gamma_c \hat{x} + \beta_c
# $$
#
# In training it uses the batch's statistics and keeps running averages of them; in evaluation
# it uses the running averages, so that one image's answer does not depend on the rest of its
# batch. Keeping every layer's inputs at a steady scale lets deep networks train with large
# learning rates. Our small digit network does without it (`model.batch_norm = true` adds it);
# the ResNet for colour photos has one after every convolution.

# %% [markdown] tags=["zh"]
# ## 池化与批归一化
#
# **最大池化**在每个通道上滑动一个 $k \times k$ 的窗口（通常是 2×2、步幅 2），只留下窗口里最大的那个值：
#
# $$
# y_{c,i,j} = \max_{0 \leq a,\, b < k}\; x_{c,\, s i + a,\, s j + b}
# $$
#
# 它把高和宽都减半，于是下一层的 3×3 卷积核能覆盖原图上大一倍的范围；而且它只保留"这个窗口里有没有找到某个特征"，
# 不管特征具体在哪：笔画在窗口里挪一个像素，输出不变。池化没有权重，梯度只传给每个窗口里最大的那个值。在引擎里，
# 它就是 `sliding_windows` 之后再取最大值。
#
# **批归一化**（Ioffe 和 Szegedy，2015）对每个通道 $c$，在整个批次和所有像素上做标准化：
# $\mu_c = \frac{1}{NHW}\sum_{n,i,j} x_{n,c,i,j}$，$\sigma_c^2$ 同理；然后再让网络自己学一个缩放和平移：
#
# $$
# \hat{x} = \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \quad y = \gamma_c \hat{x} + \beta_c
# $$
#
# 训练时用当前批次的统计量，同时维护它们的滑动平均；评估时用滑动平均，这样一张图的结果就不会受同一批里其他图的
# 影响。每一层的输入尺度稳定了，深层网络就能用大学习率来训练。我们这个识别数字的小网络不用它（设
# `model.batch_norm = true` 就会加上）；后面处理彩色照片的 ResNet 在每个卷积后面都有一个。

# %%
grid = np.array([[1, 3, 0, 2], [4, 2, 1, 1], [0, 1, 5, 0], [2, 0, 3, 6]], dtype=np.float32)
pooled = engine.F.max_pool2d(engine.tensor(grid[None, None]), 2)  # (1, 1, 4, 4) -> (1, 1, 2, 2)
print(t("a 4x4 channel:", "一个 4x4 的通道："))
print(grid.astype(int))
print(t("after 2x2 max pooling:", "2x2 最大池化之后："))
print(engine.to_numpy(pooled)[0, 0].astype(int))

feature_maps = engine.tensor(rng.normal(3.0, 5.0, size=(8, 4, 6, 6)).astype(np.float32))
bn = engine.nn.BatchNorm2d(4)  # gamma = 1, beta = 0 at the start
normalised = engine.to_numpy(bn(feature_maps))
print(
    t("batch norm, per channel: mean", "批归一化，每个通道的均值")
    + f" {np.round(normalised.mean(axis=(0, 2, 3)), 3) + 0}, "
    + t("std", "标准差")
    + f" {np.round(normalised.std(axis=(0, 2, 3)), 3)}"
)

# %% [markdown] tags=["en"]
# ## The network: a small LeNet
#
# gradschool's CNNs are written once for both engines in `gradschool/models.py`
# (`model.name = "cnn"`). The `lenet` arch (after LeCun et al. 1998, with ReLU and max pooling
# as today) stacks, for each width in `model.channels`, a 3×3 convolution with "same" padding,
# a ReLU and a 2×2 max pooling, then a small MLP head. We start from the bundled
# `configs/mnist_cnn.toml` and change a few keys:
#
# - `model.channels = [16, 32]`, `model.hidden = 64`: 105,866 weights, almost exactly the
#   source MLP's 109,386, so the comparison is fair. (The config's own [32, 64] with a 128-unit
#   head, 421,642 weights, is meant for the full 60,000-image MNIST: docs/cnn.md.)
# - `data.dataset = "mnist-mini"`: the embedded slice, no data directory needed.
# - `data.augment = []` and `model.dropout = 0`: the config moves each training digit by up to
#   two pixels and uses dropout; we switch both off so that the *only* difference between the
#   two models is their shape, and so that we can test their reaction to shifts fairly below.
# - `data.batch_size = 64`, and `train.threads = 1`: these convolutions are small, and on a
#   busy shared CPU one BLAS thread is faster than two that wait for each other
#   (docs/performance.md, "Threads").
#
# The table passes one digit through the network layer by layer: the shape after each layer,
# its weights, and its multiply-adds per image.

# %% [markdown] tags=["zh"]
# ## 网络：一个小 LeNet
#
# gradschool 的 CNN 写在 `gradschool/models.py` 里，同一份代码两个引擎都能用（`model.name = "cnn"`）。`lenet` 结构
# （仿照 LeCun 等人 1998 年的网络，按现在的习惯换成 ReLU 和最大池化）对 `model.channels` 里的每个宽度，依次接一个
# "same" 填充的 3×3 卷积、一个 ReLU 和一个 2×2 最大池化，最后接一个小 MLP 作为分类头。我们从自带的
# `configs/mnist_cnn.toml` 出发，改几个设置：
#
# - `model.channels = [16, 32]`、`model.hidden = 64`：一共 105,866 个权重，和原文 MLP 的 109,386 个几乎一样，这样比较
#   才公平。（配置文件本来的 [32, 64] 加 128 个单元的分类头有 421,642 个权重，是给完整的 6 万张 MNIST 用的，见
#   docs/cnn.zh-CN.md。）
# - `data.dataset = "mnist-mini"`：用内置的小数据集，不需要数据目录。
# - `data.augment = []` 和 `model.dropout = 0`：原配置会把每张训练图随机挪动最多两个像素，还用了 dropout；这里都关掉，
#   让两个模型*唯一*的区别就是结构本身，下面测它们对平移的反应时也才公平。
# - `data.batch_size = 64`，以及 `train.threads = 1`：这些卷积都很小，在一台繁忙的共享 CPU 上，BLAS 用一个线程反而比
#   两个互相等待的线程快（见 docs/performance.zh-CN.md 的"线程"一节）。
#
# 下表让一张数字图逐层穿过网络：每层之后的形状、这一层的权重个数，以及每张图在这一层要做多少次乘加。

# %%
EPOCHS = 2 if QUICK else 8
SUBSET = 8000 if QUICK else None  # quick: 7,200 training images; full: all 9,000

cnn_config = with_updates(
    load_config("mnist_cnn"),
    {
        "data.dataset": "mnist-mini",
        "data.train_subset": SUBSET,
        "data.augment": [],
        "data.batch_size": 64,
        "model.channels": [16, 32],
        "model.hidden": 64,
        "model.dropout": 0.0,
        "train.epochs": EPOCHS,
        "train.threads": 1,
    },
)
# The source's MLP, with everything else the same: the data, the optimizer, the schedule.
mlp_config = with_updates(cnn_config, {"model.name": "mlp", "model.sizes": [784, 128, 64, 10]})
print(
    t("recipe of both runs:", "两次训练共用的配方："),
    f"SGD lr {cnn_config.optim.lr}, momentum {cnn_config.optim.momentum}, "
    f"nesterov {cnn_config.optim.nesterov}, weight decay {cnn_config.optim.weight_decay}, "
    f"schedule {cnn_config.schedule.name}, batch {cnn_config.data.batch_size}, "
    f"{EPOCHS} " + t("epochs", "轮"),
)


def run_counting(layer, x):
    """layer(x), and the multiply-adds per image of its convolutions and Linear layers (each
    output value is one dot product with a row of the weight)."""
    name = type(layer).__name__
    if name in ("Sequential", "Residual"):  # the layers inside, one after another
        h, macs = x, 0
        for inner in layer if name == "Sequential" else layer.body:
            h, m = run_counting(inner, h)
            macs += m
        return (x + h if name == "Residual" else h), macs  # Residual: x + body(x)
    y = layer(x)
    if name in ("Conv2d", "Linear"):
        return y, int(np.prod(y.shape[1:])) * int(np.prod(layer.weight.shape[1:]))
    return y, 0


def layer_table(model, x, keep=None) -> int:
    """Print each top-level layer's output shape, weights and multiply-adds per image for the
    batch x; `keep` lists the layer types to show (all when None). Returns the total MACs."""
    total = 0
    print(
        f"{t('layer', '层'):<20}{t('output shape', '输出形状'):>16}{t('weights', '权重'):>10}"
        f"{t('mult-adds', '乘加次数'):>13}"
    )
    with engine.no_grad():
        for layer in model:
            x, macs = run_counting(layer, x)
            total += macs
            name = type(layer).__name__
            if keep is None or name in keep:
                shape = "x".join(map(str, x.shape[1:]))
                shown = f"{macs:,}" if macs else ""
                print(f"{name:<20}{shape:>16}{count_parameters(layer):>10,}{shown:>13}")
    return total


example = engine.tensor(mnist.X_test[:1].astype(np.float32) / 255)  # (1, 1, 28, 28)
lenet = cnn(engine.nn, "lenet", (1, 28, 28), 10, [16, 32], 3, 64)
cnn_macs = layer_table(lenet, example)
print(f"{t('total', '合计'):<36}{count_parameters(lenet):>10,}{cnn_macs:>13,}")
print()
mlp_macs = layer_table(seed_mlp, example)
print(f"{t('total', '合计'):<36}{count_parameters(seed_mlp):>10,}{mlp_macs:>13,}")

# %% [markdown] tags=["en"]
# Look where the weights are: the two convolutions together have 4,800 of them; the head's
# first Linear layer holds 100,416. The convolutions are cheap in weights and expensive in
# arithmetic: each weight is used at every position, so the CNN does about ten times as many
# multiply-adds per image as the MLP with the same number of weights.
#
# ## Training both, through the one loop
#
# Both models train with `gradschool.train.trainer.fit` — the same loop `gradschool train`
# runs — on the same prepared arrays (one `prepare_data`, passed to both), on the NumPy engine.
# The command line does the same with
# `gradschool train --config mnist_cnn --dataset mnist-mini --channels 16,32 --hidden 64 --dropout 0 --batch-size 64 --epochs 8`
# (and `--augment "[]"`).

# %% [markdown] tags=["zh"]
# 看看权重都在哪儿：两个卷积层加起来只有 4,800 个权重，分类头的第一个全连接层却有 100,416 个。卷积层省权重、费计算：
# 每个权重要在每个位置上用一遍，所以权重个数一样时，CNN 每张图的乘加次数是 MLP 的十倍左右。
#
# ## 用同一个训练循环训练两个模型
#
# 两个模型都用 `gradschool.train.trainer.fit` 训练——也就是 `gradschool train` 跑的那个循环——数据是同一份准备好的
# 数组（`prepare_data` 只调一次，两边共用），引擎是 NumPy。命令行的等价写法是
# `gradschool train --config mnist_cnn --dataset mnist-mini --channels 16,32 --hidden 64 --dropout 0 --batch-size 64 --epochs 8`
# （再加上 `--augment "[]"`）。

# %%
data = prepare_data(cnn_config.data, cnn_config.train.seed)  # normalised float32 arrays
print(
    t("training / validation / test images:", "训练 / 验证 / 测试图片数："),
    f"{len(data.y_train):,} / {len(data.y_val):,} / {len(data.y_test):,}",
)
runs = {}
for key, config, label in (
    ("mlp", mlp_config, t("the source's MLP 784-128-64-10", "原文的 MLP 784-128-64-10")),
    ("cnn", cnn_config, t("LeNet-style CNN [16, 32]", "LeNet 风格的 CNN [16, 32]")),
):
    print(f"--- {label} ---")
    runs[key] = fit(config, data=data)

names = {"mlp": "MLP", "cnn": "CNN"}
print()
print(
    f"{t('model', '模型'):<8}{t('weights', '权重'):>10}{t('mult-adds', '乘加/张'):>12}"
    f"{t('val acc', '验证准确率'):>11}{t('test acc', '测试准确率'):>11}{t('errors', '错误数'):>8}"
    f"{t('train time', '训练用时'):>12}{t('per step', '每步'):>10}"
)
for key, trainer in runs.items():
    last = trainer.state.history[-1]
    errors = round((1 - last["test_acc"]) * len(data.y_test))
    per_step = 1000 * trainer.state.train_time / trainer.state.step
    print(
        f"{names[key]:<8}{count_parameters(trainer.model):>10,}"
        f"{(cnn_macs if key == 'cnn' else mlp_macs):>12,}"
        f"{100 * last['val_acc']:>10.2f}%{100 * last['test_acc']:>10.2f}%{errors:>8}"
        f"{trainer.state.train_time:>11.1f}s{per_step:>8.1f}ms"
    )

fig, ax_loss, ax_acc = loss_accuracy_axes(
    xlabel=t("epoch", "轮"),
    loss_label=t("training loss", "训练损失"),
    acc_label=t("validation accuracy (%)", "验证集准确率（%）"),
    loss_title=t("Training loss (cross-entropy)", "训练损失（交叉熵）"),
    acc_title=t("Same weights budget, same recipe", "权重个数相同、配方相同"),
)
for key, trainer in runs.items():
    add_curves(ax_loss, ax_acc, trainer.state.history, names[key])
finish_curves(fig, ax_loss, ax_acc)
show()

# %% [markdown] tags=["en"]
# ## Moving the digits
#
# Neither model saw a shifted digit in training (augmentation is off). Now we move every test
# digit $d$ pixels to the right (`gradschool.data.augment.translate`, the vacated pixels filled
# with the background) and measure both again.

# %% [markdown] tags=["zh"]
# ## 把数字挪一挪
#
# 两个模型训练时都没见过挪动过的数字（数据增强关掉了）。现在把每张测试图都往右挪 $d$ 个像素
# （`gradschool.data.augment.translate`，空出来的像素填背景色），再测一遍两个模型。

# %%
background = float(-data.normalizer.mean[0] / data.normalizer.std[0])  # a 0 pixel, normalised
n_test = len(data.y_test)
shift_acc = {key: [] for key in runs}
SHIFTS = [0, 1, 2, 3, 4]
for d in SHIFTS:
    moved = translate(data.X_test, np.zeros(n_test), np.full(n_test, d), fill=background)
    for key, trainer in runs.items():
        shift_acc[key].append((trainer.predict(moved).argmax(1) == data.y_test).mean())
print(f"{t('shift (pixels)', '右移（像素）'):<16}" + "".join(f"{d:>8}" for d in SHIFTS))
for key in runs:
    print(f"{names[key]:<16}" + "".join(f"{100 * a:>7.1f}%" for a in shift_acc[key]))

fig, ax = plt.subplots(figsize=(6, 3.8))
for key in runs:
    ax.plot(SHIFTS, [100 * a for a in shift_acc[key]], "-o", label=names[key])
ax.set(
    xlabel=t("test digits moved right by (pixels)", "测试图右移的像素数"),
    ylabel=t("test accuracy (%)", "测试集准确率（%）"),
    xticks=SHIFTS,
    ylim=(0, 100),
    title=t(
        "Trained on centred digits, tested on moved ones", "用居中的数字训练，用挪动过的数字测试"
    ),
)
ax.legend()
ax.grid(alpha=0.3)
show()

# %% [markdown] tags=["en"]
# ## What the CNN has learned
#
# The first layer's 16 kernels, each 3×3 (red: positive weights, blue: negative), and one test
# digit on its way through the network: the 16 feature maps after the first convolution and
# its ReLU (28×28), and the first 16 of the 32 maps after the second (14×14). Each map is one
# kernel's answer to "where in this image is my pattern?".

# %% [markdown] tags=["zh"]
# ## CNN 学到了什么
#
# 第一层的 16 个卷积核，每个 3×3（红色是正权重，蓝色是负权重）；以及一张测试图在网络里的样子：第一个卷积加 ReLU 之后的
# 16 张特征图（28×28），和第二个卷积之后 32 张特征图里的前 16 张（14×14）。每张特征图都是一个卷积核在回答"我要找的
# 图案在这张图的哪儿？"

# %%
cnn_trainer = runs["cnn"]
model = cnn_trainer.model
kernels1 = engine.to_numpy(model[0].weight)  # (16, 1, 3, 3)
fig, axes = plt.subplots(2, 8, figsize=(9, 2.6))
for k, ax in enumerate(axes.ravel()):
    limit = np.abs(kernels1[k]).max()
    ax.imshow(kernels1[k, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(xticks=[], yticks=[])
fig.suptitle(t("The 16 learned 3x3 kernels of the first layer", "第一层学到的 16 个 3x3 卷积核"))
fig.tight_layout()
show()

index = int(np.flatnonzero(data.y_test == 4)[0])  # the digit of the hand-made kernels
activations = {}
model.eval()
with engine.no_grad():
    h = engine.tensor(data.X_test[index : index + 1])
    for i, layer in enumerate(model):
        h = layer(h)
        activations[i] = engine.to_numpy(h)[0]
first, second = activations[1], activations[4]  # after each conv's ReLU: (16, 28, 28), (32, 14, 14)

fig = plt.figure(figsize=(12, 6))
grid_spec = fig.add_gridspec(4, 10, width_ratios=[1.6, 0.35] + [1] * 8)  # column 1: a gap
ax = fig.add_subplot(grid_spec[1:3, 0])
ax.imshow(data.X_test[index, 0], cmap="gray_r")
ax.set(xticks=[], yticks=[], title=t("input", "输入"))
for k in range(16):
    for row0, fmaps in ((0, first), (2, second)):
        ax = fig.add_subplot(grid_spec[row0 + k // 8, 2 + k % 8])
        ax.imshow(fmaps[k], cmap="magma")
        ax.set(xticks=[], yticks=[])
        if k == 0:  # one label per layer, on its first row
            ax.set_ylabel(t("conv 1", "卷积 1") if row0 == 0 else t("conv 2", "卷积 2"), fontsize=9)
fig.suptitle(
    t(
        "Feature maps of one digit: after conv 1 (16 of 16) and conv 2 (16 of 32), ReLU",
        "一张数字图的特征图：卷积 1 之后（16 张全画）和卷积 2 之后（32 张里的 16 张），都经过 ReLU",
    )
)
show()

# %% [markdown] tags=["en"]
# The first-layer kernels are small edge and stroke detectors, like the hand-made ones: most
# maps light up on the strokes of one direction, or along one edge of the strokes; a few answer
# the background instead. The second layer's maps, at half the resolution, are sparser: each
# lights up at a few places only, where its combination of first-layer patterns occurs — the
# end of a stroke, a corner, a crossing.
#
# ## The digits it gets wrong
#
# The CNN's mistakes on the test set, and which pairs of digits it confuses most.

# %% [markdown] tags=["zh"]
# 第一层的卷积核就是些小小的边缘和笔画检测器，和手工设计的那几个差不多：大多数特征图在某个方向的笔画上、或者沿着
# 笔画的某一侧亮起来，也有几个响应的是背景。第二层的特征图分辨率只有一半，也稀疏得多：每张只在少数几个地方亮，
# 就是它要找的那种第一层图案组合出现的地方——笔画的端点、拐角、交叉。
#
# ## 它认错的数字
#
# 看看 CNN 在测试集上认错的图，以及它最常把哪两个数字搞混。

# %%
predicted = {key: trainer.predict(data.X_test).argmax(1) for key, trainer in runs.items()}
wrong = np.flatnonzero(predicted["cnn"] != data.y_test)
both_wrong = np.sum(predicted["mlp"][wrong] != data.y_test[wrong])
print(
    t(
        f"the CNN gets {len(wrong)} of {n_test} test digits wrong; the MLP gets {both_wrong} of those wrong too, and {np.sum(predicted['mlp'] != data.y_test)} in all",
        f"CNN 认错了 {n_test} 张测试图里的 {len(wrong)} 张；这些图 MLP 也认错了 {both_wrong} 张，MLP 一共认错 {np.sum(predicted['mlp'] != data.y_test)} 张",
    )
)
pairs = {}
for i in wrong:
    pair = (int(data.y_test[i]), int(predicted["cnn"][i]))
    pairs[pair] = pairs.get(pair, 0) + 1
print(t("most frequent confusions (true -> predicted):", "最常见的混淆（真实 -> 预测）："))
for (true, pred), count in sorted(pairs.items(), key=lambda item: -item[1])[:5]:
    print(f"  {true} -> {pred}: {count}")

shown = wrong[:16]
fig, axes = plt.subplots(2, 8, figsize=(10, 3.3))
for ax in axes.ravel():
    ax.axis("off")
for ax, i in zip(axes.ravel(), shown):
    ax.imshow(data.X_test[i, 0], cmap="gray_r")
    ax.set_title(
        t(
            f"{data.y_test[i]}, said {predicted['cnn'][i]}",
            f"{data.y_test[i]}，认成 {predicted['cnn'][i]}",
        ),
        fontsize=9,
    )
fig.suptitle(t("Test digits the CNN gets wrong (true, said)", "CNN 认错的测试图（真实值，认成）"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## Colour photos: CIFAR-10 and ImageNet
#
# The same ideas carry over to photos; three things change.
#
# - **Channels.** A colour image has 3 channels (red, green, blue), so the input is
#   $(3, 32, 32)$ for CIFAR-10 (60,000 photos, 10 classes: airplane ... truck), and each
#   first-layer kernel is $3 \times 3 \times 3$: it spans all three colours at once. Nothing
#   else in the formula changes, since the sum over $c$ was there all along.
# - **A deeper network.** Photos are much harder than digits (backgrounds, poses, lighting), and
#   a two-layer LeNet stalls. `arch = "resnet"` is the 9-layer ResNet of Page's DAWNBench entry
#   ("How to train your ResNet", 2018): 3×3 convolutions each followed by batch norm and ReLU,
#   two *residual* blocks that add their input to their output ($y = x + f(x)$; He et al., CVPR 2016,
#   which is what lets very deep networks train), and a global average pool instead of a large
#   Linear head. At a quarter of Page's width, `channels = [16, 32, 64, 128]`, it has 412,954
#   weights (table below).
# - **Augmentation.** `data.augment = ["crop:4", "flip"]`: pad each photo by 4 pixels and cut a
#   random 32×32 window back out, and mirror half of them. A mirrored cat is still a cat.
#   NOTE: a mirrored 2 is not a 2, which is why the digit configs shift (`shift:2`) but never
#   flip.
#
# The data: `cifar10` reads the official python batches (with a restricted unpickler, never
# running code from a file), `cifar10-jpeg` the same photos as JPEG folders, and
# `imagefolder:<path>` any tree in ImageNet's layout, `root/train/<class>/<image>` and
# `root/val/<class>/<image>` (docs/cnn.md, docs/data.md). The bundled recipe trains on PyTorch
# (it needs the data directory, and many more multiply-adds than this lecture can afford on a
# CPU), so we do not run it here:
#
# ```bash
# gradschool train --config cifar_cnn --data-dir ../shared/data
# ```
#
# What we can do cheaply is build the ResNet on the NumPy engine and pass two random "photos"
# through it.

# %% [markdown] tags=["zh"]
# ## 彩色照片：CIFAR-10 和 ImageNet
#
# 同样的思路可以直接用到照片上，只有三处要改。
#
# - **通道数。** 彩色图有 3 个通道（红、绿、蓝），所以 CIFAR-10（6 万张照片，10 个类别：飞机……卡车）的输入是
#   $(3, 32, 32)$，第一层的每个卷积核是 $3 \times 3 \times 3$，一次覆盖全部三种颜色。公式一点都不用改，对 $c$ 求和本来就在
#   那里。
# - **更深的网络。** 照片比数字难得多（背景、姿态、光照都在变），两层的 LeNet 很快就学不动了。`arch = "resnet"` 是 Page
#   参加 DAWNBench 时用的 9 层 ResNet（"How to train your ResNet"，2018）：每个 3×3 卷积后面都跟着批归一化和 ReLU，
#   两个*残差*块把输入直接加到输出上（$y = x + f(x)$，He 等人，CVPR 2016；很深的网络能训得动全靠它），最后用全局
#   平均池化代替一个很大的全连接分类头。宽度取 Page 原版的四分之一，`channels = [16, 32, 64, 128]`，共 412,954 个
#   权重（见下表）。
# - **数据增强。** `data.augment = ["crop:4", "flip"]`：每张照片四周补 4 个像素，再随机切回一个 32×32 的窗口；一半的
#   照片左右翻转。翻过来的猫还是猫。注意：翻过来的 2 就不是 2 了，所以识别数字的配置只做平移（`shift:2`），从来不翻转。
#
# 数据方面：`cifar10` 读官方的 python 批文件（用受限的反序列化器，绝不执行文件里的代码），`cifar10-jpeg` 是同一批照片的
# JPEG 文件夹版本，`imagefolder:<path>` 可以读任何 ImageNet 那样组织的目录：`root/train/<类别>/<图片>` 和
# `root/val/<类别>/<图片>`（见 docs/cnn.zh-CN.md 和 docs/data.zh-CN.md）。自带的配方在 PyTorch 上训练（要用数据目录，
# 乘加次数也远远超出这一讲在 CPU 上能承受的范围），所以这里不跑，只给出命令：
#
# ```bash
# gradschool train --config cifar_cnn --data-dir ../shared/data
# ```
#
# 我们能低成本做的，是在 NumPy 引擎上把这个 ResNet 搭起来，让两张随机的"照片"穿过它。

# %%
resnet = cnn(engine.nn, "resnet", (3, 32, 32), 10, [16, 32, 64, 128])
photos = engine.tensor(rng.normal(size=(2, 3, 32, 32)).astype(np.float32))  # (N, 3, 32, 32)
print(
    t("first kernel of the first layer:", "第一层第一个卷积核的形状："),
    tuple(resnet[0].weight.shape[1:]),
    t("(3 colours x 3 x 3)", "（3 种颜色 x 3 x 3）"),
)
resnet.eval()  # batch norm with its running statistics
resnet_macs = layer_table(
    resnet, photos, keep=("Conv2d", "MaxPool2d", "Residual", "AdaptiveAvgPool2d", "Linear")
)
print(
    f"{t('total (all layers)', '合计（所有层）'):<36}{count_parameters(resnet):>10,}"
    f"{resnet_macs:>13,}"
)

# Give this Python process its BLAS threads back (train.threads = 1 set them for the runs).
set_threads(THREADS_BEFORE or 0)

# What the prose below quotes, from the runs above.
hist = {key: trainer.state.history for key, trainer in runs.items()}
test_acc = {key: 100 * h[-1]["test_acc"] for key, h in hist.items()}
mistakes = {key: int(np.sum(predicted[key] != data.y_test)) for key in runs}
step_ms = {key: 1000 * tr.state.train_time / tr.state.step for key, tr in runs.items()}
dips = [
    b["epoch"] for a, b in zip(hist["cnn"], hist["cnn"][1:]) if b["val_acc"] < a["val_acc"] - 0.002
]
dip_note = (
    t(
        f" The dip at epoch {dips[0]} is the large learning rate of the first third of the schedule; the step decay after it settles the run at once.",
        f"第 {dips[0]} 轮的那次下滑，是学习率调度前三分之一阶段学习率太大造成的；之后学习率按阶梯衰减降下来，马上就稳住了。",
    )
    if dips
    else ""
)

# %% [markdown] tags=["en"]
# ## What the runs show
#
# All numbers are this run's: {{ EPOCHS }} epochs on {{ len(data.y_train):, }} training images
# ({{ "quick mode; full mode trains 8 epochs on all 9,000" if QUICK else "full mode" }}).
#
# - **Same weights, fewer errors.** The CNN ({{ count_parameters(runs["cnn"].model):, }} weights) reaches {{ test_acc["cnn"]:.1f }}% on the
#   {{ n_test:, }} test digits, {{ mistakes["cnn"] }} mistakes; the source's MLP ({{ count_parameters(runs["mlp"].model):, }} weights), trained with
#   the same recipe on the same arrays, {{ test_acc["mlp"]:.1f }}%, {{ mistakes["mlp"] }} mistakes. The CNN is ahead from the first
#   epoch ({{ 100 * hist["cnn"][0]["val_acc"]:.1f }}% against {{ 100 * hist["mlp"][0]["val_acc"]:.1f }}% on validation).{{ dip_note }}
# - **The price is arithmetic.** {{ cnn_macs / 1e6:.1f }} million multiply-adds per image against {{ mlp_macs / 1e6:.2f }}
#   million: {{ cnn_macs / mlp_macs:.0f }} times as many, because each convolution weight is used at every position. On
#   the NumPy engine a CNN step took {{ step_ms["cnn"]:.0f }} ms against {{ step_ms["mlp"]:.1f }} ms for the MLP
#   ({{ runs["cnn"].state.train_time:.0f }} s against {{ runs["mlp"].state.train_time:.1f }} s of training), {{ step_ms["cnn"] / step_ms["mlp"]:.0f }} times: im2col's copies and col2im's
#   adds come on top of the matrix products (docs/cnn.md measures the engine against torch).
#   Times move with the load of the machine.
# - **Moved digits.** Two pixels to the right, the MLP falls from {{ 100 * shift_acc["mlp"][0]:.1f }}% to
#   {{ 100 * shift_acc["mlp"][2]:.1f }}% and the CNN only to {{ 100 * shift_acc["cnn"][2]:.1f }}%; at four pixels, {{ 100 * shift_acc["mlp"][4]:.1f }}% against
#   {{ 100 * shift_acc["cnn"][4]:.1f }}%. The CNN copes better, but it is not immune: its convolutions move with the
#   digit, but the Linear head reads the 7×7 maps position by position. Augmentation
#   (exercise 2) and a global average pool (the ResNet's) are the usual remedies.
# - **The errors left** are mostly digits a person would hesitate over too (see the figure).
#   {{ both_wrong }} of the CNN's {{ len(wrong) }} are wrong in the MLP as well.
# - **Three ways, one convolution.** The loops, the engine and PyTorch agree to
#   {{ max(conv_diffs):.0e }} (float64 rounding), and so do the gradients. On the 58-million multiply-add
#   layer the engine's one matrix product was {{ loop_seconds / engine_seconds:,.0f }} times faster than the loops.
#
# ## Summary
#
# - Images have structure an MLP throws away: neighbouring pixels form strokes, and a pattern
#   means the same wherever it is. A convolution keeps both: local connections and one small
#   kernel shared by every position.
# - A convolution is a dot product slid over the image; the output has
#   $\lfloor (H + 2p - k)/s \rfloor + 1$ rows. gradschool computes it as im2col: one view of all
#   windows (`sliding_windows`, the only new primitive) and one matrix product; the loops,
#   the engine and PyTorch agree to rounding, gradients included.
# - Max pooling halves the image and forgets small shifts; batch normalisation keeps each
#   channel at a steady scale so deep networks train.
# - With the same number of weights and the same recipe, a small LeNet beats the source's MLP
#   clearly on the embedded MNIST slice, and copes much better with moved digits — at about ten
#   times the arithmetic per image.
# - For colour photos: 3 input channels, a ResNet with batch norm and residual blocks, crop and
#   flip augmentation: `gradschool train --config cifar_cnn --data-dir ../shared/data`.

# %% [markdown] tags=["zh"]
# ## 实验结果说明了什么
#
# 下面的数字都来自这次运行：在 {{ len(data.y_train):, }} 张训练图上训练 {{ EPOCHS }} 轮（{{ "快速模式；完整模式用全部 9,000 张训练 8 轮" if QUICK else "完整模式" }}）。
#
# - **权重一样多，错误更少。** CNN（{{ count_parameters(runs["cnn"].model):, }} 个权重）在 {{ n_test:, }} 张测试图上的准确率是 {{ test_acc["cnn"]:.1f }}%，错 {{ mistakes["cnn"] }} 张；原文的
#   MLP（{{ count_parameters(runs["mlp"].model):, }} 个权重）用同样的配方、在同样的数组上训练，准确率 {{ test_acc["mlp"]:.1f }}%，错 {{ mistakes["mlp"] }} 张。CNN 从第一轮起就领先
#   （验证集 {{ 100 * hist["cnn"][0]["val_acc"]:.1f }}% 对 {{ 100 * hist["mlp"][0]["val_acc"]:.1f }}%）。{{ dip_note }}
# - **代价是计算量。** 每张图 {{ cnn_macs / 1e4:.0f }} 万次乘加，对比 MLP 的 {{ mlp_macs / 1e4:.0f }} 万次：多了 {{ cnn_macs / mlp_macs:.0f }} 倍，因为卷积的每个权重都要
#   在每个位置上用一遍。在 NumPy 引擎上，CNN 每步 {{ step_ms["cnn"]:.0f }} 毫秒，MLP 只要 {{ step_ms["mlp"]:.1f }} 毫秒（训练总共 {{ runs["cnn"].state.train_time:.0f }} 秒对
#   {{ runs["mlp"].state.train_time:.1f }} 秒），相差 {{ step_ms["cnn"] / step_ms["mlp"]:.0f }} 倍：除了矩阵乘法，还要加上 im2col 的复制和 col2im 的累加（引擎和 torch 的
#   速度对比见 docs/cnn.zh-CN.md）。时间会随机器的负载变化。
# - **挪动过的数字。** 右移两个像素，MLP 从 {{ 100 * shift_acc["mlp"][0]:.1f }}% 掉到 {{ 100 * shift_acc["mlp"][2]:.1f }}%，CNN 只掉到 {{ 100 * shift_acc["cnn"][2]:.1f }}%；右移四个像素时是
#   {{ 100 * shift_acc["mlp"][4]:.1f }}% 对 {{ 100 * shift_acc["cnn"][4]:.1f }}%。CNN 扛得住得多，但也不是完全不受影响：卷积层的输出会跟着数字一起移动，可分类头
#   的全连接层是按位置去读那 7×7 的特征图的。常用的补救办法是数据增强（练习 2）和全局平均池化（ResNet 就是这么做的）。
# - **剩下的错误**大多是人看了也会犹豫的数字（见上图）。CNN 错的 {{ len(wrong) }} 张里，有 {{ both_wrong }} 张 MLP 也错了。
# - **三种算法，同一个卷积。** 循环、引擎和 PyTorch 的结果相差 {{ max(conv_diffs):.0e }}（float64 的舍入误差），梯度也是。在那个
#   5800 万次乘加的卷积层上，引擎的一次矩阵乘法比循环快了 {{ loop_seconds / engine_seconds:,.0f }} 倍。
#
# ## 小结
#
# - 图像有 MLP 扔掉了的结构：相邻的像素组成笔画，同一个图案不管出现在哪儿意思都一样。卷积把这两点都保住了：局部连接，
#   再加上一个在所有位置共享的小卷积核。
# - 卷积就是在图上滑动的点积，输出的行数是 $\lfloor (H + 2p - k)/s \rfloor + 1$。gradschool 用 im2col 来算：把所有窗口
#   一次性拿出来当成视图（`sliding_windows`，唯一新增的原语），再做一次矩阵乘法；循环、引擎和 PyTorch 的结果只差舍入
#   误差，梯度也一样。
# - 最大池化把图缩小一半，顺带不在乎小的平移；批归一化让每个通道的尺度保持稳定，深层网络才训得动。
# - 权重个数相同、配方相同时，小 LeNet 在内置的 MNIST 小数据集上明显胜过原文的 MLP，面对挪动过的数字也稳得多——代价是
#   每张图的计算量大约是十倍。
# - 换成彩色照片：输入 3 个通道，用带批归一化和残差块的 ResNet，做裁剪加翻转的数据增强：
#   `gradschool train --config cifar_cnn --data-dir ../shared/data`。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 9 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 9`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 9 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 9` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import numpy as np

from gradschool import engine as E
from gradschool.config import load_config
from gradschool.course.exercises import Number, Open, exercise
from gradschool.models import build_model, cnn, count_parameters

exercise(
    1,
    en="""
        Shuffle the 784 pixels of every image with one fixed permutation
        (`perm = np.random.default_rng(0).permutation(784)`, then
        `X.reshape(len(X), -1)[:, perm].reshape(X.shape)` on `data.X_train`, `X_val`, `X_test`)
        and train both models again. Which one notices?
    """,
    zh="""
        用一个固定的排列打乱每张图的 784 个像素（`perm = np.random.default_rng(0).permutation(784)`，然后对
        `data.X_train`、`X_val`、`X_test` 各做一次 `X.reshape(len(X), -1)[:, perm].reshape(X.shape)`），再把两个模型各
        训练一遍。哪个模型会受影响？
    """,
    check=Open(),
    hints=[
        (
            "Does the MLP's first layer know which pixel is next to which? Does a 3×3 kernel?",
            "MLP 的第一层知道哪个像素挨着哪个吗？3×3 的卷积核呢？",
        )
    ],
    solution=(
        """
        The MLP does not notice: its first layer connects every pixel to every unit, and a
        fixed permutation of the inputs is just a permutation of its weight matrix's columns —
        it learns the same function, to the same accuracy up to noise. The CNN notices: its
        3×3 kernels and its pooling assume that neighbouring pixels belong together, and after
        the shuffle neighbours are unrelated pixels, so its accuracy drops well below the
        MLP's. That is what "the convolution's prior" means: local connections and shared
        weights are an assumption about images, right for photos and digits, wrong for data
        without that structure.
        """,
        """
        MLP 不受影响：它的第一层把每个像素连到每个单元，对输入做固定的排列，只相当于把权重矩阵的列换个顺序——它学到的是
        同一个函数，准确率在噪声范围内不变。CNN 受影响：它的 3×3 卷积核和池化都假定相邻的像素属于一起，打乱以后"邻居"
        成了毫不相干的像素，所以准确率明显降到 MLP 之下。这就是"卷积的先验"：局部连接和权重共享是对图像的一种假设，对照片
        和手写数字是对的，对没有这种结构的数据就错了。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Turn the augmentation back on (`"data.augment": ["shift:2"]`) and redo the shift test.
        How much does each model gain at 3 and 4 pixels?
    """,
    zh="""
        把数据增强重新打开（`"data.augment": ["shift:2"]`），再做一遍平移测试。挪 3 个、4 个像素时，两个模型各提高了
        多少？
    """,
    check=Open(),
    hints=[
        (
            "Train both configs again with the augmentation and run the shift test's loop on the new trainers; compare the rows at 3 and 4 pixels with the runs without it.",
            "加上数据增强把两个配置各训练一遍，用新的训练器跑平移测试的循环；把挪 3、4 个像素的那两行和没有增强时比较。",
        )
    ],
    solution=(
        """
        Both gain, the MLP most. With `shift:2` every training batch is moved by up to 2
        pixels, so the models see digits in more places; the MLP, which has nothing built in
        against shifts, learns them only from such examples, and its accuracy on shifted test
        digits rises a lot. The CNN already tolerates small shifts (shared kernels, pooling)
        and gains less. At 3 and 4 pixels — beyond the 2 seen in training — both still lose
        accuracy, the MLP more: augmentation teaches the shifts it shows, and a little beyond.
        Read the exact gains in your table, against the standard error of a test accuracy.
        """,
        """
        两个都有提高，MLP 提高得最多。`shift:2` 让每个训练批次最多平移 2 个像素，模型见到了出现在更多位置的数字；MLP 本身
        没有任何对付平移的结构，只能从这样的样本里学，所以它在平移后的测试图上准确率涨了很多。CNN 本来就能容忍小的平移
        （共享的卷积核、池化），涨得少一些。挪 3 个和 4 个像素——超出了训练时见过的 2 个——两者仍然会掉准确率，MLP 掉得
        更多：数据增强教会的是它展示过的平移，外加一点点。具体提高了多少，看你的表格，并和测试准确率的标准误差对照。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    3,
    en="""
        Try `"model.kernel_size": 5`, and `"model.batch_norm": True` with `"optim.lr": 0.1`.
        First count: how many weights does this lecture's CNN (channels [16, 32], hidden 64)
        have with 5×5 kernels? Then train: what do the two changes do to accuracy and to the
        time per step?
    """,
    zh="""
        试试 `"model.kernel_size": 5`，以及 `"model.batch_norm": True` 配 `"optim.lr": 0.1`。先数一数：这一讲的 CNN
        （通道 [16, 32]，分类头 64）用 5×5 卷积核时有多少个权重？再训练：这两个改动对准确率和每步用时各有什么影响？
    """,
    check=Number(
        lambda: count_parameters(cnn(E.nn, "lenet", (1, 28, 28), 10, [16, 32], 5, 64)), rel=0
    ),
    hints=[
        (
            'A `Conv2d(c_in, c_out, k)` has $c_{out} \\cdot c_{in} \\cdot k^2$ weights and $c_{out}$ biases. With "same" padding the image keeps its size, so the head does not change.',
            '一个 `Conv2d(c_in, c_out, k)` 有 $c_{out} \\cdot c_{in} \\cdot k^2$ 个权重和 $c_{out}$ 个偏置。"same" 填充让图像尺寸不变，所以分类头不变。',
        ),
        (
            "The head: Flatten gives $32 \\cdot 7 \\cdot 7$ values, then Linear to 64 and Linear to 10. Add the two convolutions' and the two Linear layers' weights and biases.",
            "分类头：Flatten 之后是 $32 \\cdot 7 \\cdot 7$ 个值，接 Linear 到 64，再 Linear 到 10。把两个卷积层和两个 Linear 层的权重、偏置加起来。",
        ),
    ],
    solution=(
        """
        {{ answer:,.0f }}: the convolutions grow from $9$ to $25$ weights per kernel
        ($16 \\cdot 1 \\cdot 25 + 16$ and $32 \\cdot 16 \\cdot 25 + 32$), while the head, which holds
        most of the weights, is unchanged ($1568 \\cdot 64 + 64 + 64 \\cdot 10 + 10$). The
        arithmetic per image grows by about $25/9$ in the convolutions, and so does the time
        per step; on 28×28 digits the larger field of view adds little accuracy. Batch
        normalisation keeps each channel's scale steady, which lets the larger rate 0.1 train
        stably and usually faster per epoch; it adds a little time per step (the statistics),
        and at test time it uses its running averages (`model.eval()`).
        """,
        """
        {{ answer:,.0f }} 个：卷积核的权重从每个 9 个变成 25 个（$16 \\cdot 1 \\cdot 25 + 16$ 和
        $32 \\cdot 16 \\cdot 25 + 32$），而占了大部分权重的分类头不变（$1568 \\cdot 64 + 64 + 64 \\cdot 10 + 10$）。卷积的计算量
        大约变成 $25/9$ 倍，每步用时也差不多这么涨；在 28×28 的数字上，更大的视野对准确率帮助不大。批归一化让每个通道的
        尺度保持稳定，所以更大的学习率 0.1 也能稳定训练，每轮通常进步更快；它每步多花一点时间（统计均值和方差），测试时
        用的是滑动平均（`model.eval()`）。
        """,
    ),
)

# %% tags=["exercise"]


def multiply_adds(model, shape=(1, 28, 28)) -> int:
    """Multiply-adds per image of the convolutions and Linear layers: each output value is one
    dot product as long as the layer's fan-in."""
    x, total = E.tensor(np.zeros((1, *shape), dtype=np.float32)), 0
    with E.no_grad():
        for layer in model:
            y = layer(x)
            if type(layer).__name__ in ("Conv2d", "Linear"):
                total += int(np.prod(y.shape[1:])) * int(np.prod(layer.weight.shape[1:]))
            x = y
    return total


def mnist_cnn_model():
    return build_model(E.nn, load_config("mnist_cnn").model, (1, 28, 28), 10)


exercise(
    4,
    en="""
        Count the multiply-adds per image of `configs/mnist_cnn.toml`'s own network
        ([32, 64], hidden 128) with `layer_table`, and train it for 2 epochs. Is four times the
        weights worth it here?
    """,
    zh="""
        用 `layer_table` 数一数 `configs/mnist_cnn.toml` 原本那个网络（[32, 64]，分类头 128）每张图的乘加次数，再训练
        2 轮。权重是我们这个网络的四倍，值得吗？
    """,
    check=Number(lambda: multiply_adds(mnist_cnn_model()), rel=0),
    hints=[
        (
            'Build it with `cnn(engine.nn, "lenet", (1, 28, 28), 10, [32, 64], 3, 128)` and call `layer_table(model, example)`: the function returns the total.',
            '用 `cnn(engine.nn, "lenet", (1, 28, 28), 10, [32, 64], 3, 128)` 建出来，再调用 `layer_table(model, example)`：它返回总数。',
        ),
        (
            "By hand: a convolution's output has $c_{out} \\cdot H \\cdot W$ values, each a dot product of length $c_{in} k^2$; the first runs on 28×28, the second on 14×14; the head's Linear layers add $3136 \\cdot 128 + 128 \\cdot 10$.",
            "手算：卷积的输出有 $c_{out} \\cdot H \\cdot W$ 个值，每个是长为 $c_{in} k^2$ 的点积；第一个卷积在 28×28 上算，第二个在 14×14 上算；分类头的 Linear 层再加 $3136 \\cdot 128 + 128 \\cdot 10$。",
        ),
    ],
    solution=(
        """
        {{ answer:,.0f }} multiply-adds per image:
        $32 \\cdot 28^2 \\cdot 9 + 64 \\cdot 14^2 \\cdot 32 \\cdot 9 + 3136 \\cdot 128 + 128 \\cdot 10$,
        for {{ count_parameters(mnist_cnn_model()):,.0f }} weights. The second convolution does
        most of the arithmetic; the head holds most of the weights. Trained for 2 epochs
        (`with_updates(cnn_config, {"model.channels": [32, 64], "model.hidden": 128,
        "train.epochs": 2})`) it costs several times the lecture's CNN per step. Compare the
        two test accuracies against the standard error of one (about 0.2 to 0.3 points near
        97–98% on the slice's test images): on 10,000 images a wider network usually gains
        little, and the smaller one is the better buy; the larger one pays off with more data (full MNIST) and more epochs.
        """,
        """
        每张图 {{ answer:,.0f }} 次乘加：
        $32 \\cdot 28^2 \\cdot 9 + 64 \\cdot 14^2 \\cdot 32 \\cdot 9 + 3136 \\cdot 128 + 128 \\cdot 10$，权重
        {{ count_parameters(mnist_cnn_model()):,.0f }} 个。计算量主要在第二个卷积层，权重主要在分类头。训练 2 轮
        （`with_updates(cnn_config, {"model.channels": [32, 64], "model.hidden": 128, "train.epochs": 2})`），每步的开销是本讲 CNN 的好几倍。把两者的测试准确率之差和一次测量的
        标准误差比一比（在小数据集的测试图上、准确率 97–98% 时约 0.2 到 0.3 个百分点）：只有 1 万张图时，更宽的网络
        通常提高不多，小网络更划算；大网络要在更多的数据（完整 MNIST）和更多轮数下才值回票价。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    5,
    en="""
        With full MNIST (`"data.dataset": "mnist"`, `"data.data_dir": "../shared/data"`), how
        close does the CNN get to the 99% that LeNet reached in 1998?
    """,
    zh="""
        换成完整的 MNIST（`"data.dataset": "mnist"`、`"data.data_dir": "../shared/data"`），CNN 能离 LeNet 在 1998 年达到的
        99% 有多近？
    """,
    check=Open(),
    hints=[
        (
            "`gradschool train --config mnist_cnn --data-dir DIR` is the full recipe (12 epochs, augmentation, a step schedule); docs/cnn.md has its results on both engines.",
            "`gradschool train --config mnist_cnn --data-dir DIR` 就是完整的配方（12 轮、数据增强、阶梯衰减）；docs/cnn.zh-CN.md 里有它在两个引擎上的结果。",
        )
    ],
    solution=(
        """
        With 60,000 training images the same kind of network reaches about 99% on the 10,000
        test digits: the lecture's small CNN gets close within a few epochs, and
        `configs/mnist_cnn.toml` (wider, with augmentation, a step schedule and 12 epochs)
        reaches or passes it (docs/cnn.md gives the measured figures on both engines). LeNet-5
        reached 99.05% in 1998 with hand-designed feature maps and much less compute; what
        changed since is not the idea (convolution, pooling, a small head) but ReLU, better
        initialisation and optimisers, augmentation and the hardware to try them.
        """,
        """
        有 60,000 张训练图时，同类网络在 1 万张测试图上能到 99% 左右：这一讲的小 CNN 几轮就能接近，而
        `configs/mnist_cnn.toml`（更宽，加数据增强、阶梯衰减、训练 12 轮）能达到甚至超过它（docs/cnn.zh-CN.md 里有两个
        引擎上的实测数字）。LeNet-5 在 1998 年用手工设计的特征图和少得多的算力达到了 99.05%；此后变的不是思路（卷积、
        池化、一个小分类头），而是 ReLU、更好的初始化和优化器、数据增强，以及能把这些都试一遍的硬件。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's piece is step 14, `conv2d`: im2col
# convolution (every window as a row, one matrix product) and its backward, col2im, which adds
# each window's gradient back to the pixels it came from — overlapping windows included.
#
# ```bash
# gradschool build start          # once: creates my-engine/, every step a blank to fill in
# gradschool build check conv2d   # step 14
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应第 14 步 `conv2d`：im2col 卷积（把每个窗口展成一行，做一次矩阵乘法），以及它的
# 反向 col2im：把每个窗口的梯度加回它所来自的那些像素上，窗口重叠的地方也要加对。
#
# ```bash
# gradschool build start          # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check conv2d   # 第 14 步
# ```
