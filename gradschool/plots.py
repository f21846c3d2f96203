"""Figures, one function each, drawn with matplotlib's Agg backend (no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_history(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Loss (left) and accuracy (right) against epochs, for each split that was measured."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for split, style in (("train", "-o"), ("val", "-s"), ("test", "-^")):
        losses = [row.get(f"{split}_loss") for row in history]
        if any(v is not None for v in losses):
            ax_loss.plot(epochs, losses, style, label=split, markersize=3)
        accs = [row.get(f"{split}_acc") for row in history]
        if any(v is not None for v in accs):
            ax_acc.plot(
                epochs,
                [100 * a if a is not None else None for a in accs],
                style,
                label=split,
                markersize=3,
            )
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)
