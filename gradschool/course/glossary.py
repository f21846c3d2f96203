"""The course's glossary: one table, English and 简体中文 side by side.

Each term names the lecture that introduces it; tests/test_lectures.py checks that the term
(or one of its `forms`, as the text writes it) appears in that lecture's English text and its
Chinese term in the Chinese text. site.py renders the table as glossary.html / glossary.md,
linked from every report. The Chinese terms are the ones the lectures and docs/*.zh-CN.md use
(for stride 步幅, as zh.d2l.ai; for StepLR 阶梯衰减).

To add a term: one Term(...) line below, in the order of the lectures.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TERMS", "Term"]


@dataclass(frozen=True)
class Term:
    """A term: English and Chinese names, the lecture that introduces it, one-line
    definitions, and other spellings the lecture text may use (matched without case)."""

    en: str
    zh: str
    lecture: int
    en_def: str
    zh_def: str
    en_forms: tuple[str, ...] = ()
    zh_forms: tuple[str, ...] = ()

    def forms(self, language: str) -> tuple[str, ...]:
        """The spellings to look for in the lecture's text of `language`."""
        if language == "zh":
            return (self.zh, *self.zh_forms)
        return (self.en, *self.en_forms)


TERMS: tuple[Term, ...] = (
    # Lecture 1: from a neuron to an MLP
    Term("neuron", "神经元", 1,
         "A weighted sum of the inputs plus a bias, passed through an activation function.",
         "对输入加权求和、加上偏置，再经过激活函数。"),
    Term("weight", "权重", 1,
         "A learned factor by which a neuron multiplies one of its inputs.",
         "神经元乘在某个输入上的系数，由训练学出来。"),
    Term("bias", "偏置", 1,
         "A learned constant a neuron adds to its weighted sum.",
         "神经元在加权和上额外加的一个可学习常数。"),
    Term("activation function", "激活函数", 1,
         "The non-linear function applied to a neuron's sum (ReLU, sigmoid, tanh); without it "
         "stacked layers collapse into one linear map.",
         "作用在神经元加权和上的非线性函数（ReLU、sigmoid、tanh）；没有它，多层叠起来仍然只是一个线性变换。"),
    Term("ReLU", "ReLU", 1,
         "max(0, z): the activation function most networks use.",
         "max(0, z)：大多数网络用的激活函数。"),
    Term("layer", "层", 1,
         "Many neurons reading the same inputs, computed together as one matrix product.",
         "读同一组输入的许多神经元，合起来用一次矩阵乘法算出。"),
    Term("multi-layer perceptron (MLP)", "多层感知机", 1,
         "Fully connected layers stacked with activation functions between them.",
         "若干全连接层叠在一起，层与层之间夹着激活函数。",
         en_forms=("multi-layer perceptron", "MLP")),
    Term("parameter", "参数", 1,
         "A number the training adjusts: every weight and bias of the model.",
         "训练时要调整的数：模型里所有的权重和偏置。"),
    Term("logit", "logit", 1,
         "A raw class score before softmax turns the scores into probabilities.",
         "softmax 之前的原始类别分数。"),
    Term("softmax", "softmax", 1,
         "exp(z_k) / Σ_j exp(z_j): turns scores into probabilities that sum to 1.",
         "exp(z_k) / Σ_j exp(z_j)：把一组分数变成和为 1 的概率。"),
    Term("loss", "损失", 1,
         "One number saying how wrong the model's outputs are; training makes it small.",
         "衡量模型输出错得有多离谱的一个数；训练就是把它降下来。"),
    # Lecture 2: gradient descent
    Term("gradient", "梯度", 2,
         "The vector of a function's partial derivatives: the direction of steepest ascent.",
         "函数对各个变量的偏导数组成的向量，指向上升最快的方向。"),
    Term("gradient descent", "梯度下降", 2,
         "θ ← θ − α∇J(θ): repeatedly step against the gradient of the loss.",
         "θ ← θ − α∇J(θ)：一次次沿着损失梯度的反方向走一步。"),
    Term("learning rate", "学习率", 2,
         "α, the factor that scales each gradient step.",
         "α，每一步梯度更新乘上的系数。"),
    Term("step size", "步长", 2,
         "How far one update moves the parameters; the learning rate times the gradient's length.",
         "一次更新让参数移动的距离，等于学习率乘以梯度的长度。",
         en_forms=("step",)),
    Term("momentum", "动量", 2,
         "A running sum of past gradients that the update follows, smoothing and speeding it.",
         "把过去的梯度累加成“速度”，更新沿着它走，既平滑又更快。"),
    Term("Adam", "Adam", 2,
         "An optimizer that scales each coordinate's step by running averages of the gradient "
         "and of its square.",
         "用梯度及其平方的滑动平均给每个坐标单独调整步长的优化器。"),
    Term("stochastic gradient descent (SGD)", "随机梯度下降", 2,
         "Gradient descent on the gradient of one example (or a small batch) at a time.",
         "每次只用一个样本（或一小批样本）的梯度做梯度下降。",
         en_forms=("stochastic gradient descent", "SGD")),
    # Lecture 3: backpropagation
    Term("backpropagation", "反向传播", 3,
         "The chain rule applied from the loss backwards through the network: every gradient in "
         "one pass.",
         "从损失出发、沿网络往回应用链式法则，一遍算出所有梯度。"),
    Term("chain rule", "链式法则", 3,
         "The derivative of a composition is the product of the derivatives along each path, "
         "summed over paths.",
         "复合函数的导数等于每条路径上导数的乘积，再对所有路径求和。"),
    Term("computational graph", "计算图", 3,
         "The record of the operations that computed a value, walked backwards by backward().",
         "记录一个值是由哪些运算算出来的；backward() 沿着它往回走。"),
    Term("forward pass", "前向传播", 3,
         "Computing the outputs and the loss from the inputs.",
         "从输入算出输出和损失的过程。",
         zh_forms=("前向计算", "前向")),
    Term("finite difference", "有限差分", 3,
         "(f(x + ε) − f(x − ε)) / 2ε: a derivative estimated from two evaluations, used to check "
         "gradients.",
         "(f(x + ε) − f(x − ε)) / 2ε：用两次函数求值估计导数，用来检查梯度。"),
    Term("autograd", "自动求导", 3,
         "Automatic differentiation: the library records the operations and computes the "
         "gradients itself.",
         "自动微分：库记下运算过程，自己把梯度算出来。"),
    # Lecture 4: batch modes
    Term("full-batch gradient descent", "批量梯度下降", 4,
         "Each step uses the gradient over the whole training set.",
         "每一步都用整个训练集上的梯度。",
         en_forms=("full-batch",)),
    Term("mini-batch", "小批量", 4,
         "A small random subset of the training examples whose average gradient makes one step.",
         "从训练集中随机取的一小批样本，用它们的平均梯度走一步。"),
    Term("batch size", "批量大小", 4,
         "The number of examples in one mini-batch.",
         "一个小批量里的样本数。"),
    Term("epoch", "轮", 4,
         "One pass over the whole training set.",
         "把整个训练集完整过一遍。"),
    Term("gradient noise", "梯度噪声", 4,
         "The difference between a mini-batch's gradient and the full gradient; it shrinks as the "
         "batch grows.",
         "小批量梯度与全量梯度之差；批量越大，噪声越小。"),
    # Lecture 5: learning-rate schedules
    Term("learning-rate schedule", "学习率调度", 5,
         "A rule that changes the learning rate during training.",
         "训练过程中改变学习率的规则。",
         zh_forms=("学习率调整策略", "调度策略")),
    Term("exponential decay", "指数衰减", 5,
         "α_t = α₀ γ^t: the rate shrinks by the same factor every step.",
         "α_t = α₀ γ^t：学习率每一步乘同一个系数。"),
    Term("step decay (StepLR)", "阶梯衰减", 5,
         "α_t = α₀ γ^⌊t/s⌋: the rate drops by γ every s steps, a staircase (PyTorch's StepLR; "
         "the source calls it 步长衰减).",
         "α_t = α₀ γ^⌊t/s⌋：每隔 s 步乘一次 γ，学习率呈台阶状"
         "（PyTorch 的 StepLR；原文叫“步长衰减”）。",
         en_forms=("step decay",)),
    Term("polynomial decay", "多项式衰减", 5,
         "α_t = α₀ (1 − t/T)^p: reaches 0 at step T (what the source calls exponential decay).",
         "α_t = α₀ (1 − t/T)^p：第 T 步时降到 0（原文把它叫作指数衰减）。"),
    Term("cosine annealing", "余弦退火", 5,
         "The rate follows half a cosine from α₀ down to a minimum.",
         "学习率沿半个余弦周期从 α₀ 降到最小值。"),
    Term("warm-up", "预热", 5,
         "A few first steps whose rate rises from small to α₀, to avoid unstable early updates.",
         "开头若干步让学习率从很小升到 α₀，避免刚开始的更新不稳定。"),
    Term("hyper-parameter", "超参数", 5,
         "A setting chosen before training (learning rate, batch size, γ), not learned by it.",
         "训练之前定下、不由训练学出来的设置（学习率、批量大小、γ 等）。"),
    # Lecture 6: the source's MNIST example
    Term("cross-entropy", "交叉熵", 6,
         "−log of the probability the model gives the true class: the classification loss.",
         "模型给正确类别的概率取负对数：分类任务的损失。"),
    Term("validation set", "验证集", 6,
         "Examples held out of training to make choices with (early stopping, hyper-parameters).",
         "不参与训练、留着做选择用的样本（早停、选超参数）。"),
    # Lecture 7: overfitting and regularization
    Term("overfitting", "过拟合", 7,
         "Fitting the training data's noise: training accuracy rises while validation accuracy "
         "does not.",
         "把训练数据里的噪声也学了进去：训练准确率还在涨，验证准确率却不涨了。"),
    Term("regularization", "正则化", 7,
         "Anything that limits how closely a model can fit its training data, to generalize "
         "better.",
         "一切限制模型过分贴合训练数据、让它泛化得更好的手段。"),
    Term("weight decay", "权重衰减", 7,
         "Shrinking every weight a little at each step (an L2 penalty for SGD).",
         "每一步都把权重缩小一点（对 SGD 来说等价于 L2 惩罚）。"),
    Term("dropout", "dropout", 7,
         "Zeroing random activations during training so no unit can rely on another.",
         "训练时随机把一部分激活置零，让单元之间不能互相依赖。"),
    Term("early stopping", "早停", 7,
         "Stopping training when the validation loss has stopped improving.",
         "验证损失不再下降时就停止训练。"),
    Term("data augmentation", "数据增强", 7,
         "Training on randomly changed copies of the examples (shifted, flipped, cropped).",
         "用随机变换过的样本副本训练（平移、翻转、裁剪）。",
         en_forms=("augmentation",)),
    # Lecture 8: evaluation
    Term("test set", "测试集", 8,
         "Examples used once, at the end, to measure the chosen model; never to choose.",
         "只在最后用一次、衡量选定模型的样本；绝不用来做选择。"),
    Term("k-fold cross-validation", "k 折交叉验证", 8,
         "Train k times, each time validating on a different k-th of the data; average the "
         "k scores.",
         "训练 k 次，每次用不同的 1/k 数据做验证，再把 k 个分数取平均。",
         en_forms=("cross-validation",)),
    Term("confusion matrix", "混淆矩阵", 8,
         "Counts of (true class, predicted class) pairs: which classes are mistaken for which.",
         "（真实类别，预测类别）的计数表：看出哪些类别被错认成了哪些。"),
    Term("precision", "精确率", 8,
         "Of the examples predicted as a class, the share that really are.",
         "预测为某一类的样本中，真正属于这一类的比例。"),
    Term("recall", "召回率", 8,
         "Of the examples of a class, the share predicted as it.",
         "某一类的样本中，被预测为这一类的比例。"),
    Term("standard error", "标准误差", 8,
         "The spread of a measured value over repeated samples; for an accuracy p on n examples, "
         "√(p(1 − p)/n).",
         "一个测量值在重复抽样下的波动；n 个样本上测得准确率 p 时是 √(p(1 − p)/n)。"),
    # Lecture 9: convolutional networks
    Term("convolution", "卷积", 9,
         "Sliding a small kernel over the image and taking a weighted sum at every position.",
         "把一个小卷积核在图像上滑动，在每个位置做加权求和。"),
    Term("kernel", "卷积核", 9,
         "The small weight array a convolution slides over its input.",
         "卷积在输入上滑动的那一小块权重。"),
    Term("stride", "步幅", 9,
         "How many pixels a kernel or pooling window moves between positions.",
         "卷积核或池化窗口每次移动的像素数。"),
    Term("padding", "填充", 9,
         "Zeros added around the input so the kernel can be centred on the border pixels.",
         "在输入四周补的 0，让卷积核也能对准边缘的像素。"),
    Term("pooling", "池化", 9,
         "Summarising each window by its maximum or mean, shrinking the feature map.",
         "用窗口内的最大值或平均值代表整个窗口，把特征图缩小。"),
    Term("feature map", "特征图", 9,
         "One channel of a convolution's output: where in the image the kernel's pattern occurs.",
         "卷积输出的一个通道：卷积核的图案出现在图像的哪些位置。"),
    Term("batch normalisation", "批归一化", 9,
         "Normalising each channel by the batch's mean and variance, then scaling and shifting.",
         "用批次的均值和方差把每个通道标准化，再做缩放和平移。",
         en_forms=("batch norm",)),
    Term("residual block", "残差块", 9,
         "Layers whose input is added to their output, y = x + f(x), so very deep networks train.",
         "把输入直接加到输出上的一组层，y = x + f(x)，很深的网络因此能训练。",
         en_forms=("residual",)),
    # Lecture 10: a character-level GPT
    Term("language model", "语言模型", 10,
         "A model of the probability of the next token given the previous ones.",
         "给定前面的 token，预测下一个 token 概率的模型。"),
    Term("token", "词元", 10,
         "The unit a language model reads and predicts: here a character, in GPT-3 a piece of "
         "a word.",
         "语言模型读入和预测的单位：这里是一个字符，GPT-3 里是词的一部分。"),
    Term("embedding", "嵌入", 10,
         "A learned vector for each token (and each position), the model's input.",
         "为每个 token（以及每个位置）学出的向量，是模型的输入。"),
    Term("self-attention", "自注意力", 10,
         "Each position takes a weighted average of the others' values, weighted by how well "
         "its query matches their keys.",
         "每个位置按自己的 query 与其他位置 key 的匹配程度，对它们的 value 加权平均。"),
    Term("causal mask", "因果掩码", 10,
         "Hides the future positions from attention, so a position predicts only from the past.",
         "在注意力里遮住后面的位置，让每个位置只能根据前文做预测。"),
    Term("Transformer", "Transformer", 10,
         "A stack of blocks of self-attention and an MLP, each with a residual connection and "
         "layer norm.",
         "由自注意力和 MLP 组成的块堆叠而成，每块都带残差连接和层归一化。"),
    Term("layer norm", "层归一化", 10,
         "Normalising each position's vector by its own mean and variance.",
         "用每个位置向量自己的均值和方差把它标准化。"),
    Term("perplexity", "困惑度", 10,
         "exp of the cross-entropy: the number of tokens the model hesitates between, on average.",
         "交叉熵的指数：平均说来，模型在多少个 token 之间犹豫。"),
    Term("temperature", "温度", 10,
         "Divides the logits before sampling: below 1 sharper, above 1 more random.",
         "采样前把 logit 除以它：小于 1 更确定，大于 1 更随机。"),
    # Lecture 11: applications beyond digits
    Term("waveform", "波形", 11,
         "A sound as the list of its air-pressure samples over time.",
         "声音按时间采样得到的一串气压值。"),
    Term("sample rate", "采样率", 11,
         "Samples per second of a recording, f_s: 8,000 for the spoken digits.",
         "录音每秒的采样点数 f_s：数字语音数据是 8,000。"),
    Term("frame and hop length", "帧与帧移", 11,
         "The STFT cuts the waveform into frames of N samples, each H samples (the hop) after "
         "the last, so that frames overlap.",
         "STFT 把波形切成每段 N 个采样点的帧，相邻两帧相隔 H 个采样点（帧移），帧与帧互相重叠。",
         en_forms=("frame length", "hop"), zh_forms=("帧移",)),
    Term("window function (Hann)", "窗函数", 11,
         "A curve that fades a frame in and out before its Fourier transform, such as Hann's "
         "1/2 - cos(2πn/N)/2.",
         "在做傅里叶变换前让一帧两端平滑淡入淡出的曲线，如 Hann 窗 1/2 - cos(2πn/N)/2。",
         en_forms=("Hann window", "window")),
    Term("spectral leakage", "频谱泄漏", 11,
         "A frame's abrupt edges spread a pure tone's energy over many frequency bins; a window "
         "reduces it.",
         "帧的边缘突然截断，会把一个纯音的能量摊到许多频点上；加窗能减轻它。"),
    Term("STFT (short-time Fourier transform)", "短时傅里叶变换", 11,
         "The Fourier transform of each windowed frame: which frequencies are present, and when.",
         "对加窗后的每一帧做傅里叶变换：有哪些频率、在什么时候出现。",
         en_forms=("STFT",)),
    Term("mel scale", "梅尔刻度", 11,
         "A pitch scale close to how we hear, m(f) = 2595 log10(1 + f/700): finer at low "
         "frequencies.",
         "接近人耳听感的音高刻度，m(f) = 2595 log10(1 + f/700)：低频处分得更细。"),
    Term("mel filter bank", "梅尔滤波器组", 11,
         "Triangular filters equally spaced on the mel scale, each summing the power of a band "
         "of frequencies.",
         "在梅尔刻度上等距排列的三角滤波器，每个把一段频率的功率加起来。"),
    Term("log-mel spectrogram", "对数梅尔频谱图", 11,
         "The mel filter bank's outputs in decibels, frame by frame: the picture of a sound a CNN "
         "learns from.",
         "逐帧取梅尔滤波器组输出的分贝值：CNN 学习用的那张声音的图。",
         en_forms=("log-mel",), zh_forms=("对数梅尔",)),
    Term("MFCC", "梅尔频率倒谱系数", 11,
         "Mel-frequency cepstral coefficients: a DCT of the log-mel spectrum, keeping its first "
         "few terms.",
         "梅尔频率倒谱系数：对对数梅尔谱做 DCT，保留前几项。"),
    Term("speaker-held-out split", "留出说话人", 11,
         "Testing on a speaker whose voice was never in training: the honest measure for a new "
         "user.",
         "用训练时从没出现过的说话人来测试：对新用户最诚实的衡量。",
         en_forms=("held-out speaker",)),
    Term("agent and environment", "智能体与环境", 11,
         "The agent chooses actions; the environment answers with the next state and a reward.",
         "智能体选择动作；环境给出下一个状态和奖励。",
         en_forms=("agent",), zh_forms=("智能体",)),
    Term("episode", "局", 11,
         "One game from start to end, e.g. until the pole falls.",
         "从开始到结束的一整局游戏，比如直到杆子倒下。"),
    Term("return", "回报", 11,
         "The (discounted) sum of the rewards from a step to the end of the episode, G_t.",
         "从某一步到这局结束的（折扣后的）奖励之和 G_t。"),
    Term("discount factor", "折扣因子", 11,
         "γ < 1: a reward k steps later counts γ^k as much.",
         "γ < 1：k 步之后的奖励只算 γ^k 的份量。",
         en_forms=("discount",), zh_forms=("折扣",)),
    Term("policy", "策略", 11,
         "The network that gives the probability of each action in a state, π(a | s).",
         "给出每个状态下各动作概率的网络 π(a | s)。"),
    Term("policy-gradient theorem", "策略梯度定理", 11,
         "∇J = E[∇ log π(a_t | s_t) G_t]: the gradient of the expected return, estimated from "
         "played episodes without a model of the game.",
         "∇J = E[∇ log π(a_t | s_t) G_t]：期望回报的梯度，只用玩过的局就能估计，"
         "不需要游戏的模型。"),
    Term("baseline", "基线", 11,
         "A value b(s) subtracted from the return: the gradient stays unbiased, its variance "
         "falls.",
         "从回报中减去的 b(s)：梯度仍然无偏，方差变小。"),
    Term("advantage", "优势", 11,
         "A_t = G_t - V(s_t): how much better the action did than usual.",
         "A_t = G_t - V(s_t)：这个动作的结果比平常好了多少。"),
    Term("value network", "价值网络", 11,
         "An MLP trained to predict the return V(s) of a state: the baseline (the critic).",
         "训练来预测状态回报 V(s) 的 MLP：用作基线（评论家）。"),
    Term("REINFORCE", "REINFORCE", 11,
         "The policy gradient with whole-episode returns (Williams 1992).",
         "用整局回报的策略梯度算法（Williams 1992）。"),
    Term("A2C", "A2C", 11,
         "Advantage actor-critic: many environments, n-step returns bootstrapped from the value "
         "network, frequent updates.",
         "优势演员-评论家：多个环境并行，用价值网络自举 n 步回报，更新频繁。"),
    Term("sequence-to-sequence", "序列到序列", 11,
         "A task that turns one sequence into another (translation); here written as "
         "`source=target` lines for a GPT.",
         "把一个序列变成另一个序列的任务（翻译）；这里写成 `源=目标` 的行交给 GPT。"),
    Term("greedy decoding", "贪心解码", 11,
         "Generating by always taking the likeliest next token (temperature 0).",
         "每次都取最可能的下一个 token 来生成（温度 0）。"),
    Term("exact match", "完全匹配率", 11,
         "The share of outputs identical to the reference, character for character.",
         "输出和参考答案逐字符完全相同的比例。"),
    Term("image-folder layout", "图像文件夹结构", 11,
         "A data set as image files in one folder per class (root/train/<class>/...), labelled "
         "by sorted folder name, as ImageNet is stored.",
         "按类别一个文件夹存放图片文件的数据集（root/train/<类别>/...），"
         "标签按文件夹名排序而定；ImageNet 就是这样存的。",
         en_forms=("image-folder",), zh_forms=("图像文件夹",)),
    # Lecture 12: the challenges
    Term("FLOP", "浮点运算", 12,
         "One floating-point addition or multiplication; a matrix product of (m, k) by (k, n) "
         "is 2mkn of them.",
         "一次浮点加法或乘法；(m, k) 乘 (k, n) 的矩阵乘法要 2mkn 次。"),
    Term("throughput (FLOP/s)", "吞吐量（FLOP/s）", 12,
         "Floating-point operations per second a device sustains: the counted FLOPs over the "
         "measured time.",
         "设备每秒实际完成的浮点运算次数：数出的运算次数除以测得的时间。",
         en_forms=("FLOP/s",), zh_forms=("FLOP/s",)),
    Term("mixed precision", "混合精度", 12,
         "Products in 16-bit floats, weights kept and updated in float32.",
         "乘法用 16 位浮点数做，权重用 float32 保存和更新。"),
    Term("bfloat16", "bfloat16", 12,
         "A 16-bit float with float32's 8 exponent bits and 7 mantissa bits: its range, not its "
         "precision.",
         "16 位浮点格式，8 个指数位（与 float32 相同）、7 个尾数位：保留了范围，没有保留精度。"),
    Term("exponent and mantissa bits", "指数位与尾数位", 12,
         "A float is ±1.m × 2^e: the exponent bits set its range, the mantissa bits its "
         "precision (the gap after 1 is 2^-M).",
         "浮点数是 ±1.m × 2^e：指数位决定范围，尾数位决定精度（1 之后的间隔是 2^-M）。",
         en_forms=("exponent bits",), zh_forms=("指数位",)),
    Term("loss scaling", "损失缩放", 12,
         "Multiplying the loss before backward (and the gradients back after) so float16 "
         "gradients do not underflow.",
         "反向传播前把损失乘大（之后再把梯度除回来），免得 float16 的梯度下溢成 0。"),
    Term("data parallelism", "数据并行", 12,
         "Each process computes the gradient of its share of the batch; the gradients are "
         "averaged, so all keep the same weights.",
         "每个进程算批次中自己那一份的梯度，再把梯度平均，所有进程的权重始终相同。"),
    Term("all-reduce", "全归约", 12,
         "A collective operation that sums (or averages) a tensor across processes and gives "
         "every process the result.",
         "把各进程的一个张量求和（或平均）、再把结果发给每个进程的集合通信操作。"),
    Term("DDP (DistributedDataParallel)", "DDP（DistributedDataParallel）", 12,
         "PyTorch's data-parallel wrapper: it all-reduces the gradients during the backward pass.",
         "PyTorch 的数据并行封装：在反向传播过程中对梯度做全归约。",
         en_forms=("DistributedDataParallel",), zh_forms=("DistributedDataParallel",)),
    Term("attribution", "归因", 12,
         "A score for each input feature saying how much it contributed to a decision.",
         "给每个输入特征打分，说明它对一个决定贡献了多少。"),
    Term("saliency map", "显著图", 12,
         "The gradient of the class score with respect to each pixel, as an image.",
         "类别分数对每个像素的梯度，画成一张图。"),
    Term("SmoothGrad", "SmoothGrad", 12,
         "The saliency averaged over copies of the input with noise added: less speckled.",
         "给输入加噪声、在多份拷贝上平均显著图：斑点更少。"),
    Term("integrated gradients", "积分梯度", 12,
         "(x - x') times the gradient averaged along the straight path from a baseline x' to x.",
         "(x - x') 乘以从基线 x' 到 x 的直线路径上的平均梯度。"),
    Term("completeness", "完备性", 12,
         "Integrated gradients' attributions add up to f(x) - f(x').",
         "积分梯度的各项归因加起来等于 f(x) - f(x')。"),
    Term("occlusion", "遮挡", 12,
         "Attribution by covering a patch of the input and measuring how much the score drops.",
         "遮住输入的一块，看分数下降多少，以此作为归因。"),
    Term("randomisation test", "随机化检验", 12,
         "A sanity check: an attribution method that gives the same maps for a model with "
         "random weights explains the input, not the model.",
         "合理性检验：如果一种归因方法对随机权重的模型也给出同样的图，它解释的是输入而不是模型。"),
    Term("membership inference", "成员推断攻击", 12,
         "Telling from a model's outputs (e.g. its loss) whether an example was in its training "
         "set.",
         "根据模型的输出（比如损失）判断一个样本是否在它的训练集里。",
         en_forms=("membership-inference",)),
    Term("differential privacy", "差分隐私", 12,
         "(ε, δ): the result changes little in distribution whether or not any one example is "
         "in the data.",
         "(ε, δ)：无论数据里有没有某一个样本，结果的分布都变化很小。",
         en_forms=("differentially private",)),
    Term("DP-SGD", "DP-SGD", 12,
         "SGD made differentially private: clip each example's gradient, add Gaussian noise to "
         "the sum (Abadi et al. 2016).",
         "差分隐私的 SGD：把每个样本的梯度裁剪，再给梯度之和加高斯噪声（Abadi 等 2016）。"),
    Term("per-example clipping", "逐样本裁剪", 12,
         "Scaling each example's gradient down to norm at most C, so no one example moves the "
         "sum by more than C.",
         "把每个样本的梯度缩放到范数不超过 C，任何一个样本都不能让梯度之和移动超过 C。",
         en_forms=("clip each example",)),
    Term("noise multiplier", "噪声乘子", 12,
         "σ: the noise added to the clipped sum has standard deviation σC.",
         "σ：加到裁剪后梯度之和上的噪声，标准差是 σC。"),
    Term("privacy accountant", "隐私会计", 12,
         "Computes the (ε, δ) that T steps of DP-SGD at noise σ and sampling rate q spend.",
         "计算 T 步噪声为 σ、采样率为 q 的 DP-SGD 花掉的 (ε, δ)。",
         en_forms=("accountant",)),
)  # fmt: skip
