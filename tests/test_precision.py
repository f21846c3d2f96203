"""precision = "auto": bf16 autocast only where bf16 is native, fp32 elsewhere (precision.py).

The CPU's features are faked (monkeypatched), so both answers are checked on any machine: an
AVX2-only CPU, on which bf16 autocast made a CIFAR-10 step ~11x slower, must get fp32.
"""

from __future__ import annotations

import pytest

from gradschool import precision
from gradschool.cli import main
from gradschool.config import load_config
from gradschool.precision import choose_precision, cpu_bf16_features

# /proc/cpuinfo flag lines, cut down: an AVX2-only server, a Sapphire Rapids, an Arm Neoverse V1.
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2\n"
SAPPHIRE = "flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8\n"
NEOVERSE = "processor\t: 0\nFeatures\t: fp asimd sve i8mm bf16 svebf16\n"
TINY = ["--train-subset", "256", "--epochs", "1", "--progress", "off", "--max-steps", "2"]


def test_bf16_features_are_read_from_the_cpu_flags() -> None:
    assert cpu_bf16_features(AVX2_ONLY) == []
    assert cpu_bf16_features(SAPPHIRE) == ["avx512_bf16", "amx_bf16"]
    assert cpu_bf16_features(NEOVERSE) == ["bf16"]
    assert cpu_bf16_features("") == []  # nothing known: no bf16 assumed


@pytest.fixture
def avx2_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda text=None: [])


@pytest.fixture
def amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda text=None: ["amx_bf16"])


def test_auto_is_fp32_on_a_cpu_without_bf16(avx2_cpu: None) -> None:
    choice = choose_precision("auto", "torch", "cpu")
    assert choice.name == "fp32" and "no native bf16" in choice.why
    # asked for explicitly, bf16 is obeyed, with the warning
    asked = choose_precision("bf16", "torch", "cpu")
    assert asked.name == "bf16" and "slower" in asked.why
    assert choose_precision("fp32", "torch", "cpu").name == "fp32"


def test_auto_is_bf16_on_a_cpu_with_bf16(amx_cpu: None) -> None:
    choice = choose_precision("auto", "torch", "cpu")
    assert choice.name == "bf16" and "amx_bf16" in choice.why
    assert choice.describe() == "bf16 autocast (auto: this CPU has native bf16, amx_bf16)"
    # never on the NumPy engine or for float64, whatever the CPU
    assert choose_precision("auto", "numpy", "cpu").name == "fp32"
    assert choose_precision("auto", "torch", "cpu", "float64").name == "fp32"
    assert choose_precision("auto", "torch", "mps").name == "fp32"


def test_the_cifar_config_asks_for_auto_and_runs_on_the_numpy_engine() -> None:
    config = load_config("cifar_cnn")
    assert config.train.precision == "auto"
    # "auto" is not a torch-only setting: the NumPy engine takes it (and computes in fp32)
    numpy = load_config("cifar_cnn", ["--engine", "numpy", "--no-channels-last"])
    assert numpy.train.precision == "auto"


@pytest.mark.parametrize(("cpu", "chosen"), [("avx2_cpu", "fp32"), ("amx_cpu", "bf16")])
def test_the_first_line_and_report_say_what_was_chosen(
    cpu: str, chosen: str, request: pytest.FixtureRequest, tmp_path, capsys
) -> None:
    pytest.importorskip("torch")
    request.getfixturevalue(cpu)
    argv = ["train", "--engine", "torch", "--device", "cpu", "--precision", "auto", *TINY]
    assert main([*argv, "--out-dir", str(tmp_path), "--run-name", "r"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    report = (tmp_path / "r" / "report.md").read_text()
    if chosen == "fp32":
        assert "with the torch engine, fp32 (auto: this CPU has no native bf16" in first
        assert "- engine: torch (float32) on cpu" in report
        assert "- precision: fp32 (auto: this CPU has no native bf16" in report
    else:
        assert "with the torch engine, bf16 autocast (auto: this CPU has native bf16" in first
        assert "- engine: torch (float32, bf16 autocast) on cpu" in report
        assert "- precision: bf16 autocast (auto: this CPU has native bf16, amx_bf16)" in report


def test_a_plain_run_keeps_its_first_line(tmp_path, capsys) -> None:
    assert main(["train", *TINY, "--out-dir", str(tmp_path), "--run-name", "r"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"Training mlp on mnist-mini with the numpy engine -> {tmp_path / 'r'}"
