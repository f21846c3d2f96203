"""The schema of a run: the settings of `gradschool train`, as nested dataclasses.

A `Config` describes one run (house style rule 8: nanoGPT's configurator done right, with no
`exec` and no globals). Its sections are plain dataclasses whose fields are declared with
`setting`; reading and writing TOML, `--key value` overrides, type conversion, range checks
and `describe` come from the settings library (gradschool/settings/), so adding a setting is
one line:

    weight_decay: float = setting(0.0, ge=0, help="L2 penalty added to the gradient")

`Config()` is the seed's recipe (seed section 4): an MLP 784-128-64-10 with ReLU, trained with
cross-entropy and SGD (lr 0.01, momentum 0.9) for 10 epochs. The seed states no batch size;
ours is 64.

The rules between settings are stated here, once, in each section's `cross_check`: for
instance that the NumPy engine runs on the CPU, in one process, without compile or bf16
(`TrainConfig`), or that a warm-up cannot precede plateau or one-cycle (`ScheduleConfig`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gradschool import settings
from gradschool.settings import apply_overrides, describe, setting, to_toml, validate, with_updates

__all__ = [
    "AudioConfig",
    "Config",
    "DPConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "apply_overrides",
    "bundled_configs",
    "describe",
    "load_config",
    "save_config",
    "setting",
    "to_toml",
    "validate",
    "with_updates",
]


def _layer_sizes(sizes: list[int]) -> str | None:
    if len(sizes) >= 2 and all(n >= 1 for n in sizes):
        return None
    return "a list of at least 2 layer sizes, each >= 1 (inputs, hidden..., classes)"


def _channel_widths(channels: list[int]) -> str | None:
    if len(channels) >= 1 and all(n >= 1 for n in channels):
        return None
    return "a list of at least 1 channel count, each >= 1"


def _augment_specs(specs: list[str]) -> str | None:
    from gradschool.data.augment import spec_problem  # lazy: config.py stays import-light

    return spec_problem(specs)


def _betas(betas: list[float]) -> str | None:
    if len(betas) == 2 and all(0 <= b < 1 for b in betas):
        return None
    return "a list of 2 numbers, each >= 0 and < 1 (beta1, beta2)"


def _increasing(steps: list[int]) -> str | None:
    if all(n >= 1 for n in steps) and all(a < b for a, b in zip(steps, steps[1:])):
        return None
    return "a list of increasing steps, each >= 1"


def _not_a_test_metric(name: str) -> str | None:
    # NOTE: choosing when to stop by the test set makes the test score an optimistic,
    # tuned-on number; the validation split exists for exactly this.
    if name.startswith("test_"):
        return "a training or validation metric such as val_loss or val_acc, never a test metric"
    return None


# --- the schema -------------------------------------------------------------------------------


@dataclass
class AudioConfig:
    """How a recording becomes features (spoken digits, `fsdd`): see docs/speech.md."""

    features: Literal["logmel", "mfcc"] = setting(
        "logmel", help="audio: log-mel spectrogram, or its MFCCs (a DCT of each frame)"
    )
    n_fft: int = setting(256, ge=16, help="audio: frame length in samples (32 ms at 8 kHz)")
    hop_length: int = setting(128, ge=1, help="audio: samples between frame starts (16 ms)")
    n_mels: int = setting(40, ge=1, help="audio: mel bands (rows of the spectrogram)")
    n_mfcc: int = setting(13, ge=1, help="audio: MFCCs kept (features = mfcc)")
    frames: int = setting(64, ge=1, help="audio: every example padded or cropped to this length")

    def cross_check(self, where: str) -> str | None:
        if self.hop_length > self.n_fft:
            return f"{where}.hop_length ({self.hop_length}) must be <= {where}.n_fft ({self.n_fft})"
        if self.features == "mfcc" and self.n_mfcc > self.n_mels:
            return f"{where}.n_mfcc ({self.n_mfcc}) must be <= {where}.n_mels ({self.n_mels})"
        return None


@dataclass
class DataConfig:
    """Which examples to train on, and how they are split, normalized and batched."""

    dataset: str = setting("mnist-mini", help="data set name (see the data registry)")
    data_dir: str | None = setting(
        None, help="data directory; none = $GRADSCHOOL_DATA or the user cache dir"
    )
    # NOTE: the seed states no batch size (its trainloader is not shown); 64 is our choice.
    batch_size: int | Literal["full"] = setting(
        64, ge=1, help='"full" = gradient descent, 1 = SGD, N = mini-batch gradient descent'
    )
    val_fraction: float | Literal["auto"] = setting(
        "auto",
        ge=0,
        lt=1,
        help="stratified validation split of the training set; auto = 0.1 on the embedded "
        "mnist-mini, none on a full set (as the seed) unless the run watches val_ metrics",
    )
    normalize: Literal["standard", "unit", "none"] = setting(
        "standard", help="standard = zero mean, unit variance; unit = scale to [0, 1]"
    )
    shuffle: bool = setting(True, help="reshuffle the training set every epoch")
    train_subset: int | None = setting(
        None, ge=1, help="use only the first N (stratified) training examples"
    )
    download: bool | None = setting(
        None,
        help="download a missing data set: none = into the cache or an existing data dir, "
        "never into a new folder; true = there too; false = never",
    )
    # Language modelling (model.name = "gpt"): text is cut into random windows.
    text_file: str | None = setting(
        None, help="gpt: train on this UTF-8 text file instead of the named dataset"
    )
    eval_interval: int = setting(
        250, ge=1, help="gpt: training iterations per epoch (between two evaluations)"
    )
    eval_batches: int = setting(
        200, ge=1, help="gpt: fixed random batches the validation loss is measured on"
    )
    augment: list[str] = setting(
        [],
        check=_augment_specs,
        help='random training-batch augmentations, e.g. ["shift:2", "rotate:10", "crop:4", "flip"]',
    )
    audio: AudioConfig = field(default_factory=AudioConfig)


@dataclass
class ModelConfig:
    """The network: its kind and shape."""

    name: Literal["mlp", "cnn", "gpt"] = setting("mlp", help="model family")
    # Seed section 4: nn.Linear(784, 128) -> ReLU -> nn.Linear(128, 64) -> ReLU -> (64, 10).
    sizes: list[int] = setting(
        [784, 128, 64, 10], check=_layer_sizes, help="layer widths: inputs, hidden..., classes"
    )
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = setting(
        "relu", help="non-linearity between layers"
    )
    dropout: float = setting(0.0, ge=0, lt=1, help="probability of zeroing a hidden unit")
    # model.name = "gpt" (nanoGPT's names; the vocabulary size comes from the data):
    n_layer: int = setting(4, ge=1, help="gpt: transformer blocks")
    n_head: int = setting(4, ge=1, help="gpt: attention heads per block (must divide n_embd)")
    n_embd: int = setting(128, ge=1, help="gpt: embedding width (the residual stream)")
    block_size: int = setting(64, ge=1, help="gpt: context length in tokens (the window T)")
    bias: bool = setting(True, help="gpt: biases in the Linear and LayerNorm layers")
    gelu: Literal["tanh", "exact"] = setting(
        "tanh", help="gpt: GELU's tanh form (GPT-2's) or the exact erf form (nanoGPT's)"
    )
    # model.name = "cnn" (models.cnn; see docs/cnn.md):
    arch: Literal["lenet", "resnet", "dpcnn", "speedrun"] = setting(
        "lenet",
        help="cnn: lenet = conv-pool stages + an MLP head; resnet = a ResNet-9; dpcnn = DP-SGD's;"
        " speedrun = the MNIST speedrun's (5x5 and 3x3 unpadded convs)",
    )
    channels: list[int] = setting(
        [32, 64],
        check=_channel_widths,
        help="cnn: conv widths, one per stage (resnet: exactly 4; dpcnn: 2)",
    )
    kernel_size: int = setting(3, ge=1, help="cnn (lenet): side of the square conv kernels (odd)")
    hidden: int = setting(
        128, ge=1, help="cnn (lenet, speedrun): width of the fully connected hidden layer"
    )
    batch_norm: bool = setting(False, help="cnn (lenet): BatchNorm2d after each conv")


@dataclass
class OptimConfig:
    """The optimizer; names and semantics follow `torch.optim`."""

    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"] = setting(
        "sgd", help="optimizer (torch.optim's SGD, Adagrad, RMSprop, Adam, AdamW)"
    )
    # Seed section 4: optim.SGD(net.parameters(), lr=0.01, momentum=0.9).
    lr: float = setting(0.01, gt=0, help="learning rate: the step size of each update")
    momentum: float = setting(0.9, ge=0, help="momentum factor, sgd and rmsprop (0 = none)")
    dampening: float = setting(0.0, help="dampening for momentum (sgd)")
    nesterov: bool = setting(False, help="Nesterov momentum (sgd)")
    weight_decay: float = setting(
        0.0, ge=0, help="L2 penalty added to the gradient (adamw: decoupled decay of the weights)"
    )
    betas: list[float] = setting(
        [0.9, 0.999], check=_betas, help="adam, adamw: decay rates of the averages of g and g^2"
    )
    eps: float | None = setting(
        None, ge=0, help="added to the denominator (adaptive optimizers); none = torch's default"
    )
    alpha: float = setting(0.99, ge=0, help="rmsprop: decay rate of the average of g^2")
    centered: bool = setting(
        False, help="rmsprop: divide by the variance of g, not its mean square"
    )
    amsgrad: bool = setting(False, help="adam, adamw: use the running maximum of v (AMSGrad)")
    lr_decay: float = setting(0.0, ge=0, help="adagrad: lr / (1 + (t - 1) * lr_decay)")
    initial_accumulator_value: float = setting(
        0.0, ge=0, help="adagrad: starting value of the sum of squared gradients"
    )
    clip_grad_norm: float | None = setting(
        None, gt=0, help="rescale the gradient to at most this total 2-norm; none = no clipping"
    )
    clip_per_module: bool = setting(
        False, help="clip_grad_norm: clip each top-level module on its own (an actor-critic's nets)"
    )

    def cross_check(self, where: str) -> str | None:
        if self.nesterov and self.name != "sgd":
            return f'{where}.nesterov = true works with {where}.name = "sgd" only'
        # NOTE: torch.optim.SGD raises on this combination; say so before a run starts.
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            return (
                f"{where}.nesterov = true needs {where}.momentum > 0 and {where}.dampening = 0"
                f" (as torch.optim.SGD requires), got momentum {self.momentum!r} and"
                f" dampening {self.dampening!r}"
            )
        return None


@dataclass
class ScheduleConfig:
    """The learning-rate schedule."""

    name: Literal[
        "constant",
        "step",
        "multistep",
        "exponential",
        "polynomial",
        "linear",
        "cosine",
        "onecycle",
        "plateau",
    ] = setting("constant", help="learning-rate schedule (docs/optimization.md)")
    interval: Literal["epoch", "batch"] = setting(
        "epoch", help="step the schedule after every epoch or every batch"
    )
    # T below is counted in scheduler steps (epochs or batches, as `interval` says).
    total_steps: int | None = setting(
        None,
        ge=1,
        help="T, the steps the schedule spans after the warm-up; none = the rest of the run",
    )
    gamma: float | None = setting(
        None,
        gt=0,
        help="decay factor: step, multistep, plateau (none = 0.1), exponential (none = 0.01^(1/T))",
    )
    step_size: int | None = setting(None, ge=1, help="step: steps between decays; none = ceil(T/3)")
    milestones: list[int] = setting(
        [], check=_increasing, help="multistep: steps at which to decay; empty = T/2 and 3T/4"
    )
    power: float = setting(1.0, gt=0, help="polynomial: p in lr * (1 - t/T) ** p")
    start_factor: float = setting(
        0.0,
        ge=0,
        le=1,
        help="linear: the rate at t = 0 is lr * start_factor (0 = the seed's lr*t/T)",
    )
    end_factor: float = setting(
        1.0, ge=0, le=1, help="linear: the rate at t = T is lr * end_factor"
    )
    min_lr: float = setting(0.0, ge=0, help="lowest rate: cosine's eta_min, plateau's min_lr")
    warmup_steps: int = setting(0, ge=0, help="linear warm-up steps before the schedule; 0 = none")
    warmup_start_factor: float = setting(
        0.1, ge=0, le=1, help="the warm-up rises from lr * warmup_start_factor to lr"
    )
    pct_start: float = setting(0.3, ge=0, le=1, help="onecycle: fraction of T spent rising to lr")
    div_factor: float = setting(25.0, gt=0, help="onecycle: starts at lr / div_factor (lr = peak)")
    final_div_factor: float = setting(
        1e4, gt=0, help="onecycle: ends at lr / (div_factor * final_div_factor)"
    )
    anneal_strategy: Literal["cos", "linear"] = setting("cos", help="onecycle: shape of each phase")
    cycle_momentum: bool = setting(
        True, help="onecycle: move momentum (adam: beta1) between 0.95 and 0.85, against the rate"
    )
    plateau_metric: str = setting(
        "val_loss",
        check=_not_a_test_metric,
        help="plateau: the metric watched (*_acc: higher is better)",
    )
    plateau_patience: int = setting(
        10, ge=0, help="plateau: epochs without improvement before a cut"
    )
    plateau_threshold: float = setting(
        1e-4, ge=0, help="plateau: smallest change that counts as an improvement"
    )
    plateau_threshold_mode: Literal["rel", "abs"] = setting(
        "rel", help="plateau: threshold relative to the best value, or absolute"
    )
    plateau_cooldown: int = setting(
        0, ge=0, help="plateau: epochs after a cut before counting again"
    )

    def cross_check(self, where: str) -> str | None:
        if self.name == "plateau" and self.interval != "epoch":
            return (
                f'{where}.name = "plateau" needs {where}.interval = "epoch": it watches a'
                f" metric that is measured after each epoch"
            )
        if self.name == "plateau" and self.gamma is not None and self.gamma >= 1:
            return (
                f"{where}.gamma must be < 1 for plateau (it multiplies the rate), got {self.gamma}"
            )
        if self.warmup_steps and self.name in ("plateau", "onecycle"):
            return (
                f"{where}.warmup_steps works with every schedule but plateau and onecycle"
                f" (onecycle warms up by itself: see {where}.pct_start); set it to 0"
            )
        return None


@dataclass
class TrainConfig:
    """The training loop: engine, length, seed, outputs."""

    engine: Literal["numpy", "torch"] = setting("numpy", help="the from-scratch engine or torch")
    # Seed section 4: for epoch in range(10).
    epochs: int = setting(10, ge=1, help="passes over the training set")
    seed: int = setting(0, ge=0, help="random seed for weights, splits and shuffling")
    deterministic: bool = setting(
        False,
        help="torch: deterministic algorithms only (bit-identical reruns, maybe slower); "
        "the NumPy engine always is",
    )
    dtype: Literal["float32", "float64"] = setting("float32", help="floating-point precision")
    out_dir: str = setting("runs", help="folder that holds the run directories")
    run_name: str | None = setting(None, help="run directory name; none = generated")
    log_every: int = setting(
        0, ge=0, help="batches between console lines within an epoch; 0 = once per epoch"
    )
    checkpoint_every: int = setting(1, ge=1, help="epochs between checkpoints")
    # Best checkpoints beside the last one (train/model_checkpoint.py; docs/interop.md).
    save_top_k: int = setting(
        1, ge=-1, help="best checkpoints kept beside the last one; 0 = none, -1 = every epoch's"
    )
    checkpoint_monitor: str = setting(
        "auto",
        check=_not_a_test_metric,
        help="metric that ranks the best checkpoints (*_acc: higher is better); auto = val_loss",
    )
    log: list[Literal["tensorboard"]] = setting(
        [], help="loggers beside metrics.csv: tensorboard = event files in the run folder"
    )
    log_histograms: bool = setting(
        False, help="tensorboard: weight and gradient histograms after every epoch"
    )
    max_steps: int | None = setting(
        None, ge=1, help="stop after this many optimizer steps; none = run every epoch"
    )
    progress: Literal["auto", "on", "off"] = setting("auto", help="progress bar")
    l1: float = setting(0.0, ge=0, help="L1 penalty l1 * sum|w| on the weights, added to the loss")
    eval_train: bool = setting(
        False, help="also measure the training set after each epoch (train_acc), to see overfitting"
    )
    # Compute (docs/compute.md). The NumPy engine runs on the CPU in float32/64 only.
    device: Literal["auto", "cpu", "cuda", "mps"] = setting(
        "auto", help="torch engine's device; auto = cuda, else mps, else cpu"
    )
    precision: Literal["fp32", "bf16", "auto"] = setting(
        "fp32", help="bf16 = bfloat16 autocast of forward and loss (torch); auto = bf16 if native"
    )
    compile: bool = setting(False, help="torch.compile the model (torch engine)")
    channels_last: bool = setting(False, help="NHWC memory layout for CNNs (torch engine)")
    nproc: int = setting(
        1, ge=1, help="processes `gradschool train` launches with torchrun (DDP); 1 = no launch"
    )
    max_restarts: int = setting(
        0,
        ge=0,
        help="with nproc > 1: times torchrun restarts the group from the last checkpoint when "
        "a process dies",
    )
    threads: int = setting(
        0, ge=0, help="CPU threads of NumPy's BLAS and torch; 0 = their default (all cores)"
    )

    def cross_check(self, where: str) -> str | None:
        # NOTE: said before a run starts, so a NumPy-engine run never half-starts on settings
        # that only torch has. The backend keeps one guard for direct use of the API
        # (backends.NUMPY_LIMITS, numpy_engine_refuses).
        if self.engine == "numpy":
            torch_only = [
                f"{where}.{name} = {shown}"
                for name, on, shown in (
                    ("device", self.device not in ("auto", "cpu"), f'"{self.device}"'),
                    ("precision", self.precision == "bf16", f'"{self.precision}"'),
                    ("compile", self.compile, "true"),
                    ("channels_last", self.channels_last, "true"),
                    ("nproc", self.nproc > 1, str(self.nproc)),
                )
                if on
            ]
            if torch_only:
                return (
                    f"{', '.join(torch_only)} needs the torch engine: the NumPy engine runs on "
                    f"the CPU only, in float32/float64, in one process. Add --engine torch, or "
                    f"drop the setting"
                )
        if self.precision == "bf16" and self.dtype == "float64":
            return (
                f'{where}.precision = "bf16" needs {where}.dtype = "float32": autocast '
                f"lowers float32 work to bfloat16 and leaves float64 as it is"
            )
        return None


@dataclass
class EarlyStoppingConfig:
    """Stop when a validation measure stops improving, and keep the best epoch's weights."""

    patience: int | None = setting(
        None, ge=1, help="epochs without improvement before stopping; none = never stop early"
    )
    monitor: str = setting(
        "val_loss", check=_not_a_test_metric, help="metric watched: val_loss, val_acc, ..."
    )
    mode: Literal["auto", "min", "max"] = setting(
        "auto", help="min = lower is better, max = higher is; auto = max for *_acc, else min"
    )
    min_delta: float = setting(0.0, ge=0, help="smallest change that counts as an improvement")
    restore_best: bool = setting(True, help="end training with the best epoch's weights")


