# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 8 s
#     full: 38 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 7. Overfitting and regularization
#
# **Goal.** Make a network overfit on purpose, see it in the gap between training and
# validation accuracy, and then try the remedies one at a time — the three the source names
# and the ones it leaves out — measuring what each does to that gap, on the NumPy engine and
# on PyTorch. Along the way: what L1 and L2 penalties do to the weights, and why "weight
# decay" and "an L2 penalty" stop being the same thing with Adam.

# %% [markdown] tags=["zh"]
# # 第 7 讲：过拟合与正则化
#
# **目标**：故意让网络过拟合，从训练准确率和验证准确率之间的差距上看出来；然后一个一个地试各种对策——原文提到的
# 三种，以及它没提到的几种——量一量每一种对这个差距有什么影响，NumPy 引擎和 PyTorch 都用上。顺带看看 L1 和 L2
# 惩罚对权重做了什么，以及为什么到了 Adam 这里，"权重衰减"和"L2 惩罚"就不再是一回事。

# %% [markdown] tags=["en"]
# ## What the source says
#
# The source's FAQ (section 8, "常见问题与解答") asks "如何处理模型过拟合？" (how do I handle
# overfitting?) and answers: "模型过拟合可以通过多种方法解决，例如使用正则化技术、减少模型复杂度、
# 增加训练数据等" — regularization, a less complex model, more training data.
#
# All three are real remedies, but the answer leaves out the first step and most of the
# toolbox:
#
# - **How to see it.** A model overfits when it learns its training examples rather than the
#   rule behind them: training accuracy keeps rising while accuracy on examples it has not
#   seen stalls. You can only see that on data held out from training — a validation split.
# - **"Regularization" is a family**, not one technique: a penalty on the weights (L2 / weight
#   decay, L1), dropout, early stopping, and data augmentation ("more data" for free).
# - **"A less complex model" is the classic advice, not today's practice.** Large networks
#   with regularization usually beat small ones; shrinking the model is one option among
#   several, and often not the best (we measure it below).
#
# The formulas. An **L2 penalty** adds $\frac{\lambda}{2}\|w\|^2$ to the loss $J$; its gradient
# $\lambda w$ shrinks every weight a little at each SGD step (Krogh & Hertz, 1992):
#
# $$
# w \leftarrow w - \alpha\left(\nabla J(w) + \lambda w\right) = (1 - \alpha\lambda)\,w - \alpha \nabla J(w)
# $$
#
# With Adam the gradient is divided by its running scale, and so is $\lambda w$: weights with large
# gradients are barely decayed. **Decoupled weight decay** (AdamW, Loshchilov & Hutter, 2019)
# takes the decay out of the gradient:
#
# $$
# w \leftarrow w - \alpha\lambda w - \alpha \frac{\hat m}{\sqrt{\hat v} + \epsilon}
# $$
#
# An **L1 penalty** $\lambda\sum_i |w_i|$ pulls every weight towards zero by the same amount,
# $\lambda\,\mathrm{sign}(w_i)$, so small weights become exactly zero — a sparse model (Tibshirani's
# lasso, 1996):
#
# $$
# \frac{\partial}{\partial w_i}\left(J + \lambda\sum_j |w_j|\right) = \frac{\partial J}{\partial w_i} + \lambda\,\mathrm{sign}(w_i)
# $$
#
# **Dropout** (Srivastava et al., 2014) zeroes each hidden unit with probability $p$ during
# training and scales the survivors by $1/(1-p)$, so that nothing changes on average and
# evaluation uses the whole network. **Early stopping** stops when the validation loss has not
# improved for a number of epochs and keeps the best epoch's weights. **Augmentation** shows the
# network a slightly moved or turned version of each image at every epoch. In gradschool each
# is one setting: `optim.weight_decay`, `optim.name = "adamw"`, `train.l1`, `model.dropout`,
# `early_stopping.patience`, `data.augment` (docs/generalization.md).

# %% [markdown] tags=["zh"]
# ## 原文怎么说
#
# 原文第 8 节"常见问题与解答"里问"如何处理模型过拟合？"，答案是："模型过拟合可以通过多种方法解决，例如使用正则化
# 技术、减少模型复杂度、增加训练数据等。"
#
# 这三条都是真正有效的办法，但这个回答漏掉了第一步，也漏掉了工具箱里的大部分东西：
#
# - **怎么发现过拟合。** 模型记住了训练样本本身、而不是背后的规律，就是过拟合：训练准确率一路上涨，没见过的样本上
#   的准确率却停滞不前。只有在训练时没用过的数据——验证集——上才看得出来。
# - **"正则化"是一大类方法**，不是某一个技巧：对权重的惩罚（L2/权重衰减、L1）、dropout、早停，还有数据增强
#   （相当于白捡的"更多数据"）。
# - **"减少模型复杂度"是传统建议，不是现在的主流做法。** 大网络加正则化，通常比小网络效果好；缩小模型只是几种选择
#   之一，而且往往不是最好的那个（下面会实测）。
#
# 公式如下。**L2 惩罚**在损失 $J$ 上加 $\frac{\lambda}{2}\|w\|^2$，它的梯度 $\lambda w$ 让每一步 SGD 都把每个权重往零缩一点
# （Krogh 和 Hertz，1992）：
#
# $$
# w \leftarrow w - \alpha\left(\nabla J(w) + \lambda w\right) = (1 - \alpha\lambda)\,w - \alpha \nabla J(w)
# $$
#
# 到了 Adam，梯度要除以它自己的滑动尺度，$\lambda w$ 也跟着被除：梯度大的权重几乎不会被衰减。**解耦的权重衰减**
# （AdamW，Loshchilov 和 Hutter，2019）把衰减从梯度里拿出来单独做：
#
# $$
# w \leftarrow w - \alpha\lambda w - \alpha \frac{\hat m}{\sqrt{\hat v} + \epsilon}
# $$
#
# **L1 惩罚** $\lambda\sum_i |w_i|$ 对每个权重都往零拉同样的量 $\lambda\,\mathrm{sign}(w_i)$，所以小的权重会被拉成正好为零——
# 得到稀疏的模型（Tibshirani 的 lasso，1996）：
#
# $$
# \frac{\partial}{\partial w_i}\left(J + \lambda\sum_j |w_j|\right) = \frac{\partial J}{\partial w_i} + \lambda\,\mathrm{sign}(w_i)
# $$
#
# **Dropout**（Srivastava 等，2014）在训练时以概率 $p$ 把每个隐藏单元置零，剩下的乘以 $1/(1-p)$，这样平均来看什么都没变，
# 评估时用完整的网络。**早停**是在验证损失连续若干轮没有改善时停止训练，并取回最好那一轮的权重。**数据增强**让网络
# 每一轮看到的都是每张图稍微平移或旋转过的版本。在 gradschool 里每一种都是一个设置：`optim.weight_decay`、
# `optim.name = "adamw"`、`train.l1`、`model.dropout`、`early_stopping.patience`、`data.augment`
# （见 docs/generalization.zh-CN.md）。

