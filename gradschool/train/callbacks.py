"""What happens around the loop, kept out of the loop: printing, logging, saving, plotting.

Each callback sees the `Trainer` at these moments: once it is built (`on_setup`, before
anything is trained or written), when fitting starts, between each batch's backward pass and
its optimizer step (`on_before_step`: where DP-SGD replaces the gradients), after each batch,
after each epoch (with that epoch's row of metrics) and when fitting ends. The loop itself
stays the few lines of the seed's example; everything else plugs in here.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import Trainer


class Callback:
    """Override the moments you need. State to keep across a resume goes in state_dict()."""

    def on_setup(self, trainer: Trainer) -> None:
        """The trainer is built (model, optimizer, batches): check what must hold and prepare.
        An error here stops the run before it trains or writes anything."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer) -> None:
        pass

    def on_before_step(self, trainer: Trainer) -> None:
        """The batch's gradients are in each parameter's .grad (clipped, if asked); the
        optimizer steps next."""

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def progress_front_end(mode: str = "auto", stream: Any = None) -> str | None:
    """Where a progress bar can be drawn on `stream` (default: sys.stderr), as tqdm draws it:

    - "notebook": the output of a Jupyter kernel, with ipywidgets installed: tqdm's widget bar
      (what `tqdm.auto` picks there);
    - "text": a terminal; or a Jupyter kernel without ipywidgets, whose output redraws a text
      bar in place (\r);
    - None: anything else, a log file, CI, or output the lecture runner captures: no bar, so
      logs hold no redrawn lines.

    `mode` "on" draws a text bar even where "auto" would not; "off" draws none."""
    if mode == "off":
        return None
    stream = sys.stderr if stream is None else stream
    # NOTE: a kernel's stderr is ipykernel's OutStream, which says it is not a terminal.
    if type(stream).__module__.split(".")[0] == "ipykernel":
        return "notebook" if importlib.util.find_spec("ipywidgets") is not None else "text"
    if mode == "on":
        return "text"
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else None


def progress_bar(front_end: str, **options: Any) -> Any:
    """A tqdm bar for `progress_front_end`'s answer: the notebook widget, or the text bar
    (also when the widget cannot be made: an ipywidgets too old for tqdm)."""
    if front_end == "notebook":
        try:
            from tqdm.notebook import tqdm as notebook_bar

            return notebook_bar(**options)
        except ImportError:
            pass
    from tqdm.std import tqdm as text_bar

    return text_bar(dynamic_ncols=True, **options)


class ProgressBar(Callback):
    """A tqdm bar over the batches of each epoch: in a terminal, and in a Jupyter notebook
    (a widget); none where output is a log (`progress_front_end`).

    NOTE: the loss shown is read only every `refresh` batches: reading a loss (`.item()`)
    makes a GPU wait for its queue, so doing it every batch would slow the torch path down.
    """

    def __init__(self, mode: str = "auto", refresh: int = 50) -> None:
        self.mode = mode
        self.refresh = refresh
        self.bar: Any = None

    def on_epoch_start(self, trainer: Trainer) -> None:
        # Asked at each epoch, not once: where stderr goes can change (the runner captures it).
        front_end = progress_front_end(self.mode)
        if front_end is not None:
            epoch, total = trainer.state.epoch + 1, trainer.config.train.epochs
            loader = trainer.loader
            self.bar = progress_bar(
                front_end,
                total=len(loader) if hasattr(loader, "__len__") else None,  # RL: not known
                initial=trainer.state.batch,  # resumed mid-epoch: the batches already done
                desc=f"epoch {epoch}/{total}",
                leave=False,
                unit="batch",
            )

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n % self.refresh == 0:
                self.bar.set_postfix(loss=f"{float(loss.item()):.3f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self._close()

    def on_fit_end(self, trainer: Trainer) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_row(row: dict[str, Any]) -> str:
    """The seed's console line, `Epoch: 1, Loss: 0.335`, then the accuracies we measure."""
    text = f"Epoch: {row['epoch']}, Loss: {row['train_loss']:.3f}"
    for split in ("train", "val", "test"):
        if row.get(f"{split}_acc") is not None:
            text += f", {split} acc: {100 * row[f'{split}_acc']:.2f}%"
    if row.get("epsilon") is not None:  # a DP-SGD run: the privacy spent so far
        text += f", epsilon: {row['epsilon']:.2f}"
    return text + f" ({row['epoch_time']:.1f}s)"


class ConsoleLogger(Callback):
    """Prints the seed's line after every epoch, and the batch loss every `log_every` batches."""

    def __init__(self, log_every: int = 0, stream: Any = None) -> None:
        self.log_every, self.stream = log_every, stream

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        batch = trainer.state.batch  # counted from the epoch's start, also when resumed in it
        if self.log_every and batch % self.log_every == 0:
            print(
                f"  epoch {trainer.state.epoch + 1}, batch {batch}: loss {float(loss.item()):.3f}",
                file=self.stream or sys.stdout,
                flush=True,
            )

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        line = getattr(trainer.task, "format_row", format_row)(row)  # a task may have its own
        print(line, file=self.stream or sys.stdout, flush=True)


def run_dir(trainer: Trainer) -> RunDir:
    """The trainer's run directory. The callbacks that write files into one are added only
    when it has one (`Trainer(run=...)`)."""
    if trainer.run is None:
        raise RuntimeError("this callback writes into a run directory, but the run has none")
    return trainer.run


class RunLogger(Callback):
    """Keeps the run directory current: metrics.csv and the checkpoint after every epoch, the
    plots and report.md at the end (unless `report=False`: the caller writes its own)."""

    def __init__(self, checkpoint_every: int = 1, report: bool = True) -> None:
        self.checkpoint_every, self.report = checkpoint_every, report

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        run_dir(trainer).write_metrics(trainer.state.history)
        epochs = trainer.config.train.epochs
        if row["epoch"] % self.checkpoint_every == 0 or row["epoch"] == epochs:
            trainer.save_checkpoint()

    def on_fit_end(self, trainer: Trainer) -> None:
        from gradschool import plots

        history, run = trainer.state.history, run_dir(trainer)
        if history and self.report:
            plots.plot_history(history, run.plot_path("curves.png"))
            run.write_report(trainer)
