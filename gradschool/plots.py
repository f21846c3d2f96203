"""Figures, one function each.

The figures a function saves (`plot_*`) are `matplotlib.figure.Figure` objects of their own,
outside pyplot: saving a PNG needs no backend and no screen, and pyplot's figures, backend and
state stay the caller's. NOTE: so this module never calls `matplotlib.use`: in a notebook that
would switch the inline backend off, and every later figure of the notebook would stop showing
(the CLI picks Agg for its own process, in cli.main). Only `loss_accuracy_axes` makes a pyplot
figure, because a lecture shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _colors() -> list[str]:
    return matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]


def loss_accuracy_axes(
    *,
    xlabel: str = "epoch",
    loss_label: str = "training loss",
    acc_label: str = "validation accuracy (%)",
    loss_title: str = "Training loss (cross-entropy)",
    acc_title: str = "Validation accuracy",
    log_loss: bool = True,
    figsize: tuple[float, float] = (10, 3.6),
) -> tuple[Any, Any, Any]:
    """A figure of learning curves, labelled and empty: loss (left, log scale unless
    `log_loss` is False) and accuracy in % (right), against epochs. Returns (fig, ax_loss,
    ax_acc); draw runs with `add_curves`, then call `finish_curves`.

    The figure belongs to pyplot, so a lecture's `show()` and a notebook display it. Labels
    are arguments so a lecture can pass t("epoch", "轮")."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    ax_loss, ax_acc = _curve_axes(
        fig, xlabel, loss_label, acc_label, loss_title, acc_title, log_loss
    )
    return fig, ax_loss, ax_acc


def _curve_axes(
    fig: Any,
    xlabel: str,
    loss_label: str,
    acc_label: str,
    loss_title: str,
    acc_title: str,
    log_loss: bool,
) -> tuple[Any, Any]:
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.set(xlabel=xlabel, ylabel=loss_label, title=loss_title)
    if log_loss:
        ax_loss.set_yscale("log")
    ax_acc.set(xlabel=xlabel, ylabel=acc_label, title=acc_title)
    return ax_loss, ax_acc


def add_curves(
    ax_loss: Any,
    ax_acc: Any | None,
    history: list[dict[str, Any]],
    label: str,
    style: str = "-o",
    loss_key: str = "train_loss",
    acc_key: str = "val_acc",
    **line: Any,
) -> None:
    """One run's loss and accuracy (x 100) against its epochs, from its history rows (as
    Trainer.state.history holds them). A curve the run did not measure is left out; so is
    the accuracy when `ax_acc` is None. `line`: matplotlib options (color, lw, ms...)."""
    line.setdefault("markersize", 3)
    epochs = [row["epoch"] for row in history]
    losses = [row.get(loss_key) for row in history]
    if any(v is not None for v in losses):
        ax_loss.plot(epochs, losses, style, label=label, **line)
    accs = [row.get(acc_key) for row in history]
    if ax_acc is not None and any(v is not None for v in accs):
        shown = [100 * a if a is not None else None for a in accs]
        ax_acc.plot(epochs, shown, style, label=label, **line)


def finish_curves(fig: Any, *axes: Any, legend_size: float | None = None) -> None:
    """Grid, legend and whole-number epoch ticks on each axes that has curves; a tight
    layout."""
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend(fontsize=legend_size)
    fig.tight_layout()


