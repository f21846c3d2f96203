"""TensorBoard logging: event files in the run folder, for either engine.

    gradschool train --log tensorboard            # or [train] log = ["tensorboard"]
    tensorboard --logdir runs                     # every run, side by side

What is written (tags as TensorBoard shows them):

    step/loss, step/lr, step/grad_norm   every optimizer step: the batch loss, the rate it
                                         used, the 2-norm of the gradient it applied (after
                                         clipping / DP-SGD's noise, when those are on)
    epoch/<column>                       every column of metrics.csv, at the epoch's last step
                                         (train_loss, val_loss, val_acc, lr, epsilon, ...)
    weights/<name>, grads/<name>         histograms after each epoch (train.log_histograms)
    samples/predictions                  image tasks: 16 validation inputs with the model's
                                         predictions, each epoch
    samples/text                         the GPT: 200 characters it writes, each epoch
    the graph                            torch: the model traced by torch.utils.tensorboard;
                                         NumPy engine: its torch twin (same layers, same names)
    hparams                              the recipe and the final metrics (HParams tab)

The writer is TensorBoard's own (`tensorboard.summary.writer.event_file_writer`) with the
protos and `*_pb` helpers of its plugins: no TensorFlow, and no torch for the NumPy engine.
Every value is converted to NumPy first, so both engines log through the same code.

NOTE: per-step values are read from the engine once per epoch, not after every batch (on a
GPU, reading a number makes the host wait for the device's queue): the callback keeps the
batches' losses and squared gradient norms as engine scalars and converts them together.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradschool.errors import GradschoolError
from gradschool.train.callbacks import Callback, run_dir

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from gradschool.train.trainer import Trainer

INSTALL = 'pip install "gradschool[tensorboard]"'
SAMPLES = 16  # validation images shown with their predictions each epoch
TEXT_CHARS = 200  # characters a GPT writes into TensorBoard each epoch


def require_tensorboard() -> None:
    """Raise a clear error when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401
    except ImportError as err:
        raise GradschoolError(
            f'train.log = ["tensorboard"] writes TensorBoard event files, which needs the '
            f"tensorboard package, and it is not installed ({err}). Install it with "
            f"`{INSTALL}` (or `pip install tensorboard`), or train without --log tensorboard."
        ) from err


