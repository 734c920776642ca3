"""Creating tensors, and dtype casts."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autodiff.tensor import Tensor, as_array
from ..backend import xp
from ._util import Cast, tensor

_F32 = np.dtype("float32")


def _dtype(dtype, default=_F32):
    return default if dtype is None else np.dtype(dtype)


def constant(value: Any, dtype=None, shape=None, name: str | None = None) -> Tensor:
    """A tensor that records nothing unless watched (``tf.constant``).

    Example:
        >>> import tapegrad as tg
        >>> tg.constant([[1, 2], [3, 4]]).shape
        (2, 2)
    """
    t = Tensor(value, dtype=dtype, name=name)
    if shape is not None:
        t = Tensor._wrap(xp.broadcast_to(t.data, tuple(shape)).copy())
    return t


def convert_to_tensor(value: Any, dtype=None) -> Tensor:
    if isinstance(value, Tensor) and (dtype is None or value.dtype == np.dtype(dtype)):
        return value
    return Tensor(value, dtype=dtype)


def from_dlpack(x: Any) -> Tensor:
    """A tensor that shares memory with ``x``, any DLPack producer (the array API's protocol).

    Args:
        x: an object with ``__dlpack__`` and ``__dlpack_device__``: a NumPy array, a PyTorch
            tensor (detached: PyTorch refuses to export one that requires gradients), a JAX or
            CuPy array, or a ``tg.Tensor``. It must live on the backend's device (the CPU for
            the NumPy backend).

    Returns:
        A ``Tensor`` whose ``data`` is a view of ``x``'s memory, with ``x``'s dtype (no float32
        cast, unlike ``tg.Tensor``): writing to one changes the other.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> a = np.arange(3.0)
        >>> t = tg.from_dlpack(a)
        >>> a[0] = 7.0
        >>> t.tolist(), t.dtype.name
        ([7.0, 1.0, 2.0], 'float64')
    """
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a NumPy array, a PyTorch tensor, ...), "
                        f"received {type(x).__name__}")
    return Tensor._wrap(xp.from_dlpack(x))


def zeros(shape, dtype=None) -> Tensor:
    return Tensor._wrap(xp.zeros(shape, dtype=_dtype(dtype)))


def ones(shape, dtype=None) -> Tensor:
    return Tensor._wrap(xp.ones(shape, dtype=_dtype(dtype)))


def zeros_like(x, dtype=None) -> Tensor:
    x = tensor(x)
    return Tensor._wrap(xp.zeros(x.shape, dtype=_dtype(dtype, x.dtype)))


def ones_like(x, dtype=None) -> Tensor:
    x = tensor(x)
    return Tensor._wrap(xp.ones(x.shape, dtype=_dtype(dtype, x.dtype)))


def full(shape, fill_value, dtype=None) -> Tensor:
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return Tensor._wrap(xp.full(shape, fill_value, dtype=np.dtype(dtype)))


def fill(dims, value) -> Tensor:
    """``tf.fill`` spelling of :func:`full`."""
    return full(dims, value)


def eye(num_rows: int, num_columns: int | None = None, dtype=None) -> Tensor:
    return Tensor._wrap(xp.eye(num_rows, num_columns, dtype=_dtype(dtype)))


def arange(start, limit=None, delta=1, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, limit)`` (``tf.range``); ints give int32."""
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        dtype = _F32 if any(isinstance(v, float) for v in (start, limit, delta)) else np.dtype("int32")
    return Tensor._wrap(xp.arange(start, limit, delta, dtype=np.dtype(dtype)))


def linspace(start, stop, num: int, dtype=None) -> Tensor:
    return Tensor._wrap(xp.linspace(start, stop, int(num), dtype=_dtype(dtype)))


def cast(x, dtype) -> Tensor:
    """Change the dtype; differentiable between float types (``tf.cast``)."""
    x = tensor(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


def rank(x) -> Tensor:
    """The number of dimensions as a 0-d int32 tensor (``tf.rank``)."""
    return Tensor._wrap(xp.asarray(tensor(x).ndim, dtype=np.int32))


def shape(x) -> Tensor:
    """The shape as a 1-d int32 tensor (``tf.shape``); ``x.shape`` gives a tuple."""
    return Tensor._wrap(xp.asarray(tensor(x).shape, dtype=np.int32))


def stop_gradient(x) -> Tensor:
    return tensor(x).detach()


def one_hot(indices, depth: int, dtype=None) -> Tensor:
    idx = xp.asarray(tensor(indices).data).astype(np.int64)
    out = xp.zeros(idx.shape + (int(depth),), dtype=_dtype(dtype))
    valid = (idx >= 0) & (idx < depth)
    xp.put_along_axis(out, xp.where(valid, idx, 0)[..., None], valid[..., None].astype(out.dtype), axis=-1)
    return Tensor._wrap(out)
