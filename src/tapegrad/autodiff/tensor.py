"""``Tensor`` and ``Variable``: an array, and where it came from.

A tensor holds a backend array in ``data``. When it is the result of an operation
that must be differentiated, ``_ctx`` points to the :class:`~tapegrad.autodiff.function.Function`
node that made it; that node holds the inputs (``parents``) and whatever arrays its
backward pass needs, and never the output, so there is no reference cycle from a node
to its own output. The operators (``+``, ``@``, ``[]`` ...) and methods (``sum``, ``reshape``
...) are defined in the class body and call the operations of ``tapegrad.ops`` through
``OPS``, the table ``tapegrad.ops`` fills when it is imported (ops sit above autodiff).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from ..backend import to_numpy, xp
from .grad_mode import mode

if TYPE_CHECKING:
    from typing import TypeAlias

_FLOAT_DEFAULT = np.dtype("float32")

TensorLike: "TypeAlias" = Union["Tensor", npt.ArrayLike]
"""What an operation accepts as a tensor: a Tensor, a NumPy array, a number or nested lists."""
Axis: "TypeAlias" = Union[int, Sequence[int], None]
"""One axis, several axes, or None for all of them."""

OPS: dict[str, Callable[..., "Tensor"]] = {}
"""The operations behind Tensor's operators and methods, by their ``tapegrad.ops`` name
(``"add"``, ``"getitem"``, ``"sum"`` ...); ``tapegrad.ops`` fills it when it is imported."""
_INT_DEFAULT = np.dtype("int32")
STRING = np.dtypes.StringDType()
"""``tg.string``: NumPy's variable-width UTF-8 text dtype (TensorFlow's ``tf.string`` holds bytes)."""


def dtype_name(dtype) -> str:
    """The dtype's TensorFlow-style name: ``float32``, ``int32`` ... and ``string`` for text."""
    return "string" if dtype.kind in "TUS" else dtype.name


def as_array(value: Any, dtype=None):
    """Turn ``value`` into a backend array.

    Python floats and nested lists of floats become float32, Python ints int32 (as
    TensorFlow does); NumPy arrays keep their dtype unless ``dtype`` is given.
    """
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        dtype = np.dtype(dtype)
        if isinstance(value, xp.ndarray):
            return value if value.dtype == dtype else value.astype(dtype)
        return xp.asarray(value, dtype=dtype)
    if isinstance(value, xp.ndarray):
        return value.astype(STRING) if value.dtype.kind in "US" else value  # NumPy text: tg.string too
    if isinstance(value, np.generic):
        return xp.asarray(value)
    arr = xp.asarray(value)
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype != _FLOAT_DEFAULT:
        arr = arr.astype(_FLOAT_DEFAULT)
    elif kind in "iu" and not isinstance(value, xp.ndarray) and arr.dtype != _INT_DEFAULT:
        if arr.size == 0 or (np.abs(arr).max() < 2**31):
            arr = arr.astype(_INT_DEFAULT)
    elif kind in "US":  # Python text becomes tg.string, as TensorFlow infers tf.string
        arr = arr.astype(STRING)
    elif kind == "O":
        raise TypeError(f"Tensor: cannot make a numeric tensor from {type(value).__name__} {value!r}")
    return arr


