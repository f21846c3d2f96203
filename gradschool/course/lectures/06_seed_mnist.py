# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   gradschool:
#     quick: 7 s
#     full: 14 s
# ---

# %% [markdown] tags=["en"]
# # Lecture 6. The source's MNIST example, fixed and run on both engines
#
# **Goal.** Take the PyTorch program the source prints in section 4 ("具体最佳实践：代码实例和详细解释
# 说明"), see exactly why it fails as printed, fix it, run it, and then run the same recipe
# through gradschool on the NumPy engine and on PyTorch — and show that from the same weights
# and the same batches the two engines train identically.

# %% [markdown] tags=["zh"]
# # 第 6 讲：原文的 MNIST 例子：修好它，在两个引擎上跑
#
# **目标**：拿出原文第 4 节"具体最佳实践：代码实例和详细解释说明"里那段 PyTorch 程序，搞清楚它照原样为什么
# 跑不起来，把它修好、跑起来；然后用 gradschool 在 NumPy 引擎和 PyTorch 上跑同一个配方——并且证明：初始权重
# 相同、批次相同的话，两个引擎训练出来的结果是一样的。

# %% [markdown] tags=["en"]
# ## The program as printed
#
# The source calls it "一个简单的AI大模型" (a simple large AI model). It is a three-layer MLP
# with 109,386 parameters (lecture 1): a fine first network, but not a large model.
#
# ```python
# import torch
# import torch.nn as nn
# import torch.optim as optim
#
# # 定义神经网络
# class Net(nn.Module):
#     def __init__(self):
#         super(Net, self).__init__()
#         self.fc1 = nn.Linear(784, 128)
#         self.fc2 = nn.Linear(128, 64)
#         self.fc3 = nn.Linear(64, 10)
#
#     def forward(self, x):
#         x = torch.flatten(x, 1)
#         x = F.relu(self.fc1(x))
#         x = F.relu(self.fc2(x))
#         x = self.fc3(x)
#         return x
#
# # 定义损失函数和优化器
# criterion = nn.CrossEntropyLoss()
# optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
#
# # 训练模型
# for epoch in range(10):
#     running_loss = 0.0
#     for i, data in enumerate(trainloader, 0):
#         inputs, labels = data
#         optimizer.zero_grad()
#         outputs = net(inputs)
#         loss = criterion(outputs, labels)
#         loss.backward()
#         optimizer.step()
#         running_loss += loss.item()
#     print('Epoch: %d, Loss: %.3f' % (epoch + 1, running_loss / len(trainloader)))
# ```
#
# Three names are used and never defined:
#
# 1. `F` — `torch.nn.functional` is never imported (`import torch.nn.functional as F`);
# 2. `net` — the class `Net` is defined but never instantiated (`net = Net()`);
# 3. `trainloader` — no data is loaded at all: no data set, no batch size, no `DataLoader`.
#
# Python reports them one at a time, in the order it reaches them. Let us run the program and
# watch.

# %% [markdown] tags=["zh"]
# ## 原文的程序
#
# 原文说这是"一个简单的AI大模型"。其实它是一个三层 MLP，参数 109,386 个（见第 1 讲）：作为入门网络很好，但算不上大模型。
#
# ```python
# import torch
# import torch.nn as nn
# import torch.optim as optim
#
# # 定义神经网络
# class Net(nn.Module):
#     def __init__(self):
#         super(Net, self).__init__()
#         self.fc1 = nn.Linear(784, 128)
#         self.fc2 = nn.Linear(128, 64)
#         self.fc3 = nn.Linear(64, 10)
#
#     def forward(self, x):
#         x = torch.flatten(x, 1)
#         x = F.relu(self.fc1(x))
#         x = F.relu(self.fc2(x))
#         x = self.fc3(x)
#         return x
#
# # 定义损失函数和优化器
# criterion = nn.CrossEntropyLoss()
# optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
#
# # 训练模型
# for epoch in range(10):
#     running_loss = 0.0
#     for i, data in enumerate(trainloader, 0):
#         inputs, labels = data
#         optimizer.zero_grad()
#         outputs = net(inputs)
#         loss = criterion(outputs, labels)
#         loss.backward()
#         optimizer.step()
#         running_loss += loss.item()
#     print('Epoch: %d, Loss: %.3f' % (epoch + 1, running_loss / len(trainloader)))
# ```
#
# 有三个名字用到了却从来没有定义：
#
# 1. `F`——没有导入 `torch.nn.functional`（缺 `import torch.nn.functional as F`）；
# 2. `net`——定义了 `Net` 类，却没有创建实例（缺 `net = Net()`）；
# 3. `trainloader`——根本没有加载数据：没有数据集、没有批量大小、没有 `DataLoader`。
#
# Python 会按执行到的顺序一个一个报错。我们直接运行，看看会发生什么。

