"""A built-in loss as a chain of the core's rules, for replayed training steps.

A Keras loss under its default reduction is a per-sample rule followed by means; called
eagerly it builds those nodes through ``Loss.__call__``, with the label checks around them.
For the cross-entropies from logits (the losses that train classifiers), ``loss_rules``
returns the same rules with the same settings, so a replayed step runs them on raw arrays
as one ``nodes.Chain``: the same values and gradients as the eager loss, with less Python.
Any other loss (or sample weights, or another reduction) gives None, and the replay calls
the loss eagerly. A binary cross-entropy of one logit per sample takes its two means in one.
"""

from __future__ import annotations

from .. import losses as _losses
from ..backend import xp
from ..ops import nn as _nn
from ..ops.reduce import Mean
from .nodes import MeanAll


_HANDLED = (_losses.BinaryCrossentropy, _losses.CategoricalCrossentropy, _losses.SparseCategoricalCrossentropy)


def _mean(ndim: int, axes=None) -> tuple:
    """The rule and settings of ``ops.mean`` over ``axes`` (all of them by default) of an ``ndim``-d value."""
    if axes is None:
        return MeanAll, {"axes": tuple(range(ndim)), "keepdims": False}
    return Mean, {"axes": axes, "keepdims": False}


def loss_rules(loss, y_true, y_pred, sample_weight) -> tuple | None:
    """``((rule, settings), ...)`` that compute ``loss(y_true, y_pred)`` from the raw array
    ``y_pred``, or None when this loss is not one of those handled here.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> rules = loss_rules(tg.losses.SparseCategoricalCrossentropy(from_logits=True), np.array([0]),
        ...                    np.zeros((1, 2), np.float32), None)
        >>> [rule.__name__ for rule, _ in rules]
        ['SparseSoftmaxCrossEntropy', 'MeanAll']
    """
    kind = type(loss)
    if sample_weight is not None or kind not in _HANDLED or not y_pred.size:
        return None
    k = loss.kwargs
    if loss.reduction != "sum_over_batch_size" or not k["from_logits"]:
        return None
    if kind is _losses.SparseCategoricalCrossentropy:
        labels = _losses._sparse_labels(y_true, y_pred)
        rule, settings = _nn.sparse_softmax_cross_entropy_node(labels, y_pred)
        return (rule, settings), _mean(y_pred.ndim - 1)
    if kind is _losses.CategoricalCrossentropy:
        labels = _losses._onehot_labels(y_true, y_pred, k["label_smoothing"], k["axis"])
        rule, settings = _nn.softmax_cross_entropy_node(labels, y_pred, k["axis"])
        return (rule, settings), _mean(y_pred.ndim - 1)
    if kind is _losses.BinaryCrossentropy:
        y = _losses._match_rank(_losses._true(y_true, y_pred), y_pred)
        _losses._check("binary_crossentropy", y, y_pred)
        if k["label_smoothing"]:
            y = y * (1.0 - k["label_smoothing"]) + 0.5 * k["label_smoothing"]
        if y.shape != y_pred.shape:
            y = xp.broadcast_to(y, y_pred.shape)
        rule, settings = _nn.sigmoid_cross_entropy_node(y, y_pred)
        if y_pred.ndim == 2 and y_pred.shape[1] == 1 and y_pred.dtype.kind == "f" and y_pred.dtype.itemsize >= 4:
            # one logit per sample: the mean over the last axis, of one element, gives each element
            # as it is (a sum of one, divided by 1) and passes the gradient on times 1.0, so the mean
            # over both axes gives the same bits in one rule
            return (rule, settings), _mean(2)
        return (rule, settings), _mean(y_pred.ndim, (y_pred.ndim - 1,)), _mean(y_pred.ndim - 1)
    return None


__all__ = ["loss_rules"]
