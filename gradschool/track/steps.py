"""The steps of the engine track, in the order the course teaches them.

Each step names the blanks a learner fills in (a function of gradschool's engine whose body is
left out of the workspace), says in both languages what each blank computes (the docstring the
workspace gets), where the course teaches it, and a hint for when the check fails. The texts
say what to compute — shapes, the maths, the convention torch follows — never the code.

The grader (checks.py) has one check per step; the workspace generator (source.py) makes the
blanks from gradschool's own engine source, so a step's reference is always the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradschool.errors import ConfigError

LANGS = ("en", "zh")


@dataclass(frozen=True)
class Blank:
    """One function to write. `path` is dotted: "SGD.step" (a method), "Tensor.exp.backward"
    (the backward function defined inside a method), "softmax" (a module function)."""

    file: str  # in the workspace package, e.g. "tensor.py"
    path: str
    doc: dict[str, str]  # language -> what to compute (the blank's docstring)

    @property
    def name(self) -> str:
        return self.path.split(".")[-1]

    def where(self) -> str:
        """'engine/tensor.py: Tensor.__add__ -> backward'"""
        parts = self.path.split(".")
        if len(parts) > 1 and parts[-1] == "backward" and parts[-2] != "Tensor":
            return f"engine/{self.file}: {'.'.join(parts[:-1])} -> backward"
        return f"engine/{self.file}: {self.path}"


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    title: dict[str, str]
    lecture: dict[str, str]  # where the course teaches it
    blanks: tuple[Blank, ...]
    hint: dict[str, str]


def _doc(en: str, zh: str) -> dict[str, str]:
    return {"en": en.strip("\n"), "zh": zh.strip("\n")}


_ENGINE_MD = ("docs/engine.md", "docs/engine.zh-CN.md")

STEPS: tuple[Step, ...] = (
    Step(
        1,
        "add",
        _doc("the backward of a + b, with broadcasting", "a + b 的反向传播（含广播）"),
        _doc(
            'lecture 3, section 2; docs/engine.md, "A Tensor remembers how it was made"',
            "第 3 讲第 2 节；docs/engine.zh-CN.md《张量记得自己是怎么算出来的》",
        ),
        (
            Blank(
                "tensor.py",
                "_unbroadcast",
                _doc(
                    """
Sum `grad` back down to `shape`: the backward of NumPy broadcasting.

grad: the gradient of an op's output, of the output's shape.
shape: the shape of one of the op's inputs. Broadcasting stretched that input to the
    output's shape in two ways: it added missing leading dimensions ((3,) -> (1, 3)), and
    it repeated dimensions of size 1 ((4, 1) -> (4, 3)).
An input element that was used k times receives the sum of its k gradients. Return an
array of exactly `shape` (grad itself when the shapes are already equal).

    grad (4, 3), shape (3,)     -> (3,)       summed over the added dimension
    grad (4, 3), shape (4, 1)   -> (4, 1)     summed over the repeated one, kept as size 1
    grad (2, 4, 3), shape ()    -> ()         a 0-d input used everywhere
    grad (4, 3), shape (1, 3)   -> (1, 3)
""",
                    """
把 `grad` 按广播的规则求和，还原成 `shape`：这就是 NumPy 广播的反向传播。

grad：某个算子输出的梯度，形状和输出相同。
shape：这个算子某个输入的形状。广播把这个输入撑成了输出的形状，方式有两种：在前面补维度
    （(3,) -> (1, 3)），以及把大小为 1 的维度重复（(4, 1) -> (4, 3)）。
一个输入元素被用了 k 次，它的梯度就是这 k 份梯度之和。返回的数组形状必须正好是 `shape`
（形状本来就相同时直接返回 grad）。

    grad (4, 3), shape (3,)     -> (3,)       在补出来的维度上求和
    grad (4, 3), shape (4, 1)   -> (4, 1)     在被重复的维度上求和，保留成大小 1
    grad (2, 4, 3), shape ()    -> ()         0 维输入处处都被用到
    grad (4, 3), shape (1, 3)   -> (1, 3)
""",
                ),
            ),
            Blank(
                "tensor.py",
                "Tensor.__add__.backward",
                _doc(
                    """
The backward of out = a + b (elementwise, with broadcasting).

g: dL/d(out), a NumPy array of out's shape (a.shape and b.shape broadcast together).
Return (dL/da, dL/db): a tuple with one gradient per input, in the order of the inputs,
each a NumPy array of that input's shape. d(a + b)/da = 1 and d(a + b)/db = 1 for each
element; `_unbroadcast` (above) undoes the broadcasting.
""",
                    """
out = a + b（逐元素，带广播）的反向传播。

g：dL/d(out)，形状与 out 相同的 NumPy 数组（即 a.shape 和 b.shape 广播后的形状）。
返回 (dL/da, dL/db)：一个元组，按输入的顺序每个输入一个梯度，各自是形状与该输入相同的
NumPy 数组。对每个元素都有 d(a + b)/da = 1、d(a + b)/db = 1；广播由上面的
`_unbroadcast` 负责还原。
""",
                ),
            ),
        ),
        _doc(
            "A gradient has the shape of its input, never of the output: where broadcasting "
            "stretched an input, sum the gradient over the dimensions it added or repeated "
            "(check _unbroadcast on shapes (3,), (4, 1), (1, 3) and () against a (4, 3) grad).",
            "梯度的形状永远和对应的输入相同，而不是和输出相同：广播把输入撑大的地方，要在它补出来"
            "或重复的维度上把梯度加起来（拿 (4, 3) 的 grad 和 (3,)、(4, 1)、(1, 3)、() 这几种"
            "形状试一试 _unbroadcast）。",
        ),
    ),
    Step(
        2,
        "mul",
        _doc("the backward of a * b", "a * b 的反向传播"),
        _doc(
            'lecture 3, sections 1-2; docs/engine.md, "A Tensor remembers how it was made"',
            "第 3 讲第 1、2 节；docs/engine.zh-CN.md《张量记得自己是怎么算出来的》",
        ),
        (
            Blank(
                "tensor.py",
                "Tensor.__mul__.backward",
                _doc(
                    """
