"""Layers for sequences of tokens: ``Embedding`` (a lookup table) and ``Masking``."""

from __future__ import annotations

import numpy as np

from .. import initializers as _init
from .. import ops
from .. import regularizers as _reg
from ..autodiff.tensor import Tensor
from .base import Layer


class Embedding(Layer):
    """Turn integer ids into dense vectors: row ``i`` of ``embeddings`` for id ``i``.

    Args:
        input_dim: the size of the vocabulary (ids are ``0 .. input_dim - 1``).
        output_dim: the length of each vector.
        embeddings_initializer: Keras's default, ``"uniform"`` (uniform in [-0.05, 0.05]).
        embeddings_regularizer: an optional penalty on the table.
        mask_zero: treat id 0 as padding: the output carries a mask (``False`` where the
            id is 0) that recurrent layers and 1-d poolings honour, as in Keras.

    The input is an integer tensor of any shape; the output has one more axis, of
    length ``output_dim``. Its gradient adds up the rows of repeated ids.

    Example:
        >>> import tapegrad as tg
        >>> layer = tg.layers.Embedding(10, 4, mask_zero=True)
        >>> out = layer(tg.constant([[3, 1, 0]], dtype="int32"))
        >>> out.shape
        (1, 3, 4)
        >>> layer.compute_mask(tg.constant([[3, 1, 0]], dtype="int32")).numpy().tolist()
        [[True, True, False]]
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive integer, received {value!r}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = _init.get(embeddings_initializer)
        self.embeddings_regularizer = _reg.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None

    _checks_own_input = True  # the last axis of the ids is the sequence, whose length may change

    def build(self, input_shape=None) -> None:
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer, name="embeddings")

    def _ids(self, inputs) -> np.ndarray:
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        if data.dtype.kind not in "iu":
            if data.dtype.kind != "f" or not np.array_equal(data, np.round(data)):
                raise ValueError(f"Embedding '{self.name}': expected integer ids, received dtype {data.dtype}")
            data = data.astype(np.int64)
        return data

    def call(self, inputs):
        # the lookup checks the ids' range itself, so a step replayed by tg.function checks it too
        return ops.embedding_lookup(self.embeddings, self._ids(inputs), name=f"Embedding '{self.name}'")

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return Tensor(self._ids(inputs) != 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": _init.serialize(self.embeddings_initializer),
                "embeddings_regularizer": _reg.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}


class Masking(Layer):
    """Mark the time steps whose features all equal ``mask_value`` as padding.

    The output is the input with those steps set to zero, and it carries a mask
    (``False`` at those steps) for the layers that follow, as Keras's ``Masking``.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[[1.0, 2.0], [0.0, 0.0]]])
        >>> layer = tg.layers.Masking(mask_value=0.0)
        >>> layer.compute_mask(x).numpy().tolist()
        [[True, False]]
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, inputs) -> np.ndarray:
        return np.any(inputs.data != self.mask_value, axis=-1)

    def call(self, inputs):
        keep = self._keep(inputs)[..., None].astype(inputs.dtype)
        return ops.multiply(inputs, Tensor(keep))

    def compute_mask(self, inputs, mask=None):
        return Tensor(self._keep(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}
