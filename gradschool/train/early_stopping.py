"""Early stopping: stop training when the validation score stops improving.

Training loss keeps falling long after the model has stopped getting better on data it has
not seen; from then on every epoch fits the training set's noise (overfitting, the seed's
FAQ, section 8). Early stopping watches a validation measure after each epoch, remembers the
best epoch's weights, stops once `patience` epochs in a row brought no improvement of at
least `min_delta`, and hands back the best weights (Prechelt, "Early Stopping - But When?",
1998; Goodfellow et al., Deep Learning, section 7.8, where it is shown to act like an L2
penalty whose strength is set by the number of steps).

    [early_stopping]
    patience = 5           # none (the default) = never stop early
    monitor = "val_loss"   # or "val_acc"; never a test metric
    mode = "auto"          # min for losses, max for accuracies
    min_delta = 0.0
    restore_best = true

Its state (best value, best epoch, epochs waited, best weights) is part of every checkpoint,
so a resumed run keeps counting where it was interrupted.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from gradschool.errors import ConfigError
from gradschool.train.callbacks import Callback

if TYPE_CHECKING:
    from gradschool.train.trainer import Trainer


def resolve_mode(monitor: str, mode: str) -> str:
    """ "min" or "max": "auto" means max for accuracy-like measures, min for everything else."""
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "f1", "precision", "recall")
    return "max" if any(word in monitor for word in higher_is_better) else "min"


class EarlyStopping(Callback):
    """Stop after `patience` epochs without an improvement of `monitor` by at least `min_delta`.

    With `restore_best`, the model ends with the weights of its best epoch. When a run directory
    is kept, the final checkpoint is written again with those weights, so `gradschool eval`
    measures the model that early stopping chose.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
        verbose: bool = True,
    ) -> None:
        if monitor.startswith("test_"):
            raise ConfigError(
                f"early stopping cannot watch {monitor!r}: a test metric that decides when to "
                f"stop is no longer an honest test. Watch val_loss or val_acc instead."
            )
        self.monitor, self.mode = monitor, resolve_mode(monitor, mode)
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.restore_best, self.verbose = restore_best, verbose
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0  # epochs since the last improvement
        self.best_weights: dict[str, Any] | None = None
        self.restored_epoch: int | None = None

    @classmethod
    def from_config(cls, es: Any, verbose: bool = True) -> EarlyStopping:
        return cls(es.monitor, es.mode, es.patience, es.min_delta, es.restore_best, verbose)

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_fit_start(self, trainer: Trainer) -> None:
        if self.monitor.startswith("val_") and trainer.data.X_val is None:
            raise ConfigError(
                f"early stopping watches {self.monitor}, but this run has no validation split "
                f"(data.val_fraction = {trainer.config.data.val_fraction!r}). Set "
                f"data.val_fraction (e.g. 0.1) or watch train_loss."
            )

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if row.get(self.monitor) is None:
            measured = ", ".join(k for k, v in row.items() if isinstance(v, float))
            raise ConfigError(
                f"early stopping watches {self.monitor!r}, which this run does not measure; "
                f"it measures {measured}. Set early_stopping.monitor to one of those."
            )
        value = float(row[self.monitor])
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, int(row["epoch"]), 0
            if self.restore_best:
                backend = trainer.backend
                # A copy, as the engine's own tensors (so a torch checkpoint stays loadable
                # with weights_only=True); the live weights keep changing.
                self.best_weights = backend.numpy_to_state(
                    backend.state_to_numpy(trainer.model.state_dict())
                )
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop = True
            trainer.state.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch})"
            )

    def on_fit_end(self, trainer: Trainer) -> None:
        # NOTE: on_fit_end also runs when training was interrupted (an exception, Ctrl-C). Then
        # the last checkpoint must stay exactly as saved, so a resume continues exactly: the
        # best weights are restored only when training is over.
        finished = trainer.stop or trainer.state.epoch >= trainer.config.train.epochs
        if not (self.restore_best and finished and self.best_weights is not None):
            return
        if self.best_epoch == trainer.state.epoch:
            return  # the last epoch was the best: nothing to restore
        backend = trainer.backend
        weights = {k: backend.to_numpy(v) for k, v in self.best_weights.items()}
        trainer.model.load_state_dict(backend.numpy_to_state(weights))
        self.restored_epoch = self.best_epoch
        if trainer.run is not None:
            trainer.save_checkpoint()
        if self.verbose:
            print(
                f"Early stopping: restored the weights of epoch {self.best_epoch} "
                f"({self.monitor} {self.best:.4f})",
                file=sys.stdout,
                flush=True,
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch, self.wait = int(state["best_epoch"]), int(state["wait"])
        self.best_weights = state["weights"]
