"""``gradcheck``: compare analytic gradients with central finite differences."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .engine import run
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytic gradient differs from the finite-difference one.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> class WrongSquare(tg.Function):
        ...     def forward(self, x):
        ...         self.x = x
        ...         return x * x
        ...     def backward(self, g):
        ...         return (self.x * g,)  # should be 2 x g
        >>> try:
        ...     tg.gradcheck(WrongSquare.apply, [np.array([1.0])])
        ... except tg.GradcheckError:
        ...     print("caught")
        caught
    """


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check d(sum(fn(*inputs)))/d(input) against central differences, in float64.

    Each input is converted to a float64 tensor. The output is reduced with a fixed random
    weighting (so that every output element matters, not just their sum). Raises
    :class:`GradcheckError` naming the input, the worst element's index and both values.

    Args:
        fn: a function of tensors returning a tensor.
        inputs: the points to check at (arrays, numbers or tensors).
        eps: the finite-difference step (default 1e-6).
        atol: the absolute tolerance (default 1e-5).
        rtol: the relative tolerance (default 1e-3).
        raise_exception: raise on a mismatch; False returns False instead (default True).

    Example:
        >>> import tapegrad as tg
        >>> tg.gradcheck(lambda x: x * x, [np.array([1.0, 2.0])])
        True
    """
    arrays = [np.array(x.numpy(copy=False) if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, received {type(out).__name__}")
    weights = np.random.default_rng(1234).uniform(0.5, 1.5, size=out.shape)
    if out.requires_grad:
        results = run([out], [weights.astype(out.dtype)], retain_graph=False, wanted={id(t) for t in leaves})
    else:
        results = {}
    for i, (leaf, base) in enumerate(zip(leaves, arrays)):
        analytic = results[id(leaf)][1] if id(leaf) in results else np.zeros_like(base)
        analytic = np.broadcast_to(np.asarray(analytic, dtype=np.float64), base.shape)
        numeric = np.zeros_like(base)
        flat = base.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = _weighted(fn, arrays, weights)
            flat[j] = old - eps
            minus = _weighted(fn, arrays, weights)
            flat[j] = old
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and err.max() > 0:
            k = np.unravel_index(int(np.argmax(err)), base.shape)
            if raise_exception:
                raise GradcheckError(
                    f"gradcheck: gradient of input {i} (shape {base.shape}) differs at index {tuple(int(v) for v in k)}: "
                    f"analytic {analytic[k]!r}, finite differences {numeric[k]!r} (atol={atol}, rtol={rtol})"
                )
            return False
    return True


def _weighted(fn, arrays, weights) -> float:
    out = fn(*[Tensor(a) for a in arrays])
    return float(np.sum(np.asarray(out.numpy(copy=False), dtype=np.float64) * weights))
