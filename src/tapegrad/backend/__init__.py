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

import math
import os
import sys

import numpy as np


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


def to_numpy(array) -> np.ndarray:
    """Return a NumPy array for a backend array (copied from the device for CuPy)."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    if get is not None:  # CuPy arrays
        return get()
    return np.asarray(array)


ALIGNMENT = 64
"""Bytes: the boundary (one cache line) on which long-lived arrays start."""


def empty_aligned(shape, dtype) -> "np.ndarray":
    """An uninitialized array whose data starts on a 64-byte boundary.

    NumPy's arrays start wherever malloc puts them, 16-byte aligned, so about half of
    them split every 32-byte vector load across two cache lines. Measured here: Adam's
    ten passes over a 784x256 float32 kernel took 233 us with the arrays 16 bytes off a
    32-byte boundary and 217 us aligned. tapegrad allocates what lives across training
    steps this way (weights, optimizer state and its work buffers); per-step results
    come from NumPy as usual. The array is a view of a slightly larger buffer. Other
    backends get a plain ``xp.empty``.

    Example:
        >>> a = empty_aligned((3, 5), "float32")
        >>> a.ctypes.data % ALIGNMENT, a.shape, a.flags.c_contiguous
        (0, (3, 5), True)
    """
    dtype = np.dtype(dtype)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def zeros_aligned(shape, dtype) -> "np.ndarray":
    """Zeros, starting on a 64-byte boundary (see ``empty_aligned``)."""
    out = empty_aligned(shape, dtype)
    out.fill(0)
    return out


def copy_aligned(array) -> "np.ndarray":
    """A C-contiguous copy of ``array`` starting on a 64-byte boundary (see ``empty_aligned``)."""
    out = empty_aligned(array.shape, array.dtype)
    out[...] = array
    return out


_allocator = {"tuned": False}


def tune_allocator() -> bool:
    """Keep freed memory for reuse instead of returning it to the OS (glibc only).

    A training step frees and re-allocates the same large arrays every time. By
    default glibc hands blocks above a few MB back to the operating system, so
    each step pays page faults and zeroing for them again (measured on the LeNet
    benchmark: 17.4 ms per step, 8.7 ms with this setting). This raises glibc's
    mmap threshold to 32 MB and its trim threshold to 1 GB, so the process keeps
    its peak working set, as PyTorch's caching allocator does. tapegrad calls it
    once, on the first backward pass (never on import); set the environment
    variable ``TAPEGRAD_MALLOC_TUNING=0`` to leave the allocator alone. Returns
    whether the setting was applied.
    """
    if _allocator["tuned"]:
        return True
    _allocator["tuned"] = True
    if os.environ.get("TAPEGRAD_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1
    ok = mallopt(m_trim_threshold, 1024 * 1024 * 1024) == 1 and ok
    return ok


__all__ = ["xp", "name", "to_numpy", "tune_allocator", "ALIGNMENT", "empty_aligned", "zeros_aligned",
           "copy_aligned"]

from .threads import ThreadGovernor, adaptive_threads, set_adaptive_threads  # noqa: E402 - needs xp

__all__ += ["ThreadGovernor", "adaptive_threads", "set_adaptive_threads"]
