"""Metrics against hand counts and the exact (rank-based) ROC AUC."""

import numpy as np
import pytest

import tapegrad as tg


def test_binary_accuracy_threshold_and_state():
    m = tg.metrics.BinaryAccuracy()
    m.update_state([[1], [0], [1], [0]], [[0.9], [0.6], [0.4], [0.1]])
    assert float(m.result()) == 0.5
    m.update_state([[1]], [[0.7]])
    assert float(m.result()) == pytest.approx(0.6)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_categorical_sparse_topk():
    y = np.array([0, 2, 1])
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    assert float(tg.metrics.SparseCategoricalAccuracy()(y, p)) == pytest.approx(2 / 3)
    assert float(tg.metrics.CategoricalAccuracy()(np.eye(3)[y], p)) == pytest.approx(2 / 3)
    assert float(tg.metrics.TopKCategoricalAccuracy(k=2)(np.eye(3)[y], p)) == pytest.approx(1.0)


def test_precision_recall_hand_counts():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.2, 0.7, 0.1, 0.8])
    # tp=2, fp=1, fn=1
    assert float(tg.metrics.Precision()(y, p)) == pytest.approx(2 / 3)
    assert float(tg.metrics.Recall()(y, p)) == pytest.approx(2 / 3)


def test_auc_close_to_exact_mann_whitney():
    r = np.random.default_rng(0)
    y = r.integers(0, 2, 2000)
    p = np.clip(r.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    pos, neg = p[y == 1], p[y == 0]
    exact = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    got = float(tg.metrics.AUC(num_thresholds=1000)(y, p))
    assert got == pytest.approx(exact, abs=2e-3)


def test_accuracy_resolution_like_keras():
    assert isinstance(tg.metrics.get("accuracy", loss="binary_crossentropy"), tg.metrics.BinaryAccuracy)
    assert isinstance(tg.metrics.get("accuracy", loss="sparse_categorical_crossentropy"),
                      tg.metrics.SparseCategoricalAccuracy)
    assert isinstance(tg.metrics.get("accuracy", loss="categorical_crossentropy", y_true=np.zeros((4, 3)),
                                     y_pred=(4, 3)), tg.metrics.CategoricalAccuracy)
    assert isinstance(tg.metrics.get("accuracy", loss="mse", y_pred=(4, 1)), tg.metrics.BinaryAccuracy)


def test_mse_mae_metrics():
    assert float(tg.metrics.MeanSquaredError()([[1.0], [2.0]], [[2.0], [2.0]])) == pytest.approx(0.5)
    assert float(tg.metrics.MeanAbsoluteError()([[1.0], [2.0]], [[2.0], [4.0]])) == pytest.approx(1.5)
