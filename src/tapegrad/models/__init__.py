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
    """Rebuild a model saved with ``model.save`` (architecture, weights, optimizer state) (``keras.models.load_model``).

    Args:
        filepath: the ``.tapegrad`` file written by ``model.save`` (Keras writes ``.keras``).
        custom_objects: a dict of name to class for your own layers or losses (default None).
        compile: compile the model as it was saved (default True).
        max_weight_bytes: refuse, before allocating, a model whose weights would take more bytes
            (default None: 2 GiB); ``tg.saving.load_model`` describes the limits and ``ModelFileError``.

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.tapegrad")
        >>> model.save(path)
        >>> tg.models.load_model(path).count_params()
        3
    """
    from ..saving.archive import MAX_WEIGHT_BYTES
    from ..saving.archive import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile,
                 max_weight_bytes=MAX_WEIGHT_BYTES if max_weight_bytes is None else max_weight_bytes)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
