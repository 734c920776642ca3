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

from ..autodiff.grad_mode import reported
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
    """Per sample, the fraction of outputs on the right side of ``threshold``.

    Args:
        y_true: the targets.
        y_pred: the predictions.
        threshold: predictions above it count as 1 (default 0.5).

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.binary_accuracy([[1], [0]], [[0.7], [0.6]]).tolist()
        [1.0, 0.0]
    """
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean(y_true == (y_pred > threshold).astype(y_true.dtype), axis=-1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the predicted class (argmax) is the one-hot target's, else 0.

    Args:
        y_true: the targets.
        y_pred: the predictions.

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).tolist()
        [1.0, 0.0]
    """
    y_true, y_pred = _np(y_true), _np(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the predicted class (argmax) equals the integer label, else 0.

    Args:
        y_true: the targets.
        y_pred: the predictions.

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.sparse_categorical_accuracy([1, 0], [[0.2, 0.8], [0.3, 0.7]]).tolist()
        [1.0, 0.0]
    """
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """1 where the one-hot target's class is among the ``k`` highest scores.

    Args:
        y_true: the targets.
        y_pred: the predictions.
        k: how many top classes count (default 5).

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2).tolist()
        [0.0]
    """
    y_true, y_pred = _np(y_true), _np(y_pred)
    labels = np.argmax(y_true, axis=-1)
    return sparse_top_k_categorical_accuracy(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """1 where the integer label is among the ``k`` highest scores.

    Args:
        y_true: the targets.
        y_pred: the predictions.
        k: how many top classes count (default 5).

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.3, 0.2]], k=2).tolist()
        [0.0]
    """
    y_true, y_pred = _np(y_true).reshape(-1).astype(np.int64), _np(y_pred)
    score = np.take_along_axis(y_pred, y_true[:, None], axis=-1)
    # in the top k when fewer than k scores are strictly larger (ties count as in, as TensorFlow's in_top_k)
    return (np.sum(y_pred > score, axis=-1) < k).astype(np.float32)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """``mean((y_true - y_pred)**2)`` over the last axis, per sample.

    Args:
        y_true: the targets.
        y_pred: the predictions.

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]]).tolist()
        [0.5]
    """
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """``mean(|y_true - y_pred|)`` over the last axis, per sample.

    Args:
        y_true: the targets.
        y_pred: the predictions.

    Returns:
        A NumPy array with one value per sample.

    Example:
        >>> import tapegrad as tg
        >>> tg.metrics.mean_absolute_error([[0.0, 1.0]], [[1.0, 1.0]]).tolist()
        [0.5]
    """
    y_true, y_pred = _align(y_true, y_pred)
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# -- stateful metrics --------------------------------------------------------------------------

class Metric:
    """Base class of the metrics: subclass it and write ``reset_state``, ``update_state`` and ``result``.

    Args:
        name: the name under which ``fit`` logs it (default None: the class name in lower case).
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> class Largest(tg.metrics.Metric):
        ...     def reset_state(self):
        ...         self.value = -np.inf
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.value = max(self.value, float(np.max(y_pred)))
        ...     def result(self):
        ...         return tg.constant(self.value)
        >>> m = Largest()
        >>> float(m([0.0], [3.0])), m.name
        (3.0, 'largest')
    """
    _direction = "up"  # whether larger values are better (EarlyStopping's mode="auto" reads it)

    def __init_subclass__(cls, **kwargs) -> None:
        # While tg.function records a step, a metric's update, reset and result are calls it
        # replays as they are (they keep Python state): each subclass's own methods report them.
        super().__init_subclass__(**kwargs)
        for name in ("update_state", "reset_state", "result"):
            method = cls.__dict__.get(name)
            if method is not None and not hasattr(method, "reported"):
                setattr(cls, name, reported("call", method=True)(method))

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
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``.

    Args:
        name: the name (default None: ``"mean"``).
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.Mean()
        >>> m.update_state([1.0, 2.0])
        >>> m.update_state(6.0)
        >>> float(m.result())
        3.0
    """

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
    """Averages a per-sample metric function over everything seen (``keras.metrics.MeanMetricWrapper``).

    Args:
        fn: a function ``fn(y_true, y_pred, **kwargs)`` returning one value per sample.
        name: the name (default None: ``fn``'s name).
        dtype: accepted for Keras compatibility (default None).
        **kwargs: passed to ``fn`` on each update.

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.MeanMetricWrapper(tg.metrics.binary_accuracy, threshold=0.8)
        >>> float(m([[1], [1]], [[0.9], [0.7]]))
        0.5
    """

    _direction = "up"

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs) -> None:
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name=name or fn.__name__)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self.fn(y_true, y_pred, **self.kwargs), sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, **self.kwargs}


class BinaryAccuracy(MeanMetricWrapper):
    """How often a yes/no prediction is right: outputs above ``threshold`` count as 1.

    A stateful metric as Keras 3's ``keras.metrics.BinaryAccuracy``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        threshold: predictions above it count as 1 (default 0.5).
        name: the name under which ``fit`` logs it (default 'binary_accuracy').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.BinaryAccuracy()
        >>> m.update_state([[1], [0]], [[0.7], [0.6]])
        >>> round(float(m.result()), 4)
        0.5
    """
    def __init__(self, name="binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class (argmax) is the one-hot target's.

    A stateful metric as Keras 3's ``keras.metrics.CategoricalAccuracy``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        name: the name under which ``fit`` logs it (default 'categorical_accuracy').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.CategoricalAccuracy()
        >>> m.update_state([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
        >>> round(float(m.result()), 4)
        0.5
    """
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class (argmax) equals the integer label.

    A stateful metric as Keras 3's ``keras.metrics.SparseCategoricalAccuracy``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        name: the name under which ``fit`` logs it (default 'sparse_categorical_accuracy').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.SparseCategoricalAccuracy()
        >>> m.update_state([1, 0], [[0.2, 0.8], [0.3, 0.7]])
        >>> round(float(m.result()), 4)
        0.5
    """
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest scores.

    A stateful metric as Keras 3's ``keras.metrics.TopKCategoricalAccuracy``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        k: how many top classes count (default 5).
        name: the name under which ``fit`` logs it (default 'top_k_categorical_accuracy').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.TopKCategoricalAccuracy(k=1)
        >>> m.update_state([[0, 1, 0]], [[0.5, 0.3, 0.2]])
        >>> round(float(m.result()), 4)
        0.0
    """
    def __init__(self, k: int = 5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores.

    A stateful metric as Keras 3's ``keras.metrics.SparseTopKCategoricalAccuracy``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        k: how many top classes count (default 5).
        name: the name under which ``fit`` logs it (default 'sparse_top_k_categorical_accuracy').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.SparseTopKCategoricalAccuracy(k=1)
        >>> m.update_state([0], [[0.5, 0.3, 0.2]])
        >>> round(float(m.result()), 4)
        1.0
    """
    def __init__(self, k: int = 5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """The mean squared error over everything seen (lower is better).

    A stateful metric as Keras 3's ``keras.metrics.MeanSquaredError``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        name: the name under which ``fit`` logs it (default 'mean_squared_error').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.MeanSquaredError()
        >>> m.update_state([[0.0, 1.0]], [[1.0, 1.0]])
        >>> round(float(m.result()), 4)
        0.5
    """
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean absolute error over everything seen (lower is better).

    A stateful metric as Keras 3's ``keras.metrics.MeanAbsoluteError``: ``update_state(y_true, y_pred,
    sample_weight=None)`` accumulates, ``result()`` gives the value so far, ``reset_state()`` starts
    over; calling it updates and returns the result. ``compile(metrics=[...])`` takes it or its name.

    Args:
        name: the name under which ``fit`` logs it (default 'mean_absolute_error').
        dtype: accepted for Keras compatibility; results are float32 (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.MeanAbsoluteError()
        >>> m.update_state([[0.0, 1.0]], [[1.0, 1.0]])
        >>> round(float(m.result()), 4)
        0.5
    """
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
    """Of the predicted positives, the fraction that are positive: ``tp / (tp + fp)`` (``keras.metrics.Precision``).

    Args:
        thresholds: predictions above it count as positive (default 0.5).
        name: the name (default "precision").
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.metrics.Precision()([1, 0, 1], [0.9, 0.8, 0.2]))
        0.5
    """

    def __init__(self, thresholds: float = 0.5, name="precision", dtype=None):
        super().__init__(thresholds, name)

    def result(self) -> Tensor:
        d = self.tp + self.fp
        return Tensor(np.float32(self.tp / d if d else 0.0))


class Recall(_Confusion):
    """Of the positives, the fraction predicted positive: ``tp / (tp + fn)`` (``keras.metrics.Recall``).

    Args:
        thresholds: predictions above it count as positive (default 0.5).
        name: the name (default "recall").
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.metrics.Recall()([1, 0, 1], [0.9, 0.8, 0.2]))
        0.5
    """

    def __init__(self, thresholds: float = 0.5, name="recall", dtype=None):
        super().__init__(thresholds, name)

    def result(self) -> Tensor:
        d = self.tp + self.fn
        return Tensor(np.float32(self.tp / d if d else 0.0))


class AUC(Metric):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds.

    As Keras: thresholds evenly spaced in (0, 1) plus one just below 0 and one just above 1; the
    area by the trapezoidal rule ("interpolation").

    Args:
        num_thresholds: how many thresholds (default 200).
        curve: ``"ROC"`` (the default) or ``"PR"`` (precision-recall).
        name: the name (default "auc").
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.metrics.AUC()([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
        0.75
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


class R2Score(Metric):
    """The coefficient of determination R², ``1 - SS_res / SS_tot``, per output (``keras.metrics.R2Score``).

    1 is a perfect fit, 0 the score of always predicting the mean, below 0 worse than that; it
    is the same in any unit of the target, which makes it the regression number to report beside
    an error in the target's own units. Accumulated over batches from running sums, so the
    result equals R² over everything seen. Differs from Keras: 1-d inputs are taken as one
    output column (Keras asks for ``(batch, outputs)``).

    Args:
        class_aggregation: how the per-output scores combine: ``"uniform_average"`` (the default,
            their mean), ``"variance_weighted_average"`` (weighted by each output's variance), or
            None (one score per output).
        num_regressors: the number of features of the model, for the adjusted R²
            ``1 - (1 - R²)(n - 1)/(n - p - 1)`` (default 0: plain R²).
        name: the name (default "r2_score").
        dtype: accepted for Keras compatibility (default None).

    Example:
        >>> import tapegrad as tg
        >>> m = tg.metrics.R2Score()
        >>> m.update_state([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
        >>> float(m.result())  # 1 - 1 / 2
        0.5
    """

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype=None) -> None:
        if class_aggregation not in ("uniform_average", "variance_weighted_average", None):
            raise ValueError("R2Score: class_aggregation must be 'uniform_average', 'variance_weighted_average' or "
                             f"None, received {class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) or num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be a non-negative integer, received {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.sum = self.squared_sum = self.residual = self.count = None
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t = np.asarray(_np(y_true), dtype=np.float64)
        p = np.asarray(_np(y_pred), dtype=np.float64)
        t = t.reshape(-1, 1) if t.ndim == 1 else t
        p = p.reshape(-1, 1) if p.ndim == 1 else p
        if t.ndim != 2 or t.shape != p.shape:
            raise ValueError(f"R2Score: expected y_true and y_pred of one shape (batch, outputs), received "
                             f"{t.shape} and {p.shape}")
        w = np.ones_like(t) if sample_weight is None else np.broadcast_to(
            np.asarray(_np(sample_weight), dtype=np.float64).reshape(len(t), -1), t.shape)
        if self.sum is None:
            self.sum, self.squared_sum, self.residual, self.count = (np.zeros(t.shape[1]) for _ in range(4))
        elif t.shape[1] != len(self.sum):
            raise ValueError(f"R2Score: expected {len(self.sum)} outputs as in earlier batches, received {t.shape[1]}")
        self.sum += (t * w).sum(0)
        self.squared_sum += (t * t * w).sum(0)
        self.residual += ((t - p) ** 2 * w).sum(0)
        self.count += w.sum(0)
        self.num_samples += len(t)

    def result(self) -> Tensor:
        if self.sum is None:
            return Tensor(np.float32(0.0))
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = 1.0 - self.residual / total
        raw = np.where(np.isinf(raw), 0.0, raw)  # a constant target: Keras reports 0
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            r2 = (total * raw).sum() / total.sum()
        else:
            r2 = raw
        n, k = self.num_samples, self.num_regressors
        if k and n - k - 1 > 0:
            r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - k - 1)
        return Tensor(np.asarray(r2, dtype=np.float32))

    def get_config(self) -> dict:
        return {"name": self.name, "class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors}


ALL = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "precision": Precision, "recall": Recall, "auc": AUC, "r2_score": R2Score,
}
_CLASSES = {c.__name__: c for c in set(ALL.values())}


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric:
    """A metric from a name, class, instance or function (``keras.metrics.get``).

    ``"accuracy"``/``"acc"`` is resolved as Keras does: binary accuracy for binary cross-entropy or
    one output column, sparse categorical accuracy for sparse cross-entropy (or integer targets of
    one column), categorical otherwise.

    Args:
        identifier: a name (``"accuracy"``, ``"mae"``, ``"auc"`` ...), a class, an instance, or a function.
        loss: the model's loss, to resolve ``"accuracy"`` (default None).
        y_true: example targets, to resolve ``"accuracy"`` (default None).
        y_pred: example predictions, to resolve ``"accuracy"`` (default None).

    Example:
        >>> import tapegrad as tg
        >>> type(tg.metrics.get("accuracy", loss="binary_crossentropy")).__name__
        'BinaryAccuracy'
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
           "MeanSquaredError", "Metric", "Precision", "R2Score", "Recall", "SparseCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "binary_accuracy", "categorical_accuracy",
           "get", "mean_absolute_error", "mean_squared_error", "sparse_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy"]
