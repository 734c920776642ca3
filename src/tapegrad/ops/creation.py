"""Creating tensors, and dtype casts."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autodiff.function import Function
from ..autodiff.grad_mode import mode
from ..autodiff.tensor import Tensor, as_array
from ..backend import xp
from ._util import Cast, tensor

_F32 = np.dtype("float32")


def _dtype(dtype, default=_F32):
    return default if dtype is None else np.dtype(dtype)


def constant(value: Any, dtype=None, shape=None, name: str | None = None) -> Tensor:
    """A tensor that records nothing unless watched (``tf.constant``).

    Python floats become float32, Python ints int32, Python text ``tg.string`` (as TensorFlow
    infers them); NumPy arrays keep their dtype unless ``dtype`` is given.

    Args:
        value: a number, string, nested list, NumPy array or Tensor.
        dtype: the dtype to cast to (default None: inferred as above).
        shape: optional shape to broadcast ``value`` to (default None: its own shape).
        name: optional name (default None).

    Example:
        >>> import tapegrad as tg
        >>> tg.constant([[1, 2], [3, 4]]).shape
        (2, 2)
        >>> tg.constant(0.5, shape=(2,)).numpy().tolist()
        [0.5, 0.5]
    """
    t = Tensor(value, dtype=dtype, name=name)
    if shape is not None:
        t = Tensor._wrap(xp.broadcast_to(t.data, tuple(shape)).copy())
    return t


def convert_to_tensor(value: Any, dtype=None) -> Tensor:
    """``value`` as a Tensor: the same object when it already is one of ``dtype`` (``tf.convert_to_tensor``).

    Args:
        value: a number, nested list, NumPy array or Tensor.
        dtype: the dtype wanted (default None: keep or infer it).

    Example:
        >>> import tapegrad as tg
        >>> t = tg.constant([1.0])
        >>> tg.convert_to_tensor(t) is t, tg.convert_to_tensor([1, 2]).dtype.name
        (True, 'int32')
    """
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
    """A tensor of zeros (``tf.zeros``).

    Args:
        shape: an int or a tuple of ints.
        dtype: the dtype (default None: float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.zeros((2, 3)).shape
        (2, 3)
    """
    if mode.trace is not None:  # a recorder is watching: the zeros are a node it can make again
        return Zeros.apply(shape=tuple(shape) if isinstance(shape, (tuple, list)) else (shape,), dtype=_dtype(dtype))
    return Tensor._wrap(xp.zeros(shape, dtype=_dtype(dtype)))


class Zeros(Function):
    """A new array of zeros, as a node with no inputs: what a recorded step (``tapegrad.fast``)
    sees of ``zeros`` (a recurrent layer's initial states), so that its replay makes them anew.

    Example:
        >>> Zeros().forward(shape=(2,), dtype=np.dtype("float32")).tolist()
        [0.0, 0.0]
    """

    def forward(self, shape, dtype):
        return xp.zeros(shape, dtype=dtype)

    def backward(self, grad):  # pragma: no cover - no inputs, never on the backward pass
        return ()


def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (``tf.ones``).

    Args:
        shape: an int or a tuple of ints.
        dtype: the dtype (default None: float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.ones(3, dtype=tg.int32).numpy().tolist()
        [1, 1, 1]
    """
    return Tensor._wrap(xp.ones(shape, dtype=_dtype(dtype)))


def zeros_like(x, dtype=None) -> Tensor:
    """Zeros with the shape (and by default the dtype) of ``x`` (``tf.zeros_like``).

    Args:
        x: a tensor or array.
        dtype: the dtype (default None: ``x``'s).

    Example:
        >>> import tapegrad as tg
        >>> tg.zeros_like(tg.constant([[1, 2]])).numpy().tolist()
        [[0, 0]]
    """
    x = tensor(x)
    return Tensor._wrap(xp.zeros(x.shape, dtype=_dtype(dtype, x.dtype)))


def ones_like(x, dtype=None) -> Tensor:
    """Ones with the shape (and by default the dtype) of ``x`` (``tf.ones_like``).

    Args:
        x: a tensor or array.
        dtype: the dtype (default None: ``x``'s).

    Example:
        >>> import tapegrad as tg
        >>> tg.ones_like(tg.constant([1.5, 2.5])).numpy().tolist()
        [1.0, 1.0]
    """
    x = tensor(x)
    return Tensor._wrap(xp.ones(x.shape, dtype=_dtype(dtype, x.dtype)))


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``.

    Args:
        shape: an int or a tuple of ints.
        fill_value: the value.
        dtype: the dtype (default None: inferred from ``fill_value``, floats as float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.full((2,), 7).numpy().tolist()
        [7, 7]
    """
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return Tensor._wrap(xp.full(shape, fill_value, dtype=np.dtype(dtype)))


def fill(dims, value) -> Tensor:
    """``tf.fill`` spelling of :func:`full`: a tensor of shape ``dims`` filled with ``value``.

    Args:
        dims: the shape.
        value: the value.

    Example:
        >>> import tapegrad as tg
        >>> tg.fill([2, 2], 0.5).numpy().tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    return full(dims, value)


def eye(num_rows: int, num_columns: int | None = None, dtype=None) -> Tensor:
    """The identity matrix (``tf.eye``).

    Args:
        num_rows: the number of rows.
        num_columns: the number of columns (default None: ``num_rows``).
        dtype: the dtype (default None: float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.eye(2).numpy().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return Tensor._wrap(xp.eye(num_rows, num_columns, dtype=_dtype(dtype)))


def arange(start, limit=None, delta=1, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, limit)`` (``tf.range``); ints give int32, floats float32.

    Args:
        start: the first value, or the limit when ``limit`` is None (then the start is 0).
        limit: the end, excluded (default None).
        delta: the step (default 1).
        dtype: the dtype (default None: inferred).

    Example:
        >>> import tapegrad as tg
        >>> tg.arange(4).numpy().tolist(), tg.arange(1, 2, 0.5).numpy().tolist()
        ([0, 1, 2, 3], [1.0, 1.5])
    """
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        dtype = _F32 if any(isinstance(v, float) for v in (start, limit, delta)) else np.dtype("int32")
    return Tensor._wrap(xp.arange(start, limit, delta, dtype=np.dtype(dtype)))


def linspace(start, stop, num: int, dtype=None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``, both included (``tf.linspace``).

    Args:
        start: the first value.
        stop: the last value.
        num: how many values.
        dtype: the dtype (default None: float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.linspace(0, 1, 3).numpy().tolist()
        [0.0, 0.5, 1.0]
    """
    return Tensor._wrap(xp.linspace(start, stop, int(num), dtype=_dtype(dtype)))


def cast(x, dtype) -> Tensor:
    """Change the dtype; differentiable between float types (``tf.cast``).

    Args:
        x: a tensor or array.
        dtype: the new dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.cast(tg.constant([1.7, -1.7]), tg.int32).numpy().tolist()
        [1, -1]
    """
    x = tensor(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


def rank(x) -> Tensor:
    """The number of dimensions as a 0-d int32 tensor (``tf.rank``).

    Args:
        x: a tensor (of numbers or strings) or array.

    Example:
        >>> import tapegrad as tg
        >>> int(tg.rank(tg.zeros([10, 256, 256, 3]))), int(tg.rank(tg.constant("Tennis", tg.string)))
        (4, 0)
    """
    return Tensor._wrap(xp.asarray(tensor(x).ndim, dtype=np.int32))


def shape(x) -> Tensor:
    """The shape as a 1-d int32 tensor (``tf.shape``); ``x.shape`` gives a tuple.

    Args:
        x: a tensor (of numbers or strings) or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.shape(tg.constant(["Tennis", "Basketball"])).numpy().tolist()
        [2]
    """
    return Tensor._wrap(xp.asarray(tensor(x).shape, dtype=np.int32))


def stop_gradient(x) -> Tensor:
    """``x`` with no history: gradients do not flow back through it (``tf.stop_gradient``).

    Args:
        x: a tensor.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.Variable(3.0)
        >>> with tg.GradientTape() as tape:
        ...     y = x * tg.stop_gradient(x)
        >>> float(tape.gradient(y, x))  # only the first factor is differentiated
        3.0
    """
    return tensor(x).detach()


def one_hot(indices, depth: int, dtype=None) -> Tensor:
    """One-hot vectors of length ``depth`` for integer ``indices`` (``tf.one_hot``); an index out of
    ``[0, depth)`` gives a row of zeros, as in TensorFlow.

    Args:
        indices: integer tensor or array of any shape.
        depth: the number of classes.
        dtype: the dtype (default None: float32).

    Example:
        >>> import tapegrad as tg
        >>> tg.one_hot([0, 2, 5], 3).numpy().tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    idx = xp.asarray(tensor(indices).data).astype(np.int64)
    out = xp.zeros(idx.shape + (int(depth),), dtype=_dtype(dtype))
    valid = (idx >= 0) & (idx < depth)
    xp.put_along_axis(out, xp.where(valid, idx, 0)[..., None], valid[..., None].astype(out.dtype), axis=-1)
    return Tensor._wrap(out)
