"""Core layers: Dense, Activation, Flatten, Reshape, Dropout, InputLayer."""

from __future__ import annotations

import math

import numpy as np

from .. import activations as _act
from .. import initializers as _init
from .. import ops
from .. import random as _random
from .. import regularizers as _reg
from .base import Layer
from .symbolic import KerasTensor, Node


class Dense(Layer):
    """``activation(inputs @ kernel + bias)``: the perceptron, for many outputs at once (``keras.layers.Dense``).

    The kernel has shape ``(input features, units)`` and is made on the first call, from the last
    axis of the input; inputs of higher rank are multiplied along their last axis.

    Args:
        units: the number of outputs (neurons), a positive integer.
        activation: an activation name (``"relu"``, ``"sigmoid"`` ...) or function (default None: linear).
        use_bias: add a bias vector (default True).
        kernel_initializer: how the kernel starts (default ``"glorot_uniform"``).
        bias_initializer: how the bias starts (default ``"zeros"``).
        kernel_regularizer: a penalty on the kernel added to the loss, e.g. ``tg.regularizers.L2(1e-4)`` (default None).
        bias_regularizer: a penalty on the bias (default None).
        activity_regularizer: a penalty on the layer's output (default None).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> layer = tg.layers.Dense(3, activation="sigmoid")
        >>> layer(tg.ones((4, 2))).shape, layer.kernel.shape, layer.bias.shape
        ((4, 3), (2, 3), (3,))
    """

    supports_masking = True  # a mask passes through, as Keras's Dense

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, received {units!r}")
        self.units = int(units)
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape) -> None:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the last dimension of the input must be known, "
                             f"received shape {tuple(input_shape)}")
        d = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(d, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")

    def call(self, inputs):
        if inputs.ndim == 0:
            raise ValueError(f"Dense '{self.name}': expected an input of rank >= 1, received a scalar")
        x = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Dense '{self.name}': expected an input of rank >= 1, received shape {tuple(input_shape)}")
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": _act.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer),
                "kernel_regularizer": _reg.serialize(self.kernel_regularizer),
                "bias_regularizer": _reg.serialize(self.bias_regularizer),
                "activity_regularizer": _reg.serialize(self.activity_regularizer)}


