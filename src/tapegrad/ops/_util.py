"""Helpers shared by the op modules: lifting Python values to tensors, casts, a zero operand."""

from __future__ import annotations

import math

import numpy as np

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor, as_array
from ..backend import xp

_F32 = np.dtype("float32")


def lift(value, like_dtype) -> Tensor:
    """A tensor for ``value``; a Python scalar takes ``like_dtype`` (float32 tensor * 0.5 stays float32)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        if like_dtype.kind == "f" or not isinstance(value, float):
            return Tensor._wrap(xp.asarray(value, dtype=like_dtype))
        return Tensor._wrap(xp.asarray(value, dtype=_F32))
    return Tensor._wrap(as_array(value))


def pair(a, b) -> tuple[Tensor, Tensor]:
    """Two tensors for a binary op, promoting Python scalars to the other side's dtype."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = lift(b, a.data.dtype)
    elif isinstance(b, Tensor):
        a = lift(a, b.data.dtype)
    else:
        a = lift(a, _F32)
        b = lift(b, a.data.dtype)
    da, db = a.data.dtype, b.data.dtype
    if da != db and da.kind in "iub" and db.kind == "f" and da.kind != db.kind:
        a = cast_tensor(a, db)
    elif da != db and db.kind in "iub" and da.kind == "f":
        b = cast_tensor(b, da)
    return a, b


class Cast(Function):
    """A change of dtype; the gradient flows back between float types only (``tf.cast``)."""

    def forward(self, a, dtype):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.src) if self.src.kind == "f" else None,)


def cast_tensor(t: Tensor, dtype) -> Tensor:
    """``t`` as ``dtype`` (``t`` itself when it has that dtype already)."""
    dtype = np.dtype(dtype)
    return t if t.dtype == dtype else Cast.apply(t, dtype=dtype)


def tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor._wrap(as_array(value))


def normalize_axis(axis, ndim: int, op: str):
    """``axis`` as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


_zero_buffers: dict = {}
_zero_views: dict = {}  # (shape, dtype) -> a view of the buffer, as asked for last time
CACHED_ZEROS = 1 << 22


def zeros_operand(shape, dtype):
    """A read-only array of zeros of ``shape``, to compare against instead of the scalar 0.

    NumPy runs ``maximum(x, 0)`` (an array against a scalar) without its vector loop, and
    ``maximum(x, z)`` with ``z`` an array of zeros with it. One buffer per dtype, grown to
    the largest size asked for (up to ``CACHED_ZEROS`` elements, 16 MB of float32) and
    never written, serves every caller; larger requests get fresh zeros. ``shape`` is a
    tuple; the view made for a shape and dtype is kept for the next call that asks for it.
    """
    view = _zero_views.get((shape, dtype))
    if view is not None:
        return view
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size > CACHED_ZEROS:
        return xp.zeros(shape, dtype=dtype)
    buf = _zero_buffers.get(dtype)
    if buf is None or buf.size < size:
        buf = xp.zeros(max(size, 1), dtype=dtype)
        if isinstance(buf, np.ndarray):
            buf.flags.writeable = False
        _zero_buffers[dtype] = buf
    if len(_zero_views) >= 64:
        _zero_views.clear()
    view = _zero_views[(tuple(shape), dtype)] = buf[:size].reshape(shape)
    return view