The backward of out = a * b (elementwise, with broadcasting).

g: dL/d(out), of out's shape. a.data and b.data are the inputs' NumPy arrays.
Return (dL/da, dL/db), each of its input's shape: d(a b)/da = b and d(a b)/db = a, times g,
element by element, then un-broadcast. An input with requires_grad False needs no gradient:
you may return None in its place.
""",
                    """
out = a * b（逐元素，带广播）的反向传播。

g：dL/d(out)，形状与 out 相同。a.data、b.data 是两个输入的 NumPy 数组。
返回 (dL/da, dL/db)，各自与对应输入同形：逐元素地有 d(a b)/da = b、d(a b)/db = a，再乘以 g，
然后还原广播。requires_grad 为 False 的输入不需要梯度，对应位置可以返回 None。
""",
                ),
            ),
        ),
        _doc(
            "Each input's gradient is g times the OTHER input, then un-broadcast to its own "
            "shape; a constant (a Python number) was lifted to a 0-d tensor and needs none.",
            "每个输入的梯度是 g 乘以*另一个*输入，再还原成自己的形状；Python 数字被提升成了 0 维"
            "张量，它不需要梯度。",
        ),
    ),
    Step(
        3,
        "matmul",
        _doc("the backward of a @ b", "a @ b（矩阵乘法）的反向传播"),
        _doc(
            "lecture 3, section 1 (the layer's gradients); docs/engine.md",
            "第 3 讲第 1 节（一层的梯度）；docs/engine.zh-CN.md",
        ),
        (
            Blank(
                "tensor.py",
                "Tensor.__matmul__.backward",
                _doc(
                    """
The backward of out = a @ b, with torch.matmul's shapes:

    (n, k) @ (k, m)          -> (n, m)
    (..., n, k) @ (..., k, m) -> (..., n, m)   leading (batch) dimensions broadcast
    (k,) @ (k, m) -> (m,)    a 1-D left operand is a row (1, k), that dimension then dropped
    (n, k) @ (k,) -> (n,)    a 1-D right operand is a column (k, 1)
    (k,) @ (k,)   -> ()

g: dL/d(out), of out's shape. For 2-D operands, out[i, j] = sum_k A[i, k] B[k, j], so
dL/dA = g B^T, (n, m) @ (m, k) -> (n, k), and dL/dB = A^T g, (k, n) @ (n, m) -> (k, m).
With batch dimensions, transpose only the last two axes (np.swapaxes) and un-broadcast the
leading ones. A 1-D operand: treat it as (1, k) or (k, 1), give g the dimension the forward
dropped (np.expand_dims), and reshape the result back to the operand's shape.
Return (dL/da, dL/db) (None for an input that does not require grad).
""",
                    """
out = a @ b 的反向传播，形状规则和 torch.matmul 一样：

    (n, k) @ (k, m)          -> (n, m)
    (..., n, k) @ (..., k, m) -> (..., n, m)   前面的（批）维度按广播规则对齐
    (k,) @ (k, m) -> (m,)    一维的左操作数当作行向量 (1, k)，算完再去掉这一维
    (n, k) @ (k,) -> (n,)    一维的右操作数当作列向量 (k, 1)
    (k,) @ (k,)   -> ()

g：dL/d(out)，形状与 out 相同。二维时 out[i, j] = sum_k A[i, k] B[k, j]，所以
dL/dA = g B^T，(n, m) @ (m, k) -> (n, k)；dL/dB = A^T g，(k, n) @ (n, m) -> (k, m)。
有批维度时只转置最后两个轴（np.swapaxes），前面的维度要还原广播。一维操作数：把它当成
(1, k) 或 (k, 1)，给 g 补回前向时去掉的那一维（np.expand_dims），结果再 reshape 回操作数
原来的形状。返回 (dL/da, dL/db)（不需要梯度的输入可以给 None）。
""",
                ),
            ),
        ),
        _doc(
            "Write the shapes down: dL/dA must be (n, k) like A, and the only product of g "
            "(n, m) and B (k, m) that gives (n, k) is g @ B^T. A transposed or swapped "
            "product only looks right on square matrices.",
            "先把形状写出来：dL/dA 必须和 A 一样是 (n, k)，而 g (n, m) 和 B (k, m) 能乘出 "
            "(n, k) 的只有 g @ B^T。转置错了或者乘反了，只在方阵上看起来是对的。",
        ),
    ),
    Step(
        4,
        "exp",
        _doc("the backward of exp(x)", "exp(x) 的反向传播"),
        _doc("lecture 3, section 2; docs/engine.md", "第 3 讲第 2 节；docs/engine.zh-CN.md"),
        (
            Blank(
                "tensor.py",
                "Tensor.exp.backward",
                _doc(
                    """
The backward of out = e^x (elementwise).

g: dL/d(out), of x's shape. `out` (the NumPy array the forward computed) is in scope.
d e^x / dx = e^x. Return a tuple with one gradient, (dL/dx,).
""",
                    """
