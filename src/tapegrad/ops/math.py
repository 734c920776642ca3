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
    """``a + b`` element-wise, with broadcasting (``tf.add``).

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.add(tg.constant([1.0, 2.0]), 1.0).numpy().tolist()
        [2.0, 3.0]
    """
    return Add.apply(*pair(a, b))


def subtract(a, b) -> Tensor:
    """``a - b`` element-wise, with broadcasting (``tf.subtract``).

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.subtract(tg.constant([1.0, 2.0]), 1.0).numpy().tolist()
        [0.0, 1.0]
    """
    return Sub.apply(*pair(a, b))


def multiply(a, b) -> Tensor:
    """``a * b`` element-wise, with broadcasting (``tf.multiply``).

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.multiply(tg.constant([1.0, 2.0]), 3.0).numpy().tolist()
        [3.0, 6.0]
    """
    return Mul.apply(*pair(a, b))


def divide(a, b) -> Tensor:
    """``a / b`` element-wise, with broadcasting (``tf.divide``). Two integer operands give float32, as true division.

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.divide(tg.constant([1, 3]), 2).numpy().tolist()
        [0.5, 1.5]
    """
    a, b = pair(a, b)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":  # true division of ints gives floats
        from .creation import cast

        a, b = cast(a, "float32"), cast(b, "float32")
    return Div.apply(a, b)


def negative(a) -> Tensor:
    """``-a`` element-wise (``tf.negative``).

    Args:
        a: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.negative(tg.constant([1.0, -2.0])).numpy().tolist()
        [-1.0, 2.0]
    """
    return Neg.apply(tensor(a))


def power(a, b) -> Tensor:
    """``a ** b`` element-wise (``tf.pow``); ``b`` may be a Python number or a tensor (then it is
    differentiable too).

    Args:
        a: a tensor or array.
        b: the exponent: a Python number or a tensor.

    Example:
        >>> import tapegrad as tg
        >>> tg.power(tg.constant([2.0, 3.0]), 2).numpy().tolist()
        [4.0, 9.0]
    """
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return PowScalar.apply(a, p=b)
    a, b = pair(a, b)
    return Pow.apply(a, b)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules (batched; 1-d operands promoted, then squeezed) (``tf.matmul``).

    Args:
        a: a tensor of shape ``(..., n, k)``.
        b: a tensor of shape ``(..., k, m)``.

    Example:
        >>> import tapegrad as tg
        >>> tg.matmul(tg.constant([[1.0, 2.0]]), tg.constant([[3.0], [4.0]])).numpy().tolist()
        [[11.0]]
    """
    return MatMul.apply(*pair(a, b))


def exp(x) -> Tensor:
    """``e ** x`` element-wise (``tf.math.exp``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.exp(tg.constant([0.0])).numpy().tolist()
        [1.0]
    """
    return Exp.apply(tensor(x))


def expm1(x) -> Tensor:
    """``exp(x) - 1``, accurate near 0, element-wise (``tf.math.expm1``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.expm1(tg.constant([0.0])).numpy().tolist()
        [0.0]
    """
    return Expm1.apply(tensor(x))


def log(x) -> Tensor:
    """The natural logarithm element-wise (``tf.math.log``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.log(tg.constant([1.0])).numpy().tolist()
        [0.0]
    """
    return Log.apply(tensor(x))


def log1p(x) -> Tensor:
    """``log(1 + x)``, accurate near 0, element-wise (``tf.math.log1p``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.log1p(tg.constant([0.0])).numpy().tolist()
        [0.0]
    """
    return Log1p.apply(tensor(x))


def sqrt(x) -> Tensor:
    """The square root element-wise (``tf.math.sqrt``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.sqrt(tg.constant([4.0, 9.0])).numpy().tolist()
        [2.0, 3.0]
    """
    return Sqrt.apply(tensor(x))


def square(x) -> Tensor:
    """``x * x`` element-wise (``tf.math.square``).

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.square(tg.constant([-3.0])).numpy().tolist()
        [9.0]
    """
    return Square.apply(tensor(x))


def abs(x) -> Tensor:  # noqa: A001 - NumPy's name
    """The absolute value element-wise (``tf.math.abs``). Its gradient at 0 is 0.

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.abs(tg.constant([-1.5, 2.0])).numpy().tolist()
        [1.5, 2.0]
    """
    return Abs.apply(tensor(x))


def sign(x) -> Tensor:
    """The sign, -1, 0 or 1, element-wise (``tf.math.sign``). Not differentiable: the result records nothing.

    Args:
        x: a tensor or array.

    Example:
        >>> import tapegrad as tg
        >>> tg.sign(tg.constant([-2.0, 0.0, 3.0])).numpy().tolist()
        [-1.0, 0.0, 1.0]
    """
    return Tensor._wrap(xp.sign(tensor(x).data))


def maximum(a, b) -> Tensor:
    """The larger of ``a`` and ``b`` element-wise, with broadcasting (``tf.maximum``).

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.maximum(tg.constant([1.0, 5.0]), 3.0).numpy().tolist()
        [3.0, 5.0]
    """
    return Maximum.apply(*pair(a, b))


def minimum(a, b) -> Tensor:
    """The smaller of ``a`` and ``b`` element-wise, with broadcasting (``tf.minimum``).

    Args:
        a: a tensor, array or Python number.
        b: a tensor, array or Python number; Python numbers take the other side's dtype.

    Example:
        >>> import tapegrad as tg
        >>> tg.minimum(tg.constant([1.0, 5.0]), 3.0).numpy().tolist()
        [1.0, 3.0]
    """
    return Minimum.apply(*pair(a, b))


def where(condition, x, y) -> Tensor:
    """Pick ``x`` where ``condition`` is true, else ``y`` (``tf.where``); differentiable in ``x`` and ``y``.

    Args:
        condition: a boolean tensor or array, broadcast against ``x`` and ``y``.
        x: the values where ``condition`` holds.
        y: the values elsewhere.

    Example:
        >>> import tapegrad as tg
        >>> tg.where([True, False], tg.constant([1.0, 2.0]), 0.0).numpy().tolist()
        [1.0, 0.0]
    """
    cond = tensor(condition).data.astype(bool, copy=False)
    x, y = pair(x, y)
    return Where.apply(x, y, cond=cond)


def clip(x, clip_value_min, clip_value_max) -> Tensor:
    """Clip values to ``[clip_value_min, clip_value_max]`` (``tf.clip_by_value``, alias ``tg.clip_by_value``);
    the gradient is 1 inside the interval and 0 outside.

    Args:
        x: a tensor or array.
        clip_value_min: the lower bound (a number or tensor).
        clip_value_max: the upper bound (a number or tensor).

    Example:
        >>> import tapegrad as tg
        >>> tg.clip(tg.constant([-2.0, 0.5, 3.0]), 0.0, 1.0).numpy().tolist()
        [0.0, 0.5, 1.0]
    """
    x = tensor(x)
    lo = clip_value_min.data if isinstance(clip_value_min, Tensor) else clip_value_min
    hi = clip_value_max.data if isinstance(clip_value_max, Tensor) else clip_value_max
    return Clip.apply(x, lo=lo, hi=hi)