class Tensor:
    """An N-d array that can take part in automatic differentiation.

    Args:
        value: a number, nested list, NumPy array or Tensor.
        dtype: optional dtype; floats default to float32.
        requires_grad: record operations on this tensor so ``backward`` fills ``.grad``
            (PyTorch style). Only floating-point tensors can require gradients.
        name: optional name.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.numpy().tolist()
        [2.0, 4.0, 6.0]
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "_keras_mask", "__weakref__")
    # ``_keras_mask`` (set only by layers that produce a mask, read with getattr and a default):
    # which time steps of a sequence are real, as Keras attaches it to a layer's output.
    __array_priority__ = 1000  # NumPy defers ``ndarray + Tensor`` to Tensor.__radd__

    def __init__(self, value: Any, dtype=None, requires_grad: bool = False, name: str | None = None):
        self.data = as_array(value, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, received dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self._ctx = None
        self.name = name

    # -- fast constructors used by ops (no validation) ---------------------------------
    @classmethod
    def _wrap(cls, data) -> "Tensor":
        t = object.__new__(Tensor)
        t.data = data
        t.requires_grad = False
        t.grad = None
        t._ctx = None
        t.name = None
        return t

    # -- properties -----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def numpy(self, copy: bool = True) -> np.ndarray:
        """The values as a NumPy array that later changes to this tensor do not alter.

        As TensorFlow's ``numpy()``, the result is a snapshot: saving ``v.numpy()`` in a list
        while ``v.assign(...)`` runs keeps each value as it was. The price is one copy of the
        array per call (a memory copy of ``size * itemsize`` bytes). For the zero-copy view
        of the storage, use ``t.numpy(copy=False)`` or ``np.asarray(t)``: on the NumPy backend
        those share memory with the tensor, so they change when a Variable is assigned.

        Args:
            copy: ``True`` (the default) returns a fresh array; ``False`` returns the tensor's
                own storage where the backend allows it (a device array is always copied).

        Example:
            >>> import numpy as np
            >>> import tapegrad as tg
            >>> v = tg.Variable([1.0, 2.0])
            >>> before, live = v.numpy(), v.numpy(copy=False)
            >>> _ = v.assign([5.0, 6.0])
            >>> before.tolist(), live.tolist(), np.shares_memory(live, np.asarray(v))
            ([1.0, 2.0], [5.0, 6.0], True)
        """
        if mode.escape is not None:
            mode.escape("numpy()")
        arr = to_numpy(self.data)
        return arr.copy() if copy and arr is self.data else arr

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if mode.escape is not None:
            mode.escape("a Python number (float(), int() or item())")
        if self.data.size != 1:
            raise ValueError(f"item: expected a tensor with one element, received shape {self.shape}")
        return self.data.item()

    def tolist(self):
        if mode.escape is not None:
            mode.escape("tolist()")
        return to_numpy(self.data).tolist()

    def __array__(self, dtype=None, copy=None):
        if mode.escape is not None:
            mode.escape("a NumPy array (np.asarray)")
        arr = to_numpy(self.data)
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    # -- DLPack: hand the array to another library (NumPy, PyTorch, JAX, CuPy) without a copy ------
    def __dlpack__(self, *, stream: Any = None, max_version: tuple[int, int] | None = None,
                   dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> Any:
        """Export the tensor's array as a DLPack capsule (the array API's protocol), sharing memory.

        ``np.from_dlpack(t)`` and ``torch.from_dlpack(t)`` call this: the result is a view of
        ``t.data``, so writing to it changes ``t`` (and an optimizer's in-place update of a
        ``Variable`` is seen by it). Differs from PyTorch: a tensor that requires gradients is
        exported too; no gradient flows through the other library.

        Example:
            >>> import numpy as np, tapegrad as tg
            >>> t = tg.Tensor([1.0, 2.0])
            >>> a = np.from_dlpack(t)
            >>> a[0] = 5.0
            >>> t.tolist()
            [5.0, 2.0]
        """
        kwargs = {"stream": stream}
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """The DLPack device of the array: ``(1, 0)`` (CPU) on the NumPy backend, ``(2, id)`` for CUDA.

        Example:
            >>> import tapegrad as tg
            >>> tg.Tensor([1.0]).__dlpack_device__()
            (1, 0)
        """
        device_type, device_id = self.data.__dlpack_device__()
        return int(device_type), int(device_id)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    def __bool__(self) -> bool:
        if mode.escape is not None:
            mode.escape("a truth value (if, while, and, or on a tensor)")
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with shape {self.shape} is ambiguous; use tg.reduce_any or tg.reduce_all"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, received dtype {self.dtype}")
        return int(self.item())

    def __hash__(self) -> int:  # tensors are used as dict keys by identity
        return id(self)

    def __repr__(self) -> str:
        values = np.array2string(to_numpy(self.data), precision=4, separator=", ", threshold=100)
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"tg.Tensor(shape={self.shape}, dtype={dtype_name(self.dtype)}{extra}, numpy=\n{values})" if self.ndim > 1 \
            else f"tg.Tensor({values}, shape={self.shape}, dtype={dtype_name(self.dtype)}{extra})"

    # -- autodiff ---------------------------------------------------------------------
    def detach(self) -> "Tensor":
        """A tensor with the same array and no history."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients, received {self.dtype}")
        self.requires_grad = flag
        return self

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        As in PyTorch, a non-scalar tensor needs ``gradient`` (the vector of the
        vector-Jacobian product). The graph is freed afterwards unless ``retain_graph``.
        """
        from .engine import backward

        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require gradients and has no graph; "
                "make a leaf with requires_grad=True or use a tg.Variable"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: gradient can be implicit only for a one-element tensor, received shape {self.shape}; "
                    "pass gradient= with the same shape"
                )
            seed = xp.ones_like(self.data)
        else:
            seed = as_array(gradient, self.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"backward: gradient shape {seed.shape} does not match tensor shape {self.shape}")
        backward([self], [seed], retain_graph=retain_graph)

    # -- operators and methods: the operations of tapegrad.ops (through OPS) -------------------
    def __add__(self, other: TensorLike) -> Tensor:
        return OPS["add"](self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return OPS["add"](other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return OPS["subtract"](self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return OPS["subtract"](other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return OPS["multiply"](self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return OPS["multiply"](other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return OPS["divide"](self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return OPS["divide"](other, self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return OPS["matmul"](self, other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return OPS["matmul"](other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return OPS["power"](self, other)

    def __rpow__(self, other: TensorLike) -> Tensor:
        return OPS["power"](other, self)

    def __neg__(self) -> Tensor:
        return OPS["negative"](self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return OPS["abs"](self)

    def __getitem__(self, index: Any) -> Tensor:
        return OPS["getitem"](self, index)

    # Comparisons are element-wise (boolean tensors, no gradient), as in NumPy; so tensors hash
    # by identity (``__hash__`` above), and ``__eq__``/``__ne__`` differ from ``object``'s.
    def __lt__(self, other: TensorLike) -> Tensor:
        return OPS["less"](self, other)

    def __le__(self, other: TensorLike) -> Tensor:
        return OPS["less_equal"](self, other)

    def __gt__(self, other: TensorLike) -> Tensor:
        return OPS["greater"](self, other)

    def __ge__(self, other: TensorLike) -> Tensor:
        return OPS["greater_equal"](self, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return OPS["equal"](self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return OPS["not_equal"](self, other)

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.sum(self, axis, keepdims)``."""
        return OPS["sum"](self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.mean(self, axis, keepdims)``."""
        return OPS["mean"](self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.max(self, axis, keepdims)``."""
        return OPS["max"](self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.min(self, axis, keepdims)``."""
        return OPS["min"](self, axis, keepdims)

    def prod(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.prod(self, axis, keepdims)``."""
        return OPS["prod"](self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """``tg.var(self, axis, keepdims, ddof)``."""
        return OPS["var"](self, axis, keepdims, ddof)

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """``tg.std(self, axis, keepdims, ddof)``."""
        return OPS["std"](self, axis, keepdims, ddof)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """``tg.logsumexp(self, axis, keepdims)``."""
        return OPS["logsumexp"](self, axis, keepdims)

    def argmax(self, axis: int | None = None) -> Tensor:
        """``tg.argmax(self, axis)``."""
        return OPS["argmax"](self, axis)

    def argmin(self, axis: int | None = None) -> Tensor:
        """``tg.argmin(self, axis)``."""
        return OPS["argmin"](self, axis)

    def exp(self) -> Tensor:
        """``tg.exp(self)``."""
        return OPS["exp"](self)

    def log(self) -> Tensor:
        """``tg.log(self)``."""
        return OPS["log"](self)

    def sqrt(self) -> Tensor:
        """``tg.sqrt(self)``."""
        return OPS["sqrt"](self)

    def square(self) -> Tensor:
        """``tg.square(self)``."""
        return OPS["square"](self)

    def abs(self) -> Tensor:
        """``tg.abs(self)``."""
        return OPS["abs"](self)

    def clip(self, clip_value_min: TensorLike, clip_value_max: TensorLike) -> Tensor:
        """``tg.clip(self, clip_value_min, clip_value_max)``."""
        return OPS["clip"](self, clip_value_min, clip_value_max)

    def matmul(self, other: TensorLike) -> Tensor:
        """``tg.matmul(self, other)``."""
        return OPS["matmul"](self, other)

    def sigmoid(self) -> Tensor:
        """``tg.sigmoid(self)``."""
        return OPS["sigmoid"](self)

    def tanh(self) -> Tensor:
        """``tg.tanh(self)``."""
        return OPS["tanh"](self)

    def relu(self) -> Tensor:
        """``tg.relu(self)``."""
        return OPS["relu"](self)

    def softmax(self, axis: int = -1) -> Tensor:
        """``tg.softmax(self, axis)``."""
        return OPS["softmax"](self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``tg.log_softmax(self, axis)``."""
        return OPS["log_softmax"](self, axis)

    def astype(self, dtype: npt.DTypeLike) -> Tensor:
        """``tg.cast(self, dtype)``."""
        return OPS["cast"](self, dtype)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """``tg.reshape``, with the shape as one sequence or as separate ints: ``t.reshape(2, 3)``."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            return OPS["reshape"](self, shape[0])
        return OPS["reshape"](self, shape)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """``tg.transpose``, with the axes as one sequence or separate ints; none reverses them."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            return OPS["transpose"](self, axes[0])
        return OPS["transpose"](self, axes or None)

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        """The tensor with its axes reversed (``tg.transpose``)."""
        return OPS["transpose"](self)

    def squeeze(self, axis: Axis = None) -> Tensor:
        """``tg.squeeze(self, axis)``."""
        return OPS["squeeze"](self, axis)

    def expand_dims(self, axis: int) -> Tensor:
        """``tg.expand_dims(self, axis)``."""
        return OPS["expand_dims"](self, axis)

    def flatten(self) -> Tensor:
        """``tg.flatten(self)``."""
        return OPS["flatten"](self)


class Variable(Tensor):
    """A mutable tensor: the weights a model learns (``tf.Variable``).

    Trainable variables are watched by every ``GradientTape`` and require gradients (so
    ``loss.backward()`` fills ``.grad``). ``assign``, ``assign_add`` and ``assign_sub`` change the
    values in place, keeping the array's identity; ``numpy()`` returns a copy that later
    assignments leave alone (as TensorFlow), ``numpy(copy=False)`` the live storage.

    Args:
        value: the initial value: a number, nested list, NumPy array or Tensor (copied).
        dtype: the dtype (default None: float32 for Python floats, as ``tg.constant``).
        trainable: whether tapes watch it and optimizers update it (default True).
        name: optional name (default None).

    Example:
        >>> import tapegrad as tg
        >>> v = tg.Variable([1.0, 2.0])
        >>> _ = v.assign_add([1.0, 1.0])
        >>> v.numpy().tolist()
        [2.0, 3.0]
    """

    __slots__ = ("_trainable", "_regularizer")

    def __init__(self, value: Any, dtype=None, trainable: bool = True, name: str | None = None):
        data = as_array(value, dtype).copy()  # a Variable owns its storage, C-contiguous
        trainable_grad = trainable and data.dtype.kind == "f"
        super().__init__(data, requires_grad=False, name=name)
        self._trainable = bool(trainable)
        self.requires_grad = bool(trainable_grad)
        self._regularizer = None

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        self._trainable = bool(flag)
        self.requires_grad = bool(flag) and self.data.dtype.kind == "f"

    @property
    def regularizer(self):
        """The penalty function of this weight (``layer.losses`` calls it), or None."""
        return self._regularizer

    @regularizer.setter
    def regularizer(self, fn) -> None:
        self._regularizer = fn

    def _check(self, value, op: str):
        arr = as_array(value, self.dtype)
        if arr.shape != self.data.shape:
            try:
                arr = xp.broadcast_to(arr, self.data.shape)
            except ValueError:
                raise ValueError(
                    f"Variable.{op}: expected a value of shape {self.data.shape}, received shape {arr.shape}"
                ) from None
        return arr

    def assign(self, value: Any) -> "Variable":
        if mode.effect is not None:
            return mode.effect("call", self.assign, (value,), {})
        self.data[...] = self._check(value, "assign")
        return self

    def assign_add(self, value: Any) -> "Variable":
        if mode.effect is not None:
            return mode.effect("call", self.assign_add, (value,), {})
        self.data += self._check(value, "assign_add")
        return self

    def assign_sub(self, value: Any) -> "Variable":
        if mode.effect is not None:
            return mode.effect("call", self.assign_sub, (value,), {})
        self.data -= self._check(value, "assign_sub")
        return self

    @property
    def value(self) -> Tensor:
        return Tensor._wrap(self.data)

    def __repr__(self) -> str:
        values = np.array2string(to_numpy(self.data), precision=4, separator=", ", threshold=100)
        label = f"'{self.name}' " if self.name else ""
        return f"tg.Variable({label}shape={self.shape}, dtype={dtype_name(self.dtype)}, numpy={values})"
