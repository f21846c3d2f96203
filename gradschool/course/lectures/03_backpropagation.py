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

# %% network
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

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 3 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 3`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 3 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 3` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import numpy as np

from gradschool import engine as E
from gradschool.course.exercises import Formula, Number, Open, exercise

# The network of section 1, with every number a variable: x (2,), W (2, 2), b (2,), v (2,), c, y.
NETWORK = {
    name: (-2.0, 2.0)
    for name in ("x1", "x2", "W11", "W12", "W21", "W22", "b1", "b2", "v1", "v2", "c", "y")
}


def forward_values(activation):
    """The forward pass's values (z1, z2, h1, h2, y_hat) at a point of NETWORK."""

    def derived(x1, x2, W11, W12, W21, W22, b1, b2, v1, v2, c, y):
        z1, z2 = W11 * x1 + W12 * x2 + b1, W21 * x1 + W22 * x2 + b2
        h1, h2 = activation(z1), activation(z2)
        return {"z1": z1, "z2": z2, "h1": h1, "h2": h2, "y_hat": v1 * h1 + v2 * h2 + c}

    return derived


def autograd(activation, wrt):
    """dL/d(wrt) by the engine's backward(), for the network with `activation`."""

    def gradient(**p):
        x = E.tensor(np.array([p["x1"], p["x2"]]), requires_grad=True)
        W = E.tensor(np.array([[p["W11"], p["W12"]], [p["W21"], p["W22"]]]), requires_grad=True)
        b, v = E.tensor(np.array([p["b1"], p["b2"]])), E.tensor(np.array([p["v1"], p["v2"]]))
        h = activation(W @ x + b)
        loss = 0.5 * ((v * h).sum() + p["c"] - p["y"]) ** 2
        loss.backward()
        return {"x1": x.grad.numpy()[0], "W11": W.grad.numpy()[0, 0]}[wrt]

    return gradient


