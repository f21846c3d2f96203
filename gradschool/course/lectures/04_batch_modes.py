# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 10 s
#     full: 26 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 4. Full-batch, mini-batch and stochastic gradient descent on MNIST
#
# **Goal.** The source names three ways to use the gradient: on all the data, on a batch, on
# one example. They are the same loop with a different batch size. Here we measure why the
# choice matters: how noisy a batch's gradient is, and what each method achieves on MNIST
# for the *same number of examples seen* — counted in epochs, in gradient evaluations and in
# seconds — on the NumPy engine and on PyTorch.

# %% [markdown] tags=["zh"]
# # 第 4 讲：在 MNIST 上比较全量、小批量和随机梯度下降
#
# **目标**：原文列了三种用梯度的方式：用全部数据、用一批数据、用一个样本。它们其实是同一个训练循环，只是批量大小
# 不同。本讲用实验说明这个选择为什么要紧：一个批次算出的梯度有多"吵"；在*看过的样本数相同*的前提下，三种方法
# 在 MNIST 上各能练到什么程度——分别按轮数、梯度计算次数和秒数来算——NumPy 引擎和 PyTorch 上都跑一遍。

# %% [markdown] tags=["en"]
# ## The source's three formulas
#
# Section 3 of the source gives them one after another. Gradient descent, "梯度下降是一种优化算法，
# 它通过计算损失函数的梯度来更新模型参数":
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta)
# $$
#
# "批量梯度下降（Batch Gradient Descent）…它通过将数据分成多个批次来更新模型参数":
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta, \mathcal{B})
# $$
#
# and "随机梯度下降（Stochastic Gradient Descent）…它通过将数据分成单个样本来更新模型参数":
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta, x_i)
# $$
#
# The formulas are right; one name is not what most texts mean, and one thing is left
# implicit.
#
# - **The name.** What the source calls "batch gradient descent" — data split into batches
#   $\mathcal{B}$ — is **mini-batch** gradient descent. In most textbooks "batch gradient descent"
#   means the *full* batch: the first formula, the gradient over all $n$ training examples.
#   gradschool avoids the word and uses the setting: `data.batch_size = "full"`, `64` or `1`.
# - **What $J$ is.** $J(\theta) = \frac{1}{n}\sum_{i=1}^{n} \ell(\theta; x_i, y_i)$ is the mean loss
#   over the training set; $J(\theta, \mathcal{B})$ is the mean over a batch of $B$ examples drawn at
#   random. The batch gradient is an *unbiased estimate* of the full one — right on average —
#   with a variance that falls like $1/B$:
#
# $$
# \mathbb{E}\,\|\nabla J(\theta,\mathcal{B}) - \nabla J(\theta)\|^2 = \frac{\sigma^2}{B}\cdot\frac{n-B}{n-1}
# $$
#
# where $\sigma^2$ is the variance of a single example's gradient (the second factor is there
# because a batch draws examples without replacement; it is 0 for $B = n$). SGD ($B = 1$) takes
# the noisiest, cheapest steps; full-batch GD takes exact, expensive ones.
#
# One more remark: `torch.optim.SGD` — which the source's own program uses, with batches — is
# the *update rule* $\theta \leftarrow \theta - \alpha g$ (plus momentum); the batch size is chosen
# by the data loader, not by the optimizer.

# %% [markdown] tags=["zh"]
# ## 原文的三个公式
#
# 原文第 3 节依次给出三种做法。梯度下降："梯度下降是一种优化算法，它通过计算损失函数的梯度来更新模型参数"：
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta)
# $$
#
# "批量梯度下降（Batch Gradient Descent）……它通过将数据分成多个批次来更新模型参数"：
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta, \mathcal{B})
# $$
#
# 以及"随机梯度下降（Stochastic Gradient Descent）……它通过将数据分成单个样本来更新模型参数"：
#
# $$
# \theta = \theta - \alpha \nabla_{\theta}J(\theta, x_i)
# $$
#
# 公式本身没错，但有一个名字和通常的说法对不上，还有一点没有讲明白。
#
# - **名字**：原文说的"批量梯度下降"是把数据分成若干批 $\mathcal{B}$，这其实是**小批量**（mini-batch）梯度下降。
#   大多数教材里说"批量梯度下降"（batch gradient descent），指的是*全量*：第一个公式，在全部 $n$ 个训练样本上
#   算梯度。gradschool 干脆不用这个容易混的词，直接看设置：`data.batch_size = "full"`、`64` 或 `1`。
# - **$J$ 是什么**：$J(\theta) = \frac{1}{n}\sum_{i=1}^{n} \ell(\theta; x_i, y_i)$ 是整个训练集上的平均损失；
#   $J(\theta, \mathcal{B})$ 是随机抽出的 $B$ 个样本上的平均损失。小批量梯度是全量梯度的*无偏估计*——平均来说
#   是对的——它的方差按 $1/B$ 下降：
#
# $$
# \mathbb{E}\,\|\nabla J(\theta,\mathcal{B}) - \nabla J(\theta)\|^2 = \frac{\sigma^2}{B}\cdot\frac{n-B}{n-1}
# $$
#
# 其中 $\sigma^2$ 是单个样本梯度的方差（后面那个因子来自"不放回抽样"：一个批次里的样本不重复；$B = n$ 时它等于 0）。
# SGD（$B = 1$）每一步最便宜、也最吵；全量 GD 每一步最准、也最贵。
#
# 再补一句：原文自己的程序用的 `torch.optim.SGD`（配合批量 64 的数据）只是*更新规则*
# $\theta \leftarrow \theta - \alpha g$（外加动量）；批量多大，是数据加载器决定的，不是优化器。

