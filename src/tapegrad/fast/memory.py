"""Memory for the fast wing: buffers that start on a cache line, a compiled step's workspace,
and glibc's allocator setting.

All are about the machine, not about the math: the results are the same without them.

``empty_aligned`` gives buffers that live across training steps (the optimizer's scratch
arrays here) a start on a 64-byte boundary, so no vector load splits across two cache
lines. ``Workspace`` gives a replayed step the scratch arrays of the step before
(``backend.empty``), so the step's large arrays do not come from new memory each time.
``tune_allocator`` keeps freed memory in the process for reuse instead of handing
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

from .. import backend
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


class Workspace:
    """The scratch arrays of one compiled step, given out again on its next replay.

    While a replay runs between ``begin`` and ``end``, ``backend.empty`` and ``backend.zeros``
    (the large scratch arrays of convolutions, pooling and recurrences) take their arrays
    from here: a kept array of the requested shape and dtype that nothing else holds any
    more, else a new one, which is kept. A new array of a few megabytes costs the operating
    system's page faults on every step, since the C allocator hands such memory back when
    it is freed (glibc returns blocks above its mmap threshold and trims its heap's top),
    and on a small LSTM or LeNet step those faults are a large part of the time
    (``benchmarks/README.md``).
    This is what the buffer assignment of compilers such as XLA gives a jitted step,
    without changing how the whole process allocates.

    An array is free when CPython's reference count says that only this workspace holds it:
    a tensor, a view, a node of the graph or a user's variable holding it keeps it from
    being given out. ``end`` keeps the arrays given out during the step and drops the rest,
    so between steps the workspace holds at most what one step was given. Interpreters
    without reference counts (and free-threaded CPython, whose counts are not exact) get a
    new array every time.

    Example:
        >>> from tapegrad import backend
        >>> ws = Workspace()
        >>> ws.begin()
        >>> a = backend.empty((2, 3), "float32")
        >>> ws.end()
        >>> ws.begin()
        >>> b = backend.empty((2, 3), "float32")  # a is still held: a new array
        >>> del a
        >>> c = backend.empty((2, 3), "float32")  # the first one, free again
        >>> ws.end()
        >>> b is c, len(ws.arrays[((2, 3), "float32")])
        (False, 2)
    """

    def __init__(self) -> None:
        self.arrays: dict = {}  # (shape, dtype) -> the arrays kept for it
        self.used: set = set()  # ids of the arrays given out during this step
        self.count = 0  # how many arrays are kept
        self.previous = None  # the pool that was in force before begin

    def begin(self) -> None:
        """Give out this workspace's arrays from now on (in this thread)."""
        self.previous = backend.workspace.pool
        backend.workspace.pool = self if _COUNTED else None

    def end(self) -> None:
        """Stop giving out arrays; keep only those that this step was given."""
        backend.workspace.pool = self.previous
        self.previous = None
        used = self.used
        if len(used) < self.count:  # some kept array went unused this step
            for key in list(self.arrays):
                kept = [a for a in self.arrays[key] if id(a) in used]
                if kept:
                    self.arrays[key] = kept
                else:
                    del self.arrays[key]
            self.count = len(used)
        used.clear()

    def empty(self, shape, dtype) -> np.ndarray:
        """A kept array of ``shape`` and ``dtype`` that nothing else holds, or a new one."""
        if shape.__class__ is not tuple:
            shape = tuple(shape) if isinstance(shape, (list, tuple)) else (int(shape),)
        key = (shape, dtype)
        arrays = self.arrays.get(key)
        if arrays is None:
            arrays = self.arrays[key] = []
        for a in arrays:
            if _getrefcount(a) == _FREE:  # held by the list, the loop and getrefcount's argument
                break
        else:
            a = xp.empty(shape, dtype=dtype)
            arrays.append(a)
            self.count += 1
        self.used.add(id(a))
        return a


def _counted() -> bool:
    """Whether reference counts say exactly who holds an array: CPython with its GIL."""
    gil = getattr(sys, "_is_gil_enabled", None)
    return sys.implementation.name == "cpython" and (gil is None or gil()) and xp is np


_COUNTED = _counted()
_FREE = 3
_getrefcount = getattr(sys, "getrefcount", None)


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


__all__ = ["ALIGNMENT", "Workspace", "empty_aligned", "zeros_aligned", "copy_aligned", "tune_allocator"]
