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

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 梯度下降就是沿梯度反方向走：$\theta \leftarrow \theta - \alpha \nabla J$。梯度由引擎的反向传播算出（第 3 讲），
#   这一步由优化器来走。
# - 学习率的上限由最陡的方向决定（$\alpha < 2/\lambda_{max}$）；在病态的山谷里，这让 GD 在平缓方向上走得很慢。
# - 动量法在时间上平均梯度；Adam 还对每个坐标单独缩放。梯度噪声（SGD）让固定步长的方法停不到正中间。
# - 命令行里也能做同样的实验：`gradschool surface`。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 2 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 2`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 2 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 2` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import numpy as np

from gradschool import engine as E
from gradschool.course.exercises import Function, Number, Open, exercise
from gradschool.experiments import surface


def quadratic_hessian() -> np.ndarray:
    """The quadratic's Hessian, column by column from autograd: its gradient is linear,
    H @ theta, so the gradient at e_j is column j."""
    columns = []
    for e in np.eye(2):
        theta = E.tensor(e, requires_grad=True)
        surface.quadratic(theta[0], theta[1]).backward()
        columns.append(theta.grad.numpy())
    return np.stack(columns, axis=1)  # (2, 2)


exercise(
    1,
    en="""
        Find the largest learning rate for GD on the quadratic by bisection between 0.075 and
        0.085: a rate is too large when $f$ grows instead of shrinking over a few hundred
        steps (`surface.trajectory`). What is it, and does it match $2/25$?
    """,
    zh="""
        在 0.075 和 0.085 之间二分，找出 GD 在二次函数上能用的最大学习率：几百步之内 $f$ 不降反升，学习率就太大了
        （用 `surface.trajectory`）。它是多少？和 $2/25$ 对得上吗？
    """,
    check=Number(lambda: 2 / np.linalg.eigvalsh(quadratic_hessian()).max(), abs=5e-4),
    hints=[
        (
            'Keep an interval [lo, hi] with lo stable and hi diverging; test the middle with `surface.trajectory(surface.quadratic, (-4.0, 2.5), "SGD", {"lr": mid}, 300)` and keep the half that still holds the boundary.',
            '维护一个区间 [lo, hi]：lo 收敛、hi 发散；用 `surface.trajectory(surface.quadratic, (-4.0, 2.5), "SGD", {"lr": mid}, 300)` 试中点，保留仍然包含边界的那一半。',
        ),
        (
            "Along the steep axis each step multiplies the distance by $|1 - 25\\alpha|$: it shrinks only while that is below 1.",
            "沿陡的方向，每一步把距离乘上 $|1 - 25\\alpha|$：只有它小于 1 时距离才会缩小。",
        ),
    ],
    solution=(
        """
        About {{ answer:.4f }}: exactly $2/25 = 0.08$, two over the largest curvature (the
        largest eigenvalue of the Hessian, 25). Along the steep axis GD multiplies the distance
        to the minimum by $1 - 25\\alpha$ each step; below $\\alpha = 0.08$ that factor lies in
        $(-1, 1)$ and the steps shrink, above it they grow and flip sign: the zig-zag explodes.
        Bisection on "does $f$ grow over 300 steps" lands on 0.0800 to four digits; right at
        0.08 the steep component neither grows nor shrinks.
        """,
        """
        约 {{ answer:.4f }}：恰好是 $2/25 = 0.08$，即 2 除以最大的曲率（Hessian 最大的特征值 25）。沿陡的方向，GD
        每一步把到最小值的距离乘以 $1 - 25\\alpha$；$\\alpha < 0.08$ 时这个因子在 $(-1, 1)$ 之间，步子越走越小；
        超过 0.08 它的绝对值大于 1，每一步都反向并且变大：来回横跳越跳越远。按"300 步内 $f$ 是否变大"二分，四位小数上
        正好落在 0.0800；恰好等于 0.08 时，陡方向上的分量既不变大也不变小。
        """,
    ),
)

# %% tags=["exercise"]


def steps_below(momentum: float, tol: float = 1e-3) -> int:
    """Steps until momentum, with the lecture's learning rate, brings f below tol (tried in
    budgets of 250 steps, so that a fast run costs little)."""
    _, options, _ = surface.PROBLEMS["quadratic"].methods["momentum"]
    for budget in (250, 1000, 4000):
        _, _, values = surface.trajectory(
            surface.quadratic, surface.PROBLEMS["quadratic"].start, "SGD",
            {**options, "momentum": momentum}, budget,
        )  # fmt: skip
        below = np.flatnonzero(values < tol)
        if len(below):
            return int(below[0])
    raise AssertionError(f"momentum {momentum} does not reach f < {tol} in {budget} steps")