# %% [markdown] tags=["en"]
# ## 1. How noisy is a batch's gradient?
#
# We take the source's MLP (784-128-64-10) at its initial weights on a stratified slice of the
# embedded MNIST, compute the full gradient $\nabla J(\theta)$ once, then the gradients of many
# random batches of each size $B$, and measure how far they are from the full one — with the
# engine's autograd, the same `backward()` the training loop calls.

# %% [markdown] tags=["zh"]
# ## 1. 一个批次的梯度有多"吵"？
#
# 取原文的 MLP（784-128-64-10），用初始权重，在内置 MNIST 的一个分层子集上：先算一次全量梯度 $\nabla J(\theta)$，
# 再对每种批量大小 $B$ 随机抽很多个批次、分别算梯度，量一量它们离全量梯度有多远。用的是引擎的自动求导，
# 也就是训练循环里调用的那个 `backward()`。

# %%
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gradschool.config import load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.experiments.compare import run_compare, save_compare, summary_row
from gradschool.train.callbacks import Callback
from gradschool.train.trainer import Trainer

try:
    import torch  # noqa: F401 - only to know whether the second engine is here

    ENGINES = ["numpy", "torch"]
except ImportError:
    ENGINES = ["numpy"]
    print(t("torch is not installed: NumPy engine only.", "没有安装 torch：只用 NumPy 引擎。"))

SUBSET = 600 if QUICK else 2000  # stratified training images; 20% of them validate
EPOCHS = 2 if QUICK else 6
base = with_updates(
    load_config("seed_mlp"),  # the source's recipe: SGD, lr 0.01, momentum 0.9
    {
        "data.train_subset": SUBSET,
        "data.val_fraction": 0.2,
        "train.epochs": EPOCHS,
    },
)

# Build the model and the data once, without training: a Trainer does both.
probe = Trainer(with_updates(base, {"data.batch_size": "full"}), console=False)
backend, model, data = probe.backend, probe.model, probe.data
n = len(data.y_train)


def gradient(index: np.ndarray) -> np.ndarray:
    """The gradient of the mean loss over the examples `index`, all weights in one vector."""
    model.zero_grad()
    output = model(backend.tensor(data.X_train[index]))
    loss = probe.task.loss(backend.F, output, backend.tensor(data.y_train[index]))
    loss.backward()
    return np.concatenate([backend.to_numpy(p.grad).ravel() for p in model.parameters()])


full = gradient(np.arange(n))
rng = np.random.default_rng(0)
sizes = [1, 4, 16, 64, 256] + ([] if QUICK else [1024])
draws = 30 if QUICK else 60
errors = {}
for B in sizes:
    errs = [np.sum((gradient(rng.choice(n, B, replace=False)) - full) ** 2) for _ in range(draws)]
    errors[B] = float(np.mean(errs))
sigma2 = errors[1]  # at B = 1 the formula is E||g_i - g||^2 = sigma^2
print(
    t(f"n = {n} training examples, ||full gradient||^2 =", f"n = {n} 个训练样本，||全量梯度||^2 ="),
    f"{np.sum(full**2):.4f}",
)
print(
    f"{'B':>6} {t('measured E||g_B - g||^2', '实测 E||g_B - g||^2'):>26} {t('sigma^2/B (n-B)/(n-1)', 'sigma^2/B (n-B)/(n-1)'):>24}"
)
for B in sizes:
    predicted = sigma2 / B * (n - B) / (n - 1)
    print(f"{B:>6} {errors[B]:>26.5f} {predicted:>24.5f}")

fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.loglog(sizes, [errors[B] for B in sizes], "o-", label=t("measured", "实测"))
ax.loglog(
    sizes,
    [sigma2 / B * (n - B) / (n - 1) for B in sizes],
    "k--",
    lw=1,
    label=r"$\sigma^2/B \cdot (n-B)/(n-1)$",
)
ax.axhline(
    np.sum(full**2), color="grey", lw=0.8, ls=":", label=t("||full gradient||²", "||全量梯度||²")
)
ax.set(
    xlabel=t("batch size B", "批量大小 B"),
    ylabel=r"$E\,\|g_B - g\|^2$",
    title=t(
        "A batch's gradient: right on average, noise ∝ 1/B", "批次梯度：平均是对的，噪声 ∝ 1/B"
    ),
)
ax.legend()
ax.grid(alpha=0.3, which="both")
show()

# %% [markdown] tags=["en"]
# The dashed line is the formula above, with $\sigma^2$ taken from the $B = 1$ draws; the other
# batch sizes follow it. This gradient noise — how far one example's gradient lies from the
# full gradient — is larger than the gradient itself (the dotted line):
# a single SGD step often points the wrong way; only the average of many steps follows the
# true gradient. Each fourfold larger batch divides the noise by four, and at $B = n$ it is
# zero. Noise is not all bad — it lets SGD take many cheap steps and keeps it out of sharp
# minima — but it limits the learning rate a method can use.
#
# ## 2. The same budget of examples: GD, mini-batch and SGD
#
# Now we train. Every run sees the same number of examples — `EPOCHS` passes over the training
# slice — with the source's recipe (SGD with momentum 0.9, lr $\alpha = 0.01$), and only the
# batch size changes. SGD gets a second run with a ten times smaller rate, for a reason we
# will see. `gradschool.experiments.compare` trains each variant through the one training
# loop (`train.fit`), on each engine, and draws its standard figure: loss and accuracy against
# epochs, against training wall time and against gradient evaluations. A small callback also
# records the loss between epochs, so that the curves below have more than one point per epoch.
# The command-line equivalent is `gradschool compare --vary batch_size=full,64,1`.

# %% [markdown] tags=["zh"]
# 图中虚线是上面的公式，其中 $\sigma^2$ 取自 $B = 1$ 的那些抽样；其他批量大小都落在这条线上。单个样本的梯度噪声
# 比梯度本身还大（图中点线）：SGD 的某一步常常方向是错的，只有许多步平均下来才跟着真正的梯度走。
# 批量每大 4 倍，噪声就缩小到 1/4；$B = n$ 时噪声为零。噪声也不全是坏事——它让 SGD 能走很多便宜的小步，还能帮它
# 跳出尖锐的极小值——但它限制了能用多大的学习率。
#
# ## 2. 看同样多的样本：GD、小批量和 SGD
#
# 下面开始训练。每次运行看到的样本数都一样——在训练子集上过 `EPOCHS` 轮——配方用原文的（SGD，动量 0.9，学习率
# $\alpha = 0.01$），只改批量大小。SGD 再加一次学习率小十倍的运行，原因后面会看到。
# `gradschool.experiments.compare` 在每个引擎上把每种做法都交给同一个训练循环（`train.fit`）去训练，并画出它的标准图：
# 损失和准确率分别对轮数、训练耗时和梯度计算次数作图。另外用一个小回调在轮与轮之间也记录损失，这样下面的曲线
# 每轮不止一个点。命令行里对应的是 `gradschool compare --vary batch_size=full,64,1`。

# %%
VARIANTS = [  # (label, batch size, learning rate); the labels are the same in both languages
    ("GD (B = n), α = 0.01", "full", 0.01),
    ("mini-batch (B = 64), α = 0.01", 64, 0.01),
    ("SGD (B = 1), α = 0.01", 1, 0.01),
    ("SGD (B = 1), α = 0.001", 1, 0.001),
]


# A fixed set of training images, on which the loss is measured as training goes.
X_probe, y_probe = data.X_train[:400], data.y_train[:400]


class LossTrace(Callback):
    """The loss on (X_probe, y_probe) after optimizer steps 1, 2, ... spaced geometrically
    (about 10 per factor of 10), with the examples seen and the seconds in the loop so far.

    NOTE: the seconds leave out the time spent measuring here; the trainer's own clock (and
    so compare's figure) includes it, a few percent of a run."""

    def on_fit_start(self, trainer):
        self.rows, self.next = [], 1

    def on_epoch_start(self, trainer):
        self.epoch_start, self.spent = time.perf_counter(), 0.0

    def on_batch_end(self, trainer, loss):
        state = trainer.state
        if state.step < self.next:
            return
        now = time.perf_counter()
        seconds = state.train_time + now - self.epoch_start - self.spent
        probe_loss = trainer.evaluate(X_probe, y_probe)["loss"]  # eval mode, no graph
        self.rows.append((state.step, state.examples_seen, seconds, probe_loss))
        self.spent += time.perf_counter() - now
        self.next = max(self.next + 1, math.ceil(self.next * 10**0.1))


