"""Which precision a run computes in: float32, or bfloat16 autocast where the hardware has it.

`train.precision` is "fp32", "bf16", or "auto". The first two are obeyed as they are. "auto"
(the bundled CIFAR-10 config uses it) takes bf16 only where bf16 is native, fp32 elsewhere:

- a CUDA GPU with bf16 (Ampere and later: torch.cuda.is_bf16_supported()): bf16;
- a CPU with bf16 instructions (x86: AVX-512 BF16 or AMX-BF16; Arm: the BF16 extension): bf16;
- any other CPU, an Apple GPU (MPS), the NumPy engine, or a float64 run: fp32.

NOTE: why not bf16 everywhere. Autocast runs the matrix products and convolutions of the
forward pass in bfloat16. A CPU without bf16 instructions has no fast kernel for that: each
product is done by converting to float32 and back, so a step gets *slower*, not faster (the
CIFAR-10 ResNet took about 11x longer per step on an AVX2-only CPU than in float32). With
AMX-BF16 the same step took about half the float32 time. See docs/compute.md.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PRECISIONS", "Choice", "choose_precision", "cpu_bf16_features"]

PRECISIONS = ("fp32", "bf16", "auto")
# x86 (Linux /proc/cpuinfo "flags"): AVX-512 BF16 (Cooper Lake, Zen 4 and later) and AMX-BF16
# (Sapphire Rapids and later). Arm (its "Features" line): bf16 (Armv8.6, Graviton 3, Apple M2).
_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@dataclass(frozen=True)
class Choice:
    """The precision a run uses, and why, in words for its first line and report.md."""

    name: str  # "fp32" or "bf16": what the training loop passes to backend.autocast
    why: str  # e.g. "auto: this CPU has native bf16, avx512_bf16/amx_bf16"

    def describe(self) -> str:
        """`bf16 autocast (auto: ...)` or `fp32 (auto: ...)`: for the console and report.md."""
        return f"{'bf16 autocast' if self.name == 'bf16' else 'fp32'} ({self.why})"


def cpu_bf16_features(cpuinfo: str | None = None) -> list[str]:
    """The bf16 features of this CPU (empty when it has none, or when it cannot be told).

    Reads the flag lines of `/proc/cpuinfo` on Linux (or the text `cpuinfo`, for tests), and
    `sysctl hw.optional.arm.FEAT_BF16` on macOS.
    """
    if cpuinfo is None:
        if platform.system() == "Darwin":
            return ["FEAT_BF16"] if _sysctl("hw.optional.arm.FEAT_BF16") == "1" else []
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:  # not Linux: we cannot tell, so we do not assume
            return []
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return [f for f in _BF16_FLAGS if f in flags]


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _cuda_bf16(device: str) -> bool:
    import torch

    index = int(device.split(":")[1]) if ":" in device else None
    with torch.cuda.device(index):
        return bool(torch.cuda.is_bf16_supported())


def choose_precision(
    precision: str, engine: str, device: str = "cpu", dtype: str = "float32"
) -> Choice:
    """The precision a run with these settings computes in (`device` as resolved: "cpu",
    "cuda:0", "mps"). "fp32" and "bf16" are obeyed; "auto" is decided as the module says."""
    if precision == "fp32":
        return Choice("fp32", "asked for")
    kind = device.split(":")[0]
    if precision == "bf16":
        if kind == "cpu" and not cpu_bf16_features():
            why = "asked for; this CPU has no native bf16, so expect it slower than fp32"
            return Choice("bf16", why)
        return Choice("bf16", "asked for")
    if precision != "auto":
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if engine != "torch":
        return Choice("fp32", "auto: the NumPy engine computes in float32/float64 only")
    if dtype == "float64":
        return Choice("fp32", "auto: a float64 run is not lowered to bf16")
    if kind == "cuda":
        if _cuda_bf16(device):
            return Choice("bf16", "auto: this GPU has native bf16")
        return Choice("fp32", "auto: this GPU has no native bf16")
    if kind == "cpu":
        features = cpu_bf16_features()
        if features:
            return Choice("bf16", f"auto: this CPU has native bf16, {'/'.join(features)}")
        return Choice(
            "fp32", "auto: this CPU has no native bf16 - no AVX-512 BF16, AMX-BF16 or Arm BF16"
        )
    return Choice("fp32", f"auto: bf16 is chosen only on CUDA GPUs and CPUs, not on {kind}")