class Activation(Layer):
    """Applies an activation function to its input (``keras.layers.Activation``).

    Args:
        activation: an activation name (``"relu"``, ``"softmax"`` ...) or function.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Activation("relu")(tg.constant([[-1.0, 2.0]])).numpy().tolist()
        [[0.0, 2.0]]
    """

    supports_masking = True

    def __init__(self, activation, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activation = _act.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": _act.serialize(self.activation)}


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(N, 28, 28) -> (N, 784)`` (``keras.layers.Flatten``).

    Args:
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Flatten()(tg.zeros((2, 28, 28))).shape
        (2, 784)
    """

    def call(self, inputs):
        # the width spelled out rather than -1, which NumPy cannot infer for a batch of zero rows
        return ops.reshape(inputs, (inputs.shape[0], math.prod(inputs.shape[1:]))) if inputs.ndim != 2 else inputs

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape[1:])
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """Reshape every axis but the batch axis; one entry may be -1 (``keras.layers.Reshape``).

    Args:
        target_shape: the new shape without the batch axis, e.g. ``(28, 28, 1)``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Reshape((28, 28, 1))(tg.zeros((2, 784))).shape
        (2, 28, 28, 1)
    """

    def __init__(self, target_shape, **kwargs) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def call(self, inputs):
        n = math.prod(inputs.shape[1:])
        known = math.prod(s for s in self.target_shape if s != -1)
        if (-1 not in self.target_shape and known != n) or (known and n % known):
            raise ValueError(f"Reshape '{self.name}': cannot reshape input of shape {inputs.shape} "
                             f"into (batch,) + {self.target_shape}")
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape[1:])
        known = math.prod(s for s in self.target_shape if s != -1)
        if None in rest:
            return (input_shape[0],) + tuple(None if s == -1 else s for s in self.target_shape)
        n = math.prod(rest)
        if (-1 not in self.target_shape and known != n) or (known and n % known):
            raise ValueError(f"Reshape '{self.name}': cannot reshape input of shape {tuple(input_shape)} "
                             f"into (batch,) + {self.target_shape}")
        return (input_shape[0],) + tuple(n // known if s == -1 else s for s in self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs while training, scaling the rest by ``1/(1-rate)``
    (``keras.layers.Dropout``).

    Off unless called with ``training=True`` (``fit`` does; ``evaluate`` and ``predict`` don't).
    Masks come from the global generator (``tg.random.set_seed``) or from the layer's own ``seed``.

    Args:
        rate: the fraction to drop, in ``[0, 1)``.
        noise_shape: the shape of the mask, broadcast over the input; None entries take the input's
            size (default None: one mask entry per input element).
        seed: the layer's own random seed (default None: the global generator).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> drop = tg.layers.Dropout(0.5, seed=0)
        >>> x = tg.ones((1, 1000))
        >>> bool((drop(x) == x).numpy().all()), sorted(set(drop(x, training=True).numpy().ravel().tolist()))
        (True, [0.0, 2.0])
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), received {rate}")
        self.rate = float(rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed
        self._rng = _random.generator(seed) if seed is not None else None

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = None if self.noise_shape is None else tuple(
            inputs.shape[i] if s is None else s for i, s in enumerate(self.noise_shape))
        return ops.nn.dropout(inputs, self.rate, noise_shape=shape, rng=self._rng)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": list(self.noise_shape) if self.noise_shape else None}


class InputLayer(Layer):
    """Declares the shape of a model's input, without the batch axis (``keras.layers.InputLayer``).

    Its ``output`` is the symbolic tensor that ``tg.Input`` returns.

    Args:
        shape: the shape of one example, e.g. ``(28, 28)`` (Keras 1's ``input_shape=`` is accepted too).
        batch_size: a fixed batch size (default None: any).
        dtype: the input's dtype (default None: float32).
        name: the layer's name (default None: made unique).
        **kwargs: the base ``Layer``'s arguments.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.InputLayer(shape=(3,)).output.shape
        (None, 3)
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs) -> None:
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        batch_shape = kwargs.pop("batch_shape", None)
        if shape is None and batch_shape is not None:
            shape, batch_size = tuple(batch_shape)[1:], tuple(batch_shape)[0]
        super().__init__(name=name, dtype=dtype, **kwargs)
        if shape is None:
            raise ValueError("InputLayer: shape is required, for example shape=(2,)")
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(
                s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0) for s in shape):
            raise ValueError(f"Input: shape must be a tuple of non-negative integers or None (without the batch "
                             f"axis), received {shape!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            raise ValueError(f"Input: batch_size must be a positive integer or None, received {batch_size!r}")
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.built = True
        Node(self, (None, (), {}), KerasTensor((self.batch_size,) + self.shape, self.dtype, name=self.name))

    def call(self, inputs):
        if inputs.ndim != len(self.shape) + 1 or any(
                s is not None and s != t for s, t in zip(self.shape, inputs.shape[1:])):
            raise ValueError(f"Input '{self.name}': expected input of shape (batch,) + {self.shape}, "
                             f"received shape {inputs.shape}")
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name, "batch_size": self.batch_size}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None) -> KerasTensor:
    """A model's input: a symbolic tensor of ``(batch,) + shape`` to call layers on.

    Args:
        shape: the shape of one sample, without the batch axis (``None`` for unknown sizes).
        batch_size: a fixed batch size, or None (any).
        dtype: the data's dtype, ``"float32"`` by default (``"int32"`` for token ids).
        name: a name, unique in the model (the key of this input in a dict of data).
        batch_shape: the shape with the batch axis, instead of ``shape`` and ``batch_size``.

    It starts a functional model (``tg.Model(inputs, outputs)``) and, as first item, a
    ``Sequential`` one.

    Example:
        >>> import tapegrad as tg
        >>> inputs = tg.Input(shape=(784,))
        >>> outputs = tg.layers.Dense(10)(tg.layers.Dense(64, activation="relu")(inputs))
        >>> tg.Model(inputs, outputs).output_shape
        (None, 10)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape).output
