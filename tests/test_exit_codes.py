"""What `gradschool` exits with (2 usage, 1 runtime failure, 130 Ctrl-C, 143 SIGTERM), and its
log messages: the library logs, the CLI's one handler shows them, -v and -q choose how many."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

import pytest

from gradschool import cli
from gradschool.cli import COMMANDS, main
from gradschool.errors import CheckpointError, DataError, TrainingError

TINY = ["--train-subset", "200", "--epochs", "1", "--progress", "off"]


def replace_command(monkeypatch, name: str, run) -> None:
    """Make `gradschool NAME` call `run(args, overrides)` instead."""
    declare, _, help = COMMANDS[name]
    monkeypatch.setitem(COMMANDS, name, (declare, run, help))


# ---- exit statuses ---------------------------------------------------------------------------


def test_a_bad_flag_exits_with_2(tmp_path, capsys):
    # An unknown --key is an unknown setting (the config's did-you-mean) ...
    assert main(["train", "--no-such-flag", "3", "--out-dir", str(tmp_path)]) == 2
    assert "unknown config key 'no-such-flag'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    # ... and argparse's own usage errors exit with 2 too, as argparse does.
    with pytest.raises(SystemExit) as stop:
        main(["eval"])  # RUN_DIR missing
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main(["gradcheck", "--no-such-flag"])  # a command without settings
    assert stop.value.code == 2


def test_a_bad_config_value_exits_with_2(tmp_path, capsys):
    assert main(["train", "--lr", "-1", "--out-dir", str(tmp_path)]) == 2
    assert "optim.lr must be > 0" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nengine = "jax"\n', encoding="utf-8")
    assert main(["train", "--config", str(bad)]) == 2
    assert "train.engine" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist-maxi", "--out-dir", str(tmp_path)]) == 2
    assert "Did you mean 'mnist-mini'?" in capsys.readouterr().err


def test_a_missing_data_file_exits_with_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRADSCHOOL_DATA", str(tmp_path / "empty"))
    code = main(["train", "--dataset", "mnist", "--no-download", *TINY, "--out-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("gradschool train: error: ") and "train-images-idx3-ubyte" in err


@pytest.mark.parametrize("error", [DataError, CheckpointError, TrainingError])
def test_every_runtime_failure_exits_with_1(error, monkeypatch, capsys):
    def fail(args, overrides):
        raise error("it went wrong: here is how to fix it.")

    replace_command(monkeypatch, "gradcheck", fail)
    assert main(["gradcheck"]) == 1
    message = "it went wrong: here is how to fix it."
    assert capsys.readouterr().err == f"gradschool gradcheck: error: {message}\n"


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_a_diverged_run_exits_with_1(tmp_path, capsys):
    argv = ["train", *TINY, "--lr", "1e6", "--out-dir", str(tmp_path), "--run-name", "d"]
    assert main(argv) == 1
    assert "The steps diverged" in capsys.readouterr().err


def test_ctrl_c_exits_with_130_and_sigterm_with_143(monkeypatch, capsys):
    def interrupted(args, overrides):
        raise KeyboardInterrupt

    replace_command(monkeypatch, "gradcheck", interrupted)
    assert main(["gradcheck"]) == 130 == cli.EXIT_INTERRUPTED
    assert "Interrupted." in capsys.readouterr().err

    class Terminated(KeyboardInterrupt):  # what a SIGTERM handler raises: same clean-up
        signum = signal.SIGTERM

    def terminated(args, overrides):
        raise Terminated

    replace_command(monkeypatch, "gradcheck", terminated)
    assert main(["gradcheck"]) == 143 == cli.EXIT_TERMINATED
    assert "Terminated." in capsys.readouterr().err


def test_ctrl_c_during_training_exits_with_130(tmp_path, monkeypatch, capsys):
    from gradschool.train.trainer import Trainer

    def fit(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", fit)
    assert main(["train", *TINY, "--out-dir", str(tmp_path), "--run-name", "i"]) == 130
    assert "Stopped by Ctrl-C (SIGINT)" in capsys.readouterr().err


def test_the_exit_statuses_are_in_the_help():
    result = subprocess.run(
        [sys.executable, "-m", "gradschool", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    text = result.stdout
    assert "exit status:" in text
    for code in ("0 ", "1 ", "2 ", "130 ", "143 "):
        assert f"\n  {code}" in text, code
    # and the console script really exits with them
    bad = subprocess.run(
        [sys.executable, "-m", "gradschool", "train", "--lr", "-1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "optim.lr must be > 0" in bad.stderr


# ---- log messages ----------------------------------------------------------------------------


def chatty(args, overrides) -> int:
    log = logging.getLogger("gradschool.data.example")
    log.debug("looked in /somewhere")
    log.info("downloading https://example.org/x.gz")
    log.warning("the last batch is left out")
    return 0


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        ([], ["info", "warning"]),
        (["-v"], ["debug", "info", "warning"]),
        (["--verbose"], ["debug", "info", "warning"]),
        (["-q"], ["warning"]),
        (["--quiet"], ["warning"]),
    ],
)
def test_verbose_and_quiet_choose_the_messages(flags, shown, monkeypatch, capsys):
    replace_command(monkeypatch, "gradcheck", chatty)
    lines = {
        "debug": "gradschool: debug (gradschool.data.example): looked in /somewhere",
        "info": "gradschool: downloading https://example.org/x.gz",
        "warning": "gradschool: warning: the last batch is left out",
    }
    for argv in ([*flags, "gradcheck"], ["gradcheck", *flags]):  # before or after the command
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert out == ""  # messages go to standard error, never into a command's output
        assert err.splitlines() == [lines[level] for level in shown], argv


def test_main_leaves_the_logger_as_it_found_it(monkeypatch, capsys):
    logger = logging.getLogger("gradschool")
    handlers, level = list(logger.handlers), logger.level
    replace_command(monkeypatch, "gradcheck", chatty)
    assert main(["-v", "gradcheck"]) == 0
    assert logger.handlers == handlers and logger.level == level


def test_the_library_logs_and_only_the_cli_prints(tmp_path, capsys, caplog):
    from gradschool.config import load_config
    from gradschool.train.trainer import fit

    # From Python, the library's message is a log record (no print on standard error) ...
    config = load_config("seed_mlp", [*TINY, "--deterministic"])
    with caplog.at_level(logging.INFO, logger="gradschool"):
        fit(config, console=False)
    assert capsys.readouterr().err == ""
    [record] = [r for r in caplog.records if "deterministic" in r.getMessage()]
    assert record.name == "gradschool.backends" and record.levelno == logging.INFO
    # ... which the command line shows, unless -q.
    argv = ["train", *TINY, "--deterministic", "--out-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "gradschool: train.deterministic: nothing to switch on the NumPy engine" in (
        capsys.readouterr().err
    )
    assert main([*argv, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_compare_quiet_still_drops_the_epoch_lines(tmp_path, capsys):
    argv = ["compare", "--vary", "lr=0.01,0.02", *TINY, "--out", str(tmp_path)]
    assert main([*argv, "-q"]) == 0
    assert "Epoch: 1," not in capsys.readouterr().out
