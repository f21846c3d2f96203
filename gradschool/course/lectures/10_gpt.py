# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 20 s
#     full: 98 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 10. A large model in miniature: a character-level GPT
#
# **Goal.** Build a GPT — the architecture of GPT-2, GPT-3 and ChatGPT — out of parts you have
# already met: a lookup table, matrix products, a softmax, layer normalisation, an MLP,
# cross-entropy, Adam, a learning-rate schedule and backpropagation. Train a small one on
# Shakespeare, on the NumPy engine, through the same training loop as every earlier lecture;
# watch its validation loss fall below the baselines that cannot read context; sample text
# from it. Then measure, honestly, how far it is from a large model.

# %% [markdown] tags=["zh"]
# # 第 10 讲：大模型的缩微版：字符级 GPT
#
# **目标**：用前面几讲见过的零件——查表、矩阵乘法、softmax、层归一化、MLP、交叉熵、Adam、学习率调度、
# 反向传播——拼出一个 GPT，也就是 GPT-2、GPT-3、ChatGPT 用的那种结构。然后在 NumPy 引擎上、用和前面各讲
# 同一个训练循环，拿莎士比亚的剧本训练一个小号的 GPT：看它的验证损失降到那些"不看上下文"的基线以下，再让它
# 自己写几段。最后老老实实量一量：它离真正的大模型到底还差多远。

# %% [markdown] tags=["en"]
# ## What the source says about large models, and what "large" means
#
# The source defines a large model as "具有较大规模和较高复杂度的神经网络，它们可以处理更复杂的任务和数据"
# (a neural network of large scale and high complexity, able to handle more complex tasks and
# data). True, but it never says how large, or large in what. Three numbers measure it: the
# number of **parameters** $N$, the amount of **training data** $D$ (in tokens), and the
# **training compute** $C$, about $6ND$ floating-point operations (Kaplan et al. 2020: 2 per
# parameter and token in the forward pass, 4 in the backward pass).
#
# Three of its claims need a correction:
#
# - "大模型通常由多个神经网络组成，这些神经网络之间通过连接节点和权重进行通信和协同工作" (a large model
#   is usually made of several neural networks that communicate through nodes and weights).
#   A GPT is **one** network: a stack of identical blocks, trained together by one loss and one
#   backward pass. (Mixture-of-experts models route each token through some of many sub-layers,
#   but they too are one network trained end to end.)
# - Section 4 calls its MNIST MLP "一个简单的AI大模型" (a simple large AI model). The table below
#   shows that size is not what makes a GPT: the GPT of this lecture has *as many parameters as
#   that MLP*. What makes it a GPT is its architecture (attention over a context) and its task
#   (predict the next token); what makes GPT-3 *large* is scale, six orders of magnitude of it.
# - Section 7 expects that "随着计算能力的提高和数据规模的增加，AI大模型的规模和复杂度将不断增加，从而提高
#   模型的性能" (more compute and data make models larger and better). The measured version:
#   a language model's test loss falls as a power law of $N$, $D$ and $C$ (Kaplan et al. 2020),
#   and for a fixed compute budget parameters and data must grow *together*, about 20 tokens per
#   parameter (Hoffmann et al. 2022, "Chinchilla"): a bigger model on the same data is not
#   automatically better.
#
# For the GPT layout used here (GPT-2's, as in Karpathy's nanoGPT) with a vocabulary of $V$
# tokens, a context of $T$ positions, width $C$ and $L$ blocks, the parameters are
#
# $$
# N = VC + TC + L\,(12C^2 + 13C) + 2C
# $$
#
# a token table (shared with the output layer), a position table, and per block two layer
# norms ($4C$), the query/key/value projection ($3C^2 + 3C$), the attention output ($C^2 + C$)
# and the MLP ($8C^2 + 5C$); then a final layer norm ($2C$). We check the formula against models
# gradschool builds, then apply it to GPT-2 and GPT-3.

# %% [markdown] tags=["zh"]
# ## 原文怎么说大模型，"大"到底指什么
#
# 原文给大模型下的定义是"具有较大规模和较高复杂度的神经网络，它们可以处理更复杂的任务和数据"。这话不错，但它
# 没说多大算大、哪方面大。衡量"大"要看三个数：**参数量** $N$、**训练数据量** $D$（按 token 计；token 即词元，模型读写的最小单位），以及
# **训练算力** $C$，大约是 $6ND$ 次浮点运算（Kaplan 等 2020：前向每个参数每个 token 约 2 次，反向约 4 次）。
#
# 原文有三处说法需要纠正：
#
# - "大模型通常由多个神经网络组成，这些神经网络之间通过连接节点和权重进行通信和协同工作"。GPT 其实是**一个**
#   网络：一摞结构相同的块，用同一个损失、同一次反向传播一起训练。（混合专家模型 MoE 会把每个 token 分给众多子层
#   中的几个，但它同样是端到端训练的一个网络。）
# - 原文第 4 节把那个 MNIST 的 MLP 称作"一个简单的AI大模型"。下面的表格说明，让一个模型成为 GPT 的并不是
#   大小：本讲的 GPT 和那个 MLP 的参数量*几乎一样多*。它之所以是 GPT，靠的是结构（在上下文上做注意力）和任务
#   （预测下一个 token）；而 GPT-3 之所以"大"，靠的是规模——整整大了六个数量级。
# - 原文第 7 节预计"随着计算能力的提高和数据规模的增加，AI大模型的规模和复杂度将不断增加，从而提高模型的性能"。
#   实测的结论是：语言模型的测试损失随 $N$、$D$、$C$ 按幂律下降（Kaplan 等 2020）；而在算力预算固定时，参数和
#   数据要*一起*增长，大约每个参数配 20 个 token（Hoffmann 等 2022，即 "Chinchilla"）：同样的数据，模型更大
#   不一定更好。
#
# 本讲用的是 GPT-2 的结构（和 Karpathy 的 nanoGPT 一样）。词表 $V$ 个 token、上下文 $T$ 个位置、宽度 $C$、
# $L$ 个块时，参数量是
#
# $$
# N = VC + TC + L\,(12C^2 + 13C) + 2C
# $$
#
# 依次是 token 嵌入表（和输出层共用）、位置嵌入表；每个块里有两个层归一化（$4C$）、query/key/value 投影
# （$3C^2 + 3C$）、注意力输出投影（$C^2 + C$）和 MLP（$8C^2 + 5C$）；最后再加一个层归一化（$2C$）。我们先拿
# gradschool 真正建出来的模型核对这个公式，再用它算 GPT-2 和 GPT-3。

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np

from gradschool import engine as E
from gradschool.course import QUICK, show, t
from gradschool.data.text import load_corpus, prepare_text
from gradschool.models import count_parameters, gpt, mlp

# The corpus ships inside gradschool (ten plays, no network needed); section 1 looks at it.
text, source = load_corpus("shakespeare-mini")
data = prepare_text(text, val_fraction=0.1, source=source)
V = data.vocab_size

# This lecture's GPT: 2 blocks, 4 heads, 64 dimensions, a context of 64 characters.
N_LAYER, N_HEAD, N_EMBD, BLOCK = 2, 4, 64, 64


# %% gpt_parameters
def gpt_parameters(V: int, T: int, C: int, L: int) -> int:
    """Parameters of a GPT-2-layout model (with biases, output layer tied to the token table)."""
    per_block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (8 * C * C + 5 * C)  # 12C^2 + 13C
    return V * C + T * C + L * per_block + 2 * C


# %%

E.manual_seed(0)
source_mlp = count_parameters(mlp(E.nn, [784, 128, 64, 10]))
rows = [  # name, L, C, T, V, published size
    (t("this lecture's GPT", "本讲的 GPT"), N_LAYER, N_EMBD, BLOCK, V, ""),
    ("gpt_shakespeare (CPU)", 4, 128, 64, 65, ""),
    ("gpt_shakespeare_gpu", 6, 384, 256, 65, ""),
    ("GPT-2 small (2019)", 12, 768, 1024, 50257, "124M"),
    ("GPT-3 (2020)", 96, 12288, 2048, 50257, "175B"),
]
ours = gpt_parameters(V, BLOCK, N_EMBD, N_LAYER)
print(
    f"{t('model', '模型'):<24}{'L':>4}{'C':>7}{'T':>6}{'V':>7}{t('parameters', '参数量'):>18}"
    f"{t('published', '公布值'):>10}{t('x this GPT', '是本讲的几倍'):>14}"
)
print(
    f"{t('the source MLP', '原文的 MLP'):<24}{'':>4}{'':>7}{'':>6}{'':>7}{source_mlp:>18,}{'':>10}"
    f"{source_mlp / ours:>14,.0f}"
)
for name, L, C, T, vocab, published in rows:
    n = gpt_parameters(vocab, T, C, L)
    print(f"{name:<24}{L:>4}{C:>7}{T:>6}{vocab:>7}{n:>18,}{published:>10}{n / ours:>14,.0f}")

