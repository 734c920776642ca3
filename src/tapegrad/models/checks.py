"""The arguments of ``compile``, ``fit``, ``evaluate`` and ``predict``, checked before anything changes.

Each check raises an error naming the argument, what was received and what was
expected, before a weight, an optimizer, a metric or a callback is touched. Only
what is an array (a NumPy array or a tensor, also inside a list, tuple or dict) is
checked for dtype and shape; other kinds of ``x`` (datasets, loaders, iterables of
batches) are left to the code that reads them.

Example:
    >>> import numpy as np, tapegrad as tg
    >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> try:
    ...     model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs="3", verbose=0)
    ... except TypeError as err:
    ...     print(err)
    fit: epochs must be an integer >= 0, received '3' of type str
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import metrics as _metrics
from ..autodiff.tensor import Tensor
from ..data.dataset import DataLoader, Dataset

__all__ = ["check_compile", "check_fit", "check_evaluate", "check_predict", "check_batch"]

_NUMERIC = "biuf"  # bool, signed and unsigned integers, floats


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_arg(where: str, name: str, value, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if not _is_int(value):
        raise TypeError(f"{where}: {name} must be {expected}, received {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be {expected}, received {value!r}")


def _arrays(value, label: str):
    """``(label, array)`` for each array in ``value``: a NumPy array, a tensor, a list or tuple
    of them, a dict of them, or a plain list of numbers or strings; other kinds yield nothing."""
    if isinstance(value, Tensor):
        yield label, value.data
    elif isinstance(value, np.ndarray):
        yield label, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (np.ndarray, Tensor)):
                yield from _arrays(v, f"{label}[{k!r}]")
    elif isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, (np.ndarray, Tensor)) for v in value):
            for i, v in enumerate(value):
                yield from _arrays(v, f"{label}[{i}]")
        elif all(isinstance(v, (numbers.Number, str, bytes, list)) for v in value):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    arr = np.asarray(value)
                except (ValueError, TypeError):  # ragged: perhaps an iterable of batches; not ours to judge
                    return
            if arr.dtype.kind in "cUSV":
                yield label, arr


def _single(value) -> np.ndarray | None:
    """``value`` as one array when it is one (a NumPy array or a tensor), else None."""
    if isinstance(value, Tensor):
        return value.data
    return value if isinstance(value, np.ndarray) else None


def _check_dtypes(where: str, value, name: str) -> None:
    if value is None or (value.__class__ is np.ndarray and value.dtype.kind in _NUMERIC):
        return  # the usual batch: nothing to look into
    for label, arr in _arrays(value, name):
        kind = arr.dtype.kind
        if kind in _NUMERIC:
            continue
        if kind == "c":
            hint = "tapegrad does not train on complex numbers; pass the real and imaginary parts as features"
        elif kind == "O":
            hint = "convert it with np.asarray(..., dtype='float32') (an object array may hold anything)"
        else:
            hint = "convert text to numbers first (categories as integers or one-hot columns)"
        raise TypeError(f"{where}: {label} must hold numbers (bool, integer or float), received an array of dtype "
                        f"{arr.dtype} and shape {arr.shape}; {hint}")


def _needs_y(model, step: str) -> bool:
    """Whether the model's own step needs targets: the built-in step with the built-in loss does."""
    own = [getattr(type(model), name, None) for name in (step, "compute_loss")]
    return all(getattr(f, "__qualname__", "") == f"Trainer.{f.__name__}" for f in own if f is not None)


def _check_x_y(where: str, model, x, y, sample_weight, need_y: bool) -> None:
    if x is None:
        raise ValueError(f"{where}: x is required, received None")
    if isinstance(x, (Dataset, DataLoader)):
        return
    _check_dtypes(where, x, "x")
    _check_dtypes(where, y, "y")
    _check_dtypes(where, sample_weight, "sample_weight")
    xa = _single(x)
    if xa is not None or isinstance(x, dict):
        if y is None and need_y:
            raise ValueError(f"{where}: y is required with the compiled loss when x is an array, received y=None; "
                             "pass the targets as y (or x as a tg.data.Dataset of (x, y))")
    if xa is not None:
        if xa.ndim == 0:
            raise ValueError(f"{where}: x must have a batch axis, received a scalar")
        if xa.shape[0] == 0:
            raise ValueError(f"{where}: x has 0 samples (shape {xa.shape}); expected at least one")
        _check_input_shape(where, model, xa, "x")


def _check_input_shape(where: str, model, xa: np.ndarray, name: str) -> None:
    """An array against the model's declared ``Input`` (a Sequential's), None dimensions free."""
    spec = getattr(model, "_input_layer", None)
    shape = getattr(spec, "shape", None)
    if not isinstance(shape, tuple):
        return
    if xa.ndim != len(shape) + 1 or any(s is not None and s != t for s, t in zip(shape, xa.shape[1:])):
        raise ValueError(f"{where}: {name} has shape {xa.shape}, but model '{model.name}' expects input of shape "
                         f"{(None,) + shape}")


