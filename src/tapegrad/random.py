"""Random numbers from one global, seedable generator (``tg.random``).

``tg.random.set_seed(s)`` fixes everything random in tapegrad: tensor sampling,
weight initializers, shuffling in ``fit`` and data loaders, and dropout masks.

Example:
    >>> import tapegrad as tg
    >>> tg.random.set_seed(0); a = tg.random.normal((2,)).numpy()
    >>> tg.random.set_seed(0); b = tg.random.normal((2,)).numpy()
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import threading

import numpy as np

from .autodiff.tensor import Tensor
from .backend import xp

_state = {"rng": np.random.default_rng(), "seed": None}
_local = threading.local()  # ``gen``: the generator ``use`` installed in this thread, if any


def set_seed(seed: int) -> None:
    """Seed the global generator: weight initializers, ``tg.random`` sampling, data loaders, and
    (through ``fork``) each epoch of ``fit``: its shuffling and dropout masks, drawn from a generator
    installed for the training thread alone, so threads training at once do not disturb each
    other or the caller's generator.

    Args:
        seed: a non-negative integer.

    Example:
        >>> set_seed(3); a = normal((2,)).numpy(); set_seed(3)
        >>> bool((normal((2,)).numpy() == a).all())
        True
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_seed: expected a non-negative integer, received {seed!r}")
    _state["rng"] = np.random.default_rng(int(seed))
    _state["seed"] = int(seed)


def generator(seed: int | None = None) -> np.random.Generator:
    """The generator ``use`` installed in this thread, else the global one; a new one for an explicit ``seed``.

    Args:
        seed: None (the default) for the current generator, or an int for a fresh one.

    Example:
        >>> import tapegrad as tg
        >>> int(tg.random.generator(0).integers(10)) == int(tg.random.generator(0).integers(10))
        True
    """
    if seed is not None:
        return np.random.default_rng(int(seed))
    gen = getattr(_local, "gen", None)
    return _state["rng"] if gen is None else gen


def fork(*key: int) -> np.random.Generator:
    """A generator determined by the global seed and ``key`` (e.g. an epoch number).

    ``fit`` draws each epoch's shuffling and dropout masks from ``fork(epoch)``,
    so epoch ``e`` is the same whether training runs straight through or resumes
    from a saved model in a new process after ``set_seed``. Without a seed the
    generator is drawn from the global one.
    """
    seed = _state["seed"]
    if seed is None:
        return np.random.default_rng(_state["rng"].integers(2**63))
    return np.random.default_rng([seed, *key])


class use:
    """Context manager: make ``gen`` the generator that ``generator()`` returns in this thread
    inside the block (``fit`` installs each epoch's). Other threads keep theirs, and the
    global generator is left as it was.

    Example:
        >>> import numpy as np
        >>> with use(np.random.default_rng(0)):
        ...     a = generator().random()
        >>> a == np.random.default_rng(0).random()
        True
    """

    def __init__(self, gen: np.random.Generator) -> None:
        self.gen = gen

    def __enter__(self):
        self.saved = getattr(_local, "gen", None)
        _local.gen = self.gen
        return self.gen

    def __exit__(self, *exc):
        _local.gen = self.saved


def _out(arr, dtype) -> Tensor:
    return Tensor._wrap(xp.asarray(arr.astype(np.dtype(dtype or "float32"), copy=False)))


def normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=None, seed: int | None = None) -> Tensor:
    """A tensor of normal samples (``tf.random.normal``).

    Args:
        shape: the shape.
        mean: the mean (default 0.0).
        stddev: the standard deviation (default 1.0).
        dtype: the dtype (default None: float32).
        seed: a seed for this call (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> tg.random.normal([1]).shape, tg.random.normal([2], seed=1).dtype.name
        ((1,), 'float32')
    """
    return _out(generator(seed).normal(mean, stddev, size=tuple(shape)), dtype)