# The formula against the parameters of models gradschool really builds (three smallest rows).
for name, L, C, T, vocab, _ in rows[:3]:  # (the number of heads does not change the count)
    built = count_parameters(gpt(E.nn, vocab, L, N_HEAD, C, T))
    assert built == gpt_parameters(vocab, T, C, L), (name, built)
print(
    t(
        "formula = count_parameters(model) for the three models built here",
        "公式 = count_parameters(model)：这里实际建出的三个模型都对得上",
    )
)

# %% [markdown] tags=["en"]
# GPT-3 is 1.6 million times our GPT. The formula gives 174.6 billion for its shape, the
# published "175B". Everything else in this lecture is the same at both sizes: the same blocks,
# the same loss, the same loop, only wider, deeper and fed far more text.
#
# ## 1. Characters to integers; predicting the next one is classification
#
# A character-level model's vocabulary is the set of distinct characters of its training text;
# character $i$ of the sorted list gets the id $i$. (GPT-2 and GPT-3 use about 50,000 sub-word
# tokens instead, a few characters each; the model does not care what a token is.) A training
# example is a window of $T$ ids, and its targets are the same window shifted by one: at every
# position the model must predict the next character. That is a classification with $V$ classes
# at each of the $T$ positions, scored by cross-entropy, as the MNIST classifier of lecture 6.
#
# Numbers to beat before any training. A model that knows nothing gives every character
# probability $1/V$: its loss is $\ln V$, and its **perplexity** $e^{\text{loss}}$ is $V$ — "as
# unsure as a uniform choice among $V$ characters". Counting is the next step up: the
# frequency of each character (a *unigram* model), or of each character after the previous one
# (a *bigram* model). Both ignore everything further back. A GPT earns its keep only below
# the bigram line.

# %% [markdown] tags=["zh"]
# GPT-3 是本讲 GPT 的 160 万倍。按它的结构，公式算出 1746 亿，和公布的 "175B" 一致。除此之外，本讲的一切在两种
# 规模下都是一样的：同样的块、同样的损失、同样的训练循环，只是更宽、更深，喂进去的文本多得多。
#
# ## 1. 把字符变成整数；预测下一个字符就是分类
#
# 字符级模型的词表，就是训练文本里出现过的所有不同字符；排好序后第 $i$ 个字符的编号就是 $i$。（GPT-2、GPT-3
# 用的是约 5 万个子词 token，每个几个字符长；对模型来说 token 是什么都无所谓。）一个训练样本是连续 $T$ 个编号
# 组成的窗口，目标是把同一个窗口往后错一位：每个位置上，模型都要预测下一个字符。这就是在 $T$ 个位置上各做一次
# $V$ 类分类，用交叉熵打分——和第 6 讲的 MNIST 分类器一模一样。
#
# 训练之前，先看看要超越的几个数。什么都不懂的模型给每个字符的概率都是 $1/V$，损失是 $\ln V$，**困惑度**
# （perplexity）$e^{\text{loss}}$ 就是 $V$——相当于在 $V$ 个字符里均匀瞎猜。再进一步是数数：统计每个字符出现的
# 频率（*一元*模型），或者统计"前一个字符之后"每个字符的频率（*二元*模型）。这两种都看不到更早的字符。GPT 只有
# 降到二元模型那条线以下，才算真正用上了上下文。

# %%
from gradschool.data.text import windows

print(t("corpus:", "语料："), f"shakespeare-mini, {len(text):,}", t("characters", "个字符"))
print(
    t("training / validation characters:", "训练 / 验证字符数："),
    f"{len(data.train_ids):,} / {len(data.val_ids):,}",
    t("(split by position: the last 10% validates)", "（按位置切分：最后 10% 做验证）"),
)
print(t("vocabulary: V =", "词表：V ="), V, repr(data.vocab.chars))
ids = data.vocab.encode("OTHELLO.")
print('"OTHELLO." ->', ids.tolist(), "->", repr(data.vocab.decode(ids)))

# One training window of 12 characters and its targets: the same text, shifted by one.
start = text.index("My father's spirit")
x, y = windows(data.train_ids, np.array([start]), 12)  # (1, 12) each
print(t("position  input -> target", "位置  输入 -> 目标"))
for pos in range(12):
    print(
        f"{pos:>8}  {data.vocab.decode(x[0, pos : pos + 1])!r:>5} -> {data.vocab.decode(y[0, pos : pos + 1])!r}"
    )

# Baselines on the whole validation text (add-one smoothing, so no probability is 0).
train_ids, val_ids = data.train_ids, data.val_ids
unigram_p = (np.bincount(train_ids, minlength=V) + 1) / (len(train_ids) + V)
pairs = np.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).reshape(V, V) + 1
bigram_p = pairs / pairs.sum(axis=1, keepdims=True)  # row a: P(next | previous = a)
baselines = {
    t("uniform guess, ln V", "均匀瞎猜，ln V"): math.log(V),
    t("unigram (frequencies)", "一元模型（字符频率）"): -np.log(unigram_p[val_ids]).mean(),
    t("bigram (previous character)", "二元模型（只看前一个字符）"): -np.log(
        bigram_p[val_ids[:-1], val_ids[1:]]
    ).mean(),
}
print(t("validation loss of the baselines:", "几条基线的验证损失："))
for name, loss in baselines.items():
    print(f"  {name:<32}{loss:7.4f}   " + t("perplexity", "困惑度") + f" {math.exp(loss):6.2f}")

# %% [markdown] tags=["en"]
# ## 2. Embeddings: a vector for each token and for each position
#
# The model turns ids into vectors by looking them up: row $\text{id}_t$ of a token table
# $W_{te} \in \mathbb{R}^{V \times C}$, plus row $t$ of a position table
# $W_{pe} \in \mathbb{R}^{T \times C}$:
#
# $$
# x_t = W_{te}[\text{id}_t] + W_{pe}[t]
# $$
#
# Both tables are ordinary parameters, learned by backpropagation. The lookup is a primitive of
# the engine (`gradschool/engine/transformer.py`, `embedding`): its backward adds each
# position's gradient into the row it read. Why the position table: attention (next section)
# is a weighted sum, which by itself does not care in which order its inputs come; the
# position vector tells the model where each character stands.
#
# Below, the run's configuration — `configs/gpt_shakespeare.toml` (nanoGPT's CPU recipe at
# twice its learning rate) with a smaller model, the embedded corpus, batches of 16 windows and
# a number of steps of its own (500 in quick mode, 3,000 in full mode) — and the `Trainer` that
# the one training loop will run. It builds the model now, so we can look inside before training.

# %% [markdown] tags=["zh"]
# ## 2. 嵌入：每个 token 一个向量，每个位置一个向量
#
# 模型靠查表把编号变成向量：从 token 嵌入表 $W_{te} \in \mathbb{R}^{V \times C}$ 里取第 $\text{id}_t$ 行，再加上
# 位置嵌入表 $W_{pe} \in \mathbb{R}^{T \times C}$ 的第 $t$ 行：
#
# $$
# x_t = W_{te}[\text{id}_t] + W_{pe}[t]
# $$
#
# 两张表都是普通参数，靠反向传播学出来。查表是引擎的一个基本运算（`gradschool/engine/transformer.py` 里的
# `embedding`）：它的反向传播把每个位置的梯度累加回它读过的那一行。为什么要位置表？因为注意力（下一节）本质上
# 是加权求和，本身并不在乎输入的先后顺序；位置向量告诉模型每个字符站在第几位。
#
# 下面是这次训练的配置——以 `configs/gpt_shakespeare.toml`（nanoGPT 的 CPU 配方，学习率加倍）为底，换成小一号的模型、
# 内置语料、每批 16 个窗口，步数也另定（快速模式 500 步，完整模式 3000 步）——以及同一个训练循环要跑的 `Trainer`。它现在就把模型建好，方便我们训练前先看看里面。

# %%
from gradschool.config import load_config, with_updates
from gradschool.threads import get_threads
from gradschool.train.callbacks import Callback
from gradschool.train.trainer import Trainer

STEPS = 500 if QUICK else 3000  # optimizer steps
EVAL_EVERY = 100 if QUICK else 250  # steps between two measurements of the validation loss
config = with_updates(
    load_config("gpt_shakespeare"),
    {
        "data.dataset": "shakespeare-mini",
        "model.n_layer": N_LAYER,
        "model.n_head": N_HEAD,
        "model.n_embd": N_EMBD,
        "model.block_size": BLOCK,
        "data.batch_size": 16,  # windows per step: 16 x 64 = 1,024 predictions
        "data.eval_interval": EVAL_EVERY,  # one "epoch" of the loop = EVAL_EVERY steps
        "data.eval_batches": 10 if QUICK else 40,  # fixed validation batches per measurement
        "train.epochs": STEPS // EVAL_EVERY,
        "train.max_steps": STEPS,
        "schedule.warmup_steps": STEPS // 20,  # 5%, as the config's 100 of 2,000
        # NOTE: for matrices this small, one BLAS thread is faster than several, and on a
        # busy machine several times faster (docs/performance.md). Set back at the end.
        "train.threads": 1,
    },
)
print(
    t(
        "settings that differ from configs/gpt_shakespeare.toml:",
        "和 configs/gpt_shakespeare.toml 不同的设置：",
    )
)
base = load_config("gpt_shakespeare")
for section in ("data", "model", "optim", "schedule", "train"):
    for key, value in vars(getattr(config, section)).items():
        if getattr(getattr(base, section), key) != value:
            print(f"  {section}.{key} = {value!r}")


