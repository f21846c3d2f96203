# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 6 s
#     full: 12 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 8. Evaluation: validation sets, k-fold cross-validation, the confusion matrix
#
# **Goal.** Measure a model honestly. See how much one validation score moves with the choice
# of validation examples, and use k-fold cross-validation to measure that; choose a setting
# by validation only — with a search that cannot even read the test set — and then measure the
# chosen model on the test set once, class by class, with the confusion matrix and per-class
# precision, recall and F1. Finally, see with a simulation why a test set used to choose stops
# being a test set.

# %% [markdown] tags=["zh"]
# # 第 8 讲：模型评估：验证集、k 折交叉验证、混淆矩阵
#
# **目标**：老老实实地衡量一个模型。先看一个验证集上的分数会随着"哪些样本被分进验证集"变动多少，再用 k 折交叉验证
# 把这个波动量出来；只用验证集来做选择——用的搜索程序根本读不到测试集——然后把选中的模型在测试集上只测一次，
# 用混淆矩阵和每个类别的精确率、召回率、F1 逐类看清楚。最后用一个模拟实验说明：拿来做过选择的测试集，就不再是
# 测试集了。

# %% [markdown] tags=["en"]
# ## What the source says
#
# The source's FAQ (section 8) asks "如何评估模型性能？" (how do I evaluate a model?) and answers
# "模型性能可以通过多种方法进行评估，例如使用验证集、使用交叉验证等" — with a validation set, or
# with cross-validation.
#
# Both are right, and both are tools for *choosing*: which learning rate, which architecture,
# when to stop. What the answer leaves out:
#
# - **The test set.** A score used to choose is optimistic: among many candidates, the one that
#   looks best on the validation data is partly the one that got lucky on it. The honest
#   number is measured on data that played no part in any choice — the test split, used
#   **once**, at the end. gradschool enforces this where it can: the search and
#   cross-validation prepare their data with `with_test=False` (the test arrays are not even
#   loaded), and a test metric is refused as a search objective or an early-stopping monitor.
# - **The spread.** One validation split gives one number. k-fold cross-validation splits the
#   training data into $k$ folds, trains $k$ models, each on $k-1$ folds, and measures each on the
#   remaining fold:
#
# $$
# \mathrm{CV} = \frac{1}{k}\sum_{i=1}^{k} s_i, \qquad s = \sqrt{\frac{1}{k-1}\sum_{i=1}^{k}\left(s_i - \mathrm{CV}\right)^2}
# $$
#
# - **More than accuracy.** Accuracy hides which classes the model confuses. The confusion
#   matrix $C_{ij}$ counts the examples of true class $i$ predicted as $j$; per class,
#
# $$
# \mathrm{precision}_j = \frac{C_{jj}}{\sum_i C_{ij}}, \qquad \mathrm{recall}_i = \frac{C_{ii}}{\sum_j C_{ij}}, \qquad F_1 = \frac{2\,\mathrm{P}\,\mathrm{R}}{\mathrm{P} + \mathrm{R}}
# $$
#
# Precision: of the images predicted "8", the share that are 8s. Recall: of the 8s, the share
# found. These live in `gradschool.train.metrics`.

# %% [markdown] tags=["zh"]
# ## 原文怎么说
#
# 原文第 8 节"常见问题与解答"问："如何评估模型性能？"答："模型性能可以通过多种方法进行评估，例如使用验证集、使用
# 交叉验证等。"
#
# 两条都对，而且两条都是用来*做选择*的工具：选学习率、选网络结构、选什么时候停。这个回答漏掉了：
#
# - **测试集。** 拿来做选择的分数是偏乐观的：在很多候选里，验证集上看起来最好的那个，有一部分原因是它在这批验证
#   数据上运气好。老实的成绩要在没参与过任何选择的数据上测——也就是测试集，而且最后**只用一次**。gradschool 能强制的
#   地方都强制了：超参数搜索和交叉验证准备数据时用 `with_test=False`（测试集压根不加载），测试集上的指标不能作为
#   搜索目标，也不能作为早停的监控指标。
# - **波动。** 一次划分验证集，只得到一个数。k 折交叉验证把训练数据分成 $k$ 份，训练 $k$ 个模型，每个用其中 $k-1$ 份
#   训练、在剩下那一份上测：
#
# $$
# \mathrm{CV} = \frac{1}{k}\sum_{i=1}^{k} s_i, \qquad s = \sqrt{\frac{1}{k-1}\sum_{i=1}^{k}\left(s_i - \mathrm{CV}\right)^2}
# $$
#
# - **不只是准确率。** 准确率看不出模型把哪些类别搞混了。混淆矩阵 $C_{ij}$ 统计真实类别为 $i$、被预测成 $j$ 的样本数；
#   对每个类别：
#
# $$
# \mathrm{precision}_j = \frac{C_{jj}}{\sum_i C_{ij}}, \qquad \mathrm{recall}_i = \frac{C_{ii}}{\sum_j C_{ij}}, \qquad F_1 = \frac{2\,\mathrm{P}\,\mathrm{R}}{\mathrm{P} + \mathrm{R}}
# $$
#
# 精确率（precision）：被预测成"8"的图里，真是 8 的占多少；召回率（recall）：所有的 8 里，被找出来的占多少。这些都在
# `gradschool.train.metrics` 里。

