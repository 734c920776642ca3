"""The strategy in force: ``with strategy.scope():`` makes models compiled inside it distributed."""

from __future__ import annotations

import threading

_local = threading.local()


def get_strategy():
    """The strategy whose ``scope()`` this thread is in, or None outside every scope.

    Where we differ from Keras: Keras returns a default single-device strategy outside
    every scope; here there is nothing to distribute then, and the answer is None.

    Example:
        >>> import tapegrad as tg
        >>> tg.distribute.get_strategy() is None
        True
    """
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def has_strategy() -> bool:
    """Whether this thread is inside a strategy's ``scope()``.

    Example:
        >>> import tapegrad as tg
        >>> tg.distribute.has_strategy()
        False
    """
    return get_strategy() is not None


class _Scope:
    """What ``strategy.scope()`` returns: enters the strategy for this thread."""

    def __init__(self, strategy) -> None:
        self.strategy = strategy

    def __enter__(self):
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self.strategy)
        return self.strategy

    def __exit__(self, *exc) -> None:
        _local.stack.pop()


__all__ = ["get_strategy", "has_strategy"]
