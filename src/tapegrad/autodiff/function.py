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


# dtype kinds of text: NumPy's variable-width strings (tg.string), fixed-width str and bytes, objects.
_TEXT_KINDS = "TUSO"


def _refuse_text(cls, inputs, exc) -> None:
    """Raise a clear error when an operation that computes met a string tensor."""
    for t in inputs:
        if t.data.dtype.kind in _TEXT_KINDS:
            raise TypeError(
                f"{cls.__name__}: expected numeric tensors, received a string tensor of shape {t.shape}; "
                "string tensors (tg.string) support rank, shape, indexing, reshape, transpose, tile and "
                "concatenation, not arithmetic or maths"
            ) from exc


class Function:
    """Base class of every differentiable primitive: one operation with its forward and backward rules.

    A subclass writes ``forward(*arrays, **params)`` on raw backend arrays and ``backward(grad)``
    returning one gradient per input (``None`` where an input needs none); ``Cls.apply(*tensors,
    **params)`` runs it and, when some input requires a gradient and recording is on, keeps the
    node in the graph. Check a new rule with ``tg.gradcheck``.

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> class Cube(tg.Function):
        ...     def forward(self, x):
        ...         self.x = x
        ...         return x * x * x
        ...     def backward(self, g):
        ...         return (3 * self.x * self.x * g,)
        >>> t = tg.Tensor(2.0, requires_grad=True)
        >>> Cube.apply(t).backward()
        >>> float(t.grad), tg.gradcheck(Cube.apply, [np.array([0.5, -1.0])])
        (12.0, True)
    """

    moves_text: bool = False
    """True for operations that only move elements (reshape, index, concat ...), which
    string tensors allow; every other operation refuses them with a clear error."""

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
        try:
            out = Tensor._wrap(fn.forward(*[t.data for t in inputs], **params))
            kind = out.data.dtype.kind  # (a reduction over text gives a bare str: refused below)
        except Exception as exc:
            _refuse_text(cls, inputs, exc)
            raise
        if kind in _TEXT_KINDS and not cls.moves_text:
            _refuse_text(cls, inputs, None)
        if mode.enabled and kind == "f" and any(t.requires_grad for t in inputs):
            fn.parents = tuple(t if t.requires_grad else None for t in inputs)
            out.requires_grad, out._ctx = True, fn
        if mode.trace is not None:  # a recorder is watching this thread (tapegrad.fast)
            mode.trace(fn, inputs, params, out)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
