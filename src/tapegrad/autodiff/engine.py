"""The backward pass: the chain rule applied over the recorded graph.

The graph is ordered by an iterative depth-first search (no recursion, so a chain
of 100,000 operations is fine). Each gradient is removed from the table as soon as
it has been consumed, and, unless the graph is retained, each node is cut from its
output after its backward rule ran, which releases the arrays it saved.
"""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

from ..backend import _allocator, tune_allocator, xp
from .tensor import Tensor

_this_pass = threading.local()


def intermediates_wanted() -> bool:
    """Whether the backward pass running in this thread returns the gradient of a tensor
    that a recorded node produced (``GradientTape.gradient`` with such a source). Then every
    rule must give its inputs their exact gradients; otherwise a rule may hand on one that
    is right only for the nodes further up (max-pooling folding a convolution's ReLU mask
    into its own, see ``ops.conv.MaxPoolTiled``)."""
    return getattr(_this_pass, "intermediates", True)


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` back to ``shape``, undoing NumPy broadcasting.

    Leading axes that broadcasting added are summed away; axes where the input had
    size 1 are summed with ``keepdims``.

    Example:
        >>> import numpy as np
        >>> unbroadcast(np.ones((4, 2, 3)), (2, 1)).tolist()
        [[12.0], [12.0]]
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:  # e.g. a scalar gradient for a tensor input
        grad = xp.broadcast_to(grad, shape)
    return grad


def toposort(roots: Iterable[Tensor]) -> list[Tensor]:
    """The results of recorded nodes reachable from ``roots``, inputs before outputs.

    Leaves (tensors that no recorded node produced) are not listed: the engine keeps
    their gradients aside as they arrive. An iterative depth-first search: no
    recursion, whatever the depth of the graph.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    push = order.append
    stack = [(r, False) for r in roots if r._ctx is not None]
    pop, add = stack.pop, stack.append
    while stack:
        t, expanded = pop()
        if expanded:
            push(t)
            continue
        k = id(t)
        if k in visited:
            continue
        visited.add(k)
        add((t, True))
        for p in t._ctx.parents:
            if p is not None and p._ctx is not None and id(p) not in visited:
                add((p, False))
    return order


def run(roots: Sequence[Tensor], seeds: Sequence, retain_graph: bool, wanted: set[int] | None):
    """Propagate ``seeds`` from ``roots``; return ``{id(tensor): (tensor, grad)}``.

    With ``wanted=None`` the gradients of all leaves are returned; otherwise the
    gradients of the tensors whose ids are in ``wanted`` (leaves or not).
    """
    if not _allocator["tuned"]:
        tune_allocator()
    grads: dict[int, object] = {}
    leaves: dict[int, Tensor] = {}  # the tensors no recorded node produced, by id
    live = []
    for r, s in zip(roots, seeds):
        if r.requires_grad or r._ctx is not None or (wanted is not None and id(r) in wanted):
            live.append(r)
            k = id(r)
            grads[k] = grads[k] + s if k in grads else s
            if r._ctx is None:
                leaves[k] = r
    results: dict[int, object] = {}
    take = grads.pop
    order = toposort(live)
    _this_pass.intermediates = wanted is not None and not wanted.isdisjoint(map(id, order))
    for t in reversed(order):
        k = id(t)
        g = take(k, None)  # free each gradient as it is consumed
        if g is None:
            continue
        if wanted is not None and k in wanted:
            results[k] = (t, g)
        ctx = t._ctx
        for p, pg in zip(ctx.parents, ctx.backward(g)):
            if pg is None or p is None:
                continue
            pd = p.data
            if pg.shape != pd.shape:
                pg = unbroadcast(pg, pd.shape)
            if pg.dtype != pd.dtype:
                pg = pg.astype(pd.dtype)
            pk = id(p)
            prev = grads.get(pk)
            if prev is None:
                grads[pk] = pg
                if p._ctx is None:
                    leaves[pk] = p
            else:
                grads[pk] = prev + pg
        if not retain_graph:
            t._ctx = None  # release the node and the arrays it saved
    for k, t in leaves.items():  # every node has run: the leaves' gradients are complete
        if wanted is None or k in wanted:
            results[k] = (t, grads[k])
    return results


def backward(roots: Sequence[Tensor], seeds: Sequence, retain_graph: bool = False) -> None:
    """PyTorch-style: accumulate into ``.grad`` of the leaves that require grad."""
    for leaf, g in run(roots, seeds, retain_graph, None).values():
        if leaf.grad is None:
            if g.base is not None or not g.flags.writeable:
                g = g.copy()  # never hand out a view of another array as .grad
            leaf.grad = Tensor._wrap(g)
        else:
            leaf.grad = Tensor._wrap(leaf.grad.data + g)