out = Path(tempfile.mkdtemp(prefix="lecture04-"))
results, traces = {}, {}
for engine in ENGINES:
    plan = [
        (label, with_updates(base, {"train.engine": engine, "data.batch_size": B, "optim.lr": lr}))
        for label, B, lr in VARIANTS
    ]
    engine_traces = [LossTrace() for _ in plan]
    start = time.perf_counter()
    results[engine] = run_compare(plan, callbacks=lambda i, run, tr=engine_traces: [tr[i]])
    traces[engine] = [trace.rows for trace in engine_traces]
    print(
        t(
            f"{engine}: {len(plan)} runs in {time.perf_counter() - start:.1f} s",
            f"{engine}：{len(plan)} 次运行，共 {time.perf_counter() - start:.1f} 秒",
        )
    )

figure = save_compare(
    results["numpy"],
    out / "numpy",
    title=f"{n} MNIST images, {EPOCHS} epochs each, the source's MLP (NumPy engine)",
)["figure"]
show(figure)

# %% [markdown] tags=["en"]
# The table reads the runs' histories (`summary_row`): the three clocks of the last epoch, the
# training loss and the validation accuracy. "s / epoch vs B = 64" divides each run's median
# epoch time by the mini-batch run's, on the same engine in the same session: a ratio, since
# absolute seconds depend on the machine and its load.

# %% [markdown] tags=["zh"]
# 下表读取每次运行的记录（`summary_row`）：最后一轮时的三个"时钟"、训练损失和验证集准确率。"每轮耗时 / B = 64"
# 是每次运行的每轮耗时中位数除以同一引擎、同一次会话里小批量那次的值：只给比值，因为秒数本身取决于机器和它的负载。


# %%
def print_table(runs_by_engine: dict) -> None:
    print(
        f"{t('run', '运行'):<32}{t('engine', '引擎'):>7}{t('grad. evals', '梯度计算次数'):>13}"
        f"{t('examples', '样本数'):>10}{t('train s', '训练秒数'):>9}{t('s/epoch vs B=64', '每轮耗时/B=64'):>17}"
        f"{t('train loss', '训练损失'):>12}{t('val acc', '验证准确率'):>10}"
    )
    for engine, runs in runs_by_engine.items():
        rows = [summary_row(run) for run in runs]
        reference = rows[1]["median_epoch_s"]  # the mini-batch run, same engine
        for row in rows:
            print(
                f"{row['run']:<32}{engine:>7}{row['steps']:>13,}{row['examples_seen']:>10,}"
                f"{row['train_time_s']:>9.1f}{row['median_epoch_s'] / reference:>16.1f}x"
                f"{row['train_loss']:>12.3f}{100 * row['val_acc']:>9.1f}%"
            )


print_table(results)

# %% [markdown] tags=["en"]
# ## 3. Gradient descent needs many more examples
#
# With the same budget, full-batch GD has taken only `EPOCHS` steps. It has no noise, so it
# tolerates a larger learning rate; we give it $\alpha = 0.1$ and twenty times the budget, and
# draw every run's loss against examples seen, gradient evaluations and seconds, NumPy engine
# (solid) and PyTorch (dashed).

# %% [markdown] tags=["zh"]
# ## 3. 梯度下降需要多得多的样本
#
# 样本预算相同时，全量 GD 只走了 `EPOCHS` 步。它没有噪声，能承受更大的学习率；我们给它 $\alpha = 0.1$ 和二十倍的
# 样本预算，然后把所有运行的损失分别对看过的样本数、梯度计算次数和秒数作图：实线是 NumPy 引擎，虚线是 PyTorch。

# %%
LONG = ("GD (B = n), α = 0.1, 20× budget", "full", 0.1)
for engine in ENGINES:
    config = with_updates(
        base,
        {
            "train.engine": engine,
            "data.batch_size": "full",
            "optim.lr": 0.1,
            "train.epochs": 20 * EPOCHS,
        },
    )
    trace = LossTrace()
    (run,) = run_compare([(LONG[0], config)], callbacks=lambda i, r, tr=trace: [tr])
    results[engine].append(run)
    traces[engine].append(trace.rows)
print_table(results)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
clocks = [
    (1, t("examples seen", "看过的样本数")),
    (0, t("gradient evaluations (optimizer steps)", "梯度计算次数（优化器步数）")),
    (2, t("seconds in the training loop", "训练循环耗时（秒）")),
]
for style, engine in zip(("-", "--"), ENGINES):
    for k, rows in enumerate(traces[engine]):
        rows = np.array(rows)
        for ax, (col, _) in zip(axes, clocks):
            label = results[engine][k].label if style == "-" else None
            ax.plot(rows[:, col], rows[:, 3], style, color=colors[k], lw=1.4, label=label)
for ax, (_, xlabel) in zip(axes, clocks):
    ax.set(xscale="log", xlabel=xlabel)
    ax.grid(alpha=0.3, which="both")