# %% [markdown] tags=["en"]
# ## 1. How much does one validation score move? k-fold cross-validation
#
# `gradschool.experiments.cv.cross_validate` trains one fresh model per fold through
# `train.fit`, each with the same config and seed (so the same initial weights): the spread
# of the scores comes from the data alone. The folds are stratified (each keeps the classes'
# proportions), each fold's normalisation is fitted on its own training folds, and the test
# split is never loaded. The source's recipe, on both engines. (`gradschool cv --folds 5` is
# the command line.)

# %% [markdown] tags=["zh"]
# ## 1. 一个验证集分数能差多少？k 折交叉验证
#
# `gradschool.experiments.cv.cross_validate` 对每一折都通过 `train.fit` 训练一个新模型，配置和随机种子都一样（所以初始
# 权重也一样）：分数的波动只来自数据。各折是分层划分的（每一折都保持各类别的比例），每一折的标准化参数只用它自己
# 的训练部分来拟合，测试集从头到尾不加载。用原文的配方，两个引擎都跑。（命令行里是 `gradschool cv --folds 5`。）

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradschool.config import load_config, with_updates
from gradschool.course import QUICK, show, t
from gradschool.data.datasets import load_dataset
from gradschool.data.prepare import prepare_data
from gradschool.errors import ConfigError
from gradschool.experiments.cv import cross_validate
from gradschool.experiments.search import SearchSpec, load_search, parse_space, run_search
from gradschool.train.metrics import classification_report, format_confusion, format_report
from gradschool.train.trainer import fit

try:
    import torch  # noqa: F401 - only to know whether the second engine is here

    ENGINES = ["numpy", "torch"]
except ImportError:
    ENGINES = ["numpy"]
    print(t("torch is not installed: NumPy engine only.", "没有安装 torch：只用 NumPy 引擎。"))

FOLDS = 3 if QUICK else 5
recipe = with_updates(
    load_config("seed_mlp"),
    {
        "train.epochs": 2 if QUICK else 3,
        "data.train_subset": 2000 if QUICK else None,  # none: all 10,000 training images
    },
)
dataset = load_dataset("mnist-mini")  # loaded once, shared by every run below
cv = {}
for engine in ENGINES:
    config = with_updates(recipe, {"train.engine": engine})
    cv[engine] = result = cross_validate(config, FOLDS, dataset=dataset)
    for fold in result.folds:
        print(
            f"{engine:<6} "
            + t(
                f"fold {fold.fold}: train {fold.n_train}, validate {fold.n_val}",
                f"第 {fold.fold} 折：训练 {fold.n_train}，验证 {fold.n_val}",
            )
            + f"  val acc {100 * fold.val_acc:.2f}%  val loss {fold.val_loss:.4f}"
        )
    print(f"{engine:<6} {result.summary()}\n")

fig, ax = plt.subplots(figsize=(7, 3.6))
for row, engine in enumerate(ENGINES):
    scores = 100 * cv[engine].scores("val_acc")
    mean, std = scores.mean(), scores.std(ddof=1)
    ax.scatter(
        scores,
        np.full(len(scores), row),
        s=40,
        zorder=3,
        label=t("one fold", "单折") if row == 0 else None,
    )
    ax.errorbar(
        mean,
        row + 0.25,
        xerr=std,
        fmt="kD",
        ms=5,
        capsize=4,
        label=t("mean ± std", "均值 ± 标准差") if row == 0 else None,
    )
ax.set(
    yticks=range(len(ENGINES)),
    yticklabels=[t(f"{e} engine", f"{e} 引擎") for e in ENGINES],
    ylim=(-0.6, len(ENGINES) - 0.2),
    xlabel=t("validation accuracy (%)", "验证准确率（%）"),
    title=t(
        f"{FOLDS}-fold cross-validation of the source's recipe", f"原文配方的 {FOLDS} 折交叉验证"
    ),
)
ax.grid(alpha=0.3, axis="x")
ax.legend(fontsize=8, loc="lower right")
show()

# %% [markdown] tags=["en"]
# Each fold's score differs from the others by up to a point or so: that is how much "the
# validation accuracy" of one split depends on which examples landed in it. The mean is a
# steadier estimate; the standard deviation says how far one split's number may be off. (The
# folds share most of their training data, so it is not a confidence interval of the mean.)
#
# ## 2. Choosing by validation: a search that cannot see the test set
#
# Now choose a learning rate. `gradschool.experiments.search` trains one candidate per trial
# through `train.fit` and ranks them by a *validation* score. Its trials prepare their data with
# `with_test=False`: the test arrays are not in the trial at all. Asking it to rank by a test
# metric is an error:

# %% [markdown] tags=["zh"]
# 各折的分数彼此最多差一个百分点左右：这就是一次划分出来的"验证准确率"在多大程度上取决于哪些样本恰好被分进了验证集。
# 均值是更稳的估计；标准差告诉你单次划分的数可能偏多少。（各折的训练数据大部分是重叠的，所以这不是均值的置信区间。）
#
# ## 2. 用验证集做选择：一个看不到测试集的搜索
#
# 现在来选学习率。`gradschool.experiments.search` 每个试验都通过 `train.fit` 训练一个候选模型，按*验证集*上的分数排名。
# 它的试验准备数据时用 `with_test=False`：试验里根本没有测试集的数据。要它按测试集指标排名，会直接报错：

