"""``Callback``: hooks into ``fit``, ``evaluate`` and ``predict``; ``History``; small callbacks."""

from __future__ import annotations

import math
from typing import Callable


class Callback:
    """Base class of callbacks: hooks into ``fit``, ``evaluate`` and ``predict`` (``keras.callbacks.Callback``).

    Override any of ``on_train_begin/end``, ``on_epoch_begin/end``, ``on_train_batch_begin/end``,
    ``on_test_*`` and ``on_predict_*``; each receives a ``logs`` dict. ``self.model`` is the model
    being trained and ``self.params`` holds ``epochs``, ``steps`` and ``verbose``. Set
    ``self.model.stop_training = True`` to end training after the current epoch.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> class Count(tg.callbacks.Callback):
        ...     def on_train_begin(self, logs=None):
        ...         self.batches = 0
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.batches += 1
        >>> count = Count()
        >>> _ = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[count])
        >>> count.batches
        6
    """

    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList(Callback):
    """Dispatches each hook to a list of callbacks, in order (what ``fit`` uses internally).

    Args:
        callbacks: the callbacks (default None: none).
        model: the model, given to each callback (default None).
        **params: the parameters given to each callback (``epochs``, ``steps``, ``verbose``).

    Example:
        >>> import tapegrad as tg
        >>> seen = []
        >>> cbs = tg.callbacks.CallbackList([tg.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
        ...                                 epochs=2)
        >>> cbs.on_epoch_end(0, {}); cbs.on_epoch_end(1, {})
        >>> seen, cbs.params["epochs"]
        ([0, 1], 2)
    """

    def __init__(self, callbacks=None, model=None, **params) -> None:
        super().__init__()
        self.callbacks = list(callbacks or [])
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def set_model(self, model) -> None:
        self.model = model
        for c in self.callbacks:
            c.set_model(model)

    def set_params(self, params: dict) -> None:
        self.params = params
        for c in self.callbacks:
            c.set_params(params)

    def _call(self, hook: str, *args) -> None:
        for c in self.callbacks:
            getattr(c, hook)(*args)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_test_batch_begin(self, batch, logs=None): self._call("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._call("on_test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._call("on_predict_batch_end", batch, logs)


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list, one value per epoch.

    ``fit`` returns one (``keras.callbacks.History``); ``history.epoch`` lists the epoch numbers.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> history = model.fit(x, y, epochs=3, verbose=0)
        >>> len(history.history["loss"]), history.epoch
        (3, [0, 1, 2])
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # as Keras: a new fit starts a new record (history dict kept for resumed runs)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class LambdaCallback(Callback):
    """A callback from functions (``keras.callbacks.LambdaCallback``).

    Args:
        on_epoch_begin: ``f(epoch, logs)`` (default None).
        on_epoch_end: ``f(epoch, logs)`` (default None).
        on_train_begin: ``f(logs)`` (default None).
        on_train_end: ``f(logs)`` (default None).
        on_train_batch_begin: ``f(batch, logs)`` (default None).
        on_train_batch_end: ``f(batch, logs)`` (default None).
        **kwargs: any other hook by name, e.g. ``on_test_end=f``.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> losses = []
        >>> log = tg.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[log])
        >>> len(losses)
        2
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs) -> None:
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in given.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stops training when the batch loss becomes NaN or infinite (``keras.callbacks.TerminateOnNaN``).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> import warnings
        >>> with np.errstate(all="ignore"), warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     history = model.fit(x * np.float32(1e30), y, epochs=5, verbose=0, callbacks=[tg.callbacks.TerminateOnNaN()])
        Batch 0: Invalid loss, terminating training
        >>> len(history.epoch)
        1
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at each epoch start from ``schedule(epoch, lr)``
    (``keras.callbacks.LearningRateScheduler``).

    Args:
        schedule: ``f(epoch, lr) -> new lr`` (or ``f(epoch)``); epochs count from 0.
        verbose: 1 prints each change, as Keras (default 0).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> halve = tg.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[halve])
        >>> float(model.optimizer.learning_rate)
        0.025
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:  # a schedule of one argument
            new = self.schedule(epoch)
        if not isinstance(new, (float, int)) or isinstance(new, bool):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, received {new!r}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
