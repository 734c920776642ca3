"""Figures without pyplot: headless-safe (no backend is chosen or changed) and closed by design."""

from __future__ import annotations

import os

from .._extras import require_matplotlib
from ..saving.atomic import atomic_path


_figure_class = None


def _displayable_figure_class():
    """A matplotlib ``Figure`` that Jupyter shows as a picture on its own.

    A figure made without pyplot has no display hook in IPython unless ``%matplotlib``
    ran (its text form, ``<Figure size ...>``, is what a notebook would show); this one
    renders itself as PNG through ``_repr_png_``, which IPython asks for first.
    """
    global _figure_class
    if _figure_class is None:
        import io

        from matplotlib.figure import Figure

        class TapegradFigure(Figure):
            def _repr_png_(self) -> bytes:
                buf = io.BytesIO()
                self.savefig(buf, format="png")
                return buf.getvalue()

        _figure_class = TapegradFigure
    return _figure_class


def new_figure(width: float = 7.0, height: float = 5.0):
    """An empty figure with an Agg canvas (no pyplot, no display needed) that a notebook shows inline."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _displayable_figure_class()(figsize=(width, height), dpi=110, layout="constrained")
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
