"""Models (``tg.Model``, ``tg.Sequential``) and loading (``tg.models.load_model``)."""

from ..saving.registry import register_builtin_model
from .cloning import clone_model
from .model import Model
from .sequential import Sequential
from .functional import Functional

register_builtin_model(Model)
register_builtin_model(Sequential)
register_builtin_model(Functional)


def load_model(filepath, custom_objects=None, compile: bool = True,  # noqa: A002 - Keras's name
               max_weight_bytes: int | None = None):
    """Rebuild a model saved with ``model.save`` (architecture, weights, optimizer state);
    ``tg.saving.load_model`` describes the limits (``max_weight_bytes``) and ``ModelFileError``."""
    from ..saving.archive import MAX_WEIGHT_BYTES
    from ..saving.archive import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile,
                 max_weight_bytes=MAX_WEIGHT_BYTES if max_weight_bytes is None else max_weight_bytes)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