out = e^x（逐元素）的反向传播。

g：dL/d(out)，形状与 x 相同。前向算出的 NumPy 数组 `out` 在这里可以直接用。
d e^x / dx = e^x。返回只有一个梯度的元组 (dL/dx,)。
""",
                ),
            ),
        ),
        _doc(
            "The derivative of e^x is e^x itself: the forward already computed it. Return a "
            "1-tuple, (grad,), not the bare array.",
            "e^x 的导数就是它自己，前向已经算好了。返回只有一个元素的元组 (grad,)，"
            "不要直接返回数组。",
        ),
    ),
    Step(
        5,
        "log",
        _doc("the backward of log(x)", "log(x) 的反向传播"),
        _doc("lecture 3, section 2; docs/engine.md", "第 3 讲第 2 节；docs/engine.zh-CN.md"),
        (
            Blank(
                "tensor.py",
                "Tensor.log.backward",
                _doc(
                    """
The backward of out = ln(x) (natural logarithm, elementwise, x > 0).

g: dL/d(out), of x's shape. `x` (the input's NumPy array) is in scope.
d ln(x) / dx = 1 / x. Return (dL/dx,).
""",
                    """
out = ln(x)（自然对数，逐元素，x > 0）的反向传播。

g：dL/d(out)，形状与 x 相同。输入的 NumPy 数组 `x` 在这里可以直接用。
d ln(x) / dx = 1 / x。返回 (dL/dx,)。
""",
                ),
            ),
        ),
        _doc(
            "d ln(x)/dx = 1/x, times the incoming g; divide by the input, not by the output.",
            "d ln(x)/dx = 1/x，再乘以传进来的 g；除以的是输入，不是输出。",
        ),
    ),
    Step(
        6,
        "relu",
        _doc("ReLU, forward and backward", "ReLU 的前向与反向"),
        _doc(
            "lecture 1, section 3; lecture 3, section 1; docs/engine.md",
            "第 1 讲第 3 节；第 3 讲第 1 节；docs/engine.zh-CN.md",
        ),
        (
            Blank(
                "tensor.py",
                "Tensor.relu",
                _doc(
                    """
ReLU: out = max(x, 0) elementwise, with its backward.

Forward: a NumPy array of x's shape and dtype; NOTE: negative inputs give +0.0, as torch
prints them (0., not -0.). Record the op with
    Tensor._make(out_data, (self,), backward, "relu")
where backward(g) returns (dL/dx,): g where x > 0 and 0 where x < 0. At exactly x = 0 the
derivative is undefined; torch takes it as 0, and so must you (the check feeds zeros).
""",
                    """
ReLU：逐元素 out = max(x, 0)，连同它的反向传播。

前向：形状、dtype 都与 x 相同的 NumPy 数组；NOTE：负数输入要得到 +0.0，和 torch 的打印一致
（0.，而不是 -0.）。用下面这句记录这个算子：
    Tensor._make(out_data, (self,), backward, "relu")
其中 backward(g) 返回 (dL/dx,)：x > 0 处是 g，x < 0 处是 0。x 恰好等于 0 时导数没有定义，
torch 取 0，你也必须取 0（检查会专门喂 0 进去）。
""",
                ),
            ),
        ),
        _doc(
            "At exactly x = 0 the gradient is 0 (torch's convention), and the forward of a "
            "negative number is +0.0: np.maximum(x, 0) gives that, x * (x > 0) gives -0.0.",
            "x 恰好为 0 时梯度取 0（torch 的约定）；负数的前向结果是 +0.0：np.maximum(x, 0) 能"
            "做到，x * (x > 0) 会得到 -0.0。",
        ),
    ),
    Step(
        7,
        "sum",
        _doc("the backward of x.sum(dim, keepdim)", "x.sum(dim, keepdim) 的反向传播"),
        _doc("lecture 3, section 2; docs/engine.md", "第 3 讲第 2 节；docs/engine.zh-CN.md"),
        (
            Blank(
                "tensor.py",
                "Tensor.sum.backward",
                _doc(
                    """
The backward of out = x.sum(dim, keepdim).

In scope: `axis` (None for the sum of everything, an int, or a tuple of ints, possibly
negative), `keepdim` (bool) and `shape` (x's shape). g: dL/d(out), of out's shape: with
keepdim=False the summed axes are missing from it; with keepdim=True they are there with
size 1; with axis None, g is 0-d (with keepdim, every axis is there, of size 1).
Every element of x was added once into its sum, so its gradient is the g of that sum.
Return (dL/dx,) of x's shape: put the summed axes back into g as size 1 (np.expand_dims
takes a tuple of axes), then stretch it to `shape` (np.broadcast_to).
""",
                    """
out = x.sum(dim, keepdim) 的反向传播。

