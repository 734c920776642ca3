"""How a global batch is split across ranks: contiguous shards, sizes as ``numpy.array_split``.

Every rank draws the same shuffled order (the epoch's generator is seeded identically on
every rank), cuts the same global batches from it, and keeps the shard of each batch that
``shard_bounds`` gives it: the first ``n % size`` ranks hold one sample more. A last batch
with fewer samples than ranks leaves some ranks an empty shard; they still take part in
the step's all-reduce, contributing nothing.
"""

from __future__ import annotations


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s shard of ``n`` samples split over ``size`` ranks.

    Args:
        n: the number of samples in the global batch.
        rank: this process's rank, in ``[0, size)``.
        size: the number of ranks.

    Example:
        >>> [shard_bounds(8, r, 3) for r in range(3)]
        [(0, 3), (3, 6), (6, 8)]
        >>> [shard_bounds(2, r, 3) for r in range(3)]
        [(0, 1), (1, 2), (2, 2)]
    """
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"shard_bounds: size must be a positive integer, received {size!r}")
    if not isinstance(rank, int) or not 0 <= rank < size:
        raise ValueError(f"shard_bounds: rank must be an integer in [0, {size}), received {rank!r}")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"shard_bounds: n must be a non-negative integer, received {n!r}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


__all__ = ["shard_bounds"]
