"""Neural-network primitives: activations, softmax, dropout, and the cross-entropies from logits.

Each activation is one node with a stable formula. The cross-entropies from logits are
one node each because stability needs it: ``log(softmax(x))`` computed in two steps
overflows, while ``x - logsumexp(x)`` does not, and their gradient is simply ``p - y``.
"""

from __future__ import annotations

import math

from .. import random as _random
from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import xp
from ._util import tensor, zeros_operand


def _sigmoid(x):
    """Stable logistic function: no overflow for large |x|."""
    z = xp.exp(-xp.abs(x))
    d = 1 + z
    return xp.where(x >= 0, 1 / d, z / d)


def _shifted_exp(x, axis):
    """``x - max`` (an infinite max counts as 0), its exp, and the exp's sum over ``axis`` (kept)."""
    m = xp.maximum.reduce(x, axis=axis, keepdims=True)  # what x.max runs, without its Python layer
    shifted = x - xp.where(xp.isfinite(m), m, 0)
    e = xp.exp(shifted)
    return shifted, e, xp.add.reduce(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted, _, s = _shifted_exp(x, axis)
    return shifted - xp.log(s)


def _erf(x):
    """Error function to about 1e-15, from two expansions with no cancellation.

    For |x| <= 3: ``erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))``
    (all terms positive). Beyond: ``erfc(x) = exp(-x^2) / (sqrt(pi) * K(x))`` with the
    continued fraction ``K(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))``, evaluated
    from a fixed depth. NumPy has no erf of its own.
    """
    dtype = x.dtype
    x = x.astype("float64", copy=False)
    a = xp.abs(x)
    small = xp.minimum(a, 3.0)
    term = small.copy()
    total = small.copy()
    x2 = small * small
    for n in range(1, 80):
        term = term * (2.0 * x2) / (2 * n + 1)
        total = total + term
    erf_small = 2.0 / math.sqrt(math.pi) * xp.exp(-x2) * total
    big = xp.maximum(a, 3.0)
    k = big.copy()
    for n in range(60, 0, -1):
        k = big + (n / 2.0) / k
    erf_big = 1.0 - xp.exp(-big * big) / (math.sqrt(math.pi) * k)
    return (xp.sign(x) * xp.where(a <= 3.0, erf_small, erf_big)).astype(dtype, copy=False)


class Sigmoid(Function):
    def forward(self, x):
        self.out = _sigmoid(x)
        return self.out

    def backward(self, g):
        s = self.out
        return (g * s * (1 - s),)


class Tanh(Function):
    def forward(self, x):
        self.out = xp.tanh(x)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


def _max0(x, out=None):
    """``max(x, 0)`` element-wise, against an array of zeros (see ``zeros_operand``: NumPy runs
    an array against the scalar 0 without its vector loop)."""
    return xp.maximum(x, zeros_operand(x.shape, x.dtype), out=out)


class Relu(Function):
    """max(x, 0); the gradient at 0 is 0 (TensorFlow's and PyTorch's rule)."""

    def forward(self, x):
        self.mask = x > 0
        return _max0(x)

    def backward(self, g):
        return (g * self.mask,)


class LeakyRelu(Function):
    def forward(self, x, alpha):
        self.mask, self.alpha = x > 0, alpha
        return xp.where(self.mask, x, alpha * x)

    def backward(self, g):
        return (xp.where(self.mask, g, self.alpha * g),)


class Elu(Function):
    def forward(self, x, alpha):
        self.mask, self.alpha = x > 0, alpha
        self.em1 = xp.expm1(xp.minimum(x, 0))
        return xp.where(self.mask, x, alpha * self.em1)

    def backward(self, g):
        return (xp.where(self.mask, g, g * self.alpha * (self.em1 + 1)),)


class Softplus(Function):
    """log(1 + exp(x)) as ``max(x, 0) + log1p(exp(-|x|))``."""

    def forward(self, x):
        self.x = x
        return _max0(x) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g):
        return (g * _sigmoid(self.x),)


class Gelu(Function):
    """Gaussian error linear unit, exact (erf) or with the tanh approximation."""

    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        if approximate:
            c = math.sqrt(2 / math.pi)
            self.inner = c * (x + 0.044715 * x**3)
            self.t = xp.tanh(self.inner)
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return x * self.cdf

    def backward(self, g):
        x = self.x
        if self.approximate:
            c = math.sqrt(2 / math.pi)
            t = self.t
            d_inner = c * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (g * (self.cdf + x * pdf),)


class Swish(Function):
    """x * sigmoid(x) (also called SiLU)."""

    def forward(self, x):
        self.x = x
        self.s = _sigmoid(x)
        return x * self.s

    def backward(self, g):
        s = self.s
        return (g * (s + self.x * s * (1 - s)),)


class Softmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        self.out = xp.exp(_log_softmax(x, axis))
        return self.out

    def backward(self, g):
        s = self.out
        return (s * (g - xp.sum(g * s, axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """``x - logsumexp(x)``; never the log of a softmax."""

    def forward(self, x, axis):
        self.axis = axis
        self.out = _log_softmax(x, axis)
        return self.out

    def backward(self, g):
        return (g - xp.exp(self.out) * xp.sum(g, axis=self.axis, keepdims=True),)


class Dropout(Function):
    """Inverted dropout: ``x * keep / (1 - rate)`` with ``keep`` drawn when the node runs,
    from ``rng`` or else the global generator (``tg.random``) of that moment. The draw
    is part of the node, so a replayed training step (``tapegrad.fast``) draws a new
    mask each time, as an eager one does."""

    def forward(self, x, rate, noise_shape=None, rng=None):
        gen = rng if rng is not None else _random.generator()
        shape = x.shape if noise_shape is None else noise_shape
        keep = gen.random(shape, dtype=xp.float32 if x.dtype == xp.float32 else xp.float64) >= rate
        self.mask = xp.asarray(keep.astype(x.dtype) * (1.0 / (1.0 - rate)), dtype=x.dtype)
        return x * self.mask

    def backward(self, g):
        return (g * self.mask,)


class MovingAverage(Function):
    """``moving = moving * momentum + value * (1 - momentum)`` in place on a variable's
    storage (BatchNormalization's moving statistics), as a node of its own so that a
    replayed training step (``tapegrad.fast``) repeats it. The node passes
    ``value`` through unchanged; the update itself takes no gradient."""

    def forward(self, value, moving, momentum):
        moving[...] = moving * momentum + value.reshape(moving.shape) * (1 - momentum)
        return value

    def backward(self, g):
        return g, None


class SigmoidCrossEntropy(Function):
    """Per-element binary cross-entropy from logits: ``max(x, 0) - x*y + log1p(exp(-|x|))``."""

    def forward(self, logits, labels):
        self.x, self.y = logits, labels
        return _max0(logits) - logits * labels + xp.log1p(xp.exp(-xp.abs(logits)))

    def backward(self, g):
        return (g * (_sigmoid(self.x) - self.y),)


class SoftmaxCrossEntropy(Function):
    """Per-sample categorical cross-entropy from logits; the gradient is ``p - y``."""

    def forward(self, logits, labels, axis):
        logp = _log_softmax(logits, axis)
        self.logp, self.y, self.axis = logp, labels, axis
        return -xp.sum(labels * logp, axis=axis)

    def backward(self, g):
        g = xp.expand_dims(g, self.axis)
        return (g * (xp.exp(self.logp) * xp.sum(self.y, axis=self.axis, keepdims=True) - self.y),)


class SparseSoftmaxCrossEntropy(Function):
    """Per-sample categorical cross-entropy from logits with integer labels over the last axis.

    ``loss = log(sum(exp(x - m))) - (x[label] - m)`` with ``m`` the row maximum (an infinite
    maximum counts as 0). The forward keeps ``exp(x - m)`` and its row sums, so the backward
    is one pass: ``softmax - onehot``, scaled by the incoming gradient.
    """

    def forward(self, logits, labels):
        x = logits.reshape(-1, logits.shape[-1])
        lab = labels.reshape(-1)
        rows = _rows(x.shape[0])
        self.rows, self.lab, self.shape = rows, lab, logits.shape
        shifted, self.e, self.s = _shifted_exp(x, 1)
        return (xp.log(self.s[:, 0]) - shifted[rows, lab]).reshape(labels.shape)

    def backward(self, g):
        if g.shape != self.shape[:-1]:
            g = xp.broadcast_to(g, self.shape[:-1])
        g = g.reshape(-1, 1)  # a column of per-sample gradients
        grad = self.e * (g / self.s)
        grad[self.rows, self.lab] -= g.reshape(-1)
        return (grad if grad.shape == self.shape else grad.reshape(self.shape),)


_ROWS: dict = {}


def _rows(n: int):
    """``arange(n)``, kept: the row indices of a batch, the same every step."""
    rows = _ROWS.get(n)
    if rows is None:
        if len(_ROWS) > 16:
            _ROWS.clear()
        rows = _ROWS[n] = xp.arange(n)
        rows.flags.writeable = False
    return rows


# -- functions ---------------------------------------------------------------------

def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``, stable: ``sigmoid(±1000)`` is exactly 1 and 0 with no warning, element-wise
    (``tf.nn.sigmoid``, ``keras.activations.sigmoid``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.sigmoid(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [0.2689, 0.5, 0.8808]
    """
    return Sigmoid.apply(tensor(x))


def tanh(x) -> Tensor:
    """The hyperbolic tangent element-wise (``tf.nn.tanh``, ``keras.activations.tanh``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.tanh(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.7616, 0.0, 0.964]
    """
    return Tanh.apply(tensor(x))


def relu(x) -> Tensor:
    """``max(x, 0)`` element-wise (``tf.nn.relu``, ``keras.activations.relu``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.relu(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [0.0, 0.0, 2.0]
    """
    return Relu.apply(tensor(x))


def leaky_relu(x, alpha: float = 0.2) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * x`` element-wise (``tf.nn.leaky_relu``, ``keras.activations.leaky_relu``).

    Args:
        x: a tensor or array.
        alpha: the slope below 0 (default 0.2, as Keras and ``tf.nn.leaky_relu``).

    Example:
        >>> import tapegrad as tg
        >>> tg.leaky_relu(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.2, 0.0, 2.0]
    """
    return LeakyRelu.apply(tensor(x), alpha=alpha)


def elu(x, alpha: float = 1.0) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)`` element-wise (``tf.nn.elu``, ``keras.activations.elu``).

    Args:
        x: a tensor or array.
        alpha: the scale of the negative part (default 1.0).

    Example:
        >>> import tapegrad as tg
        >>> tg.elu(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.6321, 0.0, 2.0]
    """
    return Elu.apply(tensor(x), alpha=alpha)


def selu(x) -> Tensor:
    """Scaled ELU with the constants of Klambauer et al. (as Keras), element-wise
    (``tf.nn.selu``, ``keras.activations.selu``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.selu(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-1.1113, 0.0, 2.1014]
    """
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    return elu(x, alpha) * scale


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, stable for large ``|x|``, element-wise (``tf.nn.softplus``, ``keras.activations.softplus``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.softplus(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [0.3133, 0.6931, 2.1269]
    """
    return Softplus.apply(tensor(x))


def softsign(x) -> Tensor:
    """``x / (1 + |x|)`` element-wise (``tf.nn.softsign``, ``keras.activations.softsign``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.softsign(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.5, 0.0, 0.6667]
    """
    from .math import abs as abs_

    x = tensor(x)
    return x / (abs_(x) + 1.0)


def gelu(x, approximate: bool = False) -> Tensor:
    """The Gaussian error linear unit ``x * Phi(x)`` element-wise (``tf.nn.gelu``, ``keras.activations.gelu``).

    Keras 3's default is the exact form; the exact form computes erf with series and a continued
    fraction (NumPy has no erf) and agrees with ``math.erf`` to about 1e-15.

    Args:
        x: a tensor or array.
        approximate: use the tanh approximation (default False: the exact form).

    Example:
        >>> import tapegrad as tg
        >>> tg.gelu(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.1587, 0.0, 1.9545]
    """
    return Gelu.apply(tensor(x), approximate=approximate)


def swish(x) -> Tensor:
    """``x * sigmoid(x)`` (alias ``silu``) element-wise (``tf.nn.swish``, ``keras.activations.swish``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.swish(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [-0.2689, 0.0, 1.7616]
    """
    return Swish.apply(tensor(x))


def hard_sigmoid(x) -> Tensor:
    """Keras 3's ``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between, element-wise
    (``keras.activations.hard_sigmoid``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.activations.hard_sigmoid(tg.constant([-1.0, 0.0, 2.0], tg.float64)).numpy().round(4).tolist()
        [0.3333, 0.5, 0.8333]
    """
    from .math import clip

    return clip(tensor(x) / 6.0 + 0.5, 0.0, 1.0)


def softmax(x, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably (``tf.nn.softmax``).

    Args:
        x: a tensor or array.
        axis: the axis that sums to 1 (default -1).

    Example:
        >>> import tapegrad as tg
        >>> tg.softmax(tg.constant([[0.0, 0.0]])).numpy().tolist()
        [[0.5, 0.5]]
    """
    return Softmax.apply(tensor(x), axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed stably (``tf.nn.log_softmax``).

    Args:
        x: a tensor or array.
        axis: the axis of the distribution (default -1).

    Example:
        >>> import tapegrad as tg
        >>> tg.log_softmax(tg.constant([0.0, 0.0], tg.float64)).numpy().round(4).tolist()
        [-0.6931, -0.6931]
    """
    return LogSoftmax.apply(tensor(x), axis=axis)


def linear(x, kernel, bias=None) -> Tensor:
    """``x @ kernel + bias`` (PyTorch's ``nn.functional.linear`` with Keras's kernel layout
    ``(in, out)``): a matrix product and a broadcast addition, two nodes.

    Example: ``tg.ops.linear(tg.ones((1, 2)), tg.ones((2, 1)), tg.ones(1))`` gives ``[[3.]]``.
    """
    from .math import add, matmul

    out = matmul(tensor(x), kernel)
    return out if bias is None else add(out, bias)


def dropout(x, rate: float, noise_shape=None, rng=None) -> Tensor:
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``
    (``keras.random.dropout``); ``noise_shape`` broadcasts one draw over axes of size 1,
    ``rng`` is a NumPy generator (default: the global one, read when the op runs).

    Example: ``tg.ops.dropout(tg.ones((2, 3)), 0.0)`` returns the input's values.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), received {rate}")
    x = tensor(x)
    shape = None if noise_shape is None else tuple(noise_shape)
    return Dropout.apply(x, rate=float(rate), noise_shape=shape, rng=rng)


def moving_average_update(variable, value, momentum: float) -> Tensor:
    """Update ``variable`` in place to ``variable * momentum + value * (1 - momentum)`` (as
    Keras's BatchNormalization does with ``assign``); returns ``value``. ``value`` may carry
    extra axes of size 1 (a statistic kept with ``keepdims=True``)."""
    value = tensor(value)
    if value.size != variable.size:
        raise ValueError(f"moving_average_update: value of shape {value.shape} does not fit variable "
                         f"{variable.name!r} of shape {variable.shape}")
    return MovingAverage.apply(value, variable, momentum=float(momentum))


def sigmoid_cross_entropy_with_logits(labels, logits) -> Tensor:
    """Element-wise binary cross-entropy from logits, finite for logits of ±1e4 (``tf.nn`` name and order).

    Args:
        labels: targets in [0, 1], the shape of ``logits``.
        logits: unnormalized log-odds.

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.nn.sigmoid_cross_entropy_with_logits(tg.constant([1.0]), tg.constant([0.0]))[0]), 4)
        0.6931
    """
    logits = tensor(logits)
    rule, settings = sigmoid_cross_entropy_node(labels, logits)
    return rule.apply(logits, **settings)


def softmax_cross_entropy_with_logits(labels, logits, axis: int = -1) -> Tensor:
    """Per-sample cross-entropy from logits with one-hot (or soft) labels; gradient ``p - y``.

    Args:
        labels: a distribution per sample, the shape of ``logits``.
        logits: unnormalized log-probabilities.
        axis: the class axis (default -1).

    Example:
        >>> import tapegrad as tg
        >>> out = tg.nn.softmax_cross_entropy_with_logits(tg.constant([[1.0, 0.0]]), tg.constant([[0.0, 0.0]]))
        >>> round(float(out[0]), 4)  # log 2
        0.6931
    """
    logits = tensor(logits)
    rule, settings = softmax_cross_entropy_node(labels, logits, axis)
    return rule.apply(logits, **settings)


def sparse_softmax_cross_entropy_with_logits(labels, logits) -> Tensor:
    """Per-sample CE from logits with integer class labels.

    Example:
        >>> import tapegrad as tg
        >>> logits = tg.constant([[0.0, 0.0], [0.0, 0.0]])
        >>> [round(v, 4) for v in tg.nn.sparse_softmax_cross_entropy_with_logits([0, 1], logits).tolist()]  # log 2
        [0.6931, 0.6931]
    """
    logits = tensor(logits)
    rule, settings = sparse_softmax_cross_entropy_node(labels, logits)
    return rule.apply(logits, **settings)


# The three cross-entropies as ``(rule, settings)``: the labels checked against the logits
# (a Tensor or a raw array: only its shape and dtype are read), for ``rule.apply(logits,
# **settings)``; a replayed training step runs the same rule on raw arrays.

def sigmoid_cross_entropy_node(labels, logits) -> tuple:
    y = labels.data if isinstance(labels, Tensor) else xp.asarray(labels)
    return SigmoidCrossEntropy, {"labels": y.astype(logits.dtype, copy=False)}


def softmax_cross_entropy_node(labels, logits, axis: int = -1) -> tuple:
    y = labels.data if isinstance(labels, Tensor) else xp.asarray(labels)
    if y.shape != logits.shape:
        raise ValueError(
            f"softmax_cross_entropy_with_logits: labels shape {y.shape} does not match logits shape {logits.shape}"
        )
    return SoftmaxCrossEntropy, {"labels": y.astype(logits.dtype, copy=False), "axis": axis}


def sparse_softmax_cross_entropy_node(labels, logits) -> tuple:
    y = (labels.data if isinstance(labels, Tensor) else xp.asarray(labels)).astype("int64", copy=False)
    if y.shape != logits.shape[:-1]:
        raise ValueError(
            f"sparse_softmax_cross_entropy_with_logits: labels shape {y.shape} does not match logits shape "
            f"{tuple(logits.shape)} without its last axis"
        )
    n = logits.shape[-1]
    if y.size and (int(xp.minimum.reduce(y, axis=None)) < 0 or int(xp.maximum.reduce(y, axis=None)) >= n):
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: labels must be in [0, {n}), received "
                         f"values from {int(y.min())} to {int(y.max())}")
    return SparseSoftmaxCrossEntropy, {"labels": y}