可以直接用的变量：`axis`（None 表示全部求和，或者一个整数、一个整数元组，可能是负数）、
`keepdim`（布尔值）和 `shape`（x 的形状）。g：dL/d(out)，形状与 out 相同：keepdim=False 时
被求和的轴在 g 里没有了；keepdim=True 时这些轴还在，大小为 1；axis 为 None 时 g 是 0 维的
（带 keepdim 时所有轴都在，大小都是 1）。
x 的每个元素都恰好被加进了它所在的那个和里一次，所以它的梯度就是那个和的 g。
返回与 x 同形的 (dL/dx,)：先把求和掉的轴以大小 1 补回 g（np.expand_dims 可以接受轴的元组），
再把它撑到 `shape`（np.broadcast_to）。
""",
                ),
            ),
        ),
        _doc(
            "Without keepdim, g lacks the summed axes: expand them back (size 1) before "
            "broadcasting, or a (3,) g meant for axis 0 of a (3, 3) input lands on axis 1.",
            "没有 keepdim 时，g 里缺了被求和的轴：先以大小 1 把它们补回来再广播；否则一个本该"
            "对应 (3, 3) 输入第 0 轴的 (3,) g 会被广播到第 1 轴上。",
        ),
    ),
    Step(
        8,
        "backward",
        _doc("the topological sort of backward()", "backward() 里的拓扑排序"),
        _doc(
            'lecture 3, section 3; docs/engine.md, "backward(): a topological sort, then one '
            'walk backwards"',
            "第 3 讲第 3 节；docs/engine.zh-CN.md《backward()：先拓扑排序，再倒着走一遍》",
        ),
        (
            Blank(
                "tensor.py",
                "topological_order",
                _doc(
                    """
Every node of the graph that needs a gradient, each listed after all of its parents.

root: the tensor backward() was called on. A node's inputs are `node._parents` (a tuple
of Tensors); follow only those with `requires_grad` True. Return a list holding every node
reachable from root (root included) exactly once, each after all of its parents, so root
is last: Tensor.backward walks the list in reverse, and a node must have received the
gradient from ALL of its uses before it passes its own on.
NOTE: a node can be reached along several paths (x used twice): list it once. And do it
without recursion, with an explicit stack: a chain 2000 ops deep must work, and Python
stops recursing at about 1000 calls (micrograd's recursive version fails there).
""",
                    """
列出图里所有需要梯度的节点，每个节点都排在它的所有父节点之后。

root：调用 backward() 的那个张量。一个节点的输入是 `node._parents`（Tensor 的元组）；只沿着
`requires_grad` 为 True 的输入走。返回一个列表：从 root 出发能到达的每个节点（包括 root）
恰好出现一次，并且都排在自己的所有父节点之后，因此 root 在最后。Tensor.backward 会倒着遍历
这个列表，一个节点必须先收齐它*所有*用处传回来的梯度，才能把自己的梯度往下传。
NOTE：一个节点可能沿好几条路径到达（比如 x 被用了两次），只能列一次。另外不要用递归，用一个
显式的栈：2000 层深的链也必须能处理，而 Python 递归大约 1000 层就会停下
（micrograd 的递归写法就是在这里出错的）。
""",
                ),
            ),
        ),
        _doc(
            "Depth-first search with a visited set and an explicit stack: push (node, False) "
            "to visit it, and when its parents are all done, (node, True) to append it. A node "
            "appended before one of its parents gets an incomplete gradient.",
            "用一个 visited 集合加一个显式栈做深度优先搜索：压入 (node, False) 表示去访问它，父节点"
            "都处理完后再压入 (node, True) 表示把它追加到结果里。一个节点如果排在了它的某个父节点"
            "之前，它拿到的梯度就不完整。",
        ),
    ),
    Step(
        9,
        "softmax",
        _doc(
            "softmax, log-softmax and cross-entropy, from primitives",
            "用基本算子搭出 softmax、log-softmax 和交叉熵",
        ),
        _doc(
            'lecture 6 (the seed\'s loss); docs/engine.md, "Primitives and composites"',
            "第 6 讲（原文用的损失）；docs/engine.zh-CN.md《基本算子与组合函数》",
        ),
        (
            Blank(
                "functional.py",
                "softmax",
                _doc(
                    """
softmax(x)_i = exp(x_i) / sum_j exp(x_j) along `dim`; the output has x's shape.

A composite: build it from Tensor ops only (amax, -, exp, sum, /), never from NumPy on
x.data, so that its gradient comes from the primitives' backwards for free.
NOTE: subtract the max along `dim` first (keepdim=True): it changes nothing mathematically
(the factor e^-max cancels) but keeps exp from overflowing on large logits (1e3 would give
inf / inf = nan). The max needs no gradient: .detach() it.
""",
                    """
softmax(x)_i = exp(x_i) / sum_j exp(x_j)，沿 `dim` 计算；输出与 x 同形。

这是组合函数：只用 Tensor 的运算（amax、-、exp、sum、/）来搭，不要对 x.data 直接用 NumPy，
这样它的梯度就能从基本算子的反向传播里白白得到。
NOTE：先减去沿 `dim` 的最大值（keepdim=True）：数学上什么都没变（因子 e^-max 约掉了），但
logits 很大时 exp 就不会溢出（1e3 会得到 inf / inf = nan）。这个最大值不需要梯度：对它 .detach()。
""",
                ),
            ),
            Blank(
                "functional.py",
                "log_softmax",
                _doc(
                    """
log(softmax(x)) along `dim`: x_i - log(sum_j exp(x_j)); the output has x's shape.

Compose it from Tensor ops like softmax, with the same (detached) max shift, and without
computing softmax and then its log: for a very negative x_i, softmax underflows to 0 and
its log is -inf, while x_i - m - log(sum_j exp(x_j - m)) stays finite.
""",
                    """
log(softmax(x))，沿 `dim` 计算：x_i - log(sum_j exp(x_j))；输出与 x 同形。

和 softmax 一样用 Tensor 运算搭，同样先减去（detach 过的）最大值；不要先算 softmax 再取对数：
x_i 非常小时 softmax 会下溢成 0，取对数就是 -inf，而 x_i - m - log(sum_j exp(x_j - m))
始终是有限的。
""",
                ),
            ),
            Blank(
                "functional.py",
                "cross_entropy",
                _doc(
                    """
Cross-entropy between logits `input` (N, C) and integer class labels `target` (N,),
torch's F.cross_entropy (the seed's nn.CrossEntropyLoss).

