"""``Dataset`` and ``DataLoader``: samples by index, and mini-batches of them.

Example:
    >>> import numpy as np, tapegrad as tg
    >>> ds = tg.data.Dataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    >>> [b[0].shape for b in tg.data.DataLoader(ds, batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
"""

from __future__ import annotations

import itertools
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

    ``x`` may be an array or a dict of arrays (several inputs); every part must
    have the same number of samples.

    Iterating gives one element per sample, in ``tf.data``'s structure: ``x_i``,
    ``(x_i, y_i)`` or ``(x_i, y_i, sample_weight_i)``. ``map``, ``shuffle``, ``batch``,
    ``repeat``, ``take`` and ``prefetch`` build pipelines from it as ``tf.data.Dataset``'s
    methods do. ``fit`` reads a dataset of arrays as it reads the arrays (``batch_size``,
    ``shuffle``); a pipeline gives its own batches after ``batch`` (``batch_size`` and
    ``shuffle`` of ``fit`` do not apply), else ``fit`` stacks ``batch_size`` consecutive
    elements into a batch.

    Args:
        x: the inputs: an array, a Tensor, or a dict of them.
        y: the targets (default None).
        sample_weight: one weight per sample (default None).

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> ds = tg.data.Dataset.from_tensor_slices((np.arange(6.0).reshape(6, 1), np.arange(6)))
        >>> [y.tolist() for x, y in ds.shuffle(6, seed=1).batch(4)]
        [[3, 4, 0, 2], [5, 1]]
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

    # -- tf.data-style pipelines -------------------------------------------------------------
    # A dataset of arrays yields one element per sample: ``x_i`` alone, ``(x_i, y_i)`` or
    # ``(x_i, y_i, sample_weight_i)``. The methods below each return a new ``Dataset`` whose
    # elements are made from this one's, as ``tf.data.Dataset``'s do; they are read by
    # iterating (``fit``, ``evaluate`` and ``predict`` take them directly).
    _batched = False  # whether the elements are batches (after ``batch``)
    _by_index = True  # whether ``_indices`` gives the elements (samples of arrays, not after map or batch)

    def cardinality(self) -> int:
        """The number of elements, or ``tg.data.INFINITE_CARDINALITY`` (-1) after ``repeat()``.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> ds = tg.data.Dataset(np.zeros((10, 2)))
            >>> ds.batch(4).cardinality(), ds.repeat().cardinality()
            (3, -1)
        """
        return self.n

    def __iter__(self) -> Iterator:
        for i in range(self.n):
            yield self._element_at(i)

    def _element_at(self, idx):
        """The element (or, for an index array, the batch of elements) at ``idx``."""
        return _element(take(self.x, idx), take(self.y, idx), take(self.sample_weight, idx))

    def _indices(self) -> Iterator:
        """Indices into ``self._origin`` giving this dataset's elements in order, where
        ``_by_index`` (its elements are samples of a dataset of arrays: not after ``map`` or
        ``batch``): ``batch`` then gathers whole batches by fancy indexing instead of stacking
        samples one by one."""
        return iter(range(self.n))

    @property
    def _origin(self) -> "Dataset":
        return self

    def map(self, map_func) -> "Dataset":
        """A dataset of ``map_func(*element)`` (``map_func(element)`` when an element is not a tuple).

        Args:
            map_func: a function of one element, returning the new element; after ``batch`` it
                receives and returns whole batches (the fast way to transform data).

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> ds = tg.data.Dataset(np.array([1.0, 2.0]), np.array([0, 1])).map(lambda x, y: (x * 10, y))
            >>> [(float(x), int(y)) for x, y in ds]
            [(10.0, 0), (20.0, 1)]
        """
        if not callable(map_func):
            raise TypeError(f"Dataset.map: map_func must be callable, received {type(map_func).__name__}")
        return _Map(self, map_func)

    def shuffle(self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True) -> "Dataset":
        """A dataset of the same elements in random order, as ``tf.data.Dataset.shuffle``.

        Elements pass through a buffer of ``buffer_size``: each one given out is drawn at random
        from the buffer, and the next input element takes its place; a buffer at least as large
        as the dataset gives a uniformly random permutation.

        Args:
            buffer_size: how many elements the buffer holds (a positive integer).
            seed: the seed of this shuffle's own generator; None draws from tapegrad's generator
                (``tg.random.set_seed``; inside ``fit``, the epoch's), so runs still reproduce.
            reshuffle_each_iteration: a new order at every pass (True, as tf.data) or the same
                order at every pass.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> sorted(int(v) for v in tg.data.Dataset(np.arange(5)).shuffle(5, seed=0))
            [0, 1, 2, 3, 4]
        """
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)) or buffer_size <= 0:
            raise ValueError(f"Dataset.shuffle: buffer_size must be a positive integer, received {buffer_size!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"Dataset.shuffle: seed must be a non-negative integer or None, received {seed!r}")
        return _Shuffle(self, int(buffer_size), seed, bool(reshuffle_each_iteration))

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """A dataset whose elements are batches of ``batch_size`` consecutive elements, stacked
        along a new first axis (dicts and tuples keep their structure).

        Args:
            batch_size: elements per batch (a positive integer).
            drop_remainder: drop a last batch smaller than ``batch_size``.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> [x.shape for x, y in tg.data.Dataset(np.zeros((5, 2)), np.zeros(5)).batch(2)]
            [(2, 2), (2, 2), (1, 2)]
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"Dataset.batch: batch_size must be a positive integer, received {batch_size!r}")
        return _Batch(self, int(batch_size), bool(drop_remainder))

    def repeat(self, count: int | None = None) -> "Dataset":
        """This dataset's elements ``count`` times over (forever for None or -1); each pass is a
        new iteration, so a ``shuffle`` before ``repeat`` reshuffles every pass.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> [int(v) for v in tg.data.Dataset(np.arange(2)).repeat(2)]
            [0, 1, 0, 1]
        """
        if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < -1):
            raise ValueError(f"Dataset.repeat: count must be None, -1 or a non-negative integer, received {count!r}")
        return _Repeat(self, None if count is None or count == -1 else int(count))

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (all of them for -1).

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> [int(v) for v in tg.data.Dataset(np.arange(5)).take(2)]
            [0, 1]
        """
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < -1:
            raise ValueError(f"Dataset.take: count must be -1 or a non-negative integer, received {count!r}")
        return _Take(self, int(count))

    def prefetch(self, buffer_size: int | None = None) -> "Dataset":
        """A no-op in tapegrad, returning this dataset: elements are made in the training thread
        when they are needed, so there is nothing to prepare ahead. It is here so that tf.data
        pipelines ending in ``.prefetch(tf.data.AUTOTUNE)`` run unchanged.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> ds = tg.data.Dataset(np.arange(3))
            >>> ds.prefetch(2) is ds
            True
        """
        return self


#: ``Dataset.cardinality()`` of a dataset that repeats forever (tf.data's value).
INFINITE_CARDINALITY = -1


def _element(x, y, sw):
    """A sample (or batch) in tf.data's structure: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if sw is not None:
        return (x, y, sw)
    if y is not None:
        return (x, y)
    return x


def stack_elements(items: list, where: str):
    """One batch from a list of elements of the same structure: arrays stacked on a new first axis,
    dicts, tuples and lists kept; ``where`` names the batch in errors."""
    first = items[0]
    if isinstance(first, dict):
        for k, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != set(first):
                got = f"keys {sorted(item)}" if isinstance(item, dict) else f"a {type(item).__name__}"
                raise ValueError(f"{where}: element {k} has {got} where element 0 has keys {sorted(first)}")
        return {key: stack_elements([item[key] for item in items], f"{where}, key {key!r}") for key in first}
    if isinstance(first, (tuple, list)):
        for k, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) != len(first):
                got = (f"a {type(item).__name__} of {len(item)}" if isinstance(item, (tuple, list))
                       else f"a {type(item).__name__}")
                raise ValueError(f"{where}: element {k} is {got} where element 0 is a {type(first).__name__} of "
                                 f"{len(first)}")
        return type(first)(stack_elements([item[i] for item in items], f"{where}, part {i}")
                           for i in range(len(first)))
    arrays = [to_numpy(v.data) if isinstance(v, Tensor) else np.asarray(v) for v in items]
    for k, a in enumerate(arrays):
        if a.shape != arrays[0].shape:
            raise ValueError(f"{where}: element {k} has shape {a.shape} where element 0 has {arrays[0].shape}; "
                             f"the elements of a batch must have the same shape")
    return np.stack(arrays)


class _Stage(Dataset):
    """A dataset made from another (``parent``) by one of ``Dataset``'s methods."""

    def __init__(self, parent: Dataset) -> None:  # no arrays of its own: Dataset.__init__ is not called
        self._parent = parent
        self._batched = parent._batched
        self._by_index = parent._by_index

    def __len__(self) -> int:
        n = self.cardinality()
        if n < 0:
            raise TypeError("Dataset: this dataset repeats forever (repeat()), so it has no length")
        return n

    def __getitem__(self, idx):
        raise TypeError("Dataset: only a dataset of arrays can be indexed; one made by map, shuffle, batch, "
                        "repeat or take is read by iterating over it")

    def cardinality(self) -> int:
        return self._parent.cardinality()

    def __iter__(self) -> Iterator:  # stages with _by_index; _Map and _Batch define their own
        origin = self._origin
        return (origin._element_at(i) for i in self._indices())

    @property
    def _origin(self) -> Dataset:
        return self._parent._origin


class _Map(_Stage):
    def __init__(self, parent: Dataset, fn) -> None:
        super().__init__(parent)
        self._fn = fn
        self._by_index = False

    def __iter__(self) -> Iterator:
        fn = self._fn
        for element in self._parent:
            yield fn(*element) if isinstance(element, tuple) else fn(element)


class _Shuffle(_Stage):
    def __init__(self, parent: Dataset, buffer_size: int, seed: int | None, reshuffle: bool) -> None:
        super().__init__(parent)
        self._size = buffer_size
        self._rng = _random.generator(seed) if seed is not None else None
        self._reshuffle = reshuffle
        self._fixed: int | None = None  # the seed of every pass's order when not reshuffling

    def _generator(self) -> np.random.Generator:
        if self._reshuffle:
            return self._rng if self._rng is not None else _random.generator()
        if self._fixed is None:
            self._fixed = int((self._rng if self._rng is not None else _random.generator()).integers(2**63))
        return np.random.default_rng(self._fixed)

    def _shuffled(self, items: Iterator, rng: np.random.Generator) -> Iterator:
        it = iter(items)
        buf = list(itertools.islice(it, self._size))
        if len(buf) < self._size:  # the buffer holds everything: a uniform permutation
            for k in rng.permutation(len(buf)):
                yield buf[k]
            return
        end = object()
        draws = rng.random(1024)
        d = 0
        while buf:
            if d == len(draws):
                draws, d = rng.random(1024), 0
            j = int(draws[d] * len(buf))
            d += 1
            out = buf[j]
            nxt = next(it, end)
            if nxt is end:
                buf[j] = buf[-1]
                buf.pop()
            else:
                buf[j] = nxt
            yield out

    def _indices(self) -> Iterator:
        return self._shuffled(self._parent._indices(), self._generator())

    def __iter__(self) -> Iterator:
        if self._by_index:
            return super().__iter__()
        return self._shuffled(iter(self._parent), self._generator())


class _Batch(_Stage):
    def __init__(self, parent: Dataset, batch_size: int, drop_remainder: bool) -> None:
        super().__init__(parent)
        self._size, self._drop = batch_size, drop_remainder
        self._batched = True
        self._by_index = False

    def cardinality(self) -> int:
        n = self._parent.cardinality()
        if n < 0:
            return n
        return n // self._size if self._drop else math.ceil(n / self._size)

    def __iter__(self) -> Iterator:
        if self._parent._by_index:  # samples of arrays: gather each batch at once
            indices = self._parent._indices()
            origin = self._parent._origin
            while True:
                chunk = np.fromiter(itertools.islice(indices, self._size), dtype=np.int64)
                if len(chunk) == 0 or (self._drop and len(chunk) < self._size):
                    return
                yield origin._element_at(chunk)
        it = iter(self._parent)
        for b in itertools.count():
            items = list(itertools.islice(it, self._size))
            if not items or (self._drop and len(items) < self._size):
                return
            yield stack_elements(items, f"Dataset.batch: batch {b}")


class _Repeat(_Stage):
    def __init__(self, parent: Dataset, count: int | None) -> None:
        super().__init__(parent)
        self._count = count

    def cardinality(self) -> int:
        n = self._parent.cardinality()
        if self._count is None:
            return 0 if n == 0 else INFINITE_CARDINALITY
        return n if n < 0 else n * self._count

    def _passes(self, one_pass) -> Iterator:
        k = 0
        while self._count is None or k < self._count:
            empty = True
            for item in one_pass():
                empty = False
                yield item
            if empty:  # an empty dataset repeated forever is empty
                return
            k += 1

    def _indices(self) -> Iterator:
        return self._passes(self._parent._indices)

    def __iter__(self) -> Iterator:
        if self._by_index:
            return super().__iter__()
        return self._passes(lambda: iter(self._parent))


class _Take(_Stage):
    def __init__(self, parent: Dataset, count: int) -> None:
        super().__init__(parent)
        self._count = count

    def cardinality(self) -> int:
        n = self._parent.cardinality()
        if self._count < 0:
            return n
        return self._count if n < 0 else min(n, self._count)

    def _indices(self) -> Iterator:
        indices = self._parent._indices()
        return indices if self._count < 0 else itertools.islice(indices, self._count)

    def __iter__(self) -> Iterator:
        if self._by_index:
            return super().__iter__()
        return iter(self._parent) if self._count < 0 else itertools.islice(iter(self._parent), self._count)


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
        if isinstance(dataset, _Stage):
            raise TypeError("DataLoader: expected a Dataset of arrays, received one made by map, shuffle, batch, "
                            "repeat or take; iterate over it, or pass it to fit, evaluate or predict directly")
        if not isinstance(dataset, Dataset):
            dataset = Dataset(*dataset) if isinstance(dataset, tuple) else Dataset(dataset)
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = _random.generator(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        for idx in self.batch_indices():
            yield self.dataset[idx]

    def batch_indices(self) -> Iterator:
        """The samples of each batch of one pass: a slice of the dataset without shuffling,
        else an array of indices (the pass's permutation drawn when iteration starts).
        ``tg.distribute`` reads these to take each rank's shard of every batch.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> list(tg.data.DataLoader(tg.data.Dataset(np.zeros((5, 1))), batch_size=2).batch_indices())
            [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
        """
        n = len(self.dataset)
        if self.shuffle:
            rng = self._rng if self._rng is not None else _random.generator()
            order = rng.permutation(n)
        else:
            order = None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min((b + 1) * self.batch_size, n))
            yield order[sl] if order is not None else sl