exercise(
    2,
    en="""
        Run momentum on the quadratic with $\\mu = 0.95$ and the same learning rate as the
        figure's momentum ($\\mu = 0.8$, `surface.PROBLEMS["quadratic"].methods["momentum"]`).
        How many steps does each need before $f < 10^{-3}$ (the table's measure)? Faster, or
        does $\\mu = 0.95$ overshoot and spiral?
    """,
    zh="""
        在二次函数上用 $\\mu = 0.95$ 跑动量法，学习率和图里的动量法相同（图里 $\\mu = 0.8$，见
        `surface.PROBLEMS["quadratic"].methods["momentum"]`）。两种 $\\mu$ 各要多少步才让 $f < 10^{-3}$（表里用的标准）？
        是更快了，还是 $\\mu = 0.95$ 冲过头开始绕圈？
    """,
    check=Number(
        lambda: [steps_below(0.8), steps_below(0.95)],
        rel=0,
        abs=1,
        names=[
            ("steps with μ = 0.8", "μ = 0.8 的步数"),
            ("steps with μ = 0.95", "μ = 0.95 的步数"),
        ],
    ),
    hints=[
        (
            '`surface.trajectory(surface.quadratic, (-4.0, 2.5), "SGD", {"lr": 0.015, "momentum": 0.95}, 400)` returns the values of f along the path; `np.flatnonzero(values < 1e-3)[0]` is the first step below the threshold.',
            '`surface.trajectory(surface.quadratic, (-4.0, 2.5), "SGD", {"lr": 0.015, "momentum": 0.95}, 400)` 返回路径上每一点的 f；`np.flatnonzero(values < 1e-3)[0]` 就是第一次低于阈值的那一步。',
        ),
        (
            'Answer both numbers, μ = 0.8 first: `--answer "A; B"`. Plot the two paths: does the second one circle around the minimum?',
            '两个数都要给，先写 μ = 0.8 的：`--answer "A; B"`。把两条路径画出来：第二条是不是绕着最小值转圈？',
        ),
    ],
    solution=(
        """
        {{ answer[0]:.0f }} steps with $\\mu = 0.8$, {{ answer[1]:.0f }} with $\\mu = 0.95$:
        slower. The velocity keeps 95% of itself each step, so the ball overshoots the valley
        floor, swings back and spirals in; the oscillation decays like $\\sqrt{\\mu}^t$, slower
        the closer $\\mu$ is to 1. More momentum helps only while the path still has a long way
        to go in one direction; near the minimum it costs.
        """,
        """
        $\\mu = 0.8$ 要 {{ answer[0]:.0f }} 步，$\\mu = 0.95$ 要 {{ answer[1]:.0f }} 步：反而更慢。速度每一步保留自己的
        95%，于是"小球"冲过谷底、又荡回来，绕着圈慢慢收拢；振荡按 $\\sqrt{\\mu}^t$ 衰减，$\\mu$ 越接近 1 衰减得越慢。
        动量大只在路径还要朝一个方向走很远时有用；到了最小值附近，它反而拖后腿。
        """,
    ),
)

# %% tags=["exercise"]


def decayed_sgd_reference(grad, start, lr0, steps):
    """The same loop with torch.optim.SGD and LambdaLR (the engine's twins without torch)."""
    try:
        import torch

        theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        as_tensor = torch.from_numpy
        optim = torch.optim
    except ImportError:
        theta = E.tensor(np.array(start, dtype=np.float64), requires_grad=True)
        as_tensor = E.tensor
        optim = E.optim
    optimizer = optim.SGD([theta], lr=lr0)
    schedule = optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1 / (1 + k / 20))
    path = [np.array(start, dtype=np.float64)]
    for step in range(steps):
        theta.grad = as_tensor(np.asarray(grad(path[-1].copy(), step), dtype=np.float64))
        optimizer.step()
        schedule.step()
        path.append(theta.detach().numpy().copy())
    return np.array(path)


