"""Adapters: every kind of data that ``fit``, ``evaluate`` and ``predict`` read besides arrays.

Keras's design (``keras/src/trainers/data_adapters``): one adapter per kind of source gives
that source's raw batches for one pass; ``EpochIterator`` runs the passes as Keras's does
(how many batches an epoch takes, ``steps_per_epoch`` carrying on from where the last epoch
stopped) and turns each batch into ``(x, y, sample_weight)`` of NumPy arrays, checking it and
naming the batch in any error. The kinds: a Python generator or any other iterable of
batches, a ``torch.utils.data.DataLoader`` (recognised by its class, without importing
torch), a ``PyDataset`` and a ``Dataset`` pipeline (made by ``map``, ``shuffle``, ``batch``,
...). Arrays, and a ``Dataset`` or ``DataLoader`` of arrays, are batched by the training loop
itself and do not come here. ``x`` and ``y`` may be dicts, tuples or lists of arrays (several
inputs or outputs): their structure is kept, their leaves become NumPy arrays.

Example:
    >>> import numpy as np
    >>> from tapegrad.data.adapters import epoch_iterator
    >>> batches = ((np.ones((2, 3)), np.zeros(2)) for _ in range(3))
    >>> it = epoch_iterator(batches, who="fit")
    >>> [x.shape for x, y, sw in it], it.num_batches
    ([(2, 3), (2, 3), (2, 3)], 3)
"""

from __future__ import annotations

import itertools
import types
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from .. import random as _random
from ..autodiff.tensor import Tensor
from ..backend import to_numpy
from .dataset import INFINITE_CARDINALITY, DataLoader, Dataset, _Stage
from .py_dataset import PyDataset

__all__ = ["EpochIterator", "epoch_iterator", "is_batch_source", "is_torch_dataloader"]

# Keras reads this many batches ahead from a generator (``NUM_BATCHES_FOR_TENSOR_SPEC``) and
# serves them again at the start of every later pass; a generator runs only once, so a later
# epoch of a finite one gets just these.
_PEEKED = 2


def is_torch_dataloader(x: Any) -> bool:
    """Whether ``x`` is a ``torch.utils.data.DataLoader``, told by its classes' names and modules
    (as Keras does) so that tapegrad never imports torch.

    Example:
        >>> is_torch_dataloader([1, 2])
        False
    """
    return any(c.__name__ == "DataLoader" and c.__module__.startswith("torch.utils.data") for c in type(x).__mro__)


def _is_array_like(x: Any) -> bool:
    """Arrays and what NumPy reads as arrays: lists, tuples and dicts (of arrays) among them."""
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes, range, int, float, complex, np.generic)):
        return True
    return any(hasattr(x, name) for name in ("__array__", "__array_interface__", "__dlpack__"))


def is_batch_source(x: Any) -> bool:
    """Whether ``fit``, ``evaluate`` and ``predict`` read ``x`` through an adapter: a generator or
    any other iterable that is not an array (nor a list, tuple or dict, which are read as
    arrays, as Keras), a torch ``DataLoader``, a ``PyDataset``, or a ``Dataset`` pipeline.

    Example:
        >>> import numpy as np
        >>> is_batch_source(iter([(np.ones(2), np.ones(2))])), is_batch_source(np.ones(2))
        (True, False)
    """
    if isinstance(x, (EpochIterator, PyDataset, _Stage)) or is_torch_dataloader(x):
        return True
    if x is None or isinstance(x, (Dataset, DataLoader)) or _is_array_like(x):
        return False
    return hasattr(x, "__iter__")


def _ran_out(who: str, kind: str, got: int) -> None:
    warnings.warn(f"{who}: your input ran out of data; interrupting the epoch. The {kind} gave {got} batches "
                  f"this epoch. Make sure that your dataset or generator can generate at least "
                  f"`steps_per_epoch * epochs` batches. You may need to use the `.repeat()` function when "
                  f"building your dataset, or a PyDataset, which is read again every epoch.", UserWarning,
                  stacklevel=3)


# -- the adapters ----------------------------------------------------------------------------
class _Adapter:
    """One kind of source: ``batches()`` gives ``(index, raw batch)`` pairs for one pass."""

    kind = "iterable"
    num_batches: int | None = None  # None: unknown until a pass ends, or without end
    endless = False  # known to have no end: needs steps_per_epoch

    def batches(self) -> Iterator:
        raise NotImplementedError

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass


class _GeneratorAdapter(_Adapter):
    """A generator or other one-shot iterator, read once: as Keras, its first ``_PEEKED`` batches
    are read when it is adapted and come again at the start of every later pass."""

    def __init__(self, gen: Iterator, kind: str, who: str) -> None:
        self.kind = kind
        self._gen = gen
        self._peeked = list(itertools.islice(gen, _PEEKED))
        if not self._peeked:
            raise ValueError(f"{who}: the {kind} yielded no batch; it must yield at least one batch "
                             f"(x,), (x, y) or (x, y, sample_weight)")

    def batches(self) -> Iterator:
        return enumerate(itertools.chain(self._peeked, self._gen))


class _IterableAdapter(_Adapter):
    """An iterable that starts again at every ``iter()``; its ``len()``, if it has one, is the
    number of batches."""

    def __init__(self, x: Any, kind: str) -> None:
        self.kind = kind
        self._x = x
        try:
            self.num_batches = int(len(x))
        except TypeError:  # no __len__, or a torch DataLoader over a dataset without one
            self.num_batches = None

    def batches(self) -> Iterator:
        return enumerate(iter(self._x))


class _TorchDataLoaderAdapter(_IterableAdapter):
    """A ``torch.utils.data.DataLoader``: its batches (lists of tensors from the default collate)
    become NumPy arrays; a sampler with ``set_epoch`` (``DistributedSampler``) hears each epoch."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader, "torch DataLoader")
        self._epoch = 0

    def on_epoch_begin(self) -> None:
        sampler = getattr(self._x, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self._epoch)

    def on_epoch_end(self) -> None:
        self._epoch += 1


class _PyDatasetAdapter(_Adapter):
    kind = "PyDataset"

    def __init__(self, ds: PyDataset, shuffle: bool) -> None:
        self._ds = ds
        self._shuffle = shuffle
        self.num_batches = ds.num_batches
        self.endless = self.num_batches is None

    def batches(self) -> Iterator:
        ds = self._ds
        n = ds.num_batches
        if n is None:
            return ((i, ds[i]) for i in itertools.count())
        # as Keras with shuffle=True: the batches in a new order every pass (from the epoch's generator)
        order = _random.generator().permutation(n).tolist() if self._shuffle else range(n)
        return ((i, ds[i]) for i in order)

    def on_epoch_begin(self) -> None:
        self._ds.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self._ds.on_epoch_end()


class _DatasetAdapter(_Adapter):
    """A ``Dataset`` pipeline: its elements after ``batch``, else ``batch_size`` elements stacked."""

    kind = "Dataset"

    def __init__(self, ds: Dataset, batch_size: int | None) -> None:
        self._ds = ds if ds._batched else ds.batch(batch_size or 32)
        n = self._ds.cardinality()
        self.num_batches = n if n >= 0 else None
        self.endless = n == INFINITE_CARDINALITY

    def batches(self) -> Iterator:
        return enumerate(iter(self._ds))


# -- one batch ---------------------------------------------------------------------------------
def _is_leaf_array(v: Any) -> bool:
    return isinstance(v, (np.ndarray, Tensor)) or (not isinstance(v, (list, tuple, dict)) and _is_array_like(v)
                                                   and not np.isscalar(v))


def _leaf(v: Any, where: str, name: str) -> np.ndarray:
    if isinstance(v, Tensor):
        arr = to_numpy(v.data)
    elif isinstance(v, np.ndarray):
        arr = v
    else:
        if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch tensor, duck-typed
            v = v.detach().cpu()
        try:
            arr = np.asarray(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {name} could not be read as one array (ragged: its rows have different "
                             f"lengths?): {exc}") from None
        if arr.dtype == np.float64 and isinstance(v, (list, tuple, float)):
            arr = arr.astype(np.float32)  # Python floats, as fit reads lists
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} has dtype {arr.dtype}; expected numbers (bool, integer or floating point)"
                        + (" - its rows have different shapes" if arr.dtype == object else ""))
    if arr.ndim == 0:
        raise ValueError(f"{where}: {name} is a single number; expected a batch, an array whose first axis runs "
                         f"over the samples")
    return arr


def _convert(v: Any, where: str, name: str):
    """NumPy leaves in the same structure (dicts, tuples, lists of arrays kept)."""
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: _convert(u, where, f"{name}[{k!r}]") for k, u in v.items()}
    if isinstance(v, tuple) or (isinstance(v, list) and v and all(_is_leaf_array(u) for u in v)):
        return type(v)(_convert(u, where, f"{name}[{i}]") for i, u in enumerate(v))
    return _leaf(v, where, name)


def _sizes(v: Any, name: str, out: list) -> None:
    if v is None:
        return
    if isinstance(v, dict):
        for k, u in v.items():
            _sizes(u, f"{name}[{k!r}]", out)
    elif isinstance(v, (tuple, list)):
        for i, u in enumerate(v):
            _sizes(u, f"{name}[{i}]", out)
    else:
        out.append((name, v.shape[0]))


class EpochIterator:
    """The batches of one source, pass after pass: iterating gives one epoch of
    ``(x, y, sample_weight)`` NumPy batches, Keras's ``EpochIterator`` step for step.

    Without ``steps``, an epoch runs until the source ends (its first pass tells how many
    batches it has when its length is unknown). With ``steps``, an epoch takes that many
    batches and the next one carries on from there; when the source ends first, the epoch
    ends with a warning and the next one starts the source again. A generator cannot start
    again: as in Keras 3, a later pass gets only the two batches read ahead when it was adapted.

    Args:
        adapter: the source (an adapter of this module).
        steps: batches per epoch, or None.
        who: the caller, named in errors and warnings (``"fit"``, ``"evaluate"``, ...).
        weigh: ``weigh(y, None)`` gives a batch's sample weights from its targets (``class_weight``).

    Example:
        >>> import numpy as np
        >>> from tapegrad.data.adapters import epoch_iterator
        >>> it = epoch_iterator((np.full((1, 1), i) for i in range(5)), steps=2, who="predict")
        >>> [[int(x[0, 0]) for x, _, _ in it] for epoch in range(2)]
        [[0, 1], [2, 3]]
    """

    def __init__(self, adapter: _Adapter, steps: int | None, who: str, weigh: Callable | None = None) -> None:
        self.adapter = adapter
        self.steps_per_epoch = steps
        self.who = who
        self.weigh = weigh
        self._num_batches = adapter.num_batches
        self._current: Iterator | None = None
        self._seen = 0

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch: ``steps``, else the source's length, None while it is unknown."""
        return self.steps_per_epoch or self._num_batches

    def reset(self) -> None:
        """Start the source again at the next epoch (``evaluate`` does, for the same batches each time)."""
        self._current = None
        self._seen = 0

    def __iter__(self) -> Iterator[tuple]:
        return self._epoch()

    def _epoch(self) -> Iterator[tuple]:
        adapter = self.adapter
        adapter.on_epoch_begin()
        try:
            if self.steps_per_epoch:
                done = 0
                for _ in range(self.steps_per_epoch):
                    if self._num_batches is not None and self._seen >= self._num_batches:
                        _ran_out(self.who, adapter.kind, done)
                        break
                    if self._current is None:
                        self._current, self._seen = adapter.batches(), 0
                    item = next(self._current, None)
                    if item is None:
                        if self._num_batches is None:
                            self._num_batches = self._seen
                        self._current = None
                        _ran_out(self.who, adapter.kind, done)
                        break
                    self._seen += 1
                    done += 1
                    yield self._standardize(*item)
                if self._num_batches is not None and self._seen >= self._num_batches:
                    self._current = None  # the next epoch starts the source again
            else:
                done = 0
                for item in adapter.batches():
                    if self._num_batches is not None and done >= self._num_batches:
                        break
                    done += 1
                    yield self._standardize(*item)
                if self._num_batches is None:
                    self._num_batches = done  # the first pass tells the length
                elif done < self._num_batches:
                    _ran_out(self.who, adapter.kind, done)
        finally:
            adapter.on_epoch_end()

    def _standardize(self, index: int, raw: Any) -> tuple:
        where = f"{self.who}: batch {index} of the {self.adapter.kind}"
        if isinstance(raw, list):
            raw = tuple(raw)  # a torch DataLoader's default collate gives lists
        if isinstance(raw, tuple):
            if not 1 <= len(raw) <= 3:
                raise ValueError(f"{where} is a tuple of {len(raw)} elements; expected (x,), (x, y) or "
                                 f"(x, y, sample_weight)")
            x, y, sw = (raw + (None, None))[:3]
        else:
            x, y, sw = raw, None, None
        if x is None:
            raise ValueError(f"{where} has no x (received None); expected (x,), (x, y) or (x, y, sample_weight)")
        x, y, sw = _convert(x, where, "x"), _convert(y, where, "y"), _convert(sw, where, "sample_weight")
        sizes: list = []
        for part, name in ((x, "x"), (y, "y"), (sw, "sample_weight")):
            _sizes(part, name, sizes)
        for name, n in sizes[1:]:
            if n != sizes[0][1]:
                raise ValueError(f"{where}: {sizes[0][0]} has {sizes[0][1]} samples but {name} has {n}; every part "
                                 f"of a batch must have the same number of samples")
        if sizes[0][1] == 0:
            raise ValueError(f"{where} is empty ({sizes[0][0]} has 0 samples)")
        if self.weigh is not None:
            if y is None:
                raise ValueError(f"{where} has no y, so class_weight cannot weigh it; yield (x, y) batches")
            if sw is not None:
                raise ValueError(f"{where} has sample weights, and class_weight was passed too; pass one of them")
            sw = self.weigh(y, None)
        return x, y, sw


