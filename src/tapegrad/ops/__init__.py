"""All tensor operations, and the operators and methods they give ``Tensor``."""

from __future__ import annotations

from ..autodiff.tensor import Tensor
from ..backend import xp
from . import creation, math, nn, reduce, shape
from ._util import pair
from .creation import (arange, cast, constant, convert_to_tensor, eye, fill, from_dlpack, full, linspace, one_hot, ones,
                       ones_like, rank, shape as shape_of, stop_gradient, zeros, zeros_like)
from .math import (abs, add, clip, divide, exp, expm1, log, log1p, matmul, maximum, minimum, multiply, negative,
                   power, sign, sqrt, square, subtract, where)
from .nn import (dropout, elu, gelu, hard_sigmoid, leaky_relu, linear, log_softmax, relu, selu, sigmoid,
                 sigmoid_cross_entropy_with_logits, softmax, softmax_cross_entropy_with_logits, softplus, softsign,
                 sparse_softmax_cross_entropy_with_logits, swish, tanh)
from .reduce import argmax, argmin, logsumexp, max, mean, min, prod, reduce_all, reduce_any, std, sum, var
from .shape import (broadcast_to, concat, expand_dims, flatten, getitem, pad, reshape, split, squeeze, stack,
                    tile, transpose)


def _compare(np_op):
    def op(self, other):
        a, b = pair(self, other)
        return Tensor._wrap(np_op(a.data, b.data))

    return op


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _reshape_method(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return reshape(self, shape)


def _transpose_method(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return transpose(self, axes or None)


_METHODS = {
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": subtract, "__rsub__": _reflected(subtract),
    "__mul__": multiply, "__rmul__": _reflected(multiply),
    "__truediv__": divide, "__rtruediv__": _reflected(divide),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__pow__": power, "__rpow__": _reflected(power),
    "__neg__": negative, "__pos__": lambda self: self, "__abs__": abs,
    "__getitem__": getitem,
    "__lt__": _compare(xp.less), "__le__": _compare(xp.less_equal),
    "__gt__": _compare(xp.greater), "__ge__": _compare(xp.greater_equal),
    "__eq__": _compare(xp.equal), "__ne__": _compare(xp.not_equal),
    "sum": sum, "mean": mean, "max": max, "min": min, "prod": prod, "var": var, "std": std,
    "argmax": argmax, "argmin": argmin, "exp": exp, "log": log, "sqrt": sqrt, "abs": abs,
    "reshape": _reshape_method, "transpose": _transpose_method, "squeeze": squeeze, "flatten": flatten,
    "clip": clip, "matmul": matmul, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
    "softmax": softmax, "log_softmax": log_softmax, "logsumexp": logsumexp,
    "astype": cast, "square": square, "expand_dims": expand_dims,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(transpose, doc="The tensor with its axes reversed (``tg.transpose``).")
Tensor.__hash__ = lambda self: id(self)  # __eq__ is element-wise; tensors hash by identity

__all__ = [
    "abs", "add", "arange", "argmax", "argmin", "broadcast_to", "cast", "clip", "concat", "constant",
    "convert_to_tensor", "creation", "divide", "dropout", "elu", "exp", "expand_dims", "expm1", "eye", "fill", "flatten",
    "from_dlpack", "full", "gelu", "getitem", "hard_sigmoid", "leaky_relu", "linear", "linspace", "log", "log1p", "log_softmax",
    "logsumexp", "math", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "negative", "nn",
    "one_hot", "ones", "ones_like", "pad", "power", "prod", "rank", "reduce", "reduce_all", "reduce_any",
    "relu", "reshape", "selu", "shape", "shape_of", "sigmoid", "sigmoid_cross_entropy_with_logits", "sign",
    "softmax", "softmax_cross_entropy_with_logits", "softplus", "softsign",
    "sparse_softmax_cross_entropy_with_logits", "split", "sqrt", "square", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "swish", "tanh", "tile", "transpose", "var", "where", "zeros",
    "zeros_like",
]
