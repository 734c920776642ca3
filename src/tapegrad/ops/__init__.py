"""All tensor operations, and the operators and methods they give ``Tensor``."""

from __future__ import annotations

from ..autodiff.tensor import OPS, Tensor
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
from .shape import (broadcast_to, concat, embedding_lookup, expand_dims, flatten, getitem, pad, reshape, split, squeeze, stack,
                    tile, transpose)


def _compare(np_op):
    def op(a, b) -> Tensor:
        a, b = pair(a, b)
        return Tensor._wrap(np_op(a.data, b.data))

    return op


# The operations behind Tensor's operators and methods (defined in its class body), by name.
OPS.update({
    "add": add, "subtract": subtract, "multiply": multiply, "divide": divide, "matmul": matmul, "power": power,
    "negative": negative, "abs": abs, "getitem": getitem,
    "less": _compare(xp.less), "less_equal": _compare(xp.less_equal), "greater": _compare(xp.greater),
    "greater_equal": _compare(xp.greater_equal), "equal": _compare(xp.equal), "not_equal": _compare(xp.not_equal),
    "sum": sum, "mean": mean, "max": max, "min": min, "prod": prod, "var": var, "std": std, "logsumexp": logsumexp,
    "argmax": argmax, "argmin": argmin, "exp": exp, "log": log, "sqrt": sqrt, "square": square, "clip": clip,
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax, "log_softmax": log_softmax, "cast": cast,
    "reshape": reshape, "transpose": transpose, "squeeze": squeeze, "expand_dims": expand_dims, "flatten": flatten,
})

__all__ = [
    "abs", "add", "arange", "argmax", "argmin", "broadcast_to", "cast", "clip", "concat", "constant",
    "convert_to_tensor", "creation", "divide", "dropout", "elu", "exp", "expand_dims", "expm1", "eye", "fill",
    "embedding_lookup", "flatten", "from_dlpack", "full", "gelu", "getitem", "hard_sigmoid", "leaky_relu", "linear", "linspace", "log",
    "log1p", "log_softmax", "logsumexp", "math", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply",
    "negative", "nn", "one_hot", "ones", "ones_like", "pad", "power", "prod", "rank", "reduce", "reduce_all",
    "reduce_any", "relu", "reshape", "selu", "shape", "shape_of", "sigmoid", "sigmoid_cross_entropy_with_logits",
    "sign", "softmax", "softmax_cross_entropy_with_logits", "softplus", "softsign",
    "sparse_softmax_cross_entropy_with_logits", "split", "sqrt", "square", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "swish", "tanh", "tile", "transpose", "var", "where", "zeros", "zeros_like",
]
