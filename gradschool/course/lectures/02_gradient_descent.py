# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 3 s
#     full: 3 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 2. Gradient descent on a 2-D surface: GD, SGD, momentum, Adam
#
# **Goal.** See gradient descent and its family *move*. A network's loss has millions of
# variables and cannot be drawn; a function of two variables can, and it already shows the
# difficulties: long narrow valleys, curved valleys, noisy gradients. We run plain gradient
# descent (GD), stochastic gradient descent (SGD), momentum and Adam over the contour lines of
# two classic functions, with the engine's own autograd and optimizers — the code that trains
# every network in gradschool.

# %% [markdown] tags=["zh"]
# # 第 2 讲：二维曲面上的梯度下降：GD、SGD、动量、Adam
#
# **目标**：亲眼看梯度下降这一家子是怎么"走路"的。神经网络的损失函数有几百万个变量，画不出来；两个变量的
# 函数能画出来，而且已经能体现优化的主要难点：又长又窄的山谷、弯曲的山谷、带噪声的梯度。我们在两个经典
# 函数的等高线上跑普通梯度下降（GD）、随机梯度下降（SGD）、动量法和 Adam，用的是引擎自己的自动求导和
# 优化器——也就是 gradschool 训练所有网络时用的那套代码。

# %% [markdown] tags=["en"]
# ## The idea and its formulas
#
# The source (section 3) gives the update
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta)
# $$
#
# "梯度下降是一种优化算法，它通过计算损失函数的梯度来更新模型参数" — correct: step against the
# gradient, with a step size set by the learning rate $\alpha$. Two of its other statements need
# care:
#
# - It calls $\theta = \theta - \alpha \nabla_{\theta}J(\theta, \mathcal{B})$ "批量梯度下降 (Batch
#   Gradient Descent)" and says it splits the data into batches. That is **mini-batch** gradient
#   descent; "batch gradient descent" usually means the *full* batch, the gradient over all the
#   data. Lecture 4 compares the three on MNIST.
# - SGD, $\theta = \theta - \alpha \nabla_{\theta}J(\theta, x_i)$, uses one example at a time:
#   its gradient is the true gradient plus noise. Here we model that noise directly, adding
#   $\xi \sim \mathcal{N}(0, \sigma^2)$ to each gradient.
#
# Two improvements the source does not show, both in `gradschool.engine.optim`:
#
# **Momentum** (Polyak, 1964) keeps a velocity $v$, an average of past gradients, and steps
# along it (PyTorch's form):
#
# $$
# v \leftarrow \mu v + \nabla_{\theta}J(\theta), \qquad \theta \leftarrow \theta - \alpha v
# $$
#
# **Adam** (Kingma and Ba, 2015) keeps averages of the gradient $g$ and of its square, corrects
# their start-up bias, and divides:
#
# $$
# m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2
# $$
#
# $$
# \theta \leftarrow \theta - \alpha \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
# $$
#
# so every coordinate moves at about the same speed, whatever the size of its gradient.

# %% [markdown] tags=["zh"]
# ## 思路与公式
#
# 原文第 3 节给出的更新公式是
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta)
# $$
#
# "梯度下降是一种优化算法，它通过计算损失函数的梯度来更新模型参数"——这句没问题：沿着梯度的反方向走一步，
# 步长由学习率 $\alpha$ 决定。不过原文另外两处要小心：
#
# - 原文把 $\theta = \theta - \alpha \nabla_{\theta}J(\theta, \mathcal{B})$ 叫作"批量梯度下降（Batch Gradient
#   Descent）"，说它"将数据分成多个批次"。这其实是**小批量**（mini-batch）梯度下降；通常说的"批量梯度下降"
#   指的是*全量*，即在全部数据上算梯度。第 4 讲会在 MNIST 上把三种做法放在一起比较。
# - SGD 的公式 $\theta = \theta - \alpha \nabla_{\theta}J(\theta, x_i)$ 每次只用一个样本，它的梯度等于真实梯度加上
#   噪声。本讲直接模拟这个噪声：给每一步的梯度加上 $\xi \sim \mathcal{N}(0, \sigma^2)$。
#
# 还有两个原文没讲、但 `gradschool.engine.optim` 里都有的改进：
#
# **动量法**（Polyak，1964）维护一个"速度" $v$，即过去梯度的累积，沿着它走（PyTorch 的写法）：
#
# $$
# v \leftarrow \mu v + \nabla_{\theta}J(\theta), \qquad \theta \leftarrow \theta - \alpha v
# $$
#
# **Adam**（Kingma 和 Ba，2015）分别对梯度 $g$ 和梯度的平方做滑动平均，修正起步阶段的偏差，再相除：
#
# $$
# m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2
# $$
#
# $$
# \theta \leftarrow \theta - \alpha \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
# $$
#
# 这样每个坐标方向的步子都差不多大，不管那个方向上的梯度是大是小。

