"""compile / fit / evaluate / predict: the training machinery ``Model`` inherits.

The train step is written with the public ``GradientTape`` and optimizer API, so it
reads like the lab's custom loop and can be overridden (``train_step(data)``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import callbacks as _cb
from .. import losses as _losses
from .. import metrics as _metrics
from .. import optimizers as _opt
from .. import random as _random
from ..autodiff.grad_mode import no_grad
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import Tensor
from ..fast import PredictStep, TrainStep
from ..data.dataset import DataLoader, Dataset, num_samples, take, to_numpy_tree
from ..data import adapters as _adapters
from . import checks
from . import outputs as _outputs
from ..distribute.scope import get_strategy


def _as_tensor(x, dtype=None):
    if x is None or isinstance(x, Tensor):
        return x
    if isinstance(x, dict):
        return {k: _as_tensor(v, dtype) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]) and not isinstance(x[0], (list, tuple)):
        return type(x)(_as_tensor(v, dtype) for v in x)
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return Tensor._wrap(arr)


def unpack_data(data):
    """``(x, y, sample_weight)`` from a batch given as x, (x,), (x, y) or (x, y, sw)."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(f"a batch must be x, (x, y) or (x, y, sample_weight); received a tuple of {len(data)}")
    return data, None, None


class Trainer:
    """Mixed into ``Model``: Keras's training API."""

    # -- compile -------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly: bool = False,
                distribute=None, **kwargs) -> None:
        """Set the optimizer, the loss (names or objects) and the metrics to report.

        ``run_eagerly=False`` (the default, as Keras) lets ``fit`` and ``train_on_batch``
        record a ``Sequential`` or functional model of built-in layers once per input shape and replay
        its forward and backward passes on later steps, with the same results bit for bit
        (``tapegrad.fast``); ``True`` runs every step through the layers' Python, for
        stepping through it in a debugger. Models that cannot be recorded run eagerly
        either way.

        ``distribute``: a ``tg.distribute.MPIStrategy`` to train over MPI processes; by
        default the strategy whose ``scope()`` is entered, if any (TensorFlow's Keras 2
        spelling; Keras 3 takes the scope only).
        """
        if distribute is None:
            distribute = get_strategy()
        if distribute is not None and not hasattr(distribute, "step_gradients"):
            raise TypeError(f"compile: distribute must be a tg.distribute strategy, received {distribute!r}")
        if kwargs:
            raise TypeError(f"compile: unexpected keyword arguments {sorted(kwargs)}")
        checks.check_compile(metrics)
        self.optimizer = _opt.get(optimizer)
        if isinstance(loss, (list, tuple)):
            self.loss = [_losses.get(l) for l in loss]
        elif isinstance(loss, dict):
            self.loss = {k: _losses.get(l) for k, l in loss.items()}
        else:
            self.loss = _losses.get(loss)
        self.loss_weights = loss_weights
        self._metric_specs = dict(metrics) if isinstance(metrics, dict) else list(metrics or [])
        self._compiled_metrics = None
        self._loss_tracker = _metrics.Mean(name="loss")
        self.compiled = True
        self.stop_training = False
        self.run_eagerly = bool(run_eagerly)
        self._fast_step = TrainStep(self, self._why_eager(), type(self).compute_loss is Trainer.compute_loss)
        self._distribute = distribute  # its step_gradients runs between each step's backward pass and update
        self._fast_step.reduce_gradients = None if distribute is None else distribute.step_gradients
        self._compile_config = {"optimizer": _opt.serialize(self.optimizer),
                                "loss": _serialize_loss(loss), "metrics": _outputs.serializable_metrics(metrics),
                                "loss_weights": loss_weights}

    def _check_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise RuntimeError(f"You must call compile() before {what}(); for example "
                               f"model.compile(optimizer='adam', loss='binary_crossentropy')")

    @property
    def metrics(self) -> list:
        out = [self._loss_tracker] if getattr(self, "_loss_tracker", None) is not None else []
        return out + list(self._compiled_metrics or [])

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def _build_metrics(self, y, y_pred) -> None:
        if self._compiled_metrics is not None:
            return
        loss = self.loss if not isinstance(self.loss, (list, dict)) else None
        self._compiled_metrics = [_metrics.get(m, loss=loss, y_true=y, y_pred=y_pred.shape if
                                               isinstance(y_pred, Tensor) else None) for m in self._metric_specs]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    # -- the steps -------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True) -> Tensor:
        """The compiled loss plus the regularization penalties in ``self.losses``."""
        if self.loss is None:
            raise ValueError("compile() was called without a loss; pass loss=... to compile, or override "
                             "compute_loss / train_step")
        if _outputs.is_structured(self, y_pred):
            total = self._multi_output_loss(y, y_pred, sample_weight)
        else:
            total = self.loss(y, y_pred, sample_weight) if sample_weight is not None else self.loss(y, y_pred)
        penalties = self.losses
        if penalties:
            for p in penalties:
                total = total + p
        return total

    def _multi_output_loss(self, y, y_pred, sample_weight):
        return _outputs.multi_output_loss(self, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None, loss=None) -> dict:
        n = x.data.shape[0] if isinstance(x, Tensor) else num_samples(to_numpy_tree(x))
        if loss is not None:
            self._loss_tracker.update_state(float(loss.data), int(n))
        if _outputs.is_structured(self, y_pred):
            _outputs.update_output_metrics(self, y, y_pred, sample_weight, n)
        elif self._metric_specs:
            self._build_metrics(y, y_pred)
            for m in self._compiled_metrics:
                m.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        return {m.name: float(m.result().data) for m in self.metrics}

    def train_step(self, data) -> dict:
        """One optimization step on a batch, as the lab's custom loop writes it."""
        x, y, sample_weight = unpack_data(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        weights = self.trainable_weights
        grads = tape.gradient(loss, weights)
        if getattr(self, "_distribute", None) is not None:  # the global batch's gradients (tg.distribute)
            grads = self._distribute.step_gradients(grads, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def _train_batch(self, x, y, sample_weight) -> dict:
        """``train_step``, or its recorded replay (see ``compile``'s ``run_eagerly``)."""
        if getattr(self, "_distribute", None) is not None and self._distribute.idle:
            return self._distribute.idle_step(self)  # an empty shard of a short last batch
        if self.run_eagerly:
            return self.train_step((x, y, sample_weight))
        return self._fast_step(x, y, sample_weight)

    def _why_eager(self) -> str | None:
        """Why ``tapegrad.fast`` may not record this model's steps (None when it may): its
        forward pass must be a plain chain of layers, and its step the one written here."""
        cls = type(self)
        if cls.train_step is not Trainer.train_step:
            return f"{cls.__name__} overrides train_step"
        return self._why_not_a_chain()

    def _why_not_a_chain(self) -> str | None:
        return f"{type(self).__name__} is not a plain Sequential model"

    def test_step(self, data) -> dict:
        x, y, sample_weight = unpack_data(data)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def _predict_batch(self, data):
        """One batch of ``predict``: through ``tapegrad.fast.PredictStep`` (the inference pass
        recorded once, then replayed) unless the model runs eagerly or has its own ``predict_step``."""
        if self.run_eagerly or type(self).predict_step is not Trainer.predict_step:
            return self.predict_step(data)
        if self._fast_predict is None:
            self._fast_predict = PredictStep(self, self._why_not_a_chain())
        x, _, _ = unpack_data(data)
        with no_grad():
            return self._fast_predict(x)

    def predict_step(self, data):
        x, _, _ = unpack_data(data)
        with no_grad():
            return self(x, training=False)

    # -- data --------------------------------------------------------------------------------
    def _batches(self, x, y, sample_weight, batch_size, shuffle, steps=None, class_weight=None, who="fit",
                 steps_name="steps"):
        """An iterable of ``(x, y, sw)`` NumPy batches, and the number of batches (None while unknown).

        Generators, iterables, torch DataLoaders, PyDatasets and Dataset pipelines go through
        ``tapegrad.data.adapters`` (which reads ``steps``, ``class_weight``, ``who`` and
        ``steps_name``); arrays and a Dataset or DataLoader of arrays are batched here.
        """
        if _adapters.is_batch_source(x):
            weigh = None if class_weight is None else (lambda y_, sw_: _class_weights(y_, class_weight, sw_))
            it = _adapters.epoch_iterator(x, y, sample_weight, batch_size=batch_size, steps=steps, shuffle=shuffle,
                                          class_weight=weigh, who=who, steps_name=steps_name)
            return it, it.num_batches
        if isinstance(x, DataLoader):
            return x, len(x)
        if isinstance(x, Dataset):
            loader = DataLoader(x, batch_size=batch_size or 32, shuffle=shuffle)
            return loader, len(loader)
        loader = DataLoader(Dataset(x, y, sample_weight), batch_size=batch_size or 32, shuffle=shuffle)
        return loader, len(loader)

    def _to_batch(self, batch):
        x, y, sw = batch
        return _as_tensor(x, self.dtype), y, sw

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_freq: int = 1, validation_steps: int | None = None) -> "_cb.History":
        """Train for ``epochs`` passes over the data in mini-batches; returns a ``History``.

        ``validation_split`` takes the *last* fraction of the samples, before any
        shuffling (as Keras). The epoch's loss is the sample-weighted mean of the
        batch losses; validation values carry a ``val_`` prefix.

        Besides arrays, ``x`` may be a source of batches ``(x, y)`` or ``(x, y, sample_weight)``
        (then ``y`` and ``sample_weight`` stay None, and ``validation_data`` may be one too):
        a Python generator or any other iterable (a list or tuple is read as arrays), a
        ``torch.utils.data.DataLoader``, a ``tg.data.PyDataset`` or a ``tg.data.Dataset``
        pipeline. Without ``steps_per_epoch`` an epoch runs until the source ends;
        with it, each epoch takes that many batches, carrying on where the last one stopped
        (needed for a source without end; ``validation_steps`` for validation). A generator runs
        only once: as in Keras 3, epochs after it is exhausted warn that the input ran out of
        data and train on just the first two batches, which Keras reads ahead; use a PyDataset,
        a re-iterable object or ``Dataset.repeat`` with ``steps_per_epoch`` for several epochs.
        ``shuffle`` reorders a PyDataset's batches every epoch; the other sources keep their
        order. ``class_weight`` applies to PyDataset and Dataset batches (as Keras).

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> def batches():
            ...     rng = np.random.default_rng(0)
            ...     while True:
            ...         x = rng.normal(size=(8, 3)).astype("float32")
            ...         yield x, x.sum(axis=1, keepdims=True)
            >>> history = model.fit(batches(), steps_per_epoch=5, epochs=2, verbose=0)
            >>> len(history.history["loss"])
            2
        """
        self._check_compiled("fit")
        checks.check_fit(self, x, y, batch_size, epochs, verbose, validation_split, validation_data, sample_weight,
                         initial_epoch, steps_per_epoch, validation_freq)
        if x is None:
            raise ValueError("fit: x is required")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
            raise ValueError(f"fit: batch_size must be a positive integer, received {batch_size!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1), received {validation_split}")
        is_loader = isinstance(x, (Dataset, DataLoader)) or _adapters.is_batch_source(x)
        if is_loader and validation_split:
            raise ValueError(f"fit: validation_split is only supported for arrays; received x of type "
                             f"{type(x).__name__}: pass validation_data instead")
        if not is_loader:
            x, y, sample_weight = to_numpy_tree(x), to_numpy_tree(y), to_numpy_tree(sample_weight)
            n = num_samples(x)
            if y is not None and num_samples(y) != n:
                raise ValueError(f"fit: x has {n} samples but y has {num_samples(y)}")
            if class_weight is not None:
                sample_weight = _class_weights(y, class_weight, sample_weight)
            if validation_split and validation_data is None:
                n_val = int(math.floor(n * validation_split))
                if n_val == 0 or n_val == n:
                    raise ValueError(f"fit: validation_split={validation_split} leaves no samples on one side "
                                     f"of {n}")
                cut = n - n_val
                validation_data = (take(x, slice(cut, None)), take(y, slice(cut, None)),
                                   take(sample_weight, slice(cut, None)))
                x, y, sample_weight = take(x, slice(0, cut)), take(y, slice(0, cut)), take(sample_weight,
                                                                                             slice(0, cut))
        loader, steps = self._batches(x, y, sample_weight, batch_size, shuffle, steps=steps_per_epoch,
                                      class_weight=class_weight if is_loader else None,
                                      steps_name="steps_per_epoch")
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch)) if steps is not None else int(steps_per_epoch)
        if validation_data is not None and _adapters.is_batch_source(validation_data):
            validation_data = self._batches(validation_data, None, None, batch_size, False, steps=validation_steps,
                                            who="fit: validation_data", steps_name="validation_steps")[0]
        verbose = 1 if verbose == "auto" else int(verbose)
        strategy = getattr(self, "_distribute", None)
        if strategy is not None:  # this rank's shard of each global batch, from rank 0's weights
            loader = strategy.begin_fit(self, loader, steps, epochs, initial_epoch)
        history = getattr(self, "history", None)
        if not isinstance(history, _cb.History) or initial_epoch == 0:
            history = _cb.History()
        cbs = list(callbacks or [])
        if strategy is not None:  # logs, progress bars and checkpoints from rank 0 only
            cbs, verbose = strategy.fit_callbacks(cbs, verbose)
        if verbose and not any(isinstance(c, _cb.ProgbarLogger) for c in cbs):
            cbs.append(_cb.ProgbarLogger(verbose=verbose))
        cblist = _cb.CallbackList(cbs + [history], model=self, epochs=epochs, steps=steps, verbose=verbose)
        self.stop_training = False
        cblist.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cblist.on_epoch_begin(epoch)
            with _random.use(_random.fork(0x5EED, epoch)):  # shuffling and dropout of this epoch
                for step, batch in enumerate(loader):
                    if steps is not None and step >= steps:
                        break
                    cblist.on_train_batch_begin(step)
                    logs = self._train_batch(*self._to_batch(batch))
                    if strategy is not None:
                        logs = strategy.reduce_logs(self, logs)
                    cblist.on_train_batch_end(step, logs)
                    if strategy is not None:
                        self.stop_training = strategy.agree_to_stop(self.stop_training)
                    if self.stop_training:
                        break
            if strategy is not None:
                strategy.end_epoch(self)
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vx, vy, vsw = unpack_data(validation_data) if isinstance(validation_data, tuple) else (
                    validation_data, None, None)
                val = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, sample_weight=vsw, return_dict=True,
                                    _callbacks=cblist)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            cblist.on_epoch_end(epoch, epoch_logs)
            if strategy is not None:
                self.stop_training = strategy.agree_to_stop(self.stop_training)
            logs = epoch_logs
            if self.stop_training:
                break
        cblist.on_train_end(logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto", sample_weight=None,
                 return_dict: bool = False, callbacks=None, _callbacks=None, steps: int | None = None):
        """The loss (and metrics) over the data, without training; Dropout is off.

        ``x`` may be any source of batches that ``fit`` takes (a generator, an iterable, a torch
        DataLoader, a PyDataset, a Dataset pipeline), read to its end or for ``steps`` batches.
        """
        self._check_compiled("evaluate")
        checks.check_evaluate(self, x, y, batch_size, verbose, sample_weight)
        if not isinstance(x, (Dataset, DataLoader)) and not _adapters.is_batch_source(x):
            x, y, sample_weight = to_numpy_tree(x), to_numpy_tree(y), to_numpy_tree(sample_weight)
        loader, steps = self._batches(x, y, sample_weight, batch_size, shuffle=False, steps=steps, who="evaluate")
        strategy, sharded = getattr(self, "_distribute", None), False
        if strategy is not None:  # each rank evaluates its part; the metrics are summed at the end
            loader, steps, sharded = strategy.shard_for_evaluation(loader)
            verbose = verbose if strategy.is_chief else 0
        cblist = _callbacks or _cb.CallbackList(callbacks, model=self, steps=steps)
        self.reset_metrics()
        cblist.on_test_begin()
        logs = {}
        seen = 0
        for step, batch in enumerate(loader):
            cblist.on_test_batch_begin(step)
            logs = self.test_step(self._to_batch(batch))
            cblist.on_test_batch_end(step, logs)
            seen = step + 1
        if steps is None:  # a source of unknown length: as many as it gave
            steps = seen
        logs = self.get_metrics_result()
        if sharded:
            logs = strategy.reduce_logs(self, logs)
        cblist.on_test_end(logs)
        verbose = 1 if verbose == "auto" else int(verbose)
        if verbose and _callbacks is None:
            from ..callbacks.progbar import format_logs

            print(f"{steps}/{steps} - {format_logs(logs)}")
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size: int | None = None, verbose="auto", callbacks=None,
                steps: int | None = None) -> np.ndarray:
        """Model outputs for ``x`` as NumPy arrays, in batches, with ``training=False``.

        ``x`` may be any source of batches that ``fit`` takes, read to its end or for ``steps``
        batches; a batch's targets, if any, are ignored. Zero rows give an empty array of the
        output's shape, ``(0, units)`` (Keras 3 fails on them).
        """
        checks.check_predict(self, x, batch_size, verbose)
        if isinstance(x, DataLoader):
            loader, steps = x, len(x)
        else:
            if not isinstance(x, Dataset) and not _adapters.is_batch_source(x):
                x = to_numpy_tree(x)
            loader, steps = self._batches(x, None, None, batch_size, shuffle=False, steps=steps, who="predict")
        cblist = _cb.CallbackList(callbacks, model=self, steps=steps)
        cblist.on_predict_begin()
        outs = []
        for step, batch in enumerate(loader):
            cblist.on_predict_batch_begin(step)
            out = self._predict_batch(self._to_batch(batch))
            outs.append(out)
            cblist.on_predict_batch_end(step, {"outputs": out})
        if not outs and not isinstance(x, (Dataset, DataLoader)) and not _adapters.is_batch_source(x):  # zero rows
            outs.append(self.predict_step(self._to_batch((x, None, None))))
        cblist.on_predict_end()
        return _concat_outputs(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False):
        """One gradient step on one batch; returns the loss (and metrics) of that batch."""
        self._check_compiled("train_on_batch")
        checks.check_batch("train_on_batch", self, x, y, sample_weight)
        if class_weight is not None:
            sample_weight = _class_weights(to_numpy_tree(y), class_weight, sample_weight)
        self.reset_metrics()
        logs = self._train_batch(_as_tensor(x, self.dtype), y, sample_weight)
        return _return(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        self._check_compiled("test_on_batch")
        checks.check_batch("test_on_batch", self, x, y, sample_weight)
        self.reset_metrics()
        logs = self.test_step((_as_tensor(x, self.dtype), y, sample_weight))
        return _return(logs, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        checks.check_batch("predict_on_batch", self, x)
        return _concat_outputs([self.predict_step((_as_tensor(x, self.dtype),))])


def _return(logs, return_dict):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _concat_outputs(outs):
    # concatenate copies: the batches' storage is read in place, not snapshotted by numpy() first
    if not outs:
        return np.zeros((0,))
    first = outs[0]
    if isinstance(first, (list, tuple)):
        return [np.concatenate([o[i].numpy(copy=False) for o in outs]) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: np.concatenate([o[k].numpy(copy=False) for o in outs]) for k in first}
    return np.concatenate([o.numpy(copy=False) for o in outs])


def _class_weights(y, class_weight: dict, sample_weight):
    y = np.asarray(y)
    labels = np.argmax(y, axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = np.round(labels).astype(np.int64)
    missing = set(np.unique(labels).tolist()) - set(int(k) for k in class_weight)
    if missing:
        raise ValueError(f"class_weight has no weight for classes {sorted(missing)}; received keys "
                         f"{sorted(class_weight)}")
    cw = np.array([class_weight[int(c)] for c in labels], dtype=np.float32)
    return cw if sample_weight is None else cw * np.asarray(sample_weight, dtype=np.float32).reshape(len(cw))


def _serialize_loss(loss):
    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, _losses.Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if isinstance(loss, (list, tuple)):
        return [_serialize_loss(l) for l in loss]
    if isinstance(loss, dict):
        return {k: _serialize_loss(v) for k, v in loss.items()}
    return None
