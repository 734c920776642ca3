"""Weight and activity penalties (Keras's formulas), added to the training loss.

Example:
    >>> import tapegrad as tg
    >>> float(tg.regularizers.L2(0.1)(tg.constant([1.0, 2.0])))
    0.5
"""

from __future__ import annotations

from . import ops


class Regularizer:
    """Base class of weight penalties: ``regularizer(weight)`` returns a scalar added to the loss.

    Example:
        >>> import tapegrad as tg
        >>> class Sum(tg.regularizers.Regularizer):
        ...     def __call__(self, x):
        ...         return tg.reduce_sum(x)
        >>> float(Sum()(tg.ones((2, 2))))
        4.0
    """
    def __call__(self, x):  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class L1(Regularizer):
    """``l1 * sum(|x|)``: pushes weights to exactly zero (``keras.regularizers.L1``).

    Args:
        l1: the factor (default 0.01).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.regularizers.L1(0.5)(tg.constant([1.0, -2.0])))
        1.5
    """

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = float(l1)

    def __call__(self, x):
        return ops.sum(ops.abs(x)) * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)`` (no factor 1/2, as Keras): weight decay (``keras.regularizers.L2``).

    Args:
        l2: the factor (default 0.01).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.regularizers.L2(0.5)(tg.constant([1.0, -2.0])))
        2.5
    """

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = float(l2)

    def __call__(self, x):
        return ops.sum(ops.square(x)) * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)`` (``keras.regularizers.L1L2``).

    Args:
        l1: the L1 factor (default 0.0).
        l2: the L2 factor (default 0.0).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.regularizers.L1L2(l1=1.0, l2=1.0)(tg.constant([1.0, -2.0])))
        8.0
    """
    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        total = ops.zeros((), dtype=x.dtype)
        if self.l1:
            total = total + ops.sum(ops.abs(x)) * self.l1
        if self.l2:
            total = total + ops.sum(ops.square(x)) * self.l2
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-d kernel towards orthogonality
    (``keras.regularizers.OrthogonalRegularizer``).

    ``factor * 0.5 * sum(|N N^T - diag|) / num_pairs`` where ``N`` holds the l2-normalized rows
    (``mode="rows"``) or columns (``mode="columns"``).

    Args:
        factor: the factor (default 0.01).
        mode: ``"rows"`` (the default) or ``"columns"``.

    Example:
        >>> import tapegrad as tg
        >>> float(tg.regularizers.OrthogonalRegularizer(1.0)(tg.eye(3)))  # already orthogonal
        0.0
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', received {mode!r}")
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: expected a 2-d kernel, received shape {x.shape}")
        axis = 1 if self.mode == "rows" else 0
        n = x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))
        product = ops.matmul(n, ops.transpose(n)) if self.mode == "rows" else ops.matmul(ops.transpose(n), n)
        size = product.shape[0]
        off = product * (1.0 - ops.eye(size, dtype=x.dtype))
        pairs = size * (size - 1) / 2.0
        return ops.sum(ops.abs(off)) * (self.factor * 0.5 / max(pairs, 1.0))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1 = L1
l2 = L2
l1_l2 = L1L2
ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
_CLASSES = {c.__name__: c for c in (L1, L2, L1L2, OrthogonalRegularizer)}


def get(identifier):
    """A regularizer from a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict, an instance, a callable or None.

    Args:
        identifier: the regularizer's description.

    Example:
        >>> import tapegrad as tg
        >>> type(tg.regularizers.get("l2")).__name__
        'L2'
    """
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier not in ALL:
            raise ValueError(f"Unknown regularizer {identifier!r}; valid names are: {', '.join(sorted(ALL))}")
        return ALL[identifier]()
    if isinstance(identifier, dict):
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    raise TypeError(f"regularizer must be a name, a Regularizer or None, received {identifier!r}")


def serialize(reg):
    """The config of a built-in regularizer, ``{"class_name": ..., "config": ...}`` (None for None).

    Args:
        reg: a ``Regularizer`` or None.

    Example:
        >>> import tapegrad as tg
        >>> tg.regularizers.serialize(tg.regularizers.L2(0.5))
        {'class_name': 'L2', 'config': {'l2': 0.5}}
    """
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise ValueError(f"cannot serialize the custom regularizer {reg!r}")


__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "get", "serialize", "l1", "l2", "l1_l2"]
