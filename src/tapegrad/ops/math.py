"""Element-wise arithmetic primitives, with NumPy broadcasting.

Each backward rule returns gradients of the broadcast shape; the engine sums them
back to each input's shape (``unbroadcast``) on every edge.
"""

from __future__ import annotations

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import xp
from ._util import pair, tensor


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        gb = g / self.b
        return gb, -gb * self.a / self.b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class PowScalar(Function):
    """``x ** p`` for a constant exponent ``p``."""

    def forward(self, a, p):
        self.a, self.p = a, p
        return a**p

    def backward(self, g):
        p = self.p
        if p == 2:
            return (g * 2 * self.a,)
        return (g * p * self.a ** (p - 1),)


class Pow(Function):
    """``x ** y`` with a tensor exponent; d/dy is ``x**y * log(x)`` (0 where x <= 0)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        with xp.errstate(divide="ignore", invalid="ignore"):
            ga = g * b * a ** (b - 1)
            safe = xp.where(a > 0, a, 1)
            gb = g * self.out * xp.where(a > 0, xp.log(safe), 0)
        return ga, gb


class MatMul(Function):
    """``a @ b`` with NumPy's rules: batched, and 1-d operands promoted then squeezed."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-d, received shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: cannot multiply shapes {a.shape} and {b.shape}: {ka} != {kb}")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        if a.ndim >= 2 and b.ndim >= 2:
            need_a, need_b = self.parents[0] is not None, self.parents[1] is not None
            return (g @ xp.swapaxes(b, -1, -2) if need_a else None,
                    xp.swapaxes(a, -1, -2) @ g if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a  # NumPy's promotion of 1-d operands
        b2 = b[:, None] if b.ndim == 1 else b
        batch = xp.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = g2 @ xp.swapaxes(b2, -1, -2)
        gb = xp.swapaxes(a2, -1, -2) @ g2
        if a.ndim == 1:  # sum the promoted and broadcast axes back to (k,)
            ga = ga.reshape(-1, a.shape[0]).sum(axis=0)
        if b.ndim == 1:
            gb = gb.reshape(-1, b.shape[0]).sum(axis=0)
        return ga, gb


class Exp(Function):
    def forward(self, a):
        self.out = xp.exp(a)
        return self.out

    def backward(self, g):
        return (g * self.out,)


class Expm1(Function):
    def forward(self, a):
        self.out = xp.expm1(a)
        return self.out

    def backward(self, g):
        return (g * (self.out + 1),)


class Log(Function):
    def forward(self, a):
        self.a = a
        return xp.log(a)

    def backward(self, g):
        return (g / self.a,)


class Log1p(Function):
    def forward(self, a):
        self.a = a
        return xp.log1p(a)

    def backward(self, g):
        return (g / (1 + self.a),)


class Sqrt(Function):
    def forward(self, a):
        self.out = xp.sqrt(a)
        return self.out

    def backward(self, g):
        return (g / (2 * self.out),)


class Square(Function):
    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return (g * 2 * self.a,)


class Abs(Function):
    """|x|; the gradient at 0 is 0 (``sign(0) = 0``), as TensorFlow and PyTorch."""

    def forward(self, a):
        self.a = a
        return xp.abs(a)

    def backward(self, g):
        return (g * xp.sign(self.a),)


class Maximum(Function):
    """Element-wise maximum; on ties the gradient goes to the first input (TensorFlow's rule)."""

    def forward(self, a, b):
        self.mask = a >= b
        return xp.maximum(a, b)

    def backward(self, g):
        return xp.where(self.mask, g, 0), xp.where(self.mask, 0, g)


class Minimum(Function):
    """Element-wise minimum; on ties the gradient goes to the first input (TensorFlow's rule)."""

    def forward(self, a, b):
        self.mask = a <= b
        return xp.minimum(a, b)

    def backward(self, g):
        return xp.where(self.mask, g, 0), xp.where(self.mask, 0, g)


class Where(Function):
    def forward(self, a, b, cond):
        self.cond = cond
        return xp.where(cond, a, b)

    def backward(self, g):
        return xp.where(self.cond, g, 0), xp.where(self.cond, 0, g)


class Clip(Function):
    """Clip to [lo, hi]; the gradient passes where lo <= x <= hi (TensorFlow's rule)."""

    def forward(self, a, lo, hi):
        self.mask = (a >= lo) & (a <= hi)
        return xp.clip(a, lo, hi)

    def backward(self, g):
        return (xp.where(self.mask, g, 0),)


# -- functions ---------------------------------------------------------------------

def add(a, b) -> Tensor:
    """``a + b`` with broadcasting. Example: ``tg.add(tg.ones(2), 1.0)``."""
    return Add.apply(*pair(a, b))


def subtract(a, b) -> Tensor:
    return Sub.apply(*pair(a, b))


def multiply(a, b) -> Tensor:
    return Mul.apply(*pair(a, b))


def divide(a, b) -> Tensor:
    a, b = pair(a, b)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":  # true division of ints gives floats
        from .creation import cast

        a, b = cast(a, "float32"), cast(b, "float32")
    return Div.apply(a, b)


def negative(a) -> Tensor:
    return Neg.apply(tensor(a))


def power(a, b) -> Tensor:
    """``a ** b``; ``b`` may be a Python number or a tensor (then it is differentiable too)."""
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return PowScalar.apply(a, p=b)
    a, b = pair(a, b)
    return Pow.apply(a, b)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules (batched; 1-d operands promoted, then squeezed)."""
    return MatMul.apply(*pair(a, b))


def exp(x) -> Tensor:
    return Exp.apply(tensor(x))


def expm1(x) -> Tensor:
    return Expm1.apply(tensor(x))


def log(x) -> Tensor:
    return Log.apply(tensor(x))


def log1p(x) -> Tensor:
    return Log1p.apply(tensor(x))


def sqrt(x) -> Tensor:
    return Sqrt.apply(tensor(x))


def square(x) -> Tensor:
    return Square.apply(tensor(x))


def abs(x) -> Tensor:  # noqa: A001 - NumPy's name
    return Abs.apply(tensor(x))


def sign(x) -> Tensor:
    """Element-wise sign; not differentiable (the result records nothing)."""
    return Tensor._wrap(xp.sign(tensor(x).data))


def maximum(a, b) -> Tensor:
    return Maximum.apply(*pair(a, b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(*pair(a, b))


def where(condition, x, y) -> Tensor:
    """Pick ``x`` where ``condition`` is true, else ``y``; differentiable in ``x`` and ``y``."""
    cond = tensor(condition).data.astype(bool, copy=False)
    x, y = pair(x, y)
    return Where.apply(x, y, cond=cond)


def clip(x, clip_value_min, clip_value_max) -> Tensor:
    """Clip values to ``[clip_value_min, clip_value_max]`` (alias ``clip_by_value``)."""
    x = tensor(x)
    lo = clip_value_min.data if isinstance(clip_value_min, Tensor) else clip_value_min
    hi = clip_value_max.data if isinstance(clip_value_max, Tensor) else clip_value_max
    return Clip.apply(x, lo=lo, hi=hi)
