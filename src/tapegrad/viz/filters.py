"""What a convolutional network learned: first-layer filters and per-layer feature maps."""

from __future__ import annotations

import math

import numpy as np

from ..autodiff.grad_mode import no_grad
from ..autodiff.tensor import Tensor
from ..layers.conv import Conv2D
from ._figure import finish, new_figure


def plot_filters(layer, path=None, title=None):
    """Each kernel of a ``Conv2D`` layer as a small image (averaged over input channels).

    Edge and stroke detectors show up as light/dark bands in the first layer of a trained network.
    A figure shows itself inline in a Jupyter notebook (no ``%matplotlib`` needed).

    Args:
        layer: a built ``tg.layers.Conv2D``.
        path: an image file to write, format from its extension (default None: none).
        title: the figure's title (default None: the layer's name).

    Example:
        >>> import tapegrad as tg
        >>> conv = tg.layers.Conv2D(6, 3)
        >>> _ = conv(tg.zeros((1, 8, 8, 1)))
        >>> len(tg.viz.plot_filters(conv).axes) >= 6
        True
    """
    k = getattr(layer, "kernel", None)
    if k is None or k.ndim != 4:
        raise ValueError(f"plot_filters: expected a built Conv2D layer, received {type(layer).__name__}")
    w = k.numpy().mean(axis=2)  # (kh, kw, filters)
    n = w.shape[-1]
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig = new_figure(1.3 * cols + 0.6, 1.4 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    lim = np.abs(w).max() or 1.0
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i < n:
            ax.imshow(w[:, :, i], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"filter {i}", fontsize=8)
        else:
            ax.set_visible(False)
    fig.suptitle(title or f"Learned filters of {layer.name} ({w.shape[0]}x{w.shape[1]}; red +, blue -)")
    return finish(fig, path)


def feature_maps(model, image) -> list[tuple[str, np.ndarray]]:
    """The output of every convolution of a ``Sequential`` model for one image, as ``[(layer name, maps)]``.

    Args:
        model: a ``Sequential`` model with ``Conv2D`` layers.
        image: one image, ``(H, W)`` or ``(H, W, C)``.

    Example:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(8, 8, 1)), tg.layers.Conv2D(4, 3, name="c1")])
        >>> [(name, maps.shape) for name, maps in tg.viz.feature_maps(model, tg.zeros((8, 8, 1)).numpy())]
        [('c1', (6, 6, 4))]
    """
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ValueError("feature_maps: needs a Sequential model (its layers are applied in order)")
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    out = []
    t = Tensor(x[None])
    with no_grad():
        for layer in layers:
            t = layer(t)
            if isinstance(layer, Conv2D):
                out.append((layer.name, t.numpy()[0]))
    if not out:
        raise ValueError("feature_maps: the model has no Conv2D layer")
    return out


def plot_feature_maps(model, image, path=None, max_maps: int = 8):
    """The input image, then up to ``max_maps`` feature maps of each convolution, one row each.

    A figure shows itself inline in a Jupyter notebook (no ``%matplotlib`` needed).

    Args:
        model: a ``Sequential`` model with ``Conv2D`` layers.
        image: one image, ``(H, W)`` or ``(H, W, C)``.
        path: an image file to write (default None: none).
        max_maps: the most maps drawn per layer (default 8).

    Example:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(8, 8, 1)), tg.layers.Conv2D(4, 3)])
        >>> fig = tg.viz.plot_feature_maps(model, tg.zeros((8, 8, 1)).numpy())
        >>> type(fig).__name__
        'TapegradFigure'
    """
    maps = feature_maps(model, image)
    rows = len(maps)
    cols = max_maps + 1
    fig = new_figure(1.25 * cols, 1.45 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    img = np.asarray(image, dtype=np.float32)
    img = img[:, :, 0] if img.ndim == 3 else img
    for r, (name, m) in enumerate(maps):
        axes[r, 0].imshow(img, cmap="gray")
        axes[r, 0].set_title("input" if r == 0 else "", fontsize=8)
        axes[r, 0].set_ylabel(f"{name}\n{m.shape[0]}x{m.shape[1]}", fontsize=8)
        for c in range(1, cols):
            ax = axes[r, c]
            if c - 1 < m.shape[-1]:
                ax.imshow(m[:, :, c - 1], cmap="viridis")
                ax.set_title(f"map {c - 1}", fontsize=7)
            else:
                ax.set_visible(False)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Feature maps: early layers respond to edges and strokes, later ones to larger parts")
    return finish(fig, path)
