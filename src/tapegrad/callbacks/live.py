"""``LivePlot``: training and validation curves redrawn while ``fit`` runs."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

import numpy as np

from .base import Callback
from .progbar import in_notebook


class LivePlot(Callback):
    """Redraws the loss and metric curves (training and validation) every ``every`` epochs.

    In a Jupyter notebook the picture is one output of the cell, replaced in place at each
    redraw (no ``%matplotlib`` needed). Elsewhere (a terminal, a script) it is written as
    a PNG file at ``path``, replaced atomically at each redraw so an image viewer that
    reloads the file follows training; where it writes is printed once when training starts.
    Given ``data=(x, y)`` with two features per example, a third panel shows the model's
    decision boundary over those points, as it moves. Needs matplotlib (``tapegrad[viz]``).

    tapegrad addition: Keras has no built-in live-plot callback.

    Args:
        every: redraw every this many epochs (default 1); the last epoch is always drawn.
        path: the PNG file outside a notebook; None (the default) means
            ``"training_curves.png"`` in the current folder. In a notebook it is written
            only when given.
        data: optional ``(x, y)``, ``x`` of shape ``(n, 2)``, for the decision-boundary panel.
        notebook: None (the default) detects a Jupyter kernel; True or False forces the choice.

    Attributes:
        draws: how many times the picture has been drawn.
        figure: the last drawn matplotlib figure.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> folder = tempfile.mkdtemp()
        >>> live = tg.callbacks.LivePlot(every=1, path=os.path.join(folder, "curves.png"), notebook=False)
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[live])  # doctest: +ELLIPSIS
        LivePlot: drawing the training curves to ...curves.png
        >>> live.draws, os.path.getsize(os.path.join(folder, "curves.png")) > 0
        (2, True)
    """

    def __init__(self, every: int = 1, path: str | os.PathLike | None = None, data=None,
                 notebook: bool | None = None) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"LivePlot: every must be a positive integer, received {every!r}")
        if data is not None:
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise ValueError(f"LivePlot: data must be a pair (x, y), received {type(data).__name__}")
            x = np.asarray(data[0], dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != 2:
                raise ValueError(f"LivePlot: data's x must have shape (n, 2) for a decision boundary, "
                                 f"received shape {x.shape}")
            data = (x, np.asarray(data[1]).reshape(len(x), -1))
        try:
            import matplotlib  # noqa: F401 - checked here, used when drawing
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("LivePlot needs matplotlib: pip install 'tapegrad[viz]'") from exc
        self.every = int(every)
        self.path = None if path is None else os.fspath(path)
        self.data = data
        self.notebook = notebook
        self.draws = 0
        self.figure = None
        self._handle = None

    def on_train_begin(self, logs=None):
        self._logs: dict[str, list[float]] = {}
        self._epochs: list[int] = []
        self._handle = None
        self._drawn_epoch = None
        self._in_notebook = in_notebook(sys.stdout) if self.notebook is None else bool(self.notebook)
        if not self._in_notebook and self.path is None:
            self.path = "training_curves.png"
        if not self._in_notebook:
            print(f"LivePlot: drawing the training curves to {os.path.abspath(self.path)}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        self._epochs.append(epoch + 1)
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float, np.floating)):
                self._logs.setdefault(k, []).append(float(v))
        last = self.params.get("epochs")
        if (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last):
            self._draw()

    def on_train_end(self, logs=None):
        if self._epochs and self._drawn_epoch != self._epochs[-1]:
            self._draw()  # early stopping ended between two redraws: show the last epoch

    # -- drawing ------------------------------------------------------------------
    def _draw(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        names = [k for k in self._logs if not k.startswith("val_")]
        panels = len(names) + (self.data is not None and self.model is not None)
        fig = Figure(figsize=(4.2 * max(panels, 1), 3.4), dpi=90, layout="constrained")
        FigureCanvasAgg(fig)
        axes = np.atleast_1d(fig.subplots(1, max(panels, 1)))
        for ax, name in zip(axes, names):
            epochs = self._epochs[-len(self._logs[name]):]
            ax.plot(epochs, self._logs[name], "o-", ms=3, label="training")
            if "val_" + name in self._logs:
                val = self._logs["val_" + name]
                ax.plot(self._epochs[-len(val):], val, "s--", ms=3, label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.set_title(name)
            ax.legend(fontsize=8)
        if self.data is not None and self.model is not None:
            self._draw_boundary(axes[len(names)])
        self.figure = fig
        self.draws += 1
        self._drawn_epoch = self._epochs[-1]
        png = io.BytesIO()
        fig.savefig(png, format="png")
        png = png.getvalue()
        if self._in_notebook:
            from IPython.display import Image, display

            if self._handle is None:
                self._handle = display(Image(data=png), display_id=True)
            else:
                self._handle.update(Image(data=png))
        if self.path is not None:
            _write_atomic(self.path, png)

    def _draw_boundary(self, ax) -> None:
        x, y = self.data
        pad = 0.1 * (x.max(0) - x.min(0) + 1e-9)
        lo, hi = x.min(0) - pad, x.max(0) + pad
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80))
        grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        out = np.asarray(self.model.predict(grid, verbose=0))
        if out.ndim == 1 or out.shape[-1] == 1:
            p = out.reshape(-1)
            if p.min() < 0 or p.max() > 1:  # logits
                p = 1 / (1 + np.exp(-p))
            p = p.reshape(gx.shape)
            ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.7)
            ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
        else:
            cls = out.argmax(-1).reshape(gx.shape)
            ax.contourf(gx, gy, cls, levels=np.arange(out.shape[-1] + 1) - 0.5, cmap="tab10", alpha=0.35)
        labels = y[:, 0] if y.shape[1] == 1 else y.argmax(1)
        ax.scatter(x[:, 0], x[:, 1], c=labels, cmap="coolwarm", s=10, edgecolor="k", linewidth=0.3)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_title(f"decision boundary, epoch {self._epochs[-1]}")


def _write_atomic(path: str, payload: bytes) -> None:
    """Write ``payload`` beside ``path`` and rename it into place (a viewer never sees half a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes private files; a picture is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