# %% data
import math

from gradschool.course import QUICK
from gradschool.data.datasets import load_dataset

mnist = load_dataset("mnist-mini")  # uint8 (10000, 1, 28, 28), no network needed
EPOCHS = 2 if QUICK else 10
BATCH = 64  # the batch size the source leaves out
STEPS_PER_EPOCH = math.ceil(len(mnist.y_train) / BATCH)  # the last batch holds what is left

# %%
import time

from gradschool.course import show, t
from gradschool.plots import add_curves, finish_curves, loss_accuracy_axes

SEED_PROGRAM = """
import torch
import torch.nn as nn
import torch.optim as optim

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

for epoch in range(10):
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        inputs, labels = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    print('Epoch: %d, Loss: %.3f' % (epoch + 1, running_loss / len(trainloader)))
"""

try:
    import torch

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False
    print(
        t(
            "torch is not installed: the source's program cannot run here at all; the gradschool part below runs on the NumPy engine only.",
            "没有安装 torch：原文的程序在这里完全跑不了；下面 gradschool 的部分只在 NumPy 引擎上运行。",
        )
    )

if HAVE_TORCH:
    # Each attempt adds one fix, in the order Python asks for them, and runs the program
    # again (for 1 epoch). A stand-in loader of 2 random batches keeps the last one short.
    loader = (
        "trainloader = [(torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))) for _ in range(2)]"
    )
    attempts = [
        (t("as printed", "原样运行"), lambda p: p),
        ("+ net = Net()", lambda p: p.replace("criterion =", "net = Net()\ncriterion =")),
        ("+ trainloader = ...", lambda p: f"import torch\n{loader}\n{p}"),
        ("+ import torch.nn.functional as F", lambda p: f"import torch.nn.functional as F\n{p}"),
    ]
    program = SEED_PROGRAM.replace("range(10)", "range(1)")
    for label, fix in attempts:
        program = fix(program)
        try:
            exec(program, {"__name__": "seed_program"})
            print(f"{label:<36} -> " + t("it runs", "能运行了"))
        except NameError as err:
            print(f"{label:<36} -> NameError: {err}")


# %% [markdown] tags=["en"]
# ## The program, fixed
#
# Here is the complete program: the three missing lines added, and `trainloader` built from
# gradschool's embedded MNIST slice (10,000 training images, stratified) with the batch size the
# source leaves out — we choose 64 — and pixels scaled to [0, 1] and standardised, as
# torchvision's usual `ToTensor()` + `Normalize()` would. Quick mode trains 2 epochs, full
# mode the source's 10; this run: {{ EPOCHS }} epochs of {{ STEPS_PER_EPOCH }} batches
# ({{ len(mnist.y_train):,}} images / 64, rounded up), {{ EPOCHS * STEPS_PER_EPOCH }} steps.

# %% [markdown] tags=["zh"]
# ## 修好的程序
#
# 下面是完整的程序：补上缺的三行，`trainloader` 用 gradschool 内置的 MNIST 小数据集（1 万张训练图片，按类别
# 分层抽样）构造。原文没给批量大小，我们取 64；像素缩放到 [0, 1] 再标准化，和 torchvision 常用的
# `ToTensor()` + `Normalize()` 一样。快速模式训练 2 轮，完整模式按原文训练 10 轮；这次运行是
# {{ EPOCHS }} 轮，每轮 {{ STEPS_PER_EPOCH }} 个批次（{{ len(mnist.y_train):,}} 张图除以 64，向上取整），共
# {{ EPOCHS * STEPS_PER_EPOCH }} 步。

