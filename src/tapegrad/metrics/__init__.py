"""Stateful metrics (``update_state``, ``result``, ``reset_state``), as Keras.

Metrics read raw arrays and record no graph.

Example:
    >>> import tapegrad as tg
    >>> m = tg.metrics.BinaryAccuracy()
    >>> m.update_state([[1], [0]], [[0.9], [0.8]])
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

import numpy as np

from ..autodiff.tensor import Tensor
from ..backend import to_numpy


def _np(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return to_numpy(x.data)
    return np.asarray(x)


def _align(y_true, y_pred):
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    return y_true, y_pred


# -- per-sample metric functions ---------------------------------------------------------------

def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean(y_true == (y_pred > threshold).astype(y_true.dtype), axis=-1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _np(y_true), _np(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    y_true, y_pred = _np(y_true), _np(y_pred)
    labels = np.argmax(y_true, axis=-1)
    return sparse_top_k_categorical_accuracy(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    y_true, y_pred = _np(y_true).reshape(-1).astype(np.int64), _np(y_pred)
    score = np.take_along_axis(y_pred, y_true[:, None], axis=-1)
    # in the top k when fewer than k scores are strictly larger (ties count as in, as TensorFlow's in_top_k)
    return (np.sum(y_pred > score, axis=-1) < k).astype(np.float32)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# -- stateful metrics --------------------------------------------------------------------------

class Metric:
    _direction = "up"  # whether larger values are better (EarlyStopping's mode="auto" reads it)

    def __init__(self, name: str | None = None, dtype=None) -> None:
        self.name = name or type(self).__name__.lower()
        self.reset_state()

    def reset_state(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # pragma: no cover
        raise NotImplementedError

    def result(self) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name}


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values)``."""

    _direction = "down"

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        if isinstance(values, float) and isinstance(sample_weight, int):  # the loss tracker's fast path
            self.total += values * sample_weight
            self.count += sample_weight
            return
        values = np.asarray(_np(values), dtype=np.float64)
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += values.size
        else:
            sw = np.asarray(_np(sample_weight), dtype=np.float64)
            while sw.ndim > values.ndim and sw.shape[-1] == 1:
                sw = sw[..., 0]
            sw = np.broadcast_to(sw, values.shape)
            self.total += float((values * sw).sum())
            self.count += float(sw.sum())

    def result(self) -> Tensor:
        return Tensor._wrap(np.asarray(self.total / self.count if self.count else 0.0, dtype=np.float32))


class MeanMetricWrapper(Mean):
    """Averages a per-sample metric function over everything seen."""

    _direction = "up"

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs) -> None:
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name=name or fn.__name__)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self.fn(y_true, y_pred, **self.kwargs), sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, **self.kwargs}


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name, k=k)


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name)


class _Confusion(Metric):
    def __init__(self, thresholds: float = 0.5, name=None, dtype=None):
        self.thresholds = thresholds
        super().__init__(name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = self.tn = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _align(y_true, y_pred)
        t = y_true.astype(bool)
        p = y_pred > self.thresholds
        w = np.ones(t.shape) if sample_weight is None else np.broadcast_to(
            np.asarray(_np(sample_weight), np.float64).reshape(t.shape[:1] + (1,) * (t.ndim - 1)), t.shape)
        self.tp += float((w * (t & p)).sum())
        self.fp += float((w * (~t & p)).sum())
        self.fn += float((w * (t & ~p)).sum())
        self.tn += float((w * (~t & ~p)).sum())

    def get_config(self) -> dict:
        return {"name": self.name, "thresholds": self.thresholds}


class Precision(_Confusion):
    """tp / (tp + fp) at ``thresholds`` (0.5)."""

    def __init__(self, thresholds: float = 0.5, name="precision", dtype=None):
        super().__init__(thresholds, name)

    def result(self) -> Tensor:
        d = self.tp + self.fp
        return Tensor(np.float32(self.tp / d if d else 0.0))


class Recall(_Confusion):
    """tp / (tp + fn) at ``thresholds`` (0.5)."""

    def __init__(self, thresholds: float = 0.5, name="recall", dtype=None):
        super().__init__(thresholds, name)

    def result(self) -> Tensor:
        d = self.tp + self.fn
        return Tensor(np.float32(self.tp / d if d else 0.0))


class AUC(Metric):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds.

    As Keras: thresholds evenly spaced in (0, 1) plus one just below 0 and one just
    above 1; the ROC area by the trapezoidal rule ("interpolation").
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", name="auc", dtype=None):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', received {curve!r}")
        self.num_thresholds, self.curve = num_thresholds, curve
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        super().__init__(name)

    def reset_state(self) -> None:
        n = self.num_thresholds
        self.tp, self.fp, self.fn, self.tn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _align(y_true, y_pred)
        t = y_true.reshape(-1).astype(bool)
        p = y_pred.reshape(-1)
        w = np.ones(t.shape) if sample_weight is None else np.broadcast_to(
            np.asarray(_np(sample_weight), np.float64).reshape(-1, 1), y_true.shape).reshape(-1)
        above = p[None, :] > self.thresholds[:, None]
        self.tp += (above & t).astype(float) @ w
        self.fp += (above & ~t).astype(float) @ w
        self.fn += (~above & t).astype(float) @ w
        self.tn += (~above & ~t).astype(float) @ w

    def result(self) -> Tensor:
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
        if self.curve == "ROC":
            fpr = np.divide(fp, fp + tn, out=np.zeros_like(fp), where=(fp + tn) > 0)
            area = np.sum((fpr[:-1] - fpr[1:]) * (recall[:-1] + recall[1:]) / 2)
        else:
            precision = np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)
            area = np.sum((recall[:-1] - recall[1:]) * (precision[:-1] + precision[1:]) / 2)
        return Tensor(np.float32(area))

    def get_config(self) -> dict:
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve}


ALL = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "precision": Precision, "recall": Recall, "auc": AUC,
}
_CLASSES = {c.__name__: c for c in set(ALL.values())}


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric:
    """A metric from a name, class, instance or function.

    ``"accuracy"``/``"acc"`` is resolved as Keras does: binary accuracy for binary
    cross-entropy or one output column, sparse categorical accuracy for sparse
    cross-entropy (or integer targets of one column), categorical otherwise.
    """
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        loss_name = getattr(loss, "name", loss if isinstance(loss, str) else getattr(loss, "__name__", ""))
        # y_pred may be the predictions or just their shape
        pred_shape = y_pred if isinstance(y_pred, tuple) and all(isinstance(d, int) for d in y_pred) else \
            (None if y_pred is None else np.shape(y_pred))
        pred_dim = pred_shape[-1] if pred_shape else None
        true_shape = None if y_true is None else np.shape(y_true)
        if "binary" in str(loss_name) or pred_dim == 1:
            cls = BinaryAccuracy
        elif "sparse" in str(loss_name) or (true_shape is not None and pred_dim is not None and (
                len(true_shape) == 1 or true_shape[-1] == 1)):
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name="accuracy")
    if isinstance(identifier, str):
        cls = ALL.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; valid names are: accuracy, {', '.join(sorted(ALL))}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a function, received {identifier!r}")



__all__ = ["AUC", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError", "MeanMetricWrapper",
           "MeanSquaredError", "Metric", "Precision", "Recall", "SparseCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "binary_accuracy", "categorical_accuracy",
           "get", "mean_absolute_error", "mean_squared_error", "sparse_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy"]
