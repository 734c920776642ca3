"""Weight initializers with Keras 3's formulas, reproducible under ``tg.random.set_seed``.

Variance scaling draws with variance ``scale / n`` where ``n`` is ``fan_in``,
``fan_out`` or their mean; for a kernel of shape ``(..., in, out)`` the fans are
``in * receptive_field`` and ``out * receptive_field``. Truncated normals are cut
at two standard deviations and their standard deviation is divided by
``0.87962566103423978`` to make up for the cut, as Keras does.

Example:
    >>> import tapegrad as tg
    >>> tg.random.set_seed(0)
    >>> w = tg.initializers.get("glorot_uniform")((100, 50))
    >>> bool(abs(w).max() <= (6 / 150) ** 0.5)
    True
"""

from __future__ import annotations

import math

import numpy as np

from . import random as _random
from .backend import xp

_TRUNC_CORRECTION = 0.87962566103423978


def compute_fans(shape) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras: a kernel ``(..., in, out)`` has
    ``fan_in = in * receptive field`` and ``fan_out = out * receptive field``.

    Args:
        shape: the weight's shape.

    Example:
        >>> import tapegrad as tg
        >>> tg.initializers.compute_fans((3, 3, 16, 32))
        (144.0, 288.0)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base class: ``initializer(shape, dtype=None)`` returns a backend array; subclasses write ``sample(shape)``.

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> class Twos(tg.initializers.Initializer):
        ...     def sample(self, shape):
        ...         return np.full(shape, 2.0)
        >>> Twos()((2,)).tolist()
        [2.0, 2.0]
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = _random.generator(seed) if seed is not None else None

    def rng(self) -> np.random.Generator:
        return self._rng if self._rng is not None else _random.generator()

    def __call__(self, shape, dtype=None):
        arr = self.sample(tuple(int(s) for s in shape))
        return xp.asarray(np.asarray(arr, dtype=np.dtype(dtype or "float32")))

    def sample(self, shape):  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros (``keras.initializers.Zeros``, the default for biases).

    Args:
        seed: accepted for a uniform signature; unused (default None).

    Example:
        >>> import tapegrad as tg
        >>> tg.initializers.Zeros()((2,)).tolist()
        [0.0, 0.0]
    """
    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Initializer):
    """All ones (``keras.initializers.Ones``).

    Args:
        seed: accepted for a uniform signature; unused (default None).

    Example:
        >>> import tapegrad as tg
        >>> tg.initializers.Ones()((2,)).tolist()
        [1.0, 1.0]
    """
    def sample(self, shape):
        return np.ones(shape)

    def get_config(self):
        return {}


class Constant(Initializer):
    """Every value ``value`` (``keras.initializers.Constant``).

    Args:
        value: the value (default 0.0).

    Example:
        >>> import tapegrad as tg
        >>> tg.initializers.Constant(0.5)((2,)).tolist()
        [0.5, 0.5]
    """
    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = value

    def sample(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal samples (``keras.initializers.RandomNormal``).

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation (default 0.05).
        seed: a seed (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> bool((tg.initializers.RandomNormal(seed=0)((2, 2)) == tg.initializers.RandomNormal(seed=0)((2, 2))).all())
        True
    """
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.rng().normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform samples in ``[minval, maxval)`` (``keras.initializers.RandomUniform``).

    Args:
        minval: the lower bound (default -0.05).
        maxval: the upper bound (default 0.05).
        seed: a seed (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.RandomUniform(0.0, 1.0, seed=0)((1000,))
        >>> bool(w.min() >= 0.0 and w.max() < 1.0)
        True
    """
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return self.rng().uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Normal samples redrawn until within two standard deviations of the mean (``keras.initializers.TruncatedNormal``).

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 0.05).
        seed: a seed (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> bool(abs(tg.initializers.TruncatedNormal(stddev=1.0, seed=0)((1000,))).max() <= 2.0)
        True
    """
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return _random.truncated_normal_array(shape, self.mean, self.stddev, self.rng())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Samples of variance ``scale / n``, ``n`` the fan in, out or their mean (``keras.initializers.VarianceScaling``).

    The truncated normal is rescaled so that the truncated samples have that variance, as Keras.

    Args:
        scale: the numerator of the variance (default 1.0).
        mode: ``"fan_in"`` (the default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (the default), ``"untruncated_normal"`` or ``"uniform"``.
        seed: a seed (default None: the global generator).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.VarianceScaling(2.0, "fan_in", "uniform", seed=0)((50, 10))
        >>> bool(abs(w).max() <= (3 * 2.0 / 50) ** 0.5)  # the uniform limit sqrt(3 scale / fan_in)
        True
    """
    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', received {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "VarianceScaling: distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', "
                f"received {distribution!r}"
            )
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, received {scale}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self.rng()
        if self.distribution == "truncated_normal":
            return _random.truncated_normal_array(shape, 0.0, math.sqrt(variance) / _TRUNC_CORRECTION, rng)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, size=shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class _Preset(VarianceScaling):
    """A named variance scaling: ``scale``, ``mode`` and ``distribution`` fixed by the class."""

    preset: tuple = ()

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(*self.preset, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """``GlorotUniform``: ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")``,
    as Keras (Xavier Glorot's, the default kernel initializer).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.GlorotUniform(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """``GlorotNormal``: ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="truncated_normal")``,
    as Keras (Xavier Glorot's).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.GlorotNormal(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """``HeNormal``: ``VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")``,
    as Keras (Kaiming He's, for ReLU networks).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.HeNormal(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """``HeUniform``: ``VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")``,
    as Keras (Kaiming He's, for ReLU networks).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.HeUniform(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """``LecunNormal``: ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")``,
    as Keras (Yann LeCun's, for SELU networks).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.LecunNormal(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """``LecunUniform``: ``VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")``,
    as Keras (Yann LeCun's).

    Args:
        seed: a seed for reproducible values (default None: the global generator, ``tg.random.set_seed``).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.initializers.LecunUniform(seed=0)((300, 200))
        >>> w.shape, w.dtype.name
        ((300, 200), 'float32')
    """
    preset = (1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times ``gain``
    (``keras.initializers.Orthogonal``).

    Args:
        gain: the factor (default 1.0).
        seed: a seed (default None: the global generator).

    Example:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> q = tg.initializers.Orthogonal(seed=0)((4, 4)).astype(np.float64)
        >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-6))
        True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: expected a shape of rank 2 or more, received {shape}")
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        flat = self.rng().normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


ALL = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal,
    # Keras's short aliases (``Embedding`` defaults to ``"uniform"``)
    "uniform": RandomUniform, "normal": RandomNormal,
}
_CLASS_NAMES = {cls.__name__: cls for cls in ALL.values()}


def get(identifier) -> Initializer:
    """An initializer from a name, a class name, a config dict, an instance or a callable (``keras.initializers.get``).

    Args:
        identifier: ``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``, ``"GlorotUniform"``, a config
            dict, an ``Initializer`` (returned as is) or a function ``(shape, dtype) -> array``.

    Example:
        >>> import tapegrad as tg
        >>> type(tg.initializers.get("he_normal")).__name__
        'HeNormal'
    """
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict):
        cls = _CLASS_NAMES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown initializer config {identifier!r}")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = ALL.get(identifier) or _CLASS_NAMES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier!r}; valid names are: {', '.join(sorted(ALL))}")
        return cls()
    raise TypeError(f"initializer must be a name, an Initializer or a callable, received {identifier!r}")


def serialize(init) -> dict | str:
    """The config of a built-in initializer, ``{"class_name": ..., "config": ...}`` (used by ``get_config``).

    Args:
        init: an ``Initializer``.

    Example:
        >>> import tapegrad as tg
        >>> tg.initializers.serialize(tg.initializers.Constant(0.5))
        {'class_name': 'Constant', 'config': {'value': 0.5}}
    """
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise ValueError(f"cannot serialize the custom initializer {init!r}")


__all__ = ["Initializer", "get", "serialize", "compute_fans", *[c.__name__ for c in ALL.values()]]
