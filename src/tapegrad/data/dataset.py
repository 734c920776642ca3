"""``Dataset`` and ``DataLoader``: samples by index, and mini-batches of them.

Example:
    >>> import numpy as np, tapegrad as tg
    >>> ds = tg.data.Dataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    >>> [b[0].shape for b in tg.data.DataLoader(ds, batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from .. import random as _random
from ..autodiff.tensor import Tensor
from ..backend import to_numpy


def to_numpy_tree(x: Any):
    """Arrays for arrays, nested lists and tensors; dicts, tuples and lists of arrays keep their structure."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: to_numpy_tree(v) for k, v in x.items()}
    if isinstance(x, Tensor):
        return to_numpy(x.data)
    if isinstance(x, tuple) or (isinstance(x, list) and x and all(isinstance(v, (np.ndarray, Tensor)) for v in x)):
        return tuple(to_numpy_tree(v) for v in x)  # one array per model output (or input)
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(np.float32)
    return arr


def num_samples(x) -> int:
    if isinstance(x, dict):
        sizes = {k: len(v) for k, v in x.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"all inputs must have the same number of samples, received {sizes}")
        return next(iter(sizes.values()))
    if isinstance(x, tuple):
        return num_samples(x[0])
    return len(x)


def take(x, idx):
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(v[idx] for v in x)
    return x[idx]


class Dataset:
    """Samples ``(x, y[, sample_weight])`` held in memory, indexed along the first axis.

    ``x`` may be an array or a dict of arrays (several inputs); every part must have the same
    number of samples. ``dataset.batch(n)`` gives a ``DataLoader``; ``fit`` accepts either.

    Args:
        x: the inputs: an array, a Tensor, or a dict of them.
        y: the targets (default None).
        sample_weight: one weight per sample (default None).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> ds = tg.data.Dataset(np.zeros((10, 2)), np.arange(10))
        >>> len(ds), [len(x) for x, y, w in ds.batch(4)]
        (10, [4, 4, 2])
    """

    def __init__(self, x, y=None, sample_weight=None) -> None:
        self.x = to_numpy_tree(x)
        self.y = to_numpy_tree(y)
        self.sample_weight = to_numpy_tree(sample_weight)
        n = num_samples(self.x)
        for name, part in (("y", self.y), ("sample_weight", self.sample_weight)):
            if part is not None and num_samples(part) != n:
                raise ValueError(f"Dataset: x has {n} samples but {name} has {num_samples(part)}")
        self.n = n

    @classmethod
    def from_tensor_slices(cls, tensors) -> "Dataset":
        """``tf.data`` spelling: a tuple ``(x, y)`` or ``(x, y, sample_weight)``, or ``x`` alone."""
        if isinstance(tensors, tuple):
            return cls(*tensors)
        return cls(tensors)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx):
        return take(self.x, idx), take(self.y, idx), take(self.sample_weight, idx)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "DataLoader":
        return DataLoader(self, batch_size=batch_size, drop_last=drop_remainder)


class DataLoader:
    """Mini-batches of a dataset, reshuffled at every pass when ``shuffle`` is set.

    Shuffling draws from the global generator (``tg.random.set_seed``) unless a ``seed`` is given.
    Batches are tuples ``(x, y, sample_weight)`` of NumPy arrays (None where absent).

    Args:
        dataset: a ``Dataset``.
        batch_size: samples per batch (default 32).
        shuffle: a new order at every pass (default False).
        drop_last: drop a final partial batch (default False).
        seed: a seed for the shuffling (default None: the global generator).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> loader = tg.data.DataLoader(tg.data.Dataset(np.arange(10)), batch_size=4, drop_last=True)
        >>> [x.tolist() for x, _, _ in loader]
        [[0, 1, 2, 3], [4, 5, 6, 7]]
    """

    def __init__(self, dataset: Dataset, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, received {batch_size!r}")
        if not isinstance(dataset, Dataset):
            dataset = Dataset(*dataset) if isinstance(dataset, tuple) else Dataset(dataset)
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = _random.generator(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        n = len(self.dataset)
        if self.shuffle:
            rng = self._rng if self._rng is not None else _random.generator()
            order = rng.permutation(n)
        else:
            order = None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min((b + 1) * self.batch_size, n))
            idx = order[sl] if order is not None else sl
            yield self.dataset[idx]