axes[0].set(
    ylabel=t(
        f"loss on {len(y_probe)} fixed training images", f"固定的 {len(y_probe)} 张训练图片上的损失"
    ),
    ylim=(0, 2.6),
)
axes[0].axvline(EPOCHS * n, color="grey", lw=0.8, ls=":")
axes[0].legend(fontsize=8)
fig.suptitle(
    t(
        f"Three clocks, one story per clock (solid: NumPy engine, dashed: PyTorch; {n} images)",
        f"三个时钟，三种说法（实线：NumPy 引擎，虚线：PyTorch；{n} 张图片）",
    )
)
fig.tight_layout()
show()

# %%
# What the prose below quotes: each run's numbers on every engine, as "low–high" ranges.
rows = {engine: [summary_row(run) for run in runs] for engine, runs in results.items()}
GD, MINI, SGD, SGD_SMALL, GD_LONG = range(5)  # the runs, in the order they ran


def span(k: int, key: str, scale: float = 1, digits: int = 0) -> str:
    """Run k's `key` on every engine: "88" or "88–90" (times `scale`, `digits` decimals)."""
    values = sorted(scale * rows[engine][k][key] for engine in ENGINES)
    low, high = f"{values[0]:.{digits}f}", f"{values[-1]:.{digits}f}"
    return low if low == high else f"{low}–{high}"


def epoch_ratio(k: int) -> str:
    """Run k's median epoch time over the mini-batch run's, on each engine: "17–21"."""
    ratios = sorted(rows[e][k]["median_epoch_s"] / rows[e][MINI]["median_epoch_s"] for e in ENGINES)
    low, high = f"{ratios[0]:.0f}", f"{ratios[-1]:.0f}"
    return low if low == high else f"{low}–{high}"


# %% [markdown] tags=["en"]
# ## What the numbers say
#
# The numbers are this run's, on {{ " and ".join(ENGINES) }} (a range covers the engines).
#
# - **Per example seen, small batches learn far more.** After the same budget (the dotted line
#   in the left panel), full-batch GD with the source's rate has taken {{ EPOCHS }} steps and is
#   still near the loss of guessing, $\ln 10 \approx 2.3$ (training loss {{ span(GD, "train_loss", digits=2) }}).
#   Mini-batch ({{ rows["numpy"][MINI]["steps"]:, }} steps) and SGD with the smaller rate
#   ({{ rows["numpy"][SGD_SMALL]["steps"]:, }} steps) have learned: {{ span(MINI, "val_acc", 100) }}% and
#   {{ span(SGD_SMALL, "val_acc", 100) }}% on validation, against GD's {{ span(GD, "val_acc", 100) }}%.
# - **GD catches up only with much more data.** With $\alpha = 0.1$ and twenty times the
#   examples it reaches {{ span(GD_LONG, "val_acc", 100) }}% on validation — its steps are exact, so
#   it can afford the larger rate. The spike on its curve is momentum overshooting: with
#   $\mu = 0.9$ the "heavy ball" runs past the valley floor once before it settles.
# - **The learning rate belongs to the batch size.** The source's $\alpha = 0.01$ with
#   momentum 0.9 (an effective step of $\alpha/(1-\mu) = 0.1$) is fine for batches of 64 but
#   too large for the noise of one example: SGD with it ends at a training loss of
#   {{ span(SGD, "train_loss", digits=2) }}, no better than guessing ($\ln 10 \approx 2.30$), and
#   {{ span(SGD, "val_acc", 100) }}% on validation. Ten times smaller, it trains.
# - **Per second, mini-batch wins.** One step on one example costs almost as much as a step on
#   64 — the fixed cost of each step (Python, the engine's bookkeeping, small matrix products)
#   dominates — so an epoch of SGD takes {{ epoch_ratio(SGD) }} times as long as an epoch of
#   mini-batch here. That is why everyone trains with mini-batches: the noise of a few dozen examples,
#   the speed of vectorised arithmetic.
# - Both engines draw the same picture; their numbers differ a little because each engine
#   draws its own initial weights (lecture 6 shows that from the same weights they agree).
#
# NOTE: times come from a shared machine and move with its load; the ratios are more stable
# than the seconds. The lecture runner holds BLAS and torch at one thread (`--threads` changes
# it); for your own scripts on a machine shared with other work, start Python with
# `OMP_NUM_THREADS=1` (docs/generalization.md, "A note on threads").

