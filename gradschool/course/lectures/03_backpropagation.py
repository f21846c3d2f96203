# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 3 s
#     full: 3 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 3. Backpropagation: the chain rule, four ways
#
# **Goal.** Compute the gradient of a small network's loss with respect to one weight in four
# independent ways — the chain rule by hand, the NumPy engine's `backward()`, PyTorch's
# autograd and a finite difference — and get four equal numbers. Then see what the engine
# did: a computational graph of primitive operations, walked backwards.

# %% [markdown] tags=["zh"]
# # 第 3 讲：反向传播：链式法则的四种算法
#
# **目标**：对一个小网络，用四种互相独立的方法算损失对某个权重的梯度——手推链式法则、NumPy 引擎的
# `backward()`、PyTorch 的自动求导、有限差分——得到四个相等的数。然后看看引擎到底做了什么：记录一张由基本运算
# 组成的计算图，再从后往前走一遍。

# %% [markdown] tags=["en"]
# ## The idea and its formula
#
# The source (section 3) writes backpropagation as
#
# $$
# \frac{\partial L}{\partial w_j} = \sum_{i=1}^{m}\frac{\partial L}{\partial z_i}\frac{\partial z_i}{\partial w_j}
# $$
#
# This is the multivariable chain rule, and it is right: the loss $L$ depends on $w_j$ only
# through the values $z_i$ that $w_j$ feeds, so the sensitivities along every path add up.
# Backpropagation applies it from the loss backwards, node by node, reusing each
# $\partial L / \partial z_i$ for everything below $z_i$. So one backward pass costs a small
# multiple of the forward pass, whatever the number of weights: usually about twice, 2–3x,
# because each layer that computed one matrix product going forward computes two going back
# (the gradient with respect to its input, and the one with respect to its weights). We count
# and time it below.
#
# One correction: the source says backpropagation "通过计算每个节点的梯度来更新模型参数" (updates
# the parameters). It does not: it only *computes* the gradient. Updating is the optimizer's job
# (`optimizer.step()`, lecture 2). In code the two are separate lines: `loss.backward()`, then
# `optimizer.step()`.

# %% [markdown] tags=["zh"]
# ## 思路与公式
#
# 原文第 3 节把反向传播写成
#
# $$
# \frac{\partial L}{\partial w_j} = \sum_{i=1}^{m}\frac{\partial L}{\partial z_i}\frac{\partial z_i}{\partial w_j}
# $$
#
# 这就是多元函数的链式法则，写得没错：损失 $L$ 只通过 $w_j$ 直接影响到的那些中间值 $z_i$ 依赖于 $w_j$，所以把每条
# 路径上的"敏感度"加起来就行。反向传播从损失出发，一个节点一个节点往回用这条法则，每个 $\partial L / \partial z_i$
# 算一次、给它下游的所有东西复用。所以不管有多少个权重，一次反向传播的开销都只是前向传播的一个小倍数：通常是两倍左右，
# 2–3 倍，因为前向时每层做一次矩阵乘法，反向时要做两次（一次求对输入的梯度，一次求对权重的梯度）。下面来数一数、测一测。
#
# 要纠正的一点：原文说反向传播"通过计算每个节点的梯度来更新模型参数"。其实反向传播只负责*算*梯度，
# 更新参数是优化器的事（`optimizer.step()`，见第 2 讲）。代码里它们就是两行：先 `loss.backward()`，
# 再 `optimizer.step()`。

# %% [markdown] tags=["en"]
# ## 1. A network small enough to differentiate by hand
#
# Two inputs, two hidden units with a sigmoid, one output, squared error. The hidden layer has
# the weights $W$ (2×2) and the bias $b = (b_1, b_2)$; the output unit the weights
# $v = (v_1, v_2)$ and the bias $c$:
#
# $$
# z = W x + b, \quad h = \sigma(z), \quad \hat{y} = v \cdot h + c, \quad L = \frac{1}{2}(\hat{y} - y)^2
# $$
#
# We want $\partial L / \partial W_{11}$ (row 1, column 1 of $W$). $W_{11}$ feeds only $z_1$, so the
# sum has one term, and the chain is
#
# $$
# \frac{\partial L}{\partial W_{11}} = \frac{\partial L}{\partial \hat{y}} \cdot \frac{\partial \hat{y}}{\partial h_1} \cdot \frac{\partial h_1}{\partial z_1} \cdot \frac{\partial z_1}{\partial W_{11}} = (\hat{y} - y) \cdot v_1 \cdot \sigma(z_1)(1 - \sigma(z_1)) \cdot x_1
# $$
#
# Everything is in float64, so the four answers can agree to about 10 digits.