# %% rates
from gradschool.course import QUICK

FULL_RATES = [0.001, 0.003, 0.01, 0.03, 0.1]  # the learning rates the search tries
RATES = FULL_RATES[::2] if QUICK else FULL_RATES  # quick mode: 0.001, 0.01, 0.1

# %%
try:
    load_search("seed_mlp", metric="test_acc")
except ConfigError as err:
    print("ConfigError:", err)
print(
    t("a trial's data:", "试验用的数据："),
    "X_test =",
    prepare_data(recipe.data, 0, dataset=dataset, with_test=False).X_test,
)

spec = SearchSpec(
    base=recipe,
    params=parse_space({"optim.lr": {"choices": RATES}}, recipe),
    method="grid",
    metric="val_acc",
    mode="max",
)
search = run_search(spec, dataset=dataset)
print(f"\n{'lr':>8} {t('val acc', '验证准确率'):>10} {t('val loss', '验证损失'):>10}")
for trial in search.trials:
    print(f"{trial.params['optim.lr']:>8} {100 * trial.val_acc:>9.2f}% {trial.val_loss:>10.4f}")
best = search.best
print(
    t(
        f"chosen by validation: lr = {best.params['optim.lr']}",
        f"按验证集选出：lr = {best.params['optim.lr']}",
    )
)

# %% [markdown] tags=["en"]
# ## 3. The test set, once
#
# The choice is made. Now, and only now, the chosen config is trained (on each engine) with the
# test split loaded, and measured on it once: accuracy, the confusion matrix, and precision,
# recall and F1 per class (`classification_report`). `gradschool eval RUN_DIR` prints the same
# for any saved run.

# %% [markdown] tags=["zh"]
# ## 3. 测试集，只用一次
#
# 选择已经做完了。现在，也只有现在，才把选中的配置（在每个引擎上）带着测试集训练一遍，并在测试集上测这一次：准确率、
# 混淆矩阵，以及每个类别的精确率、召回率和 F1（`classification_report`）。对任何保存下来的运行，
# `gradschool eval RUN_DIR` 会打印同样的内容。

# %%
final = with_updates(recipe, {"optim.lr": best.params["optim.lr"]})
reports, finals = {}, {}  # finals[engine] = (test accuracy, validation accuracy)
for engine in ENGINES:
    config = with_updates(final, {"train.engine": engine})
    data = prepare_data(config.data, config.train.seed, dataset=dataset)  # with the test split
    trainer = fit(config, data=data, console=False)
    measured = trainer.evaluate(data.X_test, data.y_test)
    finals[engine] = (measured["acc"], trainer.state.history[-1]["val_acc"])
    reports[engine] = classification_report(
        data.y_test, measured["y_pred"], len(data.classes), scores=measured["logits"]
    )
    print(
        t(
            f"{engine}: test accuracy {100 * measured['acc']:.2f}%",
            f"{engine}：测试集准确率 {100 * measured['acc']:.2f}%",
        )
        + t(
            f" (its validation accuracy: {100 * trainer.state.history[-1]['val_acc']:.2f}%)",
            f"（它的验证集准确率：{100 * trainer.state.history[-1]['val_acc']:.2f}%）",
        )
    )
classes = data.classes
report = reports["numpy"]
print("\n" + t("NumPy engine, per class on the test set:", "NumPy 引擎，测试集上逐类的结果："))
print(format_report(report, classes))
print("\n" + format_confusion(report["confusion"], classes))

# %%
cm = report["confusion"]
shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
off = shares.copy()
np.fill_diagonal(off, 0)
fig, (ax_cm, ax_pr) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 1.1]})
image = ax_cm.imshow(off, cmap="Reds", vmin=0)
for i in range(len(classes)):
    for j in range(len(classes)):
        if cm[i, j]:
            color = "white" if off[i, j] > 0.6 * off.max() else "black"
            ax_cm.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color=color)
fig.colorbar(
    image,
    ax=ax_cm,
    fraction=0.046,
    pad=0.04,
    label=t("share of the true class (errors only)", "占真实类别的比例（只看错误）"),
)
ax_cm.set(
    xticks=range(len(classes)),
    yticks=range(len(classes)),
    xticklabels=classes,
    yticklabels=classes,
    xlabel=t("predicted class", "预测类别"),
    ylabel=t("true class", "真实类别"),
    title=t("Confusion matrix on the test set (counts)", "测试集上的混淆矩阵（计数）"),
)
per = report["per_class"]
x = np.arange(len(classes))
for k, (key, label) in enumerate(
    (("precision", t("precision", "精确率")), ("recall", t("recall", "召回率")), ("f1", "F1"))
):
    ax_pr.bar(x + (k - 1) * 0.27, 100 * per[key], width=0.27, label=label)
