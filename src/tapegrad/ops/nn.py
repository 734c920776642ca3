"""Neural-network primitives: activations, softmax, and the fused kernels.

Each activation is one node with a stable formula. Fused kernels exist where they
remove whole nodes from a training step or where stability needs them:
``linear`` (``x @ W + b``), ``sigmoid_cross_entropy_with_logits`` and
``softmax_cross_entropy_with_logits`` (whose gradient is ``p - y``). The cross-entropies
can also return their mean (``mean=True``): the losses' default reduction, in the same node.
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
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _shifted_exp(x, axis):
    """``x - max`` (an infinite max counts as 0), its exp, and the exp's sum over ``axis`` (kept)."""
    m = xp.max(x, axis=axis, keepdims=True)
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
    """``max(x, 0)`` element-wise, against an array of zeros (see ``zeros_operand``: NumPy's
    loop for an array against the scalar 0 is 2.6 times slower)."""
    return xp.maximum(x, zeros_operand(x.shape, x.dtype), out=out)


def relu_inplace(out, keep_mask: bool = True):
    """ReLU applied in place to a fresh result; returns the mask its backward pass needs
    (None with ``keep_mask=False``, for a caller that reads it off the output later)."""
    mask = out > 0 if keep_mask else None
    _max0(out, out=out)
    return mask


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


class Linear(Function):
    """Fused ``x @ W + b``, optionally followed by ReLU (the Dense layer's kernel): one node
    instead of three, and the ReLU runs in place on the product's own result."""

    def forward(self, x, w, b=None, relu=False):
        if x.shape[-1] != w.shape[0]:
            raise ValueError(f"matmul: cannot multiply shapes {x.shape} and {w.shape}: {x.shape[-1]} != {w.shape[0]}")
        self.x, self.w, self.has_b = x, w, b is not None
        out = x @ w
        if b is not None:
            out += b
        # the mask is taken here, while the result is in cache; reading it off the result in
        # the backward pass (as Conv2D does, for max-pooling's sake) measured W2 1.01-1.03x slower
        self.mask = relu_inplace(out) if relu else None
        return out

    def backward(self, g):
        x, w = self.x, self.w
        if self.mask is not None:
            g = xp.multiply(g, self.mask, out=g) if self.owns_grad else g * self.mask
        gx = None if self.parents[0] is None else g @ w.T  # the first layer's input needs no gradient
        if x.ndim == 2:
            gw = x.T @ g
        else:
            gw = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])
        if self.has_b:
            # add.reduce is what ndarray.sum runs, without sum's Python wrapper
            gb = xp.add.reduce(g, axis=0 if g.ndim == 2 else tuple(range(g.ndim - 1)))
            return gx, gw, gb
        return gx, gw


