"""Reductions over ``axis`` (None, int, negative, tuple) with ``keepdims``."""

from __future__ import annotations

import numpy as np

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import xp
from ._util import normalize_axis, tensor


def _expand(g, in_shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input."""
    if not keepdims:
        shape = list(in_shape)
        for a in axes:
            shape[a] = 1
        g = g.reshape(shape)
    return g


class Sum(Function):
    def forward(self, a, axes, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, axes, keepdims
        return xp.sum(a, axis=axes, keepdims=keepdims)

    def backward(self, g):
        return (xp.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape),)


class Mean(Function):
    def forward(self, a, axes, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, axes, keepdims
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        self.scale = 1.0 / n if n else 1.0
        if n and a.dtype.kind == "f" and a.dtype.itemsize >= 4:
            return xp.add.reduce(a, axis=axes, keepdims=keepdims) / n  # what xp.mean computes, with less Python
        return xp.mean(a, axis=axes, keepdims=keepdims)

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdims) * self.scale
        return (g if g.shape == self.shape else xp.broadcast_to(g, self.shape),)


class Max(Function):
    """Max over axes; tied maxima share the gradient equally (TensorFlow's rule)."""

    def forward(self, a, axes, keepdims, fn):
        out = fn(a, axis=axes, keepdims=True)
        self.mask = a == out
        self.axes, self.keepdims, self.shape = axes, keepdims, a.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(self, g):
        mask = self.mask
        count = xp.sum(mask, axis=self.axes, keepdims=True)
        g = _expand(g, self.shape, self.axes, self.keepdims)
        return (mask * (g / count),)


class Prod(Function):
    """Product over axes; the gradient is exact with zeros (products of the other elements)."""

    def forward(self, a, axes, keepdims):
        self.a, self.axes, self.keepdims = a, axes, keepdims
        return xp.prod(a, axis=axes, keepdims=keepdims)

    def backward(self, g):
        a, axes = self.a, self.axes
        rest = [i for i in range(a.ndim) if i not in axes]
        moved = xp.transpose(a, rest + list(axes))
        lead = moved.shape[: len(rest)]
        flat = moved.reshape(lead + (-1,))
        ones = xp.ones(lead + (1,), dtype=a.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = (left * right).reshape(moved.shape)
        inverse = np.argsort(rest + list(axes))
        others = xp.transpose(others, inverse)
        return (others * _expand(g, a.shape, axes, self.keepdims),)


class LogSumExp(Function):
    """``log(sum(exp(x)))`` computed as ``m + log(sum(exp(x - m)))`` with ``m = max(x)``."""

    def forward(self, a, axes, keepdims):
        m = xp.max(a, axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(a - m)
        s = xp.sum(e, axis=axes, keepdims=True)
        out = xp.log(s) + m
        self.p = e / s
        self.axes, self.keepdims, self.shape = axes, keepdims, a.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(self, g):
        return (self.p * _expand(g, self.shape, self.axes, self.keepdims),)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - NumPy's name
    """The sum over ``axis`` (alias ``reduce_sum``, ``tf.reduce_sum``).

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.sum(x, axis=0).numpy().tolist(), float(tg.sum(x))
        ([4.0, 6.0], 10.0)
    """
    x = tensor(x)
    return Sum.apply(x, axes=normalize_axis(axis, x.ndim, "sum"), keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """The mean over ``axis`` (alias ``reduce_mean``, ``tf.reduce_mean``). Integer tensors are averaged as float32.

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.mean(x, axis=0).numpy().tolist(), float(tg.mean(x))
        ([2.0, 3.0], 2.5)
    """
    x = tensor(x)
    if x.dtype.kind != "f":
        from .creation import cast

        x = cast(x, "float32")
    return Mean.apply(x, axes=normalize_axis(axis, x.ndim, "mean"), keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """The maximum over ``axis`` (alias ``reduce_max``). Tied maxima share the gradient.

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.max(x, axis=0).numpy().tolist(), float(tg.max(x))
        ([3.0, 4.0], 4.0)
    """
    x = tensor(x)
    return Max.apply(x, axes=normalize_axis(axis, x.ndim, "max"), keepdims=keepdims, fn=xp.max)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """The minimum over ``axis`` (alias ``reduce_min``). Tied minima share the gradient.

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.min(x, axis=0).numpy().tolist(), float(tg.min(x))
        ([1.0, 2.0], 1.0)
    """
    x = tensor(x)
    return Max.apply(x, axes=normalize_axis(axis, x.ndim, "min"), keepdims=keepdims, fn=xp.min)


def prod(x, axis=None, keepdims: bool = False) -> Tensor:
    """The product over ``axis`` (alias ``reduce_prod``).

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.prod(x, axis=0).numpy().tolist(), float(tg.prod(x))
        ([3.0, 8.0], 24.0)
    """
    x = tensor(x)
    return Prod.apply(x, axes=normalize_axis(axis, x.ndim, "prod"), keepdims=keepdims)


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """The population variance ``mean((x - mean(x))**2)`` over ``axis`` (``tf.math.reduce_variance``).

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).
        ddof: delta degrees of freedom: divide by ``n - ddof`` (default 0; 1 gives the sample variance).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.var(tg.constant([1.0, 2.0, 3.0, 4.0]))), float(tg.var(tg.constant([1.0, 3.0]), ddof=1))
        (1.25, 2.0)
    """
    from .math import square

    x = tensor(x)
    axes = normalize_axis(axis, x.ndim, "var")
    centered = x - mean(x, axis=axes, keepdims=True)
    if ddof == 0:
        return mean(square(centered), axis=axes, keepdims=keepdims)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(square(centered), axis=axes, keepdims=keepdims) / (n - ddof)


def std(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """The standard deviation, ``sqrt(var(x))`` (``tf.math.reduce_std``).

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).
        ddof: delta degrees of freedom (default 0, the population form).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.std(tg.constant([1.0, 3.0])))
        1.0
    """
    from .math import sqrt

    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """Stable ``log(sum(exp(x)))`` over ``axis`` (``tf.reduce_logsumexp``): no overflow for large ``x``.

    Args:
        x: a tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import math
        >>> import tapegrad as tg
        >>> float(tg.logsumexp(tg.constant([1000.0, 1000.0], tg.float64))) == 1000 + math.log(2)
        True
    """
    x = tensor(x)
    return LogSumExp.apply(x, axes=normalize_axis(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def argmax(x, axis=None) -> Tensor:
    """The index of the maximum along ``axis`` (int64); not differentiable (``tf.argmax``).

    Args:
        x: a tensor or array.
        axis: the axis, or None (the default) for the flattened tensor.

    Example:
        >>> import tapegrad as tg
        >>> tg.argmax(tg.constant([[1.0, 3.0], [4.0, 2.0]]), axis=1).numpy().tolist()
        [1, 0]
    """
    return Tensor._wrap(xp.argmax(tensor(x).data, axis=axis))


def argmin(x, axis=None) -> Tensor:
    """The index of the minimum along ``axis`` (int64); not differentiable (``tf.argmin``).

    Args:
        x: a tensor or array.
        axis: the axis, or None (the default) for the flattened tensor.

    Example:
        >>> import tapegrad as tg
        >>> tg.argmin(tg.constant([[1.0, 3.0], [4.0, 2.0]]), axis=1).numpy().tolist()
        [0, 1]
    """
    return Tensor._wrap(xp.argmin(tensor(x).data, axis=axis))


def reduce_any(x, axis=None, keepdims: bool = False) -> Tensor:
    """Logical or over ``axis`` (``tf.reduce_any``).

    Args:
        x: a boolean (or numeric: nonzero is true) tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> tg.reduce_any(tg.constant([[True, False], [False, False]]), axis=1).numpy().tolist()
        [True, False]
    """
    return Tensor._wrap(xp.any(tensor(x).data, axis=axis, keepdims=keepdims))


def reduce_all(x, axis=None, keepdims: bool = False) -> Tensor:
    """Logical and over ``axis`` (``tf.reduce_all``).

    Args:
        x: a boolean (or numeric: nonzero is true) tensor or array.
        axis: an int, a tuple of ints, or None (the default) for all axes.
        keepdims: keep the reduced axes with size 1 (default False).

    Example:
        >>> import tapegrad as tg
        >>> bool(tg.reduce_all(tg.constant([True, True])))
        True
    """
    return Tensor._wrap(xp.all(tensor(x).data, axis=axis, keepdims=keepdims))