# %% [markdown] tags=["zh"]
# ## 数字说明了什么
#
# 下面的数字都来自这次运行，引擎是 {{ "、".join(ENGINES) }}（给出范围的，是各引擎的最小值到最大值）。
#
# - **按看过的样本数算，小批量学得多得多。** 预算相同时（左图的点线），用原文学习率的全量 GD 只走了 {{ EPOCHS }} 步，损失
#   还停在瞎猜的水平 $\ln 10 \approx 2.3$ 附近（训练损失 {{ span(GD, "train_loss", digits=2) }}）；小批量（{{ rows["numpy"][MINI]["steps"]:, }} 步）和用小学习率的
#   SGD（{{ rows["numpy"][SGD_SMALL]["steps"]:, }} 步）已经学会了：验证集准确率分别是 {{ span(MINI, "val_acc", 100) }}% 和 {{ span(SGD_SMALL, "val_acc", 100) }}%，而 GD 只有
#   {{ span(GD, "val_acc", 100) }}%。
# - **GD 要多得多的数据才追得上。** 用 $\alpha = 0.1$、二十倍的样本，它的验证集准确率到了 {{ span(GD_LONG, "val_acc", 100) }}%——它的每一步
#   都是准的，所以敢用大学习率。曲线上那个尖峰是动量冲过了头：$\mu = 0.9$ 的"重球"先越过谷底一次，然后才稳下来。
# - **学习率要跟批量大小配套。** 原文的 $\alpha = 0.01$ 加动量 0.9（等效步长 $\alpha/(1-\mu) = 0.1$）对批量 64 正合适，
#   对单个样本的噪声来说就太大了：用它的 SGD 最后的训练损失是 {{ span(SGD, "train_loss", digits=2) }}，不比瞎猜（$\ln 10 \approx 2.30$）强，
#   验证集准确率 {{ span(SGD, "val_acc", 100) }}%。学习率缩小十倍，就能正常训练。
# - **按秒算，小批量最划算。** 在一个样本上走一步，花的时间和在 64 个样本上走一步差不多——每一步的固定开销
#   （Python、引擎的簿记、小矩阵乘法）占了大头——所以这里 SGD 跑一轮要花小批量的 {{ epoch_ratio(SGD) }} 倍时间。这就是大家都用
#   小批量训练的原因：几十个样本的噪声水平，加上向量化运算的速度。
# - 两个引擎画出来的图是一样的；数字略有不同，是因为两个引擎各自随机初始化权重（第 6 讲说明了初始权重相同时两者一致）。
#
# 注意：时间是在一台共享机器上测的，会随负载变化；比值比秒数稳定。讲义运行器会把 BLAS 和 torch 限定为单线程
# （`--threads` 可以改）；自己写的脚本和别的任务共用机器时，启动 Python 前设置 `OMP_NUM_THREADS=1`（见
# docs/generalization.zh-CN.md 里关于线程的说明）。

# %% [markdown] tags=["en"]
# ## Summary
#
# - The three formulas are one loop with three batch sizes: `data.batch_size = "full"` is
#   gradient descent, `1` is stochastic gradient descent, `N` is mini-batch gradient descent
#   (the source's "批量梯度下降", usually called mini-batch; "batch" usually means full).
# - A batch's gradient is an unbiased estimate of the full gradient; its noise falls like
#   $1/B$.
# - For a fixed budget of examples, more (noisier) steps win; per second, mini-batches win;
#   the learning rate must shrink as the noise grows.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 三个公式是同一个训练循环配三种批量大小：`data.batch_size = "full"` 是梯度下降，`1` 是随机梯度下降，`N` 是小批量
#   梯度下降（原文叫"批量梯度下降"，通常叫小批量；一般说"批量"指的是全量）。
# - 一个批次的梯度是全量梯度的无偏估计，噪声按 $1/B$ 下降。
# - 样本预算固定时，步数多（哪怕吵一些）的赢；按秒算，小批量赢；噪声越大，学习率就得越小。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 4 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 4`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 4 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 4` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
from gradschool.config import load_config, with_updates
from gradschool.course.exercises import Number, Open, Run, exercise
from gradschool.data.loader import DataLoader
from gradschool.data.prepare import prepare_data
from gradschool.train.trainer import fit

# Section 2's runs in full mode: the source's recipe on 2,000 images, 20% of them validating.
FULL_MODE = with_updates(
    load_config("seed_mlp"),
    {
        "data.train_subset": 2000,
        "data.val_fraction": 0.2,
        "train.epochs": 6,
        "train.progress": "off",
        "train.engine": "numpy",
    },
)


def optimizer_steps(batch_sizes: list[int]) -> list[int]:
    """Optimizer steps of the full mode's run with each batch size: the batches per epoch of
    the loader the trainer uses, over the full mode's training split, times the epochs."""
    data = prepare_data(FULL_MODE.data, FULL_MODE.train.seed, with_test=False)
    epochs = FULL_MODE.train.epochs
    return [len(DataLoader(data.X_train, data.y_train, batch_size=B)) * epochs for B in batch_sizes]


