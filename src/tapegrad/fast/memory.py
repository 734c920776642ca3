"""Memory for the fast wing: buffers that start on a cache line, and glibc's allocator setting.

Both are about the machine, not about the math: the results are the same without them.

``empty_aligned`` gives buffers that live across training steps (the optimizer's scratch
arrays here) a start on a 64-byte boundary, so no vector load splits across two cache
lines. ``tune_allocator`` keeps freed memory in the process for reuse instead of handing
it back to the operating system, as PyTorch's caching allocator does; it changes the
whole process, so it runs only when machine tuning is on (``tg.config``).

Example:
    >>> a = empty_aligned((3, 5), "float32")
    >>> a.ctypes.data % ALIGNMENT, a.shape, a.flags.c_contiguous
    (0, (3, 5), True)
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ..backend import xp

ALIGNMENT = 64
"""Bytes: the boundary (one cache line) on which long-lived buffers start."""


def empty_aligned(shape, dtype) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary: a view of
    a slightly larger buffer. Other backends than NumPy get a plain ``xp.empty``."""
    dtype = np.dtype(dtype)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def zeros_aligned(shape, dtype) -> np.ndarray:
    """Zeros, starting on a 64-byte boundary (see ``empty_aligned``).

    Example:
        >>> float(zeros_aligned((2,), "float64").sum())
        0.0
    """
    out = empty_aligned(shape, dtype)
    out.fill(0)
    return out


def copy_aligned(array) -> np.ndarray:
    """A C-contiguous copy of ``array`` starting on a 64-byte boundary (see ``empty_aligned``).

    Example:
        >>> copy_aligned(np.arange(3.0)).tolist()
        [0.0, 1.0, 2.0]
    """
    out = empty_aligned(array.shape, array.dtype)
    out[...] = array
    return out


_allocator = {"tuned": False}


def tune_allocator() -> bool:
    """Raise glibc's mmap threshold to 32 MB and its trim threshold to 1 GB, once per process.

    A training step frees and allocates the same large arrays every time; by default glibc
    may return blocks of a few MB to the operating system and then pay page faults and
    zeroing for them again on the next step. With these thresholds the process keeps its
    peak working set. Does nothing off Linux or without glibc. Returns whether the setting
    is in force.

    Example:
        >>> isinstance(tune_allocator(), bool)
        True
    """
    if _allocator["tuned"]:
        return _allocator["ok"]
    _allocator["tuned"], _allocator["ok"] = True, False
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1
    _allocator["ok"] = mallopt(m_trim_threshold, 1024 * 1024 * 1024) == 1 and ok
    return _allocator["ok"]


__all__ = ["ALIGNMENT", "empty_aligned", "zeros_aligned", "copy_aligned", "tune_allocator"]