ax_pr.set(
    xticks=x,
    xticklabels=classes,
    ylim=(100 * min(per[k].min() for k in ("precision", "recall", "f1")) - 5, 100),
    xlabel=t("class", "类别"),
    ylabel="%",
    title=t("Per class, test set (NumPy engine)", "逐类指标，测试集（NumPy 引擎）"),
)
ax_pr.legend(fontsize=8, loc="lower right")
ax_pr.grid(alpha=0.3, axis="y")
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## 4. Why the test set is used once: the winner's curse
#
# Suppose we compare $K$ candidates that are in truth *equally good* — each classifies 90% of
# all possible images right — and measure each on the same 1,000 validation images. Each
# measured score is the truth plus sampling noise (a binomial with standard deviation
# $\sqrt{0.9 \cdot 0.1 / 1000} \approx 0.95$ points). We keep the best-looking one and measure it again
# on 1,000 fresh test images. A simulation, repeated 2,000 times for each $K$ (the candidates'
# errors are drawn independently — real candidates err on partly the same images, which
# weakens the effect but does not remove it):

# %% [markdown] tags=["zh"]
# ## 4. 为什么测试集只能用一次："赢家的诅咒"
#
# 假设我们比较 $K$ 个候选模型，它们其实*一样好*——在所有可能的图片上都是 90% 的准确率——并且在同样的 1000 张验证图上
# 测每一个。每个测出来的分数都是真实值加上抽样噪声（二项分布，标准差 $\sqrt{0.9 \cdot 0.1 / 1000} \approx 0.95$ 个百分点）。
# 我们留下看起来最好的那个，再在 1000 张全新的测试图上测一次。下面是模拟，每个 $K$ 重复 2000 次（各候选的错误是独立
# 抽的——真实的候选模型往往在一部分相同的图上出错，这会减弱这个效应，但不会消除它）：

# %%
rng = np.random.default_rng(0)
truth, n_images, repeats = 0.90, 1000, 2000
print(
    f"{'K':>5} {t('best validation score', '最好的验证分数'):>24} {t('its test score', '它的测试分数'):>16}"
)
fig, ax = plt.subplots(figsize=(7.5, 3.8))
Ks = [1, 5, 20, 100]
inflation = {}  # K -> mean chosen validation score minus the truth, in points
for K in Ks:
    val = rng.binomial(n_images, truth, size=(repeats, K)) / n_images  # (repeats, K)
    chosen = val.max(axis=1)  # the best-looking candidate's validation score
    test = rng.binomial(n_images, truth, size=repeats) / n_images  # the same model, fresh data
    inflation[K] = 100 * (chosen.mean() - truth)
    print(f"{K:>5} {100 * chosen.mean():>23.2f}% {100 * test.mean():>15.2f}%")
    ax.hist(
        100 * chosen, bins=np.arange(86.5, 95.5, 0.2), histtype="step", lw=1.5, label=f"K = {K}"
    )
ax.axvline(
    100 * truth,
    color="k",
    ls="--",
    lw=1,
    label=t("the truth (and the mean test score)", "真实值（也是测试分数的均值）"),
)
ax.set(
    xlabel=t("validation accuracy of the chosen candidate (%)", "被选中候选的验证准确率（%）"),
    ylabel=t("count (of 2,000 repeats)", "次数（共 2000 次）"),
    title=t(
        "Choose the best of K equal candidates: its score looks better than it is",
        "从 K 个一样好的候选里挑最好的：它的分数看起来比实际好",
    ),
)
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
show()

# %%
# What the prose below quotes, from the runs above.
fold_scores = {e: 100 * cv[e].scores("val_acc") for e in ENGINES}
rates = [trial.params["optim.lr"] for trial in search.trials]
val_by_rate = {r: 100 * trial.val_acc for r, trial in zip(rates, search.trials)}
chosen_rate = best.params["optim.lr"]
n_test = len(data.y_test)
test_error = 100 * np.sqrt(report["accuracy"] * (1 - report["accuracy"]) / n_test)
one_error = 100 * np.sqrt(truth * (1 - truth) / n_images)  # one measurement, the simulation


def chosen_phrase() -> str:
    """Which rate the search chose, against the source's 0.01."""
    own = f"$\\alpha = {chosen_rate}$ ({val_by_rate[chosen_rate]:.1f}%)"
    if chosen_rate == 0.01:
        return t(f"keeps the source's {own}", f"选中的正是原文的 {own}")
    return t(
        f"picks {own} over the source's 0.01 ({val_by_rate[0.01]:.1f}%)",
        f"选中了 {own}，而不是原文的 0.01（{val_by_rate[0.01]:.1f}%）",
    )


def fold_range(engine: str) -> str:
    return f"{fold_scores[engine].min():.1f}%–{fold_scores[engine].max():.1f}%"


confusions = sorted(
    (
        (cm[i, j], classes[i], classes[j])
        for i in range(len(classes))
        for j in range(len(classes))
        if i != j
    ),
    reverse=True,
)[:3]
top_confusions_en = ", ".join(f"{a} read as {b}" for _, a, b in confusions)
top_confusions_zh = "、".join(f"把 {a} 认成 {b}" for _, a, b in confusions)
per = report["per_class"]
k_pmin, k_pmax = int(np.argmin(per["precision"])), int(np.argmax(per["precision"]))
k_rmin, k_rmax = int(np.argmin(per["recall"])), int(np.argmax(per["recall"]))

