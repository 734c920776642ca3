"""Structure layers: ``Identity``, ``RepeatVector`` and ``Permute``, as Keras."""

from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer


class Identity(Layer):
    """Return the input unchanged (its mask too): a named placeholder in a graph of layers.

    Args:
        name: the layer's name (default None: one made from the class, ``"identity"``, ``"identity_1"``, ...).
        trainable: whether its weights are trained (default True; ``Identity`` has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Identity()(tg.ones((2, 3))).shape
        (2, 3)
    """

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class RepeatVector(Layer):
    """Repeat a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.RepeatVector(3)(tg.ones((2, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, n: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer, received {n!r}")
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector '{self.name}': expected a 2-d input (batch, features), received shape "
                             f"{tuple(input_shape)}")
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        x = ops.expand_dims(inputs, 1)
        return ops.broadcast_to(x, (inputs.shape[0], self.n, inputs.shape[1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Reorder the axes after the batch axis: ``dims`` is a permutation of ``1 .. rank - 1``.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Permute((2, 1))(tg.ones((5, 3, 4))).shape
        (5, 4, 3)
    """

    supports_masking = True

    def __init__(self, dims, **kwargs) -> None:
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(f"Permute: dims must be a tuple of axis indices starting at 1, received {dims!r}") \
                from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)} (the batch axis 0 stays), "
                             f"received {dims}")
        self.dims = dims

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute '{self.name}': dims {self.dims} need an input of rank {len(self.dims) + 1}, "
                             f"received shape {tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        return ops.transpose(inputs, (0,) + self.dims)

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": list(self.dims)}


__all__ = ["Identity", "Permute", "RepeatVector"]