def _same_width(where: str, name: str, val, train) -> None:
    """A validation array against its training counterpart: same rank and last dimension."""
    if val is None or train is None:
        return
    if val.ndim != train.ndim or (val.ndim > 1 and val.shape[-1] != train.shape[-1]):
        raise ValueError(f"{where}: validation_data's {name} has shape {val.shape}, but the training {name} has "
                         f"shape {train.shape}; expected {(None,) + train.shape[1:]}")


def check_compile(metrics) -> None:
    """``compile``'s metrics: a list (or tuple, or dict per output) of names, Metric classes or
    objects, or functions; an unknown name is an error here, not after the first epoch."""
    if metrics is None:
        return
    if isinstance(metrics, dict):
        specs = []
        for v in metrics.values():
            specs.extend(v if isinstance(v, (list, tuple)) else [v])
    elif isinstance(metrics, (list, tuple)):
        specs = list(metrics)
    else:
        raise TypeError(f"compile: metrics must be a list of metric names or objects, received {metrics!r} of "
                        f"type {type(metrics).__name__}; for example metrics=['accuracy']")
    for m in specs:
        if isinstance(m, str):
            if m not in ("accuracy", "acc") and m not in _metrics.ALL and m not in _metrics._CLASSES:
                raise ValueError(f"compile: unknown metric {m!r} in metrics; valid names are: accuracy, "
                                 f"{', '.join(sorted(_metrics.ALL))}")
        elif not (isinstance(m, _metrics.Metric) or (isinstance(m, type) and issubclass(m, _metrics.Metric))
                  or callable(m)):
            raise TypeError(f"compile: metrics must hold names, Metric objects or functions, received {m!r} of "
                            f"type {type(m).__name__}")


def check_fit(model, x, y, batch_size, epochs, verbose, validation_split, validation_data, sample_weight,
              initial_epoch, steps_per_epoch, validation_freq) -> None:
    """Every argument of ``fit``, before the first epoch."""
    where = "fit"
    _int_arg(where, "batch_size", batch_size, 1, allow_none=True)
    _int_arg(where, "epochs", epochs, 0)
    _int_arg(where, "initial_epoch", initial_epoch, 0)
    if initial_epoch > epochs:
        raise ValueError(f"fit: initial_epoch ({initial_epoch}) must not exceed epochs ({epochs}); epochs is the "
                         "index of the last epoch, not how many more to run")
    _int_arg(where, "steps_per_epoch", steps_per_epoch, 1, allow_none=True)
    _int_arg(where, "validation_freq", validation_freq, 1)
    _check_verbose(where, verbose)
    if isinstance(validation_split, (bool, np.bool_)) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"fit: validation_split must be a float in [0, 1), received {validation_split!r} of type "
                        f"{type(validation_split).__name__}")
    if not 0 <= validation_split < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1), received {validation_split}")
    _check_x_y(where, model, x, y, sample_weight, _needs_y(model, "train_step"))
    if validation_data is None or isinstance(validation_data, (Dataset, DataLoader)):
        return
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        if isinstance(validation_data, (tuple, list)) or _single(validation_data) is not None:
            got = f"a {type(validation_data).__name__} of {len(validation_data)}" if isinstance(
                validation_data, (tuple, list)) else f"an array of shape {_single(validation_data).shape}"
            raise ValueError(f"fit: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                             f"received {got}")
        return
    vx, vy = validation_data[0], validation_data[1]
    vsw = validation_data[2] if len(validation_data) == 3 else None
    for name, part in (("x", vx), ("y", vy), ("sample_weight", vsw)):
        _check_dtypes(where, part, f"validation_data's {name}")
    vxa, vya = _single(vx), _single(vy)
    if vxa is not None:
        _check_input_shape(where, model, vxa, "validation_data's x")
        _same_width(where, "x", vxa, _single(x))
        if vya is not None and len(vya) != len(vxa):
            raise ValueError(f"fit: validation_data's x has {len(vxa)} samples but its y has {len(vya)}")
    _same_width(where, "y", vya, _single(y))


def _check_verbose(where: str, verbose) -> None:
    if verbose != "auto" and not (_is_int(verbose) and 0 <= verbose <= 2) and verbose is not True \
            and verbose is not False:
        raise ValueError(f"{where}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")


def check_evaluate(model, x, y, batch_size, verbose, sample_weight) -> None:
    """``evaluate``'s arguments, before any metric is reset."""
    _int_arg("evaluate", "batch_size", batch_size, 1, allow_none=True)
    _check_verbose("evaluate", verbose)
    _check_x_y("evaluate", model, x, y, sample_weight, _needs_y(model, "test_step"))


def check_predict(model, x, batch_size, verbose) -> None:
    """``predict``'s arguments (zero rows are allowed: the result is empty)."""
    _int_arg("predict", "batch_size", batch_size, 1, allow_none=True)
    _check_verbose("predict", verbose)
    if x is None:
        raise ValueError("predict: x is required, received None")
    _check_dtypes("predict", x, "x")
    xa = _single(x)
    if xa is not None and xa.ndim > 0:
        _check_input_shape("predict", model, xa, "x")


def check_batch(where: str, model, x, y=None, sample_weight=None) -> None:
    """``train_on_batch`` / ``test_on_batch`` / ``predict_on_batch``: the arrays' dtypes (a wrong
    shape is refused by the model's first layer, before the step changes anything)."""
    for name, part in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        _check_dtypes(where, part, name)