# %% [markdown] tags=["en"]
# ## What the runs show
#
# All numbers are this run's ({{ "quick mode: 2,000 training images" if QUICK else "full mode: all 10,000 training images" }}, {{ recipe.train.epochs }} epochs
# per model).
#
# - **Cross-validation.** The {{ FOLDS }} folds score {{ fold_range("numpy") }} on the NumPy engine{{ f" and {fold_range('torch')} on PyTorch" if "torch" in ENGINES else "" }}:
#   one 80/20 split could have reported any of these. The means: {{ ", ".join(f"{e} {fold_scores[e].mean():.2f}%" for e in ENGINES) }},
#   with a standard deviation of {{ ", ".join(f"{fold_scores[e].std(ddof=1):.1f}" for e in ENGINES) }} points.
# - **The search** ranks {{ len(rates) }} learning rates by validation accuracy and {{ chosen_phrase() }} — for
#   this short {{ recipe.train.epochs }}-epoch budget. It never saw a test image.
# - **The test set, once.** The chosen config scores {{ ", ".join(f"{100 * finals[e][0]:.2f}% on {e} (validation: {100 * finals[e][1]:.2f}%)" for e in ENGINES) }}.
#   With {{ n_test:, }} test images one accuracy has a standard error of about {{ test_error:.1f }} points, and
#   {{ len(rates) }} candidates inflate the winner's validation score only a little: test and validation
#   differ by {{ max(abs(a - b) for a, b in finals.values()) * 100:.1f }} points at most.
# - **Per class**, the errors are far from uniform: the largest cells of the confusion matrix are
#   {{ top_confusions_en }}. Precision runs from {{ 100 * per["precision"][k_pmin]:.1f }}% (the {{ classes[k_pmin] }}s) to
#   {{ 100 * per["precision"][k_pmax]:.1f }}% (the {{ classes[k_pmax] }}s), recall from {{ 100 * per["recall"][k_rmin]:.1f }}% (the {{ classes[k_rmin] }}s) to {{ 100 * per["recall"][k_rmax]:.1f }}% (the
#   {{ classes[k_rmax] }}s). High precision with low recall is a digit the model names only when sure, and
#   misses; high recall with low precision, one it finds but also names for other digits.
#   Accuracy alone ({{ 100 * report["accuracy"]:.2f }}%) shows none of this.
# - **The winner's curse.** Choosing the best of $K$ equally good candidates inflates its
#   validation score — by {{ inflation[5]:.1f }} points for $K = 5$, {{ inflation[20]:.1f }} for $K = 20$ and {{ inflation[100]:.1f }} for
#   $K = 100$, against a standard error of {{ one_error:.1f }} for one measurement — while its test score stays
#   at the truth, {{ 100 * truth:.1f }}%. If the test set had been the score we chose by, the number we
#   report would carry that inflation, with nothing left to reveal it.

# %% [markdown] tags=["zh"]
# ## 实验结果说明了什么
#
# 下面的数字都来自这次运行（{{ "快速模式：2000 张训练图" if QUICK else "完整模式：全部 1 万张训练图" }}，每个模型训练 {{ recipe.train.epochs }} 轮）。
#
# - **交叉验证。** {{ FOLDS }} 折的分数在 NumPy 引擎上是 {{ fold_range("numpy") }}{{ f"，在 PyTorch 上是 {fold_range('torch')}" if "torch" in ENGINES else "" }}：单独一次 80/20
#   划分，报出其中任何一个数都有可能。均值：{{ "，".join(f"{e} {fold_scores[e].mean():.2f}%" for e in ENGINES) }}；标准差 {{ "、".join(f"{fold_scores[e].std(ddof=1):.1f}" for e in ENGINES) }} 个百分点。
# - **搜索**按验证准确率给 {{ len(rates) }} 个学习率排名，{{ chosen_phrase() }}——这是针对这么短的 {{ recipe.train.epochs }} 轮训练而言的。
#   整个过程没见过一张测试图。
# - **测试集，只测一次。** 选中的配置{{ "，".join(f"在 {e} 上得 {100 * finals[e][0]:.2f}%（验证：{100 * finals[e][1]:.2f}%）" for e in ENGINES) }}。
#   {{ n_test:, }} 张测试图上的一个准确率，标准误差约 {{ test_error:.1f }} 个百分点；只有 {{ len(rates) }} 个候选时，胜出者的验证分数被抬高得也
#   不多：测试和验证最多差 {{ max(abs(a - b) for a, b in finals.values()) * 100:.1f }} 个百分点。
# - **逐类来看**，错误分布一点也不均匀：混淆矩阵里最大的几格是{{ top_confusions_zh }}。精确率从 {{ 100 * per["precision"][k_pmin]:.1f }}%（数字
#   {{ classes[k_pmin] }}）到 {{ 100 * per["precision"][k_pmax]:.1f }}%（数字 {{ classes[k_pmax] }}），召回率从 {{ 100 * per["recall"][k_rmin]:.1f }}%（数字 {{ classes[k_rmin] }}）到 {{ 100 * per["recall"][k_rmax]:.1f }}%（数字 {{ classes[k_rmax] }}）。精确率高、
#   召回率低的数字，模型只有很有把握时才说出来，结果常常漏掉；召回率高、精确率低的，模型都找出来了，却也会把别的
#   数字说成它。光看准确率（{{ 100 * report["accuracy"]:.2f }}%），这些都看不出来。
# - **赢家的诅咒。** 从 $K$ 个一样好的候选里挑最好的，它的验证分数会被抬高——$K = 5$ 时高 {{ inflation[5]:.1f }} 个百分点，$K = 20$ 时高
#   {{ inflation[20]:.1f }}，$K = 100$ 时高 {{ inflation[100]:.1f }}，而单次测量的标准误差只有 {{ one_error:.1f }}——它的测试分数却仍然停在真实值
#   {{ 100 * truth:.1f }}%。如果当初是按测试集来挑的，那我们报告出去的数字就带着这部分虚高，而且再也没有别的数据能把它揭穿。

