"""Small 2-D data sets for classification, drawn from the global generator or a ``seed``.

Each returns ``(x, y)``: ``x`` float32 of shape ``(n_samples, 2)``, ``y`` int64 labels.

Example:
    >>> import tapegrad as tg
    >>> x, y = tg.data.make_moons(100, noise=0.1, seed=0)
    >>> x.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
"""

from __future__ import annotations

import numpy as np

from .. import random as _random


def _check(n_samples, noise):
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, received {n_samples!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, received {noise}")


def _finish(x, y, rng, shuffle):
    if shuffle:
        p = rng.permutation(len(y))
        x, y = x[p], y[p]
    return x.astype(np.float32), y.astype(np.int64)


def make_moons(n_samples: int = 100, noise: float = 0.0, shuffle: bool = True, seed: int | None = None):
    """Two interleaving half circles (the same geometry as scikit-learn's).

    Args:
        n_samples: the number of points (default 100).
        noise: the standard deviation of Gaussian noise added to the points (default 0.0).
        shuffle: shuffle the points (default True).
        seed: a seed (default None: the global generator, ``tg.random.set_seed``).

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(n_samples, 2)``, ``y`` int64 labels of shape ``(n_samples,)``.

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_moons(100, noise=0.1, seed=0)
        >>> x.shape, sorted(set(y.tolist()))
        ((100, 2), [0, 1])
    """
    _check(n_samples, noise)
    rng = _random.generator(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], 1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + rng.normal(0, noise, size=x.shape) if noise else x
    return _finish(x, y, rng, shuffle)


def make_circles(n_samples: int = 100, noise: float = 0.0, factor: float = 0.5, shuffle: bool = True,
                 seed: int | None = None):
    """A small circle (label 1) inside a large one (label 0).

    Args:
        n_samples: the number of points (default 100).
        noise: the standard deviation of Gaussian noise added to the points (default 0.0).
        factor: the small circle's radius relative to the large one's (default 0.5).
        shuffle: shuffle the points (default True).
        seed: a seed (default None: the global generator, ``tg.random.set_seed``).

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(n_samples, 2)``, ``y`` int64 labels of shape ``(n_samples,)``.

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_circles(100, seed=0)
        >>> x.shape, sorted(set(y.tolist()))
        ((100, 2), [0, 1])
    """
    _check(n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), received {factor}")
    rng = _random.generator(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + rng.normal(0, noise, size=x.shape) if noise else x
    return _finish(x, y, rng, shuffle)


def make_spirals(n_samples: int = 100, noise: float = 0.0, n_classes: int = 2, turns: float = 1.5,
                 shuffle: bool = True, seed: int | None = None):
    """``n_classes`` interleaved spiral arms starting at the origin.

    Args:
        n_samples: the number of points (default 100).
        noise: the standard deviation of Gaussian noise added to the points (default 0.0).
        n_classes: the number of arms (default 2).
        turns: how many turns each arm makes (default 1.5).
        shuffle: shuffle the points (default True).
        seed: a seed (default None: the global generator, ``tg.random.set_seed``).

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(n_samples, 2)``, ``y`` int64 labels of shape ``(n_samples,)``.

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_spirals(90, n_classes=3, seed=0)
        >>> x.shape, sorted(set(y.tolist()))
        ((90, 2), [0, 1, 2])
    """
    _check(n_samples, noise)
    rng = _random.generator(seed)
    xs, ys = [], []
    sizes = [n_samples // n_classes + (1 if c < n_samples % n_classes else 0) for c in range(n_classes)]
    for c, n in enumerate(sizes):
        r = np.linspace(0.05, 1.0, n)
        t = turns * 2 * np.pi * r + 2 * np.pi * c / n_classes
        xs.append(np.stack([r * np.cos(t), r * np.sin(t)], 1))
        ys.append(np.full(n, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    x = x + rng.normal(0, noise, size=x.shape) if noise else x
    return _finish(x, y, rng, shuffle)


def make_xor(n_samples: int = 100, noise: float = 0.0, shuffle: bool = True, seed: int | None = None):
    """Points uniform in [-1, 1]^2 labelled 1 where the signs of the two coordinates differ.

    Args:
        n_samples: the number of points (default 100).
        noise: the standard deviation of Gaussian noise added to the points (default 0.0).
        shuffle: shuffle the points (default True).
        seed: a seed (default None: the global generator, ``tg.random.set_seed``).

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(n_samples, 2)``, ``y`` int64 labels of shape ``(n_samples,)``.

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_xor(100, seed=0)
        >>> x.shape, sorted(set(y.tolist()))
        ((100, 2), [0, 1])
    """
    _check(n_samples, noise)
    rng = _random.generator(seed)
    x = rng.uniform(-1, 1, size=(n_samples, 2))
    y = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64)
    x = x + rng.normal(0, noise, size=x.shape) if noise else x
    return _finish(x, y, rng, shuffle)


def make_blobs(n_samples: int = 100, centers=3, cluster_std: float = 1.0, n_features: int = 2,
               center_box=(-10.0, 10.0), shuffle: bool = True, seed: int | None = None):
    """Gaussian blobs around ``centers`` (a count, drawn in ``center_box``, or an array).

    Args:
        n_samples: the number of points (default 100).
        centers: how many blobs, or their coordinates as an array (default 3).
        cluster_std: the blobs' standard deviation (default 1.0).
        n_features: the dimension of the points (default 2).
        center_box: the range the centers are drawn from (default (-10.0, 10.0)).
        shuffle: shuffle the points (default True).
        seed: a seed (default None: the global generator).

    Returns:
        ``(x, y)``: float32 points of shape ``(n_samples, n_features)`` and int64 labels.

    Example:
        >>> import tapegrad as tg
        >>> x, y = tg.data.make_blobs(60, centers=3, n_features=4, seed=0)
        >>> x.shape, sorted(set(y.tolist()))
        ((60, 4), [0, 1, 2])
    """
    _check(n_samples, 0.0)
    rng = _random.generator(seed)
    if isinstance(centers, (int, np.integer)):
        centers = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    centers = np.asarray(centers, dtype=np.float64)
    k = len(centers)
    sizes = [n_samples // k + (1 if c < n_samples % k else 0) for c in range(k)]
    x = np.concatenate([rng.normal(centers[c], cluster_std, size=(n, centers.shape[1])) for c, n in enumerate(sizes)])
    y = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
    return _finish(x, y, rng, shuffle)


def train_test_split(*arrays, test_size: float = 0.25, shuffle: bool = True, seed: int | None = None):
    """Split arrays into train and test parts: ``x_tr, x_te, y_tr, y_te = train_test_split(x, y)``.

    Args:
        *arrays: arrays with the same number of rows.
        test_size: the fraction of rows for the test part (default 0.25).
        shuffle: shuffle the rows first (default True).
        seed: a seed (default None: the global generator).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x_tr, x_te, y_tr, y_te = tg.data.train_test_split(np.zeros((10, 2)), np.arange(10), test_size=0.2, seed=0)
        >>> x_tr.shape, x_te.shape, sorted(y_tr.tolist() + y_te.tolist()) == list(range(10))
        ((8, 2), (2, 2), True)
    """
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}")
    n_test = int(round(n * test_size)) if test_size < 1 else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"train_test_split: test_size={test_size} leaves an empty part for {n} samples")
    order = _random.generator(seed).permutation(n) if shuffle else np.arange(n)
    test, train = order[:n_test], order[n_test:]
    out = []
    for a in arrays:
        a = np.asarray(a)
        out += [a[train], a[test]]
    return out
