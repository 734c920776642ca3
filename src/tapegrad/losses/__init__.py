"""Losses: how wrong a prediction is, averaged over the data (the empirical loss).

Each loss computes one value per sample (the mean over the last axis, as Keras),
after checking that target and prediction have the same shape (a missing or extra
trailing axis of 1 is allowed; Keras 3 would broadcast a ``(20, 1)`` target against a
``(20, 3)`` prediction silently, tapegrad refuses it),
multiplies by ``sample_weight`` if given, then reduces: ``"sum_over_batch_size"``
(the default: sum divided by the number of values), ``"sum"`` or ``"none"``.

Example:
    >>> import tapegrad as tg
    >>> bce = tg.losses.BinaryCrossentropy(from_logits=True)
    >>> round(float(bce([[1.0], [0.0]], [[2.0], [-2.0]])), 4)
    0.1269
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ops
from ..autodiff.grad_mode import mode, reported
from ..autodiff.tensor import Tensor
from ..backend import xp

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean")


def _pred(y_pred) -> Tensor:
    if isinstance(y_pred, Tensor):
        return y_pred
    return Tensor(np.asarray(y_pred, dtype=np.float32) if not isinstance(y_pred, np.ndarray) else y_pred)


def _true(y_true, like: Tensor):
    """Targets as a raw array of the prediction's dtype (targets are never differentiated)."""
    arr = y_true.data if isinstance(y_true, Tensor) else xp.asarray(y_true)
    return arr.astype(like.dtype, copy=False)


def _match_rank(y, pred: Tensor):
    """Allow ``(N,)`` targets for ``(N, 1)`` predictions, as Keras does."""
    if y.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
        return y[..., None]
    if y.ndim == pred.ndim + 1 and y.shape[-1] == 1:
        return y[..., 0]
    return y


def _check(name, y, pred):
    """After a trailing axis of 1 is added or dropped (``_match_rank``), the shapes must be equal.

    Differs from Keras 3, which lets NumPy-style broadcasting pair a ``(20, 1)`` target with a
    ``(20, 3)`` prediction and averages the wrong thing without a word.
    """
    if y.shape != pred.shape:
        raise ValueError(f"{name}: y_true shape {tuple(y.shape)} does not match y_pred shape {tuple(pred.shape)}; "
                         "expected equal shapes (a missing or extra trailing axis of 1 is allowed)")


# -- per-sample functions ------------------------------------------------------------

def mean_squared_error(y_true, y_pred) -> Tensor:
    """``mean((y_true - y_pred)**2)`` over the last axis (alias ``mse``).

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.mean_squared_error([[0.0, 1.0]], tg.constant([[1.0, 1.0]])).numpy().tolist()]
        [0.5]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("mean_squared_error", y, p)
    return ops.mean(ops.square(p - Tensor._wrap(y)), axis=-1)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """``mean(|y_true - y_pred|)`` over the last axis (alias ``mae``).

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.mean_absolute_error([[0.0, 1.0]], tg.constant([[1.0, 1.0]])).numpy().tolist()]
        [0.5]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("mean_absolute_error", y, p)
    return ops.mean(ops.abs(p - Tensor._wrap(y)), axis=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> Tensor:
    """``0.5 e**2`` where ``|e| <= delta``, else ``delta (|e| - 0.5 delta)``; mean over the last axis.

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).
        delta: where the loss turns from quadratic to linear (default 1.0).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.huber([[0.0, 0.0]], tg.constant([[1.0, 3.0]])).numpy().tolist()]
        [1.5]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("huber", y, p)
    err = p - Tensor._wrap(y)
    a = ops.abs(err)
    quad = ops.square(err) * 0.5
    lin = a * delta - 0.5 * delta * delta
    return ops.mean(ops.where(a.data <= delta, quad, lin), axis=-1)


def hinge(y_true, y_pred) -> Tensor:
    """``mean(max(1 - y * p, 0))`` over the last axis; labels in {0, 1} are mapped to {-1, 1} as Keras does.

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.hinge([[1.0]], tg.constant([[0.5]])).numpy().tolist()]
        [0.5]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("hinge", y, p)
    if y.size and xp.all((y == 0) | (y == 1)):
        y = 2 * y - 1
    return ops.mean(ops.relu(1.0 - p * Tensor._wrap(y)), axis=-1)