# %% [markdown] tags=["en"]
# ## 1. Overfitting on purpose
#
# Two bundled configs make it visible. `overfit_demo` trains a wide MLP (784-1024-1024-10,
# 1.9 million weights) on only 1,000 MNIST images, with another 1,000 held out for validation,
# and no regularization. `overfit_regularized` is the same run with four remedies switched on:
# weight decay 5e-4, dropout 0.5, augmentation (`shift:2`, `rotate:10`) and early stopping
# (patience 10). Both measure the training set after every epoch, in eval mode
# (`train.eval_train = true`), so the gap can be drawn. The test split is not even loaded:
# this compares training with validation. NumPy engine, through `train.fit`. (Quick mode
# shrinks the network to 784-256-256-10 and the run to a few epochs.)

# %% [markdown] tags=["zh"]
# ## 1. 故意过拟合
#
# 两个自带的配置能把过拟合直观地展示出来。`overfit_demo` 用一个很宽的 MLP（784-1024-1024-10，190 万个权重）只在
# 1000 张 MNIST 图片上训练，另外 1000 张留作验证，不加任何正则化。`overfit_regularized` 是同样的训练，打开了四种
# 对策：权重衰减 5e-4、dropout 0.5、数据增强（`shift:2`、`rotate:10`）和早停（patience 10）。两个配置每轮结束后都在
# 评估模式下测一遍训练集（`train.eval_train = true`），这样就能把差距画出来。测试集根本不加载：这里只比较训练集和
# 验证集。用 NumPy 引擎，走 `train.fit`。（快速模式把网络缩成 784-256-256-10，只训练几轮。）

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gradschool import plots
from gradschool.backends import get_backend
from gradschool.config import load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.data.prepare import prepare_data
from gradschool.train.trainer import fit

try:
    import torch  # noqa: F401 - only to know whether the second engine is here

    ENGINES = ["numpy", "torch"]
except ImportError:
    ENGINES = ["numpy"]
    print(t("torch is not installed: NumPy engine only.", "没有安装 torch：只用 NumPy 引擎。"))

EPOCHS_A = 8 if QUICK else 30
quick_model = {"model.sizes": [784, 256, 256, 10]} if QUICK else {}
EPOCHS_B = 6 if QUICK else 30  # section 2
small_net = [784, 128, 128, 10] if QUICK else [784, 256, 256, 10]
small_weights = sum(a * b + b for a, b in zip(small_net[:-1], small_net[1:]))


def final_scores(trainer, data) -> tuple[float, float, float]:
    """Train accuracy, validation accuracy and validation loss of the model the run ended
    with (for early stopping: the best epoch's weights, restored)."""
    train = trainer.evaluate(data.X_train, data.y_train)
    val = trainer.evaluate(data.X_val, data.y_val)
    return train["acc"], val["acc"], val["loss"]


histories, demo_scores = {}, {}
print(
    f"{t('run', '运行'):<38}{t('epochs', '轮数'):>7}{t('train acc', '训练准确率'):>11}"
    f"{t('val acc', '验证准确率'):>10}{t('gap', '差距'):>8}"
)
for name in ("overfit_demo", "overfit_regularized"):
    config = with_updates(load_config(name), {"train.epochs": EPOCHS_A, **quick_model})
    data = prepare_data(config.data, config.train.seed, with_test=False)  # no test split
    trainer = fit(config, data=data, console=False)
    train_acc, val_acc, _ = final_scores(trainer, data)
    histories[name] = trainer.state.history
    demo_scores[name] = (100 * train_acc, 100 * val_acc)
    label = (
        t(f"no regularization ({name})", f"不加正则化（{name}）")
        if name == "overfit_demo"
        else t(f"four remedies ({name})", f"四种对策（{name}）")
    )
    print(
        f"{label:<38}{trainer.state.epoch:>7}{100 * train_acc:>10.1f}%"
        f"{100 * val_acc:>9.1f}%{100 * (train_acc - val_acc):>8.1f}"
    )

out = Path(tempfile.mkdtemp(prefix="lecture07-"))
width = "784-256-256-10" if QUICK else "784-1024-1024-10"
show(
    plots.plot_overfitting(
        histories, out / "overfitting.png", title=f"1,000 MNIST images, MLP {width}"
    )
)

