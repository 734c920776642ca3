"""Shape primitives: reshape, transpose, broadcast, concatenate, index, pad, tile.

The rest (squeeze, expand_dims, flatten, stack, split) are built from these.
"""

from __future__ import annotations

import numpy as np

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import xp, zeros
from ._util import normalize_axis, tensor


class Reshape(Function):
    moves_text = True

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into shape {tuple(shape)}"
            ) from None

    def backward(self, g):
        return (g.reshape(self.shape),)


class Transpose(Function):
    moves_text = True

    def forward(self, a, axes):
        self.axes = axes
        return xp.transpose(a, axes)

    def backward(self, g):
        if self.axes is None:
            return (xp.transpose(g),)
        return (xp.transpose(g, np.argsort(self.axes)),)


class BroadcastTo(Function):
    moves_text = True

    def forward(self, a, shape):
        try:
            return xp.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {tuple(shape)}") from None

    def backward(self, g):
        return (g,)  # the engine sums it back to the input's shape


class Concat(Function):
    moves_text = True

    def forward(self, *arrays, axis):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(xp.split(g, cuts, axis=self.axis))


class GetItem(Function):
    """Indexing and slicing; repeated integer indices accumulate their gradients."""

    moves_text = True

    def forward(self, a, index, advanced):
        self.shape, self.dtype, self.index, self.advanced = a.shape, a.dtype, index, advanced
        out = a[index]
        if a.dtype.kind == "T" and not isinstance(out, xp.ndarray):  # one string comes back as a Python str
            out = xp.asarray(out, dtype=a.dtype)
        return out

    def backward(self, g):
        out = zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            xp.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return (out,)


class EmbeddingLookup(GetItem):
    """Rows of a table picked by integer ids, each checked to be a row of the table.

    The check runs in ``forward``, so a recorded and replayed step checks every call's ids
    as the eager call does; the gradient is ``GetItem``'s, adding where an id repeats."""

    def forward(self, params, ids, name):
        n = params.shape[0]
        if ids.size:
            lo, hi = ids.min(), ids.max()
            if lo < 0 or hi >= n:
                raise ValueError(f"{name}: ids must be in [0, {n}), received {int(lo if lo < 0 else hi)}")
        return super().forward(params, ids, True)


class Pad(Function):
    def forward(self, a, pad_width, constant_values):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, a.shape))
        return xp.pad(a, pad_width, mode="constant", constant_values=constant_values)

    def backward(self, g):
        return (g[self.slices],)


class Tile(Function):
    moves_text = True

    def forward(self, a, reps):
        self.shape = a.shape
        self.reps = reps
        return xp.tile(a, reps)

    def backward(self, g):
        shape = (1,) * (len(self.reps) - len(self.shape)) + tuple(self.shape)
        reps = (1,) * (len(shape) - len(self.reps)) + tuple(self.reps)
        split = []
        for r, n in zip(reps, shape):
            split += [r, n]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g.reshape(self.shape),)


def reshape(x, shape) -> Tensor:
    """The same elements in a new shape; one dimension may be -1 (``tf.reshape``). Works on string tensors.

    Args:
        x: a tensor or array.
        shape: the new shape, a tuple or list of ints.

    Example:
        >>> import tapegrad as tg
        >>> tg.reshape(tg.arange(6), (2, -1)).numpy().tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    x = tensor(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x, axes=None) -> Tensor:
    """Permute the axes (``tf.transpose``); by default reverse them.

    Args:
        x: a tensor or array.
        axes: the new order of the axes (default None: reversed).

    Example:
        >>> import tapegrad as tg
        >>> tg.transpose(tg.constant([[1, 2, 3]])).shape
        (3, 1)
    """
    x = tensor(x)
    if axes is not None:
        axes = tuple(int(a) % x.ndim for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def broadcast_to(x, shape) -> Tensor:
    """``x`` broadcast to ``shape`` (``tf.broadcast_to``); the gradient sums back to ``x``'s shape.

    Args:
        x: a tensor or array.
        shape: the target shape.

    Example:
        >>> import tapegrad as tg
        >>> tg.broadcast_to(tg.constant([1.0, 2.0]), (2, 2)).numpy().tolist()
        [[1.0, 2.0], [1.0, 2.0]]
    """
    return BroadcastTo.apply(tensor(x), shape=tuple(shape))


def squeeze(x, axis=None) -> Tensor:
    """Remove axes of size 1 (``tf.squeeze``).

    Args:
        x: a tensor or array.
        axis: an int or tuple of the axes to remove (default None: every axis of size 1).

    Example:
        >>> import tapegrad as tg
        >>> tg.squeeze(tg.zeros((1, 3, 1))).shape, tg.squeeze(tg.zeros((1, 3, 1)), axis=0).shape
        ((3,), (3, 1))
    """
    x = tensor(x)
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of size {x.shape[a]} in shape {x.shape}")
    return reshape(x, [n for i, n in enumerate(x.shape) if i not in axes])


def expand_dims(x, axis: int) -> Tensor:
    """Insert an axis of size 1 at position ``axis`` (``tf.expand_dims``).

    Args:
        x: a tensor or array.
        axis: where the new axis goes (negative counts from the end).

    Example:
        >>> import tapegrad as tg
        >>> tg.expand_dims(tg.zeros(3), 0).shape, tg.expand_dims(tg.zeros(3), -1).shape
        ((1, 3), (3, 1))
    """
    x = tensor(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"expand_dims: axis {axis} is out of range for a result of rank {nd}")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x) -> Tensor:
    """All elements as a 1-d tensor (``tg.layers.Flatten`` keeps the batch axis).

    Args:
        x: a tensor.

    Example:
        >>> import tapegrad as tg
        >>> tg.flatten(tg.zeros((2, 3))).shape
        (6,)
    """
    x = tensor(x)
    return reshape(x, (x.size,))


def concat(values, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``tf.concat``). Works on string tensors.

    Args:
        values: a list of tensors with equal shapes except along ``axis``.
        axis: the axis to join along (default 0).

    Example:
        >>> import tapegrad as tg
        >>> tg.concat([tg.ones((1, 2)), tg.zeros((1, 2))], axis=0).numpy().tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    ts = [tensor(v) for v in values]
    if not ts:
        raise ValueError("concat: expected at least one tensor, received none")
    nd = ts[0].ndim
    if not -nd <= axis < nd:
        raise ValueError(f"concat: axis {axis} is out of range for tensors of rank {nd}")
    axis %= nd
    for t in ts[1:]:
        if t.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if i != axis):
            raise ValueError(
                f"concat: shapes {ts[0].shape} and {t.shape} differ outside axis {axis}"
            )
    return Concat.apply(*ts, axis=axis)


def stack(values, axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis (``tf.stack``).

    Args:
        values: a list of tensors of one shape.
        axis: where the new axis goes (default 0).

    Example:
        >>> import tapegrad as tg
        >>> tg.stack([tg.ones(2), tg.zeros(2)], axis=1).numpy().tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """
    ts = [tensor(v) for v in values]
    if not ts:
        raise ValueError("stack: expected at least one tensor, received none")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: all tensors must have the same shape, received {ts[0].shape} and {t.shape}")
    return concat([expand_dims(t, axis) for t in ts], axis=axis)


