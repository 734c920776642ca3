"""Optimizers (``tg.optimizers``): SGD, momentum, Adagrad, Adadelta, RMSprop, Adam and friends."""

from . import schedules
from .adam import Adam, Adamax, AdamW, Nadam
from .adaptive import Adadelta, Adagrad, RMSprop
from .base import Optimizer
from .sgd import SGD

ALL = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "nadam": Nadam, "adamax": Adamax, "adagrad": Adagrad,
       "adadelta": Adadelta, "rmsprop": RMSprop}
_CLASSES = {c.__name__: c for c in ALL.values()}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``), a class name, a config dict or an instance (``keras.optimizers.get``).

    Args:
        identifier: ``"sgd"``, ``"adam"``, ``"rmsprop"`` ..., ``"Adam"``, a config dict, or an ``Optimizer``
            (returned as is). A name gives the optimizer with Keras's default arguments.

    Example:
        >>> import tapegrad as tg
        >>> opt = tg.optimizers.get("adam")
        >>> type(opt).__name__, float(opt.learning_rate)
        ('Adam', 0.001)
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; valid names are: {', '.join(sorted(ALL))}")
        return cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown optimizer config {identifier!r}")
        return cls(**{k: v for k, v in identifier.get("config", {}).items() if v is not None or k == "weight_decay"})
    raise TypeError(f"optimizer must be a name or an Optimizer, received {identifier!r}")


def serialize(opt: Optimizer) -> dict:
    """An optimizer's config, ``{"class_name": ..., "config": ...}``; ``get`` turns it back into an optimizer.

    Args:
        opt: an ``Optimizer``.

    Example:
        >>> import tapegrad as tg
        >>> cfg = tg.optimizers.serialize(tg.optimizers.SGD(0.1, momentum=0.9))
        >>> cfg["class_name"], cfg["config"]["momentum"]
        ('SGD', 0.9)
    """
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Nadam", "Adamax", "Adagrad", "Adadelta", "RMSprop",
           "schedules", "get", "serialize"]
