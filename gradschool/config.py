"""One run's configuration: nested dataclasses <-> TOML, CLI overrides, clear errors.

A `Config` describes one run (house style rule 8: nanoGPT's configurator done right, with no
`exec` and no globals). Its sections are plain dataclasses. Everything else in this module -
reading and writing TOML, `--key value` overrides, type conversion, range checks and
`describe` - is driven by the fields' type annotations, so adding a setting is one line:

    weight_decay: float = setting(0.0, ge=0, help="L2 penalty added to the gradient")

`Config()` is the seed's recipe (seed section 4): an MLP 784-128-64-10 with ReLU, trained with
cross-entropy and SGD (lr 0.01, momentum 0.9) for 10 epochs. The seed states no batch size;
ours is 64.

Annotations the machinery understands: `bool`, `int`, `float`, `str`, `Literal[...]`,
`list[T]` of those, unions such as `int | Literal["full"]` and `X | None`, and nested
dataclasses (sections, at any depth). A field that may be None must default to None, because
TOML has no null: a None value is written by leaving its key out.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import numbers
import operator
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from gradschool.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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

_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def setting(
    default: Any,
    *,
    help: str = "",
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare a config field: its default, a one-line help text and its range rule.

    `gt`/`ge`/`lt`/`le` bound a numeric value (a non-numeric alternative such as "full" or
    None is not bounded). `check(value)` returns None when the value is fine, else what the
    value must be (e.g. "a list of at least 2 sizes"), which becomes the error message; None is
    never checked. A list default is copied for each instance.
    """
    bounds = {
        name: v for name, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if v is not None
    }
    metadata = {"help": help, "bounds": bounds, "check": check}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


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

    def _cross_check(self, where: str) -> str | None:
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
    val_fraction: float = setting(
        0.1, ge=0, lt=1, help="stratified validation split taken from the training set"
    )
    normalize: Literal["standard", "unit", "none"] = setting(
        "standard", help="standard = zero mean, unit variance; unit = scale to [0, 1]"
    )
    shuffle: bool = setting(True, help="reshuffle the training set every epoch")
    train_subset: int | None = setting(
        None, ge=1, help="use only the first N (stratified) training examples"
    )
    download: bool = setting(True, help="download a missing data set when the network allows")
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

    def _cross_check(self, where: str) -> str | None:
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

    def _cross_check(self, where: str) -> str | None:
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
    precision: Literal["fp32", "bf16"] = setting(
        "fp32", help="bf16 = bfloat16 autocast for forward and loss (torch engine)"
    )
    compile: bool = setting(False, help="torch.compile the model (torch engine)")
    channels_last: bool = setting(False, help="NHWC memory layout for CNNs (torch engine)")
    nproc: int = setting(
        1, ge=1, help="processes `gradschool train` launches with torchrun (DDP); 1 = no launch"
    )
    threads: int = setting(
        0, ge=0, help="CPU threads of NumPy's BLAS and torch; 0 = their default (all cores)"
    )

    def _cross_check(self, where: str) -> str | None:
        # NOTE: said before a run starts, so a NumPy-engine run never half-starts on settings
        # that only torch has (gradschool/backends.py repeats the device check for direct use).
        if self.engine == "numpy":
            torch_only = [
                f"{where}.{name} = {shown}"
                for name, on, shown in (
                    ("device", self.device not in ("auto", "cpu"), f'"{self.device}"'),
                    ("precision", self.precision != "fp32", f'"{self.precision}"'),
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
        config = _from_dict(cls, d, "", "the config dict")
        validate(config)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Return the config as nested dicts (None values included); a deep copy."""
        return dataclasses.asdict(self)


# --- types: what the annotations say --------------------------------------------------------


class _Mismatch(Exception):
    """A value does not fit an annotation (internal; turned into a ConfigError)."""


_NONE = type(None)
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True}
_BOOL_WORDS |= {"false": False, "no": False, "off": False, "0": False}


@cache
def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields (they are strings under __future__)."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@cache
def _nodes(cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every dotted path (sections and leaves, any depth) -> (annotation, field)."""
    nodes: dict[str, tuple[Any, dataclasses.Field]] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, tp in _hints(cls).items():
        nodes[name] = (tp, fields[name])
        if _is_section(tp):
            nodes.update({f"{name}.{p}": node for p, node in _nodes(tp).items()})
    return nodes


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _is_flag(tp: Any) -> bool:
    """bool or bool | None: may be written `--key` alone."""
    return tp is bool or (_is_union(tp) and set(get_args(tp)) == {bool, _NONE})


def _expect(tp: Any) -> str:
    """What a value of this annotation looks like, for error messages."""
    plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if _is_union(tp):
        return " or ".join(_expect(a) for a in get_args(tp))
    if get_origin(tp) is Literal:
        choices = ", ".join(_toml_value(c) for c in get_args(tp))
        return f"one of {choices}" if len(get_args(tp)) > 1 else choices
    if get_origin(tp) is list:
        return f"a list of {plural.get(get_args(tp)[0], 'values')}"
    if _is_section(tp):
        return f"a table of {tp.__name__} settings"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(tp, "none" if tp is _NONE else "any value")


def _type_name(tp: Any) -> str:
    """A short type for `describe`: int, list[int], "relu" | "tanh", int | "full", str | none."""
    if _is_union(tp):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if get_origin(tp) is Literal:
        return " | ".join(_toml_value(c) for c in get_args(tp))
    if get_origin(tp) is list:
        return f"list[{_type_name(get_args(tp)[0])}]"
    return "none" if tp is _NONE else getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any) -> Any:
    """Check (and lightly convert: int -> float, tuple -> list) a Python/TOML value."""
    if tp is Any:
        return value
    if _is_union(tp):
        for alt in get_args(tp):
            try:
                return _coerce(value, alt)
            except _Mismatch:
                pass
        raise _Mismatch
    if get_origin(tp) is Literal:
        for choice in get_args(tp):
            same_kind = isinstance(value, type(choice)) and isinstance(value, bool) == isinstance(
                choice, bool
            )
            if same_kind and value == choice:
                return choice
        raise _Mismatch
    if get_origin(tp) is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        return [_coerce(v, get_args(tp)[0]) for v in value]
    if _is_section(tp):
        if isinstance(value, tp):
            return copy.deepcopy(value)
        raise _Mismatch
    if tp is _NONE and value is None:
        return None
    if tp is bool and isinstance(value, bool):
        return value
    if isinstance(value, bool):  # NOTE: bool is an int subclass; True is not an epoch count
        raise _Mismatch
    # numbers.* also admit NumPy scalars, e.g. from a search grid built with np.logspace.
    if tp is int and isinstance(value, numbers.Integral):
        return int(value)
    if tp is float and isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if tp is str and isinstance(value, str):
        return str(value)
    raise _Mismatch


def _parse(text: str, tp: Any) -> Any:
    """Convert command-line text to a value of the annotation `tp`."""
    word = text.strip()
    if _is_union(tp):
        alts = get_args(tp)
        if _NONE in alts and word.lower() in ("none", "null"):
            return None
        for alt in sorted(alts, key=lambda a: a is str):  # str accepts anything: try it last
            try:
                return _parse(text, alt)
            except _Mismatch:
                pass
        raise _Mismatch
    if get_origin(tp) is Literal:
        for choice in get_args(tp):
            try:
                if _parse(word, type(choice)) == choice:
                    return choice
            except _Mismatch:
                pass
        raise _Mismatch
    if get_origin(tp) is list:
        if word.startswith("["):  # a TOML inline array: [784, 256, 10]
            return _coerce(_toml_inline(word), tp)
        return [_parse(item, get_args(tp)[0]) for item in word.split(",") if item.strip()]
    if tp is bool and word.lower() in _BOOL_WORDS:
        return _BOOL_WORDS[word.lower()]
    if tp in (int, float):
        try:
            return _coerce(tp(word), tp)
        except ValueError:
            raise _Mismatch from None
    if tp is str:
        if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":  # '"none"' is a string
            try:
                return _coerce(_toml_inline(word), str)
            except _Mismatch:
                pass
        return text
    if tp is Any:
        return text
    raise _Mismatch


def _toml_inline(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        raise _Mismatch from None


def _mismatch(path: str, tp: Any, value: Any, origin: str = "") -> str:
    """`path must be <what tp accepts>, got <value>`, with a did-you-mean for choices."""
    msg = f"{path} must be {_expect(tp)}, got {value!r}"
    if origin:
        msg += f" ({origin})"
    choices = [str(c) for a in _alternatives(tp) if get_origin(a) is Literal for c in get_args(a)]
    close = difflib.get_close_matches(str(value), choices, n=1)
    if isinstance(value, str) and close:
        msg += f'. Did you mean "{close[0]}"?'
    return msg


def _end(sentence: str) -> str:
    """End a sentence with a full stop unless it already ends with punctuation."""
    return sentence if sentence.endswith((".", "?", "!")) else sentence + "."


def _alternatives(tp: Any) -> tuple[Any, ...]:
    return get_args(tp) if _is_union(tp) else (tp,)


# --- from dicts and TOML ----------------------------------------------------------------------


def _from_dict(cls: type, d: Any, prefix: str, source: str, root: type | None = None) -> Any:
    """Build the dataclass `cls` from a (TOML) table; unknown keys are errors."""
    root = root or cls
    if not isinstance(d, Mapping):
        table = f"[{prefix[:-1]}]" if prefix else "the config"
        raise ConfigError(
            f"{table} in {source} must be a table of settings, got {d!r}. Write it as a"
            f" {table if prefix else '[section]'} header followed by key = value lines."
        )
    hints, kwargs = _hints(cls), {}
    for key, value in d.items():
        if key not in hints:
            raise ConfigError(_unknown_in_table(cls, key, value, prefix, source, root))
        tp = hints[key]
        if _is_section(tp):
            kwargs[key] = _from_dict(tp, value, f"{prefix}{key}.", source, root)
            continue
        try:
            kwargs[key] = _coerce(value, tp)
        except _Mismatch:
            raise ConfigError(_end(_mismatch(prefix + key, tp, value, f"in {source}"))) from None
    return cls(**kwargs)


def _unknown_in_table(cls: type, key: str, value: Any, prefix: str, source: str, root: type) -> str:
    """Say which key of a TOML table is unknown, and what was probably meant."""
    names = list(_hints(cls))
    if not prefix and isinstance(value, Mapping):  # a misspelt section: [optimizer]
        close = difflib.get_close_matches(key.lower(), names, n=1)
        hint = f" Did you mean [{close[0]}]?" if close else ""
        listed = ", ".join(f"[{n}]" for n in names)
        return f"unknown section [{key}] in {source}.{hint} The sections are: {listed}."
    table = f"[{prefix[:-1]}]" if prefix else "the top level"
    close = difflib.get_close_matches(key.lower().replace("-", "_"), names, n=1)
    synonym = _SYNONYMS.get(key.lower().replace("-", "_"), "").rsplit(".", 1)[-1]
    if synonym in names:  # learning_rate = ... in [optim]: 'lr'
        close = [synonym]
    homes = [p.rsplit(".", 1)[0] for p in _nodes(root) if p.endswith("." + key)]
    hint = ""
    if close:
        hint = f" Did you mean '{close[0]}'?"
    elif homes:
        hint = f" '{key}' belongs in [{homes[0]}]" + (f", not {table}." if prefix else ".")
    return (
        f"unknown key '{key}' in {table} of {source}.{hint} The keys there are: {', '.join(names)}."
    )


def bundled_configs() -> list[str]:
    """Names of the configs shipped in `gradschool/configs/` (e.g. `seed_mlp`)."""
    folder = resources.files("gradschool") / "configs"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(path_or_name: str | os.PathLike[str]) -> tuple[str, str]:
    """Return (a name for messages, the file's text); a bare name means a bundled config."""
    name = str(path_or_name)
    looks_like_path = (
        not isinstance(path_or_name, str)
        or name.endswith(".toml")
        or any(sep and sep in name for sep in (os.sep, os.altsep, "/"))
    )
    if not looks_like_path:
        bundled = resources.files("gradschool") / "configs" / f"{name}.toml"
        if not bundled.is_file():
            raise ConfigError(
                f"there is no bundled config named '{name}'. The bundled configs are:"
                f" {', '.join(bundled_configs()) or '(none)'}. To load your own file, give its"
                f" path, e.g. ./{name}.toml."
            )
        return f"gradschool/configs/{name}.toml", bundled.read_text(encoding="utf-8")
    path = Path(path_or_name)
    try:
        return name, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file '{name}' does not exist (looked for {path.absolute()}). Check the"
            f" path, or name a bundled config instead: {', '.join(bundled_configs())}."
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"config file '{name}' cannot be read: {e}. Give a readable UTF-8 .toml file."
        ) from None


def load_config(
    path_or_name: str | os.PathLike[str] = "seed_mlp", overrides: Sequence[str] = ()
) -> Config:
    """Load a TOML config (a path, or a bundled name like `seed_mlp`), apply CLI overrides.

    Keys missing from the file keep their defaults. The result is validated once, after the
    overrides, so an override may fix a bad value in the file.
    """
    source, text = _read(path_or_name)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line_no = getattr(e, "lineno", None)
        if line_no is None:
            found = re.search(r"line (\d+)", str(e))
            line_no = int(found.group(1)) if found else None
        lines = text.splitlines()
        reads = ""
        if line_no is not None and 1 <= line_no <= len(lines):
            reads = f" Line {line_no} reads: {lines[line_no - 1].strip()!r}."
        raise ConfigError(
            f"config file '{source}' is not valid TOML: {e}.{reads} Fix the syntax there"
            ' (strings need quotes, e.g. name = "run1"; lists are written [1, 2, 3]).'
        ) from None
    config = _from_dict(Config, data, "", f"config file '{source}'")
    return apply_overrides(config, overrides)


# --- to TOML ----------------------------------------------------------------------------------


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_value(v: Any) -> str:
    """One value in TOML syntax (str, bool, int, float or a list of them)."""
    if isinstance(v, str):
        chars = (
            _ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in v
        )
        return '"' + "".join(chars) + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))  # round-trips exactly: 0.01, 1e-05 (float() drops np.float64(...))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as TOML")