def split(x, num_or_size_splits, axis: int = 0) -> list[Tensor]:
    """Split into equal parts (an int) or parts of the given sizes (``tf.split``).

    Args:
        x: a tensor.
        num_or_size_splits: the number of equal parts, or a list of sizes.
        axis: the axis to split (default 0).

    Example:
        >>> import tapegrad as tg
        >>> [t.numpy().tolist() for t in tg.split(tg.arange(5), [2, 3])]
        [[0, 1], [2, 3, 4]]
    """
    x = tensor(x)
    axis %= x.ndim
    n = x.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise ValueError(f"split: cannot split axis {axis} of size {n} into {k} equal parts")
        sizes = [n // k] * k
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, but axis {axis} has size {n}")
    out, start = [], 0
    for s in sizes:
        index = (slice(None),) * axis + (slice(start, start + s),)
        out.append(x[index])
        start += s
    return out


def pad(x, paddings, constant_values=0) -> Tensor:
    """Pad with a constant (``tf.pad``).

    Args:
        x: a tensor.
        paddings: ``[[before, after], ...]``, one pair per axis.
        constant_values: the value to pad with (default 0).

    Example:
        >>> import tapegrad as tg
        >>> tg.pad(tg.ones(2), [[1, 2]]).numpy().tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    x = tensor(x)
    widths = tuple((int(a), int(b)) for a, b in paddings)
    if len(widths) != x.ndim:
        raise ValueError(f"pad: expected {x.ndim} (before, after) pairs for shape {x.shape}, received {len(widths)}")
    return Pad.apply(x, pad_width=widths, constant_values=constant_values)


def tile(x, multiples) -> Tensor:
    """Repeat ``x`` ``multiples[i]`` times along each axis ``i`` (``tf.tile``). Works on string tensors.

    Args:
        x: a tensor.
        multiples: one repeat count per axis.

    Example:
        >>> import tapegrad as tg
        >>> tg.tile(tg.constant([[1, 2]]), [2, 2]).numpy().tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    return Tile.apply(tensor(x), reps=tuple(int(m) for m in multiples))


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if isinstance(i, (list, np.ndarray)) or (hasattr(i, "shape") and hasattr(i, "dtype")):
            return True
    return False


def embedding_lookup(params, ids, name: str | None = None) -> Tensor:
    """The rows of ``params`` at integer ``ids`` (``tf.nn.embedding_lookup`` with one table):
    the result has shape ``ids.shape + params.shape[1:]``. Unlike NumPy indexing, a negative
    or too large id is an error, as in TensorFlow; the gradient adds up where an id repeats.

    Args:
        params: the table, a tensor of shape ``(rows, ...)``.
        ids: an integer array (or tensor) of any shape.
        name: the name an error message starts with (default ``"embedding_lookup"``).

    Example:
        >>> import tapegrad as tg
        >>> table = tg.constant([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
        >>> tg.ops.embedding_lookup(table, [2, 0]).numpy().tolist()
        [[4.0, 5.0], [0.0, 1.0]]
    """
    params = tensor(params)
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{name or 'embedding_lookup'}: expected integer ids, received dtype {ids.dtype}")
    if params.ndim == 0:
        raise ValueError(f"{name or 'embedding_lookup'}: expected a table of rank 1 or more, received a scalar")
    return EmbeddingLookup.apply(params, ids=ids, name=name or "embedding_lookup")


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]``: basic and advanced indexing, differentiable (the gradient scatters back)."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = xp.asarray(index)
    try:
        return GetItem.apply(x, index=index, advanced=_is_advanced(index))
    except IndexError as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {x.shape}: {exc}") from None
