"""How good is a classifier? Accuracy, per-class precision / recall / F1, top-k, confusion.

The seed's FAQ (section 8) asks "how do I evaluate a model?". Accuracy alone hides which
classes the model confuses: a model that never predicts "8" can still score 90% on digits.
The confusion matrix shows every kind of mistake, and per-class precision and recall turn it
into numbers:

    C[i, j]      = how many examples of true class i were predicted as class j
    precision_j  = C[j, j] / sum_i C[i, j]     of the examples predicted j, the share that are j
    recall_i     = C[i, i] / sum_j C[i, j]     of the examples of class i, the share found
    F1           = 2 * precision * recall / (precision + recall)     (their harmonic mean)
    top-k        = share of examples whose true class is among the k highest scores

Rows are true classes and columns predicted ones, as in scikit-learn. A class that is never
predicted has precision 0/0; like scikit-learn's `zero_division=0`, it is reported as 0.
The macro average weights every class equally; the weighted average by its support (its
number of true examples).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "format_confusion",
    "format_report",
    "precision_recall_f1",
    "top_k_accuracy",
]


_AVERAGED = ("precision", "recall", "f1")


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The share of examples predicted right."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64: entry [i, j] counts examples of true class i predicted as j."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    # One bincount over the pair index i * K + j counts every cell at once.
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def _safe_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(np.shape(a), dtype=np.float64), where=b != 0)


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix, each (K,)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
    }


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """The share of examples whose true class is among the k highest of `scores` (N, K).

    NOTE: ties count in the example's favour: it is right when fewer than k classes score
    strictly higher than its true class.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores)
    if len(y_true) == 0:
        return float("nan")
    true_score = scores[np.arange(len(y_true)), y_true][:, None]  # (N, 1)
    higher = (scores > true_score).sum(axis=1)  # (N,) classes that beat the true one
    return float((higher < k).mean())


def classification_report(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    num_classes: int,
    scores: np.ndarray | None = None,
    top_k: Sequence[int] = (1, 5),
) -> dict[str, Any]:
    """Everything above in one dict: accuracy, confusion matrix, per-class and averaged
    precision / recall / F1, and top-k accuracy for each k < num_classes when scores are given."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    per_class = precision_recall_f1(cm)
    support = per_class["support"]
    weights = support / max(support.sum(), 1)
    report: dict[str, Any] = {
        "n": int(len(np.asarray(y_true))),
        "accuracy": accuracy(y_true, y_pred),
        "confusion": cm,
        "per_class": per_class,
        "macro": {m: float(per_class[m].mean()) for m in _AVERAGED},
        "weighted": {m: float((per_class[m] * weights).sum()) for m in _AVERAGED},
        "top_k": {},
    }
    if scores is not None:
        report["top_k"] = {
            k: top_k_accuracy(y_true, scores, k) for k in top_k if 1 <= k <= num_classes
        }
    return report


def format_report(report: dict[str, Any], classes: Sequence[str]) -> str:
    """The per-class table and the averages, as text."""
    per = report["per_class"]
    width = max(len("weighted avg"), *(len(str(c)) for c in classes))
    lines = [f"{'class':>{width}s}  precision  recall     f1  support"]
    for i, name in enumerate(classes):
        lines.append(
            f"{str(name):>{width}s}  {per['precision'][i]:9.3f}  {per['recall'][i]:6.3f}  "
            f"{per['f1'][i]:5.3f}  {per['support'][i]:7d}"
        )
    for avg in ("macro", "weighted"):
        m = report[avg]
        lines.append(
            f"{avg + ' avg':>{width}s}  {m['precision']:9.3f}  {m['recall']:6.3f}  "
            f"{m['f1']:5.3f}  {report['n']:7d}"
        )
    extra = [f"accuracy {100 * report['accuracy']:.2f}%"]
    extra += [f"top-{k} {100 * v:.2f}%" for k, v in report["top_k"].items() if k > 1]
    lines.append(", ".join(extra))
    return "\n".join(lines)


def format_confusion(cm: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows = true class, columns = predicted."""
    cm = np.asarray(cm)
    names = [str(c) for c in classes]
    width = max(len(str(int(cm.max(initial=0)))), *(len(n) for n in names), 3)
    corner = "true \\ pred"  # NOTE: no backslash inside an f-string's braces before 3.12
    label = max(len(corner), *(len(n) for n in names))
    head = f"{corner:>{label}s} " + " ".join(f"{n:>{width}s}" for n in names)
    rows = [
        f"{n:>{label}s} " + " ".join(f"{int(v):>{width}d}" for v in cm[i])
        for i, n in enumerate(names)
    ]
    return "\n".join([head, *rows])