exercise(
    1,
    en="""
        Derive $\\partial L / \\partial x_1$ by hand. $x_1$ feeds *both* hidden units: the
        source's sum now has two terms. Answer with a formula in the network's numbers `x1, x2,
        W11, W12, W21, W22, b1, b2, v1, v2, c, y` and the forward values `z1, z2, h1, h2, y_hat`
        (for instance `(y_hat - y) * v1`); the check compares it with the engine's `backward()`
        at random points.
    """,
    zh="""
        手推 $\\partial L / \\partial x_1$。$x_1$ 同时影响*两个*隐藏单元，原文公式里的求和这次有两项。用公式作答，
        变量是网络里的数 `x1, x2, W11, W12, W21, W22, b1, b2, v1, v2, c, y` 和前向算出的 `z1, z2, h1, h2, y_hat`
        （比如 `(y_hat - y) * v1`）；检查时会在随机取的点上和引擎的 `backward()` 比较。
    """,
    check=Formula(
        answer="(y_hat - y) * (v1 * h1 * (1 - h1) * W11 + v2 * h2 * (1 - h2) * W21)",
        reference=autograd(lambda z: 1 / (1 + (-z).exp()), "x1"),
        variables=NETWORK,
        derived=forward_values(lambda z: 1 / (1 + np.exp(-z))),
    ),
    hints=[
        (
            "Follow every path from $x_1$ to $L$: $x_1 \\to z_1 \\to h_1 \\to \\hat{y}$ and $x_1 \\to z_2 \\to h_2 \\to \\hat{y}$. Each path contributes the product of its local derivatives.",
            "把从 $x_1$ 到 $L$ 的每条路径都找出来：$x_1 \\to z_1 \\to h_1 \\to \\hat{y}$ 和 $x_1 \\to z_2 \\to h_2 \\to \\hat{y}$。每条路径贡献它上面各个局部导数的乘积。",
        ),
        (
            "$\\partial z_j / \\partial x_1 = W_{j1}$ (the first *column* of W), $\\partial h_j / \\partial z_j = h_j(1 - h_j)$, $\\partial \\hat{y} / \\partial h_j = v_j$, $\\partial L / \\partial \\hat{y} = \\hat{y} - y$.",
            "$\\partial z_j / \\partial x_1 = W_{j1}$（W 的第一*列*），$\\partial h_j / \\partial z_j = h_j(1 - h_j)$，$\\partial \\hat{y} / \\partial h_j = v_j$，$\\partial L / \\partial \\hat{y} = \\hat{y} - y$。",
        ),
    ],
    solution=(
        """
        $$
        \\frac{\\partial L}{\\partial x_1} = (\\hat{y} - y) \\sum_{j=1}^{2} v_j\\, h_j (1 - h_j)\\, W_{j1}
        $$

        `{{ answer }}`. One term per hidden unit, because $x_1$ reaches the loss through both;
        the weights are $W_{11}$ and $W_{21}$, the first column of $W$ ($z_j = W_{j1} x_1 +
        W_{j2} x_2 + b_j$). To check it on the lecture's numbers: `x = E.tensor(x, requires_grad=True)`,
        run the forward pass, `L.backward()`, and compare `x.grad[0]` with the formula.
        """,
        """
        $$
        \\frac{\\partial L}{\\partial x_1} = (\\hat{y} - y) \\sum_{j=1}^{2} v_j\\, h_j (1 - h_j)\\, W_{j1}
        $$

        `{{ answer }}`。每个隐藏单元一项，因为 $x_1$ 经过两个隐藏单元都能影响损失；用到的权重是 $W_{11}$ 和
        $W_{21}$，即 $W$ 的第一列（$z_j = W_{j1} x_1 + W_{j2} x_2 + b_j$）。在本讲的数上验证：
        `x = E.tensor(x, requires_grad=True)`，做一遍前向，`L.backward()`，再把 `x.grad[0]` 和公式比较。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Replace the sigmoid by `tanh` (derivative $1 - \\tanh^2$) and redo the four-way
        comparison. First by hand: answer with the formula of $\\partial L / \\partial W_{11}$ for
        the tanh network, in the same variables as exercise 1 (now `h1 = tanh(z1)`).
    """,
    zh="""
        把 sigmoid 换成 `tanh`（导数是 $1 - \\tanh^2$），重新做四方对比。先手推：用公式写出 tanh 网络的
        $\\partial L / \\partial W_{11}$，变量和练习 1 相同（只是现在 `h1 = tanh(z1)`）。
    """,
    check=Formula(
        answer="(y_hat - y) * v1 * (1 - h1**2) * x1",
        reference=autograd(lambda z: z.tanh(), "W11"),
        variables=NETWORK,
        derived=forward_values(np.tanh),
    ),
    hints=[
        (
            "The chain is the one of section 1, $\\partial L/\\partial \\hat{y} \\cdot \\partial \\hat{y}/\\partial h_1 \\cdot \\partial h_1/\\partial z_1 \\cdot \\partial z_1/\\partial W_{11}$; only the third factor changes.",
            "链条和第 1 节一样：$\\partial L/\\partial \\hat{y} \\cdot \\partial \\hat{y}/\\partial h_1 \\cdot \\partial h_1/\\partial z_1 \\cdot \\partial z_1/\\partial W_{11}$；只有第三个因子变了。",
        ),
        (
            "Write the derivative of tanh with the value it already computed: $\\tanh'(z_1) = 1 - h_1^2$.",
            "用已经算出的值来写 tanh 的导数：$\\tanh'(z_1) = 1 - h_1^2$。",
        ),
    ],
    solution=(
        """
        `{{ answer }}`: $\\partial L/\\partial W_{11} = (\\hat{y} - y)\\, v_1\\, (1 - h_1^2)\\, x_1$.
        In the lecture's code: `h = np.tanh(z)` in the forward pass, `dh1_dz1 = 1 - h[0] ** 2`
        by hand, and `h = z.tanh()` in `loss_fn` for the engine and torch (both have `tanh`);
        `numeric_grad` needs no change. The four numbers agree again to about $10^{-10}$: the
        chain rule does not care which activation sits in the chain, only that each link's
        derivative is right.
        """,
        """
        `{{ answer }}`：$\\partial L/\\partial W_{11} = (\\hat{y} - y)\\, v_1\\, (1 - h_1^2)\\, x_1$。改本讲的代码：前向里
        `h = np.tanh(z)`，手推的那一项 `dh1_dz1 = 1 - h[0] ** 2`，`loss_fn` 里给引擎和 torch 用 `h = z.tanh()`（两者都有
        `tanh`）；`numeric_grad` 不用改。四个数又一致到 $10^{-10}$ 左右：链式法则不在乎链条里是哪种激活函数，只要每一环的
        导数是对的。
        """,
    ),
)

# %% tags=["exercise"]


def forward_difference_best_exponent() -> int:
    """The k for which eps = 10**k gives the forward difference of dL/dW11 (float64, the
    lecture's network) closest to the chain rule's value."""

    def loss(w11: float) -> float:
        weights = W.copy()
        weights[0, 0] = w11
        return 0.5 * (v @ sigmoid(weights @ x + b) + c - y) ** 2

    errors = {}
    for k in range(-15, 0):
        eps = 10.0**k
        estimate = (loss(W[0, 0] + eps) - loss(W[0, 0])) / eps
        errors[k] = abs(estimate - by_hand) / abs(by_hand)
    return min(errors, key=errors.get)


exercise(
    3,
    en="""
        Use the forward difference $(L(W_{11}+\\epsilon) - L(W_{11}))/\\epsilon$ instead of the
        central one, in float64. For which $\\epsilon = 10^k$ is its error smallest? Answer k,
        then explain why the best achievable error is worse than the central difference's.
    """,
    zh="""
        把中心差分换成前向差分 $(L(W_{11}+\\epsilon) - L(W_{11}))/\\epsilon$，用 float64。$\\epsilon = 10^k$ 取多少时
        误差最小？回答 k，再解释为什么它能达到的最小误差比中心差分的差。
    """,
    check=Number(forward_difference_best_exponent, rel=0, abs=1),
    hints=[
        (
            "Two errors compete. Truncation: a forward difference is off by about $\\frac{\\epsilon}{2} L''$ (the central one by $\\epsilon^2$). Rounding: $L$ is known to about $10^{-16} L$, divided by $\\epsilon$.",
            "两种误差在较劲。截断误差：前向差分大约差 $\\frac{\\epsilon}{2} L''$（中心差分差 $\\epsilon^2$ 量级）。舍入误差：$L$ 本身只精确到 $10^{-16} L$ 左右，还要除以 $\\epsilon$。",
        ),
        (
            "The sum $\\epsilon + 10^{-16}/\\epsilon$ is smallest where the two terms are equal: $\\epsilon \\approx \\sqrt{10^{-16}}$. Or sweep k from -15 to -1 in the last cell, with `plus` only.",
            "$\\epsilon + 10^{-16}/\\epsilon$ 在两项相等时最小：$\\epsilon \\approx \\sqrt{10^{-16}}$。也可以在最后那个单元里只用 `plus`，让 k 从 -15 扫到 -1。",
        ),
    ],
    solution=(
        """
        k = {{ answer:.0f }} (one either side is accepted). The forward difference's truncation
        error is first order, about $\\frac{\\epsilon}{2}|L''|$, against the central difference's
        $\\frac{\\epsilon^2}{6}|L'''|$; the rounding error is the same for both, about
        $u|L|/\\epsilon$ with $u \\approx 10^{-16}$. Balancing $\\epsilon$ against $u/\\epsilon$
        puts the best $\\epsilon$ near $\\sqrt{u} \\approx 10^{-8}$, with an error of the same
        size, $\\approx 10^{-8}$; balancing $\\epsilon^2$ against $u/\\epsilon$ puts the central
        difference's best near $u^{1/3} \\approx 10^{-5}$, with an error near
        $u^{2/3} \\approx 10^{-11}$. That is why gradient checks use the central difference.
        """,
        """
        k = {{ answer:.0f }}（差 1 也算对）。前向差分的截断误差是一阶的，约 $\\frac{\\epsilon}{2}|L''|$，中心差分是
        $\\frac{\\epsilon^2}{6}|L'''|$；两者的舍入误差一样，约 $u|L|/\\epsilon$，$u \\approx 10^{-16}$。让 $\\epsilon$ 和
        $u/\\epsilon$ 相等，最好的 $\\epsilon$ 在 $\\sqrt{u} \\approx 10^{-8}$ 附近，误差也是这个量级，约 $10^{-8}$；
        让 $\\epsilon^2$ 和 $u/\\epsilon$ 相等，中心差分最好的 $\\epsilon$ 在 $u^{1/3} \\approx 10^{-5}$ 附近，误差约
        $u^{2/3} \\approx 10^{-11}$。所以做梯度检查都用中心差分。
        """,
    ),
    setup=("network",),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        Read `Tensor.__mul__` in `gradschool/engine/tensor.py`: what does its `backward`
        return, and why does it need the *other* input's value?
    """,
    zh="""
        读一读 `gradschool/engine/tensor.py` 里的 `Tensor.__mul__`：它的 `backward` 返回什么？为什么需要*另一个*
        输入的值？
    """,
    check=Open(),
    hints=[
        (
            "For $out = a \\cdot b$, what are $\\partial out/\\partial a$ and $\\partial out/\\partial b$?",
            "对 $out = a \\cdot b$，$\\partial out/\\partial a$ 和 $\\partial out/\\partial b$ 分别是什么？",
        )
    ],
    solution=(
        """
        It returns one gradient per input, `(g * b.data, g * a.data)`, each summed back to its
        input's shape (`_unbroadcast`; None for an input that needs no gradient), where `g` is
        $\\partial L/\\partial out$. Since
        $\\partial (ab)/\\partial a = b$ and $\\partial (ab)/\\partial b = a$, each input's
        gradient is the output's gradient times the *other* input: so the forward pass must
        keep both inputs until the backward pass has run. That is the memory cost of
        backpropagation — every intermediate value of the forward pass is held (lecture 12
        counts it for GPT-3) — and why `backward()` frees the graph when it is done.
        """,
        """
        它返回每个输入各一个梯度，`(g * b.data, g * a.data)`，各自按输入的形状求和还原（`_unbroadcast`；不需要梯度的
        输入返回 None），`g` 是
        $\\partial L/\\partial out$。因为 $\\partial (ab)/\\partial a = b$、$\\partial (ab)/\\partial b = a$，每个输入的梯度是
        输出的梯度乘以*另一个*输入：所以前向计算必须把两个输入都留着，直到反向传播用完为止。这正是反向传播的内存开销——
        前向的每个中间值都要保存（第 12 讲会给 GPT-3 算这笔账）——也是 `backward()` 用完就把计算图释放掉的原因。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture is the track's core: the backwards of the
# primitive ops, each a local derivative times the incoming gradient, summed back to its
# input's shape — step 1 `add` (and `_unbroadcast`), 2 `mul`, 3 `matmul`, 4 `exp`, 5 `log`,
# 7 `sum` — and step 8, `backward`: the topological sort that visits them in order.
#
# ```bash
# gradschool build start              # once: creates my-engine/, every step a blank to fill in
# gradschool build check add          # step 1, then mul, matmul, exp, log
# gradschool build check mul
# gradschool build check matmul
# gradschool build check exp
# gradschool build check log
# gradschool build check sum          # step 7
# gradschool build check backward     # step 8
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲是整个实践的核心：各个原语运算的反向传播——每个都是局部导数乘上传进来的梯度，再按输入的
# 形状求和还原——第 1 步 `add`（以及 `_unbroadcast`）、第 2 步 `mul`、第 3 步 `matmul`、第 4 步 `exp`、第 5 步
# `log`、第 7 步 `sum`；还有第 8 步 `backward`：按拓扑顺序把它们逐个走一遍。
#
# ```bash
# gradschool build start              # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check add          # 第 1 步，接着是 mul、matmul、exp、log
# gradschool build check mul
# gradschool build check matmul
# gradschool build check exp
# gradschool build check log
# gradschool build check sum          # 第 7 步
# gradschool build check backward     # 第 8 步
# ```