# %% [markdown] tags=["en"]
# ## Summary
#
# - A validation set and cross-validation (the source's answer) are for **choosing**; the
#   **test set** is for the final number, measured once, after every choice is made.
# - One validation score moves with the choice of validation examples; k-fold cross-validation
#   (`gradschool cv`) gives the mean and the spread.
# - Accuracy is one number; the confusion matrix and per-class precision, recall and F1
#   (`gradschool.train.metrics`, `gradschool eval`) show which classes are confused.
# - Picking the best of many candidates by one score makes that score optimistic — which is
#   why the score that decides cannot be the score you report.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 验证集和交叉验证（原文的答案）是用来**做选择**的；**测试集**用来给出最终成绩，所有选择都做完之后只测一次。
# - 一个验证分数会随着验证样本的选取而变动；k 折交叉验证（`gradschool cv`）给出均值和波动。
# - 准确率只是一个数；混淆矩阵和逐类的精确率、召回率、F1（`gradschool.train.metrics`、`gradschool eval`）能看出
#   哪些类别被搞混了。
# - 用同一个分数从很多候选里挑最好的，这个分数就会偏乐观——所以用来做决定的分数，不能拿来当最终成绩报告。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 8 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 8`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 8 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 8` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import math

import numpy as np

from gradschool.config import load_config
from gradschool.course.exercises import Function, Number, Open, exercise
from gradschool.experiments.search import parse_space

exercise(
    1,
    en="Run the cross-validation with `FOLDS = 10`. Does the mean move? The spread of one fold?",
    zh="用 `FOLDS = 10` 重做交叉验证。均值变了吗？单折的波动呢？",
    check=Open(),
    hints=[
        (
            "With 10 folds each model trains on 90% of the images instead of 80%, and validates on 10% instead of 20%. Which of the two changes the mean, and which the spread of one fold?",
            "10 折时每个模型用 90% 的图训练（而不是 80%），用 10% 验证（而不是 20%）。这两个变化，哪个影响均值，哪个影响单折的波动？",
        )
    ],
    solution=(
        """
        The mean barely moves: each model trains on 90% of the data instead of 80%, a little
        more, so it may rise a fraction of a point — the estimate is of a model trained on
        slightly more data. The spread of one fold grows: each fold validates on half as many
        images, so its standard error grows by $\\sqrt{2}$ ($\\sqrt{p(1-p)/n}$ with n halved).
        The mean's own uncertainty stays about the same, since all the images are still
        validated once. More folds cost more training runs for little gain; 5 or 10 are the
        usual choices.
        """,
        """
        均值几乎不变：每个模型用 90% 的数据训练，比 80% 多一点，所以均值可能高零点几个百分点——它估计的是用稍多一些数据
        训练出的模型。单折的波动变大：每一折验证的图少了一半，标准误差变成 $\\sqrt{2}$ 倍（$\\sqrt{p(1-p)/n}$，n 减半）。
        均值本身的不确定性基本不变，因为每张图仍然恰好被验证一次。折数越多，训练次数越多，收获却不大；常用 5 折或 10 折。
        """,
    ),
)

# %% tags=["exercise"]


def grid_trials() -> int:
    """The trials of section 2's grid in full mode with the sizes added: one per point of the
    product of the parameters' grids, as the search enumerates them."""
    space = {
        "optim.lr": {"choices": FULL_RATES},
        "model.sizes": {"choices": [[784, 128, 64, 10], [784, 512, 10]]},
    }
    return math.prod(len(param.grid()) for param in parse_space(space, load_config("seed_mlp")))


