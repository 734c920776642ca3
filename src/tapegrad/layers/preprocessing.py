"""``Normalization``: standardize features with statistics learned by ``adapt``."""

from __future__ import annotations

import numpy as np

from ..autodiff.tensor import Tensor
from .base import Layer


class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature, as ``keras.layers.Normalization``.

    Call ``adapt(data)`` to compute the statistics, or pass ``mean`` and ``variance``.
    They are non-trainable weights, so they are saved with the model.

    Args:
        axis: the feature axis; only -1 (the default) is supported.
        mean: the per-feature means (default None: set by ``adapt``).
        variance: the per-feature variances (default None: set by ``adapt``).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> norm = tg.layers.Normalization()
        >>> norm.adapt(np.array([[0.0], [2.0]]))
        >>> norm(np.array([[2.0]])).numpy().tolist()
        [[1.0]]
    """

    def __init__(self, axis: int = -1, mean=None, variance=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"Normalization: only axis=-1 is supported, received axis={axis}")
        self.axis = axis
        self._init_mean = None if mean is None else np.asarray(mean, dtype=np.float64).reshape(-1)
        self._init_var = None if variance is None else np.asarray(variance, dtype=np.float64).reshape(-1)
        self.mean = None
        self.variance = None

    def build(self, input_shape) -> None:
        d = int(input_shape[-1])
        self.mean = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape=(d,), initializer="ones", trainable=False, name="variance")
        if self._init_mean is not None:
            self.mean.assign(np.broadcast_to(self._init_mean, (d,)))
            self.variance.assign(np.broadcast_to(self._init_var, (d,)))

    def adapt(self, data) -> None:
        """Set mean and variance from ``data`` (rows are samples)."""
        arr = np.asarray(data.numpy(copy=False) if isinstance(data, Tensor) else data, dtype=np.float64)
        arr = arr.reshape(-1, arr.shape[-1])
        if not self.built:
            self.build(arr.shape)
        elif arr.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"Normalization '{self.name}': adapt received {arr.shape[-1]} features, the layer "
                             f"was built for {self.mean.shape[0]}")
        self.mean.assign(arr.mean(0))
        self.variance.assign(arr.var(0))

    def call(self, inputs):
        from ..ops import maximum, sqrt

        std = sqrt(maximum(self.variance, 1e-7))
        return (inputs - self.mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = {**super().get_config(), "axis": self.axis}
        if self.built:
            config["mean"] = self.mean.numpy().tolist()
            config["variance"] = self.variance.numpy().tolist()
        return config
