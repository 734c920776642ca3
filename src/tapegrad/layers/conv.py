"""Convolution and pooling layers (channels-last, as Keras; ``data_format="channels_first"`` accepted)."""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from .. import initializers as _init
from .. import ops
from .. import regularizers as _reg
from ..ops.conv import _pair, avg_pool2d, conv2d, max_pool2d
from ..ops.nn import moving_average_update
from .base import Layer


def _check_format(data_format):
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', received {data_format!r}")
    return data_format or "channels_last"


def _to_last(x, fmt):
    return ops.transpose(x, (0, 2, 3, 1)) if fmt == "channels_first" else x


def _from_last(x, fmt):
    return ops.transpose(x, (0, 3, 1, 2)) if fmt == "channels_first" else x


def conv_length(n, k, stride, padding, dilation=1):
    """The output length of a convolution or pooling window over ``n`` steps (None stays None)."""
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    span = dilation * (k - 1) + 1
    return max(0, (n - span) // stride + 1) if n >= span else 0


def _spatial(shape, fmt):
    """``(batch, height, width, channels)`` of a 4-d shape in ``fmt``."""
    if fmt == "channels_first":
        return shape[0], shape[2], shape[3], shape[1]
    return tuple(shape)


def _unspatial(n, h, w, c, fmt):
    return (n, c, h, w) if fmt == "channels_first" else (n, h, w, c)


def _check_padding(padding, owner):
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{owner}: padding must be 'valid' or 'same', received {padding!r}")
    return padding


class Conv2D(Layer):
    """2-D convolution: ``filters`` kernels of ``kernel_size`` slid over the image (``keras.layers.Conv2D``).

    Args:
        filters: the number of kernels (output channels), a positive integer.
        kernel_size: an int or ``(height, width)``.
        strides: an int or ``(sh, sw)`` (default 1).
        padding: ``"valid"`` (no padding, the default) or ``"same"`` (output size = input size / stride).
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        dilation_rate: an int or pair: spacing between kernel taps (default 1).
        activation: an activation name or function (default None: linear).
        use_bias: add a bias per filter (default True).
        kernel_initializer: how the kernels start (default ``"glorot_uniform"``).
        bias_initializer: how the bias starts (default ``"zeros"``).
        kernel_regularizer: a penalty on the kernels (default None).
        bias_regularizer: a penalty on the bias (default None).
        activity_regularizer: a penalty on the output (default None).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Conv2D(6, 5, padding="same")(tg.ones((2, 28, 28, 1))).shape
        (2, 28, 28, 6)
    """

    _checks_own_input = True

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", data_format=None,
                 dilation_rate=1, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"Conv2D: filters must be a positive integer, received {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, f"{type(self).__name__} kernel_size")
        self.strides = _pair(strides, f"{type(self).__name__} strides")
        self.dilation_rate = _pair(dilation_rate, f"{type(self).__name__} dilation_rate")
        if self.dilation_rate != (1, 1) and self.strides != (1, 1):
            raise ValueError("Conv2D: strides > 1 together with dilation_rate > 1 is not supported (as Keras)")
        self.padding = _check_padding(padding, "Conv2D")
        self.data_format = _check_format(data_format)
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape) -> None:
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D '{self.name}': expected a 4-d input (batch, height, width, channels), "
                             f"received shape {tuple(input_shape)}")
        c = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        self.kernel = self.add_weight(shape=self.kernel_size + (int(c), self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self._in_channels = int(c)

    def call(self, inputs):
        if inputs.ndim != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a 4-d input, received shape {inputs.shape}")
        x = _to_last(inputs, self.data_format)
        if x.shape[-1] != self._in_channels:
            raise ValueError(f"Conv2D '{self.name}': expected {self._in_channels} input channels, received "
                             f"shape {inputs.shape}")
        out = conv2d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return _from_last(self.activation(out), self.data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D '{self.name}': expected a 4-d input (batch, height, width, channels), "
                             f"received shape {tuple(input_shape)}")
        n, h, w, c = _spatial(input_shape, self.data_format)
        if c is not None and c != self._in_channels:
            raise ValueError(f"Conv2D '{self.name}': expected {self._in_channels} input channels, received "
                             f"shape {tuple(input_shape)}")
        oh = conv_length(h, self.kernel_size[0], self.strides[0], self.padding, self.dilation_rate[0])
        ow = conv_length(w, self.kernel_size[1], self.strides[1], self.padding, self.dilation_rate[1])
        if 0 in (oh, ow):
            raise ValueError(f"Conv2D '{self.name}': the input of shape {tuple(input_shape)} is smaller than the "
                             f"kernel {self.kernel_size}")
        return _unspatial(n, oh, ow, self.filters, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "activation": _act.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer),
                "kernel_regularizer": _reg.serialize(self.kernel_regularizer),
                "bias_regularizer": _reg.serialize(self.bias_regularizer)}


class Conv1D(Conv2D):
    """1-D convolution over ``(batch, steps, channels)``: a Conv2D over a height of one (``keras.layers.Conv1D``).

    Args:
        filters: the number of kernels (output channels).
        kernel_size: an int (the window length).
        strides: an int (default 1).
        padding: ``"valid"`` (the default) or ``"same"``.
        data_format: ``"channels_last"`` (``(N, steps, C)``, the default when None) or ``"channels_first"``.
        dilation_rate: an int (default 1).
        **kwargs: Conv2D's other arguments (``activation``, ``use_bias``, initializers, regularizers) and
            the base ``Layer``'s.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Conv1D(4, 3)(tg.ones((2, 10, 1))).shape
        (2, 8, 4)
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", data_format=None,
                 dilation_rate=1, **kwargs) -> None:
        k = kernel_size if isinstance(kernel_size, (int, np.integer)) else kernel_size[0]
        s = strides if isinstance(strides, (int, np.integer)) else strides[0]
        d = dilation_rate if isinstance(dilation_rate, (int, np.integer)) else dilation_rate[0]
        super().__init__(filters, (1, k), (1, s), padding, None, (1, d), **kwargs)
        self.data_format_1d = _check_format(data_format)

    def build(self, input_shape) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"Conv1D '{self.name}': expected a 3-d input (batch, steps, channels), received "
                             f"shape {tuple(input_shape)}")
        c = input_shape[1] if self.data_format_1d == "channels_first" else input_shape[-1]
        super().build((input_shape[0], 1, None, c))

    def call(self, inputs):
        first = self.data_format_1d == "channels_first"
        if inputs.ndim != 3 or inputs.shape[1 if first else -1] != self._in_channels:
            raise ValueError(f"Conv1D '{self.name}': expected a 3-d input with {self._in_channels} channels "
                             f"({'batch, channels, steps' if first else 'batch, steps, channels'}), received "
                             f"shape {inputs.shape}")
        x = ops.transpose(inputs, (0, 2, 1)) if first else inputs
        out = super().call(ops.expand_dims(x, 1))
        out = ops.squeeze(out, 1)
        return ops.transpose(out, (0, 2, 1)) if self.data_format_1d == "channels_first" else out

    def compute_output_shape(self, input_shape):
        first = self.data_format_1d == "channels_first"
        if len(input_shape) != 3:
            raise ValueError(f"Conv1D '{self.name}': expected a 3-d input (batch, steps, channels), received "
                             f"shape {tuple(input_shape)}")
        n, t, c = (input_shape[0], input_shape[2], input_shape[1]) if first else tuple(input_shape)
        if c is not None and c != self._in_channels:
            raise ValueError(f"Conv1D '{self.name}': expected {self._in_channels} input channels, received "
                             f"shape {tuple(input_shape)}")
        out = conv_length(t, self.kernel_size[1], self.strides[1], self.padding, self.dilation_rate[1])
        if out == 0:
            raise ValueError(f"Conv1D '{self.name}': the input of shape {tuple(input_shape)} is shorter than the "
                             f"kernel ({self.kernel_size[1]})")
        return (n, self.filters, out) if first else (n, out, self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(kernel_size=self.kernel_size[1], strides=self.strides[1], dilation_rate=self.dilation_rate[1],
                      data_format=self.data_format_1d)
        return config


class _Pool2D(Layer):
    fn = None

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, f"{type(self).__name__} pool_size")
        self.strides = _pair(strides, f"{type(self).__name__} strides") if strides is not None else self.pool_size
        self.padding = _check_padding(padding, type(self).__name__)
        self.data_format = _check_format(data_format)

    def call(self, inputs):
        if inputs.ndim != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a 4-d input, received shape "
                             f"{inputs.shape}")
        out = type(self).fn(_to_last(inputs, self.data_format), self.pool_size, self.strides, self.padding)
        return _from_last(out, self.data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a 4-d input, received shape "
                             f"{tuple(input_shape)}")
        n, h, w, c = _spatial(input_shape, self.data_format)
        oh = conv_length(h, self.pool_size[0], self.strides[0], self.padding)
        ow = conv_length(w, self.pool_size[1], self.strides[1], self.padding)
        if 0 in (oh, ow):
            raise ValueError(f"{type(self).__name__} '{self.name}': the input of shape {tuple(input_shape)} is "
                             f"smaller than the pool {self.pool_size}")
        return _unspatial(n, oh, ow, c, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pool2D):
    """The largest value of each ``pool_size`` window (``keras.layers.MaxPooling2D``).

    Args:
        pool_size: an int or ``(ph, pw)`` (default ``(2, 2)``).
        strides: an int or pair (default None: ``pool_size``).
        padding: ``"valid"`` (the default) or ``"same"``.
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.MaxPooling2D(2)(tg.reshape(tg.arange(16.0), (1, 4, 4, 1)))[0, :, :, 0].numpy().tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """

    fn = staticmethod(max_pool2d)


class AveragePooling2D(_Pool2D):
    """The mean of each ``pool_size`` window (``keras.layers.AveragePooling2D``).

    Args:
        pool_size: an int or ``(ph, pw)`` (default ``(2, 2)``).
        strides: an int or pair (default None: ``pool_size``).
        padding: ``"valid"`` (the default) or ``"same"``.
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.AveragePooling2D(2)(tg.reshape(tg.arange(16.0), (1, 4, 4, 1)))[0, :, :, 0].numpy().tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    fn = staticmethod(avg_pool2d)


class GlobalAveragePooling2D(Layer):
    """The mean over height and width: one value per channel (``keras.layers.GlobalAveragePooling2D``).

    Args:
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        keepdims: keep height and width as axes of size 1 (default False).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.GlobalAveragePooling2D()(tg.ones((2, 5, 5, 3))).shape
        (2, 3)
    """
    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format, self.keepdims = _check_format(data_format), keepdims

    def call(self, inputs):
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        return ops.mean(inputs, axis=axes, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a 4-d input, received shape "
                             f"{tuple(input_shape)}")
        n, h, w, c = _spatial(input_shape, self.data_format)
        return _unspatial(n, 1, 1, c, self.data_format) if self.keepdims else (n, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """The maximum over height and width: one value per channel (``keras.layers.GlobalMaxPooling2D``).

    Args:
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        keepdims: keep height and width as axes of size 1 (default False).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.GlobalMaxPooling2D(keepdims=True)(tg.ones((2, 5, 5, 3))).shape
        (2, 1, 1, 3)
    """
    def call(self, inputs):
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        return ops.max(inputs, axis=axes, keepdims=self.keepdims)


class ZeroPadding2D(Layer):
    """Pad height and width with zeros (``keras.layers.ZeroPadding2D``).

    Args:
        padding: an int, ``(h, w)`` or ``((top, bottom), (left, right))`` (default ``(1, 1)``).
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.ZeroPadding2D(1)(tg.ones((1, 2, 2, 1))).shape
        (1, 4, 4, 1)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(padding, (int, np.integer)):
            padding = ((padding, padding), (padding, padding))
        elif isinstance(padding[0], (int, np.integer)):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)
        self.data_format = _check_format(data_format)

    def call(self, inputs):
        (t, b), (l, r) = self.padding
        spec = [[0, 0], [t, b], [l, r], [0, 0]] if self.data_format == "channels_last" else \
            [[0, 0], [0, 0], [t, b], [l, r]]
        return ops.pad(inputs, spec)

    def compute_output_shape(self, input_shape):
        n, h, w, c = _spatial(input_shape, self.data_format)
        (t, b), (l, r) = self.padding
        return _unspatial(n, None if h is None else h + t + b, None if w is None else w + l + r, c, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class UpSampling2D(Layer):
    """Repeat rows and columns ``size`` times: nearest-neighbour upsampling (``keras.layers.UpSampling2D``).

    Args:
        size: an int or ``(rows, columns)`` (default ``(2, 2)``).
        data_format: ``"channels_last"`` (``(N, H, W, C)``, the default when None) or ``"channels_first"``.
        interpolation: ``"nearest"`` (the default and only one supported).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.UpSampling2D(2)(tg.ones((1, 2, 3, 1))).shape
        (1, 4, 6, 1)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation: str = "nearest", **kwargs) -> None:
        super().__init__(**kwargs)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is supported, received {interpolation!r}")
        self.size = _pair(size, "UpSampling2D size")
        self.data_format = _check_format(data_format)

    def call(self, inputs):
        x = _to_last(inputs, self.data_format)
        n, h, w, c = x.shape
        sh, sw = self.size
        x = ops.broadcast_to(ops.reshape(x, (n, h, 1, w, 1, c)), (n, h, sh, w, sw, c))
        return _from_last(ops.reshape(x, (n, h * sh, w * sw, c)), self.data_format)

    def compute_output_shape(self, input_shape):
        n, h, w, c = _spatial(input_shape, self.data_format)
        sh, sw = self.size
        return _unspatial(n, None if h is None else h * sh, None if w is None else w * sw, c, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": "nearest"}


class BatchNormalization(Layer):
    """Normalize each channel with the batch's statistics while training, and with moving averages
    (``moving = momentum * moving + (1 - momentum) * batch``) otherwise, as ``keras.layers.BatchNormalization``.

    The moving statistics change only in calls with ``training=True``.

    Args:
        axis: the channel axis (default -1).
        momentum: the moving averages' momentum (default 0.99).
        epsilon: added to the variance before the square root (default 1e-3).
        center: learn an offset ``beta`` (default True).
        scale: learn a scale ``gamma`` (default True).
        beta_initializer: default ``"zeros"``.
        gamma_initializer: default ``"ones"``.
        moving_mean_initializer: default ``"zeros"``.
        moving_variance_initializer: default ``"ones"``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> bn = tg.layers.BatchNormalization()
        >>> y = bn(tg.constant([[1.0], [3.0]]), training=True)
        >>> [round(v, 4) for v in y.numpy().ravel().tolist()]  # (x - 2) / sqrt(1 + 1e-3)
        [-0.9995, 0.9995]
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon, self.center, self.scale = axis, momentum, epsilon, center, scale
        self.inits = (beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape) -> None:
        axis = self.axis % len(input_shape)
        c = int(input_shape[axis])
        self._axis = axis
        self._reduce = tuple(i for i in range(len(input_shape)) if i != axis)
        self._bshape = tuple(c if i == axis else 1 for i in range(len(input_shape)))
        if self.scale:
            self.gamma = self.add_weight(shape=(c,), initializer=self.inits[1], name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=(c,), initializer=self.inits[0], name="beta")
        self.moving_mean = self.add_weight(shape=(c,), initializer=self.inits[2], trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=(c,), initializer=self.inits[3], trainable=False,
                                               name="moving_variance")

    def call(self, inputs, training=None):
        if training:
            mean = ops.mean(inputs, axis=self._reduce, keepdims=True)
            var = ops.mean(ops.square(inputs - mean), axis=self._reduce, keepdims=True)
            moving_average_update(self.moving_mean, mean, self.momentum)  # nodes: a recorded step repeats them
            moving_average_update(self.moving_variance, var, self.momentum)
        else:
            mean = ops.reshape(self.moving_mean, self._bshape)
            var = ops.reshape(self.moving_variance, self._bshape)
        out = (inputs - mean) / ops.sqrt(var + self.epsilon)
        if self.scale:
            out = out * ops.reshape(self.gamma, self._bshape)
        if self.center:
            out = out + ops.reshape(self.beta, self._bshape)
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
