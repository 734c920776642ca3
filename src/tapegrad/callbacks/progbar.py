"""``ProgbarLogger``: Keras-style progress per epoch, drawn with tqdm.

``verbose=1`` on a terminal or in a Jupyter notebook redraws a bar in place (steps
done/total, ETA, then elapsed time, time per step, loss and metrics to 4 significant
figures); in a notebook the bar is text rewritten with carriage returns, which Jupyter
draws over the previous state, as Keras's progress bar does there. When stdout is
neither (a file, a pipe, a CI log), or with ``verbose=2``, it prints one line per epoch. When the
number of steps is unknown (a generator's first epoch) it counts them ("5/Unknown", as
Keras) and knows the number from the next epoch on.
"""

from __future__ import annotations

import sys
import time

from .base import Callback


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _per_step(seconds: float, steps: int) -> str:
    per = seconds / max(steps, 1)
    return f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"


def in_notebook(stream) -> bool:
    """True when ``stream`` is a Jupyter kernel's output (where a redrawn bar updates in place)."""
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel")


def live_stream(stream) -> bool:
    """True when a bar redrawn on ``stream`` is seen live: a terminal or a Jupyter notebook."""
    return (hasattr(stream, "isatty") and stream.isatty()) or in_notebook(stream)


class ProgbarLogger(Callback):
    """Prints progress during ``fit``: a live bar per epoch, or one line per epoch.

    ``fit`` adds one itself for ``verbose`` 1, 2 or ``"auto"`` (which is 1); pass one in
    ``callbacks`` to choose its stream.

    Args:
        verbose: 1 (the default) draws a bar redrawn in place where it can be seen live (a
            terminal, a Jupyter notebook) and one line per epoch elsewhere; 2 prints one
            line per epoch always.
        stream: where to write; None (the default) means ``sys.stdout`` at the time of writing.

    Example:
        >>> import io
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> out = io.StringIO()
        >>> _ = model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=1, verbose=0,
        ...               callbacks=[tg.callbacks.ProgbarLogger(verbose=2, stream=out)])
        >>> out.getvalue().startswith("Epoch 1/1")
        True
    """

    def __init__(self, verbose: int = 1, stream=None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._bar = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs", 1)
        self.steps = self.params.get("steps")
        out = self._out()
        self.interactive = self.verbose == 1 and live_stream(out)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._seen = 0
        out = self._out()
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=out, flush=True)
        if self.interactive:
            from tqdm import tqdm

            fmt = ("{n_fmt}/{total_fmt} {bar:20} {elapsed}<{remaining} {postfix}" if self.steps is not None
                   else "{n_fmt}/Unknown {elapsed} {postfix}")
            self._bar = tqdm(total=self.steps, file=out, leave=True, dynamic_ncols=True, ascii=False, bar_format=fmt)

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        steps = self._seen or (self.steps or 1)
        text = format_logs(logs or {})
        if self.steps is None and self._seen:  # an input of unknown length: its first epoch tells (as Keras)
            self.steps = self._seen
            if self._bar is not None:
                self._bar.total = self._seen
        if self._bar is not None:
            self._bar.bar_format = "{n_fmt}/{total_fmt} {bar:20} " + \
                f"{_fmt_time(elapsed)} {_per_step(elapsed, steps)} - {text}"
            self._bar.refresh()
            self._bar.close()
            self._bar = None
        elif self.verbose == 1:
            print(f"{steps}/{self.steps or steps} - {_fmt_time(elapsed)} {_per_step(elapsed, steps)} - {text}",
                  file=self._out(), flush=True)
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {_fmt_time(elapsed)} - {_per_step(elapsed, steps)} - {text}",
                  file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
