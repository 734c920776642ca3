"""Merge layers: combine a list of tensors into one (``Add``, ``Concatenate``, ``Dot``, ...), as Keras.

Elementwise merges (``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``) broadcast as Keras does: inputs of lower rank get axes of size 1 inserted
after the batch axis, then sizes of 1 stretch. Masks of the inputs are combined as
Keras 3 combines them: an elementwise merge of masked inputs keeps a step that any of
them keeps (no mask if an input has none); ``Concatenate`` concatenates the masks (an
input without one counts as all kept) and keeps a step that any part keeps.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff.tensor import Tensor
from .base import Layer
from .symbolic import broadcast_shapes


def _as_list(input_shape, owner: str):
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(f"{owner}: a merge layer should be called on a list of inputs, received "
                         f"input_shape={input_shape!r}")
    return [tuple(s) for s in input_shape]


class _Merge(Layer):
    """Base class of the merge layers: called on a list of tensors, returns one."""

    supports_masking = True
    _min_inputs = 1
    _exact_inputs = None

    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _check_count(self, shapes) -> None:
        n = len(shapes)
        if self._exact_inputs is not None and n != self._exact_inputs:
            raise ValueError(f"{self._owner()}: expected exactly {self._exact_inputs} inputs, received {n} inputs")
        if n < self._min_inputs:
            raise ValueError(f"{self._owner()}: expected at least {self._min_inputs} inputs, received {n}")

    def build(self, input_shape) -> None:
        shapes = _as_list(input_shape, self._owner())
        self._check_count(shapes)
        self.compute_output_shape(shapes)

    def _convert(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [super(_Merge, self)._convert(x) for x in inputs]
        return super()._convert(inputs)

    def compute_output_shape(self, input_shape):
        shapes = _as_list(input_shape, self._owner())
        self._check_count(shapes)
        out = shapes[0][1:]
        for s in shapes[1:]:
            rest = s[1:]
            n = max(len(out), len(rest))
            try:
                out = broadcast_shapes((1,) * (n - len(out)) + tuple(out), (1,) * (n - len(rest)) + tuple(rest),
                                       self._owner())
            except ValueError:
                raise ValueError(f"{self._owner()}: inputs have incompatible shapes; received shapes "
                                 f"{shapes[0]} and {s}") from None
        batches = {s[0] for s in shapes} - {None}
        return ((batches.pop() if len(batches) == 1 else None),) + tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._owner()}: a merge layer should be called on a list of inputs, received a "
                             f"{type(inputs).__name__}")
        shapes = [x.shape for x in inputs]
        self.compute_output_shape(shapes)  # a clear error that names both shapes
        rank = max(len(s) for s in shapes)
        xs = []
        for x in inputs:
            while x.ndim < rank:  # as Keras: missing axes are inserted after the batch axis
                x = ops.expand_dims(x, 1)
            xs.append(x)
        return self._merge(xs)

    _fold = None
    """The element-wise op that combines the inputs pairwise, left to right (``ops.add`` for
    ``Add``); a layer that combines them otherwise overrides ``_merge``."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = self._fold(out, x)
        return out

    def compute_mask(self, inputs, mask=None):
        # As Keras's Merge: a step is kept where any input keeps it, and only when every input has a mask.
        if mask is None or not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        kept = [np.asarray(m.data if isinstance(m, Tensor) else m, dtype=bool) for m in mask]
        return Tensor(np.logical_or.reduce(np.broadcast_arrays(*kept)))


class Add(_Merge):
    """The sum of a list of tensors of the same shape (or shapes that broadcast).

    Args:
        name: the layer's name (default None: one made from the class, ``"add"``, ``"add_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Add()([tg.ones((2, 3)), tg.ones((2, 3))]).numpy().tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """

    _fold = staticmethod(ops.add)


