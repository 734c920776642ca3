"""``Function``: one primitive operation, with its forward and backward rules.

A subclass implements ``forward(*arrays, **params)`` on raw backend arrays and
``backward(grad)`` returning one gradient per input (``None`` where an input gets
none). ``apply`` runs the forward pass and, only when some input requires a
gradient and recording is on, keeps the node in the graph.

Example:
    >>> import tapegrad as tg
    >>> from tapegrad.backend import xp
    >>> class Cube(Function):
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * x * x
    ...     def backward(self, g):
    ...         return (3 * self.x * self.x * g,)
    >>> t = tg.Tensor(2.0, requires_grad=True)
    >>> Cube.apply(t).backward()
    >>> float(t.grad)
    12.0
"""

from __future__ import annotations

from .grad_mode import mode
from .tensor import Tensor


class Function:
    """Base class of every differentiable primitive."""

    parents: tuple = ()
    """The inputs recorded for the backward pass; ``None`` for those that need no gradient."""

    def forward(self, *arrays, **params):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad):  # pragma: no cover - interface
        """One gradient per input; an input whose ``parents`` slot is None may get None
        (its gradient is not needed, so a rule can skip computing it)."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        """Run ``forward`` on the inputs' arrays; keep the node when a float result needs a gradient."""
        fn = cls()
        out = Tensor._wrap(fn.forward(*[t.data for t in inputs], **params))
        if mode.enabled and out.data.dtype.kind == "f" and any(t.requires_grad for t in inputs):
            fn.parents = tuple(t if t.requires_grad else None for t in inputs)
            out.requires_grad, out._ctx = True, fn
        if mode.trace is not None:  # a recorder is watching this thread (tapegrad.fast)
            mode.trace(fn, inputs, params, out)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
