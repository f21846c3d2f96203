# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 7 s
#     full: 16 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 5. Learning-rate schedules: the source's formulas, what they really are, their effect
#
# **Goal.** The learning rate $\alpha$ need not stay fixed. The source lists three schedules and
# prints a formula for two of them — under the wrong names. We compute what those formulas
# really do, put them beside the schedules their names stand for (true exponential and step
# decay) and the two most used today (cosine and warm-up), and train the source's MNIST
# recipe with each, on the NumPy engine and on PyTorch.

# %% [markdown] tags=["zh"]
# # 第 5 讲：学习率调整策略：原文的公式、它们实际是什么、效果如何
#
# **目标**：学习率 $\alpha$ 不一定要一直不变。原文列了三种调整策略，给其中两种写了公式——但名字安错了。本讲算一算
# 这两个公式实际在干什么，把它们和名字本来指的策略（真正的指数衰减和阶梯衰减）、以及现在最常用的两种（余弦和
# 预热）放在一起，再用每一种去训练原文的 MNIST 配方，NumPy 引擎和 PyTorch 上各跑一遍。

# %% [markdown] tags=["en"]
# ## What the source prints
#
# Section 3: "学习率调整策略（Learning Rate Scheduling）：学习率调整策略是一种调整学习率的方法，它可以
# 帮助模型更快地收敛". Then:
#
# - "固定学习率" (fixed learning rate): $\alpha_t = \alpha_0$ throughout. Right.
# - "指数衰减学习率：在训练过程中，按照指数衰减的方式逐渐减小学习率" (exponential decay), with
#
# $$
# \alpha_t = \alpha_0 \times (1 - \frac{t}{T})^p
# $$
#
# - "步长衰减学习率：在训练过程中，按照固定的步长逐渐减小学习率" (step decay), with
#
# $$
# \alpha_t = \alpha_0 \times \frac{t}{T}
# $$
#
# Neither formula is what its name says.
#
# - $\alpha_0 (1 - t/T)^p$ is **polynomial decay** (torch's `PolynomialLR`): it reaches exactly 0
#   at $t = T$, and its shape depends on $p$ — a straight line for $p = 1$. Nothing in it is
#   exponential.
# - $\alpha_0 \, t/T$ does not decay at all: it is a **linear ramp from 0 up to $\alpha_0$** — the
#   shape of a *warm-up*. Used as the whole schedule, training starts with a rate of 0 and ends
#   with the largest rate: the opposite of what a decay is for.
#
# What the names mean:
#
# $$
# \text{exponential decay:}\quad \alpha_t = \alpha_0\,\gamma^{t} \qquad (0 < \gamma < 1)
# $$
#
# $$
# \text{step decay:}\quad \alpha_t = \alpha_0\,\gamma^{\lfloor t/s \rfloor} \qquad (\text{e.g. } \gamma = 0.1 \text{ every } s \text{ steps})
# $$
#
# And two schedules the source does not mention, used in most training today — cosine
# annealing (Loshchilov & Hutter, 2017) and a linear warm-up over the first $W$ steps
# (Goyal et al., 2017):
#
# $$
# \text{cosine:}\quad \alpha_t = \eta_{min} + \frac{1}{2}(\alpha_0 - \eta_{min})\left(1 + \cos\frac{\pi t}{T}\right)
# $$
#
# $$
# \text{warm-up:}\quad \alpha_t = \alpha_0 \left(w + (1 - w)\frac{t}{W}\right) \quad (t < W)
# $$
#
# The source's claim that a schedule "helps the model converge faster" is half the story: a
# decay mostly lets SGD *settle* — with a fixed rate the gradient noise (lecture 4) keeps the
# weights jumping around the minimum — and a warm-up avoids unstable first steps. All of them
# are `schedule.name` values in gradschool, built for both engines by
# `gradschool/train/builders.py`; docs/optimization.md has the full table.

# %% [markdown] tags=["zh"]
# ## 原文写了什么
#
# 第 3 节："学习率调整策略（Learning Rate Scheduling）：学习率调整策略是一种调整学习率的方法，它可以帮助模型更快地
# 收敛"。接着列了三种：
#
# - "固定学习率"：整个训练过程中 $\alpha_t = \alpha_0$。没问题。
# - "指数衰减学习率：在训练过程中，按照指数衰减的方式逐渐减小学习率"，公式是
#
# $$
# \alpha_t = \alpha_0 \times (1 - \frac{t}{T})^p
# $$
#
# - "步长衰减学习率：在训练过程中，按照固定的步长逐渐减小学习率"，公式是
#
# $$
# \alpha_t = \alpha_0 \times \frac{t}{T}
# $$
#
# 这两个公式都和名字对不上。
#
# - $\alpha_0 (1 - t/T)^p$ 是**多项式衰减**（torch 里的 `PolynomialLR`）：在 $t = T$ 时正好降到 0，形状由 $p$ 决定，
#   $p = 1$ 时就是一条直线。里面根本没有指数。
# - $\alpha_0 \, t/T$ 压根不衰减：它是一条**从 0 线性升到 $\alpha_0$ 的斜坡**——这是*预热*（warm-up）的形状。拿它当整个
#   训练的学习率，训练开始时学习率是 0，结束时反而最大：和衰减的初衷正好相反。
#
# 名字本来指的是：
#
# $$
# \text{exponential decay:}\quad \alpha_t = \alpha_0\,\gamma^{t} \qquad (0 < \gamma < 1)
# $$
#
# $$
# \text{step decay:}\quad \alpha_t = \alpha_0\,\gamma^{\lfloor t/s \rfloor} \qquad (\text{e.g. } \gamma = 0.1 \text{ every } s \text{ steps})
# $$
#
# 即指数衰减每一步乘一个 $\gamma$；阶梯衰减（step decay，PyTorch 里叫 `StepLR`，原文的"步长衰减"这个名字指的就是它）
# 每隔 $s$ 步乘一次 $\gamma$（比如降到十分之一），学习率呈台阶状。
# 另外还有两种原文没提、但现在几乎人人在用的：余弦退火（Loshchilov 和 Hutter，2017）和前 $W$ 步的线性预热
# （Goyal 等，2017）：
#
# $$
# \text{cosine:}\quad \alpha_t = \eta_{min} + \frac{1}{2}(\alpha_0 - \eta_{min})\left(1 + \cos\frac{\pi t}{T}\right)
# $$
#
# $$
# \text{warm-up:}\quad \alpha_t = \alpha_0 \left(w + (1 - w)\frac{t}{W}\right) \quad (t < W)
# $$
#
# 原文说调整学习率"可以帮助模型更快地收敛"，只说对了一半：衰减的主要作用是让 SGD *停得稳*——学习率固定时，梯度
# 噪声（第 4 讲）会让权重一直在最小值附近来回跳；预热则是为了避免刚开始几步不稳定。这些在 gradschool 里都是
# `schedule.name` 的取值，由 `gradschool/train/builders.py` 给两个引擎分别构造；完整的表格见
# docs/optimization.zh-CN.md。

