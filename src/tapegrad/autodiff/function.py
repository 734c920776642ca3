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
    owns_grad: bool = False
    """Set by a caller that hands ``backward`` a gradient array nothing else holds (a recorded
    training step does): the rule may then overwrite it instead of allocating a new one."""

    def forward(self, *arrays, **params):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad):  # pragma: no cover - interface
        """One gradient per input; an input whose ``parents`` slot is None may get None
        (its gradient is not needed, so a rule can skip computing it)."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        fn = cls()
        out = fn.forward(*[t.data for t in inputs], **params)
        t = object.__new__(Tensor)
        t.data = out
        t.grad = None
        t.name = None
        state = mode  # this thread's recording state
        if state.enabled and out.dtype.kind == "f":
            for inp in inputs:
                if inp.requires_grad:
                    # Only inputs that take part are kept: the rest are None, so the node
                    # holds no reference to them and the engine skips them.
                    fn.parents = tuple(i if i.requires_grad else None for i in inputs)
                    t.requires_grad = True
                    t._ctx = fn
                    if state.trace is not None:
                        state.trace(fn, inputs, params, t)
                    return t
        t.requires_grad = False
        t._ctx = None
        if state.trace is not None:
            state.trace(fn, inputs, params, t)
        return t

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
