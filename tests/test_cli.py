"""The command line: --help of every command, a tiny run of each, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gradschool.cli import COMMANDS, main

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY = ["--train-subset", "300", "--epochs", "1", "--progress", "off"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_of_every_command(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    assert "usage: gradschool " + name in capsys.readouterr().out


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "gradschool", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_train_help_lists_the_settings(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "optim.lr" in out and "data.batch_size" in out


def test_train_then_eval_then_resume(tmp_path, capsys):
    code, out, _ = run(capsys, "train", *TINY, "--out-dir", str(tmp_path), "--run-name", "t")
    assert code == 0
    assert "Epoch: 1, Loss: " in out
    run_dir = tmp_path / "t"
    assert (run_dir / "checkpoint.npz").exists()

    code, out, _ = run(capsys, "eval", str(run_dir))
    assert code == 0 and "test" in out and "accuracy" in out

    code, out, _ = run(capsys, "train", "--resume", str(run_dir), "--epochs", "2")
    assert code == 0 and "Epoch: 2, Loss: " in out and "Epoch: 1," not in out


def test_train_with_the_torch_engine(tmp_path, capsys):
    pytest.importorskip("torch")
    code, out, _ = run(capsys, "train", *TINY, "--engine", "torch", "--out-dir", str(tmp_path))
    assert code == 0 and "Epoch: 1, Loss: " in out


def test_train_with_the_bundled_seed_config(tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--config", "seed_mlp", *TINY, "--out-dir", str(tmp_path))
    assert code == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--lrr", "0.1"], "Did you mean 'lr'"),
        (["--lr", "-1"], "optim.lr must be > 0"),
        (["--batch-size", "0"], "data.batch_size must be an integer >= 1"),
        (["--epochs", "ten"], "train.epochs"),
        (["--dataset", "mnist-maxi"], "mnist-mini"),
        (["--config", "no_such_config"], "no_such_config"),
        (["--sizes", "784,10,3"], "must start with 784 and end with 10"),
    ],
)
def test_train_errors_are_one_clear_paragraph(args, expected, capsys, tmp_path):
    code, out, err = run(capsys, "train", *args, "--out-dir", str(tmp_path))
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_bad_toml_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nlr = = 0.1\n")
    code, _, err = run(capsys, "train", "--config", str(bad))
    assert code == 2 and "bad.toml" in err and "line 2" in err


def test_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run(capsys, "eval", str(tmp_path))
    assert code == 1 and "not a gradschool run directory" in err  # a runtime failure


def test_data_list_and_verify(capsys):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0 and "mnist-mini" in out and "embedded" in out
    if not SHARED_DATA.exists():
        pytest.skip(f"the shared data directory {SHARED_DATA} is absent")
    code, out, _ = run(capsys, "data", "verify", "mnist", "--data-dir", str(SHARED_DATA))
    assert code == 0 and "all files verified" in out


def test_missing_dataset_says_which_files_to_put_where(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRADSCHOOL_DATA", str(tmp_path / "empty"))
    code, _, err = run(
        capsys, "train", "--dataset", "mnist", "--no-download", *TINY, "--out-dir", str(tmp_path)
    )
    assert code == 1  # missing data: a runtime failure, not a usage error
    assert "train-images-idx3-ubyte" in err and str(tmp_path / "empty") in err
    # the run failed before writing anything: no empty run folder is left behind
    assert not any(p.name.startswith("mnist-mlp") for p in tmp_path.iterdir())


def test_gradcheck_command(capsys):
    code, out, _ = run(capsys, "gradcheck", "matmul", "relu")
    assert code == 0 and "matmul" in out and "relu" in out