def kl_divergence(y_true, y_pred) -> Tensor:
    """``sum(y * log(y / p))`` over the last axis, both clipped to ``[1e-7, 1]`` (alias ``kld``).

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.kl_divergence([[1.0, 0.0]], tg.constant([[0.5, 0.5]])).numpy().tolist()]
        [0.6931]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("kl_divergence", y, p)
    y = xp.clip(y, EPSILON, 1)
    pc = ops.clip(p, EPSILON, 1.0)
    return ops.sum(Tensor._wrap(y) * (Tensor._wrap(xp.log(y)) - ops.log(pc)), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0) -> Tensor:
    """Mean over the last axis of ``-(y log p + (1 - y) log(1 - p))``.

    From logits it is ``max(x, 0) - x*y + log1p(exp(-|x|))`` (finite for any logit); from
    probabilities ``p`` is clipped to ``[1e-7, 1 - 1e-7]``, as Keras.

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).
        from_logits: ``y_pred`` holds logits, not probabilities (default False).
        label_smoothing: squeeze targets towards 0.5 by this much (default 0.0).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.binary_crossentropy([[1.0]], tg.constant([[0.5]])).numpy().tolist()]
        [0.6931]
    """
    p = _pred(y_pred)
    y = _match_rank(_true(y_true, p), p)
    _check("binary_crossentropy", y, p)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        if y.shape != p.shape:
            y = xp.broadcast_to(y, p.shape)
        return ops.mean(ops.sigmoid_cross_entropy_with_logits(y, p), axis=-1)
    pc = ops.clip(p, EPSILON, 1.0 - EPSILON)
    yt = Tensor._wrap(y)
    return ops.mean(-(yt * ops.log(pc) + (1.0 - yt) * ops.log(1.0 - pc)), axis=-1)


def _onehot_labels(y_true, p: Tensor, label_smoothing: float, axis: int):
    """One-hot (or soft) targets of ``p``'s shape, checked, with label smoothing applied."""
    y = _true(y_true, p)
    if y.shape != p.shape:
        raise ValueError(
            f"categorical_crossentropy: y_true shape {y.shape} must equal y_pred shape {p.shape} "
            "(one-hot targets); for integer labels use sparse_categorical_crossentropy"
        )
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / p.shape[axis]
    return y


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> Tensor:
    """``-sum(y * log p)`` over the class axis, with one-hot (or soft) targets.

    From logits through ``log_softmax`` (fused, gradient ``p - y``); from probabilities, ``p`` is
    renormalized and clipped to ``[1e-7, 1 - 1e-7]`` (Keras).

    Args:
        y_true: the targets.
        y_pred: the predictions, the shape of ``y_true`` (``(N,)`` targets match ``(N, 1)`` predictions).
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: mix the targets with the uniform distribution by this much (default 0.0).
        axis: the class axis (default -1).

    Returns:
        One loss per sample (the last axis is reduced).

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.categorical_crossentropy([[0.0, 1.0]], tg.constant([[0.5, 0.5]])).numpy().tolist()]
        [0.6931]
    """
    p = _pred(y_pred)
    y = _onehot_labels(y_true, p, label_smoothing, axis)
    if from_logits:
        return ops.softmax_cross_entropy_with_logits(y, p, axis=axis)
    p = p / ops.sum(p, axis=axis, keepdims=True)
    return -ops.sum(Tensor._wrap(y) * ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON)), axis=axis)


def _sparse_labels(y_true, p: Tensor):
    """Integer labels of shape ``p.shape[:-1]`` (a trailing axis of 1 is dropped), checked."""
    y = y_true.data if isinstance(y_true, Tensor) else xp.asarray(y_true)
    if y.ndim == p.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.dtype.kind == "f":
        if y.size and not xp.all(y == xp.round(y)):
            raise ValueError("sparse_categorical_crossentropy: y_true must hold integer class labels, "
                             "received non-integer values")
    y = y.astype(np.int64, copy=False)
    if y.shape != p.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy: y_true shape {tuple(y.shape)} does not match y_pred shape {p.shape}; "
            "expected integer labels of shape y_pred.shape[:-1]"
        )
    return y


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> Tensor:
    """Categorical cross-entropy with integer class labels (shape ``(N,)`` or ``(N, 1)``).

    Args:
        y_true: integer labels in ``[0, classes)``.
        y_pred: probabilities (or logits) of shape ``(N, classes)``.
        from_logits: ``y_pred`` holds logits (default False).

    Returns:
        One loss per sample.

    Example:
        >>> import tapegrad as tg
        >>> [round(v, 4) for v in tg.losses.sparse_categorical_crossentropy([1], tg.constant([[0.5, 0.5]])).numpy().tolist()]
        [0.6931]
    """
    p = _pred(y_pred)
    y = _sparse_labels(y_true, p)
    if from_logits:
        return ops.sparse_softmax_cross_entropy_with_logits(y, p)
    k = p.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {k}), received values from "
                         f"{int(y.min())} to {int(y.max())}")
    p = p / ops.sum(p, axis=-1, keepdims=True)
    onehot = (y[..., None] == xp.arange(k)).astype(p.dtype)
    return -ops.sum(Tensor._wrap(onehot) * ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON)), axis=-1)


