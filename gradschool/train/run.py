"""The run directory: everything needed to understand, resume or evaluate a run.

runs/<name>/
  config.toml     the resolved config (defaults + file + command-line overrides)
  run.json        seed, gradschool version, git commit, engine, Python / NumPy / torch
                  versions, the command line, start time, where the data came from
  metrics.csv     one row per epoch
  checkpoint.npz  (NumPy engine) or checkpoint.pt (torch): weights, optimizer, schedule,
                  random state and history after the last completed epoch
  best-epochN.npz the best epoch's weights by a validation metric, and checkpoints.json
                  saying which are kept (train/model_checkpoint.py)
  events.out.tfevents.*  TensorBoard event files, with train.log = ["tensorboard"]
  plots/*.png     loss and accuracy curves
  report.md       a summary written at the end, which doubles as a model card
"""

from __future__ import annotations

import csv
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gradschool.checkpoint import atomic_write_text
from gradschool.config import Config, load_config, save_config
from gradschool.errors import CheckpointError
from gradschool.version import __version__


def git_commit() -> str | None:
    """The commit of the gradschool checkout, if it is one (with '+dirty' for local edits)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def describe_position(saved: dict[str, int]) -> str:
    """ "epoch 3, batch 7 (step 27)" for a mid-epoch checkpoint, "the end of epoch 2 (step 20)"
    for one written after an epoch."""
    if saved["batch"]:
        return f"epoch {saved['epoch'] + 1}, batch {saved['batch']} (step {saved['step']})"
    if saved["epoch"] == 0:
        return f"step {saved['step']}"
    return f"the end of epoch {saved['epoch']} (step {saved['step']})"


def _versions() -> dict[str, str]:
    import numpy

    versions = {"python": platform.python_version(), "numpy": numpy.__version__}
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return versions


class RunDir:
    """A run's directory and the files in it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, config: Any, name: str | None = None) -> RunDir:
        """A new directory under `config.train.out_dir`, named by `config.train.run_name`,
        else `name`, else generated from the config; "-2", "-3"... if it is taken."""
        out = Path(config.train.out_dir)
        dp, private = getattr(config, "dp", None), ""  # a DP-SGD run says so: -dp-eps3
        if dp is not None and dp.enabled:
            eps, sigma = dp.target_epsilon, dp.noise_multiplier
            private = f"-dp-eps{eps:g}" if eps else "-dp" + (f"-sigma{sigma:g}" if sigma else "")
        name = (
            config.train.run_name
            or name
            or (
                f"{config.data.dataset}-{config.model.name}{private}-{config.train.engine}-"
                f"{time.strftime('%Y%m%d-%H%M%S')}"
            )
        )
        # NOTE: data set names may hold ':' (fsdd-speaker:theo), which Windows forbids in paths.
        name = re.sub(r"[^\w.+-]", "-", name)
        path, n = out / name, 2
        while path.exists() and any(path.iterdir()):
            path, n = out / f"{name}-{n}", n + 1
        (path / "plots").mkdir(parents=True, exist_ok=True)
        return cls(path)

    def discard_if_empty(self) -> bool:
        """Remove the directory if no file was written into it (a run that failed before its
        first write, e.g. on missing data, leaves no empty folder behind). True if removed."""
        if any(p.is_file() for p in self.path.rglob("*")):
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    def discard_if_unsaved(self) -> bool:
        """Remove the directory of a run stopped before anything worth keeping was saved: no
        checkpoint and no metrics.csv (only its config.toml and run.json, say). True if removed.
        """
        if self.has_checkpoint() or self.metrics_path.exists():
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    @classmethod
    def open(cls, path: Path) -> RunDir:
        run = cls(Path(path))
        if not (run.path / "config.toml").exists():
            raise CheckpointError(
                f"{path} is not a gradschool run directory (it has no config.toml). Give the "
                f"directory a `gradschool train` run created, e.g. runs/<name>."
            )
        return run

    # ---- files ---------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    def checkpoint_path(self, suffix: str) -> Path:
        return self.path / f"checkpoint{suffix}"

    def find_checkpoint(self) -> Path:
        for suffix in (".npz", ".pt"):
            if self.checkpoint_path(suffix).exists():
                return self.checkpoint_path(suffix)
        raise CheckpointError(
            f"{self.path} has no checkpoint yet (no epoch finished before the run stopped); "
            f"start the run again instead of resuming it."
        )

    def has_checkpoint(self) -> bool:
        return any(self.checkpoint_path(suffix).exists() for suffix in (".npz", ".pt"))

    def saved_position(self) -> dict[str, int] | None:
        """Where the last checkpoint stands, {"epoch", "step", "batch"} (batch > 0: saved in
        the middle of epoch epoch + 1), or None when there is none to resume from."""
        if not self.has_checkpoint():
            return None
        path = self.find_checkpoint()
        try:
            if path.suffix == ".pt":
                import torch  # a .pt checkpoint was written by the torch engine

                state = torch.load(path, map_location="cpu", weights_only=True)["state"]
            else:
                from gradschool.checkpoint import load_tree

                state = load_tree(path)["state"]
        except Exception:  # a damaged file: nothing to resume from
            return None
        return {k: int(state.get(k, 0)) for k in ("epoch", "step", "batch")}

    def plot_path(self, name: str) -> Path:
        (self.path / "plots").mkdir(exist_ok=True)
        return self.path / "plots" / name

    def load_config(self) -> Config:
        return load_config(self.config_path)

    # config: a Config, or an RL run's RLConfig (apps/rl.py): both have a [train] section.
    def write_config(self, config: Any) -> None:
        save_config(config, self.config_path)

    def write_info(self, config: Any, extra: dict[str, Any] | None = None) -> None:
        info = {
            "seed": config.train.seed,
            "engine": config.train.engine,
            # train.deterministic (RL runs have no such setting: false)
            "deterministic": getattr(config.train, "deterministic", False),
            "gradschool_version": __version__,
            "git_commit": git_commit(),
            "versions": _versions(),
            "command": sys.argv,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **(extra or {}),
        }
        atomic_write_text(self.path / "run.json", json.dumps(info, indent=2) + "\n")

    def read_info(self) -> dict[str, Any]:
        path = self.path / "run.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        """Rewrite metrics.csv from the whole history (so a resumed run's file stays whole)."""
        if not history:
            return
        columns = list(dict.fromkeys(k for row in history for k in row))

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(history)

        from gradschool.checkpoint import atomic_write

        atomic_write(self.metrics_path, write)

    def write_report(self, trainer: Any) -> None:
        """report.md: what ran, how it ended, the final metrics and the curves."""
        from gradschool.train.callbacks import format_row

        config, history = trainer.config, trainer.state.history
        last = history[-1]
        t = config.train
        extras = [
            *(["bf16 autocast"] if trainer.precision.name == "bf16" else []),
            *(["channels-last"] if t.channels_last else []),
            *(["torch.compile"] if t.compile else []),
        ]
        numbers = ", ".join([t.dtype, *extras])
        device = trainer.backend.describe()["device"]
        lines = [
            f"# Run {self.path.name}",
            "",
            f"- engine: {t.engine} ({numbers}) on {device}, seed {t.seed}",
            *([f"- precision: {trainer.precision.describe()}"] if t.precision != "fp32" else []),
            f"- data: {config.data.dataset} ({trainer.task.num_train} training examples), "
            f"batch size {config.data.batch_size}",
            f"- model: {config.model.name} {_model_shape(config.model)}",
            f"- optimizer: {config.optim.name}, lr {config.optim.lr}; "
            f"schedule {config.schedule.name}",
            f"- epochs: {last['epoch']} of {config.train.epochs}"
            + (f" (stopped: {trainer.state.stop_reason})" if trainer.state.stop_reason else ""),
            f"- training time: {trainer.state.train_time:.1f} s, {trainer.state.step} steps",
            # A task may add lines of its own (DP-SGD: the privacy spent).
            *getattr(trainer.task, "report_lines", lambda trainer, last: [])(trainer, last),
            "",
            "## Epochs",
            "",
            "```",
            *[getattr(trainer.task, "format_row", format_row)(row) for row in history],
            "```",
            "",
            "![loss and accuracy](plots/curves.png)",
            "",
        ]
        # Then the model card: checkpoints, intended use, data and its licence, metrics,
        # limitations, loading (train/model_card.py).
        from gradschool.train.model_card import model_card_lines
        from gradschool.train.model_checkpoint import ModelCheckpoint

        keeper = next((cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)), None)
        kept = keeper.report_lines(trainer) if keeper is not None else []
        lines += model_card_lines(trainer, kept)
        atomic_write_text(self.path / "report.md", "\n".join(lines))

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as f:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _model_shape(model_config: Any) -> str:
    if model_config.name == "gpt":
        c = model_config
        return f"{c.n_layer} layers, {c.n_head} heads, {c.n_embd} dims, context {c.block_size}"
    if model_config.name == "cnn":
        return f"{model_config.arch}, channels {model_config.channels}"
    return str(model_config.sizes)


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text if text != "" else None
