"""The lecture's first answer to "how do I set the learning rate?": try many."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import random as _random
from ._figure import finish, new_figure


def lr_sweep(build_model: Callable, x, y, rates=None, epochs: int = 5, batch_size: int = 32,
             optimizer: str = "sgd", loss="binary_crossentropy", seed: int = 0) -> dict[float, float]:
    """Train a fresh model briefly at each learning rate; return ``{rate: final training loss}``.

    ``build_model()`` must return an uncompiled model; every run starts from the same seed, so
    only the rate differs. Diverged runs give ``inf``.

    Args:
        build_model: a function returning a new, uncompiled model.
        x: the training inputs.
        y: the training targets.
        rates: the learning rates to try (default None: 12 rates from 1e-4 to 10, log-spaced).
        epochs: epochs of training per rate (default 5).
        batch_size: the batch size (default 32).
        optimizer: the optimizer's name (default "sgd").
        loss: the loss (default "binary_crossentropy").
        seed: the seed of every run (default 0).

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_pass_fail(64)
        >>> sweep = tg.viz.lr_sweep(lambda: tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1, activation="sigmoid")]),
        ...                         x, y, rates=[1e-4, 1e-2], epochs=1)
        >>> sorted(sweep)
        [0.0001, 0.01]
    """
    from .. import optimizers as _opt

    rates = np.logspace(-4, 1, 11) if rates is None else np.asarray(rates, dtype=float)
    out = {}
    for lr in rates:
        _random.set_seed(seed)
        model = build_model()
        opt = _opt.get(optimizer)
        opt.learning_rate = float(lr)
        model.compile(optimizer=opt, loss=loss)
        with np.errstate(all="ignore"):
            h = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        final = h.history["loss"][-1]
        out[float(lr)] = final if math.isfinite(final) else math.inf
    return out


def plot_lr_sweep(results: dict, path=None, title="Final training loss against learning rate"):
    """Loss against rate on a log axis, with the best rate marked.

    A figure shows itself inline in a Jupyter notebook (no ``%matplotlib`` needed).

    Args:
        results: the ``{rate: loss}`` dict of :func:`lr_sweep`.
        path: an image file to write (default None: none).
        title: the title (default "Final training loss against learning rate").

    Example:
        >>> import tapegrad as tg
        >>> fig = tg.viz.plot_lr_sweep({0.001: 0.7, 0.01: 0.5, 0.1: 0.3, 1.0: float("inf")})
        >>> fig.axes[0].get_xscale()
        'log'
    """
    rates = np.array(sorted(results))
    losses = np.array([results[r] for r in rates])
    finite = np.isfinite(losses)
    if not finite.any():
        raise ValueError("plot_lr_sweep: every run diverged")
    best = rates[finite][np.argmin(losses[finite])]
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    ax.semilogx(rates[finite], losses[finite], "o-", lw=2)
    if (~finite).any():
        top = losses[finite].max()
        ax.scatter(rates[~finite], np.full((~finite).sum(), top), marker="x", color="r", s=60, label="diverged")
    ax.axvline(best, color="g", ls="--", label=f"best: {best:.3g}")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("final training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return finish(fig, path)