# %%
if HAVE_TORCH:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F  # fix 1
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset

    X = torch.from_numpy(mnist.X_train).float() / 255
    mean, std = X.mean(), X.std()
    X = (X - mean) / std
    trainloader = DataLoader(  # fix 3: the data
        TensorDataset(X, torch.from_numpy(mnist.y_train).long()), batch_size=BATCH, shuffle=True
    )

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()  # noqa: UP008 - as the source wrote it
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 64)
            self.fc3 = nn.Linear(64, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    torch.manual_seed(0)
    net = Net()  # fix 2
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    seed_losses = []
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):  # noqa: B007 - as the source wrote it
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print("Epoch: %d, Loss: %.3f" % (epoch + 1, running_loss / len(trainloader)))  # noqa: UP031
        seed_losses.append(running_loss / len(trainloader))
    seed_time = time.perf_counter() - start

    X_test = (torch.from_numpy(mnist.X_test).float() / 255 - mean) / std
    with torch.no_grad():
        seed_acc = (net(X_test).argmax(1).numpy() == mnist.y_test).mean()
    print(
        t("test accuracy:", "测试集准确率："),
        f"{100 * seed_acc:.2f}%",
        t(f"({seed_time:.1f} s of training)", f"（训练用时 {seed_time:.1f} 秒）"),
    )

# %% [markdown] tags=["en"]
# The fixed program works, but it has no validation set, measures nothing but the training
# loss, saves nothing and runs on one engine. gradschool's `configs/seed_mlp.toml` is the same
# recipe — 784-128-64-10, ReLU, cross-entropy, SGD with lr 0.01 and momentum 0.9, batch 64 —
# and `gradschool train` runs it through the one training loop, which prints the source's own
# progress line plus the accuracies it measures. Which ones depends on the data set
# (`data.val_fraction = "auto"`, the default):
#
# - on this 10,000-image slice, 10% of the training images are held out for validation, so
#   each line shows validation *and* test accuracy — the distinction the next lectures build
#   on. gradschool therefore trains on 9,000 images here, the fixed program above on 10,000;
# - on full MNIST (`gradschool train --dataset mnist --data-dir DIR`), nothing is held out,
#   exactly as in the source's loop: all 60,000 images train and each line shows the test
#   accuracy. Over 3 seeds that gives 97.84% on the NumPy engine and 97.91% on PyTorch, against
#   97.84% for the source's own loop; holding 6,000 images out (`--val-fraction 0.1`) gives
#   97.67% and 97.81% (docs/benchmarks.md).
#
# Below: that loop on the NumPy engine and on PyTorch.

# %% [markdown] tags=["zh"]
# 修好的程序能跑了，但它没有验证集，除了训练损失什么都不量，什么也不保存，而且只能跑在一个引擎上。gradschool
# 的 `configs/seed_mlp.toml` 就是同一个配方——784-128-64-10、ReLU、交叉熵、SGD（学习率 0.01，动量 0.9）、
# 批量 64——`gradschool train` 用同一个训练循环来跑它：打印原文那样的进度行，外加它量到的准确率。量哪些，
# 取决于数据集（默认的 `data.val_fraction = "auto"`）：
#
# - 在这个 1 万张的小数据集上，训练图片里留出 10% 做验证，所以每行同时有验证集和测试集准确率——后面几讲
#   都要用到这个区分。因此这里 gradschool 只用 9,000 张训练，而上面修好的程序用了全部 1 万张；
# - 在完整 MNIST 上（`gradschool train --dataset mnist --data-dir DIR`），和原文的循环一样什么都不留：
#   6 万张全部参与训练，每行显示测试集准确率。3 个随机种子的平均：NumPy 引擎 97.84%，PyTorch 97.91%，
#   原文自己的循环 97.84%；如果留出 6,000 张做验证（`--val-fraction 0.1`），则是 97.67% 和 97.81%
#   （见 docs/benchmarks.md）。
#
# 下面分别在 NumPy 引擎和 PyTorch 上跑这个循环。

# %%
from gradschool.config import load_config, with_updates
from gradschool.train.trainer import Trainer

engines = ["numpy", "torch"] if HAVE_TORCH else ["numpy"]
runs = {}
for engine in engines:
    config = with_updates(
        load_config("seed_mlp"),
        {"train.engine": engine, "train.epochs": EPOCHS},
    )
    print(f"--- {engine} " + t("engine", "引擎") + " ---")
    trainer = Trainer(config)
    start = time.perf_counter()
    trainer.fit()
    runs[engine] = (trainer, time.perf_counter() - start)