def plot_history(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Loss (left) and accuracy (right) against epochs, for each split that was measured."""
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = _curve_axes(
        fig, "epoch", "cross-entropy loss", "accuracy (%)", "loss", "accuracy", log_loss=False
    )
    for split, style in (("train", "-o"), ("val", "-s"), ("test", "-^")):
        add_curves(ax_loss, ax_acc, history, split, style, f"{split}_loss", f"{split}_acc")
    ppl = [row.get("val_ppl") for row in history]
    if not ax_acc.lines and any(v is not None for v in ppl):  # a language model: perplexity
        epochs = [row["epoch"] for row in history]
        ax_acc.plot(epochs, ppl, "-s", label="val", markersize=3)
        ax_acc.set(ylabel="perplexity = exp(loss)", title="perplexity")
    if title:
        fig.suptitle(title)
    finish_curves(fig, ax_loss, ax_acc)
    return _save(fig, path)


def plot_confusion_matrix(
    cm: Any, classes: list[str], path: Path, title: str = "confusion matrix"
) -> Path:
    """A heat map of the confusion matrix, each row scaled to its class's share (recall on the
    diagonal), with the counts written in the cells. Rows: true class; columns: predicted."""
    import numpy as np

    cm = np.asarray(cm)
    shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(classes)
    size = max(4.0, 0.45 * k + 1.5)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xticklabels=classes,
        yticklabels=classes,
        xlabel="predicted class",
        ylabel="true class",
        title=title,
    )
    for label in ax.get_xticklabels():
        label.set(rotation=45 if max(map(len, classes)) > 3 else 0, ha="right")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=color, fontsize=7)
    return _save(fig, path)


def plot_overfitting(
    histories: dict[str, list[dict[str, Any]]], path: Path, title: str = ""
) -> Path:
    """Train and validation accuracy against epochs for each run (one panel per run), so the
    gap between the two curves - overfitting - can be compared across runs."""
    fig = Figure(figsize=(5 * len(histories), 3.8))
    axes = fig.subplots(1, len(histories), sharey=True, squeeze=False)
    for ax, (label, history) in zip(axes[0], histories.items()):
        epochs = [row["epoch"] for row in history]
        for split, style in (("train", "-o"), ("val", "-s")):
            accs = [row.get(f"{split}_acc") for row in history]
            if any(a is not None for a in accs):
                percent = [100 * a if a is not None else np.nan for a in accs]  # NaN: a gap
                ax.plot(epochs, percent, style, label=split, markersize=3)
        last = history[-1]
        if last.get("train_acc") is not None and last.get("val_acc") is not None:
            gap = 100 * (last["train_acc"] - last["val_acc"])
            label = f"{label}\n(final gap {gap:.1f} points)"
        ax.set(xlabel="epoch", title=label)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[0][0].set_ylabel("accuracy (%)")
    if title:
        fig.suptitle(title, y=1.04)  # above the two-line panel titles
    return _save(fig, path)


def plot_comparison(
    histories: dict[str, list[dict[str, Any]]], path: Path, title: str = ""
) -> Path:
    """Several runs on one figure: loss (top) and accuracy (bottom) against epochs, against
    training wall time and against gradient evaluations (optimizer steps); the last two on log
    scales.

    Solid lines: training loss and validation accuracy (test accuracy when a run has no
    validation split); dashed: validation loss. Full-batch gradient descent takes one step per
    epoch and SGD one per example, so the three x axes tell three different stories.
    """
    from matplotlib.ticker import NullFormatter

    axes_x = (
        ("epoch", "epoch"),
        ("train_time", "training wall time (s, evaluation excluded)"),
        ("step", "gradient evaluations (optimizer steps)"),
    )
    fig = Figure(figsize=(15, 8))
    axes = fig.subplots(2, 3, sharey="row")
    colors = _colors()
    for i, (label, history) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        if not history:
            continue
        acc_key = "val_acc" if history[0].get("val_acc") is not None else "test_acc"
        for col, (key, _) in enumerate(axes_x):
            x = [row[key] for row in history]
            marker = "o" if len(history) <= 30 else None
            losses = [row["train_loss"] for row in history]
            style = dict(color=color, marker=marker, markersize=3)
            axes[0][col].plot(x, losses, "-", label=label, **style)
            if history[0].get("val_loss") is not None:
                axes[0][col].plot(
                    x, [row["val_loss"] for row in history], "--", color=color, linewidth=1
                )
            accs = [100 * row[acc_key] for row in history]
            axes[1][col].plot(x, accs, "-", label=f"{label} ({acc_key})", **style)
    for col, (key, xlabel) in enumerate(axes_x):
        for row in (0, 1):
            axes[row][col].set_xlabel(xlabel)
            axes[row][col].grid(alpha=0.3)
            if key != "epoch":  # GD, mini-batch and SGD differ by orders of magnitude here
                axes[row][col].set_xscale("log")
                axes[row][col].xaxis.set_minor_formatter(NullFormatter())  # no 3x10^0 clutter
    axes[0][0].set_ylabel("loss (solid: train, dashed: val)")
    axes[1][0].set_ylabel("accuracy (%)")
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_schedules(
    curves: dict[str, list[float]], path: Path, title: str = "", log: bool = False
) -> Path:
    """Learning rate against scheduler step, one line per schedule."""
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    for label, lrs in curves.items():
        ax.plot(range(len(lrs)), lrs, label=label, linewidth=1.6)
    ax.set(xlabel="scheduler step t (an epoch or a batch)", ylabel="learning rate", title=title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_trajectories(problems: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Optimizer paths over the contour lines of 2-D functions (top row) and the function value
    along each path (bottom row, log scale).

    Each problem is a dict: name, f (vectorised f(x, y)), xlim, ylim, minimum (x*, y*),
    log_levels (bool), paths {label: (xs, ys, values)}.
    """
    import numpy as np

    n = len(problems)
    fig = Figure(figsize=(7 * n, 10))
    axes = fig.subplots(2, n, gridspec_kw={"height_ratios": [3, 1.4]}, squeeze=False)
    colors = _colors()
    for col, problem in enumerate(problems):
        ax, ax_f = axes[0][col], axes[1][col]
        (x0, x1), (y0, y1) = problem["xlim"], problem["ylim"]
        X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        Z = problem["f"](X, Y)
        if problem.get("log_levels"):
            levels = np.logspace(np.log10(max(Z.min(), 1e-3)), np.log10(Z.max()), 25)
        else:
            levels = np.linspace(Z.min(), np.percentile(Z, 60), 20)
        ax.contour(X, Y, Z, levels=levels, colors="0.6", linewidths=0.7)
        ax.plot(*problem["minimum"], "k*", markersize=14, label="minimum")
        for i, (label, (xs, ys, values)) in enumerate(problem["paths"].items()):
            # Paths often overlap (the same valley): tell them apart by colour, dash and marker.
            style = dict(
                color=colors[i % len(colors)],
                linestyle=("-", "--", "-", "-.", ":", "-")[i % 6],
                marker=(None, None, "o", "s", "^", "D")[i % 6],
                markevery=max(len(xs) // 12, 1),
                markersize=4,
            )
            ax.plot(xs, ys, linewidth=1.4, label=label, alpha=0.9, **style)
            ax_f.plot(range(len(values)), np.maximum(values, 1e-12), label=label, **style)
        xs, ys, _ = next(iter(problem["paths"].values()))
        ax.plot(xs[0], ys[0], "ko", markersize=6, label="start")
        ax.set(xlim=problem["xlim"], ylim=problem["ylim"], xlabel="x", ylabel="y")
        ax.set_title(problem["name"])
        ax.legend(fontsize=8, loc=problem.get("legend", "best"))
        ax_f.set(yscale="log", xlabel="step", ylabel="f(x, y) - f*")
        ax_f.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_spectrograms(
    images: list[Any], titles: list[str], path: Path, title: str = "", ylabel: str = "mel band"
) -> Path:
    """A grid of spectrograms (2 rows of up to 5): each image (rows, frames), low rows at the
    bottom, one shared colour scale (spoken digits: one example of each digit)."""
    import numpy as np

    cols = min(5, len(images))
    rows = -(-len(images) // cols)
    fig = Figure(figsize=(2.6 * cols, 2.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    low = min(float(np.min(im)) for im in images)
    high = max(float(np.max(im)) for im in images)
    shown = None
    for ax, image, label in zip(axes.flat, images, titles):
        shown = ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high)
        ax.set_title(label, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("frame")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[len(images) :]:
        ax.axis("off")
    if shown is not None:
        fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.02, label="normalised value")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_episode_returns(
    returns: ArrayLike, path: Path, title: str = "", target: float | None = None
) -> Path:
    """Each training episode's return (dots) and the mean of the last 100 (line), against the
    episode number; `target` draws the "solved" threshold."""
    import numpy as np

    returns = np.asarray(returns, dtype=float)
    episodes = np.arange(1, len(returns) + 1)
    fig = Figure(figsize=(7, 3.8))
    ax = fig.subplots()
    ax.plot(episodes, returns, ".", markersize=2, alpha=0.35, label="episode return")
    if len(returns):
        cumsum = np.concatenate([[0.0], np.cumsum(returns)])
        window = np.minimum(episodes, 100)
        ax.plot(episodes, (cumsum[episodes] - cumsum[episodes - window]) / window,
                linewidth=2, label="mean of the last 100")  # fmt: skip
    if target is not None:
        ax.axhline(target, color="0.4", linestyle="--", linewidth=1, label=f"solved ({target:g})")
    ax.set(xlabel="training episode", ylabel="return (undiscounted)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_attributions(
    images: list[Any],
    maps: list[Any],
    titles: list[str],
    path: Path,
    title: str = "",
    signed: bool = True,
) -> Path:
    """Inputs (top row) above their attribution heat maps (bottom row), one column each
    (gradschool explain). An image is (H, W) grey or (H, W, 3) colour in [0, 1]; a map is
    (H, W). Signed maps: red = pushed the class score up, blue = down, one colour scale per
    map, symmetric around 0; unsigned maps (saliency): dark to bright."""
    import numpy as np

    cols = len(images)
    fig = Figure(figsize=(1.5 * cols + 0.6, 3.5), layout="constrained")
    axes = fig.subplots(2, cols, squeeze=False)
    for ax, image, label in zip(axes[0], images, titles):
        ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
        ax.set_title(label, fontsize=8)
    for ax, heat in zip(axes[1], maps):
        scale = float(np.max(np.abs(heat))) or 1.0
        if signed:
            ax.imshow(heat, cmap="bwr", vmin=-scale, vmax=scale)
        else:
            ax.imshow(heat, cmap="inferno", vmin=0, vmax=scale)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("attribution", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_text_attribution(
    chars: list[str], scores: ArrayLike, path: Path, title: str = "", width: int = 48
) -> Path:
    """Text with each character's background coloured by its attribution (red up, blue
    down, white none), `width` characters a line; a newline is shown as ⏎."""
    import numpy as np

    scores = np.asarray(scores, dtype=float)
    scale = float(np.max(np.abs(scores))) or 1.0
    lines = max(1, -(-len(chars) // width))
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(0.16 * width + 0.4, 0.32 * lines + 0.7))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["bwr"]
    for i, (char, score) in enumerate(zip(chars, scores)):
        row, col = divmod(i, width)
        color = cmap(0.5 + 0.5 * score / scale)
        ax.add_patch(Rectangle((col, -row - 1), 1, 1, color=color, linewidth=0))
        shown = "⏎" if char == "\n" else char
        ax.text(col + 0.5, -row - 0.5, shown, ha="center", va="center", family="monospace",
                fontsize=10)  # fmt: skip
    ax.set_xlim(0, width)
    ax.set_ylim(-lines, 0)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return _save(fig, path)


def prediction_grid(
    images: list[Any], titles: list[str], correct: list[bool], cols: int = 8
) -> Any:
    """Inputs with the model's predictions above them (green: right, red: wrong), as an
    (H, W, 3) uint8 RGB array: what TensorBoard's image tab shows each epoch. An image is
    (H, W) grey or (H, W, 3) colour in [0, 1]."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rows = max(1, -(-len(images) // cols))
    fig = Figure(figsize=(1.2 * cols, 1.35 * rows))
    canvas = FigureCanvasAgg(fig)  # drawn in memory, to read its pixels
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label, ok in zip(axes.flat, images, titles, correct):
        ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
        ax.set_title(label, fontsize=7, color="green" if ok else "red")
    fig.tight_layout(pad=0.3)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_lr_find(
    lrs: Any, losses: Any, smoothed: Any, suggestions: dict[str, float], path: Path, title: str = ""
) -> Path:
    """The learning-rate range test (gradschool lr-find): the loss of each batch against its
    learning rate on a log axis, the smoothed loss over it, and the suggested rates marked."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    ax.plot(lrs, losses, color="0.75", linewidth=0.8, label="batch loss")
    ax.plot(lrs, smoothed, color="C0", linewidth=1.8, label="smoothed loss")
    markers = {"steepest": ("C3", "o"), "minimum/10": ("C2", "s")}
    for name, lr in suggestions.items():
        color, marker = markers.get(name, ("C1", "^"))
        y = float(np.interp(np.log(lr), np.log(lrs), smoothed))
        ax.plot([lr], [y], marker, color=color, markersize=8, label=f"{name}: {lr:.2g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss")
    # The sweep ends where the loss explodes; a y-range set by the start keeps the valley legible.
    finite = [float(v) for v in [*losses, *smoothed] if np.isfinite(v)]
    if finite:
        low, start = min(finite), float(smoothed[0])
        span = max(abs(start - low), 1e-3)
        ax.set_ylim(low - 0.05 * span, start + 0.4 * span)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


# ---- Chinese text in figures ---------------------------------------------------------------

_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Noto Sans CJK JP",
    "AR PL UMing CN",
)
_CJK_FILES = ("*wqy*", "*NotoSansCJK*", "*NotoSansSC*", "*SourceHanSans*", "*DroidSansFallback*")
_CJK_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")


def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None.

    NOTE: matplotlib caches its font list; a font installed after the cache was built is not
    in it, so the usual font folders are searched too and what is found there is added."""
    import contextlib

    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in names:
            return family
    for folder in _CJK_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for pattern in _CJK_FILES:
            for path in sorted(root.rglob(pattern)):
                if path.suffix.lower() in (".ttf", ".ttc", ".otf"):
                    with contextlib.suppress(Exception):
                        font_manager.fontManager.addfont(str(path))
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in _CJK_FAMILIES if family in names), None)
