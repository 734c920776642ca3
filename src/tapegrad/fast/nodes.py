"""Fused nodes: several of the core's primitive nodes as one, for replayed training steps.

A replayed step (``replay.py``) puts one of these in place of the nodes it fuses
(``fusion.py``). Each computes exactly what the nodes it replaces compute, value for value
and gradient for gradient (``tests/fast/test_nodes.py`` checks them against the unfused
nodes), with fewer arrays allocated and fewer Python calls:

- ``Linear``: ``MatMul``, ``Add`` of a bias and optionally ``Relu`` (a Dense layer): the bias
  is added and the ReLU applied in place on the product's own result.
- ``ConvRelu``: a core ``Conv2D`` node, a ``Relu`` and optionally a ``MaxPoolTiled``: the ReLU
  runs in place on the convolution's result; followed by pooling, ReLU's mask is applied
  to the pooled gradient, ``ph * pw`` times smaller than the convolution's, because the
  gradient reaches only each window's maximum, which passed the ReLU exactly when the
  pooled value is positive.
- ``Chain``: single-input rules run one after another (a loss's per-sample rule and its means),
  and ``MeanAll``, the core's mean over every axis with its gradient as a plain array.
"""

from __future__ import annotations

from ..autodiff.engine import unbroadcast
from ..autodiff.function import Function
from ..backend import empty, xp
from ..ops.conv import Conv2D, MaxPoolTiled
from ..ops.nn import _max0
from ..ops.reduce import Mean


class Linear(Function):
    """``x @ w + b``, then ReLU with ``relu=True``: one node for a Dense layer on a 2-d batch.
    A replay may set ``into`` to ``(kernel buffer, bias buffer)`` (either None) before the
    backward pass: arrays of the weights' shapes and dtypes that their gradients are computed
    in, with the same values.

    Example:
        >>> import numpy as np
        >>> fn = Linear()
        >>> fn.forward(np.ones((1, 2)), np.ones((2, 1)), np.full(1, -3.0), relu=True).tolist()
        [[0.0]]
    """

    into = None

    def forward(self, x, w, b=None, relu=False):
        self.x, self.w, self.b_shape = x, w, None if b is None else b.shape
        out = x @ w
        if b is not None:
            out += b
        self.out = None
        if relu:
            _max0(out, out=out)  # ReLU in place
            self.out = out  # ReLU's mask is read off it: positive exactly where the sum was
        return out

    def backward(self, g):
        if self.out is not None:
            g = g * (self.out > 0)
        x, w = self.x, self.w
        gx = None if self.parents[0] is None else g @ (w.T if w.ndim == 2 else xp.swapaxes(w, -1, -2))
        if x.ndim == 2:  # what the core's MatMul and Add give, with less Python around it
            kernel_into, bias_into = self.into or (None, None)
            gw = xp.matmul(x.T, g, out=kernel_into)
            return (gx, gw) if self.b_shape is None else (gx, gw, xp.add.reduce(g, axis=0, out=bias_into))
        gw = xp.swapaxes(x, -1, -2) @ g
        return (gx, gw) if self.b_shape is None else (gx, gw, unbroadcast(g, self.b_shape))


class ConvRelu(Function):
    """A core ``Conv2D`` node with its ReLU in place, and then ``MaxPoolTiled`` when ``pool`` is set.

    Example:
        >>> import numpy as np
        >>> fn = ConvRelu()
        >>> fn.forward(np.ones((1, 4, 4, 1)), -np.ones((1, 1, 1, 1)), pool=(2, 2)).shape
        (1, 2, 2, 1)
    """

    def forward(self, x, k, b=None, stride=(1, 1), dilation=(1, 1), padding="valid", pool=None):
        self.conv = Conv2D()
        args = (x, k) if b is None else (x, k, b)
        out = self.conv.forward(*args, stride=stride, dilation=dilation, padding=padding)
        _max0(out, out=out)  # ReLU in place
        self.pool = None
        if pool is not None:
            self.pool = MaxPoolTiled()
            out = self.pool.forward(out, pool)
        self.out = out  # ReLU's mask is read off it: positive exactly where the product was
        return out

    def backward(self, g):
        g = xp.multiply(g, xp.greater(self.out, 0, out=empty(self.out.shape, bool)), out=empty(g.shape, g.dtype))
        if self.pool is not None:
            (g,) = self.pool.backward(g)
        self.conv.parents = self.parents
        return self.conv.backward(g)


class Chain(Function):
    """``rules`` (a tuple of ``(rule, settings)``, each rule with one input) applied in order
    as one node; the backward pass runs their rules in reverse, each gradient brought to
    its input's shape and dtype as the engine would.

    Example:
        >>> import numpy as np
        >>> from tapegrad.ops.reduce import Mean
        >>> from tapegrad.ops.math import Exp
        >>> float(Chain().forward(np.zeros(3), rules=((Exp, {}), (Mean, {"axes": (0,), "keepdims": False}))))
        1.0
    """

    def forward(self, x, rules):
        self.steps = []
        for rule, settings in rules:
            fn = rule()
            fn.parents = (True,)
            self.steps.append((fn, x.shape, x.dtype))
            x = fn.forward(x, **settings)
        return x

    def backward(self, g):
        for fn, shape, dtype in reversed(self.steps):
            g = fn.backward(g)[0]
            if g.shape != shape:
                g = unbroadcast(g, shape)
            if g.dtype != dtype:
                g = g.astype(dtype)
        return (g,)


class MeanAll(Mean):
    """The core's ``Mean`` over every axis, with its gradient as an array of its own rather
    than a broadcast view: the same values, without NumPy's ``broadcast_to`` wrapper (a loss's
    last rule, where the arrays are a batch of per-sample values).

    Example:
        >>> import numpy as np
        >>> fn = MeanAll()
        >>> float(fn.forward(np.arange(4.0), axes=(0,), keepdims=False)), fn.backward(np.ones(()))[0].tolist()
        (1.5, [0.25, 0.25, 0.25, 0.25])
    """

    def backward(self, g):
        out = xp.empty(self.shape, g.dtype)  # what xp.full makes, without its Python
        out.fill(g * self.scale)
        return (out,)


__all__ = ["Linear", "ConvRelu", "Chain", "MeanAll"]
