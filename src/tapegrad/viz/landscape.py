"""The loss landscape of a two-weight model, and the paths optimizers take across it."""

from __future__ import annotations

import numpy as np

from .. import optimizers as _opt
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import Tensor, Variable
from ._figure import finish, new_figure


def optimizer_path(loss_fn, start, optimizer, steps: int = 60) -> np.ndarray:
    """The sequence of weights ``(steps + 1, 2)`` that ``optimizer`` visits from ``start``."""
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

    Plain gradient descent on a quadratic bowl converges only for rates below
    ``2 / curvature``; ``1 / curvature`` is the fastest safe rate.
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
    """The lecture's three fixed rates (too small, good, too large) and adaptive optimizers.

    With ``good_lr = 1 / curvature``, ``2.4 * good_lr`` is past the stability limit of
    gradient descent (it overshoots and oscillates) and ``good_lr / 20`` crawls.
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

    ``loss_fn`` takes a tensor of shape ``(2,)`` and returns a scalar tensor.
    ``optimizers`` maps a label to an optimizer (default: :func:`default_optimizers`);
    ``minimum``, if given, is marked with a star. Earlier paths are drawn on top.
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