class BatchLosses(Callback):
    """Remembers the loss of every training batch (the loop itself logs only epoch means)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer: Trainer, loss) -> None:
        self.losses.append(loss.item())


threads_before = get_threads()
batch_losses = BatchLosses()
trainer = Trainer(config, data=data, callbacks=[batch_losses])
model = trainer.model
print(t("the model, built on the", "模型已建好，引擎："), trainer.backend.name, t("engine:", ""))

# Where the parameters are.
groups: dict[str, int] = {}
for name, p in model.named_parameters():
    group = ".".join(name.split(".")[:2]) if name.startswith("h.") else name.split(".")[0]
    groups[group] = groups.get(group, 0) + int(np.prod(p.shape))
for group, n in groups.items():
    print(f"  {group:<8}{n:>9,}")
print(
    f"  {t('total', '合计'):<8}{count_parameters(model):>9,}",
    t("(lm_head shares wte's table)", "（lm_head 和 wte 共用一张表）"),
)

# Two windows through the embedding step, shapes as in the formula.
x2, _ = windows(data.train_ids, np.array([0, start]), BLOCK)  # (B=2, T=64) ids
with E.no_grad():
    tok = model.wte(E.tensor(x2))  # (2, 64, 64): one row of the token table per id
    pos = model.wpe.weight[:BLOCK]  # (64, 64): one row per position, the same for every window
    x_in = tok + pos  # (2, 64, 64), broadcast over the batch
print("ids", x2.shape, "-> wte(ids)", tok.shape, "+ wpe[:T]", pos.shape, "->", x_in.shape)

initial_val = trainer.task.mean_loss(trainer, "val")
print(
    t("validation loss before training:", "训练前的验证损失："),
    f"{initial_val:.4f}",
    t(
        f"(ln V = {math.log(V):.4f}: the random model guesses uniformly)",
        f"（ln V = {math.log(V):.4f}：随机初始化的模型等于均匀瞎猜）",
    ),
)

# %% [markdown] tags=["en"]
# ## 3. Self-attention, with a causal mask
#
# Each block lets every position gather information from the positions before it. From the
# block's input $X \in \mathbb{R}^{T \times C}$ (after layer norm) it computes queries, keys and
# values, $Q = XW_Q$, $K = XW_K$, $V = XW_V$, and then (Vaswani et al. 2017)
#
# $$
# \text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{QK^\top}{\sqrt{d}} + M\right) V
# $$
#
# $$
# M_{ij} = 0 \quad (j \le i), \qquad M_{ij} = -\infty \quad (j > i)
# $$
#
# Row $i$ of the result is a weighted average of the value vectors of positions $0..i$; the
# weight of position $j$ grows with the dot product of query $i$ and key $j$. The mask $M$ is
# what makes it *causal*: $e^{-\infty} = 0$, so position $i$ never sees a later character — the
# one it must predict. Dividing by $\sqrt{d}$ matters: the dot product of two random
# $d$-dimensional vectors with unit-variance entries has variance $d$, and large scores would
# saturate the softmax (one weight near 1, gradients near 0).
#
# A GPT runs several such **heads** side by side, each on $d = C / n_{head}$ dimensions (here
# 4 heads of 16), concatenates their outputs and projects them back to $C$. The block is
# $x \leftarrow x + \text{Attention}(\text{LN}(x))$, then $x \leftarrow x + \text{MLP}(\text{LN}(x))$:
# residual additions (so each block adds a correction, and gradients flow straight through)
# around layer norm, attention, and a two-layer MLP ($C \to 4C \to C$, GELU). The final layer
# norm and a linear layer with the token table's weights give $V$ scores per position.
#
# Below we recompute one block's attention step by step from the model's own weights — and
# check that it reproduces what the block computes. Before training, the weights are small
# ($\mathcal{N}(0, 0.02)$), every score is close to 0, and each row of the attention matrix is
# nearly uniform over the allowed positions: an untrained head simply averages the past.

# %% [markdown] tags=["zh"]
# ## 3. 带因果掩码的自注意力
#
# 每个块让每个位置从它前面的位置收集信息。块的输入（先做层归一化）$X \in \mathbb{R}^{T \times C}$ 先算出查询、
# 键和值：$Q = XW_Q$、$K = XW_K$、$V = XW_V$，然后（Vaswani 等 2017）
#
# $$
# \text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{QK^\top}{\sqrt{d}} + M\right) V
# $$
#
# $$
# M_{ij} = 0 \quad (j \le i), \qquad M_{ij} = -\infty \quad (j > i)
# $$
#
# 结果的第 $i$ 行是位置 $0..i$ 上各个值向量的加权平均；位置 $j$ 的权重随查询 $i$ 和键 $j$ 的点积增大。掩码 $M$
# 让注意力成为*因果*的：$e^{-\infty} = 0$，所以位置 $i$ 永远看不到后面的字符——那正是它要预测的东西。除以
# $\sqrt{d}$ 很关键：两个各分量方差为 1 的 $d$ 维随机向量，点积的方差是 $d$；分数太大，softmax 就会饱和（一个
# 权重接近 1，梯度接近 0）。
#
# GPT 会并排跑好几个这样的**头**，每个头用 $d = C / n_{head}$ 维（这里是 4 个头、每个 16 维），把它们的输出拼起来，
# 再投影回 $C$ 维。一个块就是 $x \leftarrow x + \text{Attention}(\text{LN}(x))$，然后
# $x \leftarrow x + \text{MLP}(\text{LN}(x))$：层归一化、注意力、两层 MLP（$C \to 4C \to C$，GELU）外面各包一层
# 残差相加（每个块只是在 $x$ 上加一点修正，梯度也能直接穿过去）。最后再做一次层归一化，乘上 token 嵌入表的权重，
# 每个位置得到 $V$ 个分数。
#
# 下面用模型自己的权重，一步一步重算某个块的注意力，并核对它和块本身算出来的结果一致。训练之前权重都很小
# （$\mathcal{N}(0, 0.02)$），分数都接近 0，注意力矩阵的每一行在允许的位置上几乎是均匀的：没训练过的头只是把
# 过去的字符平均一下。

# %%
F = E.nn.functional
SNIPPET = "OLIVIA.\nDid he write this?"  # a line of the validation text: never trained on


def attention_weights(model, snippet: str, layer: int) -> tuple[np.ndarray, float]:
    """The (n_head, t, t) attention weights of block `layer` for `snippet`, recomputed from
    the model's own weights with the formula above; and the largest difference between the
    output this gives and the block's own attention output (a check)."""
    ids = data.vocab.encode(snippet)[None]  # (1, t)
    n = ids.shape[1]
    with E.no_grad():
        x = model.wte(E.tensor(ids)) + model.wpe.weight[:n]  # (1, t, C)
        for block in list(model.h)[:layer]:
            x = block(x)
        block = model.h[layer]
        h = block.ln_1(x)
        qkv = block.attn.c_attn(h)  # (1, t, 3C): X W_Q, X W_K, X W_V in one product
        C, nh = N_EMBD, N_HEAD
        q, k, v = (
            qkv[..., i * C : (i + 1) * C].reshape(1, n, nh, C // nh).transpose(1, 2)
            for i in range(3)
        )  # each (1, nh, t, d)
        M = np.where(np.tril(np.ones((n, n), dtype=bool)), 0.0, -np.inf).astype(np.float32)
        weights = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(C // nh) + E.tensor(M), dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(1, n, C)  # heads side by side
        mine, theirs = block.attn.c_proj(mixed), block.attn(h)
    return weights.numpy()[0], float(np.abs((mine - theirs).numpy()).max())


def char_label(c: str) -> str:
    return {"\n": "⏎", " ": "␣"}.get(c, c)


untrained, diff = attention_weights(model, SNIPPET, layer=0)
print(
    t(
        "recomputed attention vs the block's own output, max difference:",
        "重算的注意力和块自己的输出，最大差值：",
    ),
    f"{diff:.1e}",
)
print(
    t(
        "untrained head 0, row 9 (position 9 sees 0..9):",
        "未训练的 0 号头，第 9 行（位置 9 能看到 0..9）：",
    ),
    np.round(untrained[0, 9, :12], 3),
)

fig, (ax_m, ax_w) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
n_mask = 8
mask = np.where(np.tril(np.ones((n_mask, n_mask), dtype=bool)), 0.0, 1.0)
ax_m.imshow(mask, cmap="Greys", vmin=0, vmax=1.4)
for i in range(n_mask):
    for j in range(n_mask):
        ax_m.text(j, i, "0" if j <= i else "−∞", ha="center", va="center", fontsize=8,
                  color="black" if j <= i else "white")  # fmt: skip
ax_m.set(
    xlabel=t("key position j", "键的位置 j"),
    ylabel=t("query position i", "查询的位置 i"),
    title=t("The causal mask M", "因果掩码 M"),
)
labels = [char_label(c) for c in SNIPPET]
im = ax_w.imshow(untrained[0], cmap="viridis", vmin=0, vmax=1)
ax_w.set_xticks(range(len(labels)), labels, fontsize=7)
ax_w.set_yticks(range(len(labels)), labels, fontsize=7)
ax_w.set(
    xlabel=t("attends to (key)", "关注的字符（键）"),
    ylabel=t("predicting after (query)", "当前位置（查询）"),
    title=t("Head 0 of block 0, before training", "训练前：第 0 块的 0 号头"),
)
fig.colorbar(im, ax=ax_w, shrink=0.8, label=t("attention weight", "注意力权重"))
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# ## 4. The engine's attention, checked against PyTorch
#
# On the NumPy engine, `scaled_dot_product_attention` is the formula above written with
# primitives (matrix product, a masked fill with $-\infty$, softmax); its gradient comes from
# autograd. PyTorch's `torch.nn.functional.scaled_dot_product_attention` is a fused kernel. On a
# tiny input in float64 — 2 heads, 5 positions, 4 dimensions — both must give the same output
# and the same gradients with respect to $Q$, $K$ and $V$. (Without torch, a finite difference
# stands in, as in lecture 3.) When it trains, the engine runs these same lines as one *fused*
# node with its backward derived by hand (`engine/fused.py`: fewer temporary arrays and passes over
# memory); the last line checks that node against the composite.

# %% [markdown] tags=["zh"]
# ## 4. 引擎的注意力，和 PyTorch 对一对
#
# 在 NumPy 引擎上，`scaled_dot_product_attention` 就是上面那个公式，用基本运算写成（矩阵乘法、用 $-\infty$
# 做掩码填充、softmax），梯度由自动求导给出。PyTorch 的 `torch.nn.functional.scaled_dot_product_attention`
# 则是一个融合算子。在一个 float64 的小输入上——2 个头、5 个位置、4 维——两者的输出、以及对 $Q$、$K$、$V$ 的
# 梯度都必须一样。（没装 torch 的话，就像第 3 讲那样用有限差分代替。）真正训练的时候，引擎把这几行合成一个
# **融合**节点来跑，反向传播是手工推出来的（`engine/fused.py`：临时数组更少，读写内存的遍数也更少）；最后一行检查
# 这个节点和组合写法是否一致。

# %%
from gradschool.engine.fused import set_fused_enabled
from gradschool.gradcheck import numeric_grad

rng = np.random.default_rng(0)
q_np, k_np, v_np = (rng.standard_normal((1, 2, 5, 4)) for _ in range(3))  # (B, heads, T, d)
g_np = rng.standard_normal((1, 2, 5, 4))  # a made-up upstream gradient: loss = sum(out * g)


def engine_attention(fused: bool) -> tuple:
    """The engine's output and dLoss/dQ, dK, dV: the composite (fused=False) or the fused node."""
    with set_fused_enabled(fused):
        qkv = [E.tensor(a.copy(), requires_grad=True) for a in (q_np, k_np, v_np)]
        out = F.scaled_dot_product_attention(*qkv, is_causal=True)
        (out * E.tensor(g_np)).sum().backward()
    return out, [a.grad.numpy() for a in qkv]


out_e, grads_e = engine_attention(fused=False)  # the composite: the formula, autograd's gradient
out_f, grads_f = engine_attention(fused=True)  # the fused node training runs

# The formula in plain NumPy, forward only.
scores = q_np @ k_np.swapaxes(-1, -2) / math.sqrt(4) + np.where(
    np.tril(np.ones((5, 5))), 0, -np.inf
)
w_np = np.exp(scores - scores.max(-1, keepdims=True))
formula_out = (w_np / w_np.sum(-1, keepdims=True)) @ v_np
print(
    t("engine vs the formula in NumPy, output:", "引擎 vs NumPy 写的公式，输出："),
    f"{np.abs(out_e.detach().numpy() - formula_out).max():.1e}",
)

try:
    import torch

    qkv_t = [torch.tensor(a, requires_grad=True) for a in (q_np, k_np, v_np)]
    out_t = torch.nn.functional.scaled_dot_product_attention(*qkv_t, is_causal=True)
    (out_t * torch.from_numpy(g_np)).sum().backward()
    reference, grads_ref = out_t.detach().numpy(), [a.grad.numpy() for a in qkv_t]
    who = "torch"
except ImportError:
    print(
        t(
            "(torch is not installed: finite differences instead)",
            "（没有安装 torch：改用有限差分）",
        )
    )

    def loss_of(q, k, v):
        return (F.scaled_dot_product_attention(q, k, v, is_causal=True) * E.tensor(g_np)).sum()

    reference = formula_out
    grads_ref = numeric_grad(loss_of, [q_np, k_np, v_np], eps=1e-6)
    who = t("finite differences", "有限差分")
print(
    t(f"engine vs {who}, output:      ", f"引擎 vs {who}，输出：    "),
    f"{np.abs(out_e.detach().numpy() - reference).max():.1e}",
)
for name, ge, gr in zip("QKV", grads_e, grads_ref):
    print(
        t(f"engine vs {who}, dLoss/d{name}: ", f"引擎 vs {who}，dLoss/d{name}："),
        f"{np.abs(ge - gr).max():.1e}",
    )
fused_gap = max(np.abs(a - b).max() for a, b in zip([out_f.detach().numpy(), *grads_f],
                                                   [out_e.detach().numpy(), *grads_e]))  # fmt: skip
print(
    t("fused node vs composite, largest gap:", "融合节点 vs 组合写法，最大差："), f"{fused_gap:.1e}"
)

# %% [markdown] tags=["en"]
# ## 5. Training through the one loop
#
# The `Trainer` built in section 2 now runs the loop of every lecture — forward, loss,
# `backward()`, gradient clipping, `optimizer.step()`, scheduler step — on the NumPy engine,
# with the `LanguageModelTask` supplying random windows and the cross-entropy over all
# $B \times T$ positions. Every `EVAL_EVERY` steps it measures the loss on a fixed set of
# validation windows (and as many training windows), and prints nanoGPT's progress line. The
# perplexity is $e^{\text{validation loss}}$.

# %% [markdown] tags=["zh"]
# ## 5. 用同一个训练循环来训练
#
# 第 2 节建好的 `Trainer` 现在开始跑每一讲都用的那个循环——前向、损失、`backward()`、梯度裁剪、
# `optimizer.step()`、调度器走一步——在 NumPy 引擎上运行，由 `LanguageModelTask` 提供随机窗口和所有
# $B \times T$ 个位置上的交叉熵。每 `EVAL_EVERY` 步，它在一组固定的验证窗口（以及同样多的训练窗口）上测一次损失，
# 打印 nanoGPT 风格的进度行。困惑度就是 $e^{\text{验证损失}}$。

# %%
wall0, cpu0 = time.perf_counter(), time.process_time()
trainer.fit()
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
history = trainer.state.history
last = history[-1]
print(
    t("steps:", "步数："),
    trainer.state.step,
    t(f"in {wall:.1f} s wall, {cpu:.1f} s CPU", f"，用时 {wall:.1f} 秒（CPU {cpu:.1f} 秒）"),
    t(
        f"({trainer.state.train_time:.1f} s in training steps, the rest measuring)",
        f"（其中训练步 {trainer.state.train_time:.1f} 秒，其余是测量）",
    ),
)
print(f"{'':<32}{t('val loss', '验证损失'):>12}{t('perplexity', '困惑度'):>12}")
for name, loss in baselines.items():
    print(f"{name:<32}{loss:>12.4f}{math.exp(loss):>12.2f}")
print(
    f"{t('this GPT after training', '训练后的本讲 GPT'):<32}{last['val_loss']:>12.4f}{last['val_ppl']:>12.2f}"
)
print(
    t("gap to the bigram model:", "比二元模型低："),
    f"{list(baselines.values())[2] - last['val_loss']:+.4f}",
    t(
        "(positive: the context beyond one character helps)",
        "（正数说明一个字符以外的上下文起了作用）",
    ),
)
print(
    t("validation loss, last two measurements:", "最后两次测量的验证损失："),
    f"{history[-2]['val_loss']:.4f} -> {last['val_loss']:.4f}",
    f"({last['val_loss'] - history[-2]['val_loss']:+.4f})",
)

# %%
from gradschool.train.builders import schedule_lrs

steps = np.array([row["step"] for row in history])
fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
ax.plot(
    np.arange(1, len(batch_losses.losses) + 1),
    batch_losses.losses,
    lw=0.6,
    alpha=0.45,
    label=t("training batch", "训练批次"),
)
ax.plot(
    steps,
    [row["train_eval_loss"] for row in history],
    "o-",
    ms=4,
    label=t("training windows (fixed)", "训练窗口（固定）"),
)
ax.plot(
    steps,
    [row["val_loss"] for row in history],
    "s-",
    ms=4,
    label=t("validation windows (fixed)", "验证窗口（固定）"),
)
for (name, loss), style in zip(baselines.items(), (":", "--", "-.")):
    ax.axhline(loss, color="grey", ls=style, lw=1)
    ax.text(steps[-1], loss + 0.03, name, ha="right", va="bottom", fontsize=8, color="dimgrey")
ax.set(
    xlabel=t("step", "步"),
    ylabel=t("cross-entropy (nats)", "交叉熵（nat）"),
    ylim=(min(1.0, last["val_loss"] - 0.3), math.log(V) + 0.3),
    title=t(
        "A character-level GPT learns Shakespeare (NumPy engine)",
        "字符级 GPT 学莎士比亚（NumPy 引擎）",
    ),
)
ax.legend(loc="lower left", fontsize=8)
ax_lr.plot(np.arange(1, STEPS + 1), schedule_lrs(config, STEPS))
ax_lr.set(
    xlabel=t("step", "步"),
    ylabel=t("learning rate", "学习率"),
    title=t("Warm-up, then cosine decay", "先预热，再余弦衰减"),
)
fig.tight_layout()
show()

# %% [markdown] tags=["en"]
# What did the heads learn? The same validation line through the trained model: every head of
# both blocks. Rows are the positions that predict, columns the characters they look at; the
# upper triangle stays empty (the mask). Compare with the uniform rows before training:
# several heads now concentrate near the diagonal, on the current character and the few
# before it (the word being spelled), while others put their weight on particular earlier
# characters, such as the start of the line or of the word. The exact patterns change from run
# to run (and between quick and full mode); none of them was programmed: training found them
# because they lower the loss.

# %% [markdown] tags=["zh"]
# 这些头学到了什么？把同一行验证文本送进训练好的模型，画出两个块的所有头。行是做预测的位置，列是它关注的字符；
# 右上三角一直是空的（掩码）。和训练前那种均匀的行比一比：现在好几个头集中在对角线附近，盯着当前字符和它前面
# 几个（也就是正在拼的这个词）；另一些头则把权重放在前面某些特定的字符上，比如行首或词首。具体的模式每次训练都
# 不一样（快速模式和完整模式也不同）；它们都不是人写进去的，而是因为能降低损失，才被训练找了出来。

# %%
fig, axes = plt.subplots(N_LAYER, N_HEAD, figsize=(3.2 * N_HEAD, 3.3 * N_LAYER), squeeze=False)
diffs = []
for layer in range(N_LAYER):
    trained, diff = attention_weights(model, SNIPPET, layer)
    diffs.append(diff)
    for head in range(N_HEAD):
        a = axes[layer, head]
        a.imshow(trained[head], cmap="viridis", vmin=0, vmax=1)
        a.set_xticks(range(len(labels)), labels if layer == N_LAYER - 1 else [], fontsize=5)
        a.set_yticks(range(len(labels)), labels if head == 0 else [], fontsize=5)
        a.set_title(t(f"block {layer}, head {head}", f"第 {layer} 块，{head} 号头"), fontsize=9)
fig.suptitle(t("Attention weights after training", "训练后的注意力权重"))
fig.tight_layout()
show()
print(
    t(
        "recomputed vs the blocks' own output, max difference:",
        "重算的注意力和块自己的输出，最大差值：",
    ),
    f"{max(diffs):.1e}",
)

# %% [markdown] tags=["en"]
# ## 6. Sampling: temperature and top-k
#
# To write, the model repeats one step (`gradschool/apps/gpt.py`, the code behind
# `gradschool generate`): feed the last $T$ characters, take the $V$ scores $z$ of the last
# position, divide them by a **temperature** $\tau$, keep the **top $k$** scores (the others get
# probability 0), and draw the next character from
#
# $$
# p_i = \frac{e^{z_i / \tau}}{\sum_j e^{z_j / \tau}}
# $$
#
# $\tau < 1$ sharpens the distribution (safer, more repetitive text), $\tau > 1$ flattens it
# (more varied, more misspelled); $\tau \to 0$ always takes the most likely character. Top-$k$
# cuts off the long tail of unlikely characters that a flat distribution would otherwise pick
# now and then. The draws come from a generator seeded by `seed`: the same model, prompt and
# seed give the same text.

# %% [markdown] tags=["zh"]
# ## 6. 采样：温度和 top-k
#
# 让模型写字就是反复做一步（`gradschool/apps/gpt.py`，也就是 `gradschool generate` 背后的代码）：把最后 $T$ 个
# 字符送进模型，取最后一个位置的 $V$ 个分数 $z$，除以**温度** $\tau$，只保留**前 $k$ 大**的分数（其余概率记为
# 0），再按下面的概率抽出下一个字符：
#
# $$
# p_i = \frac{e^{z_i / \tau}}{\sum_j e^{z_j / \tau}}
# $$
#
# $\tau < 1$ 让分布更尖（文字更稳妥，也更容易重复），$\tau > 1$ 让分布更平（更多变，错字也更多）；$\tau \to 0$
# 就是每次都取最可能的字符。top-$k$ 砍掉了那条由不太可能的字符组成的长尾——分布一平，这些字符就会时不时被抽中。
# 抽样用的随机数生成器由 `seed` 决定：同一个模型、同样的开头、同一个种子，写出来的文字完全一样。

# %%
from gradschool.apps.gpt import from_trainer, sample

loaded = from_trainer(trainer)
context = "OLIVIA.\nDid he write th"
with E.no_grad():
    logits = model(E.tensor(data.vocab.encode(context)[None])).numpy()[0, -1].astype(np.float64)
top = np.argsort(logits)[::-1][:12]
fig, ax = plt.subplots(figsize=(9, 3.4))
for k, tau in enumerate((0.5, 1.0, 1.5)):
    p = np.exp((logits - logits.max()) / tau)
    p /= p.sum()
    ax.bar(np.arange(len(top)) + (k - 1) * 0.27, p[top], 0.27, label=f"τ = {tau}")
ax.set_xticks(range(len(top)), [repr(data.vocab.chars[i]) for i in top])
ax.set(
    ylabel=t("probability of the next character", "下一个字符的概率"),
    title=t(
        f"After {context!r}: the 12 likeliest next characters",
        f"在 {context!r} 之后：最可能的 12 个字符",
    ),
)
ax.legend()
show()

PROMPT, N_CHARS = "OTHELLO.\n", 200 if QUICK else 400
for tau in (0.5, 1.0):
    print(
        t(f"--- temperature {tau}, top-k 40, seed 0 ---", f"--- 温度 {tau}，top-k 40，种子 0 ---")
    )
    print(sample(loaded, PROMPT, tokens=N_CHARS, temperature=tau, top_k=40, seed=0))
first = sample(loaded, PROMPT, tokens=100, temperature=1.0, top_k=40, seed=0)
again = sample(loaded, PROMPT, tokens=100, temperature=1.0, top_k=40, seed=0)
other = sample(loaded, PROMPT, tokens=100, temperature=1.0, top_k=40, seed=1)
print(
    t("same seed, same text:", "同一个种子，文字相同："),
    first == again,
    "|",
    t("seed 1 differs:", "换成种子 1，文字不同："),
    first != other,
)

# %% [markdown] tags=["en"]
# ## 7. Three things a transformer needs from its optimizer
#
# The run used `configs/gpt_shakespeare.toml`'s optimizer settings, which follow GPT-3's
# (Brown et al. 2020, appendix B): AdamW, a warm-up then cosine decay to 10% of the peak rate,
# and gradient clipping at norm 1.0.
#
# **AdamW** (Loshchilov & Hutter 2019). Adam (lecture 2) gives each parameter its own step size,
# from running averages of its gradient and squared gradient. A transformer needs this: the
# gradients of the rows of rare characters in the token table, of the layer-norm gains and of
# the attention matrices differ by orders of magnitude, and one global SGD rate would be too
# large for some and too small for the others. The "W" is weight decay *decoupled* from that
# adaptive step: $\theta \leftarrow \theta - \eta\,(\hat m / (\sqrt{\hat v} + \epsilon) + \lambda\theta)$.
# Adding $\lambda\theta$ to the gradient instead (plain Adam with L2) would divide the decay by
# $\sqrt{\hat v}$, so the parameters with large gradients would hardly be regularised at all.
# Here $\eta$ peaks at 2e-3, betas are (0.9, 0.99), $\lambda = 0.1$.
#
# **Warm-up and cosine decay.** At the first steps Adam's estimate $\hat v$ rests on a handful of
# gradients, so its normalised steps are large and erratic exactly when the weights are random
# and the attention scores and layer norms are most fragile; a few bad early steps can send
# the model somewhere it never recovers from. So the rate climbs linearly from 1% to its peak
# over the first 5% of the steps (Vaswani et al. 2017 warmed up too; Liu et al. 2020 trace the
# need to Adam's variance). Then a cosine brings it smoothly down to 10%: large steps while there
# is much to learn, small ones to settle at the end (lecture 5; the figure above, right).
#
# **Gradient clipping** (Pascanu et al. 2013). Now and then one batch produces a gradient many
# times larger than usual — a rare sequence, an attention score that suddenly jumps — and one
# such step can undo much of the training (the "loss spikes" of large-model training logs).
# Between `backward()` and `step()` the loop calls `clip_grad_norm_(parameters, 1.0)`: if the
# norm of *all* gradients together, as one vector, exceeds 1.0, every gradient is scaled down by
# the same factor. The direction is kept; only the length is capped, so one bad batch cannot
# move the weights, or Adam's running averages, very far.

# %% [markdown] tags=["zh"]
# ## 7. Transformer 对优化器的三个要求
#
# 这次训练用的是 `configs/gpt_shakespeare.toml` 里的优化设置，和 GPT-3 的做法一致（Brown 等 2020，附录 B）：
# AdamW，先预热、再余弦衰减到峰值的 10%，梯度按范数 1.0 裁剪。
#
# **AdamW**（Loshchilov 和 Hutter 2019）。Adam（第 2 讲）根据每个参数梯度及其平方的滑动平均，给每个参数单独定
# 步长。Transformer 离不开这一点：token 表里生僻字符那几行、层归一化的增益、注意力矩阵，它们的梯度能差好几个数量级，
# 用一个全局的 SGD 学习率，总有一部分参数步子太大、另一部分太小。"W" 指的是把权重衰减从自适应步长里*解耦*出来：
# $\theta \leftarrow \theta - \eta\,(\hat m / (\sqrt{\hat v} + \epsilon) + \lambda\theta)$。要是把 $\lambda\theta$
# 加到梯度里（也就是普通 Adam 加 L2），衰减项也会被 $\sqrt{\hat v}$ 除掉，梯度大的参数几乎得不到正则化。这里
# $\eta$ 的峰值是 2e-3，betas 为 (0.9, 0.99)，$\lambda = 0.1$。
#
# **预热加余弦衰减**。刚开始的几步，Adam 的 $\hat v$ 只基于寥寥几个梯度，归一化后的步子又大又乱——偏偏这时权重
# 是随机的，注意力分数和层归一化也最脆弱；前面几步走坏了，模型可能就再也回不来。所以在前 5% 的步数里，学习率从峰值的
# 1% 线性爬升到峰值（Vaswani 等 2017 就用了预热；Liu 等 2020 指出根源在 Adam 的方差估计）。之后用余弦曲线平滑地
# 降到 10%：要学的东西多时步子大，快结束时步子小、稳稳收敛（第 5 讲；见上面损失图右边那张）。
#
# **梯度裁剪**（Pascanu 等 2013）。偶尔会有某个批次的梯度比平常大好多倍——一段少见的文字、某个注意力分数突然跳变
# ——一步下去，可能把之前的训练成果毁掉一大半（大模型训练日志里常见的"损失尖峰"）。循环在 `backward()` 和
# `step()` 之间调用 `clip_grad_norm_(parameters, 1.0)`：把*所有*梯度拼成一个向量，范数超过 1.0 就把每个梯度按
# 同一比例缩小。方向不变，只是限制了长度，于是一个坏批次没法把权重、也没法把 Adam 的滑动平均推得太远。

# %% [markdown] tags=["en"]
# ## 8. The honest gap to a large model
#
# The source names compute first among the challenges of large models: "计算资源的需求：AI大模型
# 需要大量的计算资源". Here is that gap in numbers: this run (measured just now), gradschool's
# CPU config (4 blocks, 128 dimensions, 2,000 steps on tiny Shakespeare) as measured on the
# NumPy engine in docs/gpt.md (Results; `python benchmarks/gpt.py train --engine numpy
# --threads 1`), nanoGPT's GPU config as its author reports it, and GPT-3 as its paper reports
# it. Compute is the $6ND$ estimate except for GPT-3, whose paper gives it. Caveats: the
# tiny-Shakespeare loss is on another text than `shakespeare-mini`, so it compares only
# roughly; GPT-3's tokens are sub-words, ours are characters, so its losses do not compare at
# all; and $6ND$ leaves out the attention's own products, which matter at our tiny width.

# %% [markdown] tags=["zh"]
# ## 8. 和真正的大模型比，老实说差多少
#
# 原文把算力列为大模型面临的第一个挑战："计算资源的需求：AI大模型需要大量的计算资源"。下面用数字说话：本次训练
# （刚刚测的）；gradschool 的 CPU 配置（4 个块、128 维、在 tiny Shakespeare 上训练 2000 步），取 docs/gpt.md
# "Results" 一节里 NumPy 引擎的实测（`python benchmarks/gpt.py train --engine numpy --threads 1`）；nanoGPT 作者
# 报告的 GPU 配置；以及 GPT-3 论文报告的数字。算力除 GPT-3 用论文给出的值外，都是 $6ND$ 的估算。几点说明：
# tiny Shakespeare 和 `shakespeare-mini` 不是同一份文本，损失只能粗略比较；GPT-3 的 token 是子词，我们的是字符，
# 损失根本没法比；另外 $6ND$ 没算注意力本身的矩阵乘法，在我们这么窄的模型里这部分并不小。

# %%
from gradschool.threads import set_threads

tokens = STEPS * config.data.batch_size * BLOCK  # predictions made in training
flops = 6 * ours * tokens
gap_rows = [
    # name, parameters, training tokens, compute, validation loss, time and hardware
    (t("this run", "本次训练"), ours, tokens, flops, f"{last['val_loss']:.3f}",
     t(f"{wall:.0f} s, 1 CPU core", f"{wall:.0f} 秒，1 个 CPU 核")),
    (t("CPU config (docs/gpt.md)", "CPU 配置（docs/gpt.md）"), 809_856, 2000 * 12 * 64,
     6 * 809_856 * 2000 * 12 * 64, "1.819", t("338 s, 1 CPU core", "338 秒，1 个 CPU 核")),
    (t("nanoGPT GPU config", "nanoGPT GPU 配置"), gpt_parameters(65, 256, 384, 6),
     5000 * 64 * 256, 6 * gpt_parameters(65, 256, 384, 6) * 5000 * 64 * 256, "~1.47",
     t("~3 min, 1 A100 GPU", "约 3 分钟，1 块 A100")),
    ("GPT-3", 175e9, 300e9, 3.14e23, "-", t("a GPU cluster", "GPU 集群")),
]  # fmt: skip
print(
    f"{'':<26}{t('parameters', '参数量'):>12}{t('tokens', 'token 数'):>12}"
    f"{t('FLOPs', '浮点运算'):>12}{t('val loss', '验证损失'):>10}   {t('time', '用时')}"
)
for name, n, d, c, loss, when in gap_rows:
    print(f"{name:<26}{n:>12.3g}{d:>12.3g}{c:>12.3g}{loss:>10}   {when}")

rate = 6 * ours * trainer.state.step * config.data.batch_size * BLOCK / trainer.state.train_time
years = 3.14e23 / rate / (365.25 * 24 * 3600)
still_learning = last["val_loss"] < history[-2]["val_loss"]  # falling at the last measurement
years_rounded = round(years, 1 - int(math.floor(math.log10(years))))  # two significant digits
print(
    t("this machine, NumPy engine, training steps:", "这台机器、NumPy 引擎，训练步的速度："),
    f"{rate / 1e9:.1f} GFLOP/s",
    t("(6ND estimate)", "（按 6ND 估算）"),
)
print(
    t(
        f"GPT-3's training at this rate: {years:,.0f} years",
        f"按这个速度训练一个 GPT-3：{years:,.0f} 年",
    )
)
print(
    t(
        f"GPT-3 / this run: {175e9 / ours:,.0f}x the parameters, {300e9 / tokens:,.0f}x the tokens, {3.14e23 / flops:.1e}x the compute",
        f"GPT-3 / 本次训练：参数 {175e9 / ours:,.0f} 倍，token {300e9 / tokens:,.0f} 倍，算力 {3.14e23 / flops:.1e} 倍",
    )
)
set_threads(threads_before["blas"] or 0)  # the BLAS threads as they were before the Trainer

# %% [markdown] tags=["en"]
# Three gaps, then. **Compute**: the factor above, $10^{11}$ to $10^{12}$ depending on the mode;
# at this run's speed GPT-3's training would take about {{ years_rounded:,.0f }} years on this machine.
# **Data**: GPT-3 read 300 billion tokens of web text, books and Wikipedia; ours makes a few
# million character predictions at most, on ten plays{{ ", and has not even finished learning those (the validation loss was still falling at the last measurement)" if still_learning else "" }}.
# **Scale of the model**: with more parameters *and* more data (Chinchilla's balance) the loss
# keeps falling, and at some point the model stops producing plausible-looking spelling and
# starts producing sense. What is *not* different: the architecture, the loss, the optimizer
# recipe and the loop are the ones above — which is why this small model is worth
# understanding line by line. (Chat models add further stages, instruction tuning and learning
# from human feedback, on top of a model trained exactly like this.)
#
# ## Summary
#
# - "Large" is measured by parameters, data and compute. The source's large-model claims are
#   vague or wrong in places: a GPT is one network, and its 109,386-parameter MLP is no large
#   model — the GPT here has as many parameters and is still a GPT.
# - A character-level language model is a $V$-class classifier at every position. Untrained, it
#   scores $\ln V$; counting pairs of characters (bigram) is the baseline a model that reads
#   context must beat.
# - A GPT: token + position embeddings, blocks of causal self-attention
#   $\text{softmax}(QK^\top/\sqrt{d} + M)V$ and an MLP with residual connections and layer norm,
#   and a linear layer back to $V$ scores. The engine's attention equals PyTorch's, output and
#   gradients.
# - Trained through the one loop with AdamW, warm-up + cosine and clipping, the model goes below
#   the bigram line; after the full mode's 3,000 steps it writes text with the shape of a play
#   (speaker names, verse lines, stage directions), if not yet with its words. Temperature and
#   top-k shape the sampling, and a seed makes it repeatable.
# - The gap to GPT-3 is about $10^6$ in parameters, $10^5$–$10^6$ in data and $10^{11}$–$10^{12}$
#   in compute — the source's first challenge, in numbers.

# %% [markdown] tags=["zh"]
# 所以差距有三方面。**算力**：就是上面那个倍数，随模式不同在 $10^{11}$ 到 $10^{12}$ 之间；按这次运行的速度，在这台
# 机器上训练 GPT-3 大约要 {{ years_rounded:,.0f }} 年。**数据**：GPT-3 读了 3000 亿个 token 的网页、书和维基百科；我们的模型最多只做了
# 几百万次字符预测，只有十部剧本{{ "，而且连这些都还没学完（最后一次测量时验证损失还在下降）" if still_learning else "" }}。**模型规模**：参数*和*数据一起增加（按 Chinchilla 的配比），损失就会一直
# 往下走，到某个程度，模型就不再只是拼写像模像样，而是开始说出有意义的话。*没有*差别的是：结构、损失、优化配方和
# 训练循环，都是上面这些——这正是这个小模型值得逐行弄懂的原因。（聊天模型还会在这样训练出来的模型之上，再做指令
# 微调和基于人类反馈的学习。）
#
# ## 小结
#
# - "大"要用参数量、数据量和算力来衡量。原文关于大模型的说法有的含糊、有的不对：GPT 是一个网络；它那个 109,386
#   个参数的 MLP 也算不上大模型——本讲的 GPT 参数一样多，却照样是 GPT。
# - 字符级语言模型就是在每个位置上做一次 $V$ 类分类。没训练时损失是 $\ln V$；数字符对（二元模型）是会读上下文的
#   模型必须超过的基线。
# - GPT 由这些部分组成：token 嵌入加位置嵌入；若干个块，每块是因果自注意力
#   $\text{softmax}(QK^\top/\sqrt{d} + M)V$ 和一个 MLP，外加残差连接和层归一化；最后一个线性层变回 $V$ 个分数。
#   引擎的注意力和 PyTorch 的一致，输出和梯度都一样。
# - 用同一个训练循环、配上 AdamW、预热加余弦衰减和梯度裁剪来训练，模型降到了二元模型的线以下；完整模式训练 3000
#   步之后，写出来的东西已经有了剧本的样子（角色名、诗行、舞台提示），虽然词还拼不对。温度和 top-k 控制采样，固定
#   种子就能复现。
# - 和 GPT-3 比，参数差约 $10^6$ 倍，数据差 $10^5$–$10^6$ 倍，算力差 $10^{11}$–$10^{12}$ 倍——这就是原文说的第一个
#   挑战，换成了数字。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 10 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 10`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 10 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 10` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
from gradschool import engine as E
from gradschool.course.exercises import Formula, Number, Open, exercise
from gradschool.models import count_parameters, gpt


def block_parameters(C: float) -> int:
    """The parameters one block adds to a GPT of width C, counted on models the engine builds
    (two blocks minus one), with 1 head and with 8: the same."""
    C = int(C)
    counts = set()
    for heads in (1, 8):
        one, two = (count_parameters(gpt(E.nn, 1, L, heads, C, 1)) for L in (1, 2))
        counts.add(two - one)
    assert len(counts) == 1, f"the heads change the count at C = {C}: {counts}"
    return counts.pop()


exercise(
    1,
    en="""
        Train with one head of 64 dimensions (`"model.n_head": 1`) and with 8 heads of 8. Why
        is the parameter count the same? First answer with the number of parameters of one
        block (attention, MLP and its two layer norms) as a formula in the width `C`; then
        compare the two validation losses after the same steps.
    """,
    zh="""
        分别用 1 个 64 维的头（`"model.n_head": 1`）和 8 个 8 维的头训练。为什么参数量不变？先用公式写出一个块（注意力、
        MLP 和它的两个层归一化）的参数个数，变量是宽度 `C`；再比较同样步数下两者的验证损失。
    """,
    check=Formula(
        answer="12 * C**2 + 13 * C",
        reference=block_parameters,
        variables={"C": range(8, 264, 8)},
        points=8,
        rtol=0,
        atol=0.5,
    ),
    hints=[
        (
            "The heads split the C dimensions of q, k and v into n_head pieces of C / n_head; the projections are still C × 3C and C × C, whatever n_head.",
            "多个头只是把 q、k、v 的 C 个维度切成 n_head 份，每份 C / n_head；投影矩阵仍然是 C × 3C 和 C × C，与 n_head 无关。",
        ),
        (
            "Add up: two layer norms ($2C$ each), q/k/v ($3C^2 + 3C$), the output projection ($C^2 + C$), the MLP $C \\to 4C \\to C$ with biases.",
            "加起来：两个层归一化（各 $2C$），q/k/v（$3C^2 + 3C$），输出投影（$C^2 + C$），带偏置的 MLP $C \\to 4C \\to C$。",
        ),
    ],
    solution=(
        """
        `{{ answer }}`: $4C$ (two layer norms) $+ 3C^2 + 3C$ (q, k, v) $+ C^2 + C$ (output
        projection) $+ 8C^2 + 5C$ (MLP). The heads do not appear: they split the same C
        dimensions into groups, each attending on its own, so the weight matrices keep their
        shape. What changes is what the layer can compute: 8 heads of 8 can attend to 8
        different places at once, with coarser scores each; one head of 64 attends once, with
        finer scores. On this character corpus the validation losses after the same steps are
        close; several heads usually help a little, and are what GPT-2 and GPT-3 use (a
        dimension of 64 per head).
        """,
        """
        `{{ answer }}`：$4C$（两个层归一化）$+ 3C^2 + 3C$（q、k、v）$+ C^2 + C$（输出投影）$+ 8C^2 + 5C$（MLP）。公式里
        没有头数：多头只是把同样的 C 个维度分成几组、各自做注意力，权重矩阵的形状不变。变的是这一层能算什么：8 个 8 维的头
        能同时关注 8 个不同的位置，每个的打分粗一些；1 个 64 维的头只关注一次，打分更细。在这份字符语料上，同样步数后两者
        的验证损失很接近；多头通常略好一点，GPT-2 和 GPT-3 用的也是多头（每个头 64 维）。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Shrink the context: `"model.block_size": 8`, then 2. With a context of one character,
        what is the best the GPT can do? Compare its loss with the bigram line.
    """,
    zh="""
        缩短上下文：`"model.block_size": 8`，再试 2。如果上下文只有一个字符，GPT 最好能做到什么程度？和二元模型那条线比一比。
    """,
    check=Open(),
    hints=[
        (
            "With one character of context, what can the prediction depend on? Which model of section 1 predicts from exactly that?",
            "上下文只有一个字符时，预测能依赖什么？第 1 节里哪个模型恰好只根据这个来预测？",
        )
    ],
    solution=(
        """
        A GPT that sees one character can only learn $P(\\text{next} \\mid \\text{previous})$:
        the bigram model. At best its validation loss equals the bigram line (a little above
        or below it: the bigram table is counted exactly on the training text, the GPT learns
        a smoothed version), never clearly below. With `block_size` 2 and 8 each position can
        look further back, and the loss drops below the bigram line — by more with 8. Note
        that even with `block_size` 8 the first positions of each window see fewer characters:
        the loss is an average over contexts of 1 to 8.
        """,
        """
        只看到一个字符的 GPT 只能学 $P(\\text{下一个} \\mid \\text{前一个})$：这就是二元模型。它的验证损失最多和二元模型
        那条线持平（可能略高或略低：二元表是在训练文本上精确数出来的，GPT 学到的是平滑过的版本），不可能明显低于它。
        `block_size` 取 2 和 8 时，每个位置能往回看得更远，损失就降到二元线以下——8 比 2 降得更多。注意即使 `block_size`
        是 8，每个窗口开头几个位置看到的字符也更少：损失是上下文长度 1 到 8 的平均。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    3,
    en="""
        Take the help away: `"optim.clip_grad_norm": None`, `"schedule.warmup_steps": 0`,
        `"optim.lr": 1e-2`. What happens in the first hundred steps? Put warm-up and clipping
        back one at a time.
    """,
    zh="""
        把"帮手"都拿掉：`"optim.clip_grad_norm": None`、`"schedule.warmup_steps": 0`、`"optim.lr": 1e-2`。前一百步会发生
        什么？再把预热和裁剪一个一个加回来看看。
    """,
    check=Open(),
    hints=[
        (
            "Record the loss at every step (a callback's `on_batch_end`, or a short run with `train.log_every`) and plot the first hundred. What does Adam's first step look like, before its moment estimates have averaged anything?",
            "把每一步的损失记下来（用回调的 `on_batch_end`），画出前一百步。Adam 的矩估计还没平均出什么的时候，它的第一步是什么样子？",
        )
    ],
    solution=(
        """
        Without help, a rate of $10^{-2}$ from the first step makes the loss spike or
        oscillate in the first hundred steps, and it may never recover (or turn to NaN):
        Adam's first steps are about the learning rate in size for *every* weight, whatever
        its gradient, and at a random start the attention's softmax saturates and the
        gradients jump. Warm-up alone (the rate ramps up from near 0) removes most of the
        spike: the moment estimates and the layer norms settle while the steps are small.
        Clipping alone caps each step's gradient norm and limits the damage of a jump, but
        does not shrink Adam's per-weight step, so it helps less here. Together they give the
        smooth start of the lecture's run; at the lecture's smaller rate neither is critical.
        """,
        """
        没有帮手时，从第一步就用 $10^{-2}$ 的学习率，损失在前一百步会陡然上跳或来回振荡，可能再也恢复不过来（甚至变成
        NaN）：Adam 最初几步对*每个*权重的步长都大约等于学习率，不管它的梯度是多少；而在随机初值下，注意力的 softmax
        会饱和，梯度忽大忽小。只加预热（学习率从接近 0 慢慢升上去）就能去掉大部分尖峰：步子还小的时候，矩估计和层归一化
        有时间稳定下来。只加裁剪会限制每一步梯度的范数，减轻梯度突变的破坏，但它不改变 Adam 按权重归一化后的步长，所以
        在这里帮助较小。两者一起，就是本讲那次训练平稳的开头；在本讲较小的学习率下，两者都不是关键。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        With `gpt_parameters`, compute GPT-2 medium (24 blocks, 1024 dimensions, context 1024,
        the same vocabulary). Its published size is 355M.
    """,
    zh="""
        用 `gpt_parameters` 算一算 GPT-2 medium（24 个块、1024 维、上下文 1024、词表不变）的参数量。公布的数字是 355M。
    """,
    check=Number(lambda: gpt_parameters(50257, 1024, 1024, 24), rel=0),
    hints=[
        (
            "`gpt_parameters(V, T, C, L)`: GPT-2's vocabulary is V = 50,257 tokens, the context T = 1024.",
            "`gpt_parameters(V, T, C, L)`：GPT-2 的词表 V = 50,257 个 token，上下文 T = 1024。",
        ),
        (
            "By hand: $V C + T C + L(12C^2 + 13C) + 2C$ with C = 1024, L = 24; answer the exact count, not 355M.",
            "手算：$V C + T C + L(12C^2 + 13C) + 2C$，C = 1024，L = 24；回答精确的个数，不是 355M。",
        ),
    ],
    solution=(
        """
        {{ answer:,.0f }} parameters: `gpt_parameters(50257, 1024, 1024, 24)`. Of those,
        $24 \\cdot (12 \\cdot 1024^2 + 13 \\cdot 1024)$ are in the blocks and $50257 \\cdot 1024$
        in the token table (shared with the output layer). The published "355M" counts the
        same architecture; the small difference from rounding and from how the vocabulary
        padding is counted is far below a percent. The formula is verified in section 1 on
        the models gradschool builds.
        """,
        """
        {{ answer:,.0f }} 个参数：`gpt_parameters(50257, 1024, 1024, 24)`。其中块里有
        $24 \\cdot (12 \\cdot 1024^2 + 13 \\cdot 1024)$ 个，token 嵌入表（和输出层共用）有 $50257 \\cdot 1024$ 个。公布的
        "355M"数的是同一个结构；四舍五入和词表补齐的算法造成的差别远不到百分之一。这个公式在第 1 节已经拿 gradschool
        实际建出的模型核对过。
        """,
    ),
    setup=("gpt_parameters",),
)

# %% tags=["exercise"]
exercise(
    5,
    en="""
        Train the same model on PyTorch (`"train.engine": "torch"`): same curve? how much
        faster? Then from the command line, the CPU config on the embedded corpus and a sample
        from it: `gradschool train --config gpt_shakespeare --dataset shakespeare-mini`, then
        `gradschool generate runs/<name> --prompt "OTHELLO." --temperature 0.8`.
    """,
    zh="""
        在 PyTorch 上训练同一个模型（`"train.engine": "torch"`）：曲线一样吗？快多少？再到命令行里，用内置语料训练 CPU
        配置并采样：`gradschool train --config gpt_shakespeare --dataset shakespeare-mini`，然后
        `gradschool generate runs/<name> --prompt "OTHELLO." --temperature 0.8`。
    """,
    check=Open(),
    hints=[
        (
            "Compare the two runs' `state.history` epoch by epoch and their seconds per step. Are the starting weights the same? (Lecture 6 shows how to copy them.)",
            "逐轮比较两次运行的 `state.history`，以及每步的秒数。两次的初始权重一样吗？（第 6 讲演示了怎么把权重复制过去。）",
        )
    ],
    solution=(
        """
        The curves are close, not identical: each engine draws its own initial weights and
        its own data order unless they are copied (lecture 6 copies them and gets the same
        losses to float32 rounding). PyTorch is faster per step — its kernels are compiled
        C++ (oneDNN for the matrix products), the engine's are NumPy calls — by a factor that
        depends on the machine and the threads: with attention, layer norm and GELU each one
        fused node, the engine's step took 1.26x torch's on one thread of a 2-core Xeon
        (docs/benchmarks.md, round two, measures it). `gradschool train --config
        gpt_shakespeare` runs the same loop from the command line and writes a run directory;
        `gradschool generate` reloads it and streams text. Lower temperatures give safer,
        more repetitive text; 0.8 is a usual compromise.
        """,
        """
        曲线很接近，但不完全相同：除非把权重复制过去，两个引擎各自抽取初始权重和数据顺序（第 6 讲复制了权重，损失在
        float32 的舍入范围内一致）。PyTorch 每一步更快——它的算子是编译好的 C++（矩阵乘法用 oneDNN），引擎的则是一次次
        NumPy 调用——快多少取决于机器和线程数：注意力、层归一化和 GELU 各自融合成一个节点之后，在一台 2 核 Xeon 上单线程，
        引擎每步的时间是 torch 的 1.26 倍（见 docs/benchmarks.md 的第二轮测量）。`gradschool train --config gpt_shakespeare` 在命令行里跑的是
        同一个训练循环，会写出一个运行目录；`gradschool generate` 读回它，一边生成一边输出文字。温度越低，文字越保险、
        越爱重复；0.8 是常用的折中。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    6,
    en="""
        Sample with temperature 0 (always the likeliest character). What goes wrong with the
        text, and why does top-k not help there?
    """,
    zh="用温度 0 采样（每次都取最可能的字符）。文字会出什么问题？为什么 top-k 在这里帮不上忙？",
    check=Open(),
    hints=[
        (
            "With temperature 0 the next character is a function of the context. What happens once the model meets a context it has already produced?",
            "温度为 0 时，下一个字符完全由上下文决定。一旦模型遇到一个自己已经生成过的上下文，会发生什么？",
        )
    ],
    solution=(
        """
        The text falls into a loop: the same words or line repeat again and again. Greedy
        decoding is deterministic, so once a context recurs everything after it recurs too,
        and the likeliest continuations of a small model are its most common patterns ("the
        the", a stock line), which lead back to themselves. Top-k only removes unlikely
        characters *before* the draw; with temperature 0 there is no draw, the likeliest
        character is taken anyway, so every k gives the same text. What helps is randomness
        (a temperature above 0, top-k or top-p to keep it sensible) or a penalty on
        repetition.
        """,
        """
        文字会陷入循环：同样的词或同一行一遍又一遍地重复。贪心解码是确定的，一旦某个上下文再次出现，后面的一切也跟着
        重复；而小模型最可能的续写正是它最常见的套路（"the the"、某句惯用的台词），这些套路又会把它引回原处。top-k 只是
        在*抽样之前*去掉不太可能的字符；温度为 0 时根本不抽样，反正取的都是最可能的那个，所以 k 取多少文字都一样。有用的
        是随机性（温度大于 0，再用 top-k 或 top-p 让它不离谱），或者对重复加惩罚。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's piece is step 15, `attention`: causal
# self-attention, $\text{softmax}(QK^\top/\sqrt{d} + M)V$ with the mask that hides the future,
# graded against `torch.nn.functional.scaled_dot_product_attention`, output and gradients.
#
# ```bash
# gradschool build start             # once: creates my-engine/, every step a blank to fill in
# gradschool build check attention   # step 15
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应第 15 步 `attention`：因果自注意力 $\text{softmax}(QK^\top/\sqrt{d} + M)V$，用掩码
# 遮住后面的位置；输出和梯度都和 `torch.nn.functional.scaled_dot_product_attention` 对照评分。
#
# ```bash
# gradschool build start             # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check attention   # 第 15 步
# ```
