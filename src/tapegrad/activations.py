"""Activation functions by name (``tg.activations.get("relu")``), as Keras.

Example:
    >>> import tapegrad as tg
    >>> tg.activations.get("relu")(tg.constant([-1.0, 1.0])).numpy().tolist()
    [0.0, 1.0]
"""

from __future__ import annotations

from typing import Callable

from . import ops


def linear(x):
    """The identity (Keras's ``"linear"``, also what ``activation=None`` means).

    Args:
        x: a tensor.

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.linear(tg.constant([-1.0])).numpy().tolist()
        [-1.0]
    """
    return x


sigmoid = ops.sigmoid
tanh = ops.tanh
relu = ops.relu
leaky_relu = ops.leaky_relu
elu = ops.elu
selu = ops.selu
softplus = ops.softplus
softsign = ops.softsign
gelu = ops.gelu
swish = ops.swish
silu = ops.swish
hard_sigmoid = ops.hard_sigmoid


def softmax(x, axis: int = -1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (``keras.activations.softmax``).

    Args:
        x: a tensor.
        axis: the axis that sums to 1 (default -1).

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.softmax(tg.constant([[0.0, 0.0]])).numpy().tolist()
        [[0.5, 0.5]]
    """
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis: int = -1):
    """``log(softmax(x))`` along ``axis``, computed stably (``keras.activations.log_softmax``).

    Args:
        x: a tensor.
        axis: the axis of the distribution (default -1).

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.log_softmax(tg.constant([0.0, 0.0], tg.float64)).numpy().round(4).tolist()
        [-0.6931, -0.6931]
    """
    return ops.log_softmax(x, axis=axis)


ALL: dict[str, Callable] = {
    "linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu, "elu": elu,
    "selu": selu, "softplus": softplus, "softsign": softsign, "softmax": softmax, "log_softmax": log_softmax,
    "gelu": gelu, "swish": swish, "silu": silu, "hard_sigmoid": hard_sigmoid,
}
_NAMES = {fn: name for name, fn in ALL.items() if name != "silu"}


def get(identifier) -> Callable:
    """An activation function from a name, a function, or None (the identity) (``keras.activations.get``).

    Args:
        identifier: ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"``, ``"gelu"`` ..., a function, or None.

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.get("relu") is tg.relu, tg.activations.get(None) is tg.activations.linear
        (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return ALL[identifier]
        except KeyError:
            raise ValueError(
                f"Unknown activation {identifier!r}; valid names are: {', '.join(sorted(ALL))}"
            ) from None
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, a callable or None, received {type(identifier).__name__}")


def serialize(fn: Callable) -> str:
    """The name of a built-in activation (used by ``get_config``).

    Args:
        fn: an activation function from ``tg.activations``.

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.serialize(tg.relu)
        'relu'
    """
    name = _NAMES.get(fn)
    if name is None:
        name = getattr(fn, "__name__", None)
        if name not in ALL:
            raise ValueError(f"cannot serialize the custom activation {fn!r}; pass it by name or register it")
    return name


__all__ = ["get", "serialize", "ALL", *sorted(ALL)]
