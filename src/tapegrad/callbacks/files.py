"""Callbacks that write files: CSVLogger, ModelCheckpoint (writes are atomic)."""

from __future__ import annotations

import csv
import math
import operator
import os

from .base import Callback
from .monitor import monitor_op_for


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` then the sorted log keys) to a CSV file (``keras.callbacks.CSVLogger``).

    Args:
        filename: the CSV file.
        separator: the column separator (default ",").
        append: add to an existing file instead of replacing it (default False).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[tg.callbacks.CSVLogger(path)])
        >>> open(path).read().splitlines()[0]
        'epoch,loss'
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._keys = None
        self._header_done = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.sep)
            if not self._header_done:
                self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [logs.get(k, "NA") for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of each epoch (``keras.callbacks.ModelCheckpoint``).

    ``filepath`` may contain ``{epoch}`` and log keys (``"ckpt-{epoch:02d}-{val_loss:.3f}.tapegrad"``).
    With ``save_best_only`` a file is written only when the monitored value improves.
    ``save_weights_only`` needs a ``.weights.safetensors`` path; otherwise ``.tapegrad``. Writes are atomic.

    Args:
        filepath: where to save, with optional ``{epoch}`` and ``{log_key}`` fields.
        monitor: the log key compared by ``save_best_only`` (default "val_loss").
        verbose: 1 says when it saves (default 0).
        save_best_only: save only on improvement (default False).
        save_weights_only: save only the weights (default False).
        mode: ``"auto"`` (the default), ``"min"`` or ``"max"``: which direction improves.
        save_freq: ``"epoch"`` (the default and only one supported).
        initial_value_threshold: a value the first save must beat (default None).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer=tg.optimizers.SGD(0.1), loss="mse")
        >>> x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
        >>> folder = tempfile.mkdtemp()
        >>> ckpt = tg.callbacks.ModelCheckpoint(os.path.join(folder, "ckpt-{epoch}.tapegrad"), monitor="loss")
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
        >>> sorted(os.listdir(folder))
        ['ckpt-1.tapegrad', 'ckpt-2.tapegrad']
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq: str = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        filepath = os.fspath(filepath)
        if save_weights_only and not filepath.endswith(".weights.safetensors"):
            raise ValueError(f"ModelCheckpoint: with save_weights_only=True the filepath must end in "
                             f"'.weights.safetensors', received {filepath!r}")
        if not save_weights_only and not filepath.endswith(".tapegrad"):
            raise ValueError(f"ModelCheckpoint: the filepath must end in '.tapegrad' (or use save_weights_only=True "
                             f"with '.weights.safetensors'), received {filepath!r}")
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, received {save_freq!r}")
        self.filepath, self.monitor, self.verbose = filepath, monitor, verbose
        self.save_best_only, self.save_weights_only, self.mode = save_best_only, save_weights_only, mode
        self.initial_value_threshold = initial_value_threshold
        self.monitor_op = None
        self.best = None

    def on_train_begin(self, logs=None):
        if self.monitor_op is None:
            self.monitor_op = monitor_op_for(self.model, self.monitor, self.mode, "ModelCheckpoint")
            if self.initial_value_threshold is not None:
                self.best = self.initial_value_threshold
            else:
                self.best = math.inf if self.monitor_op is operator.lt else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                import warnings

                warnings.warn(f"Can save best model only with {self.monitor} available; available keys: "
                              f"{','.join(logs)}", stacklevel=2)
                return
            if not self.monitor_op(current, self.best):
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
