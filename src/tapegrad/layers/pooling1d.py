"""Poolings over sequences ``(batch, steps, features)``: ``MaxPooling1D``, ``AveragePooling1D``,
``GlobalAveragePooling1D`` (which honours a mask, as Keras) and ``GlobalMaxPooling1D``."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff.tensor import Tensor
from ..ops.conv import avg_pool2d, max_pool2d
from .base import Layer
from .conv import _check_format, _check_padding, conv_length


def _int(value, what: str) -> int:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, received {value!r}")
    return int(value)


def _check_rank(layer, shape) -> None:
    if len(shape) != 3:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': expected a 3-d input (batch, steps, features), "
                         f"received shape {tuple(shape)}")


class _Pool1D(Layer):
    fn = None

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = _int(pool_size, f"{name}: pool_size")
        self.strides = _int(strides, f"{name}: strides") if strides is not None else self.pool_size
        self.padding = _check_padding(padding, name)
        self.data_format = _check_format(data_format)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        first = self.data_format == "channels_first"
        n, t, c = (input_shape[0], input_shape[2], input_shape[1]) if first else tuple(input_shape)
        out = conv_length(t, self.pool_size, self.strides, self.padding)
        if out == 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input of shape {tuple(input_shape)} is "
                             f"shorter than the pool ({self.pool_size})")
        return (n, c, out) if first else (n, out, c)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        x = ops.transpose(inputs, (0, 2, 1)) if self.data_format == "channels_first" else inputs
        out = type(self).fn(ops.expand_dims(x, 1), (1, self.pool_size), (1, self.strides), self.padding)
        out = ops.squeeze(out, 1)
        return ops.transpose(out, (0, 2, 1)) if self.data_format == "channels_first" else out

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pool1D):
    """The largest value of each window of ``pool_size`` steps (stride defaults to ``pool_size``).

    Args:
        pool_size: the window's length in steps (an int or a 1-tuple, default 2).
        strides: the step between windows (default None: ``pool_size``).
        padding: ``"valid"`` (the default: only whole windows) or ``"same"`` (pad so that
            the output has ``ceil(steps / strides)`` steps).
        data_format: ``"channels_last"`` (``(batch, steps, features)``, the default when None) or
            ``"channels_first"`` (``(batch, features, steps)``).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.MaxPooling1D(2)(tg.constant([[[1.0], [3.0], [2.0], [0.0]]])).numpy().ravel().tolist()
        [3.0, 2.0]
    """

    fn = staticmethod(max_pool2d)


class AveragePooling1D(_Pool1D):
    """The mean of each window of ``pool_size`` steps (stride defaults to ``pool_size``).

    Args:
        pool_size: the window's length in steps (an int or a 1-tuple, default 2).
        strides: the step between windows (default None: ``pool_size``).
        padding: ``"valid"`` (the default: only whole windows) or ``"same"`` (pad so that the
            output has ``ceil(steps / strides)`` steps; padded steps are left out of the mean, as in Keras).
        data_format: ``"channels_last"`` (``(batch, steps, features)``, the default when None) or
            ``"channels_first"`` (``(batch, features, steps)``).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.AveragePooling1D(2)(tg.constant([[[1.0], [3.0], [2.0], [0.0]]])).numpy().ravel().tolist()
        [2.0, 1.0]
    """

    fn = staticmethod(avg_pool2d)


class GlobalAveragePooling1D(Layer):
    """The mean over the steps: ``(batch, steps, features) -> (batch, features)``.

    With a mask (from ``Embedding(mask_zero=True)`` or ``Masking``) only the kept steps are
    averaged, as Keras does.

    Args:
        data_format: ``"channels_last"`` (``(batch, steps, features)``, the default when None) or
            ``"channels_first"`` (``(batch, features, steps)``).
        keepdims: keep the steps axis with length 1 (default False), as Keras.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> ids = tg.constant([[3, 1, 0, 0]], dtype="int32")
        >>> emb = tg.layers.Embedding(5, 2, mask_zero=True)
        >>> tg.layers.GlobalAveragePooling1D()(emb(ids)).shape
        (1, 2)
    """

    supports_masking = True

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = _check_format(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        if self.data_format == "channels_first":
            n, c, t = input_shape
            return (n, c, 1) if self.keepdims else (n, c)
        n, t, c = input_shape
        return (n, 1, c) if self.keepdims else (n, c)

    def call(self, inputs, mask=None):
        self.compute_output_shape(inputs.shape)
        steps = 1 if self.data_format == "channels_last" else 2
        if mask is None:
            return ops.mean(inputs, axis=steps, keepdims=self.keepdims)
        m = np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(inputs.dtype)
        m = Tensor(np.expand_dims(m, 2 if self.data_format == "channels_last" else 1))
        total = ops.sum(ops.multiply(inputs, m), axis=steps, keepdims=self.keepdims)
        return ops.divide(total, ops.sum(m, axis=steps, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(GlobalAveragePooling1D):
    """The largest value over the steps: ``(batch, steps, features) -> (batch, features)``
    (a mask is not honoured, as in Keras).

    Args:
        data_format: ``"channels_last"`` (``(batch, steps, features)``, the default when None) or
            ``"channels_first"`` (``(batch, features, steps)``).
        keepdims: keep the steps axis with length 1 (default False), as Keras.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.GlobalMaxPooling1D()(tg.constant([[[1.0], [3.0], [2.0]]])).numpy().tolist()
        [[3.0]]
    """

    supports_masking = False

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        return ops.max(inputs, axis=1 if self.data_format == "channels_last" else 2, keepdims=self.keepdims)


__all__ = ["AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPooling1D"]