numpy_run = runs["numpy"][0]
loop_steps = numpy_run.state.history[-1]["step"]  # optimizer steps of the whole run

# %% [markdown] tags=["en"]
# The loop took {{ loop_steps }} steps, not the fixed program's {{ EPOCHS * STEPS_PER_EPOCH }}: it
# trains on the {{ len(mnist.y_train) - len(numpy_run.data.y_val):,}} images the validation split
# leaves, {{ loop_steps // EPOCHS }} batches an epoch.
#
# ## Same weights, same batches, same training
#
# The two runs above start from different random weights (each engine has its own random
# generator), so their numbers differ a little. To compare the *engines* rather than two
# random draws, we build both trainers, copy the NumPy model's initial weights into the torch
# model, and train both. The data loader is gradschool's, seeded and engine-independent, so
# both see the same batches in the same order. The losses agree to float32 rounding (about
# 1e-7) at first; the two libraries add numbers in different orders, and those last-digit
# differences grow slowly over hundreds of steps (to ~1e-4 after 10 epochs) — the drift you
# would also see between two PyTorch builds.

# %% [markdown] tags=["zh"]
# 这个循环走了 {{ loop_steps }} 步，比修好的原程序的 {{ EPOCHS * STEPS_PER_EPOCH }} 步少：验证集分走一部分以后，它只在剩下的
# {{ len(mnist.y_train) - len(numpy_run.data.y_val):,}} 张图上训练，每轮 {{ loop_steps // EPOCHS }} 个批次。
#
# ## 同样的权重、同样的批次，同样的训练
#
# 上面两次训练的初始权重不一样（两个引擎各有各的随机数生成器），所以数字略有差别。要比较的是*引擎*而不是两次
# 随机抽样，我们就把两个 trainer 都建好，把 NumPy 模型的初始权重拷进 torch 模型，然后各自训练。数据加载器是
# gradschool 自己的，有固定种子、和引擎无关，所以两边看到的批次和顺序完全相同。一开始两边的损失只差 float32
# 的舍入误差（约 1e-7）；两个库做加法的顺序不同，这些末位上的差别会随着几百步训练慢慢放大（10 轮后到 1e-4
# 左右）——换一个 PyTorch 版本跑，也会看到同样程度的漂移。

# %%
if HAVE_TORCH:
    twins = {}
    for engine in ("numpy", "torch"):
        config = with_updates(
            load_config("seed_mlp"),
            {"train.engine": engine, "train.epochs": EPOCHS},
        )
        twins[engine] = Trainer(config, console=False)
    numpy_twin, torch_twin = twins["numpy"], twins["torch"]
    weights = numpy_twin.backend.state_to_numpy(numpy_twin.model.state_dict())
    torch_twin.model.load_state_dict(torch_twin.backend.numpy_to_state(weights))
    for trainer in twins.values():
        trainer.fit()
    print(
        f"{t('epoch', '轮'):>6} {t('NumPy loss', 'NumPy 损失'):>14} {t('torch loss', 'torch 损失'):>14} {t('difference', '差'):>12}"
    )
    for row_n, row_t in zip(numpy_twin.state.history, torch_twin.state.history):
        diff = abs(row_n["train_loss"] - row_t["train_loss"])
        print(
            f"{row_n['epoch']:>6} {row_n['train_loss']:>14.6f} {row_t['train_loss']:>14.6f} {diff:>12.1e}"
        )
    acc_n, acc_t = (
        numpy_twin.state.history[-1]["test_acc"],
        torch_twin.state.history[-1]["test_acc"],
    )
    print(
        t("test accuracy:", "测试集准确率："), f"NumPy {100 * acc_n:.2f}%  torch {100 * acc_t:.2f}%"
    )
else:
    print(
        t(
            "(torch is not installed: the twin comparison needs both engines)",
            "（没有安装 torch：这个对照需要两个引擎）",
        )
    )

# %% [markdown] tags=["en"]
# ## Results side by side

# %% [markdown] tags=["zh"]
# ## 结果放在一起看

