"""What is being learned: the part of training that differs between problems.

The loop in trainer.py is the same for every experiment. A *task* supplies the three things
that are not: the batches (`make_loader`), the loss of a batch (`batch_loss`, here the model's
output scored by `loss`) and the metrics measured after each epoch (`metrics`). Classification
of images or sounds is one task; next-character prediction (the GPT) is another; DP-SGD's
Poisson batches (trust/dp.py) and an RL agent's rollouts (apps/rl_task.py) are tasks too.

Optional hooks the loop and the run directory use when a task has them: `build_model(backend)`
(a network the config's [model] does not describe), `format_row(row)` (its console line),
`run_info()` (what run.json keeps), `report_lines(trainer, last_row)` (lines of report.md) and
`resumable = False` (a run that `gradschool train --resume` cannot continue).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from gradschool.data.augment import AugmentedLoader, Augmenter
from gradschool.data.loader import DataLoader
from gradschool.data.prepare import Prepared
from gradschool.errors import ConfigError

if TYPE_CHECKING:
    from gradschool.train.trainer import Trainer


class SupervisedTask:
    """Batches of (inputs, targets): the loss of a batch scores the model's output."""

    def batch_loss(self, backend: Any, net: Any, batch: tuple[Any, Any]) -> tuple[Any, int]:
        """(the batch's loss, with a graph for backward; how many examples it holds)."""
        xb, yb = batch
        return self.loss(backend.F, net(backend.tensor(xb)), backend.tensor(yb)), len(yb)

    def loss(self, F: Any, output: Any, y: Any) -> Any:
        raise NotImplementedError


class ClassificationTask(SupervisedTask):
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

    def make_loader(self, backend: Any, config: Any) -> DataLoader | AugmentedLoader:
        augmenter = Augmenter(config.data.augment, fill=self._background())
        # The whole training set is staged once where the engine reads it fastest (for torch,
        # as tensors on its device); the loader then only picks batches out of it.
        # NOTE: augmented batches are made in NumPy, so with data.augment the inputs stay
        # NumPy arrays and each augmented batch is converted by the loop's backend.tensor().
        stage = backend.stage if not augmenter else np.asarray
        loader = self.batches(stage(self.data.X_train), stage(self.data.y_train), backend, config)
        if not augmenter:
            return loader
        if self.data.X_train.ndim != 4:
            raise ConfigError(
                f"data.augment = {config.data.augment} needs images (N, C, H, W), but the "
                f"training inputs of {config.data.dataset!r} have shape "
                f"{self.data.X_train.shape}. Leave data.augment empty for this data set."
            )
        return AugmentedLoader(loader, augmenter, config.train.seed)

    def batches(self, X: Any, y: Any, backend: Any, config: Any) -> Any:
        """How batches are drawn from the (staged) training set: shuffled mini-batches, each
        process its own part of every global batch. An extension may draw them another way
        (DP-SGD: Poisson sampling, gradschool/trust/dp.py)."""
        return DataLoader(
            X,
            y,
            batch_size=config.data.batch_size,
            shuffle=config.data.shuffle,
            seed=config.train.seed,
            # Data-parallel: this process's part of each global batch (distributed.py).
            rank=backend.rank,
            world_size=backend.world_size,
        )

    def _background(self) -> np.ndarray | float:
        """The value of a black (0) pixel after normalisation, per channel: what augmentation
        fills vacated pixels with."""
        normalizer, X = self.data.normalizer, self.data.X_train
        if normalizer is None or X.ndim < 2:
            return 0.0
        return normalizer(np.zeros((1, X.shape[1]), dtype=np.float32)).reshape(-1)

    def run_info(self) -> dict[str, Any]:
        """What run.json keeps so that `gradschool.load_run` rebuilds the model with no data."""
        return {"input_shape": list(self.input_shape), "classes": list(self.data.classes)}

    def loss(self, F: Any, output: Any, y: Any) -> Any:
        if len(y) == 0:
            # NOTE: an empty batch (possible, if rarely, under DP-SGD's Poisson sampling) has
            # loss 0 and zero gradients, not the NaN of a mean over nothing.
            return output.sum() * 0.0
        return F.cross_entropy(output, y)

    def metrics(self, trainer: Trainer) -> dict[str, Any]:
        row: dict[str, Any] = {}
        data = self.data
        if trainer.config.train.eval_train:
            # In eval mode, like the other splits: train_loss above is the running mean of
            # the batches (dropout on, weights changing), this is the model at epoch's end.
            train = trainer.evaluate(data.X_train, data.y_train)
            row.update(train_eval_loss=train["loss"], train_acc=train["acc"])
        if data.X_val is not None:
            val = trainer.evaluate(data.X_val, data.y_val)
            row.update(val_loss=val["loss"], val_acc=val["acc"])
        # NOTE: cross-validation folds and search trials hold no test split at all
        # (prepare_data(..., with_test=False)), so they cannot even look at it.
        if data.X_test is not None:
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


