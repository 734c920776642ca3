"""Activation functions and their derivatives (the derivatives come from tapegrad's own autodiff)."""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import Tensor
from ._figure import finish, new_figure

DEFAULT = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "swish", "softplus")


def curve(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and derivatives of an activation at ``x``."""
    t = Tensor(x.astype(np.float64))
    with GradientTape() as tape:
        tape.watch(t)
        y = _act.get(name)(t)
    return y.numpy(), tape.gradient(y, t).numpy()


def plot_activations(names=DEFAULT, path=None, x_range=(-5.0, 5.0)):
    """One panel per activation: the function (solid) and its derivative (dashed), computed by autodiff.

    A figure shows itself inline in a Jupyter notebook (no ``%matplotlib`` needed).

    Args:
        names: activation names (default: sigmoid, tanh, relu, leaky_relu, elu, gelu, swish, softplus).
        path: an image file to write (default None: none).
        x_range: the range of ``x`` drawn (default (-5.0, 5.0)).

    Example:
        >>> import tapegrad as tg
        >>> fig = tg.viz.plot_activations(["sigmoid", "relu"])
        >>> len(fig.axes)
        2
    """
    names = list(names)
    x = np.linspace(*x_range, 401)
    cols = min(4, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = new_figure(3.2 * cols, 2.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        y, dy = curve(name, x)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(x, y, lw=2.2, label="g(z)")
        ax.plot(x, dy, "--", lw=1.6, label="g'(z)")
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Activation functions g(z) and their derivatives")
    return finish(fig, path)
