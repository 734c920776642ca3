"""The array backend: every piece of array math in tapegrad goes through ``xp``.

``xp`` is NumPy by default. A GPU backend is chosen once, at import time, with the
environment variable ``TAPEGRAD_BACKEND=cupy`` (CuPy mirrors NumPy's API). Ops call
``xp.<fn>`` and never ``numpy`` directly for computation, so that is the one seam
a GPU backend plugs into. The choice is fixed for the process: ops bind ``xp``
when they are imported, which keeps the per-op cost at zero.

Example:
    >>> from tapegrad.backend import xp
    >>> float(xp.exp(xp.zeros(())))
    1.0
"""

from __future__ import annotations

import os
import threading

import numpy as np
from numpy.typing import DTypeLike


def _select(backend_name: str):
    if backend_name == "numpy":
        return np
    if backend_name == "cupy":
        try:
            import cupy  # noqa: PLC0415 - optional dependency
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ImportError(
                "TAPEGRAD_BACKEND=cupy needs CuPy and a CUDA GPU; CuPy is not installed"
            ) from exc
        return cupy
    raise ValueError(
        f"TAPEGRAD_BACKEND: expected 'numpy' or 'cupy', received {backend_name!r}"
    )


name: str = os.environ.get("TAPEGRAD_BACKEND", "numpy")
xp = _select(name)
"""The active array module."""


class _Workspace(threading.local):
    """Each thread's source of the arrays that ``empty`` and ``zeros`` return: ``pool`` is None
    (a new array on every call), or an object with ``empty(shape, dtype)`` that a compiled
    training step installs for its duration (``tapegrad.fast``: the arrays of the last step,
    handed out again where nothing else holds them)."""

    def __init__(self) -> None:
        self.pool = None


workspace = _Workspace()


def empty(shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` with arbitrary contents, as ``xp.empty``: the
    large scratch arrays of convolutions, pooling and recurrences are made here, so that a
    compiled step can give them out again instead of new memory (see ``workspace``).

    Args:
        shape: the array's shape (a tuple of ints).
        dtype: its dtype.

    Example:
        >>> from tapegrad.backend import empty
        >>> empty((2, 3), "float32").shape
        (2, 3)
    """
    pool = workspace.pool
    if pool is None:
        return xp.empty(shape, dtype=dtype)
    return pool.empty(shape, dtype)


def zeros(shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """An array of zeros of ``shape`` and ``dtype``, as ``xp.zeros`` (see ``empty``).

    Args:
        shape: the array's shape (a tuple of ints).
        dtype: its dtype.

    Example:
        >>> from tapegrad.backend import zeros
        >>> zeros((2,), "float32").tolist()
        [0.0, 0.0]
    """
    pool = workspace.pool
    if pool is None:
        return xp.zeros(shape, dtype=dtype)
    out = pool.empty(shape, dtype)
    out.fill(0)
    return out


def to_numpy(array) -> np.ndarray:
    """Return a NumPy array for a backend array (copied from the device for CuPy; the same array on NumPy).

    Args:
        array: a backend array.

    Example:
        >>> import numpy as np
        >>> from tapegrad.backend import to_numpy
        >>> a = np.zeros(2)
        >>> to_numpy(a) is a
        True
    """
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    if get is not None:  # CuPy arrays
        return get()
    return np.asarray(array)


__all__ = ["xp", "name", "to_numpy", "empty", "zeros", "workspace"]
