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

    ``build_model()`` must return an uncompiled model; every run starts from the
    same seed, so only the rate differs. Diverged runs give ``inf``.
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
    """Loss against rate on a log axis, with the best rate marked."""
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
