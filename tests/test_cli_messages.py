"""Rough edges a new user met, each fixed (issue 16): where figures go, `search SPACE`, runs
that did not learn in `compare`, why a file is not a WAV, `train --help`'s width, DP run names.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from gradschool.cli import COMMANDS, main
from gradschool.config import Config, load_config
from gradschool.data import audio
from gradschool.errors import DataError
from gradschool.experiments.compare import CompareRun, advice, at_chance
from gradschool.train.run import RunDir

TINY = ["--train-subset", "300", "--epochs", "1", "--progress", "off"]


# ---- figures go under runs/plots/, never into the current folder --------------------------------


def test_schedule_plot_and_surface_write_under_runs_plots(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["schedule", "plot", "step", "cosine:warmup_steps=10", "--steps", "30"]) == 0
    path = Path("runs/plots/schedule-step-cosine-30steps.png")
    assert capsys.readouterr().out.splitlines()[-1] == f"Saved {path}"
    steps = ["--quadratic-steps", "5", "--rosenbrock-steps", "5"]
    assert main(["surface", *steps]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Saved runs/plots/surface.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing else in the folder
    assert sorted(p.name for p in (tmp_path / "runs" / "plots").iterdir()) == [
        "schedule-step-cosine-30steps.png",
        "surface.png",
    ]
    # the schedule plot follows --out-dir, like a run
    assert main(["schedule", "plot", "linear", "--steps", "10", "--out-dir", "elsewhere"]) == 0
    assert (tmp_path / "elsewhere" / "plots" / "schedule-linear-10steps.png").is_file()


# ---- gradschool search seed_mlp, as configs/search/seed_mlp.toml says ---------------------------


def test_search_takes_its_space_first(tmp_path, capsys) -> None:
    text = (Path(__file__).parents[1] / "gradschool/configs/search/seed_mlp.toml").read_text()
    assert "gradschool search seed_mlp " in text  # what the file tells users to run
    out = str(tmp_path / "s")
    argv = ["search", "seed_mlp", "--trials", "1", "--out", out, *TINY, "--val-fraction", "0.2"]
    assert main(argv) == 0
    assert "random search over optim.lr" in capsys.readouterr().out
    assert (tmp_path / "s" / "best.toml").is_file()
    # the value of an override is not mistaken for a space
    assert main(["search", "--epochs", "1", "--trials", "0"]) == 2
    assert "search trials must be an integer >= 1" in capsys.readouterr().err
    assert main(["search", "seed_mlp", "--space", "other.toml"]) == 2
    assert "two search spaces were given" in capsys.readouterr().err


# ---- compare: a run that learned nothing says so, and what to try ------------------------------


def _run(batch_size: int | str, accs: list[float], steps: int) -> CompareRun:
    config = load_config("seed_mlp", ["--batch-size", str(batch_size)])
    history = [{"epoch": i + 1, "step": steps, "val_acc": a} for i, a in enumerate(accs)]
    return CompareRun(f"batch_size={batch_size}", config, history, num_classes=10)


def test_at_chance_is_told_from_learning() -> None:
    sgd = _run(1, [0.1, 0.1], steps=18_000)  # SGD, lr 0.01 + momentum 0.9, on MNIST
    assert at_chance(sgd)
    sgd.status = "at chance"
    hint = advice(sgd)
    assert hint is not None and "batch_size=1 ended at chance (10.00%)" in hint
    assert "--lr 0.001" in hint and "gradschool train --batch-size 1 --lr 0.001" in hint
    # gradient descent after 3 epochs (3 steps) has barely started: more, not smaller, steps
    gd = _run("full", [0.118], steps=3)
    gd.status = "at chance"
    assert "after only 3 optimizer steps" in advice(gd) and "--lr 0.001" not in advice(gd)
    assert not at_chance(_run(64, [0.946], steps=1400)) and advice(_run(64, [0.9], 10)) is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the diverging run overflows, as it should
def test_compare_marks_runs_that_did_not_learn_in_its_table(tmp_path, capsys) -> None:
    # SGD on single examples: the seed's lr 0.01 with momentum 0.9 ends at 10.00% (1,800 steps,
    # the loss near ln 10); lr 1 goes to NaN within the epoch
    argv = ["compare", "--vary", "lr=0.01,1", "--batch-size", "1", "--train-subset", "2000"]
    assert (
        main([*argv, "--epochs", "1", "--progress", "off", "--quiet", "--out", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("lr=")}
    assert rows["lr=0.01"].endswith("10.00%        at chance")
    assert rows["lr=1"].endswith("diverged")
    assert "NOTE: lr=0.01 ended at chance (10.00%): sgd with lr 0.01 and momentum 0.9" in out
    assert "gradschool train --batch-size 1 --lr 0.001" in out
    assert "NOTE: lr=1 diverged" in out and "--lr 0.1" in out


# ---- predict / spectrograms: why a file is not a WAV -------------------------------------------


def _float_wav() -> bytes:
    data = np.zeros(100, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # format code 3: IEEE float
    chunks = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(chunks)) + chunks


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Notes for Monday:\n- buy milk\n", "it is a text file, not audio"),
        (b"", "the file is empty, 0 bytes"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "it is an MP3 file with an ID3 tag, not a WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "its WAV header is incomplete, with no 'fmt ' or"),
        (b"RIFF\x24\x00", "it is cut short: the file ends before its WAV header does"),
        (_float_wav(), "its samples are 32-bit floating point, WAVE format code 3"),
        (b"RIFF\x04\x00\x00\x00AVI LIST", "it is a RIFF file of type b'AVI ', not WAVE"),
    ],
)
def test_a_file_that_is_not_a_wav_says_why(tmp_path, content: bytes, reason: str) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        audio.read_wav(path)
    assert f"{path}: not a PCM WAV file gradschool can read: {reason}" in str(err.value)
    assert "()" not in str(err.value) and "16-bit PCM" in str(err.value)


def test_the_cli_gives_the_reason(tmp_path, capsys) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("hello\n")
    out = str(tmp_path / "s.png")
    assert main(["speech", "spectrograms", str(notes), "--out", out]) == 1
    assert "can read: it is a text file, not audio. Convert it" in capsys.readouterr().err


# ---- train --help fits the terminal ------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 100])
def test_train_help_is_wrapped_to_the_terminal(monkeypatch, capsys, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= columns
    text = "\n".join(lines)
    assert "  optim.lr = 0.01  (float)" in text
    assert "learning rate: the step size of each update" in text
    # every setting is still listed
    assert text.count(" = ") >= len(Config().to_dict()["optim"])


@pytest.mark.parametrize(
    "argv",
    [[name] for name in sorted(COMMANDS)]
    + [["rl", "train"], ["schedule", "plot"], ["speech", "spectrograms"], ["lecture", "run"]],
    ids=" ".join,
)
def test_every_help_fits_80_columns(monkeypatch, capsys, argv: list[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    wide = [line for line in capsys.readouterr().out.splitlines() if len(line) > 80]
    assert not wide


# ---- a DP-SGD run's folder says it is one -----------------------------------------------------


def test_dp_run_names_say_dp_and_epsilon(tmp_path) -> None:
    out = ["--out-dir", str(tmp_path)]
    dp = RunDir.create(load_config("mnist_dp", ["--engine", "torch", *out]))
    assert dp.path.name.startswith("mnist-cnn-dp-eps3-torch-")
    by_sigma = ["--noise-multiplier", "1.1", "--target-epsilon", "none"]
    sigma = RunDir.create(load_config("mnist_dp", [*out, *by_sigma]))
    assert "-cnn-dp-sigma1.1-numpy-" in sigma.path.name
    plain = RunDir.create(load_config("mnist_cnn", out))
    assert plain.path.name.startswith("mnist-cnn-numpy-") and "dp" not in plain.path.name