exercise(
    1,
    en="""
        Add `B = 8` and `B = 512` to `VARIANTS`. Before running: how many optimizer steps does
        each take in full mode (6 epochs of the 1,600 training images)? Then run: where does
        each land in the three panels?
    """,
    zh="""
        在 `VARIANTS` 里加上 `B = 8` 和 `B = 512`。先别运行，算一算：完整模式下（1,600 张训练图，6 轮）它们各走多少
        优化步？再运行：它们在三张子图里各落在哪里？
    """,
    check=Number(
        lambda: optimizer_steps([8, 512]),
        rel=0,
        names=[("steps with B = 8", "B = 8 的步数"), ("steps with B = 512", "B = 512 的步数")],
    ),
    hints=[
        (
            "An epoch is one pass over the training images, one optimizer step per batch; the last batch holds what is left over.",
            "一轮就是把训练图全部过一遍，每个批次一步；最后一个批次装剩下的那些。",
        ),
        (
            'Steps per epoch are $\\lceil 1600 / B \\rceil$: 1600/512 is not a whole number. Answer both, B = 8 first: `--answer "A; B"`.',
            '每轮的步数是 $\\lceil 1600 / B \\rceil$：1600/512 不是整数。两个都要回答，先写 B = 8 的：`--answer "A; B"`。',
        ),
    ],
    solution=(
        """
        {{ answer[0]:.0f }} and {{ answer[1]:.0f }}: $6 \\cdot \\lceil 1600/8 \\rceil$ and
        $6 \\cdot \\lceil 1600/512 \\rceil$ (four batches an epoch, the last of 64 images). In
        the panels: against *examples seen*, B = 8 sits between SGD and B = 64 (many small
        steps per pass), B = 512 near GD (few steps, so little progress per example); against
        *gradient evaluations*, B = 512 is close to GD's curve, each step nearly the full
        gradient; against *seconds*, B = 8 pays Python's per-step overhead 8 times as often as
        B = 64, while B = 512 is fast per epoch but needs many more epochs.
        """,
        """
        {{ answer[0]:.0f }} 和 {{ answer[1]:.0f }}：$6 \\cdot \\lceil 1600/8 \\rceil$ 和
        $6 \\cdot \\lceil 1600/512 \\rceil$（每轮四个批次，最后一个 64 张）。在三张图里：按*看过的样本数*，B = 8 落在
        SGD 和 B = 64 之间（每过一遍数据走很多小步），B = 512 靠近 GD（步数少，每个样本带来的进展小）；按*梯度计算次数*，
        B = 512 贴近 GD 的曲线，每一步都差不多是完整的梯度；按*秒数*，B = 8 每一步的 Python 开销付了 B = 64 的 8 倍，
        B = 512 每轮很快，但要多得多的轮数。
        """,
    ),
)

# %% tags=["exercise"]


def one_epoch_of_sgd(config) -> float:
    """Validation accuracy after the run (one epoch of B = 1)."""
    return fit(config, console=False).state.history[-1]["val_acc"]


