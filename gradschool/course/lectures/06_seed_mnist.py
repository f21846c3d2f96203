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

# %%
import math
import time

from gradschool.course import QUICK, show, t
from gradschool.data.datasets import load_dataset
from gradschool.plots import add_curves, finish_curves, loss_accuracy_axes

mnist = load_dataset("mnist-mini")  # uint8 (10000, 1, 28, 28), no network needed
EPOCHS = 2 if QUICK else 10
BATCH = 64  # the batch size the source leaves out
STEPS_PER_EPOCH = math.ceil(len(mnist.y_train) / BATCH)  # the last batch holds what is left

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
#
# ## Exercises
#
# 1. In the fixed program, set `batch_size=1000`. How many steps per epoch now, and what happens
#    to the loss after 2 epochs? (Lecture 4 explains.)
# 2. Remove the normalisation `(X - X.mean()) / X.std()`. Does SGD with lr 0.01 still train as
#    fast?
# 3. Run `gradschool train --epochs 3 --momentum 0` and compare with momentum 0.9.
# 4. With full MNIST (`--dataset mnist --data-dir ...`), how much does the test accuracy improve
#    over the 10,000-image slice? What does holding 6,000 images out for validation cost
#    (`--val-fraction 0.1`), and is that more than the difference between two seeds (`--seed 1`)?

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
#
# ## 练习
#
# 1. 在修好的程序里把 `batch_size` 改成 1000。每轮现在有多少步？2 轮后损失会怎样？（第 4 讲会解释。）
# 2. 去掉标准化 `(X - X.mean()) / X.std()`。学习率 0.01 的 SGD 还能训练得一样快吗？
# 3. 运行 `gradschool train --epochs 3 --momentum 0`，和动量 0.9 比一比。
# 4. 换成完整的 MNIST（`--dataset mnist --data-dir ...`），测试准确率比 1 万张的小数据集高多少？留出 6,000 张
#    做验证（`--val-fraction 0.1`）要付出多少代价？这个代价比换一个随机种子（`--seed 1`）带来的差别大吗？
