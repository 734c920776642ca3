"""Symbolic tensors: the nodes of a graph of layers, as Keras's functional API builds it.

``tg.Input(shape=(784,))`` returns a ``KerasTensor``: a shape and a dtype, no values.
Calling a layer on symbolic tensors builds the layer and returns symbolic outputs of the
inferred shape (``Layer.compute_output_shape``, or the layer run on small probe batches
for a layer that does not say), and records a ``Node``: which layer was called, on what
and with which arguments. ``tg.Model(inputs, outputs)`` walks these nodes back from the
outputs to find the graph it runs.
"""

from __future__ import annotations

import numpy as np

from ..autodiff.tensor import Tensor

_STRUCTS = (list, tuple, dict)


class KerasTensor:
    """A symbolic tensor: the shape (``None`` for unknown sizes, as the batch axis) and dtype
    of a value that a graph of layers will compute, without the value.

    Made by ``tg.Input`` and by calling a layer on symbolic tensors. It takes no arithmetic:
    a computation on it is written as a layer (tapegrad has no ``Lambda`` layer).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.Input(shape=(784,), name="img")
        >>> x.shape, x.dtype.name
        ((None, 784), 'float32')
        >>> tg.layers.Dense(64)(x).shape
        (None, 64)
    """

    __slots__ = ("shape", "dtype", "name", "node", "index", "__weakref__")

    def __init__(self, shape, dtype="float32", name: str | None = None) -> None:
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.node = None  # the Node that made it
        self.index = 0  # its position among that node's outputs

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _keras_history(self):
        """``(layer, node_index, tensor_index)``, as Keras names a tensor's origin."""
        node = self.node
        return node.layer, node.layer._inbound_nodes.index(node), self.index

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic (a tg.Input or a layer's output in a functional model) and has no "
                        "values: apply layers to it, and write any other computation as a layer "
                        "(a tg.layers.Layer subclass; tapegrad has no Lambda layer)")

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic and has no truth value")

    def __repr__(self) -> str:
        origin = f", name={self.name!r}" if self.name else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}{origin}>"


class Node:
    """One call of a layer on symbolic tensors: the layer, the call's arguments (with the
    symbolic tensors in place) and the symbolic outputs it returned."""

    __slots__ = ("layer", "arguments", "inputs", "outputs", "output_structure")

    def __init__(self, layer, arguments, outputs) -> None:
        self.layer = layer
        self.arguments = arguments  # (inputs, args, kwargs) as given to the call
        self.inputs = [t for t in flatten(arguments) if isinstance(t, KerasTensor)]
        self.output_structure = outputs
        self.outputs = flatten(outputs)
        for i, t in enumerate(self.outputs):
            t.node, t.index = self, i
        nodes = layer.__dict__.get("_inbound_nodes")
        if nodes is None:
            nodes = []
            object.__setattr__(layer, "_inbound_nodes", nodes)  # not a tracked attribute
        nodes.append(self)

    @property
    def is_input(self) -> bool:
        return not self.inputs and not self.arguments[1] and not self.arguments[2] and self.arguments[0] is None


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dicts in their own key order)."""
    out, stack = [], [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def map_structure(fn, structure):
    """``structure`` with ``fn`` applied to every leaf (lists, tuples and dicts kept)."""
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


def is_symbolic(structure) -> bool:
    """Whether ``structure`` is or holds a ``KerasTensor``."""
    if structure.__class__ is KerasTensor:
        return True
    if isinstance(structure, _STRUCTS):
        return any(isinstance(t, KerasTensor) for t in flatten(structure))
    return False


def is_shape(value) -> bool:
    """A single shape (a tuple or list of ints and Nones), not a structure of shapes."""
    return isinstance(value, (tuple, list)) and all(v is None or isinstance(v, (int, np.integer)) for v in value)


def shapes_of(structure):
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, structure)


def spec_from_shapes(shapes, dtype):
    """Symbolic tensors of ``shapes`` (one shape, or a list/tuple/dict of them)."""
    if is_shape(shapes):
        return KerasTensor(shapes, dtype)
    if isinstance(shapes, dict):
        return {k: spec_from_shapes(v, dtype) for k, v in shapes.items()}
    return type(shapes)(spec_from_shapes(s, dtype) for s in shapes)


_PROBES = (2, 3)  # two sizes for every unknown axis: an output axis that follows them is unknown too


def probe_output_spec(layer, inputs, args=(), kwargs=None, dtype=None):
    """Symbolic outputs found by running ``layer`` on zeros of the inputs' shapes and dtypes,
    twice with different sizes for the unknown axes: an output axis whose size differs
    between the two runs is unknown (``None``)."""
    from ..autodiff.grad_mode import no_grad

    kwargs = dict(kwargs or {})
    results = []
    for size in _PROBES:
        def zeros(t, size=size):
            if not isinstance(t, KerasTensor):
                return t
            shape = tuple(size if s is None else s for s in t.shape)
            return Tensor(np.zeros(shape, dtype=t.dtype if dtype is None else dtype))

        with no_grad():
            out = layer(map_structure(zeros, inputs), *map_structure(zeros, tuple(args)),
                        **map_structure(zeros, kwargs))
        results.append(out)

    def merge(a, b):
        shape = tuple(s if s == t else None for s, t in zip(a.shape, b.shape))
        return KerasTensor(shape, a.dtype)

    flat_a, flat_b = flatten(results[0]), flatten(results[1])
    merged = iter([merge(a, b) for a, b in zip(flat_a, flat_b)])
    return map_structure(lambda _: next(merged), results[0])


def broadcast_shapes(shape1, shape2, owner: str):
    """The shape of an elementwise operation on ``shape1`` and ``shape2`` (as NumPy broadcasts,
    with ``None`` for unknown sizes), or a ValueError naming both shapes."""
    s1, s2 = tuple(shape1), tuple(shape2)
    n = max(len(s1), len(s2))
    a, b = (1,) * (n - len(s1)) + s1, (1,) * (n - len(s2)) + s2
    out = []
    for x, y in zip(a, b):
        if x is None or y is None:
            out.append(None)  # as Keras: unknown on either side is unknown
        elif x == 1 or y == 1 or x == y:
            out.append(max(x, y) if 1 in (x, y) else x)
        else:
            raise ValueError(f"{owner}: inputs have incompatible shapes; received shapes {s1} and {s2}")
    return tuple(out)


__all__ = ["KerasTensor"]  # the rest serves Layer.__call__ and the functional model