def decayed_sgd_cases(rng):
    H = quadratic_hessian()
    _, options, sigma = surface.PROBLEMS["quadratic"].methods["SGD (noisy gradients, sigma=2)"]
    cases = []
    for label, start, lr0, steps, noise in (
        (
            ("the lecture's start and noise", "本讲的起点和噪声"),
            (-4.0, 2.5),
            options["lr"],
            80,
            sigma,
        ),
        (("no noise", "没有噪声"), (-4.0, 2.5), options["lr"], 40, 0.0),
        (("another start, smaller rate", "换个起点、学习率更小"), (3.0, -1.0), 0.02, 120, sigma),
        (("integer start, one step", "整数起点、只走一步"), (2.0, 2.0), 0.05, 1, 1.0),
    ):
        table = rng.normal(0.0, 1.0, (max(steps, 1), 2)) * noise  # the noise of step t

        def grad(theta, t, table=table):
            return H @ np.asarray(theta, dtype=np.float64) + table[t]

        shown = f"start {start}, lr0 = {lr0}, {steps} steps, σ = {noise:g}"
        cases.append(((f"{shown}, {label[0]}", f"{shown}，{label[1]}"), (grad, start, lr0, steps)))
    return cases


exercise(
    3,
    en="""
        Give SGD a learning rate that decays like $\\alpha_t = \\alpha_0 / (1 + t/20)$. Write
        `decayed_sgd(grad, start, lr0, steps)` in a file: from `start` (a pair), take `steps`
        steps $\\theta \\leftarrow \\theta - \\alpha_t\\, g_t$ for $t = 0, 1, \\dots$, where
        `grad(theta, t)` returns the noisy gradient $g_t$ of step t, and return every point
        visited, an array of shape (steps + 1, 2) starting with `start`. Run it on the quadratic
        with noise: does it settle closer to the minimum than SGD with a fixed rate?
    """,
    zh="""
        给 SGD 用一个衰减的学习率 $\\alpha_t = \\alpha_0 / (1 + t/20)$。在文件里写
        `decayed_sgd(grad, start, lr0, steps)`：从 `start`（两个数）出发，对 $t = 0, 1, \\dots$ 走 `steps` 步
        $\\theta \\leftarrow \\theta - \\alpha_t\\, g_t$，其中 `grad(theta, t)` 返回第 t 步的带噪声梯度 $g_t$；返回走过的
        每一个点，形状为 (steps + 1, 2) 的数组，第一个点是 `start`。在带噪声的二次函数上跑一跑：它能停得比固定学习率的 SGD
        离最小值更近吗？
    """,
    check=Function(
        name="decayed_sgd",
        signature="decayed_sgd(grad, start, lr0, steps) -> points (steps + 1, 2)",
        reference=decayed_sgd_reference,
        cases=decayed_sgd_cases,
        rtol=1e-9,
        atol=1e-12,
        oracle=("torch.optim.SGD with LambdaLR", "torch.optim.SGD 加 LambdaLR"),
    ),
    hints=[
        (
            "Step t uses $\\alpha_t = \\alpha_0 / (1 + t/20)$ with t counted from 0: the first step takes the full $\\alpha_0$. Call `grad(theta, t)` once per step, with the current point.",
            "第 t 步用 $\\alpha_t = \\alpha_0 / (1 + t/20)$，t 从 0 数起：第一步用的就是完整的 $\\alpha_0$。每一步用当前的点调用一次 `grad(theta, t)`。",
        ),
        (
            "Keep a list of points that starts with `np.array(start, dtype=float)`, append a new array after each step (not the same array changed in place), and return `np.array(points)`.",
            "用一个列表存点，第一个是 `np.array(start, dtype=float)`；每走一步追加一个新数组（不要原地修改同一个数组），最后返回 `np.array(points)`。",
        ),
    ],
    solution=(
        """
        ```python
        import numpy as np


        def decayed_sgd(grad, start, lr0, steps):
            theta = np.array(start, dtype=float)
            points = [theta]
            for t in range(steps):
                lr = lr0 / (1 + t / 20)
                theta = theta - lr * grad(theta, t)  # a new array: the list keeps each point
                points.append(theta)
            return np.array(points)
        ```

        It settles closer. With a fixed rate the noise moves the point by about $\\alpha\\sigma$
        every step, forever, so SGD jitters in a cloud around the minimum; with
        $\\alpha_t \\propto 1/t$ the steps shrink, the noise of successive steps averages out
        and the cloud keeps shrinking (the Robbins–Monro conditions:
        $\\sum_t \\alpha_t = \\infty$, $\\sum_t \\alpha_t^2 < \\infty$). The price is speed
        along the flat direction, where the shrinking rate crawls. Lecture 5 is about such
        schedules.
        """,
        """
        ```python
        import numpy as np


        def decayed_sgd(grad, start, lr0, steps):
            theta = np.array(start, dtype=float)
            points = [theta]
            for t in range(steps):
                lr = lr0 / (1 + t / 20)
                theta = theta - lr * grad(theta, t)  # 新数组：列表里保留每一个点
                points.append(theta)
            return np.array(points)
        ```

        会停得更近。学习率固定时，噪声每一步都把点推开大约 $\\alpha\\sigma$，永远如此，所以 SGD 在最小值周围的一团
        里抖动；$\\alpha_t \\propto 1/t$ 时步子越来越小，相邻各步的噪声互相抵消，那一团会不断缩小（Robbins–Monro 条件：
        $\\sum_t \\alpha_t = \\infty$，$\\sum_t \\alpha_t^2 < \\infty$）。代价是平缓方向上的速度：学习率越来越小，在那里
        走得很慢。第 5 讲专门讲这类学习率调度。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="Start Rosenbrock at $(-1.5, -0.5)$ instead of $(-1.5, 2)$. Which method arrives first now?",
    zh="把 Rosenbrock 的起点从 $(-1.5, 2)$ 改成 $(-1.5, -0.5)$，现在谁先到？",
    check=Open(),
    hints=[
        (
            'Run every method of `surface.PROBLEMS["rosenbrock"].methods` from the new start with `surface.trajectory` and print the first step with $f < 10^{-3}$ and the last value of f, as `surface.format_table` does.',
            '用 `surface.trajectory` 从新起点跑一遍 `surface.PROBLEMS["rosenbrock"].methods` 里的每种方法，像 `surface.format_table` 那样打印第一次 $f < 10^{-3}$ 的步数和最后的 f。',
        )
    ],
    solution=(
        """
        ```python
        problem = surface.PROBLEMS["rosenbrock"]
        for label, (optimizer, options, noise) in problem.methods.items():
            xs, ys, values = surface.trajectory(
                surface.rosenbrock, (-1.5, -0.5), optimizer, options, problem.steps, noise
            )
            below = np.flatnonzero(values < 1e-3)
            print(f"{label:36} first f < 1e-3: {below[0] if len(below) else '-':>5}  f = {values[-1]:.3g}")
        ```

        The ranking changes. From $(-1.5, 2)$ the path slides down the valley's outer wall onto
        its floor; from $(-1.5, -0.5)$ it starts below the parabola $y = x^2$ and must first climb
        onto the curved floor, where every method slows down. Compare the last values of f: the
        method that won the figure need not win here, and within the step budget the methods
        may not reach $10^{-3}$ at all. The learning rates of `surface.PROBLEMS` were tuned for
        one start; a tuning is a property of the problem *and* the starting point, which is why
        optimizers are compared on the problem at hand.
        """,
        """
        ```python
        problem = surface.PROBLEMS["rosenbrock"]
        for label, (optimizer, options, noise) in problem.methods.items():
            xs, ys, values = surface.trajectory(
                surface.rosenbrock, (-1.5, -0.5), optimizer, options, problem.steps, noise
            )
            below = np.flatnonzero(values < 1e-3)
            print(f"{label:36} first f < 1e-3: {below[0] if len(below) else '-':>5}  f = {values[-1]:.3g}")
        ```

        名次变了。从 $(-1.5, 2)$ 出发，路径顺着山谷外侧的坡滑到谷底；从 $(-1.5, -0.5)$ 出发，它在抛物线 $y = x^2$
        下方，要先爬上弯曲的谷底，在那里每种方法都会变慢。比一比最后的 f：图里的赢家在这里不一定赢，而且在步数预算内
        各方法可能都到不了 $10^{-3}$。`surface.PROBLEMS` 里的学习率是针对一个起点调的；调参的结果取决于问题*和*起点，
        所以优化器要在具体问题上比较。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's pieces are the optimizers: step 10, `sgd`
# (momentum, dampening, Nesterov and weight decay, as `torch.optim.SGD`), and step 11, `adam`
# (with its bias correction), each graded by its trajectory beside torch's.
#
# ```bash
# gradschool build start          # once: creates my-engine/, every step a blank to fill in
# gradschool build check sgd      # step 10
# gradschool build check adam     # step 11
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应的是优化器：第 10 步 `sgd`（动量、阻尼、Nesterov 和权重衰减，与
# `torch.optim.SGD` 相同）和第 11 步 `adam`（含偏差修正），都按和 torch 并排走出的轨迹来评分。
#
# ```bash
# gradschool build start          # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check sgd      # 第 10 步
# gradschool build check adam     # 第 11 步
# ```