# %% [markdown] tags=["en"]
# ## 1. One step, by hand and by autograd
#
# The first function is an ill-conditioned quadratic: $f = (u^2 + 25 v^2)/2$ in axes $(u, v)$
# turned by 30°, a long narrow valley (`gradschool.experiments.surface.quadratic`). Its
# gradient in $(u, v)$ is $(u, 25 v)$. One GD step from $(-4, 2.5)$, computed by hand and by
# the engine (`backward()` then `optim.SGD.step()`):

# %% [markdown] tags=["zh"]
# ## 1. 走一步：手算和自动求导
#
# 第一个函数是一个"病态"二次函数：在旋转了 30° 的坐标 $(u, v)$ 下 $f = (u^2 + 25 v^2)/2$，是一条又长又窄的
# 山谷（`gradschool.experiments.surface.quadratic`）。它在 $(u, v)$ 下的梯度是 $(u, 25 v)$。从 $(-4, 2.5)$
# 出发走一步 GD，分别手算、再让引擎算（`backward()` 然后 `optim.SGD.step()`）：

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

from gradschool import engine as E
from gradschool.course import QUICK, show, t
from gradschool.experiments import surface

lr = 0.06
x0, y0 = -4.0, 2.5
c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
u, v = c * x0 + s * y0, -s * x0 + c * y0  # the point in the valley's axes
gu, gv = u, surface.KAPPA * v  # gradient in (u, v)
grad_by_hand = np.array([c * gu - s * gv, s * gu + c * gv])  # back to (x, y)
print(t("gradient by hand:   ", "手算的梯度：       "), grad_by_hand.round(6))

theta = E.tensor(np.array([x0, y0]), requires_grad=True)
optimizer = E.optim.SGD([theta], lr=lr)
loss = surface.quadratic(theta[0], theta[1])
loss.backward()
print(t("gradient by autograd:", "自动求导的梯度：   "), theta.grad.numpy().round(6))
optimizer.step()
print(
    t("after one step:     ", "走一步之后：       "),
    theta.data.round(6),
    "=",
    (np.array([x0, y0]) - lr * grad_by_hand).round(6),
)

# %% [markdown] tags=["en"]
# ## 2. The learning rate: too small crawls, too large explodes
#
# Along the steep direction (curvature 25), GD multiplies the distance to the minimum by
# $|1 - 25\alpha|$ each step: it converges only for $\alpha < 2/25 = 0.08$. Along the flat
# direction (curvature 1) it shrinks by $1 - \alpha$ — slowly. That tension is what
# ill-conditioning means.

# %% [markdown] tags=["zh"]
# ## 2. 学习率：太小走不动，太大直接炸
#
# 在陡的方向上（曲率 25），GD 每一步把到最小值的距离乘以 $|1 - 25\alpha|$，所以只有 $\alpha < 2/25 = 0.08$ 才收敛；
# 在平缓的方向上（曲率 1）每步只缩小到 $1 - \alpha$ 倍——很慢。这种两头为难，就是"病态"（ill-conditioned）的含义。

# %%
steps = 80
fig, ax = plt.subplots(figsize=(7, 3.5))
for lr_try in (0.01, 0.04, 0.075, 0.082):
    _, _, values = surface.trajectory(surface.quadratic, (x0, y0), "SGD", {"lr": lr_try}, steps)
    print(f"lr = {lr_try:<6} f(step {steps}) = {values[-1]:.3g}")
    ax.plot(values, label=f"lr = {lr_try}")