loss_i = -log softmax(input_i)[target_i], the negative log-probability of the true class.
With label smoothing e > 0 the target puts 1 - e on the true class and e spread evenly
over all C classes: loss_i = (1 - e) * (-log p_i[target_i]) + e * mean_j(-log p_i[j]).
reduction: "mean" (of the N losses), "sum", or "none" (the (N,) losses).
Helpers above in this file: nll_loss(log_probs, target, reduction) picks -log_probs[i,
target[i]] (and checks the targets), _reduce(loss, reduction) applies the reduction.
""",
                    """
logits `input` (N, C) 与整数类别标签 `target` (N,) 之间的交叉熵，即 torch 的
F.cross_entropy（原文用的 nn.CrossEntropyLoss）。

loss_i = -log softmax(input_i)[target_i]，也就是真实类别的负对数概率。
标签平滑 e > 0 时，目标分布在真实类别上放 1 - e，再把 e 平均分给全部 C 个类别：
loss_i = (1 - e) * (-log p_i[target_i]) + e * mean_j(-log p_i[j])。
reduction："mean"（N 个损失的平均）、"sum"，或 "none"（返回 (N,) 的损失）。
本文件前面的辅助函数：nll_loss(log_probs, target, reduction) 取出 -log_probs[i, target[i]]
（并检查标签），_reduce(loss, reduction) 负责归约。
""",
                ),
            ),
        ),
        _doc(
            "Shift by the detached max before exp, take log_softmax as x - m - log(sum "
            "exp(x - m)) (never log(softmax(x))), and pick the target class with "
            "nll_loss; every step must stay a Tensor op so the gradient flows.",
            "exp 之前先减去 detach 过的最大值；log_softmax 用 x - m - log(sum exp(x - m)) 来算"
            "（不要写成 log(softmax(x))）；目标类别用 nll_loss 取出来。每一步都必须是 Tensor 运算，"
            "梯度才能传回去。",
        ),
    ),
    Step(
        10,
        "sgd",
        _doc("SGD with momentum", "带动量的 SGD"),
        _doc(
            "lecture 2 (the formulas, section 3: momentum); docs/optimization.md, section 2",
            "第 2 讲（公式；第 3 节：动量）；docs/optimization.zh-CN.md 第 2 节",
        ),
        (
            Blank(
                "optim.py",
                "SGD.step",
                _doc(
                    """
One step of SGD, torch.optim.SGD's update rule (the formulas in the class docstring).

