"""``clone_model``: a new model with the same architecture and fresh weights (Keras's)."""

from __future__ import annotations

from typing import Any

from ..saving.registry import deserialize_layer


def clone_model(model: Any) -> Any:
    """A new, uncompiled model of the same architecture as ``model``, with newly initialized weights.

    As Keras's ``keras.models.clone_model``: the layers are rebuilt from their configs, so
    no weight is shared with ``model``, and the weights are drawn again from the layers'
    initializers (``tg.random.set_seed`` makes them reproducible). Differs from Keras: there
    are no ``input_tensors``/``clone_function`` arguments; a subclassed model must be
    registered with ``@tg.saving.register_serializable()`` and have a ``get_config`` that
    rebuilds it.

    Args:
        model: a ``tg.Sequential`` or a registered ``tg.Model`` subclass.

    Returns:
        The clone, built when ``model`` is built (same input shape), not compiled.

    Example:
        >>> import tapegrad as tg
        >>> m = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(2)])
        >>> c = tg.models.clone_model(m)
        >>> c.layers[0].kernel.shape, c.layers[0].kernel is m.layers[0].kernel, c.compiled
        ((3, 2), False, False)
    """
    from .model import Model

    if not isinstance(model, Model):
        raise TypeError(f"clone_model: expected a tg.Model or tg.Sequential, received {type(model).__name__}")
    class_name = getattr(type(model), "_registered_name", type(model).__name__)
    try:
        clone = deserialize_layer({"class_name": class_name, "config": model.get_config()})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"clone_model: cannot rebuild model {model.name!r} of class {type(model).__name__} from "
                         f"its config ({exc})") from None
    shape = getattr(model, "_build_shape", None)
    if model.built and not clone.built and shape is not None:
        clone.build(tuple(shape))
    return clone
