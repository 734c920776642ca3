"""Models (``tg.Model``, ``tg.Sequential``) and loading (``tg.models.load_model``)."""

from ..saving.registry import register_builtin_model
from .model import Model
from .sequential import Sequential
from .functional import Functional

register_builtin_model(Model)
register_builtin_model(Sequential)
register_builtin_model(Functional)


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002 - Keras's name
    """Rebuild a model saved with ``model.save`` (architecture, weights, optimizer state)."""
    from ..saving.archive import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)


__all__ = ["Functional", "Model", "Sequential", "load_model"]
