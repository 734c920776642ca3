"""The feature space: data points and the model's decision boundary."""

from __future__ import annotations

import numpy as np

from ._figure import finish, new_figure


def plot_decision_boundary(model, x, y, path=None, resolution: int = 200, feature_names=("x1", "x2"),
                           class_names=None, title="Decision boundary in the feature space", highlight=None):
    """Shade the predicted probability over the plane, draw the 0.5 contour and the points.

    ``model`` maps ``(n, 2)`` inputs to one probability (or logit, detected by range) per point, or
    to class scores (the argmax is shaded). A figure shows itself inline in a Jupyter notebook.

    Args:
        model: a model with ``predict``, or a function of an ``(n, 2)`` array.
        x: the points, shape ``(n, 2)``.
        y: their labels (``(n,)``, ``(n, 1)`` or one-hot).
        path: an image file to write (default None: none).
        resolution: grid points per axis (default 200).
        feature_names: the axis labels (default ("x1", "x2")).
        class_names: the legend's class names (default None: "class 0", "class 1" ...).
        title: the title (default "Decision boundary in the feature space").
        highlight: a point ``(x1, x2)`` to mark with a star, e.g. the lecture's student (default None).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_pass_fail(64)
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy")
        >>> fig = tg.viz.plot_decision_boundary(model, x, y, resolution=20, highlight=(4, 5))
        >>> fig.axes[0].get_xlabel()
        'x1'
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).reshape(len(x), -1)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: expected x of shape (n, 2), received {x.shape}")
    pad = 0.1 * (x.max(0) - x.min(0) + 1e-9)
    lo, hi = x.min(0) - pad, x.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    out = np.asarray(model.predict(grid, verbose=0) if hasattr(model, "predict") else model(grid))
    fig = new_figure(6.4, 5.2)
    ax = fig.subplots()
    labels = y[:, 0] if y.shape[1] == 1 else y.argmax(1)
    if out.ndim == 1 or out.shape[1] == 1:
        p = out.reshape(-1)
        if p.min() < 0 or p.max() > 1:  # logits
            p = 1 / (1 + np.exp(-p))
        p = p.reshape(gx.shape)
        mesh = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.75)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=2)
        positive = class_names[1] if class_names and len(class_names) > 1 else "class 1"
        fig.colorbar(mesh, ax=ax, label=f"predicted probability of {positive}")
    else:
        cls = out.argmax(1).reshape(gx.shape)
        ax.contourf(gx, gy, cls, levels=np.arange(out.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.35)
    names = class_names or [f"class {int(c)}" for c in np.unique(labels)]
    markers = ["o", "s", "^", "D", "v"]
    for i, c in enumerate(np.unique(labels)):
        sel = labels == c
        ax.scatter(x[sel, 0], x[sel, 1], s=22, marker=markers[i % 5], edgecolor="k", linewidth=0.5,
                   label=names[i] if i < len(names) else str(c))
    if highlight is not None:
        ax.scatter([highlight[0]], [highlight[1]], s=260, marker="*", color="gold", edgecolor="k", zorder=5,
                   label="query point")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return finish(fig, path)