class Subtract(_Merge):
    """The difference of two tensors: ``inputs[0] - inputs[1]``.

    Args:
        name: the layer's name (default None: one made from the class, ``"subtract"``, ``"subtract_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Subtract()([tg.ones((1, 2)) * 3, tg.ones((1, 2))]).numpy().tolist()
        [[2.0, 2.0]]
    """

    _exact_inputs = 2

    def _merge(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """The elementwise product of a list of tensors.

    Args:
        name: the layer's name (default None: one made from the class, ``"multiply"``, ``"multiply_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Multiply()([tg.ones((1, 2)) * 3, tg.ones((1, 2)) * 2]).numpy().tolist()
        [[6.0, 6.0]]
    """

    _fold = staticmethod(ops.multiply)


class Average(_Merge):
    """The elementwise mean of a list of tensors.

    Args:
        name: the layer's name (default None: one made from the class, ``"average"``, ``"average_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Average()([tg.ones((1, 2)), tg.ones((1, 2)) * 3]).numpy().tolist()
        [[2.0, 2.0]]
    """

    _fold = staticmethod(ops.add)

    def _merge(self, inputs):
        return ops.divide(super()._merge(inputs), float(len(inputs)))


class Maximum(_Merge):
    """The elementwise maximum of a list of tensors.

    Args:
        name: the layer's name (default None: one made from the class, ``"maximum"``, ``"maximum_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Maximum()([tg.constant([[1.0, 5.0]]), tg.constant([[3.0, 2.0]])]).numpy().tolist()
        [[3.0, 5.0]]
    """

    _fold = staticmethod(ops.maximum)


class Minimum(_Merge):
    """The elementwise minimum of a list of tensors.

    Args:
        name: the layer's name (default None: one made from the class, ``"minimum"``, ``"minimum_1"``, ...).
        trainable: whether its weights are trained (default True; a merge layer has no weights).
        dtype: the dtype of float inputs and outputs (default None: float32); float inputs of
            another dtype are cast, as Keras does.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Minimum()([tg.constant([[1.0, 5.0]]), tg.constant([[3.0, 2.0]])]).numpy().tolist()
        [[1.0, 2.0]]
    """

    _fold = staticmethod(ops.minimum)


class Concatenate(_Merge):
    """Join a list of tensors along ``axis`` (the last by default); other sizes must match.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Concatenate()([tg.ones((2, 3)), tg.zeros((2, 4))]).shape
        (2, 7)
    """

    def __init__(self, axis: int = -1, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: axis must be an integer, received {axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = _as_list(input_shape, self._owner())
        rank = len(shapes[0])
        if not -rank <= self.axis < rank:
            raise ValueError(f"{self._owner()}: axis {self.axis} is out of range for inputs of rank {rank}")
        axis = self.axis % rank
        for s in shapes[1:]:
            if len(s) != rank or any(a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(shapes[0], s)) if i != axis):
                raise ValueError(f"{self._owner()}: inputs must have the same shape except along the concatenation "
                                 f"axis {self.axis}; received shapes {shapes[0]} and {s}")
        out = []
        for i in range(rank):
            sizes = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in sizes else sum(sizes))
            else:
                known = [v for v in sizes if v is not None]
                out.append(known[0] if known else None)
        return tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._owner()}: a merge layer should be called on a list of inputs, received a "
                             f"{type(inputs).__name__}")
        self.compute_output_shape([x.shape for x in inputs])
        return ops.concat(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(np.ones(x.shape, dtype=bool))
                continue
            m = np.asarray(m.data if isinstance(m, Tensor) else m, dtype=bool)
            masks.append(np.broadcast_to(m[..., None], x.shape) if m.ndim < x.ndim else m)
        return Tensor(np.any(np.concatenate(masks, axis=self.axis), axis=-1))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """The dot product of two tensors along ``axes``, sample by sample (Keras's ``Dot``).

    Args:
        axes: an axis of both inputs, or a pair ``(axis of the first, axis of the second)``;
            axis 0 (the batch) cannot be used.
        normalize: L2-normalize both inputs along the dot axes first, so the result is the
            cosine similarity.

    For inputs ``(batch, n, d)`` and ``(batch, m, d)`` with ``axes=2`` the output is
    ``(batch, n, m)``; for two ``(batch, d)`` inputs it is ``(batch, 1)``.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.Dot(axes=1)([tg.constant([[1.0, 2.0]]), tg.constant([[3.0, 4.0]])]).numpy().tolist()
        [[11.0]]
    """

    _exact_inputs = 2
    supports_masking = False

    def __init__(self, axes, normalize: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
            axes = (int(axes), int(axes))
        elif isinstance(axes, (list, tuple)) and len(axes) == 2 and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            axes = (int(axes[0]), int(axes[1]))
        else:
            raise ValueError(f"Dot: axes must be an integer or a pair of integers, received {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolve(self, shapes):
        shapes = _as_list(shapes, self._owner())
        self._check_count(shapes)
        s1, s2 = shapes
        axes = []
        for a, s in zip(self.axes, (s1, s2)):
            if len(s) < 2 or not -len(s) <= a < len(s) or a % len(s) == 0:
                raise ValueError(f"{self._owner()}: axes {self.axes} are invalid for inputs of shapes {s1} and {s2} "
                                 f"(the batch axis 0 cannot be used)")
            axes.append(a % len(s))
        d1, d2 = s1[axes[0]], s2[axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"{self._owner()}: incompatible input shapes: axis values {d1} (at axis {axes[0]}) != "
                             f"{d2} (at axis {axes[1]}); received shapes {s1} and {s2}")
        return s1, s2, axes

    def compute_output_shape(self, input_shape):
        s1, s2, axes = self._resolve(input_shape)
        a, b = list(s1), list(s2)
        a.pop(axes[0])
        b.pop(axes[1])
        b.pop(0)
        out = a + b
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._owner()}: a merge layer should be called on a list of inputs, received a "
                             f"{type(inputs).__name__}")
        x, y = inputs
        _, _, (ax, ay) = self._resolve([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        # Batch by batch: x with its dot axis last, y with its dot axis first (after the batch).
        x = ops.transpose(x, [i for i in range(x.ndim) if i != ax] + [ax])
        y = ops.transpose(y, [0, ay] + [i for i in range(1, y.ndim) if i != ay])
        rest_x, rest_y = x.shape[1:-1], y.shape[2:]
        n, d = x.shape[0], x.shape[-1]
        out = ops.matmul(ops.reshape(x, (n, int(np.prod(rest_x)), d)), ops.reshape(y, (n, d, int(np.prod(rest_y)))))
        shape = (n,) + tuple(rest_x) + tuple(rest_y)
        return ops.reshape(out, shape if len(shape) > 1 else (n, 1))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def _l2_normalize(x, axis: int, epsilon: float = 1e-7):
    """``x / max(||x||, epsilon)`` along ``axis`` (Keras's ``ops.normalize``: order 2, its epsilon 1e-7)."""
    norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    return ops.divide(x, ops.maximum(norm, epsilon))


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the sum of a list of tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.add([tg.ones((1, 2)), tg.ones((1, 2))]).numpy().tolist()
        [[2.0, 2.0]]
    """
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: ``inputs[0] - inputs[1]``.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.subtract([tg.ones((1, 2)), tg.ones((1, 2))]).numpy().tolist()
        [[0.0, 0.0]]
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product of a list of tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.multiply([tg.ones((1, 2)) * 2, tg.ones((1, 2)) * 3]).numpy().tolist()
        [[6.0, 6.0]]
    """
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean of a list of tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.average([tg.ones((1, 2)), tg.zeros((1, 2))]).numpy().tolist()
        [[0.5, 0.5]]
    """
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum of a list of tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.maximum([tg.ones((1, 2)), tg.zeros((1, 2))]).numpy().tolist()
        [[1.0, 1.0]]
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum of a list of tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.minimum([tg.ones((1, 2)), tg.zeros((1, 2))]).numpy().tolist()
        [[0.0, 0.0]]
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``: join a list of tensors along ``axis``.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.concatenate([tg.ones((2, 3)), tg.ones((2, 1))]).shape
        (2, 4)
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize: bool = False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``: sample-wise dot products of two tensors.

    Example:
        >>> import tapegrad as tg
        >>> tg.layers.dot([tg.ones((2, 3)), tg.ones((2, 3))], axes=1).numpy().tolist()
        [[3.0], [3.0]]
    """
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]