# %% [markdown] tags=["en"]
# Without regularization the network climbs to {{ demo_scores["overfit_demo"][0]:.1f }}% on its 1,000
# training images and stops improving on the other 1,000 ({{ demo_scores["overfit_demo"][1]:.1f }}%): the gap,
# {{ demo_scores["overfit_demo"][0] - demo_scores["overfit_demo"][1]:.1f }} points, is what it has memorised. With the four remedies,
# training accuracy rises more slowly — the augmented, dropped-out training images are harder —
# and the gap shrinks to {{ demo_scores["overfit_regularized"][0] - demo_scores["overfit_regularized"][1]:.1f }} points.
# (docs/generalization.md reports the 60-epoch runs: 100.0% / 89.8% without, 99.0% / 95.3%
# with.)
#
# ## 2. One remedy at a time
#
# Which of the four did the work? We switch each on alone, and add the other two remedies the
# source names — a smaller model (784-32-10) and more data (4,000 training images instead of
# 1,000). To keep this affordable, the network is {{ "-".join(map(str, small_net)) }} ({{ small_weights:, }}
# weights for 1,000 images: it overfits just as well), trained for {{ EPOCHS_B }} epochs, on
# {{ "PyTorch" if ENGINES[-1] == "torch" else "the NumPy engine" }} this time — the same `train.fit`, the same configs.

# %% [markdown] tags=["zh"]
# 不加正则化时，网络在 1000 张训练图上一路涨到 {{ demo_scores["overfit_demo"][0]:.1f }}%，在另外 1000 张图上却停在
# {{ demo_scores["overfit_demo"][1]:.1f }}%：这 {{ demo_scores["overfit_demo"][0] - demo_scores["overfit_demo"][1]:.1f }} 个百分点的差距，就是它死记硬背下来的部分。打开四种对策后，训练准确率涨得
# 慢一些——经过增强和 dropout 的训练图更难——差距缩小到 {{ demo_scores["overfit_regularized"][0] - demo_scores["overfit_regularized"][1]:.1f }} 个百分点。
# （docs/generalization.zh-CN.md 给出了训练 60 轮的结果：不加正则化 100.0% / 89.8%，加了 99.0% / 95.3%。）
#
# ## 2. 一次只用一种对策
#
# 这四种里到底是哪一个起了作用？我们每次只打开一种，再加上原文提到的另外两种办法——更小的模型（784-32-10）和更多
# 的数据（4000 张训练图，而不是 1000 张）。为了省时间，网络换成 {{ "-".join(map(str, small_net)) }}（{{ small_weights:, }} 个权重对
# 1000 张图，照样能过拟合），训练 {{ EPOCHS_B }} 轮，这次用 {{ "PyTorch" if ENGINES[-1] == "torch" else "NumPy 引擎" }}——还是同一个 `train.fit`、同样的配置。

# %%
ENGINE_B = ENGINES[-1]  # torch when it is installed
base = with_updates(
    load_config("overfit_demo"),
    {
        "model.sizes": small_net,
        "train.epochs": EPOCHS_B,
        "train.engine": ENGINE_B,
    },
)
REMEDIES = {  # name -> (the change, its label in both languages)
    "none": ({}, t("none", "不加")),
    "l2": ({"optim.weight_decay": 5e-3}, t("L2 weight decay 5e-3", "L2 权重衰减 5e-3")),
    "l1": ({"train.l1": 1e-3}, t("L1 penalty 1e-3", "L1 惩罚 1e-3")),
    "dropout": ({"model.dropout": 0.5}, t("dropout 0.5", "dropout 0.5")),
    "augment": ({"data.augment": ["shift:2", "rotate:10"]}, t("augmentation", "数据增强")),
    "early": (
        {"early_stopping.patience": 5},
        t("early stopping (patience 5)", "早停（patience 5）"),
    ),
    "smaller": (
        {"model.sizes": [784, 32, 10]},
        t("smaller model 784-32-10", "更小的模型 784-32-10"),
    ),
    "more data": (
        {"data.train_subset": 5000, "data.val_fraction": 0.2},
        t("more data: 4,000 images", "更多数据：4000 张"),
    ),
}
data_b = prepare_data(base.data, base.train.seed, with_test=False)
scores, trainers = {}, {}
print(
    f"{t('remedy', '对策'):<30}{t('epochs', '轮数'):>7}{t('train acc', '训练准确率'):>11}"
    f"{t('val acc', '验证准确率'):>10}{t('gap', '差距'):>8}{t('val loss', '验证损失'):>10}"
)
for key, (change, label) in REMEDIES.items():
    config = with_updates(base, change)
    data = data_b
    if key == "more data":  # a different split: 4,000 to train on, 1,000 to validate on
        data = prepare_data(config.data, config.train.seed, with_test=False)
    trainers[key] = trainer = fit(config, data=data, console=False)
    scores[key] = train_acc, val_acc, val_loss = final_scores(trainer, data)
    print(
        f"{label:<30}{trainer.state.epoch:>7}{100 * train_acc:>10.1f}%{100 * val_acc:>9.1f}%"
        f"{100 * (train_acc - val_acc):>8.1f}{val_loss:>10.3f}"
    )

# %%
fig, (ax_acc, ax_loss) = plt.subplots(
    1, 2, figsize=(13, 4.4), gridspec_kw={"width_ratios": [1.6, 1]}
)
keys = list(REMEDIES)
rows = np.arange(len(keys))
ax_acc.barh(
    rows - 0.2,
    [100 * scores[k][0] for k in keys],
    height=0.4,
    color="0.7",
    label=t("training", "训练集"),
)
ax_acc.barh(
    rows + 0.2,
    [100 * scores[k][1] for k in keys],
    height=0.4,
    color="tab:blue",
    label=t("validation", "验证集"),
)
for r, k in zip(rows, keys):
    ax_acc.text(
        100.5,
        r + 0.2,
        f"{t('gap', '差距')} {100 * (scores[k][0] - scores[k][1]):.1f}",
        va="center",
        fontsize=8,
    )
