"""What is being learned: the part of training that differs between problems.

The loop in trainer.py is the same for every experiment. A *task* supplies the three things
that are not: the batches (`make_loader`), the loss of a batch (`loss`) and the metrics
measured after each epoch (`metrics`). Classification of images or sounds is one task;
next-character prediction (the GPT) is another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gradschool.data.loader import DataLoader
from gradschool.data.prepare import Prepared

if TYPE_CHECKING:
    from gradschool.train.trainer import Trainer


class ClassificationTask:
    """Inputs X, integer labels y; cross-entropy loss; accuracy on validation and test sets."""

    def __init__(self, data: Prepared) -> None:
        self.data = data

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.data.input_shape

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def num_train(self) -> int:
        return len(self.data.y_train)

    def make_loader(self, backend: Any, config: Any) -> DataLoader:
        # The whole training set is staged once where the engine reads it fastest (for torch,
        # as tensors on its device); the loader then only picks batches out of it.
        return DataLoader(
            backend.stage(self.data.X_train),
            backend.stage(self.data.y_train),
            batch_size=config.data.batch_size,
            shuffle=config.data.shuffle,
            seed=config.train.seed,
        )

    def loss(self, F: Any, output: Any, y: Any) -> Any:
        return F.cross_entropy(output, y)

    def metrics(self, trainer: Trainer) -> dict[str, Any]:
        row: dict[str, Any] = {}
        data = self.data
        if data.X_val is not None:
            val = trainer.evaluate(data.X_val, data.y_val)
            row.update(val_loss=val["loss"], val_acc=val["acc"])
        test = trainer.evaluate(data.X_test, data.y_test)
        row.update(test_loss=test["loss"], test_acc=test["acc"])
        return row

    def evaluate(self, trainer: Trainer, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Mean cross-entropy and accuracy on (X, y), plus the predicted classes."""
        logits = trainer.predict(X).astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-log_probs[np.arange(len(y)), y].mean()) if len(y) else float("nan")
        y_pred = logits.argmax(axis=1)
        acc = float((y_pred == y).mean()) if len(y) else float("nan")
        return {"loss": loss, "acc": acc, "y_pred": y_pred, "logits": logits}


def build_task(config: Any, data: Any = None) -> Any:
    """The task for a config. Given `data` (a fold of cross-validation, say), use it."""
    from gradschool.data.prepare import prepare_data

    if data is None:
        data = prepare_data(config.data, config.train.seed)
    return ClassificationTask(data)