exercise(
    2,
    en="""
        Add `"model.sizes": {"choices": [[784, 128, 64, 10], [784, 512, 10]]}` to the search
        space. How many trials does the grid run now (in full mode)? Then run it: is the
        winner's test score as good as its validation score?
    """,
    zh="""
        在搜索空间里加上 `"model.sizes": {"choices": [[784, 128, 64, 10], [784, 512, 10]]}`。现在（完整模式下）网格搜索
        要跑几个试验？再运行：胜出者的测试分数和它的验证分数一样好吗？
    """,
    check=Number(grid_trials, rel=0),
    hints=[
        (
            "A grid search tries every combination: one trial per pair (learning rate, sizes).",
            "网格搜索会把所有组合都试一遍：每一对（学习率，sizes）一个试验。",
        ),
        (
            "Full mode searches five learning rates (`FULL_RATES`); multiply by the number of size choices.",
            "完整模式搜索五个学习率（`FULL_RATES`）；再乘以 sizes 的选择个数。",
        ),
    ],
    solution=(
        """
        {{ answer:.0f }} trials: {{ len(FULL_RATES) }} learning rates times 2 architectures
        (in quick mode, {{ len(FULL_RATES[::2]) * 2 }}). The winner is the best of
        {{ answer:.0f }} validation scores, so its validation score is biased upwards (section
        4's simulation); its test score, measured once, is not. Expect the test score to come
        out a little lower, by about the size of that optimism, unless the winner is clearly
        better than the rest — and differences within a standard error or two say nothing.
        """,
        """
        {{ answer:.0f }} 个试验：{{ len(FULL_RATES) }} 个学习率乘以 2 种结构（快速模式下是
        {{ len(FULL_RATES[::2]) * 2 }} 个）。胜出者是 {{ answer:.0f }} 个验证分数里最好的那个，所以它的验证分数偏高（第 4 节的
        模拟）；它的测试分数只测一次，没有这种偏差。一般测试分数会低一点，大约低掉那份"乐观"，除非胜出者明显比其他的好——
        而一两个标准误差之内的差别说明不了什么。
        """,
    ),
    setup=("rates",),
)

# %% tags=["exercise"]


def most_confused_reference(cm):
    """The (true, predicted) pair of the largest count off the diagonal; on a tie, the first
    such pair row by row."""
    cm = np.asarray(cm)
    pairs = [(i, j) for i in range(cm.shape[0]) for j in range(cm.shape[1]) if i != j]
    best = max(pairs, key=lambda ij: (cm[ij], -ij[0], -ij[1]))
    return (int(best[0]), int(best[1]))


def confusion_cases(rng):
    cases = []
    for label, k, build in (
        (("random, 10 digits", "随机，10 个数字"), 10, None),
        (("the largest count on the diagonal", "最大的计数在对角线上"), 10, "diagonal"),
        (("a tie between two pairs", "两对并列"), 10, "tie"),
        (("3 classes, small integers", "3 类，小整数"), 3, None),
        (("below the diagonal", "在对角线下方"), 4, "lower"),
    ):
        cm = rng.integers(0, 6, (k, k))
        np.fill_diagonal(cm, rng.integers(80, 120, k))
        if build == "tie":
            cm[cm == cm.max()] = 0
            np.fill_diagonal(cm, 100)
            cm[7, 2] = cm[2, 9] = 40  # two equal maxima: (2, 9) comes first row by row
        if build == "lower":
            cm[3, 1] = 50
        cases.append(((f"{k}x{k}, {label[0]}", f"{k}x{k}，{label[1]}"), (cm,)))
    return cases


exercise(
    3,
    en="""
        Which pair of digits does the model confuse most? Write `most_confused(cm)` in a file:
        given a confusion matrix (rows: true class, columns: predicted class), it returns the
        pair `(true, predicted)` of the largest count off the diagonal — on a tie, the first
        such pair reading row by row. Then show a few of those test images
        (`dataset.X_test[i, 0]` is a 28×28 image).
    """,
    zh="""
        模型最容易把哪两个数字搞混？在文件里写 `most_confused(cm)`：输入一个混淆矩阵（行是真实类别，列是预测类别），
        返回对角线以外计数最大的那一对 `(真实类别, 预测类别)`——有并列时，取逐行读下来的第一对。然后把几张这样的测试图
        画出来（`dataset.X_test[i, 0]` 是一张 28×28 的图）。
    """,
    check=Function(
        name="most_confused",
        signature="most_confused(cm) -> (true, predicted)",
        reference=most_confused_reference,
        cases=confusion_cases,
    ),
    hints=[
        (
            "The diagonal holds the correct predictions: set it aside (a copy with `np.fill_diagonal(off, -1)`) before looking for the maximum.",
            "对角线上是预测对的：找最大值之前先把它排除（复制一份，再 `np.fill_diagonal(off, -1)`）。",
        ),
        (
            "`np.argmax` of the flattened matrix picks the first maximum row by row; `np.unravel_index` turns it back into (row, column).",
            "对展平的矩阵用 `np.argmax`，取到的就是逐行读下来的第一个最大值；`np.unravel_index` 把它变回（行，列）。",
        ),
    ],
    solution=(
        """
        ```python
        import numpy as np


        def most_confused(cm):
            off = np.array(cm, dtype=np.int64)  # a copy
            np.fill_diagonal(off, -1)  # the correct predictions never count
            i, j = np.unravel_index(np.argmax(off), off.shape)  # the first maximum, row by row
            return int(i), int(j)
        ```

        On the lecture's matrix: `true, pred = most_confused(report["confusion"])`, then
        `picks = np.flatnonzero((data.y_test == true) & (measured["y_pred"] == pred))[:6]` and
        `plt.imshow(data.X_test[i, 0], cmap="gray")` for each. The confusions are between
        digits that share strokes: a 4 with an open top reads as a 9, a 7 with a bar as a 2,
        a 5 and a 3 differ by one corner. Looking at the images tells you whether the labels,
        the data or the model is at fault.
        """,
        """
        ```python
        import numpy as np


        def most_confused(cm):
            off = np.array(cm, dtype=np.int64)  # 复制一份
            np.fill_diagonal(off, -1)  # 预测对的不算
            i, j = np.unravel_index(np.argmax(off), off.shape)  # 逐行读下来的第一个最大值
            return int(i), int(j)
        ```

        用在本讲的矩阵上：`true, pred = most_confused(report["confusion"])`，然后
        `picks = np.flatnonzero((data.y_test == true) & (measured["y_pred"] == pred))[:6]`，再对每个 i 画
        `plt.imshow(data.X_test[i, 0], cmap="gray")`。混淆多发生在笔画相近的数字之间：上面开口的 4 像 9，带一横的 7 像
        2，5 和 3 只差一个角。看一看这些图，才知道问题出在标签、数据还是模型上。
        """,
    ),
)