ax.set(
    yscale="log",
    xlabel=t("step", "步数"),
    ylabel="f(x, y)",
    title=t("GD on the quadratic: the learning rate decides", "二次函数上的 GD：学习率说了算"),
)
ax.axhline(1e-3, color="grey", lw=0.5, ls=":")
ax.legend()
show()

# %% [markdown] tags=["en"]
# ## 3. Four methods on two surfaces
#
# `surface.run_surface()` runs six methods on both functions, each with about the largest
# learning rate that stays stable for it (chosen by hand in `surface.PROBLEMS`): GD, SGD with
# noisy gradients, momentum, Nesterov momentum, RMSprop and Adam. The second function is
# Rosenbrock's $(1-x)^2 + 100(y-x^2)^2$, a curved, nearly flat valley with its minimum at
# $(1, 1)$. The table gives where each ends and when it first gets within $10^{-3}$ of the
# minimum value; the figure draws four of them.

# %% [markdown] tags=["zh"]
# ## 3. 两个曲面，四种方法
#
# `surface.run_surface()` 在两个函数上各跑六种方法，每种方法用的都是手工挑出的、基本是它能稳定的最大学习率
# （见 `surface.PROBLEMS`）：GD、带噪声梯度的 SGD、动量、Nesterov 动量、RMSprop 和 Adam。第二个函数是
# Rosenbrock 函数 $(1-x)^2 + 100(y-x^2)^2$，一条弯曲、几乎平坦的山谷，最小值在 $(1, 1)$。下表给出每种方法的
# 终点，以及第一次把函数值降到 $10^{-3}$ 以内是在第几步；图里画其中四种。

# %%
results = surface.run_surface({"rosenbrock": 1000} if QUICK else None)
print(surface.format_table(results))

# %%
SHOWN = {
    "GD": "GD",
    "SGD": t("SGD (noisy gradient)", "SGD（带噪声的梯度）"),
    "momentum": t("momentum", "动量"),
    "Adam": "Adam",
}
fig, axes = plt.subplots(2, 2, figsize=(12, 9), gridspec_kw={"height_ratios": [3, 1.3]})
for col, result in enumerate(results):
    ax, ax_f = axes[0][col], axes[1][col]
    X, Y = np.meshgrid(np.linspace(*result["xlim"], 300), np.linspace(*result["ylim"], 300))
    Z = result["f"](X, Y)
    if result["log_levels"]:
        levels = np.logspace(np.log10(max(Z.min(), 1e-3)), np.log10(Z.max()), 25)
    else:
        levels = np.linspace(Z.min(), np.percentile(Z, 60), 20)
    ax.contour(X, Y, Z, levels=levels, colors="0.7", linewidths=0.7)
    ax.plot(*result["minimum"], "k*", markersize=14)
    for label, (xs, ys, values) in result["paths"].items():
        key = label.split(" ")[0]
        if key in SHOWN:
            line = ax.plot(xs, ys, lw=1.4, label=SHOWN[key], alpha=0.9)[0]
            ax_f.plot(np.maximum(values, 1e-12), color=line.get_color(), label=SHOWN[key])
    ax.set(xlim=result["xlim"], ylim=result["ylim"], xlabel="x", ylabel="y")
    ax.set_title(
        t("narrow valley (quadratic, κ = 25)", "窄山谷（二次函数，κ = 25）")
        if col == 0
        else t("curved valley (Rosenbrock)", "弯山谷（Rosenbrock）")
    )
    ax.legend(fontsize=9, loc=result["legend"])
    ax_f.set(yscale="log", xlabel=t("step", "步数"), ylabel="f(x, y) − f*")
    ax_f.grid(alpha=0.3)
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## What the figure shows
#
# - **GD** on the narrow valley zig-zags across it: the largest stable step is set by the steep
#   wall, so progress along the valley floor is slow. On Rosenbrock it creeps along the curve.
# - **SGD** follows GD's path on average but keeps jittering near the minimum: with a fixed
#   learning rate, gradient noise never averages out. That is why SGD needs a decaying learning
#   rate (lecture 5) or larger batches (lecture 4).
# - **Momentum** accumulates speed along the valley and damps the zig-zag: it reaches the
#   quadratic's minimum about twice as fast as GD.
# - **Adam** normalises each coordinate: it walks down Rosenbrock's curved valley and is the only
#   method here that reaches $(1, 1)$ in the step budget; on the turned quadratic its per-axis
#   scaling helps less, since the valley is not aligned with an axis.
#
# No method wins everywhere — which is why optimizers are compared on the problem at hand.

