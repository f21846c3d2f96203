# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 4 s
#     full: 4 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 1. From a neuron to a layer to an MLP
#
# **Goal.** Know exactly what a *neuron*, a *layer* and a *multi-layer perceptron* (MLP) compute,
# build each one with gradschool's NumPy engine and with PyTorch, watch an MLP learn what a
# single neuron cannot, and place the words *AI*, *deep learning*, *neural network* and
# *large model* correctly.
#
# This is section 2 of the source ("2.核心概念与联系", core concepts and how they relate).

# %% [markdown] tags=["zh"]
# # 第 1 讲：从神经元到层，再到多层感知机
#
# **目标**：弄清楚一个*神经元*、一层*全连接层*、一个*多层感知机*（MLP）到底在算什么；分别用
# gradschool 自己写的 NumPy 引擎和 PyTorch 把它们搭出来；亲眼看到 MLP 能学会单个神经元学不会的
# 东西；最后把"人工智能、深度学习、神经网络、大模型"这几个词的关系摆正。
#
# 对应原文第 2 节"核心概念与联系"。

# %% [markdown] tags=["en"]
# ## What the source says, and what to correct
#
# The source defines four terms and links them. Most of it is fine as a first picture; three
# statements need fixing:
#
# | the source says | more precisely |
# |---|---|
# | 深度学习"通过模拟人类大脑中的神经网络来学习" (deep learning *simulates* the brain's neural networks) | Artificial neurons were *inspired* by biology, but a network simulates nothing: each neuron is the function $y = \varphi(w \cdot x + b)$, and learning is minimising a loss by gradient descent. |
# | 神经网络"由多个节点和连接节点的权重组成" (nodes and weights) | Also *biases* and a nonlinear *activation*, organised in *layers*; without the activation, any stack of layers is one linear map (shown below). |
# | "大模型通常由多个神经网络组成，这些神经网络之间通过连接节点和权重进行通信" (a large model is made of several neural networks that communicate) | That is not how the term is used today. A large model (GPT, LLaMA, ...) is **one** neural network — a deep stack of the same blocks (for GPT: attention + MLP) — with billions of parameters, trained end to end on a great deal of data. Even a mixture-of-experts model, which routes each token to a few expert sub-networks, is one network trained as a whole. |
#
# And the hierarchy: *machine learning* is a part of *AI* (learning from data rather than
# hand-written rules); *deep learning* is machine learning with many-layered neural networks;
# a *large model* is a very big deep network, usually pretrained on broad data and then adapted.

# %% [markdown] tags=["zh"]
# ## 原文怎么说，哪里要改
#
# 原文给了四个概念和它们的联系。作为第一印象大体没问题，但有三句话需要纠正：
#
# | 原文 | 更准确的说法 |
# |---|---|
# | 深度学习"通过模拟人类大脑中的神经网络来学习" | 人工神经元只是*受*生物神经元*启发*，网络本身并不模拟大脑：每个神经元就是一个函数 $y = \varphi(w \cdot x + b)$，所谓"学习"就是用梯度下降把损失函数降下去。 |
# | 神经网络"由多个节点和连接节点的权重组成" | 还少了*偏置*和非线性的*激活函数*，而且节点是按*层*组织的。没有激活函数的话，叠多少层都等价于一个线性变换（下面会用代码验证）。 |
# | "大模型通常由多个神经网络组成，这些神经网络之间通过连接节点和权重进行通信和协同工作" | 现在业内不是这么用这个词的。GPT、LLaMA 这样的大模型是**一个**神经网络：同一种模块（GPT 里是注意力 + MLP）一层层堆起来，参数几十亿以上，在海量数据上端到端地训练。就算是混合专家（MoE）模型，把每个 token 路由给少数几个"专家"子网络，它也是整体一起训练的一个网络，而不是几个网络在"通信"。 |
#
# 几个词的层级关系：*机器学习*是*人工智能*的一部分（从数据里学，而不是手写规则）；*深度学习*是用多层
# 神经网络做机器学习；*大模型*则是规模很大的深度网络，通常先在大量通用数据上预训练，再针对具体任务做调整。

