"""Whether operations record a graph (``tg.no_grad()`` turns recording off)."""

from __future__ import annotations

import contextlib
from typing import Iterator


class _Mode:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


mode = _Mode()


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
    """Turn recording back on inside a ``no_grad`` block."""
    previous = mode.enabled
    mode.enabled = True
    try:
        yield
    finally:
        mode.enabled = previous


def is_grad_enabled() -> bool:
    return mode.enabled
