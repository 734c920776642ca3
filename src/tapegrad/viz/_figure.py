"""Figures without pyplot: headless-safe (no backend is chosen or changed) and closed by design."""

from __future__ import annotations

import os

from ..saving.atomic import atomic_path


def new_figure(width: float = 7.0, height: float = 5.0):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("tapegrad's pictures need matplotlib: pip install 'tapegrad[viz]'") from exc
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
