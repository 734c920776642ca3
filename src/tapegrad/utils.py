"""Utilities under Keras's names (``tg.utils``)."""

from __future__ import annotations

import numpy as np

from .random import set_seed


def set_random_seed(seed: int) -> None:
    """Keras's name for ``tg.random.set_seed``: fixes initializers, shuffling and dropout
    (``keras.utils.set_random_seed``).

    Args:
        seed: a non-negative integer.

    Example:
        >>> import tapegrad as tg
        >>> tg.utils.set_random_seed(1); a = tg.random.normal([2]).numpy()
        >>> tg.utils.set_random_seed(1); bool((tg.random.normal([2]).numpy() == a).all())
        True
    """
    set_seed(seed)


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot encode integer labels (``keras.utils.to_categorical``).

    Args:
        y: integer labels, ``>= 0``.
        num_classes: the number of classes (default None: the largest label + 1).
        dtype: the dtype of the result (default "float32").

    Example:
        >>> import tapegrad as tg
        >>> tg.utils.to_categorical([0, 2], 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, received minimum {int(y.min())}")
    n = int(num_classes if num_classes is not None else (y.max() + 1 if y.size else 0))
    if y.size and y.max() >= n:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for num_classes={n}")
    out = np.zeros((y.size, n), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


__all__ = ["set_random_seed", "to_categorical"]