# -- Loss classes ----------------------------------------------------------------------

class Loss:
    """Base class of the losses: subclass it and write ``call(y_true, y_pred)`` returning one loss per sample.

    ``loss(y_true, y_pred, sample_weight=None)`` weights the per-sample losses and reduces them.

    Args:
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default None: the class name in snake case).

    Example:
        >>> import tapegrad as tg
        >>> class Cubed(tg.losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         return tg.reduce_mean(tg.abs(y_pred - y_true) ** 3, axis=-1)
        >>> float(Cubed()([[0.0]], tg.constant([[2.0]])))
        8.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of 'sum_over_batch_size', 'sum', "
                             f"'none', received {reduction!r}")
        self.reduction = "sum_over_batch_size" if reduction == "mean" else reduction
        self.name = name or _snake(type(self).__name__)

    def call(self, y_true, y_pred) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        """The per-sample losses of ``call``, weighted by ``sample_weight``, then reduced."""
        if mode.effect is not None:  # tg.function is recording: the loss is one node of its record
            return mode.effect("loss", self, (y_true, y_pred), {"sample_weight": sample_weight})
        values = self.call(y_true, y_pred)
        return reduce_values(values, sample_weight, self.reduction, self.name)

    def get_config(self) -> dict:
        return {"reduction": self.reduction, "name": self.name}


def reduce_values(values: Tensor, sample_weight, reduction, name="loss") -> Tensor:
    """Weight per-sample loss ``values`` by ``sample_weight`` and reduce them, as every ``Loss`` does.

    Args:
        values: the per-sample losses.
        sample_weight: one weight per sample (broadcast against ``values``), or None.
        reduction: ``"sum_over_batch_size"`` (the mean), ``"sum"``, or ``"none"``/None.
        name: the loss's name, for error messages (default "loss").

    Example:
        >>> import tapegrad as tg
        >>> float(tg.losses.reduce_values(tg.constant([1.0, 3.0]), [1.0, 0.0], "sum_over_batch_size"))
        0.5
    """
    if sample_weight is not None:
        sw = sample_weight.data if isinstance(sample_weight, Tensor) else xp.asarray(sample_weight)
        sw = sw.astype(values.dtype, copy=False)
        while sw.ndim > values.ndim and sw.shape[-1] == 1:
            sw = sw[..., 0]
        try:
            np.broadcast_shapes(sw.shape, values.shape)
        except ValueError:
            raise ValueError(f"{name}: sample_weight shape {sw.shape} does not match the per-sample loss "
                             f"shape {values.shape}") from None
        values = values * Tensor._wrap(sw)
    if reduction in ("none", None):
        return values
    if reduction == "sum":
        return ops.sum(values)
    return ops.mean(values)  # sum over the batch divided by the number of values


class _Wrapper(Loss):
    fn: Callable = staticmethod(lambda y_true, y_pred: None)

    def __init__(self, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(reduction, name)
        self.kwargs = kwargs

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self.kwargs)

    def get_config(self):
        return {**super().get_config(), **self.kwargs}


class MeanSquaredError(_Wrapper):
    """Mean of the squared errors, ``mean((y_true - y_pred)**2)``.

    As Keras 3's ``keras.losses.MeanSquaredError``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'mean_squared_error').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.MeanSquaredError()([[0.0, 1.0]], tg.constant([[1.0, 1.0]]))), 4)
        0.5
    """
    fn = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(reduction, name)


class MeanAbsoluteError(_Wrapper):
    """Mean of the absolute errors, ``mean(|y_true - y_pred|)``.

    As Keras 3's ``keras.losses.MeanAbsoluteError``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'mean_absolute_error').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.MeanAbsoluteError()([[0.0, 1.0]], tg.constant([[1.0, 1.0]]))), 4)
        0.5
    """
    fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(reduction, name)


class Huber(_Wrapper):
    """The Huber loss: quadratic for errors up to ``delta``, linear beyond.

    As Keras 3's ``keras.losses.Huber``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'huber_loss').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.Huber()([[0.0, 0.0]], tg.constant([[1.0, 3.0]]))), 4)
        1.5
    """
    fn = staticmethod(huber)

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(reduction, name, delta=delta)


class Hinge(_Wrapper):
    """The hinge loss ``max(1 - y * p, 0)``; labels in {0, 1} are mapped to {-1, 1}.

    As Keras 3's ``keras.losses.Hinge``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'hinge').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.Hinge()([[1.0]], tg.constant([[0.5]]))), 4)
        0.5
    """
    fn = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge"):
        super().__init__(reduction, name)


class KLDivergence(_Wrapper):
    """The Kullback-Leibler divergence ``sum(y * log(y / p))``.

    As Keras 3's ``keras.losses.KLDivergence``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'kl_divergence').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.KLDivergence()([[1.0, 0.0]], tg.constant([[0.5, 0.5]]))), 4)
        0.6931
    """
    fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(reduction, name)


class BinaryCrossentropy(_Wrapper):
    """Binary cross-entropy, the loss of a yes/no question (will I pass?).

    As Keras 3's ``keras.losses.BinaryCrossentropy``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        from_logits: ``y_pred`` holds logits, not probabilities (default False).
        label_smoothing: squeeze targets towards 0.5 by this much (default 0.0).
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'binary_crossentropy').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.BinaryCrossentropy()([[1.0]], tg.constant([[0.5]]))), 4)
        0.6931
    """
    fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(reduction, name, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_Wrapper):
    """Cross-entropy with one-hot (or soft) targets.

    As Keras 3's ``keras.losses.CategoricalCrossentropy``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: mix the targets with the uniform distribution by this much (default 0.0).
        axis: the class axis (default -1).
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'categorical_crossentropy').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.CategoricalCrossentropy()([[0.0, 1.0]], tg.constant([[0.5, 0.5]]))), 4)
        0.6931
    """
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(reduction, name, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    """Cross-entropy with integer class labels.

    As Keras 3's ``keras.losses.SparseCategoricalCrossentropy``; ``loss(y_true, y_pred, sample_weight=None)`` returns the
    reduced loss (a 0-d tensor unless ``reduction="none"``).

    Args:
        from_logits: ``y_pred`` holds logits (default False).
        reduction: how the per-sample losses are combined: ``"sum_over_batch_size"`` (the default,
            the mean), ``"sum"``, or ``"none"`` (per sample).
        name: the name (default 'sparse_categorical_crossentropy').

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.losses.SparseCategoricalCrossentropy()([1], tg.constant([[0.5, 0.5]]))), 4)
        0.6931
    """
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(reduction, name, from_logits=from_logits)


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# While tg.function records a step, a loss is replayed as one node: it reads its targets with NumPy.
mean_squared_error = reported("loss")(mean_squared_error)
mean_absolute_error = reported("loss")(mean_absolute_error)
huber = reported("loss")(huber)
hinge = reported("loss")(hinge)
kl_divergence = reported("loss")(kl_divergence)
binary_crossentropy = reported("loss")(binary_crossentropy)
categorical_crossentropy = reported("loss")(categorical_crossentropy)
sparse_categorical_crossentropy = reported("loss")(sparse_categorical_crossentropy)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kl_divergence

ALL = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError, "huber": Huber, "huber_loss": Huber, "hinge": Hinge,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {c.__name__: c for c in set(ALL.values())}


def get(identifier):
    """A loss object from a name, a class name, a config, an instance or a function (``keras.losses.get``).

    Args:
        identifier: ``"mse"``, ``"binary_crossentropy"``, ``"BinaryCrossentropy"``, a config dict, a
            ``Loss`` (returned as is), a function (returned as is), or None.

    Example:
        >>> import tapegrad as tg
        >>> type(tg.losses.get("mse")).__name__
        'MeanSquaredError'
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = ALL.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}; valid names are: {', '.join(sorted(ALL))}")
        return cls()
    if isinstance(identifier, dict):
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"loss must be a name, a Loss or a function, received {identifier!r}")


__all__ = ["Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "Hinge", "KLDivergence", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "mean_squared_error",
           "mean_absolute_error", "huber", "hinge", "kl_divergence", "mse", "mae", "kld", "get", "reduce_values"]
