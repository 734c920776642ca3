"""``PyDataset``: batches made by Python code, one per index (Keras's ``keras.utils.PyDataset``).

Example:
    >>> import numpy as np, tapegrad as tg
    >>> class Squares(tg.data.PyDataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, idx):
    ...         x = np.arange(4.0).reshape(2, 2) + idx
    ...         return x, x ** 2
    >>> [x.shape for x, y in Squares()]
    [(2, 2), (2, 2), (2, 2)]
"""

from __future__ import annotations

import itertools
from typing import Iterator


class PyDataset:
    """Base class of a dataset whose batches Python code makes: subclass it and define
    ``__getitem__(index)``, returning the whole batch ``index`` (``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``), and ``__len__``, the number of batches (or a ``num_batches``
    property that is None for a dataset without end). ``on_epoch_begin`` and ``on_epoch_end``
    are called around every pass over it, as Keras: each epoch of ``fit`` (the end before
    validation), each ``evaluate`` and each ``predict``; for example to reshuffle the samples.

    ``fit`` reads batches ``0 .. len - 1`` in order, or in a new random order every epoch with
    ``fit(shuffle=True)`` (its default, as Keras); ``evaluate`` and ``predict`` read them in
    order. A dataset without end needs ``steps_per_epoch`` (``steps`` in ``evaluate`` and
    ``predict``).

    Args:
        workers: accepted for Keras compatibility and stored; tapegrad reads every batch in
            the training thread, in order, so it makes no worker threads or processes.
        use_multiprocessing: as ``workers``: stored, not used.
        max_queue_size: as ``workers``: stored, not used.

    Example:
        >>> import math, numpy as np, tapegrad as tg
        >>> class Batches(tg.data.PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, idx):
        ...         lo = idx * self.batch_size
        ...         return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> history = model.fit(Batches(np.ones((10, 2)), np.zeros((10, 1)), 4), epochs=2, verbose=0)
        >>> len(history.history["loss"])
        2
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index: int):
        """The batch at position ``index``; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index), returning batch index")

    @property
    def num_batches(self) -> int | None:
        """The number of batches: ``len(self)``; a subclass may make it None for a dataset without end."""
        if hasattr(self, "__len__"):
            return len(self)  # type: ignore[arg-type]
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches) or a "
                                  f"num_batches property (None for a dataset without end)")

    def __iter__(self) -> Iterator:
        n = self.num_batches
        for index in (range(n) if n is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called before the first batch of every pass (an epoch of ``fit``, an ``evaluate``, a ``predict``)."""

    def on_epoch_end(self) -> None:
        """Called after the last batch of every pass (in ``fit``, before the epoch's validation)."""