# %% [markdown] tags=["en"]
# ## 1. The formulas, computed
#
# `gradschool.experiments.schedules.schedule_curves` builds each schedule exactly as a training
# run builds it — the engine's scheduler classes, with torch's names — steps it $T = 100$ times
# and records the rate. We check the source's two formulas against the rates, value by value,
# and check that PyTorch's schedulers give the same numbers (`schedule_lrs(..., engine="torch")`).

# %% [markdown] tags=["zh"]
# ## 1. 把公式算出来
#
# `gradschool.experiments.schedules.schedule_curves` 按训练时完全相同的方式构造每个调度器——用的是引擎里和 torch
# 同名的调度器类——走 $T = 100$ 步，记下每一步的学习率。我们逐个值核对原文的两个公式，再检查 PyTorch 的调度器给出
# 的数是否一样（`schedule_lrs(..., engine="torch")`）。

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradschool.config import Config, apply_overrides, load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.experiments.compare import run_compare
from gradschool.experiments.schedules import format_values, parse_schedule_spec, schedule_curves
from gradschool.train.builders import schedule_lrs

try:
    import torch  # noqa: F401 - only to know whether the second engine is here

    ENGINES = ["numpy", "torch"]
except ImportError:
    ENGINES = ["numpy"]
    print(t("torch is not installed: NumPy engine only.", "没有安装 torch：只用 NumPy 引擎。"))


def with_schedule(config: Config, spec: str) -> Config:
    """The config with the schedule `spec` ("name:key=value,...", as `gradschool schedule plot`)."""
    return apply_overrides(config, parse_schedule_spec(spec)[1])


T, lr0 = 100, 0.1
base = with_updates(load_config("seed_mlp"), {"optim.lr": lr0})
steps = np.arange(T)
seed_formulas = {  # the two formulas exactly as the source prints them (p = 2 for the first)
    "polynomial:power=2": lr0 * (1 - steps / T) ** 2,  # its "exponential decay"
    "linear": lr0 * steps / T,  # its "step decay"
}
for spec, by_hand in seed_formulas.items():
    gap = np.max(np.abs(np.array(schedule_curves([spec], base, T)[spec]) - by_hand))
    print(
        f"{spec:<20}"
        + t("largest difference from the formula:", "与公式的最大差值：")
        + f" {gap:.1e}"
    )

SPECS = [
    "constant",
    "polynomial:power=2",
    "linear",
    "exponential",  # gamma = 0.01 ** (1/T): 1% of the rate is left at the end
    "step",  # gamma = 0.1 every ceil(T/3) steps
    "cosine",
    "cosine:warmup_steps=10",
]
NAMES = {
    "constant": t("constant", "固定"),
    "polynomial:power=2": t(
        'polynomial p = 2 (the source\'s "exponential")',
        "多项式 p = 2（原文的\u201c指数衰减\u201d）",
    ),
    "linear": t(
        'linear ramp 0 → α₀ (the source\'s "step")', "线性斜坡 0 → α₀（原文的\u201c步长衰减\u201d）"
    ),
    "exponential": t("exponential α₀γᵗ", "真正的指数衰减 α₀γᵗ"),
    "step": t("step: ×0.1 every T/3", "阶梯衰减（StepLR）：每 T/3 乘 0.1"),
    "cosine": t("cosine", "余弦"),
    "cosine:warmup_steps=10": t("warm-up (10%) + cosine", "预热（10%）+ 余弦"),
}
curves = schedule_curves(SPECS, base, steps=T)
print(format_values(curves, every=10))
if "torch" in ENGINES:
    worst = max(
        np.max(
            np.abs(np.array(schedule_lrs(with_schedule(base, s), T, engine="torch")) - curves[s])
        )
        for s in SPECS
    )
    print(
        t(
            "largest difference, NumPy engine vs torch, all 7 schedules:",
            "7 种调度下 NumPy 引擎与 torch 的最大差值：",
        ),
        f"{worst:.1e}",
    )

# %%
powers = schedule_curves([f"polynomial:power={p}" for p in (0.5, 1, 2)], base, T)
fig, (ax_seed, ax_true) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for spec, lrs in powers.items():
    p = spec.split("=")[1]
    ax_seed.plot(steps, lrs, label=t(f"α₀(1 − t/T)^p, p = {p}", f"α₀(1 − t/T)^p，p = {p}"))