# %%
print(
    f"{'':<28}{t('final loss', '最终损失'):>12}{t('val acc', '验证准确率'):>12}{t('test acc', '测试准确率'):>12}{t('time (s)', '用时（秒）'):>12}"
)
if HAVE_TORCH:
    print(
        f"{t('source program (fixed)', '原文程序（修好后）'):<28}{seed_losses[-1]:>12.3f}{'-':>12}{100 * seed_acc:>11.2f}%{seed_time:>12.1f}"
    )
for engine, (trainer, seconds) in runs.items():
    last = trainer.state.history[-1]
    name = t(f"gradschool, {engine}", f"gradschool，{engine}")
    print(
        f"{name:<28}{last['train_loss']:>12.3f}{100 * last['val_acc']:>11.2f}%{100 * last['test_acc']:>11.2f}%{seconds:>12.1f}"
    )

fig, ax_loss, ax_acc = loss_accuracy_axes(
    xlabel=t("epoch", "轮"),
    loss_label=t("training loss", "训练损失"),
    acc_label=t("validation accuracy (%)", "验证集准确率（%）"),
    loss_title=t("Training loss (cross-entropy)", "训练损失（交叉熵）"),
    acc_title=t("Validation accuracy", "验证集准确率"),
)
if HAVE_TORCH:
    seed_history = [{"epoch": e + 1, "train_loss": loss} for e, loss in enumerate(seed_losses)]
    add_curves(
        ax_loss, None, seed_history, t("source program (fixed)", "原文程序（修好后）"), "k--o"
    )
for engine, (trainer, _) in runs.items():
    add_curves(ax_loss, ax_acc, trainer.state.history, f"gradschool {engine}")
if HAVE_TORCH:
    for engine, trainer in twins.items():
        label = t(f"{engine}, shared start", f"{engine}，相同初值")
        add_curves(ax_loss, None, trainer.state.history, label, ":", lw=2)
finish_curves(fig, ax_loss, ax_acc, legend_size=8)
show()

# %% [markdown] tags=["en"]
# ## Summary
#
# - As printed, the source's program stops at the first undefined name, `net`; fixing it
#   reveals `trainloader`, then `F`. Three lines (and a data set) make it run.
# - The fixed program and gradschool's recipe reach the same accuracy, about 95–96% on the
#   embedded test images after 10 epochs (full mode), about 92% after 2 (quick mode); this run,
#   {{ EPOCHS }} epochs: {{ 100 * numpy_run.state.history[-1]["test_acc"]:.1f}}% on the NumPy
#   engine, although gradschool keeps 1,000 of the slice's images for validation. Small
#   differences come from the random start and the data order, not the engine.
# - From the same weights and batches, the NumPy engine and PyTorch produce the same losses up
#   to float32 rounding: gradschool's engine really computes what PyTorch computes.
# - The command line does all of this: `gradschool train`, `gradschool train --engine torch`,
#   and `gradschool train --dataset mnist --data-dir DIR` for the full 60,000-image MNIST, where,
#   like the source, it trains on all of them and reaches the source loop's ~97.8-97.9%.

# %% [markdown] tags=["zh"]
# ## 小结
#
# - 原文程序照原样运行，会停在第一个没定义的名字 `net` 上；修好它，又会碰到 `trainloader`，然后是 `F`。补三行
#   （再加上数据）就能跑。
# - 修好的程序和 gradschool 的配方准确率差不多：10 轮后（完整模式）在内置测试集上约 95%–96%，2 轮（快速模式）
#   约 92%；这次运行 {{ EPOCHS }} 轮，NumPy 引擎上是 {{ 100 * numpy_run.state.history[-1]["test_acc"]:.1f}}%，尽管
#   gradschool 从小数据集里留了 1,000 张做验证。细小差别来自随机初值和数据顺序，跟引擎无关。
# - 初始权重和批次都相同时，NumPy 引擎和 PyTorch 的损失只差 float32 的舍入误差：gradschool 的引擎算的确实就是
#   PyTorch 算的东西。
# - 命令行一样能做：`gradschool train`、`gradschool train --engine torch`，完整的 6 万张 MNIST 用
#   `gradschool train --dataset mnist --data-dir DIR`——和原文一样全部用来训练，达到原文循环的 97.8%～97.9% 左右。

# %% [markdown] tags=["en"]
# ## Exercises
#
# Each exercise says how to check your answer: `gradschool lecture check 6 N ...` tells you
# whether it is right and why, with a hint when it is not; `gradschool lecture exercises 6`
# lists them all. The solutions are folded under each exercise.