@dataclass
class DPConfig:
    """Differentially private training, DP-SGD (docs/trust.md): `--dp` switches it on."""

    enabled: bool = setting(
        False, help="train with DP-SGD: Poisson batches, per-example clipping, Gaussian noise"
    )
    target_epsilon: float | None = setting(
        None, gt=0, help="privacy budget ε of the whole run; the noise is found to meet it"
    )
    delta: float = setting(1e-5, gt=0, lt=1, help="δ of (ε, δ)-DP; keep it well below 1/N")
    max_grad_norm: float = setting(1.0, gt=0, help="C: each example's gradient is clipped to it")
    noise_multiplier: float | None = setting(
        None, ge=0, help="σ: noise std = σ C; none = the smallest σ that meets target_epsilon"
    )


@dataclass
class Config:
    """One run's settings. `Config()` is the seed's recipe."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    dp: DPConfig = field(default_factory=DPConfig)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Config:
        """Build and validate a config from nested dicts; missing keys keep their defaults."""
        config = settings.from_dict(cls, d, "the config dict")
        validate(config)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Return the config as nested dicts (None values included); a deep copy."""
        return dataclasses.asdict(self)


# --- files -------------------------------------------------------------------------------------


def bundled_configs() -> list[str]:
    """Names of the configs shipped in `gradschool/configs/` (e.g. `seed_mlp`)."""
    return settings.bundled_names("configs")


def load_config(
    path_or_name: str | os.PathLike[str] = "seed_mlp", overrides: Sequence[str] = ()
) -> Config:
    """Load a TOML config (a path, or a bundled name like `seed_mlp`), apply CLI overrides.

    Keys missing from the file keep their defaults. The result is validated once, after the
    overrides, so an override may fix a bad value in the file.
    """
    return settings.load(Config, path_or_name, overrides, bundled="configs")


def save_config(config: Config, path: str | os.PathLike[str]) -> None:
    """Write the config to `path` as TOML (parent folders are created)."""
    settings.save_toml(config, path)