# %% [markdown] tags=["zh"]
# ## 1. 一个小到能手算的网络
#
# 两个输入，两个 sigmoid 隐藏单元，一个输出，平方误差。隐藏层的权重是 $W$（2×2）、偏置是 $b = (b_1, b_2)$；输出单元的
# 权重是 $v = (v_1, v_2)$、偏置是 $c$：
#
# $$
# z = W x + b, \quad h = \sigma(z), \quad \hat{y} = v \cdot h + c, \quad L = \frac{1}{2}(\hat{y} - y)^2
# $$
#
# 我们要算 $\partial L / \partial W_{11}$（$W$ 第 1 行第 1 列）。$W_{11}$ 只影响 $z_1$，所以求和只有一项，链条是
#
# $$
# \frac{\partial L}{\partial W_{11}} = \frac{\partial L}{\partial \hat{y}} \cdot \frac{\partial \hat{y}}{\partial h_1} \cdot \frac{\partial h_1}{\partial z_1} \cdot \frac{\partial z_1}{\partial W_{11}} = (\hat{y} - y) \cdot v_1 \cdot \sigma(z_1)(1 - \sigma(z_1)) \cdot x_1
# $$
#
# 全部用 float64 计算，四个答案应该能对上大约 10 位有效数字。

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradschool import engine as E
from gradschool.course import show, t
from gradschool.gradcheck import numeric_grad

x = np.array([0.5, -1.2])  # the input
y = 0.8  # the target
W = np.array([[0.3, -0.7], [0.9, 0.4]])  # (hidden=2, inputs=2)
b = np.array([0.1, -0.2])
v = np.array([1.5, -0.6])  # the output unit's weights
c = np.array(0.05)  # and its bias


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# Forward, keeping every intermediate value.
z = W @ x + b
h = sigmoid(z)
y_hat = v @ h + c
L = 0.5 * (y_hat - y) ** 2
print(
    t("forward:", "前向："), f"z = {z.round(4)}, h = {h.round(4)}, y_hat = {y_hat:.4f}, L = {L:.6f}"
)

# Backward by hand: one local derivative per link of the chain.
dL_dyhat = y_hat - y
dyhat_dh1 = v[0]
dh1_dz1 = h[0] * (1 - h[0])
dz1_dW11 = x[0]
by_hand = dL_dyhat * dyhat_dh1 * dh1_dz1 * dz1_dW11
print(
    f"dL/dy_hat = {dL_dyhat:.6f}   dy_hat/dh1 = {dyhat_dh1}   dh1/dz1 = {dh1_dz1:.6f}   dz1/dW11 = {dz1_dW11}"
)
print(t("1. chain rule by hand:  ", "1. 手推链式法则：      "), f"{by_hand:.12f}")

# %% [markdown] tags=["en"]
# ## 2. The engine, torch, and a finite difference
#
# The same forward pass on engine tensors, then `L.backward()`; the same on torch tensors; and
# the central difference $\left(L(W_{11} + \epsilon) - L(W_{11} - \epsilon)\right) / 2\epsilon$ with
# $\epsilon = 10^{-6}$, which needs nothing but the forward pass
# (`gradschool.gradcheck.numeric_grad`).

# %% [markdown] tags=["zh"]
# ## 2. 引擎、torch 和有限差分
#
# 在引擎张量上做同样的前向计算，再 `L.backward()`；在 torch 张量上也来一遍；最后用中心差分
# $\left(L(W_{11} + \epsilon) - L(W_{11} - \epsilon)\right) / 2\epsilon$，取 $\epsilon = 10^{-6}$，它只需要前向计算
# （`gradschool.gradcheck.numeric_grad`）。


