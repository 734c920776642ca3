"""Callbacks that watch a monitored value: EarlyStopping, ReduceLROnPlateau."""

from __future__ import annotations

import math
import operator
import warnings

from .base import Callback


def monitor_op_for(model, monitor: str, mode: str, owner: str):
    """``operator.lt`` or ``operator.gt`` for a monitored name, as Keras 3 decides it."""
    if mode == "min":
        return operator.lt
    if mode == "max":
        return operator.gt
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss":
        return operator.lt
    for m in getattr(model, "metrics", []) or []:
        if getattr(m, "name", None) == name:
            return operator.gt if getattr(m, "_direction", "up") == "up" else operator.lt
    raise ValueError(
        f"{owner} received monitor={monitor!r} but cannot tell whether that metric should be maximized or "
        "minimized; pass mode='max' or mode='min'"
    )


class EarlyStopping(Callback):
    """Stop training when the monitored value stops improving (Keras 3's rules, ``keras.callbacks.EarlyStopping``).

    An epoch improves when ``op(current - min_delta, best)`` holds, with ``op`` ``<`` for
    ``mode="min"`` (and ``min_delta`` negated) or ``>`` for ``"max"``; ``"auto"`` picks min for
    losses and the metric's own direction otherwise. After an improvement ``wait`` resets only if
    ``baseline`` is also beaten; training stops when ``wait >= patience`` (never at epoch 0). With
    ``restore_best_weights`` the best epoch's weights are restored at the end of training, also
    when it did not stop early. Epochs before ``start_from_epoch`` are ignored. With ``verbose=1``
    it prints Keras's messages: ``Epoch 12: early stopping`` and ``Restoring model weights from the
    end of the best epoch: 7.`` Differs from Keras: ``best`` is reset in ``on_train_begin``, so a
    reused callback starts afresh.

    Args:
        monitor: the log key to watch (default "val_loss").
        min_delta: the smallest change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        verbose: 1 prints when it stops and when it restores weights (default 0).
        mode: ``"auto"`` (the default), ``"min"`` or ``"max"``.
        baseline: a value to beat before ``wait`` resets (default None).
        restore_best_weights: end with the best epoch's weights (default False: the last epoch's).
        start_from_epoch: epochs to wait before watching (default 0).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> model.compile(optimizer=tg.optimizers.SGD(0.0), loss="mse")  # a zero rate: no improvement
        >>> stop = tg.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-3, verbose=1)
        >>> _ = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
        Epoch 2: early stopping
        >>> stop.stopped_epoch
        1
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"EarlyStopping mode {mode} is unknown, fallback to auto mode.", stacklevel=2)
            mode = "auto"
        self.monitor, self.patience, self.verbose, self.baseline = monitor, patience, verbose, baseline
        self.min_delta = abs(min_delta)
        self.mode, self.restore_best_weights, self.start_from_epoch = mode, restore_best_weights, start_from_epoch
        self.monitor_op = None
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = None
        self.best_weights = None

    def _setup(self) -> None:
        self.monitor_op = monitor_op_for(self.model, self.monitor, self.mode, "EarlyStopping")
        self._delta = -self.min_delta if self.monitor_op is operator.lt else self.min_delta
        self.best = math.inf if self.monitor_op is operator.lt else -math.inf

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.monitor_op = None
        self.best = None

    def _is_improvement(self, value, reference) -> bool:
        return self.monitor_op(value - self._delta, reference)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._setup()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs.keys())}",
                stacklevel=2,
            )
        return value


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement
    (``keras.callbacks.ReduceLROnPlateau``).

    As Keras: improvement is ``current < best - min_delta`` (min mode) or ``current > best + min_delta``
    (max mode); after a reduction ``cooldown`` epochs pass before counting again; the rate never goes
    below ``min_lr``.

    Args:
        monitor: the log key to watch (default "val_loss").
        factor: the multiplier, below 1 (default 0.1).
        patience: epochs without improvement before reducing (default 10).
        verbose: 1 prints each reduction (default 0).
        mode: ``"auto"`` (the default), ``"min"`` or ``"max"``.
        min_delta: the smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction (default 0).
        min_lr: the lowest rate (default 0.0).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> model.compile(optimizer=tg.optimizers.SGD(0.4), loss="mse")
        >>> zeros = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)  # loss 0 from the start: no improvement
        >>> plateau = tg.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
        >>> _ = model.fit(*zeros, epochs=3, verbose=0, callbacks=[plateau])
        >>> round(float(model.optimizer.learning_rate), 6)  # halved after epochs 2 and 3
        0.1
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, received factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode, self.min_delta, self.cooldown, self.min_lr = mode, min_delta, cooldown, min_lr
        self.wait = self.cooldown_counter = 0
        self.best = None
        self.monitor_op = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.monitor_op = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.monitor_op is None:
            op = monitor_op_for(self.model, self.monitor, self.mode, "ReduceLROnPlateau")
            d = self.min_delta
            self.monitor_op = (lambda a, b: a < b - d) if op is operator.lt else (lambda a, b: a > b + d)
            self.best = math.inf if op is operator.lt else -math.inf
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs.keys())}.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
