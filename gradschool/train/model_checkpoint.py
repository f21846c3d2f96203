"""The best checkpoints, kept beside the last one (PyTorch Lightning's ModelCheckpoint).

The last checkpoint (`checkpoint.npz` / `.pt`, written by RunLogger) is for resuming: it
holds everything, optimizer and random state included, as training left it. The best one is
for using the model: the weights of the epoch with the best validation score, which is
rarely the last epoch once the model starts to overfit.

    runs/<name>/
      checkpoint.npz          the last epoch (resume from it)
      best-epoch7.npz         the best epoch by val_loss: weights and normaliser
      checkpoints.json        which epochs are kept, by which metric, with their values

    [train]
    save_top_k = 1                # how many best checkpoints to keep; 0 = none, -1 = all
    checkpoint_monitor = "auto"   # val_loss when the run measures it; or val_acc, ...

The mode follows the metric's name, as early stopping's "auto" does: higher is better for
accuracies (`*_acc`), lower for everything else. Each file is written atomically (backends.py:
a temporary file, then a rename), so a crash never leaves half a best checkpoint.
`gradschool eval RUN --checkpoint best` measures it; `gradschool export` and
`gradschool.load_run` take the same choice.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradschool.checkpoint import atomic_write_text
from gradschool.errors import CheckpointError, ConfigError
from gradschool.train.callbacks import Callback
from gradschool.train.early_stopping import resolve_mode

if TYPE_CHECKING:
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import Trainer

MANIFEST = "checkpoints.json"
_BEST_FILE = re.compile(r"best-epoch\d+\.(npz|pt)$")


class ModelCheckpoint(Callback):
    """After every epoch, keep the `save_top_k` best checkpoints by `monitor`.

    `monitor="auto"` watches val_loss when the run measures it (a classification run with a
    validation split, every GPT run) and keeps no best checkpoint otherwise. A NaN score is
    never the best. Its state (what is kept) is part of every last checkpoint, so a resumed
    run keeps ranking the same files.
    """

    def __init__(self, monitor: str = "auto", save_top_k: int = 1) -> None:
        if monitor.startswith("test_"):
            raise ConfigError(
                f"train.checkpoint_monitor = {monitor!r} would choose the model by its test "
                f"score, which then is no longer an honest test. Use val_loss or val_acc."
            )
        self.asked = monitor
        self.save_top_k = int(save_top_k)
        self.monitor: str | None = None if monitor == "auto" else monitor
        self.kept: list[dict[str, Any]] = []  # best first: {"epoch", "step", "value", "file"}
        self.why_none = ""  # when nothing is kept: why (for report.md)

    @classmethod
    def from_config(cls, train_config: Any) -> ModelCheckpoint:
        return cls(train_config.checkpoint_monitor, train_config.save_top_k)

    @property
    def mode(self) -> str:
        return resolve_mode(self.monitor or "val_loss", "auto")

    # ---- the callback --------------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer) -> None:
        has_val = _has_validation(trainer)
        if self.asked == "auto":
            self.monitor = "val_loss" if has_val else None
            if not has_val:
                self.why_none = (
                    "the run measures no val_loss (no validation split: data.val_fraction = 0, "
                    'or "auto" on a full data set)'
                )
        elif self.asked.startswith("val_") and not has_val:  # (asked = monitor here)
            raise ConfigError(
                f"train.checkpoint_monitor = {self.monitor!r}, but this run has no validation "
                f"split (data.val_fraction = 0). Set data.val_fraction (e.g. 0.1), or "
                f"train.checkpoint_monitor = auto, or train.save_top_k = 0."
            )
        if self.save_top_k == 0:
            self.why_none = "train.save_top_k = 0"
        if trainer.run is not None:
            # A resumed run: files a crash left behind after the last checkpoint (a newer
            # best than the state knows) are not part of this run any more.
            kept = {entry["file"] for entry in self.kept}
            for path in trainer.run.path.iterdir():
                if _BEST_FILE.match(path.name) and path.name not in kept:
                    path.unlink()
            if self.kept:
                self._write_manifest(trainer.run.path)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if self.monitor is None or self.save_top_k == 0 or trainer.run is None:
            return
        if self.monitor not in row:
            measured = ", ".join(k for k, v in row.items() if isinstance(v, float))
            raise ConfigError(
                f"train.checkpoint_monitor = {self.monitor!r}, which this run does not "
                f"measure; it measures {measured}. Set train.checkpoint_monitor to one of "
                f"those (or auto)."
            )
        value = row[self.monitor]
        if value is None or not math.isfinite(float(value)) or not self._qualifies(float(value)):
            return
        run = trainer.run
        epoch = int(row["epoch"])
        name = f"best-epoch{epoch}{trainer.backend.checkpoint_suffix}"
        entry = {"epoch": epoch, "step": int(row["step"]), "value": float(value), "file": name}
        trainer.backend.save(self._checkpoint(trainer, entry), run.path / name)
        self.kept = [e for e in self.kept if e["file"] != name] + [entry]
        # A stable sort: of two equal scores, the earlier epoch stays ahead.
        self.kept.sort(key=lambda e: e["value"], reverse=self.mode == "max")
        if self.save_top_k > 0:
            for dropped in self.kept[self.save_top_k :]:
                (run.path / dropped["file"]).unlink(missing_ok=True)
            self.kept = self.kept[: self.save_top_k]
        self._write_manifest(run.path)

    def _qualifies(self, value: float) -> bool:
        if self.save_top_k < 0 or len(self.kept) < self.save_top_k:
            return True
        worst = self.kept[-1]["value"]
        return value < worst if self.mode == "min" else value > worst

    def _checkpoint(self, trainer: Trainer, entry: dict[str, Any]) -> dict[str, Any]:
        """What a best checkpoint holds: the weights and what reading inputs needs. No
        optimizer or random state: it is for using the model, not for resuming it."""
        normalizer = trainer.data.normalizer if hasattr(trainer.data, "normalizer") else None
        return {
            "format": 1,
            "model": trainer.model.state_dict(),
            "normalizer": normalizer.state_dict() if normalizer else None,
            "state": {"epoch": entry["epoch"], "step": entry["step"]},
            "monitor": {"name": self.monitor, "mode": self.mode, "value": entry["value"]},
        }

    def _write_manifest(self, folder: Path) -> None:
        manifest = {
            "monitor": self.monitor,
            "mode": self.mode,
            "save_top_k": self.save_top_k,
            "best": [{**e, self.monitor: e["value"]} for e in self.kept],
        }
        atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def state_dict(self) -> dict[str, Any]:
        return {"model_checkpoint": {"monitor": self.monitor, "kept": self.kept}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # NOTE: a checkpoint from before this callback existed holds another callback's state
        # in this place; then there is nothing kept yet.
        mine = state.get("model_checkpoint") if isinstance(state, dict) else None
        if mine is None:
            return
        self.kept = [
            {
                "epoch": int(e["epoch"]),
                "step": int(e["step"]),
                "value": float(e["value"]),
                "file": str(e["file"]),
            }
            for e in mine["kept"]
        ]

    # ---- what report.md says ----------------------------------------------------------------

    def report_lines(self, trainer: Trainer) -> list[str]:
        last = f"checkpoint{trainer.backend.checkpoint_suffix}"
        lines = [f"- last: `{last}` (epoch {trainer.state.epoch}; `gradschool train --resume`)"]
        if not self.kept:
            why = self.why_none or f"no epoch measured a finite {self.monitor}"
            return [*lines, f"- best: none kept ({why})"]
        rule = "lowest" if self.mode == "min" else "highest"
        keep = "every epoch" if self.save_top_k < 0 else f"the top {self.save_top_k}"
        lines.append(
            f"- best by {self.monitor} ({rule} is best; train.save_top_k = "
            f"{self.save_top_k}: {keep}):"
        )
        lines += [
            f"  - `{e['file']}`: epoch {e['epoch']}, {self.monitor} {e['value']:.4f}"
            for e in self.kept
        ]
        return lines


def _has_validation(trainer: Trainer) -> bool:
    data = trainer.data
    if hasattr(data, "X_val"):  # classification: a validation split, or none
        return data.X_val is not None
    return len(getattr(data, "val_ids", ())) > 0  # a language model's held-out text


def read_manifest(run: RunDir) -> dict[str, Any] | None:
    path = Path(run.path) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def find_checkpoint(run: RunDir, which: str = "last") -> Path:
    """The checkpoint file `which` names: "last" (for resuming; also what early stopping's
    restored weights are saved in), "best" (the best kept by ModelCheckpoint), or a path."""
    if which == "last":
        return run.find_checkpoint()
    if which == "best":
        manifest = read_manifest(run)
        if not manifest or not manifest.get("best"):
            raise CheckpointError(
                f"{run.path} has no best checkpoint: it was trained with train.save_top_k = 0, "
                f"or measured no validation metric (data.val_fraction = 0), or by a gradschool "
                f"that kept only the last checkpoint. Use --checkpoint last."
            )
        path = Path(run.path) / manifest["best"][0]["file"]
        if not path.exists():
            raise CheckpointError(
                f"{run.path}/{MANIFEST} names {path.name} as the best checkpoint, but the file "
                f"is missing. Use --checkpoint last, or train the run again."
            )
        return path
    path = Path(which)
    if not path.is_absolute() and not path.exists():
        path = Path(run.path) / which
    if not path.exists():
        raise CheckpointError(
            f"--checkpoint {which!r}: no such file. Give best, last, or the path of a "
            f"checkpoint file of the run (e.g. {run.path}/best-epoch3.npz)."
        )
    return path


def describe_checkpoint(run: RunDir, path: Path) -> str:
    """ "best-epoch7.npz (epoch 7, val_loss 0.3123)" or "checkpoint.npz (last)"."""
    manifest = read_manifest(run) or {}
    for entry in manifest.get("best", []):
        if entry["file"] == Path(path).name:
            monitor = manifest["monitor"]
            return f"{path.name} (best: epoch {entry['epoch']}, {monitor} {entry['value']:.4f})"
    return f"{Path(path).name} (last)" if Path(path).name.startswith("checkpoint") else str(path)
