"""The backward pass: the chain rule applied over the recorded graph.

``run`` orders the graph by an iterative depth-first search (no recursion, so a chain of
100,000 operations is fine) and hands the nodes to ``backprop``, the one loop that applies
the chain rule: each node's ``backward`` turns the gradient of its output into gradients
of its inputs, which are summed where an input is used more than once. Each gradient is
dropped as soon as it has been consumed, and each node as soon as its rule ran, which
releases the arrays it saved. A replayed training step (``tapegrad.fast``) calls the same
loop on the nodes it recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from ..backend import xp

if TYPE_CHECKING:
    from .tensor import Tensor


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
        grad = xp.add.reduce(grad, axis=tuple(range(extra)))  # what grad.sum runs
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = xp.add.reduce(grad, axis=axes, keepdims=True)
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


def backprop(steps: list, grads: dict, keep=None) -> dict:
    """Apply the chain rule over ``steps``, outputs first; return the gradients of ``keep``.

    Each step is ``(key, node, edges)``: ``grads[key]`` is the gradient of the node's output,
    and each edge ``(i, input_key, shape, dtype)`` says that the node's ``i``-th input is
    found under ``input_key`` and has that shape and dtype. A node whose output got no
    gradient is skipped. An input's gradient is summed back over broadcast axes and cast to
    the input's dtype, then added to what that input already received. Gradients of keys
    that no step consumes (the leaves) are left in ``grads``; a consumed gradient whose key
    is in ``keep`` is returned. Each step is removed from ``steps`` as it runs, releasing its node.
    """
    kept: dict = {}
    take, look = grads.pop, grads.get
    for n in range(len(steps)):
        key, node, edges = steps[n]
        steps[n] = None
        g = take(key, None)
        if g is None:
            continue
        if keep is not None and key in keep:
            kept[key] = g
        input_grads = node.backward(g)
        for i, k, shape, dtype in edges:
            pg = input_grads[i]
            if pg is None:
                continue
            if pg.shape != shape:
                pg = unbroadcast(pg, shape)
            if pg.dtype != dtype:
                pg = pg.astype(dtype)
            prev = look(k)
            grads[k] = pg if prev is None else prev + pg
    return kept


def run(roots: Sequence[Tensor], seeds: Sequence, retain_graph: bool, wanted: set[int] | None) -> dict:
    """Propagate ``seeds`` from ``roots``; return ``{id(tensor): (tensor, grad)}``.

    With ``wanted=None`` the gradients of all leaves are returned; otherwise the
    gradients of the tensors whose ids are in ``wanted`` (leaves or not).
    """
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
    order = toposort(live)
    steps = []
    for t in reversed(order):
        edges = []
        for i, p in enumerate(t._ctx.parents):
            if p is not None:
                edges.append((i, id(p), p.data.shape, p.data.dtype))
                if p._ctx is None:
                    leaves[id(p)] = p
        steps.append((id(t), t._ctx, edges))
    keep = None
    if wanted is not None:
        inner = {id(t): t for t in order if id(t) in wanted}
        keep = inner.keys()
    if not retain_graph:
        for t in order:
            t._ctx = None  # the steps hold the nodes now, and release each after its rule ran
    kept = backprop(steps, grads, keep)
    results = {k: (inner[k], g) for k, g in kept.items()}
    for k, t in leaves.items():
        if k in grads and (wanted is None or k in wanted):
            results[k] = (t, grads[k])
    return results


def backward(roots: Sequence[Tensor], seeds: Sequence, retain_graph: bool = False) -> None:
    """PyTorch-style: accumulate into ``.grad`` of the leaves that require grad."""
    for leaf, g in run(roots, seeds, retain_graph, None).values():
        if leaf.grad is None:
            if g.base is not None or not g.flags.writeable:
                g = g.copy()  # never hand out a view of another array as .grad
            leaf.grad = leaf._wrap(g)
        else:
            leaf.grad = leaf._wrap(leaf.grad.data + g)