# %% [markdown] tags=["en"]
# ## 1. A neuron
#
# A neuron takes inputs $x_1, \dots, x_n$, weighs them, adds a bias and passes the sum through
# an activation function $\varphi$:
#
# $$
# y = \varphi\left(\sum_{i=1}^{n} w_i x_i + b\right) = \varphi(w \cdot x + b)
# $$
#
# Common activations: ReLU $\max(0, z)$, the sigmoid $1/(1+e^{-z})$ and tanh. We compute one
# neuron by hand with NumPy, then with engine tensors — the same numbers.

# %% [markdown] tags=["zh"]
# ## 1. 一个神经元
#
# 神经元接收输入 $x_1, \dots, x_n$，每个输入乘上权重，加上偏置，再过一个激活函数 $\varphi$：
#
# $$
# y = \varphi\left(\sum_{i=1}^{n} w_i x_i + b\right) = \varphi(w \cdot x + b)
# $$
#
# 常见的激活函数有 ReLU $\max(0, z)$、sigmoid $1/(1+e^{-z})$ 和 tanh。下面先用 NumPy 手算一个神经元，
# 再用引擎的张量算一遍，结果完全一样。

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradschool import engine as E
from gradschool.course import show, t

x = np.array([0.5, -1.0, 2.0])  # three inputs
w = np.array([0.8, 0.2, -0.4])  # one weight per input
b = 1.0

z = w @ x + b  # the weighted sum
print(t("weighted sum z = w·x + b =", "加权和 z = w·x + b ="), round(float(z), 4))
print(t("ReLU(z) =", "ReLU(z) ="), round(max(0.0, float(z)), 4))
print(t("sigmoid(z) =", "sigmoid(z) ="), round(float(1 / (1 + np.exp(-z))), 4))

# The same neuron with engine tensors: what a layer does, one output wide.
xt, wt = E.tensor(x), E.tensor(w)
zt = (xt * wt).sum() + b
print(t("engine: z =", "引擎：z ="), round(float(zt), 4), " ReLU(z) =", round(float(zt.relu()), 4))

# %%
zs = np.linspace(-4, 4, 200)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(zs, np.maximum(0, zs), label="ReLU")
ax.plot(zs, 1 / (1 + np.exp(-zs)), label="sigmoid")
ax.plot(zs, np.tanh(zs), label="tanh")
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="z", ylabel="φ(z)", title=t("Activation functions", "激活函数"), ylim=(-1.2, 2.2))
ax.legend()
show()

# %% [markdown] tags=["en"]
# ## 2. A layer: many neurons side by side
#
# Put $m$ neurons side by side, all reading the same $n$ inputs: their weights form a matrix
# $W$ of shape $(m, n)$ and their biases a vector $b$:
#
# $$
# h = \varphi(W x + b)
# $$
#
# That is `nn.Linear(n, m)` followed by an activation. Like PyTorch, the engine stores
# `weight` as `(out_features, in_features)` and computes `x @ W.T + b` for a batch of rows.
# We check the layer against the formula, then copy its weights into a torch layer: the same
# outputs.

# %% [markdown] tags=["zh"]
# ## 2. 一层：很多神经元并排
#
# 把 $m$ 个神经元并排放，它们读同样的 $n$ 个输入：权重排成一个形状为 $(m, n)$ 的矩阵 $W$，偏置排成向量 $b$：
#
# $$
# h = \varphi(W x + b)
# $$
#
# 这就是 `nn.Linear(n, m)` 后面接一个激活函数。引擎和 PyTorch 一样，把 `weight` 存成
# `(out_features, in_features)`，对一批行向量算 `x @ W.T + b`。下面先拿公式核对这一层，再把权重拷进
# torch 的层里，输出一模一样。

# %%
E.manual_seed(0)
layer = E.nn.Linear(3, 4)  # 3 inputs -> 4 neurons
X = E.tensor(np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]], dtype=np.float32))  # (B=2, n=3)
by_hand = X.data @ layer.weight.data.T + layer.bias.data  # (2, 4)
print(t("weight shape (out, in):", "权重形状 (out, in)："), layer.weight.shape)
print(
    t("layer(X) equals X W^T + b:", "layer(X) 等于 X W^T + b："),
    np.allclose(layer(X).data, by_hand),
)