# %% [markdown] tags=["zh"]
# ## 练习
#
# 每道练习都写明了怎么检查答案：`gradschool lecture check 6 题号 ...` 会告诉你对不对、为什么，答错时给一条提示；
# `gradschool lecture exercises 6` 列出全部练习。参考解答折叠在每道题下面。

# %% tags=["exercise"]
import math

from gradschool.config import load_config, with_updates
from gradschool.course.exercises import Number, Open, Run, exercise
from gradschool.data.datasets import load_dataset
from gradschool.train.trainer import fit

exercise(
    1,
    en="""
        In the fixed program, set `batch_size=1000`. How many steps per epoch now, and what
        happens to the loss after 2 epochs? (Lecture 4 explains.)
    """,
    zh="在修好的程序里把 `batch_size` 改成 1000。每轮现在有多少步？2 轮后损失会怎样？（第 4 讲会解释。）",
    check=Number(lambda: math.ceil(len(load_dataset("mnist-mini").y_train) / 1000), rel=0),
    hints=[
        (
            "The fixed program's `DataLoader` goes over every training image of the embedded slice (`len(mnist.y_train)`), one step per batch.",
            "修好的程序里，`DataLoader` 会把内置小数据集的每一张训练图（`len(mnist.y_train)`）都过一遍，每个批次一步。",
        ),
        (
            "The last batch holds what is left over: steps = $\\lceil n / 1000 \\rceil$.",
            "最后一个批次装剩下的：步数 = $\\lceil n / 1000 \\rceil$。",
        ),
    ],
    solution=(
        """
        {{ answer:.0f }} steps an epoch: `len(trainloader)` is
        $\\lceil n / 1000 \\rceil$ for the slice's $n$ training images, against
        {{ STEPS_PER_EPOCH }} with a batch of {{ BATCH }}. After 2 epochs the program has made
        {{ 2 * answer:.0f }} updates instead of {{ 2 * STEPS_PER_EPOCH }}: each step's gradient
        is less noisy, but with the same learning rate the weights have moved far less, so the
        printed loss is still high, far above the batch-64 run's. Lecture 4 measures this: per
        example seen, many small noisy steps beat few precise ones; a larger batch needs a
        larger learning rate to keep up.
        """,
        """
        每轮 {{ answer:.0f }} 步：`len(trainloader)` 等于小数据集 $n$ 张训练图的 $\\lceil n / 1000 \\rceil$；批量
        {{ BATCH }} 时是 {{ STEPS_PER_EPOCH }} 步。2 轮后程序只更新了 {{ 2 * answer:.0f }} 次，而不是
        {{ 2 * STEPS_PER_EPOCH }} 次：每一步的梯度噪声更小，但学习率不变，权重走的路少得多，所以打印出的损失还很高，远高于
        批量 64 时的。第 4 讲量过这件事：按看过的样本算，许多带噪声的小步胜过少数精确的大步；批量变大，学习率也得跟着变大
        才追得上。
        """,
    ),
    setup=("data",),
)

# %% tags=["exercise"]
exercise(
    2,
    en="""
        Remove the normalisation `(X - X.mean()) / X.std()`. Does SGD with lr 0.01 still train
        as fast?
    """,
    zh="去掉标准化 `(X - X.mean()) / X.std()`。学习率 0.01 的 SGD 还能训练得一样快吗？",
    check=Open(),
    hints=[
        (
            "Without it the pixels are in [0, 1], with a mean near 0.13 and a spread near 0.3: how does the size of the first layer's gradient $\\partial L/\\partial W_1 = \\delta\\, x^\\top$ change?",
            "去掉标准化后像素值在 [0, 1] 之间，均值约 0.13、标准差约 0.3：第一层的梯度 $\\partial L/\\partial W_1 = \\delta\\, x^\\top$ 的大小会怎么变？",
        )
    ],
    solution=(
        """
        It trains, more slowly: the loss after each epoch is higher than with standardised
        inputs (the same holds in gradschool: `gradschool train --epochs 3 --normalize unit`
        against the default `standard`). The first layer's gradient is the backpropagated
        error times the input, $\\delta\\, x^\\top$: inputs about three times smaller give
        gradients three times smaller, so the same learning rate takes smaller steps for those
        weights. And inputs that are all positive make every weight of a unit move in the same
        direction at each step, a zig-zag. Standardising (mean 0, standard deviation 1) puts
        every input on the scale the default initialisation and learning rates assume.
        """,
        """
        能训练，但更慢：每一轮后的损失都比标准化时高（在 gradschool 里也一样：`gradschool train --epochs 3 --normalize unit`
        对比默认的 `standard`）。第一层的梯度是反向传回来的误差乘以输入，$\\delta\\, x^\\top$：输入小了约三倍，梯度也小了
        三倍，同样的学习率下这些权重的步子就小了。而且输入全是正数时，同一个单元的所有权重每一步都朝同一个方向动，走成
        锯齿形。标准化（均值 0、标准差 1）把每个输入放到默认初始化和学习率所假定的尺度上。
        """,
    ),
)

