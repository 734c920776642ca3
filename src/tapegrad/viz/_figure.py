"""Figures without pyplot: headless-safe (no backend is chosen or changed) and closed by design."""

from __future__ import annotations

import os

from .._extras import require_matplotlib
from ..saving.atomic import atomic_path


def new_figure(width: float = 7.0, height: float = 5.0):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finish(fig, path: str | os.PathLike | None):
    """Save ``fig`` to ``path`` atomically (format from the extension) and return it."""
    if path is not None:
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext)
    return fig