ax_seed.plot(steps, curves["linear"], "k--", label=t("α₀ t/T", "α₀ t/T"))
ax_seed.set_title(
    t(
        'The source\'s formulas: "exponential" is polynomial,\n"step" is a linear ramp up',
        "原文的公式：\u201c指数衰减\u201d其实是多项式衰减，\n\u201c步长衰减\u201d其实是线性上升的斜坡",
    )
)
for spec in ("constant", "exponential", "step", "cosine", "cosine:warmup_steps=10"):
    ax_true.plot(steps, curves[spec], label=NAMES[spec])
ax_true.set_title(
    t("What the names mean, and today's defaults", "名字本来的意思，以及现在的常用做法")
)
for ax in (ax_seed, ax_true):
    ax.set(xlabel=t("scheduler step t (T = 100)", "调度步数 t（T = 100）"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
ax_seed.set_ylabel(t("learning rate α_t (α₀ = 0.1)", "学习率 α_t（α₀ = 0.1）"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## 2. Their effect on the source's recipe
#
# Now the source's MNIST recipe — the MLP 784-128-64-10, SGD with momentum 0.9, batches of 64 —
# trained once with each schedule, through the one training loop
# (`gradschool.experiments.compare.run_compare` calls `train.fit` for each), on both engines.
# A schedule cannot be judged apart from the rate it starts from, so every schedule runs twice:
# from the source's $\alpha_0 = 0.01$, and from a five times larger $\alpha_0 = 0.05$. The schedule
# steps after every batch (`schedule.interval = "batch"`), so $T$ is the number of batches of the
# whole run; the warm-up lasts the first 10% of them. Everything else is identical, including
# the initial weights and the order of the batches on each engine. We look at the training loss
# and at the validation split; the test split stays untouched (choosing a schedule is a choice,
# and lecture 8 explains why choices never look at the test set).

# %% [markdown] tags=["zh"]
# ## 2. 对原文配方的影响
#
# 现在拿原文的 MNIST 配方——MLP 784-128-64-10，SGD，动量 0.9，批量 64——每种调度各训练一次，走的都是同一个训练
# 循环（`gradschool.experiments.compare.run_compare` 对每个配置调用 `train.fit`），两个引擎都跑。调度策略好不好，
# 离不开它从多大的学习率起步，所以每种调度跑两次：一次从原文的 $\alpha_0 = 0.01$ 起步，一次从大五倍的
# $\alpha_0 = 0.05$ 起步。调度器每个批次走一步（`schedule.interval = "batch"`），所以 $T$ 就是整个训练的批次数，预热
# 占前 10%。其余一切都相同，包括每个引擎上的初始权重和批次顺序。我们看训练损失和验证集；测试集不碰（选调度策略
# 本身就是在做选择，第 8 讲会解释为什么做选择时永远不看测试集）。

# %%
SUBSET = 1500 if QUICK else 5000  # stratified training images; 10% of them validate
EPOCHS = 2 if QUICK else 6
RATES = [0.01, 0.05]  # the source's alpha_0, and five times larger
recipe = with_updates(
    load_config("seed_mlp"),  # momentum 0.9, batch 64
    {
        "data.train_subset": SUBSET,
        "train.epochs": EPOCHS,
        "schedule.interval": "batch",
    },
)
batches = -(-int(SUBSET * 0.9) // 64)  # per epoch: ceil(n / 64)
total = EPOCHS * batches
warmup = total // 10
RUNS = {spec.replace("warmup_steps=10", f"warmup_steps={warmup}"): NAMES[spec] for spec in SPECS}
results = {}  # (engine, alpha_0) -> the runs, in the order of RUNS
for engine in ENGINES:
    for rate in RATES:
        config = with_updates(recipe, {"train.engine": engine, "optim.lr": rate})
        results[engine, rate] = run_compare([(spec, with_schedule(config, spec)) for spec in RUNS])
print(
    t(
        f"{EPOCHS} epochs x {batches} batches = T = {total} scheduler steps; warm-up {warmup} steps",
        f"{EPOCHS} 轮 x {batches} 个批次 = T = {total} 个调度步；预热 {warmup} 步",
    )
)
n_val = int(round(SUBSET * 0.1))
for rate in RATES:
    print(
        f"\nα₀ = {rate}\n{t('schedule', '调度策略'):<46}{t('engine', '引擎'):>7}"
        f"{t('train loss', '训练损失'):>12}{t('val loss', '验证损失'):>10}{t('val acc', '验证准确率'):>12}"
    )
    for engine in ENGINES:
        for run in results[engine, rate]:
            last = run.history[-1]
            print(
                f"{RUNS[run.label]:<46}{engine:>7}{last['train_loss']:>12.4f}"
                f"{last['val_loss']:>10.4f}{100 * last['val_acc']:>11.2f}%"
            )


def standard_error(acc: float) -> float:
    """The standard error, in points, of an accuracy `acc` (a share, 0-1) measured on the
    n_val validation images: sqrt(p(1 - p) / n) at the measured p."""
    return 100 * np.sqrt(acc * (1 - acc) / n_val)


# Each schedule's final validation accuracy (%), averaged over the engines, per starting rate.
acc = {
    rate: {
        spec: float(np.mean([100 * results[e, rate][k].history[-1]["val_acc"] for e in ENGINES]))
        for k, spec in enumerate(RUNS)
    }
    for rate in RATES
}
# ... and its final training and validation losses, averaged the same way.
loss = {
    rate: {
        spec: tuple(
            float(np.mean([results[e, rate][k].history[-1][key] for e in ENGINES]))
            for key in ("train_loss", "val_loss")
        )
        for k, spec in enumerate(RUNS)
    }
    for rate in RATES
}
errors = [standard_error(a / 100) for rate in RATES for a in acc[rate].values()]
print(
    t(
        f"\n(an accuracy p measured on {n_val} images has a standard error of sqrt(p(1 - p) / {n_val}): "
        f"{min(errors):.1f} to {max(errors):.1f} points for the accuracies above)",
        f"\n（在 {n_val} 张图上测得的准确率 p，标准误差是 sqrt(p(1 - p) / {n_val})：上面这些准确率对应 "
        f"{min(errors):.1f} 到 {max(errors):.1f} 个百分点）",
    )
)

# %%
fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(13, 4.4))
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
big = RATES[-1]
for k, spec in enumerate(RUNS):
    color = colors[k % len(colors)]
    lrs = schedule_lrs(results["numpy", big][k].config, total)  # exactly the run's rates
    ax_lr.plot(np.arange(total), lrs, color=color)
    for style, engine in zip(("-", "--"), ENGINES):
        history = results[engine, big][k].history
        ax_loss.plot(
            [row["epoch"] for row in history],
            [row["train_loss"] for row in history],
            style,
            color=color,
            marker="o",
            ms=3,
            label=RUNS[spec] if style == "-" else None,
        )
ax_lr.set(
    xlabel=t("batch (scheduler step)", "批次（调度步）"),
    ylabel=r"$\alpha_t$",
    title=t(f"The rate each run used (α₀ = {big})", f"每次运行用的学习率（α₀ = {big}）"),
)
ax_loss.set(
    xlabel=t("epoch", "轮"),
    yscale="log",
    title=t(
        f"Training loss, α₀ = {big} (solid: NumPy, dashed: PyTorch)",
        f"训练损失，α₀ = {big}（实线 NumPy，虚线 PyTorch）",
    ),
)
ax_loss.legend(fontsize=8, loc="upper right")
for ax in (ax_lr, ax_loss):
    ax.grid(alpha=0.3)
fig.tight_layout()
show()

fig, ax = plt.subplots(figsize=(10, 4.6))
width = 0.38
lowest = min(100 * run.history[-1]["val_acc"] for rate in RATES for run in results["numpy", rate])
for j, rate in enumerate(RATES):
    accs = [100 * run.history[-1]["val_acc"] for run in results["numpy", rate]]
    ax.barh(
        np.arange(len(RUNS)) + (j - 0.5) * width,
        accs,
        height=width,
        xerr=[standard_error(a / 100) for a in accs],
        capsize=2,
        label=f"α₀ = {rate}" + (t(" (the source's)", "（原文的）") if j == 0 else ""),
        color=["0.65", "tab:blue"][j],
    )
ax.set(
    yticks=np.arange(len(RUNS)),
    yticklabels=list(RUNS.values()),
    xlim=(5 * ((lowest - 3) // 5), 100),
    xlabel=t(
        "validation accuracy, % (NumPy engine; error bar: ±1 standard error)",
        "验证准确率 %（NumPy 引擎；误差线：±1 个标准误差）",
    ),
    title=t(
        f"Each schedule from two starting rates ({EPOCHS} epochs)",
        f"每种调度、两种起始学习率（{EPOCHS} 轮）",
    ),
)
ax.invert_yaxis()
ax.legend(fontsize=8, loc="lower right")
ax.grid(alpha=0.3)
fig.tight_layout()
show()

# %%
WARMUP = next(spec for spec in RUNS if spec.startswith("cosine:warmup"))
DECAYS = [s for s in RUNS if s not in ("constant", "linear")]  # "linear" rises: no decay


def gap_and_error(rate: float, a: str, b: str) -> tuple[float, float]:
    """Accuracy of `a` minus that of `b` (points) and the standard error of that difference."""
    gap = acc[rate][a] - acc[rate][b]
    error = np.hypot(standard_error(acc[rate][a] / 100), standard_error(acc[rate][b] / 100))
    return gap, error


def verdict(rate: float) -> str:
    """What this run says about the decays against the constant rate, from `rate`."""
    best = max(DECAYS, key=lambda spec: acc[rate][spec])
    gap, error = gap_and_error(rate, best, "constant")
    name, a, c = RUNS[best], acc[rate][best], acc[rate]["constant"]
    if gap > 2 * error:
        return t(
            f"the best decay, {name}, beats the constant rate by {gap:.1f} points ({a:.1f}% against {c:.1f}%), more than twice the {error:.1f}-point standard error of the difference",
            f"最好的衰减（{name}）比固定学习率高 {gap:.1f} 个百分点（{a:.1f}% 对 {c:.1f}%），超过这个差值标准误差（{error:.1f} 个百分点）的两倍",
        )
    if gap < -2 * error:
        return t(
            f"the constant rate beats every decay, the best of them ({name}) by {-gap:.1f} points ({c:.1f}% against {a:.1f}%), more than twice the {error:.1f}-point standard error of the difference",
            f"固定学习率比所有衰减都好，比其中最好的（{name}）还高 {-gap:.1f} 个百分点（{c:.1f}% 对 {a:.1f}%），超过差值标准误差（{error:.1f} 个百分点）的两倍",
        )
    return t(
        f"the best decay, {name}, and the constant rate differ by {gap:+.1f} points ({a:.1f}% against {c:.1f}%): within two standard errors of the difference ({error:.1f} points), so one run each cannot rank them by accuracy",
        f"最好的衰减（{name}）和固定学习率只差 {gap:+.1f} 个百分点（{a:.1f}% 对 {c:.1f}%）：在差值的两个标准误差（{error:.1f} 个百分点）以内，各跑一次，按准确率排不出先后",
    )


def losses(rate: float) -> str:
    """The final losses of the constant rate and of the decay with the lowest validation loss."""
    best = min(DECAYS, key=lambda spec: loss[rate][spec][1])
    (ct, cv), (bt, bv) = loss[rate]["constant"], loss[rate][best]
    return t(
        f"the constant rate ends at a training loss of {ct:.3f} and a validation loss of {cv:.3f}; {RUNS[best]}, the decay with the lowest validation loss, at {bt:.3f} and {bv:.3f}",
        f"固定学习率最后的训练损失是 {ct:.3f}、验证损失 {cv:.3f}；验证损失最低的衰减（{RUNS[best]}）是 {bt:.3f} 和 {bv:.3f}",
    )


def warmup_effect() -> str:
    """What the warm-up did before the cosine, from the larger rate."""
    if abs(warmup_gap) <= 2 * warmup_error:
        return t(
            f"changes the accuracy by {warmup_gap:+.1f} points, within two standard errors ({warmup_error:.1f} points each): nothing measurable, since at these rates nothing was unstable to begin with",
            f"让准确率变了 {warmup_gap:+.1f} 个百分点，在两个标准误差（{warmup_error:.1f} 个百分点）以内：没有可测的差别，在这两个学习率下本来就没有不稳定的问题",
        )
    return t(
        f"changes the accuracy by {warmup_gap:+.1f} points, beyond two standard errors ({warmup_error:.1f} points each)",
        f"让准确率变了 {warmup_gap:+.1f} 个百分点，超出了两个标准误差（{warmup_error:.1f} 个百分点）",
    )


def rank(rate: float, spec: str) -> int:
    """1 for the best schedule from `rate`, len(RUNS) for the worst."""
    return 1 + sum(acc[rate][other] > acc[rate][spec] for other in RUNS)


warmup_gap, warmup_error = gap_and_error(RATES[-1], WARMUP, "cosine")
engine_gap = 0.0  # the largest accuracy difference between the engines on the same run
if "torch" in ENGINES:
    engine_gap = 100 * max(
        abs(
            results["numpy", r][k].history[-1]["val_acc"]
            - results["torch", r][k].history[-1]["val_acc"]
        )
        for r in RATES
        for k in range(len(RUNS))
    )
for rate in RATES:
    print(f"α₀ = {rate}: {verdict(rate)}")
    print(f"         {losses(rate)}")

# %% [markdown] tags=["en"]
# ## What the runs show
#
# Every number here is this run's ({{ "quick" if QUICK else "full" }} mode: {{ SUBSET:,}} images, {{ EPOCHS }} epochs,
# $T$ = {{ total }} steps, validation on {{ n_val }} images), averaged over the engines.
#
# - **From the source's $\alpha_0 = 0.01$:** {{ verdict(0.01) }}.
# - **From $\alpha_0 = 0.05$:** {{ verdict(0.05) }}. The losses say more than accuracies on
#   {{ n_val }} images can: {{ losses(0.05) }} (from 0.01: {{ losses(0.01) }}).
# - **The source's "step decay" (the ramp up)** ranks {{ rank(0.05, "linear") }} of {{ len(RUNS) }} from
#   $\alpha_0 = 0.05$ ({{ acc[0.05]["linear"]:.1f}}%) and {{ rank(0.01, "linear") }} of {{ len(RUNS) }} from 0.01
#   ({{ acc[0.01]["linear"]:.1f}}%): it starts at 0, wastes the first steps, and ends at the highest rate, where
#   the weights cannot settle.
# - **The true exponential decay with $\gamma = 0.01^{1/T}$** is down to 10% of $\alpha_0$ half-way
#   through, whatever $T$: it decays early. Its $\gamma$ is a hyper-parameter to tune, like the
#   interval and the drop of the step decay.
# - **Warm-up** (10% of the steps) before the cosine, from $\alpha_0 = 0.05$, {{ warmup_effect() }}.
#   It matters for large rates, large batches, Adam and transformers.
# - NumPy engine and PyTorch differ by {{ engine_gap:.1f}} points at most, the size of the standard
#   errors: same schedules, same rates, their own random initial weights.

# %% [markdown] tags=["en", "full"]
# What to take from it: a decay does not make training faster, it lets SGD *settle*. With a
# fixed rate the gradient noise (lecture 4) keeps the weights jumping around the minimum, and
# the larger the rate, the larger the jumps. So the decays gain most from the larger
# $\alpha_0$, and the losses show it plainly: the constant rate's training loss stalls, the best
# decays end well below it in both training and validation loss. The accuracies move the same
# way, but on
# {{ n_val }} validation images a difference of one or two points is within two standard
# errors: one run per schedule cannot rank them by accuracy (repeat the runs with other seeds,
# or validate on more images, to do that). From the source's small rate, over a short run, the
# model has not reached the point where the noise matters, and cutting the rate only slows it
# down: a schedule is no free gain.

# %% [markdown] tags=["en", "quick"]
# Quick mode trains {{ EPOCHS }} epochs on {{ int(SUBSET * 0.9):,}} images and validates on {{ n_val }}: the
# standard errors ({{ min(errors):.0f}}–{{ max(errors):.0f}} points) are as large as the differences between
# schedules, and the runs stop long before gradient noise limits them, so this mode cannot show
# what a schedule is for. Run the lecture in full mode (`gradschool lecture run 5`, about a
# quarter of a minute) to see the decays pay off, in the losses, from the larger rate.
# %% [markdown] tags=["zh"]
# ## 实验结果说明了什么
#
# 这里的数字都来自这次运行（{{ "快速" if QUICK else "完整" }}模式：{{ SUBSET:,}} 张图、{{ EPOCHS }} 轮、$T$ = {{ total }} 步、验证集
# {{ n_val }} 张），取两个引擎的平均。
#
# - **从原文的 $\alpha_0 = 0.01$ 起步：**{{ verdict(0.01) }}。
# - **从 $\alpha_0 = 0.05$ 起步：**{{ verdict(0.05) }}。损失比 {{ n_val }} 张图上的准确率说明得更多：{{ losses(0.05) }}
#   （从 0.01 起步时：{{ losses(0.01) }}）。
# - **原文的"步长衰减"（往上走的斜坡）**在 $\alpha_0 = 0.05$ 时排第 {{ rank(0.05, "linear") }} 名（共 {{ len(RUNS) }} 种，
#   {{ acc[0.05]["linear"]:.1f}}%），在 0.01 时排第 {{ rank(0.01, "linear") }} 名（{{ acc[0.01]["linear"]:.1f}}%）：它从 0 开始，白白浪费了前面的
#   步数，结束时学习率反而最大，权重停不下来。
# - **真正的指数衰减（$\gamma = 0.01^{1/T}$）**不管 $T$ 是多少，训练到一半时学习率都只剩 $\alpha_0$ 的 10%：衰减得早。它的
#   $\gamma$ 和阶梯衰减的间隔、降幅一样，都是需要调的超参数。
# - **预热**（前 10% 的步数）加在余弦前面，在 $\alpha_0 = 0.05$ 时{{ warmup_effect() }}。它在大学习率、大批量、Adam 和
#   Transformer 上才显出作用。
# - NumPy 引擎和 PyTorch 最多差 {{ engine_gap:.1f}} 个百分点，和标准误差差不多大：调度相同、学习率相同，只是各自随机
#   初始化权重。

# %% [markdown] tags=["zh", "full"]
# 该怎么理解：衰减并不让训练变快，而是让 SGD *停得稳*。学习率固定时，梯度噪声（第 4 讲）会让权重一直在最小值附近
# 来回跳，学习率越大跳得越厉害。所以从大一些的 $\alpha_0$ 起步时衰减的收益最大，损失上看得很清楚：固定学习率的训练
# 损失停住不动，最好的几种衰减，训练损失和验证损失都低得多。准确率也朝同一个方向变，但在 {{ n_val }} 张验证图上，一两个百分点
# 的差别还在两个标准误差以内：每种调度只跑一次，按准确率排不出先后（要排，就换几个随机种子多跑几次，或者用更多的图来
# 验证）。用原文那么小的学习率、训练又短时，模型还没练到噪声起作用的阶段，降学习率只会拖慢它：调度不是白捡的好处。

# %% [markdown] tags=["zh", "quick"]
# 快速模式只在 {{ int(SUBSET * 0.9):,}} 张图上训练 {{ EPOCHS }} 轮、在 {{ n_val }} 张图上验证：标准误差（{{ min(errors):.0f}}–{{ max(errors):.0f}} 个百分点）和
# 各种调度之间的差别一样大，而且训练远没有走到梯度噪声起限制作用的时候，所以这个模式看不出调度到底有什么用。用完整
# 模式跑这一讲（`gradschool lecture run 5`，十几秒）就能从损失上看到：起始学习率大一些时，衰减确实划算。

# %% [markdown] tags=["en"]
# ## Summary
#
# - The source's "exponential decay" $\alpha_0(1 - t/T)^p$ is **polynomial decay**; its "step
#   decay" $\alpha_0 t/T$ is a **linear ramp up** — a warm-up shape, not a decay.
# - True exponential decay is $\alpha_0\gamma^t$; true step decay is $\alpha_0\gamma^{\lfloor t/s \rfloor}$.
#   Cosine annealing, usually after a short linear warm-up, is today's common default.
# - gradschool builds every one of them from `schedule.name` for both engines; they give the
#   same rate at every step as `torch.optim.lr_scheduler`.
# - A schedule and its starting rate go together. From a rate large enough for gradient noise to
#   matter, a decay lets SGD settle; from the source's small rate and a short run, a decay only
#   slows training down — and one run per schedule tells them apart only beyond the standard
#   error, computed at the accuracy measured. A rate that *rises* to the end, as the source's
#   "step decay" does, is no decay at all.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 原文的"指数衰减" $\alpha_0(1 - t/T)^p$ 其实是**多项式衰减**；"步长衰减" $\alpha_0 t/T$ 其实是一条**往上走的
#   线性斜坡**——是预热的形状，不是衰减。
# - 真正的指数衰减是 $\alpha_0\gamma^t$，真正的阶梯衰减（`StepLR`）是 $\alpha_0\gamma^{\lfloor t/s \rfloor}$。余弦退火（通常先做一小段
#   线性预热）是现在最常用的默认做法。
# - gradschool 根据 `schedule.name` 为两个引擎构造这些调度器；每一步给出的学习率都和 `torch.optim.lr_scheduler`
#   完全一致。
# - 调度策略要和起始学习率一起看。起始学习率大到梯度噪声起作用时，衰减能让 SGD 停得稳；用原文那么小的学习率、训练
#   又短时，衰减只会拖慢训练——而每种调度只跑一次，差别要超过标准误差（按实测的准确率算）才分得出高下。像原文
#   "步长衰减"那样一路*升高*的学习率，根本就不是衰减。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 5 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 5`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 5 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 5` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]

import numpy as np

from gradschool import engine as E
from gradschool.course.exercises import Formula, Number, Open, exercise
from gradschool.experiments.schedules import schedule_curves


def left_at_step_50() -> list[float]:
    """What the command prints: each schedule's rate at t = 50 over its rate at t = 0."""
    curves = schedule_curves(["polynomial:power=0.9", "exponential"], steps=100)
    return [rates[50] / rates[0] for rates in curves.values()]


exercise(
    1,
    en="""
        Plot the source's "exponential decay" with $p = 0.9$ (the "poly" schedule of semantic
        segmentation) beside a true exponential decay:
        `gradschool schedule plot polynomial:power=0.9 exponential --steps 100`. What fraction
        of its starting rate does each have left at $t = 50$, halfway?
    """,
    zh="""
        把 $p = 0.9$ 时原文的"指数衰减"（语义分割里常用的"poly"策略）和真正的指数衰减画在一起：
        `gradschool schedule plot polynomial:power=0.9 exponential --steps 100`。走到一半，$t = 50$ 时，两者各剩下
        起始学习率的几分之几？
    """,
    check=Number(
        left_at_step_50,
        rel=1e-3,
        names=[("polynomial, p = 0.9", "多项式，p = 0.9"), ("exponential", "指数")],
    ),
    hints=[
        (
            "The command prints a table of t and each schedule's rate: divide the row t = 50 by the row t = 0.",
            "命令会打印一张表，列出 t 和每个调度的学习率：用 t = 50 那一行除以 t = 0 那一行。",
        ),
        (
            'For the polynomial, $(1 - t/T)^p$ with $T = 100$ needs no table. Answer both, the polynomial first: `--answer "A; B"`.',
            '多项式那个不用查表：$T = 100$ 时就是 $(1 - t/T)^p$。两个都要回答，先写多项式的：`--answer "A; B"`。',
        ),
    ],
    solution=(
        """
        {{ answer[0]:.4f }} and {{ answer[1]:.4f }}. The polynomial keeps $(1 - 50/100)^{0.9}$
        of its rate halfway, more than half, and then falls to exactly 0 at $t = T$, ever faster
        (its slope grows as $t \\to T$). The exponential (gradschool's default $\\gamma$ makes it
        end at 1% of $\\alpha_0$ after $T$ steps) has already lost most of its rate halfway and
        then decays ever more slowly, never reaching 0. Same start, same end point, opposite
        shapes: "exponential" is not a name for the source's formula.
        """,
        """
        分别是 {{ answer[0]:.4f }} 和 {{ answer[1]:.4f }}。多项式走到一半还剩 $(1 - 50/100)^{0.9}$，比一半还多，之后越降
        越快，在 $t = T$ 时恰好降到 0（$t \\to T$ 时斜率越来越大）。指数衰减（gradschool 默认的 $\\gamma$ 让它在 $T$ 步
        之后剩下 $\\alpha_0$ 的 1%）走到一半时大部分学习率已经没了，之后越降越慢，永远不到 0。起点相同、终点相近，形状却
        正好相反："指数"这个名字安不到原文的公式上。
        """,
    ),
)

# %% tags=["exercise"]


def same_rate_at_half(T: float) -> float:
    """The gamma for which gamma**t and the polynomial schedule (power 2) give the same rate
    at t = T/2: solved by bisection on the engine's schedulers' own formulas."""
    optimizer = E.optim.SGD([E.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    target = E.lr_scheduler.PolynomialLR(optimizer, total_iters=T, power=2).lr_at(1.0, T / 2)
    low, high = 1e-9, 1.0 - 1e-15
    for _ in range(200):
        gamma = (low + high) / 2
        rate = E.lr_scheduler.ExponentialLR(optimizer, gamma=gamma).lr_at(1.0, T / 2)
        low, high = (gamma, high) if rate < target else (low, gamma)
    return (low + high) / 2


exercise(
    2,
    en="""
        Find the $\\gamma$ for which $\\alpha_0\\gamma^t$ and $\\alpha_0(1 - t/T)^2$ have the same
        rate at $t = T/2$: a formula in `T`. Which one is larger near the end?
    """,
    zh="""
        求一个 $\\gamma$，使 $\\alpha_0\\gamma^t$ 和 $\\alpha_0(1 - t/T)^2$ 在 $t = T/2$ 时学习率相同：答案是关于 `T`
        的公式。快结束时哪一个更大？
    """,
    check=Formula(
        answer="0.25 ** (2 / T)",
        reference=same_rate_at_half,
        variables={"T": (10.0, 1000.0)},
        rtol=1e-9,
    ),
    hints=[
        (
            "At $t = T/2$ the polynomial's rate is $\\alpha_0 (1 - 1/2)^2$. Set $\\gamma^{T/2}$ equal to that factor.",
            "$t = T/2$ 时多项式的学习率是 $\\alpha_0 (1 - 1/2)^2$。令 $\\gamma^{T/2}$ 等于这个系数。",
        ),
        (
            "$\\gamma^{T/2} = 1/4$, so $\\gamma = (1/4)^{2/T}$. In Python a power is `**` (`^` is accepted too).",
            "$\\gamma^{T/2} = 1/4$，所以 $\\gamma = (1/4)^{2/T}$。Python 里乘方写 `**`（写 `^` 也行）。",
        ),
    ],
    solution=(
        """
        $\\gamma^{T/2} = (1/2)^2 = 1/4$, so $\\gamma = 0.25^{2/T}$: `{{ answer }}`. Near the
        end the exponential is larger: at $t = T$ it still has $\\gamma^T = 1/16$ of
        $\\alpha_0$, while the polynomial has reached 0 (it is $\\alpha_0/4$ times
        $(1 - t/T)^2 / (1/2)^2$, which falls to 0 quadratically). Before $T/2$ it is the other
        way round: the exponential starts steeper.
        """,
        """
        $\\gamma^{T/2} = (1/2)^2 = 1/4$，所以 $\\gamma = 0.25^{2/T}$：`{{ answer }}`。快结束时指数衰减更大：$t = T$ 时它还有
        $\\alpha_0$ 的 $\\gamma^T = 1/16$，而多项式已经降到 0（它以二次方的速度降到 0）。$T/2$ 之前正好反过来：指数衰减
        一开始降得更陡。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    3,
    en="""
        Rerun section 2 with `"optim.lr": 0.1`. Which schedules survive the larger rate, and
        does the warm-up now matter more?
    """,
    zh='把第 2 节的学习率改成 `"optim.lr": 0.1` 重跑。哪些调度在大学习率下还能训练？预热是不是变得更重要了？',
    check=Open(),
    hints=[
        (
            "With momentum 0.9, 0.1 makes the effective step about ten times 0.1: what happens to the first steps from a random start, where the gradients are largest?",
            "动量 0.9 下，学习率 0.1 的有效步长大约是 0.1 的十倍：从随机初值出发的头几步梯度最大，会发生什么？",
        )
    ],
    solution=(
        """
        Change `"optim.lr"` in section 2's base config and compare the table and the curves.
        Read the first epoch: with momentum 0.9 a rate of 0.1 acts like a step of about 1,
        and the gradients are largest at the start, so a schedule that begins at the full
        rate risks a loss that jumps up (or to NaN) in the first steps — the fixed rate and the
        decays that start at $\\alpha_0$. A warm-up (and the source's "step decay", which is a
        ramp from 0) begins with small steps while the weights are still random, then uses the
        large rate once the gradients have calmed down: this is where it earns its place
        (Goyal et al. 2017 introduced it for exactly this, large rates with large batches).
        Decays that shrink the rate later let the run settle from the larger rate's noise.
        Which ones diverge on your machine's run is what the table shows; judge differences
        against the standard error the section prints.
        """,
        """
        改第 2 节基础配置里的 `"optim.lr"`，比较表格和曲线。先看第一轮：动量 0.9 下学习率 0.1 相当于步长 1 左右，而梯度在
        开始时最大，所以一开始就用满学习率的调度——固定学习率和从 $\\alpha_0$ 开始的各种衰减——在头几步里损失可能往上跳
        （甚至变成 NaN）。预热（以及原文的"步长衰减"，它是一条从 0 开始的斜坡）在权重还是随机的时候用小步子，等梯度平稳了
        再用大学习率：这正是它的用武之地（Goyal 等 2017 就是为了大批量、大学习率提出的预热）。后面再把学习率降下来的衰减，
        能让训练从大学习率的噪声里稳定下来。你这次运行里具体哪些发散了，看表格就知道；比较差别时要和这一节打印的标准误差
        对照。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        Try `schedule.name = "plateau"` with `interval = "epoch"`: it cuts the rate when the
        validation loss stops improving. Compare it with the step decay.
    """,
    zh="""
        试试 `schedule.name = "plateau"`、`interval = "epoch"`：验证损失不再下降时它就把学习率砍掉一截。和阶梯衰减
        比一比。
    """,
    check=Open(),
    hints=[
        (
            'Add a run with `{"schedule.name": "plateau", "schedule.interval": "epoch"}` to section 2\'s list and plot its learning rate per epoch beside the step decay\'s.',
            '在第 2 节的列表里加一个 `{"schedule.name": "plateau", "schedule.interval": "epoch"}` 的运行，把它每轮的学习率和阶梯衰减的画在一起。',
        )
    ],
    solution=(
        """
        The step decay cuts the rate on a timetable fixed in advance (every $s$ steps);
        plateau (torch's `ReduceLROnPlateau`) cuts it when the validation loss has not improved
        for `patience` epochs, so its timetable comes from the run itself. In a short run the
        validation loss usually keeps improving, so plateau may never cut and behaves like the
        fixed rate; in a longer one it cuts when progress stalls, often later than a step
        decay would. It needs a validation set and steps once per epoch (hence
        `interval = "epoch"`, and gradschool refuses a warm-up before it). Its advantage:
        no schedule to guess. Its cost: it reacts to noise in the validation loss, and runs
        are harder to compare because each one decides its own timetable.
        """,
        """
        阶梯衰减按事先定好的时间表降学习率（每 $s$ 步一次）；plateau（即 torch 的 `ReduceLROnPlateau`）在验证损失连续
        `patience` 轮没有改善时才降，时间表由这次训练自己决定。训练很短时验证损失通常一直在降，plateau 可能一次都不降，
        表现就和固定学习率一样；训练长一些，它会在进展停滞时才降，往往比阶梯衰减晚。它需要验证集，而且每轮只走一步
        （所以要 `interval = "epoch"`，gradschool 也不允许在它前面加预热）。好处是不用猜时间表；代价是它会被验证损失的
        噪声牵着走，而且每次运行自己决定时间表，运行之间更难比较。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's piece is step 12, `schedule`: the rate at
# step t of the source's two formulas (polynomial decay and the linear ramp) and of the true
# exponential and step decays, graded against `torch.optim.lr_scheduler` step by step.
#
# ```bash
# gradschool build start            # once: creates my-engine/, every step a blank to fill in
# gradschool build check schedule   # step 12
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应第 12 步 `schedule`：原文两个公式（多项式衰减和线性斜坡）以及真正的指数衰减、
# 阶梯衰减在第 t 步的学习率，逐步和 `torch.optim.lr_scheduler` 对照评分。
#
# ```bash
# gradschool build start            # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check schedule   # 第 12 步
# ```
