"""``MPIStrategy``: synchronous data-parallel training over MPI (mpi4py), as Horovod does it.

What a strategy does to ``fit`` (the hooks in ``models/training.py`` call the methods in the
second half of this class):

* At the start, the ranks compare what they were given (the model's weights by name,
  shape and dtype, the number of samples, steps, epochs, batch size, optimizer, the seed)
  and every rank raises the same error naming the first difference; then rank 0's weights
  and optimizer state are broadcast, so every rank starts from the same point.
* Every rank draws the same shuffled order (same seed), cuts the same global batches of
  ``batch_size`` samples, and reads only its contiguous shard of each (``sharding``).
* Each step's gradients, each scaled by the rank's share of the global batch
  (``n_rank / n_batch`` for a loss that is a mean over the batch, Keras's default), are
  summed across ranks with one ``Allreduce`` on one contiguous buffer, so every rank
  applies the update of the whole global batch. A rank with an empty shard (a last batch
  with fewer samples than ranks) contributes zeros and applies the same update.
* The metrics' states (sums and counts) are summed across ranks before the logs go to the
  callbacks, and so are validation's; a stop set by any callback stops every rank. Logs,
  progress bars, checkpoints and CSV files come from rank 0 only: on the other ranks
  ``ProgbarLogger``, ``ModelCheckpoint`` and ``CSVLogger`` are left out and the other
  callbacks run with their printing silenced, so their decisions are taken everywhere.
* At each epoch's end the ranks compare checksums of their weights: trainable weights
  that differ are an error (a custom ``train_step`` that does not reduce its gradients),
  non-trainable ones that differ (BatchNormalization's moving statistics, computed from
  each rank's shard) are averaged.

Failure: with ``abort_on_error`` (the default) an exception that reaches the top of any
rank's script prints its traceback with the rank and calls ``MPI_Abort``, which ends every
rank of the job at once, instead of leaving the others waiting in a collective for ever
(as ``python -m mpi4py script.py`` does). The errors of the checks that every rank makes
together (different models, sample counts or weights after an epoch) are raised by every
rank alike, so each rank exits with its own, with no abort that could cut off the output. A rank killed by a signal ends the job through
the launcher (``mpirun`` reports it).

Where we differ from Keras: Keras's ``MirroredStrategy`` replicates over devices of one
process and ``MultiWorkerMirroredStrategy`` over processes with TensorFlow's own
collectives; here each rank is a process and MPI does the collectives. Dropout masks
are drawn per rank from the epoch's generator, so a model with Dropout does not follow the
single-process run sample for sample (it trains as well); BatchNormalization uses each
rank's shard statistics (as Keras without ``synchronized=True``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import traceback
import zlib

import numpy as np

from .. import random as _random
from ..autodiff.tensor import Tensor
from ..callbacks import Callback, CSVLogger, ModelCheckpoint, ProgbarLogger
from ..data.dataset import DataLoader, Dataset, num_samples, take
from .scope import _Scope
from .sharding import shard_bounds

CHIEF_ONLY = (ProgbarLogger, ModelCheckpoint, CSVLogger)
"""Callbacks that write (files, the terminal) and run on rank 0 only."""


def mpi_available() -> bool:
    """Whether ``mpi4py`` can be imported (``pip install "tapegrad[mpi]"``).

    Example:
        >>> import tapegrad as tg
        >>> isinstance(tg.distribute.mpi_available(), bool)
        True
    """
    return importlib.util.find_spec("mpi4py") is not None


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("MPIStrategy needs mpi4py and an MPI library: pip install \"tapegrad[mpi]\" "
                          f"(mpi4py and the MPICH wheel), or mpi4py built against your cluster's MPI ({e})") from e
    return MPI


class MPIStrategy:
    """Data-parallel training on the processes of an MPI job, one model copy per process.

    Run the same script on every process (``mpirun -n 4 python train.py``); ``fit`` of a
    model compiled under this strategy (``with strategy.scope():`` or
    ``compile(..., distribute=strategy)``) splits each global batch of ``batch_size``
    samples across the ranks and sums their gradients, so the weights follow what one
    process would compute on the same global batches (see the module's docstring).

    Args:
        comm: the mpi4py communicator to use; ``MPI.COMM_WORLD`` by default.
        abort_on_error: when the job has more than one rank, install a ``sys.excepthook``
            that prints an uncaught exception with this rank's number and calls
            ``MPI_Abort``, so that one rank's error stops every rank instead of leaving
            them waiting.

    Attributes:
        rank: this process's number, ``0 .. size - 1``.
        size: the number of processes (``num_replicas_in_sync`` as Keras names it).
        is_chief: whether this is rank 0, the one that writes logs and checkpoints.

    Example (one process is a job of size 1):
        >>> import numpy as np, tapegrad as tg
        >>> strategy = tg.distribute.MPIStrategy()
        >>> strategy.rank, strategy.size, strategy.is_chief
        (0, 1, True)
        >>> g = strategy.allreduce_gradients([np.ones(2, np.float32)])
        >>> g[0].tolist()
        [1.0, 1.0]
    """

    def __init__(self, comm=None, abort_on_error: bool = True) -> None:
        MPI = _import_mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        if not isinstance(self.comm, MPI.Comm):
            raise TypeError(f"MPIStrategy: comm must be an mpi4py communicator, received {type(comm).__name__}")
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self._shard: tuple[int, int] | None = None  # (this rank's samples, the global batch's) in fit
        self._weighting = "mean"
        if abort_on_error and self.size > 1:
            _install_abort_hook(self.comm, self.rank, self.size)

    @property
    def is_chief(self) -> bool:
        """Whether this is rank 0: the rank that prints, logs and writes checkpoints."""
        return self.rank == 0

    @property
    def num_replicas_in_sync(self) -> int:
        """Keras's name for the number of ranks taking part in each step."""
        return self.size

    def __repr__(self) -> str:
        return f"MPIStrategy(rank={self.rank}, size={self.size})"

    def scope(self) -> "contextlib.AbstractContextManager[MPIStrategy]":
        """A context manager: models compiled inside it train under this strategy.

        Example:
            >>> import tapegrad as tg
            >>> strategy = tg.distribute.MPIStrategy()
            >>> with strategy.scope():
            ...     tg.distribute.get_strategy() is strategy
            True
        """
        return _Scope(self)

    # -- collectives for custom loops -------------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank reaches this call.

        Example:
            >>> import tapegrad as tg
            >>> tg.distribute.MPIStrategy().barrier()
        """
        self.comm.Barrier()

    def broadcast_variables(self, variables, root: int = 0) -> None:
        """Overwrite each variable (a ``Variable``/``Tensor``) on every rank with ``root``'s
        value, in place, one ``Bcast`` per dtype; call it once after building a model for a
        ``GradientTape`` loop so that every rank starts from the same weights.

        Args:
            variables: the variables, in the same order on every rank (``model.weights``).
            root: the rank whose values are kept.

        Example:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
            >>> tg.distribute.MPIStrategy().broadcast_variables(model.weights)
        """
        variables = list(variables)
        for v in variables:
            if not isinstance(v, Tensor):
                raise TypeError(f"broadcast_variables: expected variables (Tensors), received {type(v).__name__}")
        self._bcast_arrays([v.data for v in variables], root)

    def allreduce_gradients(self, grads, num_samples: int | None = None, variables=None) -> list:
        """The gradients averaged over the ranks, for ``GradientTape`` loops: one ``Allreduce``
        on one contiguous buffer (per dtype). Every rank gets the same arrays.

        Args:
            grads: this rank's gradients (Tensors, arrays or None), in the same order on every rank.
            num_samples: this rank's number of samples in the step. Given, each rank's
                gradient is weighted by its share of the step's samples (what one process
                computes on all of them when the loss is a mean over the batch); None, the
                plain mean over ranks (right when every rank has a batch of the same size).
            variables: the variables the gradients belong to. Given, a None gradient counts
                as zeros of its variable's shape, so ranks may differ in which gradients are
                None (the result is None only where it was None on every rank); without it,
                the None entries must be the same on every rank.

        Returns:
            A list like ``grads``: Tensors for Tensors, arrays for arrays, None for None.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> strategy = tg.distribute.MPIStrategy()
            >>> strategy.allreduce_gradients([np.array([2.0, 4.0], np.float32), None], num_samples=8)[0].tolist()
            [2.0, 4.0]
        """
        grads = list(grads)
        if variables is not None:
            variables = list(variables)
            if len(variables) != len(grads):
                raise ValueError(f"allreduce_gradients: received {len(grads)} gradients but {len(variables)} variables")
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples < 0):
            raise ValueError(f"allreduce_gradients: num_samples must be a non-negative integer, "
                             f"received {num_samples!r}")
        if num_samples is None:
            return self._reduce(grads, variables, scale=None, count=None, divide=self.size)
        return self._reduce(grads, variables, scale=float(num_samples), count=int(num_samples), divide=None)

    def allreduce(self, value, op: str = "sum"):
        """``value`` (a number or an array, the same shape on every rank) combined over the
        ranks with ``op``: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``; an array (float64
        for Python numbers) on every rank.

        Example:
            >>> import tapegrad as tg
            >>> float(tg.distribute.MPIStrategy().allreduce(3.0, op="mean"))
            3.0
        """
        ops = {"sum": self._MPI.SUM, "mean": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}
        if op not in ops:
            raise ValueError(f"allreduce: op must be one of {sorted(ops)}, received {op!r}")
        arr = np.array(value.data if isinstance(value, Tensor) else value, order="C")  # a writeable copy
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"allreduce: expected numbers, received {type(value).__name__} of dtype {arr.dtype}")
        self.comm.Allreduce(self._MPI.IN_PLACE, arr, op=ops[op])
        return arr / self.size if op == "mean" else arr

    # -- the collectives' mechanics ---------------------------------------------------------------
    def _reduce(self, grads, variables, scale, count, divide):
        """Sum over ranks of ``grads`` (each multiplied by ``scale`` first when given), then
        divided by ``divide``, or, with ``count``, by the sum of the ranks' counts."""
        arrays = []
        for i, g in enumerate(grads):
            a = g.data if isinstance(g, Tensor) else (None if g is None else np.asarray(g))
            if a is None and variables is not None:
                a = np.zeros(variables[i].shape, variables[i].data.dtype)
                arrays.append((a, 0.0))
            else:
                arrays.append((a, 0.0 if a is None else 1.0))
        present = [i for i, (a, _) in enumerate(arrays) if a is not None]
        groups: dict = {}
        for i in present:
            groups.setdefault(arrays[i][0].dtype, []).append(i)
        # Flags (1 where this rank has a gradient) and the count ride in the buffer of the
        # first dtype, or in a float64 one when there are no gradients at all.
        extras = [flag for _, flag in arrays] + ([float(count)] if count is not None else [])
        dtypes = sorted(groups, key=str) or [np.dtype(np.float64)]
        out: list = [None] * len(grads)
        counts = None
        reduced = []
        for k, dt in enumerate(dtypes):
            idx = groups.get(dt, [])
            sizes = [arrays[i][0].size for i in idx]
            n = sum(sizes) + (len(extras) if k == 0 else 0)
            buf = np.empty(n, dt)
            off = 0
            for i, s in zip(idx, sizes):
                a = arrays[i][0]
                if scale is None:
                    buf[off:off + s] = a.reshape(-1)
                else:
                    np.multiply(a.reshape(-1), dt.type(scale), out=buf[off:off + s])
                off += s
            if k == 0:
                buf[off:] = extras
            if self.size > 1:
                self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
            if k == 0:
                counts = buf[off:].astype(np.float64)
            reduced.append((idx, sizes, buf))
        total = divide if count is None else counts[-1]
        for idx, sizes, buf in reduced:
            off = 0
            if total and total != 1:
                body = buf[:sum(sizes)]
                body /= body.dtype.type(total)
            for i, s in zip(idx, sizes):
                out[i] = buf[off:off + s].reshape(arrays[i][0].shape)
                off += s
        flags = counts[:len(grads)]
        for i, g in enumerate(grads):
            if out[i] is not None and flags[i] == 0 and variables is not None:
                out[i] = None  # no rank had a gradient for this variable
            elif out[i] is not None and isinstance(g, Tensor):
                out[i] = Tensor._wrap(out[i])
        return out

    def _bcast_arrays(self, arrays, root: int = 0) -> None:
        """Overwrite ``arrays`` (writeable, the same shapes and dtypes on every rank) with
        ``root``'s values: one ``Bcast`` per dtype."""
        if self.size == 1 or not arrays:
            return
        groups: dict = {}
        for a in arrays:
            groups.setdefault(a.dtype, []).append(a)
        for dt in sorted(groups, key=str):
            items = groups[dt]
            buf = np.concatenate([a.reshape(-1) for a in items]) if self.rank == root else \
                np.empty(sum(a.size for a in items), dt)
            self.comm.Bcast(buf, root=root)
            off = 0
            for a in items:
                a[...] = buf[off:off + a.size].reshape(a.shape)
                off += a.size

    def _allgather_json(self, obj) -> list:
        """Every rank's ``obj`` (JSON-serializable), in rank order, sent as JSON text."""
        data = np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8)
        sizes = np.zeros(self.size, np.int64)
        self.comm.Allgather(np.array([data.size], np.int64), sizes)
        out = np.empty(int(sizes.sum()), np.uint8)
        self.comm.Allgatherv(data, [out, sizes.tolist()])
        ends = np.cumsum(sizes)
        return [json.loads(out[e - s:e].tobytes().decode()) for s, e in zip(sizes, ends)]

    def _agree(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any."""
        if self.size == 1:
            return bool(flag)
        buf = np.array([1 if flag else 0], np.int32)
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.MAX)
        return bool(buf[0])

    # -- what fit and evaluate call ---------------------------------------------------------------
    def begin_fit(self, model, loader, steps: int, epochs: int, initial_epoch: int = 0):
        """Called by ``fit`` before the first epoch: checks that the ranks agree, agrees on a
        seed, broadcasts rank 0's weights and optimizer state, and returns the loader that
        yields this rank's shard of each global batch."""
        self._shard = None
        self._weighting = _loss_weighting(model.loss)
        if not getattr(model, "built", False):
            x = getattr(getattr(loader, "dataset", None), "x", None)
            if isinstance(x, np.ndarray):
                model.build((None,) + x.shape[1:])
            else:
                raise ValueError("MPIStrategy: build the model before fit (give it an Input) so that rank 0's "
                                 "weights can be broadcast before the first step")
        seed = _random._state["seed"]  # fit's epoch generators derive from it: it must agree
        opt = model.optimizer
        opt_state = opt.get_state(model.trainable_weights) if opt.iterations else {}
        mine = {
            "weights": [[name, list(w.shape), str(w.data.dtype)] for name, w in zip(_weight_names(model), model.weights)],
            "trainable weights": len(model.trainable_weights),
            "samples": len(loader.dataset) if isinstance(loader, DataLoader) else None,
            "steps per epoch": None if steps is None else int(steps), "epochs": int(epochs),
            "initial_epoch": int(initial_epoch),
            "batch_size": getattr(loader, "batch_size", None),
            "optimizer": type(opt).__name__, "loss": self._weighting,
            "seed": seed,
            "optimizer state": sorted([k, list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in opt_state.items()),
        }
        everyone = self._allgather_json(mine)
        if mine["samples"] is not None and mine["samples"] < self.size:
            # (every rank sees the same gathered values, so every rank raises alike)
            if all(e["samples"] == mine["samples"] for e in everyone):
                raise _on_every_rank(ValueError(f"MPIStrategy: fit received {mine['samples']} samples for "
                                                f"{self.size} ranks; each rank needs at least one"))
        if all(e["seed"] is None for e in everyone):
            # No rank set a seed: rank 0 draws one so that every rank shuffles alike.
            drawn = np.array([_random.generator().integers(2**31) if self.is_chief else 0], np.int64)
            if self.size > 1:
                self.comm.Bcast(drawn, root=0)
            _random.set_seed(int(drawn[0]))
            for e in everyone:
                e["seed"] = int(drawn[0])
        first = everyone[0]
        for key in first:
            if key == "optimizer state":
                continue  # rank 0's state is broadcast below, whatever the others hold
            for r, other in enumerate(everyone[1:], start=1):
                if other[key] != first[key]:
                    raise _on_every_rank(ValueError(_mismatch(key, first[key], other[key], r, self.size)))
        self._bcast_arrays([w.data for w in model.weights])
        if first["optimizer state"]:
            state = {}
            for key, shape, dtype in first["optimizer state"]:
                state[key] = np.array(opt_state[key]) if self.is_chief else np.empty(shape, dtype)
            self._bcast_arrays(list(state.values()))
            if not self.is_chief:
                opt.set_state(state, model.trainable_weights)
        return _ShardedLoader(self, loader)

    def fit_callbacks(self, callbacks: list, verbose: int) -> tuple[list, int]:
        """Called by ``fit``: on ranks other than 0, the callbacks without the chief-only ones
        (``CHIEF_ONLY``), the others silenced, and ``verbose`` 0; rank 0's unchanged."""
        if self.is_chief:
            return callbacks, verbose
        return [_Quiet(c) for c in callbacks if not isinstance(c, CHIEF_ONLY)], 0

    @property
    def idle(self) -> bool:
        """Whether this rank's shard of the current global batch is empty."""
        return self._shard is not None and self._shard[0] == 0

    def idle_step(self, model) -> dict:
        """The step of a rank whose shard is empty: it contributes zero gradients to the
        all-reduce and applies the same update as the other ranks."""
        weights = model.trainable_weights
        grads = self.step_gradients([None] * len(weights), weights)
        model.optimizer.apply_gradients(zip(grads, weights))
        return model.get_metrics_result()

    def step_gradients(self, grads, variables) -> list:
        """Called between the backward pass and the update of each step of ``fit`` (the
        eager ``train_step`` and the replayed step alike): the global batch's gradients.
        Outside ``fit`` (``train_on_batch``) every rank's batch counts alike."""
        if self._shard is None:
            return self._reduce(list(grads), list(variables), None, None, self.size)
        local, total = self._shard
        if self._weighting == "sum":
            return self._reduce(list(grads), list(variables), None, None, 1)
        return self._reduce(list(grads), list(variables), local / total if total else 0.0, None, 1)

    def reduce_logs(self, model, logs: dict) -> dict:
        """``logs`` with every metric of ``model`` computed from the states (sums and counts)
        of all ranks: the value one process would report. Keys that are not metrics stay
        this rank's own."""
        metrics = list(model.metrics)
        parts = []
        for m in metrics:
            for name in _state_names(m):
                parts.append((m, name, getattr(m, name)))
        if not parts:
            return logs
        vec = np.concatenate([np.asarray(v, np.float64).reshape(-1) for _, _, v in parts])
        if self.size > 1:
            self.comm.Allreduce(self._MPI.IN_PLACE, vec, op=self._MPI.SUM)
        off = 0
        for m, name, v in parts:  # the sums in place of this rank's state, for result()
            n = np.size(v)
            setattr(m, name, vec[off:off + n].reshape(np.shape(v)) if isinstance(v, np.ndarray) else float(vec[off]))
            off += n
        try:
            out = dict(logs)
            out.update({m.name: float(np.asarray(m.result().data)) for m in metrics})
        finally:
            for m, name, v in parts:
                setattr(m, name, v)
        return out

    def agree_to_stop(self, stop: bool) -> bool:
        """Called by ``fit`` after the callbacks: stop everywhere when any rank stops."""
        return self._agree(stop)

    def end_epoch(self, model) -> None:
        """Called by ``fit`` after an epoch's last step: compares checksums of the weights;
        averages non-trainable weights that differ, and raises when trainable ones do."""
        self._shard = None
        if self.size == 1:
            return
        weights = model.weights
        sums = np.array([zlib.crc32(np.ascontiguousarray(w.data).view(np.uint8)) for w in weights], np.int64)
        every = np.empty((self.size, len(weights)), np.int64)
        self.comm.Allgather(sums, every)
        differ = [i for i in range(len(weights)) if np.any(every[:, i] != every[0, i])]
        trainable = {id(w) for w in model.trainable_weights}
        names = _weight_names(model)
        bad = [names[i] for i in differ if id(weights[i]) in trainable]
        if bad:
            raise _on_every_rank(RuntimeError(
                f"MPIStrategy: after this epoch the trainable weights {bad} differ between ranks; a custom "
                f"train_step must pass its gradients through strategy.allreduce_gradients before applying them"))
        moving = [weights[i] for i in differ]
        if moving:
            avg = self._reduce([w.data for w in moving], None, None, None, self.size)
            for w, a in zip(moving, avg):
                w.data[...] = a

    def shard_for_evaluation(self, loader):
        """Called by ``evaluate``: ``(loader, steps, sharded)``, this rank's contiguous part
        of the data when it is a ``DataLoader`` with at least one sample per rank (then
        ``reduce_logs`` combines the results); otherwise every rank evaluates all of it."""
        if self.size == 1 or not isinstance(loader, DataLoader) or len(loader.dataset) < self.size:
            return loader, (len(loader) if hasattr(loader, "__len__") else None), False
        lo, hi = shard_bounds(len(loader.dataset), self.rank, self.size)
        ds = loader.dataset
        part = Dataset.__new__(Dataset)
        part.x, part.y, part.sample_weight = (take(p, slice(lo, hi)) for p in (ds.x, ds.y, ds.sample_weight))
        part.n = hi - lo
        local = DataLoader(part, batch_size=loader.batch_size, shuffle=False, drop_last=loader.drop_last)
        return local, len(local), True


class _ShardedLoader:
    """The global batches of a loader, each cut to this rank's shard; records the shard's
    size on the strategy for the step's gradient weighting. A ``DataLoader`` is read by
    index (this rank reads only its rows); any other iterable of batches is sliced."""

    def __init__(self, strategy: MPIStrategy, loader) -> None:
        self.strategy, self.loader = strategy, loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        s = self.strategy
        if isinstance(self.loader, DataLoader):
            ds = self.loader.dataset
            for idx in self.loader.batch_indices():
                n = idx.stop - idx.start if isinstance(idx, slice) else len(idx)
                lo, hi = shard_bounds(n, s.rank, s.size)
                s._shard = (hi - lo, n)
                mine = slice(idx.start + lo, idx.start + hi) if isinstance(idx, slice) else idx[lo:hi]
                yield ds[mine]
        else:
            for batch in self.loader:
                parts = batch if isinstance(batch, tuple) else (batch,)
                n = num_samples(parts[0])
                lo, hi = shard_bounds(n, s.rank, s.size)
                s._shard = (hi - lo, n)
                cut = tuple(take(p, slice(lo, hi)) for p in parts)
                yield cut if isinstance(batch, tuple) else cut[0]
        s._shard = None


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


class _Quiet(Callback):
    """A callback run with its printing to stdout discarded (on ranks other than 0)."""

    def __init__(self, inner: Callback) -> None:
        super().__init__()
        self.inner = inner

    def set_model(self, model) -> None:
        self.model = model
        self.inner.set_model(model)

    def set_params(self, params: dict) -> None:
        self.params = params
        self.inner.set_params(params)


def _quiet_hook(name):
    def hook(self, *args):
        with contextlib.redirect_stdout(io.StringIO()):
            return getattr(self.inner, name)(*args)

    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(_Quiet, _name, _quiet_hook(_name))

_STATE_CACHE: dict = {}


class _Probe:
    """Stands in for a metric while its class's ``reset_state`` runs, to learn which
    attributes hold its state: reads fall through to the metric, writes are recorded."""

    def __init__(self, metric) -> None:
        object.__setattr__(self, "_metric", metric)
        object.__setattr__(self, "_written", [])

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_metric"), name)

    def __setattr__(self, name, value) -> None:
        object.__getattribute__(self, "_written").append(name)


def _state_names(metric) -> tuple:
    """The names of a metric's state: the numeric attributes its ``reset_state`` sets (sums
    and counts, which add across ranks)."""
    cls = type(metric)
    names = _STATE_CACHE.get(cls)
    if names is None:
        probe = _Probe(metric)
        try:
            cls.reset_state(probe)
        except TypeError as e:
            raise TypeError(f"MPIStrategy: cannot find the state of metric {metric.name!r} ({cls.__name__}) to "
                            f"sum it across ranks; its reset_state must assign its sums and counts ({e})") from e
        names = tuple(dict.fromkeys(n for n in object.__getattribute__(probe, "_written")
                                    if isinstance(getattr(metric, n, None), (int, float, np.ndarray))
                                    and not isinstance(getattr(metric, n, None), bool)))
        _STATE_CACHE[cls] = names
    return names


def _weight_names(model) -> list[str]:
    """``layer/weight`` for each of ``model.weights`` (a weight's own name is often just "kernel")."""
    owner = {}
    for layer in getattr(model, "_iter_layers", lambda: [])():
        for w in getattr(layer, "_own_weights", ()):
            owner.setdefault(id(w), f"{layer.name}/{w.name}")
    return [owner.get(id(w), w.name) for w in model.weights]


def _loss_weighting(loss) -> str:
    """"mean" when the loss is a mean over the batch (Keras's default reduction), "sum" when
    it is a sum; the step weights each rank's gradient accordingly."""
    losses = list(loss.values()) if isinstance(loss, dict) else list(loss) if isinstance(loss, (list, tuple)) \
        else [loss]
    kinds = {"sum" if getattr(fn, "reduction", None) == "sum" else "mean" for fn in losses}
    if getattr(losses[0] if losses else None, "reduction", None) == "none" or len(kinds) > 1:
        raise ValueError("MPIStrategy: the losses must all reduce by 'sum_over_batch_size' or all by 'sum' to "
                         f"combine gradients across ranks; received reductions "
                         f"{[getattr(fn, 'reduction', 'sum_over_batch_size') for fn in losses]}")
    return kinds.pop() if kinds else "mean"


def _mismatch(key, first, other, rank, size) -> str:
    if key == "weights":
        for i in range(max(len(first), len(other))):
            a = first[i] if i < len(first) else None
            b = other[i] if i < len(other) else None
            if a != b:
                def show(w):
                    return "nothing" if w is None else f"{w[0]} of shape {tuple(w[1])} ({w[2]})"
                return (f"MPIStrategy: the ranks were given different models: weight {i} is {show(a)} on rank 0 "
                        f"but {show(b)} on rank {rank} (of {size})")
    return f"MPIStrategy: the ranks disagree on {key}: rank 0 has {first!r}, rank {rank} (of {size}) has {other!r}"


def _on_every_rank(error: Exception) -> Exception:
    """``error``, marked as raised by a collective check: every rank makes that check on the
    same gathered values and raises alike, so the abort hook lets each rank exit with it."""
    error.raised_on_every_rank = True  # type: ignore[attr-defined]
    return error


def _install_abort_hook(comm, rank: int, size: int) -> None:
    """Make an uncaught exception on this rank end the whole job (``MPI_Abort``)."""
    previous = sys.excepthook
    if getattr(previous, "_tapegrad_abort", False):
        return

    def hook(kind, value, tb):
        text = "".join(traceback.format_exception(kind, value, tb))
        if getattr(value, "raised_on_every_rank", False):
            # every rank raised it at the same point of a collective check: each exits with its
            # error as a program does, and no abort cuts off the launcher's output
            sys.stderr.write(f"tapegrad.distribute: rank {rank} of {size} raised {value.__class__.__name__}: "
                             f"{value}\n{text}")
            sys.stderr.flush()
            return
        sys.stderr.write(f"tapegrad.distribute: rank {rank} of {size} raised {kind.__name__}: {value}\n"
                         f"{text}tapegrad.distribute: aborting all {size} ranks (MPI_Abort)\n")
        sys.stderr.flush()
        comm.Abort(1)

    hook._tapegrad_abort = True
    sys.excepthook = hook


__all__ = ["MPIStrategy", "mpi_available", "CHIEF_ONLY"]