exercise(
    2,
    en="""
        Find a learning rate with which SGD ($B = 1$, the recipe's momentum 0.9) still trains:
        the recipe's 0.01 does not (section 2). Try 0.003 and 0.005, then smaller. The check
        trains one epoch of the full mode's 1,600 images with your rate; it must reach 83%
        validation accuracy. Then try $B = 64$ with $\\alpha = 0.1$: what does that suggest
        about $\\alpha$ and $B$?
    """,
    zh="""
        找一个还能让 SGD（$B = 1$，配方里的动量 0.9）训练起来的学习率：配方的 0.01 不行（第 2 节）。先试 0.003 和
        0.005，再往小试。检查时会用你的学习率在完整模式的 1,600 张图上训练一轮，验证准确率要达到 83%。再试试
        $B = 64$ 配 $\\alpha = 0.1$：这说明 $\\alpha$ 和 $B$ 之间是什么关系？
    """,
    check=Run(
        base=lambda: with_updates(FULL_MODE, {"data.batch_size": 1, "train.epochs": 1}),
        train=one_epoch_of_sgd,
        bar=0.83,
        metric=("validation accuracy", "验证准确率"),
        keys=("optim.lr",),
        answer="optim.lr=0.001",
        template="optim.lr=VALUE",
    ),
    hints=[
        (
            "One example's gradient is a very noisy estimate: with momentum 0.9 each step moves about ten times the learning rate times that noise. A rate that diverges or stalls at 0.01 needs to shrink by a factor of several.",
            "一个样本的梯度是非常吵的估计：动量 0.9 时，每一步大约移动学习率乘以这份噪声的十倍。在 0.01 下发散或停滞的学习率，要缩小好几倍。",
        ),
        (
            "Try rates a factor of 2 to 3 apart: 0.003, 0.001, 0.0005. The check prints the validation accuracy it reached.",
            "按 2 到 3 倍的间隔试：0.003、0.001、0.0005。检查会打印达到的验证准确率。",
        ),
    ],
    solution=(
        """
        `{{ answer }}` (anything from about 0.0005 to 0.002 reaches 83% in one epoch here;
        0.003 is already worse and 0.01 fails). With $B = 64$, $\\alpha = 0.1$ trains: a batch
        of 64 averages away most of the noise (its variance falls like $1/B$), so it tolerates
        a rate a hundred times larger than one example does. The rule of thumb that follows,
        the *linear scaling rule* (Goyal et al. 2017): when the batch grows k times, the
        learning rate can grow about k times, up to the point where the curvature of the loss
        (lecture 2's $2/\\lambda_{max}$), not the noise, sets the limit.
        """,
        """
        `{{ answer }}`（这里大约 0.0005 到 0.002 之间的学习率都能在一轮内达到 83%；0.003 已经变差，0.01 不行）。
        $B = 64$ 配 $\\alpha = 0.1$ 能训练：64 个样本的平均抵消了大部分噪声（方差按 $1/B$ 下降），所以它能承受比单个样本
        大一百倍的学习率。由此得到的经验法则叫*线性缩放规则*（Goyal 等 2017）：批量变大 k 倍，学习率大约也可以变大 k 倍，
        直到限制学习率的不再是噪声，而是损失的曲率（第 2 讲的 $2/\\lambda_{max}$）为止。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    3,
    en='Remove momentum (`"optim.momentum": 0`) and rerun section 2. Which method suffers most?',
    zh='去掉动量（`"optim.momentum": 0`），重跑第 2 节。哪种方法受影响最大？',
    check=Open(),
    hints=[
        (
            "Momentum $\\mu$ multiplies the effective step by about $1/(1 - \\mu)$ once the velocity has built up: how large is that for 0.9, and which runs had a learning rate that was too small, or too large, for them?",
            "速度积累起来以后，动量 $\\mu$ 大约把有效步长放大 $1/(1 - \\mu)$ 倍：0.9 时是多少？哪些运行的学习率对它们来说偏小，哪些偏大？",
        )
    ],
    solution=(
        """
        Add `"optim.momentum": 0` to `base` and run section 2 again. Momentum 0.9 makes each
        step about $1/(1 - 0.9) = 10$ times the learning rate times the (averaged) gradient, so
        removing it divides the effective rate by about ten. The mini-batch run ($B = 64$,
        $\\alpha = 0.01$) suffers most: it was well tuned with momentum and now crawls. GD had
        only a handful of steps in the budget and barely moved either way. SGD with
        $\\alpha = 0.01$ gets *better*: without momentum it behaves like $\\alpha = 0.001$ with
        it, the rate that trained (exercise 2). Momentum is part of the learning rate: change
        one and the other must be tuned again.
        """,
        """
        在 `base` 里加上 `"optim.momentum": 0`，重跑第 2 节。动量 0.9 让每一步大约是学习率乘（平均后的）梯度的
        $1/(1 - 0.9) = 10$ 倍，去掉动量相当于把有效学习率除以 10 左右。受影响最大的是小批量（$B = 64$，$\\alpha = 0.01$）：
        它原本配着动量调得正好，现在走得很慢。GD 在这点预算里本来就只走了几步，有没有动量都几乎没动。$\\alpha = 0.01$
        的 SGD 反而*变好*了：去掉动量后，它的表现相当于带动量的 $\\alpha = 0.001$，也就是能训练起来的那个学习率
        （练习 2）。动量是学习率的一部分：改了一个，另一个就得重新调。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        Run `gradschool compare --vary batch_size=full,64,1 --epochs 2 --train-subset 2000` and
        open `compare.csv` in the output folder.
    """,
    zh="""
        运行 `gradschool compare --vary batch_size=full,64,1 --epochs 2 --train-subset 2000`，打开输出目录里的
        `compare.csv` 看看。
    """,
    check=Open(),
    solution=(
        """
        The command trains the source's recipe three times, through the same loop as section
        2, and writes one row per run to `compare.csv` (and a figure beside it): the final
        training loss, validation accuracy, optimizer steps, examples seen and time. Read the
        steps column: GD makes one step an epoch, the mini-batch run one per 64 images, SGD
        one per image — the same examples seen, very different numbers of updates, which is
        section 2's first panel in one table. (The CSV opens in any spreadsheet; `pandas.read_csv` reads it too.)
        """,
        """
        这条命令用和第 2 节同一个训练循环，把原文的配方训练三次，每次一行写进 `compare.csv`（旁边还有一张图）：最终的
        训练损失、验证准确率、优化步数、看过的样本数和用时。看步数那一列：GD 每轮一步，小批量每 64 张图一步，SGD 每张图一步——看过的样本一样多，
        更新次数却差得很远，这就是第 2 节第一张子图的内容，变成了一张表。（CSV 用任何电子表格都能
        打开，`pandas.read_csv` 也能读。）
        """,
    ),
)