lowest = min(100 * scores[k][1] for k in keys)
ax_acc.set(
    yticks=rows,
    yticklabels=[REMEDIES[k][1] for k in keys],
    xlim=(5 * ((lowest - 3) // 5), 108),
    xlabel=t("accuracy of the final model (%)", "最终模型的准确率（%）"),
    title=t(
        f"One remedy at a time ({ENGINE_B}, 1,000 training images)",
        f"一次只用一种对策（{ENGINE_B}，1000 张训练图）",
    ),
)
ax_acc.set_xticks(np.arange(5 * ((lowest - 3) // 5), 101, 5))
ax_acc.invert_yaxis()
ax_acc.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
ax_loss.barh(rows, [scores[k][2] for k in keys], color="tab:orange")
ax_loss.set(
    yticks=rows,
    yticklabels=[],
    xlabel=t("validation loss (cross-entropy)", "验证损失（交叉熵）"),
    title=t("Validation loss: lower is better", "验证损失：越低越好"),
)
ax_loss.invert_yaxis()
for ax in (ax_acc, ax_loss):
    ax.grid(alpha=0.3, axis="x")
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## 3. What L1 and L2 do to the weights
#
# The penalties act on the weights, so look at them: the first layer's weights of the runs
# without a penalty, with L2 and with L1, copied out of the PyTorch models as NumPy arrays
# (`backend.state_to_numpy`).

# %% [markdown] tags=["zh"]
# ## 3. L1 和 L2 对权重做了什么
#
# 惩罚项作用在权重上，那就直接看权重：把不加惩罚、加 L2、加 L1 三次运行的第一层权重从 PyTorch 模型里拷出来，
# 变成 NumPy 数组（`backend.state_to_numpy`）。

# %%
fig, ax = plt.subplots(figsize=(8, 4))
bins = np.linspace(-0.15, 0.15, 121)
print(f"{t('run', '运行'):<24}{'mean |w|':>10}{t('share |w| < 1e-3', '|w| < 1e-3 的比例'):>20}")
weight_stats = {}  # run -> (mean |w|, % of weights below 1e-3), first layer
for key in ("none", "l2", "l1"):
    trainer = trainers[key]
    weights = trainer.backend.state_to_numpy(trainer.model.state_dict())
    first = next(v for k, v in weights.items() if k.endswith("weight")).ravel()  # (256 * 784,)
    weight_stats[key] = (np.abs(first).mean(), 100 * np.mean(np.abs(first) < 1e-3))
    print(
        f"{REMEDIES[key][1]:<24}{np.abs(first).mean():>10.4f}{100 * np.mean(np.abs(first) < 1e-3):>19.1f}%"
    )
    ax.hist(first, bins=bins, histtype="step", lw=1.5, label=REMEDIES[key][1])
ax.set(
    yscale="log",
    xlabel=t("weight value (first layer)", "权重的值（第一层）"),
    ylabel=t("count", "个数"),
    title=t(
        "L2 shrinks every weight; L1 piles them up at exactly zero",
        "L2 让每个权重都变小；L1 把大量权重压到正好为零",
    ),
)
ax.legend()
ax.grid(alpha=0.3)
show()

# %% [markdown] tags=["en"]
# ## 4. Weight decay is not L2 with Adam
#
# One step, from the same weights $w$ and the same gradient $g$, on both engines: Adam without
# decay, Adam with `weight_decay` $\lambda$ (the L2 gradient $\lambda w$ added to $g$, *coupled*),
# and AdamW with the same $\lambda$ (*decoupled*). If decay worked as decay, each step would differ
# from the undecayed one by exactly $-\alpha\lambda w$.

# %% [markdown] tags=["zh"]
# ## 4. 到了 Adam，权重衰减不等于 L2
#
# 从同样的权重 $w$、同样的梯度 $g$ 出发走一步，两个引擎都试：不带衰减的 Adam；带 `weight_decay` $\lambda$ 的 Adam
# （把 L2 的梯度 $\lambda w$ 加进 $g$，即"耦合"）；以及同样 $\lambda$ 的 AdamW（"解耦"）。如果衰减真的起衰减的作用，
# 每一步和不衰减的那一步之间应该正好相差 $-\alpha\lambda w$。

# %%
rng = np.random.default_rng(0)
w0, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
lr, lam = 1e-3, 0.1


def one_step(engine: str, name: str, weight_decay: float) -> np.ndarray:
    """The weights after one `name` step from w0 with gradient g, on `engine` (float64)."""
    backend = get_backend(engine, "float64")
    # NOTE: copies in and out: a tensor made from a NumPy array may share its memory, and the
    # optimizer updates the weights in place.
    w = backend.nn.Parameter(backend.tensor(w0.copy()))
    optimizer = getattr(backend.optim, name)([w], lr=lr, weight_decay=weight_decay)
    (w * backend.tensor(g)).sum().backward()  # a loss whose gradient is exactly g
    optimizer.step()
    return backend.to_numpy(w.detach()).copy()


print(
    t(
        "difference from the undecayed step, compared with -lr*lambda*w:",
        "与不衰减那一步的差，对比 -lr*lambda*w：",
    )
)
offsets = {}  # (engine, optimizer) -> (max |diff - (-lr*lambda*w)|, mean |diff|)
for engine in ENGINES:
    plain = one_step(engine, "Adam", 0.0)
    for name in ("Adam", "AdamW"):
        diff = one_step(engine, name, lam) - plain
        off = np.max(np.abs(diff - (-lr * lam * w0)))
        offsets[engine, name] = (off, np.abs(diff).mean())
        print(
            f"  {engine:<6} {name:<6} weight_decay={lam}: "
            + t(
                f"max |difference - (-lr*lambda*w)| = {off:.1e}",
                f"max |差 - (-lr*lambda*w)| = {off:.1e}",
            )
            + t(
                f", mean |difference| = {np.abs(diff).mean():.1e}",
                f"，平均 |差| = {np.abs(diff).mean():.1e}",
            )
        )
print(
    t(
        f"(lr * lambda * mean|w| = {lr * lam * np.abs(w0).mean():.1e})",
        f"（lr * lambda * 平均|w| = {lr * lam * np.abs(w0).mean():.1e}）",
    )
)

# %%
# What the prose below quotes, from the runs above.
n_val_b = len(data_b.y_val)


def val(key: str) -> float:
    """Validation accuracy (%) of section 2's run `key`."""
    return 100 * scores[key][1]


def gap(key: str) -> float:
    return 100 * (scores[key][0] - scores[key][1])


base_error = 100 * np.sqrt(scores["none"][1] * (1 - scores["none"][1]) / n_val_b)
penalty_losses = [scores[k][2] for k in ("l2", "l1", "dropout", "early")]
trailing = t(", ", "、").join(  # the remedies more than a standard error below the baseline
    REMEDIES[k][1] for k in REMEDIES if k != "none" and val(k) < val("none") - base_error
)
adamw_off = max(offsets[e, "AdamW"][0] for e in ENGINES)  # decoupled: exactly -lr*lambda*w
adam_change = max(offsets[e, "Adam"][1] for e in ENGINES)  # coupled L2: the change it made
demo, reg = demo_scores["overfit_demo"], demo_scores["overfit_regularized"]

# %% [markdown] tags=["en"]
# ## What the runs show
#
# All numbers are this run's.

# %% [markdown] tags=["en", "full"]
# - **The demo pair** (NumPy engine, {{ EPOCHS_A }} epochs): without regularization {{ demo[0]:.1f }}% on the
#   training images and {{ demo[1]:.1f }}% on validation, a gap of {{ demo[0] - demo[1]:.1f }} points; with the four remedies
#   {{ reg[0]:.1f }}% and {{ reg[1]:.1f }}%, a gap of {{ reg[0] - reg[1]:.1f }} points — and its validation accuracy was still rising.
#   The gap the figure prints is the last epoch's; the table measures the model each run ended
#   with (early stopping restores its best epoch).
# - **One remedy at a time** ({{ ENGINE_B }}, {{ "-".join(map(str, small_net)) }}, {{ EPOCHS_B }} epochs, baseline {{ val("none"):.1f }}% on
#   validation): **augmentation** ({{ val("augment") - val("none"):+.1f }} points, gap {{ gap("none"):.1f }} → {{ gap("augment"):.1f }}) and
#   **more data** ({{ val("more data") - val("none"):+.1f }} points with four times the images) are the clear winners. A
#   validation accuracy near {{ val("none"):.0f }}% measured on {{ n_val_b:, }} images has a standard error of about
#   {{ base_error:.1f }} point, so the changes from L2 ({{ val("l2"):.1f }}%), L1 ({{ val("l1"):.1f }}%), dropout ({{ val("dropout"):.1f }}%) and early
#   stopping ({{ val("early"):.1f }}%, stopped at epoch {{ trainers["early"].state.epoch }}) are within the noise of one run. What they
#   do change is the validation *loss*: {{ scores["none"][2]:.2f }} → {{ min(penalty_losses):.2f }}–{{ max(penalty_losses):.2f }}, the model is less
#   over-confident on the images it gets wrong.
# - **A smaller model did not help.** 784-32-10 (25,450 weights) still memorises 1,000 images
#   ({{ 100 * scores["smaller"][0]:.1f }}% on training) and is no better on validation ({{ val("smaller"):.1f }}%): "less complex" has to
#   mean much less, and then the model underfits. The large network *with* regularization won
#   (section 1: {{ reg[1]:.1f }}%).

# %% [markdown] tags=["en", "quick"]
# - Quick mode trains smaller networks for {{ EPOCHS_A }} and {{ EPOCHS_B }} epochs: too short for the remedies to
#   pay off. Regularization slows training down first and helps later, so here the regularized
#   demo ends at {{ reg[1]:.1f }}% on validation against {{ demo[1]:.1f }}% without, and the remedies that slow
#   training most trail the baseline ({{ val("none"):.1f }}%) by more than a standard error ({{ base_error:.1f }} points):
#   {{ trailing or "none" }}. Run the lecture in full mode (`gradschool lecture run 7`) for the comparison
#   this section is about.

# %% [markdown] tags=["en"]
# - **L1 makes a sparse network**: {{ weight_stats["l1"][1]:.1f }}% of its first-layer weights are below $10^{-3}$
#   ({{ weight_stats["none"][1]:.1f }}% without a penalty), while L2 shrinks them all a little (mean $|w|$
#   {{ weight_stats["none"][0]:.4f }} → {{ weight_stats["l2"][0]:.4f }}) and zeroes none (exercise 3 asks which inputs lose all their weights).
# - **AdamW decays, Adam-with-L2 does not**: on {{ "both engines" if len(ENGINES) > 1 else "the NumPy engine" }} AdamW's step differs from the
#   undecayed one by exactly $-\alpha\lambda w$ (to {{ adamw_off:.0e }}), while the coupled L2 gradient
#   changes Adam's first step by about {{ adam_change:.0e }} — Adam's normalisation divides it away.

# %% [markdown] tags=["zh"]
# ## 实验结果说明了什么
#
# 下面的数字都来自这次运行。

# %% [markdown] tags=["zh", "full"]
# - **两个演示配置**（NumPy 引擎，{{ EPOCHS_A }} 轮）：不加正则化时训练集 {{ demo[0]:.1f }}%、验证集 {{ demo[1]:.1f }}%，差距 {{ demo[0] - demo[1]:.1f }} 个百分点；
#   打开四种对策后是 {{ reg[0]:.1f }}% 和 {{ reg[1]:.1f }}%，差距 {{ reg[0] - reg[1]:.1f }} 个百分点——而且它的验证准确率还在往上涨。图里标的差距是
#   最后一轮的；表里量的是每次运行最终留下的模型（早停会取回最好那一轮的权重）。
# - **一次只用一种对策**（{{ ENGINE_B }}，{{ "-".join(map(str, small_net)) }}，{{ EPOCHS_B }} 轮，基线验证准确率 {{ val("none"):.1f }}%）：**数据增强**
#   （{{ val("augment") - val("none"):+.1f }} 个百分点，差距从 {{ gap("none"):.1f }} 降到 {{ gap("augment"):.1f }}）和**更多数据**（图片多四倍，{{ val("more data") - val("none"):+.1f }} 个百分点）是明显的
#   赢家。在 {{ n_val_b:, }} 张图上测出的 {{ val("none"):.0f }}% 左右的验证准确率，标准误差约 {{ base_error:.1f }} 个百分点，所以 L2
#   （{{ val("l2"):.1f }}%）、L1（{{ val("l1"):.1f }}%）、dropout（{{ val("dropout"):.1f }}%）和早停（{{ val("early"):.1f }}%，第 {{ trainers["early"].state.epoch }} 轮停下）带来的变化
#   都在单次运行的噪声以内。它们真正改变的是验证*损失*：从 {{ scores["none"][2]:.2f }} 降到 {{ min(penalty_losses):.2f }}–{{ max(penalty_losses):.2f }}，模型在
#   分错的图上没那么"盲目自信"了。
# - **更小的模型没有帮助。** 784-32-10（25,450 个权重）照样能把 1000 张图背下来（训练集 {{ 100 * scores["smaller"][0]:.1f }}%），验证集
#   也没有更好（{{ val("smaller"):.1f }}%）："降低复杂度"得降很多才有用，而那时模型又会欠拟合。赢的是*加了正则化的*大网络
#   （第 1 节：{{ reg[1]:.1f }}%）。

# %% [markdown] tags=["zh", "quick"]
# - 快速模式用更小的网络，只训练 {{ EPOCHS_A }} 轮和 {{ EPOCHS_B }} 轮：太短了，各种对策还来不及见效。正则化先让训练变慢、后面才
#   起作用，所以这里加了正则化的演示配置验证准确率只有 {{ reg[1]:.1f }}%，不加的是 {{ demo[1]:.1f }}%；最拖慢训练的几种对策比基线
#   （{{ val("none"):.1f }}%）低了不止一个标准误差（{{ base_error:.1f }} 个百分点）：{{ trailing or "没有" }}。用完整模式（`gradschool lecture run 7`）
#   跑这一讲，才能看到本节要比较的结果。

# %% [markdown] tags=["zh"]
# - **L1 得到稀疏的网络**：第一层 {{ weight_stats["l1"][1]:.1f }}% 的权重小于 $10^{-3}$（不加惩罚时是 {{ weight_stats["none"][1]:.1f }}%）；L2 则是把所有
#   权重都缩小一点（平均 $|w|$ 从 {{ weight_stats["none"][0]:.4f }} 降到 {{ weight_stats["l2"][0]:.4f }}），一个也不会变成零（哪些输入的权重被全部压成零？
#   见练习 3）。
# - **AdamW 真的在衰减，Adam 加 L2 则没有**：{{ "两个引擎上" if len(ENGINES) > 1 else "NumPy 引擎上" }}，AdamW 的一步和不衰减的一步之间正好相差
#   $-\alpha\lambda w$（误差 {{ adamw_off:.0e }}）；而耦合的 L2 梯度只让 Adam 的第一步变了大约 {{ adam_change:.0e }}——Adam 的归一化把它除掉了。

# %% [markdown] tags=["en"]
# ## Summary
#
# - Overfitting is the gap between training and validation scores; you need held-out data to
#   see it. The source's three remedies (regularization, a smaller model, more data) are real,
#   but "regularization" is a family, and shrinking the model is rarely the best of them.
# - Each remedy is one setting in gradschool, on both engines: `optim.weight_decay`
#   (coupled L2, as `torch.optim.SGD`), `optim.name = "adamw"` (decoupled), `train.l1`,
#   `model.dropout`, `data.augment`, `early_stopping.patience`.
# - L2 shrinks every weight in proportion to its size; L1 pushes small weights to exactly zero.
#   With Adam, an L2 gradient is rescaled away; AdamW's decoupled decay is not.
# - On images, given enough epochs (full mode), augmentation and more data did the most; the
#   penalties mostly improved the validation *loss* (calibration) more than the accuracy.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 过拟合就是训练集和验证集上成绩的差距；要看到它，必须有留出来的数据。原文的三条对策（正则化、更小的模型、
#   更多数据）都是真的，但"正则化"是一大类方法，而缩小模型很少是其中最好的。
# - 在 gradschool 里每种对策都是一个设置，两个引擎都支持：`optim.weight_decay`（耦合的 L2，和 `torch.optim.SGD`
#   一样）、`optim.name = "adamw"`（解耦）、`train.l1`、`model.dropout`、`data.augment`、`early_stopping.patience`。
# - L2 按权重的大小成比例地缩小每个权重；L1 把小权重直接推到零。用 Adam 时，L2 的梯度会被缩放抵消掉；AdamW 的
#   解耦衰减不会。
# - 在图像上，只要训练的轮数够（完整模式），数据增强和更多数据的效果最大；几种惩罚项主要是改善了验证*损失*
#   （置信度更合理），准确率提高得不多。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 7 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 7`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 7 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 7` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import numpy as np

from gradschool.course.exercises import Function, Open, exercise

exercise(
    1,
    en="Combine the two best remedies of section 2. Does the gain add up?",
    zh="把第 2 节里最好的两种对策合在一起用。效果能叠加吗？",
    check=Open(),
    hints=[
        (
            'Merge the two changes of `REMEDIES` into one dict, train once with `with_updates(base, {**first, **second})`, and compare its validation accuracy gain over "none" with the sum of the two gains. How large is one run\'s standard error here?',
            '把 `REMEDIES` 里两种对策的改动合成一个字典，用 `with_updates(base, {**first, **second})` 训练一次，把它相对"不加"的验证准确率提升，和两者各自提升之和比一比。这里一次运行的标准误差有多大？',
        )
    ],
    solution=(
        """
        ```python
        best = sorted(REMEDIES, key=lambda k: scores[k][1], reverse=True)[:2]
        change = {**REMEDIES[best[0]][0], **REMEDIES[best[1]][0]}
        trainer = fit(with_updates(base, change), data=data_b, console=False)
        train_acc, val_acc, val_loss = final_scores(trainer, data_b)
        ```

        (For "more data", train on its own split, as section 2 does.) Usually the gain does
        *not* add up: both remedies attack the same gap between training and validation, and
        once one has closed part of it there is less left for the other. Remedies of different
        kinds (augmentation, which adds information about the task, with a penalty, which
        only limits the weights) combine better than two of the same kind (L2 with L1). And a
        difference of a point or so between two single runs is within their noise: on 1,000
        validation images one accuracy near 90% has a standard error near
        $\\sqrt{0.9 \\cdot 0.1 / 1000} \\approx 1$ point.
        """,
        """
        ```python
        best = sorted(REMEDIES, key=lambda k: scores[k][1], reverse=True)[:2]
        change = {**REMEDIES[best[0]][0], **REMEDIES[best[1]][0]}
        trainer = fit(with_updates(base, change), data=data_b, console=False)
        train_acc, val_acc, val_loss = final_scores(trainer, data_b)
        ```

        （如果其中有"更多数据"，要像第 2 节那样用它自己的数据划分来训练。）提升通常*不能*简单相加：两种对策对付的是
        同一个训练—验证差距，一种先补上一部分，留给另一种的就少了。不同类型的对策（数据增强给了关于任务的新信息，惩罚项
        只是约束权重）合在一起，比两种同类的（L2 加 L1）更容易叠加。另外，两次单独运行差一个百分点左右，还在噪声范围
        之内：1,000 张验证图上、准确率 90% 左右时，一次测量的标准误差约为 $\\sqrt{0.9 \\cdot 0.1 / 1000} \\approx 1$ 个百分点。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Sweep `optim.weight_decay` over 1e-4, 1e-3, 1e-2, 5e-2. Where does it start to hurt the
        training accuracy, and does the validation accuracy follow?
    """,
    zh="让 `optim.weight_decay` 取 1e-4、1e-3、1e-2、5e-2。从哪里开始训练准确率下降？验证准确率跟着变吗？",
    check=Open(),
    hints=[
        (
            '`gradschool compare --config overfit_demo --vary optim.weight_decay=0.0001,0.001,0.01,0.05` runs the four in one table; or loop over `with_updates(base, {"optim.weight_decay": wd})` in the lecture.',
            '`gradschool compare --config overfit_demo --vary optim.weight_decay=0.0001,0.001,0.01,0.05` 一次跑四个并列成一张表；也可以在讲义里循环 `with_updates(base, {"optim.weight_decay": wd})`。',
        )
    ],
    solution=(
        """
        Weight decay adds $\\lambda\\theta$ to every gradient, pulling each weight towards 0 by
        a fraction $\\alpha\\lambda$ of itself per step. At 1e-4 and 1e-3 that pull is weaker
        than the data's and little changes. As $\\lambda$ grows it starts to win: first the
        training accuracy drops below 100% (the model can no longer memorise), which is the
        point of regularising; the validation accuracy holds or improves a little while the
        gap closes. At the largest values the model underfits: training *and* validation
        accuracy fall together. The useful $\\lambda$ is the largest one before the validation
        accuracy falls, and it is chosen on validation data (lecture 8), never on the test set.
        Where exactly the turn comes depends on the learning rate and the epochs: the decay
        per step is $\\alpha\\lambda$.
        """,
        """
        权重衰减给每个梯度加上 $\\lambda\\theta$，每一步把每个权重往 0 拉回它自身的 $\\alpha\\lambda$。1e-4 和 1e-3 时这股
        拉力比数据的力量弱，变化不大。$\\lambda$ 越大，它越占上风：先是训练准确率掉到 100% 以下（模型背不下训练集了），这
        正是正则化要的效果；差距缩小的同时，验证准确率持平或略有提高。到了最大的那几个值，模型欠拟合：训练和验证准确率
        一起下降。有用的 $\\lambda$ 是验证准确率开始下降之前最大的那个，要在验证集上选（第 8 讲），绝不能用测试集选。
        拐点具体在哪里，取决于学习率和轮数：每一步的衰减是 $\\alpha\\lambda$。
        """,
    ),
)

# %% tags=["exercise"]


def dead_pixels_reference(W, threshold):
    """Pixels whose every first-layer weight is below `threshold` in size, as a 28x28 mask."""
    small = np.abs(np.asarray(W, dtype=np.float64)) < threshold  # (hidden, 784)
    return np.logical_and.reduce(small, axis=0).reshape(28, 28)


def dead_pixels_cases(rng):
    cases = []
    for label, hidden, threshold in (
        (("random, a quarter of the pixels dead", '随机，四分之一的像素"死"了'), 16, 1e-3),
        (("one live weight per pixel", "每个像素只有一个活权重"), 8, 1e-3),
        (("weights exactly at the threshold", "权重恰好等于阈值"), 4, 1e-3),
        (("a larger threshold", "更大的阈值"), 32, 0.05),
        (("all weights zero", "权重全为零"), 3, 1e-3),
    ):
        W = rng.normal(0.0, 0.05, (hidden, 784))
        dead = rng.random(784) < 0.25
        if "one live" in label[0]:
            W[:, dead] = 0.0
            W[rng.integers(0, hidden), dead] = 0.01  # one weight left: the pixel is alive
            dead[:] = False
        W[:, dead] = rng.uniform(-threshold, threshold, (hidden, int(dead.sum()))) * 0.9
        if "exactly" in label[0]:
            W[:, dead] = threshold * rng.choice([-1.0, 1.0], (hidden, int(dead.sum())))
        if "zero" in label[0]:
            W[:] = 0.0
        cases.append(((f"W {W.shape}, threshold {threshold:g}, {label[0]}",
                       f"W {W.shape}，阈值 {threshold:g}，{label[1]}"), (W, threshold)))  # fmt: skip
    return cases


exercise(
    3,
    en="""
        Count the first-layer weights that L1 drove below 1e-3. How many input pixels have
        *all* their weights near zero? Write `dead_pixels(W, threshold)` in a file: given the
        first layer's weight `W` (hidden, 784), it returns a (28, 28) boolean image, True where
        every weight of that pixel is smaller than `threshold` in absolute value. Draw it for
        the L1 run: where are those pixels?
    """,
    zh="""
        数一数 L1 把第一层多少个权重压到了 1e-3 以下。有多少个输入像素的*所有*权重都接近零？在文件里写
        `dead_pixels(W, threshold)`：输入第一层的权重 `W`（形状 (hidden, 784)），返回一张 (28, 28) 的布尔图，某个像素的
        每一个权重的绝对值都小于 `threshold` 时为 True。用 L1 那次训练画出来：这些像素在哪儿？
    """,
    check=Function(
        name="dead_pixels",
        signature="dead_pixels(W, threshold) -> (28, 28) bool",
        reference=dead_pixels_reference,
        cases=dead_pixels_cases,
    ),
    hints=[
        (
            "Column j of `W` holds the weights that read pixel j: a pixel is dead when its whole column is small. `np.abs(W) < threshold` is (hidden, 784); reduce over the hidden axis.",
            '`W` 的第 j 列是读第 j 个像素的那些权重：整列都很小，这个像素就"死"了。`np.abs(W) < threshold` 的形状是 (hidden, 784)；沿隐藏单元那个轴归约。',
        ),
        (
            '*All* of a column, not any: `.all(axis=0)`, then `.reshape(28, 28)`. "Smaller than" is strict: a weight exactly at the threshold keeps the pixel alive.',
            '是整列*全部*，不是任意一个：`.all(axis=0)`，再 `.reshape(28, 28)`。"小于"是严格的：恰好等于阈值的权重让这个像素还活着。',
        ),
    ],
    solution=(
        """
        ```python
        import numpy as np


        def dead_pixels(W, threshold):
            small = np.abs(W) < threshold  # (hidden, 784): each weight
            return small.all(axis=0).reshape(28, 28)  # every weight of the pixel
        ```

        For the L1 run: `weights = trainers["l1"].backend.state_to_numpy(trainers["l1"].model.state_dict())`,
        `W = next(v for k, v in weights.items() if k.endswith("weight"))`, then
        `(np.abs(W) < 1e-3).sum()` counts the small weights and `dead_pixels(W, 1e-3).sum()`
        the dead pixels; `plt.imshow(dead_pixels(W, 1e-3))` draws them. They form a frame
        around the image: MNIST digits are centred in a 20×20 box, so the border pixels are
        (almost) always 0 and their weights receive no gradient from the data, only L1's
        constant pull towards zero. L1 has done feature selection: the network ignores inputs
        that carry no information.
        """,
        """
        ```python
        import numpy as np


        def dead_pixels(W, threshold):
            small = np.abs(W) < threshold  # (hidden, 784)：每个权重
            return small.all(axis=0).reshape(28, 28)  # 这个像素的全部权重
        ```

        对 L1 那次训练：`weights = trainers["l1"].backend.state_to_numpy(trainers["l1"].model.state_dict())`，
        `W = next(v for k, v in weights.items() if k.endswith("weight"))`，然后 `(np.abs(W) < 1e-3).sum()` 数出小权重，
        `dead_pixels(W, 1e-3).sum()` 数出"死"像素；`plt.imshow(dead_pixels(W, 1e-3))` 把它们画出来。它们在图像四周围成
        一个框：MNIST 的数字居中放在 20×20 的框里，边缘像素（几乎）总是 0，它们的权重从数据那里得不到梯度，只剩 L1
        恒定地往 0 拉。L1 做了特征选择：网络不再理会那些不携带信息的输入。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        Run `gradschool cv --folds 5 --config overfit_demo --epochs 20` (lecture 8): how much do
        the validation scores vary from fold to fold when there are only 2,000 images?
    """,
    zh="""
        运行 `gradschool cv --folds 5 --config overfit_demo --epochs 20`（第 8 讲）：只有 2000 张图时，各折的验证成绩
        差多少？
    """,
    check=Open(),
    hints=[
        (
            "Each fold validates on a fifth of the 2,000 images. What is the standard error of an accuracy near 90% measured on 400 images?",
            "每一折用 2000 张图的五分之一做验证。在 400 张图上测得 90% 左右的准确率，标准误差是多少？",
        )
    ],
    solution=(
        """
        The command prints each fold's validation accuracy and their mean ± standard deviation.
        Each fold validates on 400 images, so one fold's accuracy near 90% has a standard error
        of about $\\sqrt{0.9 \\cdot 0.1 / 400} = 1.5$ points; the folds also train on different
        images. Expect a spread of a few points between the best and the worst fold, and a
        standard deviation of one to two points. That is the noise in any single validation
        score on data this small: a difference between two settings smaller than that is not
        evidence. The mean of the folds is a better estimate, with about $1/\\sqrt{5}$ of the
        spread.
        """,
        """
        命令会打印每一折的验证准确率，以及它们的均值 ± 标准差。每一折在 400 张图上验证，准确率在 90% 左右时，一折的标准
        误差约为 $\\sqrt{0.9 \\cdot 0.1 / 400} = 1.5$ 个百分点；而且各折训练用的图也不同。最好和最差的一折之间差几个
        百分点、标准差一到两个百分点，都是正常的。这就是数据这么少时单个验证分数里的噪声：两种设置之间的差别如果比这还小，
        就说明不了什么。各折的均值是更好的估计，它的波动大约只有单折的 $1/\\sqrt{5}$。
        """,
    ),
)
