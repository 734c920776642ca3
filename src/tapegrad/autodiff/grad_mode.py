"""Whether operations record a graph (``tg.no_grad()`` turns recording off).

The setting is per thread, as PyTorch's: ``no_grad`` in one thread (a predicting or
data-loading thread, say) leaves recording on in another that trains.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from types import MethodType
from typing import Any, Callable, Iterator


class _Mode(threading.local):
    """Each thread's recording state: ``enabled`` (graphs are recorded) and ``trace``
    (called as ``trace(node, inputs, params, output)`` after every ``Function.apply``
    while set: how ``tapegrad.fast`` records a forward pass), and, while ``tg.function``
    records a whole step, ``effect`` (called as ``effect(kind, method, args, kwargs)`` instead
    of a call with side effects: a tape's gradient, an optimizer's update, a metric's or a
    variable's change, a loss; it runs the call and returns its result) and ``escape`` (called
    with a description when Python reads a tensor's value: ``float(t)``, ``if t:``, ``t.numpy()``)."""

    def __init__(self) -> None:
        self.enabled = True
        self.trace: Callable[..., Any] | None = None
        self.effect: Callable[..., Any] | None = None
        self.escape: Callable[[str], None] | None = None


mode = _Mode()


def reported(kind: str, method: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for a call with side effects: while ``tg.function`` records a step
    (``mode.effect`` set), the call goes to ``mode.effect(kind, call, args, kwargs)``, which runs
    it and records it; otherwise it runs as written. With ``method``, the decorated function is
    a method and the recorder is given it bound to its object."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if mode.effect is None:
                return fn(*args, **kwargs)
            if method:
                return mode.effect(kind, MethodType(fn, args[0]), args[1:], kwargs)
            return mode.effect(kind, fn, args, kwargs)

        wrapper.reported = kind  # type: ignore[attr-defined]
        return wrapper

    return decorate


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run the block without recording a graph, as ``torch.no_grad()``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0, 2.0])
        >>> with tg.no_grad():
        ...     y = w * 2.0
        >>> y.requires_grad
        False
    """
    previous = mode.enabled
    mode.enabled = False
    try:
        yield
    finally:
        mode.enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Turn recording back on inside a ``no_grad`` block (``torch.enable_grad``).

    Example:
        >>> import tapegrad as tg
        >>> with tg.no_grad():
        ...     with tg.enable_grad():
        ...         inner = tg.is_grad_enabled()
        ...     outer = tg.is_grad_enabled()
        >>> inner, outer
        (True, False)
    """
    previous = mode.enabled
    mode.enabled = True
    try:
        yield
    finally:
        mode.enabled = previous


def is_grad_enabled() -> bool:
    """Whether operations record a graph in this thread (``torch.is_grad_enabled``).

    Example:
        >>> import tapegrad as tg
        >>> with tg.no_grad():
        ...     off = tg.is_grad_enabled()
        >>> off, tg.is_grad_enabled()
        (False, True)
    """
    return mode.enabled