def epoch_iterator(x: Any, y: Any = None, sample_weight: Any = None, *, batch_size: int | None = None,
                   steps: int | None = None, shuffle: bool = False, class_weight: Callable | None = None,
                   who: str = "fit", steps_name: str = "steps_per_epoch") -> EpochIterator:
    """An ``EpochIterator`` over any source that ``is_batch_source`` accepts (an
    ``EpochIterator`` is reset and returned as it is).

    Args:
        x: the source; its batches hold the targets and weights, so ``y`` and
            ``sample_weight`` must be None (as Keras).
        batch_size: elements per batch of a ``Dataset`` pipeline not yet batched (default 32);
            the other kinds make their own batches.
        steps: batches per epoch (``steps_per_epoch``; ``steps`` in evaluate and predict), or None
            to read to the end; required for a source known to have no end.
        shuffle: a ``PyDataset``'s batches in a new order every epoch (as Keras); the other kinds
            give their batches in their own order.
        class_weight: ``weigh(y, None)`` giving sample weights from targets; a ``PyDataset`` and a
            ``Dataset`` take it, as in Keras.
        who: the caller, named in errors.
        steps_name: the name of ``steps`` in the caller, for errors.

    Example:
        >>> import numpy as np
        >>> it = epoch_iterator(iter([(np.ones((4, 2)), np.ones(4))]), who="evaluate")
        >>> [(x.shape, y.shape) for x, y, sw in it]
        [((4, 2), (4,))]
    """
    if isinstance(x, EpochIterator):
        x.reset()
        return x
    if isinstance(x, PyDataset):
        kind = "PyDataset"
    elif isinstance(x, Dataset):
        kind = "Dataset"
    elif is_torch_dataloader(x):
        kind = "torch DataLoader"
    elif isinstance(x, types.GeneratorType):
        kind = "generator"
    elif iter(x) is x:
        kind = "iterator"
    else:
        kind = f"iterable ({type(x).__name__})"
    for name, value, what in (("y", y, "the targets"), ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(f"{who}: when x is a {kind}, {name} must not be passed; {what} come in its batches: "
                             f"(x, y) or (x, y, sample_weight)")
    if class_weight is not None and kind not in ("PyDataset", "Dataset"):
        raise ValueError(f"{who}: class_weight is not supported when x is a {kind} (as Keras); yield "
                         f"(x, y, sample_weight) batches instead")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0):
        raise ValueError(f"{who}: {steps_name} must be a positive integer or None, received {steps!r}")
    if kind == "PyDataset":
        adapter: _Adapter = _PyDatasetAdapter(x, shuffle)
    elif kind == "Dataset":
        adapter = _DatasetAdapter(x, batch_size)
    elif kind == "torch DataLoader":
        adapter = _TorchDataLoaderAdapter(x)
    elif kind in ("generator", "iterator"):
        adapter = _GeneratorAdapter(x, kind, who)
    else:
        adapter = _IterableAdapter(x, kind)
    if adapter.endless and steps is None:
        raise ValueError(f"{who}: x is a {kind} without end; pass {steps_name}, the number of batches to read")
    return EpochIterator(adapter, None if steps is None else int(steps), who, class_weight)