# %% [markdown] tags=["zh"]
# ## 图里能看出什么
#
# - **GD** 在窄山谷里来回横跳：能稳定的最大步长是由陡峭的谷壁决定的，于是沿着谷底前进得很慢。在 Rosenbrock 上
#   它顺着弯道一点一点往前挪。
# - **SGD** 平均来看走的是 GD 的路线，但到了最小值附近一直在抖：学习率固定时，梯度噪声永远不会被平均掉。所以
#   SGD 需要逐渐减小的学习率（第 5 讲）或者更大的批量（第 4 讲）。
# - **动量法**沿着山谷方向越走越快，同时抑制了横跳：在二次函数上比 GD 快一倍左右到达最小值。
# - **Adam** 对每个坐标分别做归一化：它能顺着 Rosenbrock 的弯山谷一路走下去，是这里唯一在步数预算内走到
#   $(1, 1)$ 的方法；在旋转过的二次函数上，山谷方向不和坐标轴对齐，按坐标缩放的好处就小了。
#
# 没有哪种方法处处最好——所以选优化器要在具体问题上比一比。

# %% [markdown] tags=["en"]
# ## Summary
#
# - Gradient descent steps against the gradient: $\theta \leftarrow \theta - \alpha \nabla J$. The
#   engine computes that gradient by backpropagation (lecture 3) and the optimizer takes the step.
# - The learning rate is bounded by the steepest direction ($\alpha < 2/\lambda_{max}$); in an
#   ill-conditioned valley that makes GD slow along the flat direction.
# - Momentum averages gradients over time; Adam also rescales each coordinate. Noise (SGD) keeps
#   a fixed-step method from settling exactly.
# - The same experiment from the command line: `gradschool surface`.
#
# ## Exercises
#
# 1. Find the largest learning rate for GD on the quadratic by bisection between 0.075 and 0.085.
#    Does it match $2/25$?
# 2. Run momentum on the quadratic with $\mu = 0.95$ and the same learning rate: faster, or does
#    it overshoot and spiral?
# 3. Give SGD a learning rate that decays like $\alpha_t = \alpha_0 / (1 + t/20)$ (a loop around
#    `surface.trajectory` with one step each). Does it settle closer to the minimum?
# 4. Start Rosenbrock at $(-1.5, -0.5)$ instead. Which method arrives first now?

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 梯度下降就是沿梯度反方向走：$\theta \leftarrow \theta - \alpha \nabla J$。梯度由引擎的反向传播算出（第 3 讲），
#   这一步由优化器来走。
# - 学习率的上限由最陡的方向决定（$\alpha < 2/\lambda_{max}$）；在病态的山谷里，这让 GD 在平缓方向上走得很慢。
# - 动量法在时间上平均梯度；Adam 还对每个坐标单独缩放。梯度噪声（SGD）让固定步长的方法停不到正中间。
# - 命令行里也能做同样的实验：`gradschool surface`。
#
# ## 练习
#
# 1. 在 0.075 和 0.085 之间二分，找出 GD 在二次函数上能用的最大学习率。和 $2/25$ 对得上吗？
# 2. 在二次函数上把动量的 $\mu$ 改成 0.95、学习率不变：是更快了，还是冲过头开始绕圈？
# 3. 给 SGD 用一个衰减的学习率 $\alpha_t = \alpha_0 / (1 + t/20)$（循环调用 `surface.trajectory`，每次走一步）。
#    它能停得离最小值更近吗？
# 4. 把 Rosenbrock 的起点改成 $(-1.5, -0.5)$，现在谁先到？
