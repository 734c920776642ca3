"""TensorFlow's ``tf.math`` spellings, as aliases of tapegrad's ops.

Example:
    >>> import tapegrad as tg
    >>> float(tg.math.reduce_sum(tg.ones((2, 2))))
    4.0
"""

from .ops import (abs, add, argmax, argmin, divide, exp, expm1, log, log1p, log_softmax, logsumexp, maximum,
                  mean, minimum, multiply, negative, power as pow, prod, reduce_all, reduce_any, sigmoid, sign,
                  softplus, sqrt, square, std, subtract, sum, tanh, var)
from .ops import max as reduce_max
from .ops import min as reduce_min

reduce_sum = sum
reduce_mean = mean
reduce_prod = prod
reduce_std = std
reduce_variance = var
reduce_logsumexp = logsumexp

__all__ = ["abs", "add", "argmax", "argmin", "divide", "exp", "expm1", "log", "log1p", "log_softmax", "logsumexp",
           "maximum", "minimum", "multiply", "negative", "pow", "reduce_all", "reduce_any", "reduce_logsumexp",
           "reduce_max", "reduce_mean", "reduce_min", "reduce_prod", "reduce_std", "reduce_sum", "reduce_variance",
           "sigmoid", "sign", "softplus", "sqrt", "square", "subtract", "tanh"]