# %%
def loss_fn(W, b, v, c):
    """The network and its loss, written once for engine and torch tensors alike."""
    z = W @ input_like(W) + b  # (2,)
    h = 1 / (1 + (-z).exp())  # the sigmoid, built from primitives
    y_hat = (v * h).sum() + c
    return 0.5 * (y_hat - y) ** 2


def input_like(W):
    """x as a tensor of the same library and dtype as W."""
    if isinstance(W, E.Tensor):
        return E.tensor(x.astype(W.dtype))
    import torch

    return torch.from_numpy(x)


params = [W, b, v, c]
engine_params = [E.tensor(p.copy(), requires_grad=True) for p in params]
L_engine = loss_fn(*engine_params)
L_engine.backward()
engine_grad = engine_params[0].grad.numpy()[0, 0]
print(t("2. engine backward():   ", "2. 引擎 backward()：   "), f"{engine_grad:.12f}")

try:
    import torch

    torch_params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    loss_fn(*torch_params).backward()
    torch_grad = torch_params[0].grad[0, 0].item()
    print(t("3. torch autograd:      ", "3. torch 自动求导：    "), f"{torch_grad:.12f}")
except ImportError:
    torch_grad = None
    print(
        t(
            "3. torch autograd:       (torch is not installed: three numbers instead of four)",
            "3. torch 自动求导：     （没有安装 torch，只能比较三个数）",
        )
    )

numeric = numeric_grad(lambda *ps: loss_fn(*ps), params, eps=1e-6)
numeric_w11 = numeric[0][0, 0]
print(t("4. finite difference:   ", "4. 有限差分：          "), f"{numeric_w11:.12f}")

values = [by_hand, engine_grad, numeric_w11] + ([torch_grad] if torch_grad is not None else [])
print(t("largest disagreement:", "最大差异："), f"{max(values) - min(values):.1e}")

# %% [markdown] tags=["en"]
# Not just $W_{11}$: `backward()` filled the gradient of all nine parameters at once, in one
# pass. The finite difference needed two forward passes *per parameter* (18 here; 218,772 for
# the source's MNIST network) — which is why training uses backpropagation and keeps finite
# differences as a check.

# %% [markdown] tags=["zh"]
# 不只是 $W_{11}$：一次 `backward()` 就把全部九个参数的梯度都算好了。有限差分则是*每个参数*要做两次前向
# （这里 18 次；原文的 MNIST 网络要 218,772 次）——所以训练用反向传播，有限差分只用来做检查。

# %%
names = ["W11", "W12", "W21", "W22", "b1", "b2", "v1", "v2", "c"]  # as in the formula
engine_all = np.concatenate([p.grad.numpy().ravel() for p in engine_params])
numeric_all = np.concatenate([g.ravel() for g in numeric])
columns = {t("engine", "引擎"): engine_all, t("finite difference", "有限差分"): numeric_all}
if torch_grad is not None:
    columns["torch"] = np.concatenate([p.grad.numpy().ravel() for p in torch_params])
print(f"{t('parameter', '参数'):>10}" + "".join(f"{name:>20}" for name in columns))
for i, name in enumerate(names):
    print(f"{name:>10}" + "".join(f"{col[i]:20.12f}" for col in columns.values()))
print(
    t(
        "max |engine - finite difference| over all parameters:",
        "所有参数上 |引擎 - 有限差分| 的最大值：",
    ),
    f"{np.abs(engine_all - numeric_all).max():.1e}",
)

fig, ax = plt.subplots(figsize=(8, 3.4))
width = 0.8 / len(columns)
for k, (label, col) in enumerate(columns.items()):
    ax.bar(np.arange(len(names)) + (k - (len(columns) - 1) / 2) * width, col, width, label=label)
ax.set_xticks(range(len(names)), names)
ax.axhline(0, color="grey", lw=0.5)
ax.set(
    ylabel="∂L/∂θ",
    title=t(
        "The gradient of every parameter, computed independently",
        "每个参数的梯度，几种方法各自独立计算",
    ),
)
ax.legend()
show()