def _toml_lines(obj: Any, keys: list[str]) -> Iterator[str]:
    fields = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    scalars = [(k, v) for k, v in fields if not dataclasses.is_dataclass(v)]
    if keys and (scalars or not fields):  # a table holding only tables needs no header
        yield ""
        yield f"[{'.'.join(keys)}]"
    for k, v in scalars:
        # NOTE: TOML has no null, so None is written by leaving the key out.
        yield f"# {k} is not set (none)" if v is None else f"{k} = {_toml_value(v)}"
    for k, v in fields:
        if dataclasses.is_dataclass(v):
            yield from _toml_lines(v, [*keys, k])


def to_toml(config: Config) -> str:
    """The config as TOML text; `load_config` reads it back to an equal config."""
    return "\n".join(_toml_lines(config, [])).lstrip("\n") + "\n"


def save_config(config: Config, path: str | os.PathLike[str]) -> None:
    """Write the config to `path` as TOML (parent folders are created)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(to_toml(config), encoding="utf-8")


# --- overrides --------------------------------------------------------------------------------


def _resolve(cls: type, key: str, flag: bool) -> str | None:
    """Dotted path of `key` (dotted, or a unique last part such as `lr`); None if unknown."""
    key = key.replace("-", "_")
    nodes = _nodes(cls)
    if key in nodes:
        return key
    matches = [p for p in nodes if p.endswith("." + key)]
    if len(matches) > 1:
        dash = "--" if flag else ""
        raise ConfigError(
            f"config key '{key}' is ambiguous: it could be {', '.join(matches)}. Write the"
            f" dotted key instead, e.g. {dash}{matches[-1]}."
        )
    return matches[0] if matches else None


_SYNONYMS = {
    "learning_rate": "lr",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "batchsize": "batch_size",
    "bs": "batch_size",
    "optimizer": "optim.name",
    "scheduler": "schedule.name",
    "wd": "weight_decay",
}


def _unknown_key(cls: type, key: str, flag: bool) -> ConfigError:
    """An unknown key, with a did-you-mean over every dotted key and every last part."""
    dash = "--" if flag else ""
    keys = [p for p, (tp, _) in _nodes(cls).items() if not _is_section(tp)]
    homes: dict[str, list[str]] = {}
    for p in keys:
        homes.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    wanted = key.lower().replace("-", "_")
    last = wanted.rsplit(".", 1)[-1]
    # Names other libraries use for the same settings: a spelling match would miss them.
    if last in _SYNONYMS:
        close = [_SYNONYMS[last]]
    else:
        close = difflib.get_close_matches(wanted, sorted(set(keys) | set(homes)), n=1)
    if close:
        where = homes.get(close[0], close)  # a last part may live in several sections
        full = f" ({', '.join(where)})" if where != close else ""
        hint = f" Did you mean '{close[0]}'{full}?"
    else:
        hint = f" The keys are: {', '.join(keys)}."
    return ConfigError(
        f"unknown config key '{key}'.{hint} A key is dotted ({dash}optim.lr) or, when the name"
        f" is unique, just its last part ({dash}lr)."
    )


def _set(config: Any, path: str, value: Any, from_text: bool, origin: str) -> None:
    """Convert `value` for the field at `path` and store it in `config` (in place)."""
    tp, _ = _nodes(type(config))[path]
    if _is_section(tp) and isinstance(value, tp):  # a whole section object
        value, tp = copy.deepcopy(value), Any
    elif _is_section(tp):  # a whole section given as a table: merge its keys
        table = value
        if from_text:
            try:
                table = _toml_inline(value)
            except _Mismatch:
                table = None
        if not isinstance(table, Mapping):
            raise ConfigError(_end(_mismatch(path, tp, value, origin)))
        for key, v in table.items():
            sub = f"{path}.{key}"
            if sub not in _nodes(type(config)):
                raise _unknown_key(type(config), sub, flag=bool(from_text))
            _set(config, sub, v, False, origin)
        return
    try:
        value = _parse(value, tp) if from_text else _coerce(value, tp)
    except _Mismatch:
        raise ConfigError(_end(_mismatch(path, tp, value, origin))) from None
    *parents, leaf = path.split(".")
    target = config
    for name in parents:
        target = getattr(target, name)
    setattr(target, leaf, value)


def _switch(cls: type, path: str) -> str:
    """A section that is switched on and off (it has a bool `enabled`) is switched by its
    name: `--dp` means `--dp.enabled`, `--no-dp` means `--dp.enabled=false`."""
    tp = _nodes(cls)[path][0]
    if _is_section(tp) and _hints(tp).get("enabled") is bool:
        return f"{path}.enabled"
    return path


def _parse_args(cls: type, args: Sequence[str]) -> Iterator[tuple[str, Any, bool, str]]:
    """Yield (path, value, value_is_text, origin) for each override in `args`."""
    args = list(args)
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("--") or len(token) < 3:
            raise ConfigError(
                f"unexpected argument {token!r}: overrides are written --key value or"
                " --key=value, e.g. --lr 0.1 or --optim.momentum=0.5."
            )
        key, eq, text = token[2:].partition("=")
        path = _resolve(cls, key, flag=True)
        if path is None and key.replace("-", "_").startswith("no_"):
            negated = _resolve(cls, key[3:], flag=True)
            negated = None if negated is None else _switch(cls, negated)
            if negated is not None and not _is_flag(_nodes(cls)[negated][0]):
                raise ConfigError(
                    f"{token} works only for true/false settings, and {negated} must be"
                    f" {_expect(_nodes(cls)[negated][0])}: write --{key[3:]} VALUE instead."
                )
            if negated is not None:
                if eq:
                    raise ConfigError(
                        f"{token} takes no value: write --{key} or --{key[3:]}=false."
                    )
                yield negated, False, False, token
                continue
        if path is None:
            raise _unknown_key(cls, key, flag=True)
        path = _switch(cls, path)
        tp = _nodes(cls)[path][0]
        if eq:
            yield path, text, True, token
        elif _is_flag(tp):
            if i < len(args) and args[i].strip().lower() in _BOOL_WORDS:
                yield path, args[i], True, f"{token} {args[i]}"
                i += 1
            else:
                yield path, True, False, token
        elif i < len(args) and not args[i].startswith("--"):
            yield path, args[i], True, f"{token} {args[i]}"
            i += 1
        else:
            raise ConfigError(
                f"{token} needs a value ({path} must be {_expect(tp)}): write {token} VALUE"
                f" or {token}=VALUE."
            )


def apply_overrides(config: Config, args: Sequence[str]) -> Config:
    """Return a validated copy of `config` with command-line overrides applied.

    Forms: `--lr 0.1`, `--optim.lr=0.1`, `--batch-size full` (dashes = underscores), `--nesterov`
    / `--no-nesterov` / `--nesterov=false`, `--sizes 784,256,10` or `--sizes "[784, 256, 10]"`,
    `--name none`, and a whole section as a TOML inline table `--optim "{lr = 0.1}"`.
    Later overrides win. `config` itself is not changed.
    """
    if isinstance(args, str):  # NOTE: a string is a sequence of characters, not of arguments
        raise TypeError("apply_overrides wants a list of arguments, e.g. shlex.split(text)")
    new = copy.deepcopy(config)
    for path, value, from_text, origin in _parse_args(type(config), args):
        _set(new, path, value, from_text, f"from {origin}")
    validate(new)
    return new


def with_updates(config: Config, updates: Mapping[str, Any]) -> Config:
    """Return a validated copy of `config` with Python values set by key.

    Keys are dotted (`"optim.lr"`) or unique last parts (`"lr"`); values are typed Python
    values (`0.1`, `"full"`, `[784, 10]`, None), checked like TOML values. A hyper-parameter
    search writes each trial as `with_updates(base, {"optim.lr": lr})`.
    """
    new = copy.deepcopy(config)
    for key, value in updates.items():
        path = _resolve(type(config), key, flag=False)
        if path is None:
            raise _unknown_key(type(config), key, flag=False)
        _set(new, path, value, False, f"from with_updates key {key!r}")
    validate(new)
    return new


# --- validation and description ---------------------------------------------------------------


def _problems(obj: Any, cls: type, prefix: str) -> Iterator[str]:
    found = False
    for f in dataclasses.fields(cls):
        tp, value, path = _hints(cls)[f.name], getattr(obj, f.name), prefix + f.name
        if _is_section(tp) and isinstance(value, tp):
            yield from _problems(value, tp, path + ".")
            continue
        try:
            value = _coerce(value, tp)
        except _Mismatch:
            found = True
            yield _mismatch(path, tp, value)
            continue
        problem = _range_problem(value, tp, f.metadata)
        if problem:
            found = True
            yield f"{path} must be {problem}, got {value!r}"
    cross_check = getattr(obj, "_cross_check", None)
    if not found and cross_check is not None:
        problem = cross_check(prefix[:-1])
        if problem:
            yield problem


def _range_problem(value: Any, tp: Any, metadata: Mapping[str, Any]) -> str | None:
    """What the value must be, when it breaks its field's rule; else None."""
    bounds = metadata.get("bounds") or {}
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and bounds:
        ops = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
        if not all(ops[name](value, limit) for name, limit in bounds.items()):
            rule = " and ".join(f"{op} {bounds[name]!r}" for name, op in _BOUNDS if name in bounds)
            alts = _alternatives(tp)
            kind = "an integer " if int in alts and float not in alts else ""
            others = [
                _expect(a) for a in alts if a not in (int, float) and get_origin(a) is not list
            ]
            return kind + rule + "".join(f" or {o}" for o in others)
    check = metadata.get("check")
    return check(value) if check is not None and value is not None else None


def validate(config: Config) -> None:
    """Check every value's type and range rule; raise one ConfigError listing the problems."""
    problems = list(_problems(config, type(config), ""))
    if len(problems) == 1:
        path = problems[0].split(" ", 1)[0]
        raise ConfigError(
            f"{_end(problems[0])} Fix it in the config file or override it on the command line"
            f" (--{path}=VALUE)."
        )
    if problems:
        raise ConfigError(
            f"the config has {len(problems)} problems: {'; '.join(problems)}. Fix them in the"
            " config file or override them on the command line (--section.key=VALUE)."
        )


def describe(config: Config) -> str:
    """Every key with its value, type and help, one per line (for `--help` output)."""
    rows = []
    for path, (tp, f) in _nodes(type(config)).items():
        if _is_section(tp):
            continue
        value: Any = config
        for name in path.split("."):
            value = getattr(value, name)
        shown = "none" if value is None else _toml_value(value)
        rows.append((path, shown, _type_name(tp), f.metadata.get("help", "")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