class Dropout(Function):
    """Inverted dropout: ``x * keep / (1 - rate)`` with ``keep`` drawn when the node runs,
    from ``rng`` or else the global generator (``tg.random``) of that moment. The draw
    is part of the node, so a replayed training step (``tapegrad.models.capture``) draws
    a new mask each time, as an eager one does."""

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
    recorded training step (``tapegrad.models.capture``) repeats it. The node passes
    ``value`` through unchanged; the update itself takes no gradient."""

    def forward(self, value, moving, momentum):
        moving[...] = moving * momentum + value.reshape(moving.shape) * (1 - momentum)
        return value

    def backward(self, g):
        return g, None


class SigmoidCrossEntropy(Function):
    """Per-element binary cross-entropy from logits: ``max(x, 0) - x*y + log1p(exp(-|x|))``;
    with ``mean=True``, the mean over every element, from the same node."""

    def forward(self, logits, labels, mean=False):
        self.x, self.y, self.mean = logits, labels, mean
        per_element = _max0(logits) - logits * labels + xp.log1p(xp.exp(-xp.abs(logits)))
        return xp.add.reduce(per_element, axis=None) / per_element.size if mean else per_element

    def backward(self, g):
        if self.mean:
            g = g / self.x.size
        return (g * (_sigmoid(self.x) - self.y),)


class SoftmaxCrossEntropy(Function):
    """Per-sample categorical cross-entropy from logits; the gradient is ``p - y``.

    With ``mean=True`` the node returns the mean over all samples, so the losses' default
    reduction costs no second node (and no second pass in the backward).
    """

    def forward(self, logits, labels, axis, mean=False):
        logp = _log_softmax(logits, axis)
        self.logp, self.y, self.axis, self.mean = logp, labels, axis, mean
        per_sample = -xp.sum(labels * logp, axis=axis)
        self.count = per_sample.size
        return xp.add.reduce(per_sample, axis=None) / self.count if mean else per_sample

    def backward(self, g):
        g = g / self.count if self.mean else xp.expand_dims(g, self.axis)
        return (g * (xp.exp(self.logp) * xp.sum(self.y, axis=self.axis, keepdims=True) - self.y),)


class SparseSoftmaxCrossEntropy(Function):
    """Categorical cross-entropy from logits with integer labels over the last axis.

    ``loss = log(sum(exp(x - m))) - (x[label] - m)`` with ``m`` the row maximum. The
    forward keeps ``exp(x - m)`` and its row sums, so the backward is one pass:
    ``softmax - onehot``, scaled by the incoming gradient. With ``mean=True`` the node
    returns the mean over all samples (the losses' default reduction, one node not two),
    as ``sum(log(s)) + sum(m - x[label])`` over the batch: both sums are of non-negative
    terms, so nothing cancels, and the pass that subtracts them per sample is saved. A
    row whose maximum is infinite makes that sum non-finite; then the rows are shifted
    as ``_shifted_exp`` does (an infinite maximum counts as 0).
    """

    def forward(self, logits, labels, mean=False):
        x = logits.reshape(-1, logits.shape[-1])
        lab = labels.reshape(-1)
        rows = _rows(x.shape[0])
        self.rows, self.lab, self.shape, self.mean = rows, lab, logits.shape, mean
        if mean and x.shape[0]:
            shifted = x - xp.maximum.reduce(x, axis=1, keepdims=True)  # what x.max runs, without its Python layer
            picked = shifted[rows, lab]
            e = xp.exp(shifted)
            s = xp.add.reduce(e, axis=1, keepdims=True)
            total = xp.add.reduce(xp.log(s), axis=None) - xp.add.reduce(picked)
            if math.isfinite(total):
                self.e, self.s = e, s
                return total / len(rows)
        shifted, e, s = _shifted_exp(x, 1)
        self.e, self.s = e, s
        per_sample = xp.log(s[:, 0]) - shifted[rows, lab]
        return xp.add.reduce(per_sample) / len(rows) if mean else per_sample.reshape(labels.shape)

    def backward(self, g):
        # a column of per-sample gradients, or one 0-d value when every sample weighs 1/N
        g = g / len(self.rows) if self.mean else xp.broadcast_to(g, self.shape[:-1]).reshape(-1, 1)
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
    """1 / (1 + exp(-x)), stable: ``sigmoid(±1000)`` is exactly 1 and 0 with no warning."""
    return Sigmoid.apply(tensor(x))


def tanh(x) -> Tensor:
    return Tanh.apply(tensor(x))


def relu(x) -> Tensor:
    """max(x, 0). Example: ``tg.nn.relu(tg.constant([-1.0, 2.0]))`` gives ``[0, 2]``."""
    return Relu.apply(tensor(x))


def leaky_relu(x, alpha: float = 0.2) -> Tensor:
    """x for x > 0, else ``alpha * x`` (default 0.2, as Keras and ``tf.nn.leaky_relu``)."""
    return LeakyRelu.apply(tensor(x), alpha=alpha)


def elu(x, alpha: float = 1.0) -> Tensor:
    return Elu.apply(tensor(x), alpha=alpha)


def selu(x) -> Tensor:
    """Scaled ELU with the constants of Klambauer et al. (as Keras)."""
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    return elu(x, alpha) * scale


def softplus(x) -> Tensor:
    return Softplus.apply(tensor(x))


def softsign(x) -> Tensor:
    from .math import abs as abs_

    x = tensor(x)
    return x / (abs_(x) + 1.0)


def gelu(x, approximate: bool = False) -> Tensor:
    """GELU (Keras 3's default is the exact form, ``approximate=False``).

    The exact form computes erf with series and a continued fraction (NumPy has no
    erf); it agrees with ``math.erf`` to about 1e-15.
    """
    return Gelu.apply(tensor(x), approximate=approximate)


def swish(x) -> Tensor:
    """x * sigmoid(x) (alias ``silu``)."""
    return Swish.apply(tensor(x))


def hard_sigmoid(x) -> Tensor:
    """Keras 3's ``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    from .math import clip

    return clip(tensor(x) / 6.0 + 0.5, 0.0, 1.0)


def softmax(x, axis: int = -1) -> Tensor:
    return Softmax.apply(tensor(x), axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(tensor(x), axis=axis)


def linear(x, kernel, bias=None, relu: bool = False) -> Tensor:
    """``x @ kernel + bias`` as one fused node (what ``Dense`` uses); with ``relu=True``,
    ``relu(x @ kernel + bias)``, still one node.

    Example: ``tg.ops.linear(tg.ones((1, 2)), tg.ones((2, 1)), relu=True)`` gives ``[[2.]]``.
    """
    if bias is None:
        return Linear.apply(tensor(x), kernel, relu=relu)
    return Linear.apply(tensor(x), kernel, bias, relu=relu)


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


def sigmoid_cross_entropy_with_logits(labels, logits, *, mean: bool = False) -> Tensor:
    """Element-wise BCE from logits, finite for logits of ±1e4 (``tf.nn`` name and order).

    ``mean=True`` (not in ``tf.nn``) returns the mean over every element from the same node.
    """
    logits = tensor(logits)
    rule, settings = sigmoid_cross_entropy_node(labels, logits, mean)
    return rule.apply(logits, **settings)


def softmax_cross_entropy_with_logits(labels, logits, axis: int = -1, *, mean: bool = False) -> Tensor:
    """Per-sample CE from logits with one-hot (or soft) labels; gradient ``p - y``.

    ``mean=True`` (not in ``tf.nn``) returns the mean over all samples from the same node:
    what the losses' default reduction uses, one graph node instead of two.
    """
    logits = tensor(logits)
    rule, settings = softmax_cross_entropy_node(labels, logits, axis, mean)
    return rule.apply(logits, **settings)


def sparse_softmax_cross_entropy_with_logits(labels, logits, *, mean: bool = False) -> Tensor:
    """Per-sample CE from logits with integer class labels.

    ``mean=True`` (not in ``tf.nn``) returns the mean over all samples from the same node.

    Example:
        >>> import tapegrad as tg
        >>> logits = tg.constant([[0.0, 0.0], [0.0, 0.0]])
        >>> round(float(tg.nn.sparse_softmax_cross_entropy_with_logits([0, 1], logits, mean=True)), 4)  # log 2
        0.6931
    """
    logits = tensor(logits)
    rule, settings = sparse_softmax_cross_entropy_node(labels, logits, mean)
    return rule.apply(logits, **settings)


# The three cross-entropies as ``(rule, settings)``: the labels checked against the logits
# (a Tensor or a raw array: only its shape and dtype are read), for ``rule.apply(logits,
# **settings)``, or for a recorded training step to run the rule on raw arrays.

def sigmoid_cross_entropy_node(labels, logits, mean: bool = False) -> tuple:
    y = labels.data if isinstance(labels, Tensor) else xp.asarray(labels)
    return SigmoidCrossEntropy, {"labels": y.astype(logits.dtype, copy=False), "mean": mean}


def softmax_cross_entropy_node(labels, logits, axis: int = -1, mean: bool = False) -> tuple:
    y = labels.data if isinstance(labels, Tensor) else xp.asarray(labels)
    if y.shape != logits.shape:
        raise ValueError(
            f"softmax_cross_entropy_with_logits: labels shape {y.shape} does not match logits shape {logits.shape}"
        )
    return SoftmaxCrossEntropy, {"labels": y.astype(logits.dtype, copy=False), "axis": axis, "mean": mean}


def sparse_softmax_cross_entropy_node(labels, logits, mean: bool = False) -> tuple:
    y = (labels.data if isinstance(labels, Tensor) else xp.asarray(labels)).astype("int64", copy=False)
    if y.shape != logits.shape[:-1]:
        raise ValueError(
            f"sparse_softmax_cross_entropy_with_logits: labels shape {y.shape} does not match logits shape "
            f"{tuple(logits.shape)} without its last axis"
        )
    n = logits.shape[-1]
    # one pass: as unsigned integers, negative labels are above every class index too
    if y.size and int(xp.maximum.reduce(y.reshape(-1).view(xp.uint64))) >= n:
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: labels must be in [0, {n}), received "
                         f"values from {int(y.min())} to {int(y.max())}")
    return SparseSoftmaxCrossEntropy, {"labels": y, "mean": mean}