# %% [markdown] tags=["en"]
# ## What one backward pass costs
#
# The finite difference needs two forward passes per parameter; backpropagation needs one
# backward pass for all of them. How long is that pass? We time the source's MNIST network
# (784-128-64-10, lecture 6) on a batch of 256 images on the NumPy engine: the forward pass with
# its loss, then the backward pass, each the median of 15 repetitions.

# %% [markdown] tags=["zh"]
# ## 一次反向传播要花多少时间
#
# 有限差分每个参数要两次前向；反向传播一次就把所有参数的梯度算完。这一次要多久？我们在 NumPy 引擎上给原文的 MNIST
# 网络（784-128-64-10，第 6 讲）计时，一批 256 张图：先是带损失的前向计算，再是反向传播，各重复 15 次取中位数。

# %%
import time

from gradschool.backends import get_backend
from gradschool.models import mlp

numpy_engine = get_backend("numpy")
numpy_engine.manual_seed(0)
net = mlp(numpy_engine.nn, [784, 128, 64, 10])
rng = np.random.default_rng(0)
images = E.tensor(rng.standard_normal((256, 784)).astype(np.float32))  # (256, 784)
labels = E.tensor(rng.integers(0, 10, 256))  # (256,)


def forward():
    return E.nn.functional.cross_entropy(net(images), labels)


forward_times, backward_times = [], []
for _ in range(15):
    net.zero_grad()
    t0 = time.perf_counter()
    loss = forward()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    forward_times.append(t1 - t0)
    backward_times.append(t2 - t1)
forward_ms, backward_ms = 1000 * np.median(forward_times), 1000 * np.median(backward_times)
backward_ratio = backward_ms / forward_ms

# Multiply-adds of the matrix products (the elementwise steps are small beside them).
sizes = [784, 128, 64, 10]
layers = list(zip(sizes[:-1], sizes[1:]))  # (in, out) of each Linear layer
forward_macs = sum(256 * n_in * n_out for n_in, n_out in layers)
weight_grad_macs = forward_macs  # dL/dW = x^T @ dL/dy: the same size of product per layer
input_grad_macs = sum(256 * n_in * n_out for n_in, n_out in layers[1:])  # not the first layer
macs_ratio = (weight_grad_macs + input_grad_macs) / forward_macs
first_share = layers[0][0] * layers[0][1] / sum(a * b for a, b in layers)
print(
    t("multiply-adds: forward", "乘加次数：前向"),
    f"{forward_macs / 1e6:.1f}M,",
    t("backward", "反向"),
    f"{(weight_grad_macs + input_grad_macs) / 1e6:.1f}M",
    f"({macs_ratio:.2f}x)",
)
print(
    t("forward (with the loss):", "前向（含损失）："),
    f"{forward_ms:.2f} ms   ",
    t("backward:", "反向："),
    f"{backward_ms:.2f} ms   ",
    t("backward / forward:", "反向 / 前向："),
    f"{backward_ratio:.1f}x",
)

# %% [markdown] tags=["en"]
# Count first. Going forward, the three matrix products do {{ forward_macs / 1e6:.1f }} million
# multiply-adds. Going back, the gradients of the weights cost the same again, and each layer
# passes a gradient to the layer below it — except the first layer, whose input is the data,
# which needs no gradient. So the backward pass does {{ macs_ratio:.2f }} times the forward
# pass's work here, not 2: the first layer is {{ 100 * first_share:.0f }}% of the network's
# weights, and it is the one that skips a product. The clock says {{ backward_ratio:.1f }}x: close to
# the count, give or take the forward pass's own overhead (it also records the graph that the
# backward pass walks) and the scatter of timings on a busy machine. In a deep network, where the first layer is a small part of the work, the same
# count gives about 2x, and with the extra elementwise work 2–3x: that is the rule of thumb.
# Either way it is one pass for all 109,386 weights, where the finite difference would need
# 218,772 forward passes.

