"""The loss landscape of a two-weight model, and the paths optimizers take across it."""

from __future__ import annotations

import numpy as np

from .. import optimizers as _opt
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import Tensor, Variable
from ._figure import finish, new_figure


def optimizer_path(loss_fn, start, optimizer, steps: int = 60) -> np.ndarray:
    """The sequence of weights ``(steps + 1, 2)`` that ``optimizer`` visits from ``start``.

    Args:
        loss_fn: takes a float64 tensor of shape ``(2,)``, returns a scalar tensor.
        start: the starting weights ``(w1, w2)``.
        optimizer: a ``tg.optimizers`` optimizer.
        steps: how many steps (default 60).

    Example:
        >>> import tapegrad as tg
        >>> def bowl(w):  # the quadratic bowl w1^2 + 4 w2^2
        ...     return tg.reduce_sum(tg.constant([1.0, 4.0], tg.float64) * w * w)
        >>> path = tg.viz.optimizer_path(bowl, (1.0, 1.0), tg.optimizers.SGD(0.1), steps=50)
        >>> path.shape, bool(abs(path[-1]).max() < 1e-3)
        ((51, 2), True)
    """
    w = Variable(np.asarray(start, dtype=np.float64))
    path = [w.numpy()]
    for _ in range(steps):
        with GradientTape() as tape:
            loss = loss_fn(w)
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        path.append(w.numpy())
        if not np.all(np.isfinite(path[-1])) or np.abs(path[-1]).max() > 1e6:
            break
    return np.array(path)


def curvature(loss_fn, w, eps: float = 1e-4) -> float:
    """The largest eigenvalue of the Hessian at ``w``, from central differences of gradients.

    Plain gradient descent on a quadratic bowl converges only for rates below ``2 / curvature``;
    ``1 / curvature`` is the fastest safe rate.

    Args:
        loss_fn: takes a float64 tensor of shape ``(2,)``, returns a scalar tensor.
        w: where to measure, ``(w1, w2)``.
        eps: the finite-difference step (default 1e-4).

    Example:
        >>> import tapegrad as tg
        >>> def bowl(w):  # the quadratic bowl w1^2 + 4 w2^2
        ...     return tg.reduce_sum(tg.constant([1.0, 4.0], tg.float64) * w * w)
        >>> round(tg.viz.curvature(bowl, (0.0, 0.0)), 4)  # the Hessian is diag(2, 8)
        8.0
    """
    w = np.asarray(w, dtype=np.float64)

    def grad(v):
        t = Variable(v)
        with GradientTape() as tape:
            loss = loss_fn(t)
        return tape.gradient(loss, t).numpy()

    h = np.stack([(grad(w + eps * e) - grad(w - eps * e)) / (2 * eps) for e in np.eye(len(w))])
    return float(np.linalg.eigvalsh((h + h.T) / 2).max())


def default_optimizers(good_lr: float = 0.3) -> dict:
    """The lecture's three fixed rates (too small, good, too large) and adaptive optimizers, by label.

    With ``good_lr = 1 / curvature``, ``2.4 * good_lr`` is past the stability limit of gradient
    descent (it overshoots and oscillates) and ``good_lr / 20`` crawls.

    Args:
        good_lr: the good rate, ideally ``1 / curvature`` (default 0.3).

    Example:
        >>> import tapegrad as tg
        >>> list(tg.viz.default_optimizers(0.1))[:3]
        ['SGD lr=0.005 (too small)', 'SGD lr=0.1 (good)', 'SGD lr=0.24 (too large)']
    """
    return {
        f"SGD lr={good_lr / 20:.3g} (too small)": _opt.SGD(good_lr / 20),
        f"SGD lr={good_lr:.3g} (good)": _opt.SGD(good_lr),
        f"SGD lr={good_lr * 2.4:.3g} (too large)": _opt.SGD(good_lr * 2.4),
        "SGD + momentum 0.9": _opt.SGD(good_lr / 10, momentum=0.9),
        "Adagrad": _opt.Adagrad(0.5),
        "RMSprop": _opt.RMSprop(0.05),
        "Adam": _opt.Adam(0.1),
    }