# %% tags=["exercise"]


def validation_accuracy(config) -> float:
    return fit(config, console=False).state.history[-1]["val_acc"]


exercise(
    3,
    en="""
        Run `gradschool train --epochs 3 --momentum 0` and compare with momentum 0.9. Then find
        a learning rate with which momentum 0 catches up: the check trains the recipe for 3
        epochs without momentum at your rate; it must reach 91% validation accuracy (the
        recipe's 0.01 does not).
    """,
    zh="""
        运行 `gradschool train --epochs 3 --momentum 0`，和动量 0.9 比一比。再找一个学习率，让没有动量的训练追上来：
        检查时用你的学习率、不带动量按配方训练 3 轮，验证准确率要达到 91%（配方的 0.01 达不到）。
    """,
    check=Run(
        base=lambda: with_updates(
            load_config("seed_mlp"),
            {
                "train.epochs": 3,
                "optim.momentum": 0.0,
                "train.progress": "off",
                "train.engine": "numpy",
            },
        ),
        train=validation_accuracy,
        bar=0.91,
        metric=("validation accuracy", "验证准确率"),
        keys=("optim.lr",),
        answer="optim.lr=0.1",
        template="optim.lr=VALUE",
    ),
    hints=[
        (
            "Momentum $\\mu$ sums the past gradients with weights $1, \\mu, \\mu^2, \\dots$: once built up, each step is about $\\frac{1}{1-\\mu}$ times the learning rate times the gradient.",
            "动量 $\\mu$ 把过去的梯度按 $1, \\mu, \\mu^2, \\dots$ 的权重加起来：积累起来以后，每一步大约是学习率乘梯度的 $\\frac{1}{1-\\mu}$ 倍。",
        ),
        (
            "For $\\mu = 0.9$ that factor is 10. Without momentum, which rate gives the same step as 0.01 with it?",
            "$\\mu = 0.9$ 时这个倍数是 10。不带动量时，学习率取多少，步子才和带动量的 0.01 一样大？",
        ),
    ],
    solution=(
        """
        `{{ answer }}`: ten times the recipe's rate. With momentum $\\mu$ the velocity
        $v \\leftarrow \\mu v + g$ settles near $g/(1-\\mu)$ when the gradient changes slowly, so
        SGD with momentum 0.9 and $\\alpha = 0.01$ moves about as far per step as plain SGD with
        $\\alpha = 0.1$. Without momentum at 0.01, three epochs are not enough; at 0.1 the two
        runs end close together. Momentum still earns its keep: it averages the noise of
        successive batches and damps the zig-zag across narrow valleys (lecture 2), which a
        larger rate alone does not do.
        """,
        """
        `{{ answer }}`：配方学习率的十倍。动量为 $\\mu$ 时，梯度变化不快的话，速度 $v \\leftarrow \\mu v + g$ 会稳定在
        $g/(1-\\mu)$ 附近，所以动量 0.9、$\\alpha = 0.01$ 的 SGD 每一步走的距离，和不带动量、$\\alpha = 0.1$ 的 SGD 差不多。
        不带动量、学习率 0.01 时，三轮不够；学习率 0.1 时两者的结果很接近。动量仍然有它的用处：它平均掉相邻批次的噪声，
        并且抑制在窄山谷里的来回横跳（第 2 讲），这些是单纯调大学习率做不到的。
        """,
    ),
)