# %% [markdown] tags=["zh"]
# 先数一数。前向时三个矩阵乘法一共做 {{ forward_macs / 1e6:.1f }} 百万次乘加。反向时，求权重的梯度又是同样多，而且每层还要把
# 梯度传给下面一层——只有第一层例外：它的输入是数据，不需要梯度。所以这里反向的计算量是前向的 {{ macs_ratio:.2f }} 倍，
# 而不是 2 倍：第一层占了整个网络 {{ 100 * first_share:.0f }}% 的权重，省掉一次乘法的正是它。计时结果是 {{ backward_ratio:.1f }} 倍：和数出来
# 的差不多，差别来自前向自己的开销（它还要记下反向要走的计算图）以及机器忙时计时的波动。在很深的网络里，第一层只占一小部分计算，同样的算法得出的
# 是 2 倍左右，再加上逐元素的运算就是 2–3 倍：这就是常说的经验值。无论如何，它一次就算出全部 109,386 个权重的梯度，
# 而有限差分要做 218,772 次前向计算。

# %% [markdown] tags=["en"]
# ## 3. What `backward()` walked through
#
# Every engine operation records its inputs and a small function that turns the gradient of
# its output into gradients of its inputs (`gradschool/engine/tensor.py`: each primitive's
# backward sits beside its forward). `backward()` sorts the recorded graph topologically and
# visits it from the loss back to the leaves. Here is that order for our loss:

# %% [markdown] tags=["zh"]
# ## 3. `backward()` 走过了哪些节点
#
# 引擎的每个运算都会记下它的输入，以及一个小函数：拿到输出的梯度，算出各个输入的梯度
# （`gradschool/engine/tensor.py` 里每个基本运算的反向函数就写在它的前向旁边）。`backward()` 把记录下来的
# 计算图做拓扑排序，从损失一路走回叶子节点。下面就是我们这个损失的访问顺序：

# %%
from gradschool.engine.tensor import topological_order

# NOTE: backward() frees the graph it walks, so we record a fresh forward pass and ask the
# inner nodes to keep their gradients (retain_grad, as in torch) before walking it.
fresh = [E.tensor(p.copy(), requires_grad=True) for p in params]
L_graph = loss_fn(*fresh)
order = list(reversed(topological_order(L_graph)))  # the loss first, the leaves last
for node in order:
    if not node.is_leaf:
        node.retain_grad()
L_graph.backward()
for k, node in enumerate(order):
    kind = node._op or (t("parameter", "参数") if node.requires_grad else t("constant", "常量"))
    grad = "-" if node.grad is None else np.round(node.grad.numpy(), 5).tolist()
    print(f"{k:2d}  {kind:<10} shape={str(node.shape):<7} " + t("gradient", "梯度") + f" = {grad}")
print(
    t(
        f"{len(order)} nodes, visited from the loss (0) back to the inputs",
        f"共 {len(order)} 个节点，从损失（0 号）一路访问回输入",
    )
)


# %% [markdown] tags=["en"]
# ## 4. How small should $\epsilon$ be?
#
# The finite difference has two errors: truncation, $O(\epsilon^2)$ for the central difference,
# which wants $\epsilon$ small, and rounding, about $10^{-16} / \epsilon$ in float64, which wants it
# large. Their sum is smallest near $\epsilon \approx 10^{-5}$–$10^{-6}$ — why
# `gradschool gradcheck` uses float64 and $\epsilon = 10^{-6}$. In float32 (machine precision
# $10^{-7}$) the best error is only about $10^{-4}$ relative: never gradient-check in float32.

# %% [markdown] tags=["zh"]
# ## 4. $\epsilon$ 取多小合适？
#
# 有限差分有两种误差：截断误差，中心差分是 $O(\epsilon^2)$，希望 $\epsilon$ 越小越好；舍入误差，float64 下大约是
# $10^{-16} / \epsilon$，希望 $\epsilon$ 大一些。两者之和在 $\epsilon \approx 10^{-5}$–$10^{-6}$ 附近最小——这就是
# `gradschool gradcheck` 用 float64、取 $\epsilon = 10^{-6}$ 的原因。float32 的机器精度只有 $10^{-7}$，最好也只能做到
# 约 $10^{-4}$ 的相对误差：千万别用 float32 做梯度检查。