# %% tags=["exercise"]


def best_wins(K: int = 20, n: int = 1000, base: float = 0.90, step: float = 0.002) -> float:
    """Exactly, the probability that candidate K-1 (true accuracy base + step*(K-1)) has the
    strictly highest validation score among K, each score Binomial(n, accuracy) / n: the sum
    over its count k of P(it scores k) times P(every other one scores below k)."""
    counts = np.arange(n + 1)
    log_choose = np.array(
        [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in counts]
    )

    def pmf(p: float) -> np.ndarray:
        return np.exp(log_choose + counts * math.log(p) + (n - counts) * math.log1p(-p))

    below = np.ones(n + 1)  # P(every other candidate scores < k), for each k
    for i in range(K - 1):
        cdf = np.cumsum(pmf(base + step * i))
        below *= np.concatenate([[0.0], cdf[:-1]])
    return float(np.sum(pmf(base + step * (K - 1)) * below))


exercise(
    4,
    en="""
        In the simulation, let the candidates differ a little: true accuracies
        $0.90 + 0.002\\,i$ for $i = 0, \\dots, K-1$, each measured on 1,000 validation images.
        How often does the truly best one win for $K = 20$? (It wins when its score is the
        highest; a tie goes to another candidate, as `np.argmax` picks the first.)
    """,
    zh="""
        在模拟里让候选之间稍有差别：真实准确率为 $0.90 + 0.002\\,i$（$i = 0, \\dots, K-1$），每个都在 1,000 张验证图上
        测量。$K = 20$ 时，真正最好的那个有多大概率胜出？（它的分数最高才算胜出；并列时算别人赢，因为 `np.argmax`
        取第一个。）
    """,
    check=Number(best_wins, rel=0, abs=0.025),
    hints=[
        (
            "Draw `rng.binomial(1000, truths, size=(repeats, 20)) / 1000` with `truths = 0.90 + 0.002 * np.arange(20)`, and count how often `argmax` along axis 1 is 19.",
            "用 `truths = 0.90 + 0.002 * np.arange(20)` 抽 `rng.binomial(1000, truths, size=(repeats, 20)) / 1000`，数一数沿第 1 轴的 `argmax` 有多少次等于 19。",
        ),
        (
            "With 2,000 repeats the estimate has a standard error near 0.011; use 20,000 to be safe. Answer a probability between 0 and 1 (or a percentage, 40%).",
            "重复 2,000 次，估计值的标准误差约 0.011；保险起见重复 20,000 次。回答 0 到 1 之间的概率（或者百分数，如 40%）。",
        ),
    ],
    solution=(
        """
        About {{ answer:.2f }} (exactly, from the binomial distributions:
        $\\sum_k P(X_{19} = k) \\prod_{i<19} P(X_i < k)$). One validation score on 1,000 images
        has a standard error of about 0.009, larger than the 0.002 steps between candidates,
        so the best one is usually beaten by one of its many near neighbours that got lucky.
        The winner is still a good candidate — typically within a few steps of the best — but
        its validation score overstates it, and "the best" by one noisy score is often not the
        best. More validation data, or cross-validation, shrinks the noise.

        ```python
        truths = 0.90 + 0.002 * np.arange(20)
        scores = np.random.default_rng(0).binomial(1000, truths, size=(20000, 20)) / 1000
        print((scores.argmax(axis=1) == 19).mean())
        ```
        """,
        """
        约 {{ answer:.2f }}（由二项分布精确算出：$\\sum_k P(X_{19} = k) \\prod_{i<19} P(X_i < k)$）。在 1,000 张图上测一次
        验证分数，标准误差约 0.009，比候选之间 0.002 的差距大，所以最好的那个常常被某个运气好的近邻超过。胜出者仍然是个
        不错的候选——通常离最好的只差几档——但它的验证分数夸大了它，靠一个有噪声的分数选出的"最好"往往不是真的最好。
        更多的验证数据，或者交叉验证，能减小噪声。

        ```python
        truths = 0.90 + 0.002 * np.arange(20)
        scores = np.random.default_rng(0).binomial(1000, truths, size=(20000, 20)) / 1000
        print((scores.argmax(axis=1) == 19).mean())
        ```
        """,
    ),
)
