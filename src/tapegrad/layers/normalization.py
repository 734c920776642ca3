"""``LayerNormalization``: normalize each sample over its feature axes, as Keras."""

from __future__ import annotations

import numpy as np

from .. import initializers as _init
from .. import ops
from .. import regularizers as _reg
from .base import Layer


class LayerNormalization(Layer):
    """``(x - mean) / sqrt(variance + epsilon) * gamma + beta``, with the mean and variance of
    each sample taken over ``axis`` (the features by default), as ``keras.layers.LayerNormalization``.

    Args:
        axis: an axis or a list of axes to normalize over (never the batch axis).
        epsilon: added to the variance (Keras's default 1e-3).
        center: learn an offset ``beta`` (shape: the normalized axes).
        scale: learn a factor ``gamma``.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer: as Keras.

    Example:
        >>> import tapegrad as tg
        >>> out = tg.layers.LayerNormalization(epsilon=0.0)(tg.constant([[1.0, 3.0]]))
        >>> out.numpy().round(4).tolist()
        [[-1.0, 1.0]]
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis) if isinstance(axis, (list, tuple)) \
            else None
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"LayerNormalization: axis must be an integer or a list of integers, received {axis!r}")
        if not epsilon >= 0:
            raise ValueError(f"LayerNormalization: epsilon must be >= 0, received {epsilon!r}")
        self.axis = int(axis) if isinstance(axis, (int, np.integer)) else [int(a) for a in axes]
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _init.get(beta_initializer)
        self.gamma_initializer = _init.get(gamma_initializer)
        self.beta_regularizer = _reg.get(beta_regularizer)
        self.gamma_regularizer = _reg.get(gamma_regularizer)
        self.gamma = self.beta = None

    def _axes(self, rank: int) -> tuple:
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        if any(not -rank <= a < rank or a % rank == 0 for a in axes):
            raise ValueError(f"LayerNormalization '{self.name}': axis {self.axis} is invalid for an input of rank "
                             f"{rank} (the batch axis 0 cannot be normalized)")
        return tuple(sorted({a % rank for a in axes}))

    def build(self, input_shape) -> None:
        rank = len(input_shape)
        axes = self._axes(rank)
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"LayerNormalization '{self.name}': the normalized axes {axes} must have known sizes, "
                             f"received shape {tuple(input_shape)}")
        shape = tuple(int(input_shape[a]) for a in axes)
        self._reduce = axes
        self._bshape = tuple(int(input_shape[i]) if i in axes else 1 for i in range(rank))
        self._rank = rank
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, name="beta")

    def _check(self, shape) -> None:
        if len(shape) != self._rank or any(shape[a] is not None and shape[a] != self._bshape[a] for a in self._reduce):
            raise ValueError(f"LayerNormalization '{self.name}': expected an input of rank {self._rank} with sizes "
                             f"{[self._bshape[a] for a in self._reduce]} on axes {list(self._reduce)}, received "
                             f"shape {tuple(shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        mean = ops.mean(inputs, axis=self._reduce, keepdims=True)
        centered = inputs - mean
        var = ops.mean(ops.square(centered), axis=self._reduce, keepdims=True)
        out = centered / ops.sqrt(var + self.epsilon)
        if self.scale:
            out = out * ops.reshape(self.gamma, self._bshape)
        if self.center:
            out = out + ops.reshape(self.beta, self._bshape)
        return out

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": _init.serialize(self.beta_initializer),
                "gamma_initializer": _init.serialize(self.gamma_initializer),
                "beta_regularizer": _reg.serialize(self.beta_regularizer),
                "gamma_regularizer": _reg.serialize(self.gamma_regularizer)}


__all__ = ["LayerNormalization"]
