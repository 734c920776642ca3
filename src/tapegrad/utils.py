"""Utilities under Keras's names (``tg.utils``)."""

from __future__ import annotations

import numpy as np

from .random import set_seed


def set_random_seed(seed: int) -> None:
    """Keras's name for ``tg.random.set_seed``: fixes initializers, shuffling and dropout."""
    set_seed(seed)


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot encode integer labels: ``to_categorical([0, 2], 3)``."""
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
