"""Training and validation curves, with the epoch early stopping kept."""

from __future__ import annotations

import numpy as np

from ._figure import finish, new_figure


def plot_history(history, path=None, best_epoch: int | None = None, title="Training and validation"):
    """Loss (and each metric) per epoch for training and validation, one panel each.

    ``best_epoch`` marks the epoch whose weights were kept (pass early stopping's ``best_epoch``);
    without it, when there is a ``val_loss``, the epoch of its minimum is marked as such. A figure
    shows itself inline in a Jupyter notebook.

    Args:
        history: what ``fit`` returned, or a dict of lists.
        path: an image file to write (default None: none).
        best_epoch: the epoch to mark, counted from 0 (default None: the lowest ``val_loss``).
        title: the title (default "Training and validation").

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_pass_fail(64)
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy")
        >>> history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
        >>> [ax.get_title() for ax in tg.viz.plot_history(history).axes]
        ['loss']
    """
    h = history.history if hasattr(history, "history") else dict(history)
    if not h:
        raise ValueError("plot_history: the history is empty")
    names = [k for k in h if not k.startswith("val_") and k != "learning_rate"]
    epochs_of = getattr(history, "epoch", None) or list(range(len(next(iter(h.values())))))
    epochs = np.asarray(epochs_of) + 1
    label = "kept: epoch {}"
    if best_epoch is None and "val_loss" in h:
        best_epoch = int(epochs_of[int(np.argmin(h["val_loss"]))])
        label = "lowest validation loss: epoch {}"
    fig = new_figure(5.2 * len(names), 4.0)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        ax.plot(epochs, h[name], lw=2, label=f"training {name}")
        if f"val_{name}" in h:
            ax.plot(epochs, h[f"val_{name}"], lw=2, label=f"validation {name}")
        if best_epoch is not None:
            ax.axvline(best_epoch + 1, color="k", ls=":", lw=1.5, label=label.format(best_epoch + 1))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return finish(fig, path)