try:
    import torch

    torch_layer = torch.nn.Linear(3, 4)
    with torch.no_grad():  # copy the engine's weights into torch
        torch_layer.weight.copy_(torch.from_numpy(layer.weight.data))
        torch_layer.bias.copy_(torch.from_numpy(layer.bias.data))
    out = torch_layer(torch.from_numpy(X.data)).detach().numpy()
    print(
        t("torch gives the same outputs:", "torch 输出相同："),
        np.allclose(out, layer(X).data, atol=1e-6),
    )
except ImportError:
    print(
        t(
            "(torch is not installed: skipping the torch check)",
            "（没有安装 torch，跳过 torch 对比）",
        )
    )

# %% [markdown] tags=["en"]
# ## 3. Why the activation matters
#
# Two linear layers without an activation collapse into one: $W_2(W_1 x + b_1) + b_2 =
# (W_2 W_1) x + (W_2 b_1 + b_2)$. Depth buys nothing until a nonlinearity sits between the
# layers. Numerically:

# %% [markdown] tags=["zh"]
# ## 3. 为什么一定要有激活函数
#
# 两层线性层中间不加激活函数，会塌缩成一层：$W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)$。
# 层数再多，没有非线性夹在中间也白搭。用数字验证一下：

# %%
E.manual_seed(1)
l1, l2 = E.nn.Linear(3, 5), E.nn.Linear(5, 2)
two_layers = l2(l1(X)).data
W = l2.weight.data @ l1.weight.data  # (2, 3): one matrix
c = l2.weight.data @ l1.bias.data + l2.bias.data
print(
    t("two linear layers == one linear layer:", "两层线性 == 一层线性："),
    np.allclose(two_layers, X.data @ W.T + c, atol=1e-6),
)
with_relu = l2(l1(X).relu()).data
print(
    t("with a ReLU in between, still one layer?", "中间加了 ReLU，还等于一层吗？"),
    np.allclose(with_relu, X.data @ W.T + c, atol=1e-6),
)

# %% [markdown] tags=["en"]
# ## 4. An MLP learns what one neuron cannot
#
# A multi-layer perceptron stacks layers: $h_1 = \varphi(W_1 x + b_1)$,
# $h_2 = \varphi(W_2 h_1 + b_2)$, and the last layer outputs one score (logit) per class,
# turned into probabilities by softmax. We train two models on points inside and outside a
# circle, through gradschool's one training loop (`gradschool.train.trainer.fit`):
#
# - *one layer* (`sizes = [2, 2]`): logistic regression, whose boundary is a straight line;
# - *an MLP* (`sizes = [2, 16, 16, 2]`), whose boundary can bend.

# %% [markdown] tags=["zh"]
# ## 4. MLP 能学会单个神经元学不会的东西
#
# 多层感知机就是把层叠起来：$h_1 = \varphi(W_1 x + b_1)$，$h_2 = \varphi(W_2 h_1 + b_2)$，最后一层给每个类别
# 输出一个分数（logit），再用 softmax 变成概率。下面的数据是圆内、圆外两类点，我们用 gradschool 的同一个
# 训练循环（`gradschool.train.trainer.fit`）训练两个模型：
#
# - *只有一层*（`sizes = [2, 2]`）：就是逻辑回归，决策边界只能是一条直线；
# - *一个 MLP*（`sizes = [2, 16, 16, 2]`）：决策边界可以弯曲。

# %% circles
import numpy as np

from gradschool.config import load_config, with_updates
from gradschool.course import QUICK
from gradschool.data.prepare import Prepared
from gradschool.train.trainer import fit


def circles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2; class 1 inside the circle of radius 0.6."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (np.hypot(X[:, 0], X[:, 1]) < 0.6).astype(np.int64)
    return X, y


X_train, y_train = circles(1000, seed=0)
X_val, y_val = circles(300, seed=1)
X_test, y_test = circles(500, seed=2)
data = Prepared(
    X_train, y_train, X_val, y_val, X_test, y_test, ["outside", "inside"], None, "circles"
)

base = load_config("seed_mlp")
settings = {
    "data.batch_size": 32,
    "optim.name": "adam",
    "optim.lr": 0.01,
    "train.epochs": 15 if QUICK else 60,
}