# %% tags=["exercise"]
exercise(
    4,
    en="""
        With full MNIST (`--dataset mnist --data-dir ...`), how much does the test accuracy
        improve over the 10,000-image slice? What does holding 6,000 images out for validation
        cost (`--val-fraction 0.1`), and is that more than the difference between two seeds
        (`--seed 1`)?
    """,
    zh="""
        换成完整的 MNIST（`--dataset mnist --data-dir ...`），测试准确率比 1 万张的小数据集高多少？留出 6,000 张做验证
        （`--val-fraction 0.1`）要付出多少代价？这个代价比换一个随机种子（`--seed 1`）带来的差别大吗？
    """,
    check=Open(),
    hints=[
        (
            "Run four commands: the slice, full MNIST, full MNIST with `--val-fraction 0.1`, and full MNIST with `--seed 1`; compare the last line's test accuracy of each. How large is the standard error of an accuracy measured on 10,000 test images?",
            "跑四条命令：小数据集、完整 MNIST、完整 MNIST 加 `--val-fraction 0.1`、完整 MNIST 加 `--seed 1`；比较每次最后一行的测试准确率。在 1 万张测试图上测出的准确率，标准误差有多大？",
        )
    ],
    solution=(
        """
        `gradschool train` (the slice), `gradschool train --dataset mnist --data-dir DIR`,
        the same with `--val-fraction 0.1`, and with `--seed 1`. Six times the training images
        raise the test accuracy by a couple of points (the summary above quotes the full run).
        Holding 6,000 of 60,000 images out costs a tenth of the data, which moves the accuracy
        far less than that: typically a tenth of a point or two. So does a different seed. Both
        are within about two standard errors of an accuracy near 98% measured on 10,000 test
        images, $\\sqrt{0.98 \\cdot 0.02 / 10000} \\approx 0.14$ points: a single run cannot tell
        them apart. Lecture 8 is about measuring such differences honestly.
        """,
        """
        依次运行 `gradschool train`（小数据集）、`gradschool train --dataset mnist --data-dir DIR`、再加
        `--val-fraction 0.1`、以及加 `--seed 1`。训练图多了五倍，测试准确率提高几个百分点（上面的小结给出了完整数据的
        结果）。从 60,000 张里留出 6,000 张，只少了十分之一的数据，对准确率的影响小得多：通常是零点一到零点二个百分点。
        换随机种子的影响也差不多。两者都在标准误差的两倍左右之内：在 1 万张测试图上测得 98% 左右的准确率，标准误差是
        $\\sqrt{0.98 \\cdot 0.02 / 10000} \\approx 0.14$ 个百分点，只跑一次分不出它们的高下。第 8 讲专门讲怎样老老实实地
        衡量这种差别。
        """,
    ),
)

# %% [markdown] tags=["en"]
# ## Now build it
#
# In the engine track you write the engine's pieces yourself, and gradschool grades each one
# against PyTorch (docs/track.md). This lecture's pieces: step 9, `softmax` (log-softmax and
# cross-entropy, stable for large logits), and step 13, `loop`: the seed's five lines of
# training, graded against gradschool's own loop on a short run. Once every step passes,
# `gradschool build train` trains this lecture's network on *your* engine.
#
# ```bash
# gradschool build start            # once: creates my-engine/, every step a blank to fill in
# gradschool build check softmax    # step 9
# gradschool build check loop       # step 13
# gradschool build train            # when all 15 steps pass: the seed's MLP on your engine
# ```

# %% [markdown] tags=["zh"]
# ## 动手实现
#
# 在引擎实践（engine track）里，引擎的各个部件由你亲手来写，gradschool 把每一件都和 PyTorch 对照评分（见
# docs/track.zh-CN.md）。这一讲对应第 9 步 `softmax`（log-softmax 和交叉熵，logit 很大时也要数值稳定）和第 13 步
# `loop`：原文那五行训练代码，在一次短训练上和 gradschool 自己的训练循环对照评分。所有步骤都通过以后，
# `gradschool build train` 会用*你自己的*引擎训练这一讲的网络。
#
# ```bash
# gradschool build start            # 只需一次：创建 my-engine/，每一步都是待填的空
# gradschool build check softmax    # 第 9 步
# gradschool build check loop       # 第 13 步
# gradschool build train            # 15 步全部通过后：在你的引擎上训练原文的 MLP
# ```