def uniform(shape, minval: float = 0.0, maxval: float = 1.0, dtype=None, seed: int | None = None) -> Tensor:
    """A tensor of uniform samples in ``[minval, maxval)`` (``tf.random.uniform``); an integer ``dtype`` draws integers.

    Args:
        shape: the shape.
        minval: the lower bound (default 0.0).
        maxval: the upper bound, excluded (default 1.0).
        dtype: the dtype (default None: float32).
        seed: a seed for this call (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> x = tg.random.uniform([100], 0, 10, dtype=tg.int32, seed=0).numpy()
        >>> bool(x.min() >= 0 and x.max() < 10), x.dtype.name
        (True, 'int32')
    """
    if dtype is not None and np.dtype(dtype).kind in "iu":
        return Tensor._wrap(xp.asarray(generator(seed).integers(minval, maxval, size=tuple(shape), dtype=np.dtype(dtype))))
    return _out(generator(seed).uniform(minval, maxval, size=tuple(shape)), dtype)


def truncated_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=None, seed: int | None = None) -> Tensor:
    """Normal samples redrawn until within two standard deviations of the mean (``tf.random.truncated_normal``).

    Args:
        shape: the shape.
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 1.0).
        dtype: the dtype (default None: float32).
        seed: a seed for this call (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> bool(abs(tg.random.truncated_normal([1000], seed=0).numpy()).max() <= 2.0)
        True
    """
    return _out(truncated_normal_array(tuple(shape), mean, stddev, generator(seed)), dtype)


def truncated_normal_array(shape, mean, stddev, rng) -> np.ndarray:
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev + mean


def shuffle(x, seed: int | None = None) -> Tensor:
    """The rows of ``x`` in a random order (``tf.random.shuffle``).

    Args:
        x: a tensor or array; its first axis is shuffled.
        seed: a seed for this call (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> sorted(tg.random.shuffle(tg.arange(5), seed=0).numpy().tolist())
        [0, 1, 2, 3, 4]
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    return Tensor._wrap(x.data[xp.asarray(generator(seed).permutation(x.shape[0]))])


def categorical(logits, num_samples: int, dtype=None, seed: int | None = None) -> Tensor:
    """Draw class indices from categorical distributions given by unnormalized log-probabilities
    (``tf.random.categorical``).

    Args:
        logits: shape (batch, classes); row ``i`` gives the log-probabilities of batch
            entry ``i`` up to a constant (``-inf`` for a class never drawn).
        num_samples: how many independent draws per row.
        dtype: the integer dtype of the result, ``"int64"`` by default (TensorFlow's).
        seed: a seed for these draws alone; otherwise the global generator
            (``tg.random.set_seed``) is used.

    Returns:
        An integer tensor of shape (batch, num_samples).

    Example (the lab's sampling step):
        >>> import tapegrad as tg
        >>> ids = tg.random.categorical(tg.constant([[0.0, 0.0, -float("inf")]]), num_samples=5, seed=1)
        >>> ids.shape, str(ids.dtype), bool((ids.numpy() < 2).all())
        ((1, 5), 'int64', True)
    """
    arr = np.asarray(logits.numpy() if isinstance(logits, Tensor) else logits, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"categorical: expected logits of shape (batch, classes), received shape {arr.shape}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise ValueError(f"categorical: num_samples must be a non-negative integer, received {num_samples!r}")
    out_dtype = np.dtype(dtype or "int64")
    if out_dtype.kind not in "iu":
        raise ValueError(f"categorical: dtype must be an integer dtype, received {out_dtype}")
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise ValueError("categorical: logits must not contain NaN or +inf")
    top = arr.max(axis=1, keepdims=True)
    if not np.isfinite(top).all():
        raise ValueError("categorical: every row of logits needs at least one finite entry")
    p = np.exp(arr - top)
    cdf = np.cumsum(p, axis=1)
    u = generator(seed).random((arr.shape[0], int(num_samples))) * cdf[:, -1:]
    # the first class whose cumulative weight exceeds u (a class of weight 0 is never drawn)
    ids = np.empty(u.shape, dtype=np.int64)
    for row in range(arr.shape[0]):
        ids[row] = np.searchsorted(cdf[row], u[row], side="right")
    np.minimum(ids, arr.shape[1] - 1, out=ids)
    return Tensor._wrap(xp.asarray(ids.astype(out_dtype)))


__all__ = ["set_seed", "generator", "normal", "uniform", "truncated_normal", "shuffle", "categorical"]