def plot_loss_landscape(loss_fn, start=(-2.0, 2.0), optimizers=None, steps: int = 60,
                        bounds=((-3.0, 3.0), (-3.0, 3.0)), path=None, resolution: int = 120,
                        title="Loss landscape and optimizer paths", weight_names=("w1", "w2"), minimum=None):
    """Contours of ``loss_fn(w)`` over ``w = (w1, w2)`` and each optimizer's path from ``start``.

    Earlier paths are drawn on top; the figure's ``paths`` attribute holds each path. A figure
    shows itself inline in a Jupyter notebook (no ``%matplotlib`` needed).

    Args:
        loss_fn: takes a float64 tensor of shape ``(2,)``, returns a scalar tensor.
        start: where every path starts (default (-2.0, 2.0)).
        optimizers: ``{label: optimizer}`` (default None: :func:`default_optimizers`).
        steps: steps per path (default 60).
        bounds: ``((w1 min, w1 max), (w2 min, w2 max))`` (default ((-3.0, 3.0), (-3.0, 3.0))).
        path: an image file to write (default None: none).
        resolution: grid points per axis for the contours (default 120).
        title: the title (default "Loss landscape and optimizer paths").
        weight_names: the axis labels (default ("w1", "w2")).
        minimum: a point to mark with a star (default None).

    Example:
        >>> import tapegrad as tg
        >>> def bowl(w):  # the quadratic bowl w1^2 + 4 w2^2
        ...     return tg.reduce_sum(tg.constant([1.0, 4.0], tg.float64) * w * w)
        >>> fig = tg.viz.plot_loss_landscape(bowl, optimizers={"SGD": tg.optimizers.SGD(0.1)}, steps=10, resolution=20)
        >>> fig.paths["SGD"].shape
        (11, 2)
    """
    optimizers = optimizers if optimizers is not None else default_optimizers()
    (x0, x1), (y0, y1) = bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    z = np.array([float(loss_fn(Tensor(np.array([a, b])))) for a, b in zip(gx.ravel(), gy.ravel())]).reshape(gx.shape)
    fig = new_figure(7.5, 6.0)
    ax = fig.subplots()
    levels = np.quantile(z, np.linspace(0, 1, 25))
    cs = ax.contourf(gx, gy, z, levels=np.unique(levels), cmap="viridis", alpha=0.85)
    ax.contour(gx, gy, z, levels=np.unique(levels), colors="w", linewidths=0.4, alpha=0.5)
    fig.colorbar(cs, ax=ax, label="loss")
    colors = ["#ff7f0e", "#d62728", "#e377c2", "#8c564b", "#17becf", "#bcbd22", "#ffffff", "#1f77b4"]
    paths = {}
    n = len(optimizers)
    for i, ((label, opt), color) in enumerate(zip(optimizers.items(), colors * 3)):
        p = optimizer_path(loss_fn, start, opt, steps)
        paths[label] = p
        shown = np.clip(p, [x0, y0], [x1, y1])
        z = 10 + n - i
        ax.plot(shown[:, 0], shown[:, 1], "-o", ms=2.5, lw=1.8, color=color, label=label, zorder=z)
        ax.scatter(shown[-1:, 0], shown[-1:, 1], s=45, color=color, edgecolor="k", zorder=z)
    if minimum is not None:
        ax.scatter([minimum[0]], [minimum[1]], s=220, marker="*", color="gold", edgecolor="k", zorder=30,
                   label="minimum")
    ax.scatter([start[0]], [start[1]], s=120, marker="X", color="k", zorder=5, label="start")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(weight_names[0])
    ax.set_ylabel(weight_names[1])
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    fig.paths = paths
    return finish(fig, path)
