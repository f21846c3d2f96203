"""Metrics: confusion matrix, per-class precision / recall / F1, top-k, tables, heat map, and
`gradschool eval` printing them for a run."""

from __future__ import annotations

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.train.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    format_confusion,
    format_report,
    precision_recall_f1,
    top_k_accuracy,
)

# Three classes, worked by hand:
#   true 0 0 0 1 1 2 2 2
#   pred 0 0 1 1 2 2 2 0
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 0])


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [1, 0, 2]])
    assert cm.sum() == len(Y_TRUE) and cm.dtype == np.int64
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 8)


def test_precision_recall_f1_by_hand():
    m = precision_recall_f1(confusion_matrix(Y_TRUE, Y_PRED, 3))
    np.testing.assert_allclose(m["precision"], [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(m["recall"], [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(m["f1"], [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_array_equal(m["support"], [3, 2, 3])
    # Asymmetric case: class 1 is never predicted -> precision 0 (0/0 reported as 0).
    m = precision_recall_f1(confusion_matrix([0, 1, 1, 2], [0, 0, 2, 2], 3))
    np.testing.assert_allclose(m["precision"], [1 / 2, 0, 1 / 2])
    np.testing.assert_allclose(m["recall"], [1, 0, 1])
    np.testing.assert_allclose(m["f1"], [2 / 3, 0, 2 / 3])


def test_report_averages():
    report = classification_report([0, 1, 1, 2], [0, 0, 2, 2], 3)
    assert report["macro"]["recall"] == pytest.approx(2 / 3)
    assert report["weighted"]["recall"] == pytest.approx((1 * 1 + 2 * 0 + 1 * 1) / 4)
    assert report["accuracy"] == pytest.approx(0.5) and report["n"] == 4


def test_top_k_accuracy_matches_torch_topk():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(500, 10))
    y = rng.integers(0, 10, size=500)
    assert top_k_accuracy(y, scores, 1) == pytest.approx((scores.argmax(1) == y).mean())
    assert top_k_accuracy(y, scores, 10) == 1.0
    torch = pytest.importorskip("torch")
    for k in (2, 3, 5):
        topk = torch.topk(torch.from_numpy(scores), k, dim=1).indices.numpy()
        expected = (topk == y[:, None]).any(axis=1).mean()
        assert top_k_accuracy(y, scores, k) == pytest.approx(expected)


def test_top_k_ties_count_for_the_example():
    scores = np.array([[1.0, 1.0, 0.0]])
    assert top_k_accuracy([1], scores, 1) == 1.0  # nobody scores strictly higher


def test_tables_and_heat_map(tmp_path):
    from gradschool.plots import plot_confusion_matrix

    report = classification_report(Y_TRUE, Y_PRED, 3, scores=np.eye(3)[Y_PRED], top_k=(1, 2))
    text = format_report(report, ["cat", "dog", "bird"])
    assert "precision" in text and "macro avg" in text and "weighted avg" in text
    assert "top-2" in text and "accuracy 62.50%" in text
    table = format_confusion(report["confusion"], ["cat", "dog", "bird"])
    assert table.splitlines()[1].split() == ["cat", "2", "1", "0"]
    png = plot_confusion_matrix(report["confusion"], ["cat", "dog", "bird"], tmp_path / "c.png")
    assert png.stat().st_size > 1000


def test_eval_prints_the_metrics_of_a_run(tmp_path, capsys):
    tiny = ["--train-subset", "300", "--epochs", "1", "--progress", "off"]
    assert main(["train", *tiny, "--out-dir", str(tmp_path), "--run-name", "m"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "m"), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    for text in ("val ", "test ", "precision", "recall", "macro avg", "top-3", "true \\ pred"):
        assert text in out, text
    assert (tmp_path / "m" / "plots" / "confusion_test.png").exists()
    assert (tmp_path / "m" / "plots" / "confusion_val.png").exists()
    assert main(["eval", str(tmp_path / "m"), "--split", "val", "--brief"]) == 0
    out = capsys.readouterr().out
    assert "val " in out and "test " not in out and "precision" not in out