# %%
epsilons = np.logspace(-12, -1, 45)
fig, ax = plt.subplots(figsize=(7, 3.6))
for dtype, style in ((np.float64, "-o"), (np.float32, "-s")):
    errors = []
    for eps in epsilons:
        e = dtype(eps)
        plus = [p.astype(dtype) for p in params]
        minus = [p.astype(dtype) for p in params]
        plus[0] = plus[0].copy()
        minus[0] = minus[0].copy()
        plus[0][0, 0] += e
        minus[0][0, 0] -= e
        lp = float(loss_fn(*[E.tensor(p) for p in plus]))
        lm = float(loss_fn(*[E.tensor(p) for p in minus]))
        errors.append(abs((lp - lm) / (2 * float(e)) - by_hand) / abs(by_hand))
    ax.loglog(epsilons, np.maximum(errors, 1e-17), style, ms=3, label=str(np.dtype(dtype)))
ax.axvline(1e-6, color="grey", ls=":", lw=1)
ax.set(
    xlabel="ε",
    ylabel=t("relative error", "相对误差"),
    title=t("Central difference: truncation vs rounding", "中心差分：截断误差与舍入误差"),
)
ax.legend()
show()

# %% [markdown] tags=["en"]
# ## Summary
#
# - Backpropagation is the chain rule applied from the loss backwards; the source's formula
#   $\partial L/\partial w_j = \sum_i (\partial L/\partial z_i)(\partial z_i/\partial w_j)$ is exactly that.
# - It computes gradients; the optimizer updates the parameters.
# - By hand, the NumPy engine, torch and a finite difference give the same number (to ~1e-10 in
#   float64). gradschool's tests check every engine operation this way
#   (`tests/op_check.py`, and `gradschool gradcheck` from the command line).
# - A finite difference is a great witness and a terrible trainer: two forward passes per
#   parameter, and only meaningful in float64 with a well-chosen $\epsilon$.
#
# ## Exercises
#
# 1. Derive $\partial L / \partial x_1$ by hand. $x_1$ feeds *both* hidden units: the source's sum
#    now has two terms. Check against the engine (make `x` a tensor with `requires_grad=True`).
# 2. Replace the sigmoid by `tanh` (derivative $1 - \tanh^2$) and redo the four-way comparison.
# 3. Use the forward difference $(L(W_{11}+\epsilon) - L(W_{11}))/\epsilon$ instead of the central
#    one. How does the best achievable error in the last figure change, and why?
# 4. Read `Tensor.__mul__` in `gradschool/engine/tensor.py`: what does its `backward` return, and
#    why does it need the *other* input's value?

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 反向传播就是从损失出发、往回应用链式法则；原文的公式 $\partial L/\partial w_j = \sum_i (\partial L/\partial z_i)(\partial z_i/\partial w_j)$
#   说的正是这件事。
# - 反向传播只算梯度，参数由优化器来更新。
# - 手推、NumPy 引擎、torch、有限差分四种方法给出同一个数（float64 下误差约 1e-10）。gradschool 的测试就是这样
#   检查引擎里每个运算的（`tests/op_check.py`，命令行里是 `gradschool gradcheck`）。
# - 有限差分是很好的"证人"，却是很差的"训练方法"：每个参数要两次前向，而且只有在 float64 加上合适的 $\epsilon$
#   时才靠得住。
#
# ## 练习
#
# 1. 手推 $\partial L / \partial x_1$。$x_1$ 同时影响*两个*隐藏单元，原文公式里的求和这次有两项。用引擎核对一下
#    （把 `x` 变成 `requires_grad=True` 的张量）。
# 2. 把 sigmoid 换成 `tanh`（导数是 $1 - \tanh^2$），重新做四方对比。
# 3. 把中心差分换成前向差分 $(L(W_{11}+\epsilon) - L(W_{11}))/\epsilon$。最后那张图里能达到的最小误差怎么变？为什么？
# 4. 读一读 `gradschool/engine/tensor.py` 里的 `Tensor.__mul__`：它的 `backward` 返回什么？为什么需要*另一个*输入的值？