# %%
trainers = {}
for name, sizes in (("one layer", [2, 2]), ("MLP", [2, 16, 16, 2])):
    config = with_updates(base, {**settings, "model.sizes": sizes})
    trainers[name] = trainer = fit(config, data=data, console=False)
    acc = trainer.evaluate(X_test, y_test)["acc"]
    label = t("one layer", "单层") if name == "one layer" else "MLP"
    print(
        f"{label:>10}  sizes={sizes}  " + t("test accuracy", "测试集准确率") + f" {100 * acc:.1f}%"
    )

# %%
grid = np.linspace(-1, 1, 200, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
points = np.stack([gx.ravel(), gy.ravel()], axis=1)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, (name, trainer) in zip(axes, trainers.items()):
    pred = trainer.predict(points).argmax(axis=1).reshape(gx.shape)
    ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#dbe6f6", "#f8dcc8"])
    ax.scatter(*X_test.T, c=y_test, s=6, cmap="coolwarm")
    label = (
        t("one layer: a line cannot enclose a circle", "单层：一条直线围不住圆")
        if name == "one layer"
        else t("MLP 2-16-16-2", "MLP 2-16-16-2")
    )
    ax.set(title=label, aspect="equal", xticks=[], yticks=[])
fig.suptitle(
    t(
        "What each model predicts over the plane (NumPy engine)",
        "两个模型在平面上的预测（NumPy 引擎）",
    )
)
show()

# %% [markdown] tags=["en"]
# ## 5. The source's MLP, on both engines
#
# The source's example network (section 4) is an MLP for 28×28 MNIST images:
# 784 → 128 → 64 → 10 with ReLU. gradschool writes it **once**, `mlp(nn, sizes)`, and builds
# it on either engine by passing that engine's `nn`. Its parameters:
# $784 \cdot 128 + 128 + 128 \cdot 64 + 64 + 64 \cdot 10 + 10 = 109{,}386$.
# We copy the engine model's weights into the torch model and feed both the same images from
# the embedded MNIST slice.

# %% [markdown] tags=["zh"]
# ## 5. 原文的 MLP，两个引擎各搭一遍
#
# 原文第 4 节的网络是一个处理 28×28 MNIST 图片的 MLP：784 → 128 → 64 → 10，中间用 ReLU。gradschool
# 只写**一次** `mlp(nn, sizes)`，传入哪个引擎的 `nn` 就在哪个引擎上搭出来。参数个数：
# $784 \cdot 128 + 128 + 128 \cdot 64 + 64 + 64 \cdot 10 + 10 = 109{,}386$。
# 我们把引擎模型的权重拷进 torch 模型，再喂给两边同样几张内置 MNIST 小数据集里的图片。

# %%
from gradschool.backends import get_backend
from gradschool.data.datasets import load_dataset
from gradschool.errors import GradschoolError
from gradschool.models import count_parameters, mlp

numpy_backend = get_backend("numpy")
numpy_backend.manual_seed(0)
seed_net = mlp(numpy_backend.nn, [784, 128, 64, 10])
print(seed_net)
print(t("parameters:", "参数个数："), f"{count_parameters(seed_net):,}")

mnist = load_dataset("mnist-mini")
images = mnist.X_train[:8].astype(np.float32) / 255  # (8, 1, 28, 28)
logits = numpy_backend.to_numpy(seed_net(numpy_backend.tensor(images)))  # (8, 10)
print(t("logits shape:", "logits 形状："), logits.shape)

try:
    torch_backend = get_backend("torch")
    torch_net = mlp(torch_backend.nn, [784, 128, 64, 10])
    torch_net.load_state_dict(
        torch_backend.numpy_to_state(numpy_backend.state_to_numpy(seed_net.state_dict()))
    )
    torch_logits = torch_backend.to_numpy(torch_net(torch_backend.tensor(images)))
    print(
        t("largest difference, engine vs torch:", "引擎和 torch 的最大差异："),
        f"{np.abs(logits - torch_logits).max():.2e}",
    )
except GradschoolError:  # get_backend("torch") without torch installed
    print(
        t(
            "(torch is not installed: skipping the torch model)",
            "（没有安装 torch，跳过 torch 模型）",
        )
    )

# %% [markdown] tags=["en"]
# Untrained, these ten scores are noise; lecture 6 trains this network. The figure shows an
# image and the softmax probabilities the untrained network gives it: close to uniform.

# %% [markdown] tags=["zh"]
# 没训练过的网络，这十个分数只是噪声；第 6 讲会训练它。下图是一张图片，以及未训练网络给出的 softmax
# 概率：差不多是均匀分布。

# %%
probs = np.exp(logits - logits.max(axis=1, keepdims=True))
probs /= probs.sum(axis=1, keepdims=True)
fig, (ax_img, ax_p) = plt.subplots(1, 2, figsize=(8, 3), gridspec_kw={"width_ratios": [1, 2]})
ax_img.imshow(images[0, 0], cmap="gray")
ax_img.set(title=t(f"label {mnist.y_train[0]}", f"标签 {mnist.y_train[0]}"), xticks=[], yticks=[])
ax_p.bar(range(10), probs[0])
ax_p.set(
    xticks=range(10),
    xlabel=t("class", "类别"),
    ylabel=t("probability", "概率"),
    title=t("untrained MLP 784-128-64-10", "未训练的 MLP 784-128-64-10"),
)
show()

# %% [markdown] tags=["en"]
# ## 6. How large is a "large model"?
#
# Scale is the difference, not the kind of building block. gradschool's character-level GPT
# (`gradschool.models.gpt`, 4 blocks of attention + MLP) is built below and counted; GPT-2's
# largest version has 1.5 billion parameters (Radford et al., 2019) and GPT-3 175 billion
# (Brown et al., 2020) — the same kind of network, one network, with many more and wider blocks.

# %% [markdown] tags=["zh"]
# ## 6. "大模型"到底有多大？
#
# 区别在规模，而不是积木的种类。下面现场搭出 gradschool 的字符级 GPT（`gradschool.models.gpt`，4 个
# "注意力 + MLP"模块）并数一下参数；GPT-2 最大的版本有 15 亿参数（Radford 等，2019），GPT-3 有 1750 亿
# （Brown 等，2020）。它们是同一类网络，而且都是*一个*网络，只是模块更多、更宽。

# %%
from gradschool.models import gpt

tiny_gpt = gpt(E.nn, vocab_size=65)  # the Shakespeare character model's shape
sizes = {
    t("seed MLP", "原文的 MLP"): count_parameters(seed_net),
    t("gradschool GPT", "gradschool 的 GPT"): count_parameters(tiny_gpt),
    "GPT-2 XL": 1.5e9,
    "GPT-3": 175e9,
}
for name, n in sizes.items():
    print(f"{name:>18}  {n:>17,.0f}")

fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(list(sizes), list(sizes.values()), color=["#5b7fd6", "#5b7fd6", "#999", "#999"])
ax.set_xscale("log")
ax.set(
    xlabel=t("parameters (log scale)", "参数个数（对数坐标）"),
    title=t("From the seed's MLP to GPT-3", "从原文的 MLP 到 GPT-3"),
)
ax.invert_yaxis()
show()

# %% [markdown] tags=["en"]
# ## Summary
#
# - A neuron computes $\varphi(w \cdot x + b)$; a layer does it for many neurons at once,
#   $\varphi(Wx + b)$; an MLP stacks layers. The activation is what makes depth useful.
# - One layer draws straight boundaries; an MLP bends them — same training loop, bigger model.
# - gradschool builds the same model on its NumPy engine and on PyTorch from one piece of code;
#   with the same weights they give the same numbers.
# - A large model is one deep network with a very large number of parameters, not several
#   networks talking to each other.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 一个神经元算的是 $\varphi(w \cdot x + b)$；一层就是很多神经元同时算，$\varphi(Wx + b)$；MLP 是把层叠起来。
#   让"深"有意义的是激活函数。
# - 单层只能画直线边界，MLP 能把边界弯过来——训练循环一样，只是模型更大。
# - gradschool 用同一份代码在 NumPy 引擎和 PyTorch 上搭出同一个模型，权重相同时输出也相同。
# - 大模型是*一个*参数量非常大的深度网络，不是几个网络互相通信。


# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 1 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 1`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 1 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 1` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
from gradschool.course.exercises import Function, Number, Open, Run, exercise

exercise(
    1,
    en="""
        Replace ReLU by `tanh` in the circle MLP (`"model.activation": "tanh"`). Does the
        boundary change? Does it train as fast?
    """,
    zh="""
        把圆形数据上 MLP 的 ReLU 换成 `tanh`（`"model.activation": "tanh"`），边界有变化吗？训练得一样快吗？
    """,
    check=Open(),
    hints=[
        (
            "Train both with the same settings and compare `trainer.state.history`: the first epoch whose validation accuracy passes 95%.",
            "用同样的设置各训练一次，比较 `trainer.state.history`：验证准确率第一次超过 95% 是在第几轮。",
        )
    ],
    solution=(
        """
        Run section 4's loop once more with `{**settings, "model.sizes": [2, 16, 16, 2],
        "model.activation": "tanh"}` and draw the boundary with the cell that follows it.
        Both networks classify the circle well. The boundary changes in kind: with ReLU the
        output is piecewise linear in the input, so the boundary is a polygon of many short
        straight pieces; with tanh it is a smooth curve. Speed: read the epoch at which each
        run's validation accuracy first passes 95% in `trainer.state.history`. On this problem
        ReLU gets there in fewer epochs: tanh saturates (its gradient $1 - \\tanh^2$ is near 0
        for large inputs), and Adam's steps are the same size either way.
        """,
        """
        把第 4 节的循环再跑一次，设置改成 `{**settings, "model.sizes": [2, 16, 16, 2],
        "model.activation": "tanh"}`，再用后面那个单元画出边界。两个网络都能把圆分得很好。边界的*样子*变了：用
        ReLU 时输出是输入的分段线性函数，边界是由许多小直线段拼成的多边形；用 tanh 时边界是一条光滑的曲线。至于快慢，
        在 `trainer.state.history` 里看验证准确率第一次超过 95% 是第几轮。这个问题上 ReLU 用的轮数更少：tanh
        会饱和（输入大时导数 $1 - \\tanh^2$ 接近 0），而 Adam 每一步的步长两种情况下差不多。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Train the circle MLP with `sizes = [2, 2, 2]` (one hidden layer of two units). Can two
        neurons carve out a circle? What is the smallest hidden layer that reaches 95% test
        accuracy with the lecture's recipe (Adam, lr 0.01, batch 32, 60 epochs)? Answer with its
        sizes: the check trains it, and the layer one unit smaller.
    """,
    zh="""
        用 `sizes = [2, 2, 2]`（隐藏层只有两个神经元）训练圆形数据上的 MLP。两个神经元能围出一个圆吗？按本讲的配方
        （Adam，学习率 0.01，批量 32，60 轮），隐藏层至少要多宽，测试集准确率才能到 95%？用 sizes 作答：检查时会训练
        它，以及少一个单元的隐藏层。
    """,
    check=Run(
        base=lambda: with_updates(base, {**settings, "train.epochs": 60, "model.sizes": [2, 2, 2]}),
        train=lambda config: circle_test_accuracy(config),
        bar=0.95,
        metric=("test accuracy", "测试集准确率"),
        keys=("model.sizes",),
        answer="model.sizes=[2,4,2]",
        template="model.sizes=[2,H,2]",
        require=lambda config: one_hidden_layer(config),
        also=lambda config, value: smaller_also_reaches(config),
    ),
    hints=[
        (
            "Each ReLU unit of the hidden layer cuts the plane along one straight line; the output adds up these half-planes. How many straight sides does a shape need to hug a circle?",
            "隐藏层的每个 ReLU 单元沿一条直线把平面切开；输出把这些半平面加起来。要贴合一个圆，一个图形至少需要几条直边？",
        ),
        (
            "Two lines make at best a strip or a wedge. Try H = 3, 4, 5: the check prints the test accuracy of your layer and of the one a unit smaller.",
            "两条直线最多围出一条带子或一个楔形。试试 H = 3、4、5：检查会打印你给的隐藏层和少一个单元的隐藏层的测试准确率。",
        ),
    ],
    solution=(
        """
        `{{ answer }}`. Two units give a strip or a wedge, far below 95%. Each hidden ReLU unit
        is a half-plane, so the region the network calls "inside" is built from H half-planes:
        the smallest H is the number of sides of the simplest polygon that fits the circle
        closely enough. Three sides (a triangle) miss too much of it; four (a quadrilateral
        around the circle) reach 95% with this recipe. More units only round the corners.
        """,
        """
        `{{ answer }}`。两个单元只能围出一条带子或一个楔形，远达不到 95%。每个隐藏的 ReLU 单元是一个半平面，网络
        判为"圆内"的区域由 H 个半平面拼成：最小的 H 就是能足够贴合这个圆的最简单多边形的边数。三条边（三角形）漏掉
        的太多；四条边（围住圆的四边形）按这个配方能到 95%。再多的单元只是把角磨圆。
        """,
    ),
    setup=("circles",),
)


def circle_test_accuracy(config) -> float:
    """Train on the lecture's circles (section 4) and return the test accuracy."""
    return fit(config, data=data, console=False).evaluate(X_test, y_test)["acc"]


def one_hidden_layer(config):
    sizes = list(config.model.sizes)
    if len(sizes) != 3:
        return (
            f"this exercise asks for one hidden layer, [2, H, 2]; you gave {sizes}.",
            f"这道题要的是一个隐藏层，[2, H, 2]；你给的是 {sizes}。",
        )
    return None


def smaller_also_reaches(config):
    hidden = config.model.sizes[1]
    if hidden <= 1:
        return None
    smaller = with_updates(config, {"model.sizes": [2, hidden - 1, 2]})
    acc = circle_test_accuracy(smaller)
    if acc >= 0.95:
        return (
            f"[2, {hidden - 1}, 2] reaches it too ({100 * acc:.1f}%): try fewer units.",
            f"[2, {hidden - 1}, 2] 也能达到（{100 * acc:.1f}%）：再少几个单元试试。",
        )
    return None


# %% tags=["exercise"]
from gradschool import engine as E
from gradschool.models import count_parameters, mlp

exercise(
    3,
    en="Count by hand the parameters of `mlp(nn, [784, 256, 10])`, then check with `count_parameters`.",
    zh="手算 `mlp(nn, [784, 256, 10])` 的参数个数，再用 `count_parameters` 核对。",
    check=Number(lambda: count_parameters(mlp(E.nn, [784, 256, 10])), rel=0),
    hints=[
        (
            "A `Linear(n, m)` layer has an $n \\times m$ weight matrix and $m$ biases.",
            "一个 `Linear(n, m)` 层有一个 $n \\times m$ 的权重矩阵和 $m$ 个偏置。",
        ),
        (
            "There are two layers, 784 → 256 and 256 → 10; the ReLU and the Flatten have no parameters.",
            "一共两层：784 → 256 和 256 → 10；ReLU 和 Flatten 没有参数。",
        ),
    ],
    solution=(
        """
        $784 \\cdot 256 + 256 + 256 \\cdot 10 + 10$ = {{ answer:,.0f }}: the weights and biases of
        the two layers. `count_parameters(mlp(E.nn, [784, 256, 10]))` gives the same.
        """,
        """
        $784 \\cdot 256 + 256 + 256 \\cdot 10 + 10$ = {{ answer:,.0f }}：两层的权重加偏置。
        `count_parameters(mlp(E.nn, [784, 256, 10]))` 得到同样的数。
        """,
    ),
)

# %% tags=["exercise"]
import numpy as np


def collapse_reference(W1, b1, W2, b2, W3, b3):
    """The one layer equal to three engine Linear layers, read off the layers themselves: the
    bias is what they give for x = 0, column j of W what e_j adds to it."""
    layers = []
    for W, b in ((W1, b1), (W2, b2), (W3, b3)):
        layer = E.nn.Linear(W.shape[1], W.shape[0], dtype=np.float64)
        layer.weight.data[...], layer.bias.data[...] = W, b
        layers.append(layer)
    n = W1.shape[1]
    x = E.tensor(np.vstack([np.zeros(n), np.eye(n)]))  # (1 + n, n): 0, e_1, ..., e_n
    for layer in layers:
        x = layer(x)
    out = x.data  # (1 + n, out)
    return (out[1:] - out[0]).T, out[0]


def collapse_cases(rng):
    cases = []
    for label, (n, h1, h2, m), draw in (
        (("random", "随机"), (3, 5, 4, 2), lambda shape: rng.normal(size=shape)),
        (
            ("small integers", "小整数"),
            (4, 3, 6, 5),
            lambda shape: rng.integers(-3, 4, shape) * 1.0,
        ),
        (("square layers", "方阵"), (3, 3, 3, 3), lambda shape: rng.normal(size=shape)),
        (("zero biases", "偏置全零"), (2, 4, 3, 3), None),
    ):
        weights = [rng.normal(size=s) for s in ((h1, n), (h2, h1), (m, h2))]
        if draw is not None:
            weights = [draw(w.shape) for w in weights]
        biases = [np.zeros(k) if draw is None else draw((k,)) for k in (h1, h2, m)]
        shapes = ", ".join(f"W{k + 1} {w.shape}" for k, w in enumerate(weights))
        args = (weights[0], biases[0], weights[1], biases[1], weights[2], biases[2])
        cases.append(((f"{shapes}, {label[0]}", f"{shapes}，{label[1]}"), args))
    return cases


exercise(
    4,
    en="""
        Show that a stack of three linear layers without activations is still one linear layer
        (extend section 3). Write `collapse(W1, b1, W2, b2, W3, b3)` in a file: it returns the
        weight `W` and bias `b` of the one layer equal to the three. Each layer computes
        `x @ Wk.T + bk` with `Wk` of shape (out, in), as `nn.Linear` does.
    """,
    zh="""
        扩展第 3 节：证明三层不带激活函数的线性层叠起来仍然等价于一层线性层。在一个文件里写
        `collapse(W1, b1, W2, b2, W3, b3)`，返回与这三层等价的那一层的权重 `W` 和偏置 `b`。每一层算的是
        `x @ Wk.T + bk`，`Wk` 的形状是 (out, in)，和 `nn.Linear` 一样。
    """,
    check=Function(
        name="collapse",
        signature="collapse(W1, b1, W2, b2, W3, b3) -> (W, b)",
        reference=collapse_reference,
        cases=collapse_cases,
        oracle=("three engine Linear layers", "三个引擎 Linear 层"),
    ),
    hints=[
        (
            "Substitute one layer into the next: $W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)$, as section 3 did for two.",
            "把一层代入下一层：$W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)$，第 3 节对两层就是这样做的。",
        ),
        (
            "`W` has the shape of the last layer's output by the first layer's input, (out, in): the product starts with `W3`. The bias gathers `b1` through both later layers, `b2` through the last, and `b3`.",
            "`W` 的形状是（最后一层的输出，第一层的输入）：乘积从 `W3` 开始。偏置里 `b1` 要经过后面两层，`b2` 经过最后一层，再加上 `b3`。",
        ),
    ],
    solution=(
        """
        Substituting each layer into the next gives one affine map:

        ```python
        def collapse(W1, b1, W2, b2, W3, b3):
            W = W3 @ W2 @ W1  # (out, in)
            b = W3 @ (W2 @ b1 + b2) + b3  # (out,)
            return W, b
        ```

        However many layers are stacked, without a nonlinearity between them they compute
        $Wx + b$: depth buys nothing.
        """,
        """
        把每一层代入下一层，得到的还是一个仿射变换：

        ```python
        def collapse(W1, b1, W2, b2, W3, b3):
            W = W3 @ W2 @ W1  # (out, in)
            b = W3 @ (W2 @ b1 + b2) + b3  # (out,)
            return W, b
        ```

        不管叠多少层，只要中间没有非线性，算出来的都是 $Wx + b$：层数再多也白搭。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's piece is step 6, `relu`: the forward and the
# backward of ReLU, with PyTorch's gradient at exactly 0.
#
# ```bash
# gradschool build start          # once: creates my-engine/, every step a blank to fill in
# gradschool build check relu     # step 6, graded against torch
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应第 6 步 `relu`：ReLU 的前向和反向，在 0 处的梯度要和 PyTorch 一致。
#
# ```bash
# gradschool build start          # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check relu     # 第 6 步，和 torch 对照评分
# ```