class EventWriter:
    """Summaries into one event file in `logdir`, through TensorBoard's own writer.

    Each method takes NumPy arrays or Python numbers and a global step.
    """

    def __init__(self, logdir: str | Path) -> None:
        require_tensorboard()
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        self.logdir = Path(logdir)
        self._writer = EventFileWriter(str(logdir), max_queue_size=100, flush_secs=30)

    def _add(self, summary: Any, step: int) -> None:
        event = self._event_pb2.Event(summary=summary, step=int(step), wall_time=time.time())
        self._writer.add_event(event)

    def scalar(self, tag: str, value: float, step: int) -> None:
        # A classic scalar (simple_value): read by every TensorBoard and by EventAccumulator.
        value = self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
        self._add(self._summary_pb2.Summary(value=[value]), step)

    def scalars(self, tag: str, values: np.ndarray, first_step: int) -> None:
        """values[i] at step first_step + i."""
        for i, v in enumerate(np.asarray(values, dtype=np.float64).ravel()):
            self.scalar(tag, v, first_step + i)

    def histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb

        data = np.asarray(values, dtype=np.float64).ravel()
        self._add(histogram_pb(tag, data[np.isfinite(data)], buckets=30), step)

    def image(self, tag: str, rgb: np.ndarray, step: int) -> None:
        """An (H, W, 3) uint8 image, PNG-encoded."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buffer, format="PNG")
        height, width = rgb.shape[:2]
        image = self._summary_pb2.Summary.Image(
            height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue()
        )
        self._add(self._summary_pb2.Summary(value=[{"tag": tag, "image": image}]), step)

    def text(self, tag: str, text: str, step: int) -> None:
        from tensorboard.plugins.text.summary_v2 import text_pb

        self._add(text_pb(tag, text), step)

    def hparams(self, hparams: dict[str, Any], metrics: list[str], trial: str) -> None:
        """The recipe, and which scalar tags are its metrics (TensorBoard's HParams tab
        reads their values from this run's scalars)."""
        from tensorboard.plugins.hparams import summary_v2 as hp

        config = hp.hparams_config_pb(
            [hp.HParam(k) for k in hparams], [hp.Metric(m) for m in metrics]
        )
        self._add(config, 0)
        self._add(hp.hparams_pb(hparams, trial_id=trial), 0)

    def restart(self, step: int) -> None:
        """A resumed run starts again at `step`: TensorBoard drops what an interrupted attempt
        logged at that step or later (TensorFlow's SessionLog.START convention)."""
        log = self._event_pb2.SessionLog(status=self._event_pb2.SessionLog.START)
        self._writer.add_event(
            self._event_pb2.Event(session_log=log, step=int(step), wall_time=time.time())
        )

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class TensorBoardLogger(Callback):
    """Writes a run's scalars, histograms, samples, graph and hyper-parameters (see above)."""

    def __init__(self, histograms: bool = False) -> None:
        require_tensorboard()  # before training starts, not after its first epoch
        self.histograms = histograms
        self.writer: EventWriter | None = None
        self._losses: list[Any] = []  # this epoch's batch losses, as engine scalars
        self._sq_norms: list[Any] = []  # their squared gradient norms
        self._lrs: list[float] = []
        self._lr = 0.0

    # ---- the callback --------------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer) -> None:
        self.writer = EventWriter(run_dir(trainer).path)
        if trainer.state.step > 0:  # resumed: anything logged after the checkpoint is void
            self.writer.restart(trainer.state.step + 1)
        else:
            self._graph(trainer)
        self._sample = self._pick_samples(trainer)

    def on_epoch_start(self, trainer: Trainer) -> None:
        self._losses, self._sq_norms, self._lrs = [], [], []
        self._lr = float(trainer.optimizer.param_groups[0]["lr"])

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        # NOTE: the scheduler has already stepped when this runs: the rate this batch used
        # is the one read before it (self._lr), and the new one is for the next batch.
        self._lrs.append(self._lr)
        self._lr = float(trainer.optimizer.param_groups[0]["lr"])
        self._losses.append(loss.detach())
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        if grads:
            self._sq_norms.append(_squared_norm(trainer.backend, grads))

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        w, backend, step = self._open(), trainer.backend, int(row["step"])
        n = len(self._losses)
        if n:
            first = step - n + 1
            w.scalars("step/loss", _numbers(backend, self._losses), first)
            w.scalars("step/lr", np.asarray(self._lrs), first)
            if len(self._sq_norms) == n:
                w.scalars("step/grad_norm", np.sqrt(_numbers(backend, self._sq_norms)), first)
        for key, value in row.items():
            if key not in ("epoch", "step") and _is_number(value):
                w.scalar(f"epoch/{key}", value, step)
        if self.histograms:
            for name, p in trainer.model.named_parameters():
                w.histogram(f"weights/{name}", backend.to_numpy(p), step)
                if p.grad is not None:
                    w.histogram(f"grads/{name}", backend.to_numpy(p.grad), step)
        self._log_samples(trainer, step)
        w.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.writer is None:
            return
        finished = trainer.stop or trainer.state.epoch >= trainer.config.train.epochs
        if finished and trainer.state.history:
            last = trainer.state.history[-1]
            metrics = [
                f"epoch/{k}"
                for k, v in last.items()
                if k.startswith(("train_", "val_", "test_")) and _is_number(v)
            ]
            self.writer.hparams(hparams(trainer.config), metrics, run_dir(trainer).path.name)
        self.writer.close()
        self.writer = None

    def _open(self) -> EventWriter:
        """This fit's event file (opened by on_fit_start)."""
        if self.writer is None:
            raise RuntimeError("TensorBoardLogger: on_fit_start has not run")
        return self.writer

    # ---- samples and graph -----------------------------------------------------------------

    def _pick_samples(self, trainer: Trainer) -> Any:
        data = trainer.data
        if trainer.config.model.name == "gpt":
            return "text"
        X = data.X_val if data.X_val is not None else data.X_test
        if X is None or X.ndim != 4:  # images only: (N, C, H, W)
            return None
        y = data.y_val if data.X_val is not None else data.y_test
        return X[:SAMPLES], y[:SAMPLES]

    def _log_samples(self, trainer: Trainer, step: int) -> None:
        if self._sample is None:
            return
        if self._sample == "text":
            from gradschool.generation import from_trainer, sample

            loaded = from_trainer(trainer)
            prompt = "\n" if "\n" in loaded.vocab.chars else loaded.vocab.chars[0]
            text = sample(loaded, prompt, tokens=TEXT_CHARS, seed=0)
            # Indented four spaces: a Markdown code block, so TensorBoard keeps the lines.
            self._open().text("samples/text", "\n".join("    " + s for s in text.split("\n")), step)
            return
        from gradschool import plots

        X, y = self._sample
        pred = trainer.predict(X).argmax(axis=1)
        classes = list(trainer.data.classes)
        titles = [
            f"{classes[p]}" if p == t else f"{classes[p]} (true {classes[t]})"
            for p, t in zip(pred, y)
        ]
        images = [_displayable(x) for x in X]
        grid = plots.prediction_grid(images, titles, list(pred == y))
        self._open().image("samples/predictions", grid, step)

    def _graph(self, trainer: Trainer) -> None:
        """The model graph, traced by torch (the NumPy engine's torch twin: same layers, same
        names). Best effort: a model that torch cannot trace gets a note, not an error."""
        try:
            import torch
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return  # no torch: no graph (everything else is logged)
        data, config = trainer.data, trainer.config
        if config.model.name == "gpt":
            example = np.zeros((1, config.model.block_size), dtype=np.int64)
        else:
            example = np.asarray(data.X_train[:2])
        try:
            if trainer.backend.name == "torch":
                model, x = trainer.model, trainer.backend.tensor(example)
            else:
                from gradschool.models import build_model

                task = trainer.task
                model = build_model(torch.nn, config.model, task.input_shape, task.num_classes)
                if example.dtype != np.int64:
                    example = example.astype(np.float32)
                x = torch.from_numpy(example)
            was_training = model.training
            model.eval()
            # A second event file in the same folder; TensorBoard reads them together.
            # (The tracer warns about shape checks it turns into constants: not news here.)
            folder = str(run_dir(trainer).path)
            with SummaryWriter(log_dir=folder) as graph, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph.add_graph(model, x)
            model.train(was_training)
        except Exception as err:  # noqa: BLE001 - tracing is best effort
            logger.warning(
                "TensorBoard: the model graph was not drawn (torch could not trace the model: "
                "%s: %s); everything else is logged.",
                type(err).__name__,
                err,
            )


def _squared_norm(backend: Any, grads: list[Any]) -> Any:
    """The squared 2-norm of all gradients seen as one vector: an engine scalar on torch (no
    wait for the device), a float on the NumPy engine (whose arrays are at hand)."""
    if backend.name == "torch":
        import torch

        with torch.no_grad():
            return torch.stack([g.float().pow(2).sum() for g in grads]).sum()
    return float(sum(np.vdot(g, g) for g in (backend.to_numpy(g).ravel() for g in grads)))


def _numbers(backend: Any, scalars: list[Any]) -> np.ndarray:
    """Engine scalars as one float64 array, read from the engine in one go."""
    if backend.name == "torch":
        import torch

        return backend.to_numpy(torch.stack([s.float() for s in scalars])).astype(np.float64)
    return np.array([float(backend.to_numpy(s)) for s in scalars], dtype=np.float64)


def _displayable(x: np.ndarray) -> np.ndarray:
    """A (C, H, W) input as imshow draws it: (H, W) grey or (H, W, 3) colour, each image
    stretched to [0, 1] (normalised pixels and spectrograms alike)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[0] if x.shape[0] != 3 else np.moveaxis(x, 0, -1)
    low, high = float(x.min()), float(x.max())
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def hparams(config: Any) -> dict[str, Any]:
    """The settings that make the recipe, flat, for TensorBoard's HParams tab."""
    m = config.model
    values: dict[str, Any] = {
        "engine": config.train.engine,
        "dataset": config.data.dataset,
        "batch_size": str(config.data.batch_size),
        "model": m.name,
        "optimizer": config.optim.name,
        "lr": config.optim.lr,
        "momentum": config.optim.momentum,
        "weight_decay": config.optim.weight_decay,
        "schedule": config.schedule.name,
        "epochs": config.train.epochs,
        "seed": config.train.seed,
        "dropout": m.dropout,
    }
    if m.name == "mlp":
        values["sizes"] = ",".join(map(str, m.sizes))
    elif m.name == "cnn":
        values.update(arch=m.arch, channels=",".join(map(str, m.channels)))
    else:
        values.update(n_layer=m.n_layer, n_head=m.n_head, n_embd=m.n_embd, block_size=m.block_size)
    return values