class LanguageModelTask(SupervisedTask):
    """Next-character prediction on text (the GPT): random windows of token ids in, the
    cross-entropy of every position's prediction of the following token out.

    One "epoch" is `data.eval_interval` training iterations (nanoGPT's eval_interval): after
    each, the loss is measured on a FIXED set of `data.eval_batches` validation batches (and,
    with `train.eval_train`, as many fixed training batches), so every evaluation, run and
    engine is scored on the very same windows. Perplexity = exp(validation loss): the model is
    as unsure as a uniform choice among that many characters.
    """

    def __init__(self, data: Any, config: Any) -> None:
        self.data = data
        self.block_size = config.model.block_size
        self.batch_size = config.data.batch_size
        if not isinstance(self.batch_size, int):
            raise ConfigError(
                f'data.batch_size = "{self.batch_size}" means the whole data set, but a '
                f"language model trains on batches of random windows: give a number of "
                f"windows per batch, e.g. --batch-size 12."
            )
        self.eval_batches = config.data.eval_batches
        self._staged: dict[str, Any] = {}  # fixed evaluation batches, staged once per split

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.block_size,)

    @property
    def num_classes(self) -> int:
        return self.data.vocab_size

    @property
    def num_train(self) -> int:
        """Training windows: one per start position."""
        return max(len(self.data.train_ids) - self.block_size, 0)

    def make_loader(self, backend: Any, config: Any) -> Any:
        from gradschool.data.text import WindowLoader

        return WindowLoader(
            self.data.train_ids,
            self.block_size,
            self.batch_size,
            config.data.eval_interval,
            seed=config.train.seed,
            rank=getattr(backend, "rank", 0),  # data-parallel processes draw different windows
        )

    def loss(self, F: Any, output: Any, y: Any) -> Any:
        # (B, T, V) logits and (B, T) targets -> one cross-entropy over all B*T positions.
        V = output.shape[-1]
        return F.cross_entropy(output.reshape(-1, V), y.reshape(-1))

    def _batches(self, backend: Any, split: str) -> tuple[Any, Any]:
        from gradschool.data.text import fixed_batches

        if split not in self._staged:
            ids = self.data.val_ids if split == "val" else self.data.train_ids
            stream = 0 if split == "val" else 1
            size = (self.block_size, self.batch_size, self.eval_batches)
            batches = fixed_batches(ids, *size, stream)
            X = np.stack([x for x, _ in batches])  # (eval_batches, B, T)
            Y = np.stack([y for _, y in batches])
            self._staged[split] = (backend.stage(X), backend.stage(Y))
        return self._staged[split]

    def mean_loss(self, trainer: Trainer, split: str) -> float:
        """Mean cross-entropy over the fixed batches of `split` ("val" or "train"), in eval
        mode (no dropout) and without a graph."""
        return self.loss_and_error(trainer, split)[0]

    def loss_and_error(self, trainer: Trainer, split: str) -> tuple[float, float]:
        """(mean loss, its standard error) over the fixed batches of `split`.

        The batches are independent random windows, so their losses are independent draws
        and the mean's standard error is std(batch losses) / sqrt(batches): the spread of
        the estimate around the loss over all windows of the split (nan for one batch).
        """
        backend, model = trainer.backend, trainer.model
        X, Y = self._batches(backend, split)
        was_training = getattr(model, "training", True)
        model.eval()
        losses = []
        with backend.no_grad():
            for i in range(len(X)):
                logits = model(backend.tensor(X[i]))
                losses.append(self.loss(backend.F, logits, backend.tensor(Y[i])))
        model.train(was_training)
        # Read back at the end: on a GPU, one wait for the device, not one per batch.
        values = np.array([float(backend.to_numpy(loss)) for loss in losses])
        se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
        return float(values.mean()), float(se)

    def metrics(self, trainer: Trainer) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if trainer.config.train.eval_train:
            loss, se = self.loss_and_error(trainer, "train")
            row.update(train_eval_loss=loss, train_eval_loss_se=se)
        val_loss, se = self.loss_and_error(trainer, "val")
        row.update(val_loss=val_loss, val_loss_se=se, val_ppl=float(np.exp(min(val_loss, 700.0))))
        return row

    def evaluate(self, trainer: Trainer, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Mean cross-entropy and perplexity of windows X (N, T) predicting y (N, T)."""
        logits = trainer.predict(X).astype(np.float64)  # (N, T, V)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, y[..., None], axis=-1)
        loss = float(-picked.mean()) if y.size else float("nan")
        return {"loss": loss, "ppl": float(np.exp(loss)), "logits": logits}

    def run_info(self) -> dict[str, Any]:
        """What run.json keeps so that `gradschool generate` can rebuild the vocabulary."""
        return {"vocabulary": self.data.vocab.chars, "val_chars_dropped": self.data.dropped}

    @staticmethod
    def format_row(row: dict[str, Any]) -> str:
        """nanoGPT's line: `step 250: train loss 2.0, val loss 2.1`, then perplexity."""
        text = f"step {row['step']}: train loss {row['train_loss']:.4f}"
        if row.get("train_eval_loss") is not None:
            text += f" (eval {row['train_eval_loss']:.4f})"
        text += f", val loss {row['val_loss']:.4f}"
        if np.isfinite(row.get("val_loss_se", float("nan"))):
            text += f" ± {row['val_loss_se']:.4f}"  # the standard error of the estimate
        text += f", val ppl {row['val_ppl']:.2f}"
        return text + f" ({row['epoch_time']:.1f}s)"


def build_task(config: Any, data: Any = None) -> Any:
    """The task for a config. Given `data` (a fold of cross-validation, say), use it."""
    from gradschool.data.prepare import prepare_data, resolve_val_fraction

    # val_fraction "auto": decided by the data set and by whether the run watches validation
    d = dataclasses.replace(config.data, val_fraction=resolve_val_fraction(config.data, config))
    if config.model.name == "gpt":
        if data is None:
            from gradschool.data.text import load_corpus, prepare_text

            text, source = load_corpus(d.dataset, d.data_dir, d.download, d.text_file)
            data = prepare_text(text, d.val_fraction, source)
        return LanguageModelTask(data, config)
    if data is None:
        data = prepare_data(d, config.train.seed)
    return ClassificationTask(data)