For every group in self.param_groups (a dict: "lr", "momentum", "dampening",
"weight_decay", "nesterov", "maximize") and every (p, grad) in
self._params_with_grad(group) (p a Tensor, grad a NumPy array):
    g = grad (negated if maximize) + weight_decay * p.data
    with momentum mu > 0: the buffer b (self._state(p)["momentum_buffer"], a dict per
        parameter that lives across steps) is a copy of g on the first step, and
        b = mu * b + (1 - dampening) * g afterwards; then g = g + mu * b with nesterov,
        else g = b
    p.data -= lr * g            (in place, keeping p's dtype)
NOTE: never modify grad (it may be shared with another tensor): compute new arrays.
""",
                    """
SGD 走一步，更新规则与 torch.optim.SGD 相同（公式见类的文档字符串）。

对 self.param_groups 里的每个参数组（一个字典："lr"、"momentum"、"dampening"、
"weight_decay"、"nesterov"、"maximize"），以及 self._params_with_grad(group) 给出的每个
(p, grad)（p 是 Tensor，grad 是 NumPy 数组）：
    g = grad（maximize 时取负）+ weight_decay * p.data
    动量 mu > 0 时：缓冲区 b（self._state(p)["momentum_buffer"]，每个参数一个字典，跨步保存）
        第一步是 g 的一份拷贝，之后 b = mu * b + (1 - dampening) * g；然后 nesterov 时
        g = g + mu * b，否则 g = b
    p.data -= lr * g            （原地更新，保持 p 的 dtype）
NOTE：不要修改 grad（它可能和别的张量共用同一块内存）：要算出新的数组。
""",
                ),
            ),
        ),
        _doc(
            "The first step stores a COPY of g as the buffer (no dampening then); later steps "
            "do b = mu b + (1 - dampening) g. lr multiplies the buffer (torch's form), and the "
            "update is in place on p.data.",
            "第一步把 g 的*拷贝*存成缓冲区（这一步不乘 dampening）；之后每步 b = mu b + "
            "(1 - dampening) g。lr 乘的是缓冲区（torch 的写法），并且要原地更新 p.data。",
        ),
    ),
    Step(
        11,
        "adam",
        _doc("Adam (and AdamW)", "Adam（以及 AdamW）"),
        _doc(
            "lecture 2 (the formulas, section 3); docs/optimization.md, section 2",
            "第 2 讲（公式，第 3 节）；docs/optimization.zh-CN.md 第 2 节",
        ),
        (
            Blank(
                "optim.py",
                "Adam.step",
                _doc(
                    """
One step of Adam, torch.optim.Adam's update rule (the formulas in the class docstring).

For every group (keys "lr", "betas" = (beta1, beta2), "eps", "weight_decay", "amsgrad",
"maximize", "decoupled_weight_decay") and every (p, grad) in self._params_with_grad(group):
the state self._state(p) keeps, across steps, the step count t (1 on the first step) and
the running averages m ("exp_avg") and v ("exp_avg_sq"), both starting at zeros
(and "max_exp_avg_sq" with amsgrad).
    g = grad (negated if maximize); weight decay wd: AdamW (decoupled) shrinks
        p.data by (1 - lr * wd) instead, else g = g + wd * p.data
    m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
    amsgrad: v_max = max(v_max, v), used in place of v below
    p.data -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
NOTE: eps is added OUTSIDE the square root, and the bias corrections use this parameter's t.
""",
                    """
Adam 走一步，更新规则与 torch.optim.Adam 相同（公式见类的文档字符串）。

对每个参数组（键："lr"、"betas" = (beta1, beta2)、"eps"、"weight_decay"、"amsgrad"、
"maximize"、"decoupled_weight_decay"）以及 self._params_with_grad(group) 给出的每个
(p, grad)：状态 self._state(p) 要跨步保存步数 t（第一步为 1）以及滑动平均 m（"exp_avg"）
和 v（"exp_avg_sq"），二者都从 0 开始（amsgrad 时还有 "max_exp_avg_sq"）。
    g = grad（maximize 时取负）；权重衰减 wd：AdamW（解耦）改为把 p.data 乘以
        (1 - lr * wd)，否则 g = g + wd * p.data
    m = beta1 m + (1 - beta1) g，  v = beta2 v + (1 - beta2) g^2
    amsgrad：v_max = max(v_max, v)，下面用它代替 v
    p.data -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
NOTE：eps 加在平方根*外面*；偏差修正用的是这个参数自己的 t。
""",
                ),
            ),
        ),
        _doc(
            "Count t from 1, per parameter; correct both moments by 1 - beta^t; add eps after "
            "the square root; with amsgrad keep the running max of v; AdamW shrinks the weights "
            "before the step instead of adding wd * p to g.",
            "t 从 1 开始，每个参数各自计数；两个矩都要除以 1 - beta^t 做偏差修正；eps 加在开方"
            "之后；amsgrad 要保存 v 的历史最大值；AdamW 是在这一步之前先把权重缩小，而不是把 "
            "wd * p 加进 g。",
        ),
    ),
    Step(
        12,
        "schedule",
        _doc(
            "learning-rate schedules: the seed's formulas and the true decays",
            "学习率调度：原文的公式与真正的衰减",
        ),
        _doc(
            "lecture 5, section 1; docs/optimization.md, section 3",
            "第 5 讲第 1 节；docs/optimization.zh-CN.md 第 3 节",
        ),
        (
            Blank(
                "lr_scheduler.py",
                "StepLR.lr_at",
                _doc(
                    """
The true step decay: the rate at step t, from the optimizer's initial rate base_lr.
alpha_t = alpha_0 * gamma ** floor(t / step_size)   (self.gamma, self.step_size)
""",
                    """
真正的阶梯衰减：第 t 步的学习率，从优化器的初始学习率 base_lr 算起。
alpha_t = alpha_0 * gamma ** floor(t / step_size)   （self.gamma、self.step_size）
""",
                ),
            ),
            Blank(
                "lr_scheduler.py",
                "ExponentialLR.lr_at",
                _doc(
                    """
The true exponential decay: alpha_t = alpha_0 * gamma ** t   (self.gamma).
""",
                    """
真正的指数衰减：alpha_t = alpha_0 * gamma ** t   （self.gamma）。
""",
                ),
            ),
            Blank(
                "lr_scheduler.py",
                "PolynomialLR.lr_at",
                _doc(
                    """
The formula the seed prints as "exponential decay" (section 3):
alpha_t = alpha_0 * (1 - min(t, T) / T) ** p   (T = self.total_iters, p = self.power)
It reaches 0 at t = T and stays there (torch's PolynomialLR).
""",
                    """
原文第 3 节印成"指数衰减"的那个公式：
alpha_t = alpha_0 * (1 - min(t, T) / T) ** p   （T = self.total_iters，p = self.power）
在 t = T 时降到 0 并保持不变（即 torch 的 PolynomialLR）。
""",
                ),
            ),
            Blank(
                "lr_scheduler.py",
                "LinearLR.lr_at",
                _doc(
                    """
A straight line from base_lr * start_factor to base_lr * end_factor over T steps:
alpha_t = alpha_0 * (s + (e - s) * min(t, T) / T)
(s = self.start_factor, e = self.end_factor, T = self.total_iters; torch's LinearLR).
With s = 0, e = 1 it is the seed's "step decay" alpha_0 * t / T, a linear ramp up.
""",
                    """
在 T 步内从 base_lr * start_factor 直线变到 base_lr * end_factor：
alpha_t = alpha_0 * (s + (e - s) * min(t, T) / T)
（s = self.start_factor，e = self.end_factor，T = self.total_iters；即 torch 的 LinearLR）。
s = 0、e = 1 时就是原文的"步长衰减" alpha_0 * t / T，其实是一条往上走的直线。
""",
                ),
            ),
        ),
        _doc(
            "Each rate is a closed form of t: floor division for the step decay, min(t, T) "
            "so that the polynomial and linear schedules stop changing after T steps.",
            "每个学习率都是 t 的一个闭式：阶梯衰减用整除；多项式和线性调度要用 min(t, T)，"
            "这样过了 T 步之后就不再变化。",
        ),
    ),
    Step(
        13,
        "loop",
        _doc("the seed's training loop", "原文的训练循环"),
        _doc(
            'lecture 6, "The program, fixed"; docs/lectures.md',
            "第 6 讲《修好的程序》；docs/lectures.zh-CN.md",
        ),
        (
            Blank(
                "loop.py",
                "train",
                _doc(
                    """
The seed's training loop (its section 4; lecture 6): train `model` for `epochs` passes over
`trainloader` and return the list of each epoch's mean training loss.

model: a Module (call it on a batch: (B, ...) inputs -> (B, 10) logits; model.train() sets
    training mode). trainloader: iterate it for (inputs, labels) batches of tensors; a new
    `for` over it is a new, reshuffled epoch; len(trainloader) is its number of batches.
optimizer: has zero_grad() and step(). criterion(outputs, labels): a 0-d loss tensor.
Per batch: clear the old gradients, forward, loss, backward, step, and add loss.item() to
the epoch's running loss; an epoch's mean is that sum / len(trainloader).
""",
                    """
原文的训练循环（原文第 4 节；第 6 讲）：让 `model` 在 `trainloader` 上训练 `epochs` 轮，
返回每一轮平均训练损失组成的列表。

model：一个 Module（对一个批次调用它：(B, ...) 的输入 -> (B, 10) 的 logits；model.train()
    切换到训练模式）。trainloader：遍历它得到由张量组成的 (inputs, labels) 批次；每次新的
    `for` 循环就是重新打乱顺序的新一轮；len(trainloader) 是每轮的批次数。
optimizer：有 zero_grad() 和 step()。criterion(outputs, labels)：返回 0 维的损失张量。
每个批次：清掉旧梯度、前向、算损失、反向、更新一步，把 loss.item() 累加到这一轮的
running loss 上；一轮的平均值就是这个和除以 len(trainloader)。
""",
                ),
            ),
        ),
        _doc(
            "Gradients add up (+=) across backward calls: zero them before each backward. "
            "Return one mean loss per epoch, and iterate the loader once per epoch.",
            "梯度在多次 backward 之间是累加（+=）的：每次 backward 之前都要清零。每轮返回一个平均"
            "损失，并且每轮只遍历 loader 一次。",
        ),
    ),
    Step(
        14,
        "conv2d",
        _doc("convolution as im2col + one matrix product", "卷积 = im2col + 一次矩阵乘法"),
        _doc(
            'lecture 9, "Convolution: a sliding dot product"; docs/cnn.md, sections 1-2',
            "第 9 讲《卷积：滑动的点积》；docs/cnn.zh-CN.md 前两节",
        ),
        (
            Blank(
                "conv.py",
                "sliding_windows.backward",
                _doc(
                    """
col2im: the backward of sliding_windows (the view of every kh x kw patch).

g: dL/d(windows), shape (N, C, OH, OW, kh, kw). In scope: N, C, H, W (the input's
shape), Hp = H + 2 ph, Wp = W + 2 pw (padded), kh, kw, sh, sw (stride), ph, pw, OH, OW.
Window (i, j) holds x_padded[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw], so pixel
x_padded[n, c, i*sh + a, j*sw + b] was copied into window (i, j) at kernel offset (a, b),
once for every window that covers it: its gradient is the sum of those copies' gradients.
Return (dL/dx,) of shape (N, C, H, W): build the padded gradient (zeros (N, C, Hp, Wp)),
add every window's gradient back where the window came from, and cut the padding off.
Loop over the kh * kw kernel offsets if you like, not over pixels.
""",
                    """
col2im：sliding_windows（每个 kh x kw 小块的视图）的反向传播。

g：dL/d(windows)，形状 (N, C, OH, OW, kh, kw)。可以直接用的变量：N、C、H、W（输入的形状）、
Hp = H + 2 ph、Wp = W + 2 pw（补边之后）、kh、kw、sh、sw（步长）、ph、pw、OH、OW。
窗口 (i, j) 是 x_padded[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw]，所以像素
x_padded[n, c, i*sh + a, j*sw + b] 在卷积核偏移 (a, b) 处被复制进了窗口 (i, j)，
覆盖它的每个窗口各复制一次：它的梯度就是这些副本梯度之和。
返回形状为 (N, C, H, W) 的 (dL/dx,)：先建一个补过边的梯度（(N, C, Hp, Wp) 的零），把每个
窗口的梯度加回它来的地方，再把补的边切掉。可以对 kh * kw 个核偏移做循环，但不要对像素循环。
""",
                ),
            ),
            Blank(
                "conv.py",
                "conv2d",
                _doc(
                    """
2-D convolution (cross-correlation, as in torch's F.conv2d), by im2col and ONE matrix
product: input (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> (N, O, OH, OW),

    out[n, o, i, j] = bias[o] + sum over c, a, b of weight[o, c, a, b] * patch(i, j)[c, a, b]

with OH = (H + 2 * padding - kh) // stride + 1 (OW likewise). stride and padding are an
int or a pair (as_pair(value, name) makes a pair); padding may also be "valid" or "same"
(_conv_padding turns them into numbers).
1. windows = sliding_windows(input, (kh, kw), stride, padding): (N, C, OH, OW, kh, kw)
2. cols: one patch per row, (N * OH * OW, C * kh * kw) (permute, then reshape)
3. kernels: one kernel per row, (O, C * kh * kw), its values in the SAME order as a row of cols
4. out = cols @ kernels^T: (N * OH * OW, O), reshaped to (N, OH, OW, O), permuted to
   (N, O, OH, OW); then add the bias, reshaped to (1, O, 1, 1).
Tensor ops only (permute, reshape, @, +), so the gradient comes for free. groups > 1 and
dilation != 1 may raise NotImplementedError (the check uses groups=1).
""",
                    """
二维卷积（和 torch 的 F.conv2d 一样，其实是互相关），用 im2col 加*一次*矩阵乘法实现：
input (N, C, H, W)、weight (O, C, kh, kw)、bias (O,) 或 None -> (N, O, OH, OW)，

    out[n, o, i, j] = bias[o] + 对 c, a, b 求和 weight[o, c, a, b] * patch(i, j)[c, a, b]

其中 OH = (H + 2 * padding - kh) // stride + 1（OW 同理）。stride、padding 可以是整数或
二元组（as_pair(value, name) 会变成二元组）；padding 还可以是 "valid" 或 "same"
（_conv_padding 会换算成数字）。
1. windows = sliding_windows(input, (kh, kw), stride, padding)：(N, C, OH, OW, kh, kw)
2. cols：每行一个小块，(N * OH * OW, C * kh * kw)（先 permute 再 reshape）
3. kernels：每行一个卷积核，(O, C * kh * kw)，元素顺序必须和 cols 的一行*相同*
4. out = cols @ kernels^T：(N * OH * OW, O)，reshape 成 (N, OH, OW, O)，再 permute 成
   (N, O, OH, OW)；最后加上 reshape 成 (1, O, 1, 1) 的 bias。
只用 Tensor 运算（permute、reshape、@、+），梯度就能白白得到。groups > 1 或 dilation != 1
时可以抛 NotImplementedError（检查只用 groups=1）。
""",
                ),
            ),
        ),
        _doc(
            "A row of cols and a row of kernels must list (channel, row, column) in the same "
            "order; col2im ADDS (+=) each window's gradient into the padded image, since "
            "overlapping windows share pixels, and then drops the padding.",
            "cols 的一行和 kernels 的一行必须按同样的顺序排列（通道、行、列）；col2im 要把每个窗口"
            "的梯度*加*（+=）回补过边的图像里，因为重叠的窗口共用像素，最后再去掉补的边。",
        ),
    ),
    Step(
        15,
        "attention",
        _doc("causal self-attention", "带因果掩码的自注意力"),
        _doc(
            'lecture 10, section 3 "Self-attention, with a causal mask"; docs/gpt.md',
            "第 10 讲第 3 节《带因果掩码的自注意力》；docs/gpt.zh-CN.md",
        ),
        (
            Blank(
                "functional.py",
                "scaled_dot_product_attention",
                _doc(
                    """
softmax(q k^T * scale + mask) v: torch's F.scaled_dot_product_attention (Vaswani et al.
2017, section 3.2.1).

query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); in a GPT the
leading dimensions are (B, n_head) and L = S = T.
scale: 1 / sqrt(E) when None. scores = query @ key^T (the last two axes) * scale: (..., L, S).
is_causal: query position i may look at keys j <= i only (a lower-triangular mask):
    scores[..., i, j] = -inf for j > i, so those weights come out exactly 0.
attn_mask (when given, never together with is_causal): a boolean mask keeps the scores
    where it is True (-inf elsewhere); a float mask is added to the scores.
weights = softmax(scores, dim=-1); dropout(weights, dropout_p) when dropout_p > 0;
return weights @ value. Tensor ops only (masked_fill, softmax from functional, @).
""",
                    """
softmax(q k^T * scale + mask) v：即 torch 的 F.scaled_dot_product_attention（Vaswani 等
2017，第 3.2.1 节）。

query (..., L, E)、key (..., S, E)、value (..., S, Ev) -> (..., L, Ev)；在 GPT 里前面的维度
是 (B, n_head)，并且 L = S = T。
scale：为 None 时取 1 / sqrt(E)。scores = query @ key^T（最后两个轴）* scale：(..., L, S)。
is_causal：查询位置 i 只能看 j <= i 的键（下三角掩码）：
    j > i 时 scores[..., i, j] = -inf，这样这些权重正好是 0。
attn_mask（给了的话，不会和 is_causal 同时出现）：布尔掩码在 True 处保留分数（其余为 -inf）；
    浮点掩码直接加到分数上。
weights = softmax(scores, dim=-1)；dropout_p > 0 时 dropout(weights, dropout_p)；
返回 weights @ value。只用 Tensor 运算（masked_fill、functional 里的 softmax、@）。
""",
                ),
            ),
        ),
        _doc(
            "Mask with -inf BEFORE the softmax (a 0 after it would not renormalise the row), "
            "keep j <= i (np.tril), and scale by 1/sqrt(E) with E the query's last dimension.",
            "在 softmax *之前*用 -inf 做掩码（softmax 之后再置 0，这一行就不再归一了）；保留 "
            "j <= i（np.tril）；缩放因子是 1/sqrt(E)，E 是 query 的最后一维。",
        ),
    ),
)

_BY_NAME = {step.name: step for step in STEPS}


def find_step(key: str | int) -> Step:
    """A step by its number ("3", 3) or its name ("matmul"); a clear error otherwise."""
    text = str(key).strip().lower()
    if text.isdigit() and 1 <= int(text) <= len(STEPS):
        return STEPS[int(text) - 1]
    if text in _BY_NAME:
        return _BY_NAME[text]
    names = ", ".join(f"{s.number} {s.name}" for s in STEPS)
    raise ConfigError(f"unknown step {key!r}: the steps are {names} (a number or a name).")


def blanks_in(file: str) -> list[tuple[Step, Blank]]:
    return [(step, blank) for step in STEPS for blank in step.blanks if blank.file == file]
