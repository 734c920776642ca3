"""Weights as safetensors: ``model.save_weights`` / ``model.load_weights``.

Weights are stored under their position and name in ``model.weights``
(``"0000/kernel"``), so loading checks every one: a missing, extra or
misshapen weight is an error naming it, raised before any weight changes.
"""

from __future__ import annotations

import os

import numpy as np

from ..backend import to_numpy
from .atomic import atomic_path


def _require():
    try:
        from safetensors.numpy import load_file, save_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("saving weights needs safetensors: pip install 'tapegrad[io]'") from exc
    return load_file, save_file


def weight_keys(model) -> list[str]:
    """``"<position>/<weight name>"`` for each of ``model.weights`` (independent of layer names)."""
    return [f"{i:04d}/{w.name}" for i, w in enumerate(model.weights)]


def weights_dict(model) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(to_numpy(w.data)) for k, w in zip(weight_keys(model), model.weights)}


def save_weights(model, filepath) -> None:
    """Write a model's weights to a ``.weights.safetensors`` file, atomically (``model.save_weights``).

    Args:
        model: a built model.
        filepath: the file, ending in ``.weights.safetensors``.

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> folder = tempfile.mkdtemp()
        >>> tg.saving.save_weights(model, os.path.join(folder, "m.weights.safetensors"))
        >>> os.listdir(folder)
        ['m.weights.safetensors']
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.safetensors"):
        raise ValueError(f"save_weights: the filename must end in '.weights.safetensors', received {filepath!r}")
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' has not been built, so it has no weights yet")
    _, save_file = _require()
    with atomic_path(filepath) as tmp:
        save_file(weights_dict(model), tmp, metadata={"format": "tapegrad-weights", "version": "1"})


def read_safetensors(filepath) -> dict[str, np.ndarray]:
    load_file, _ = _require()
    try:
        return load_file(os.fspath(filepath))
    except FileNotFoundError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"cannot read weights from {os.fspath(filepath)!r}: the file is truncated or corrupt "
                         f"({exc})") from None


def assign_weights(model, stored: dict[str, np.ndarray], source: str) -> None:
    keys = weight_keys(model)
    weights = model.weights
    missing = [k for k in keys if k not in stored]
    extra = [k for k in stored if k not in keys]
    if missing or extra:
        raise ValueError(f"{source}: the saved weights do not match model '{model.name}': "
                         f"missing {missing}, unexpected {extra}")
    for k, w in zip(keys, weights):
        if tuple(stored[k].shape) != tuple(w.shape):
            raise ValueError(f"{source}: weight {k!r} has shape {tuple(stored[k].shape)} in the file but "
                             f"{tuple(w.shape)} in the model")
    for k, w in zip(keys, weights):
        w.assign(stored[k])


def load_weights(model, filepath) -> None:
    """Load weights written by ``save_weights`` into a built model of the same architecture (``model.load_weights``).

    Args:
        model: a built model.
        filepath: the ``.weights.safetensors`` file.

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "m.weights.safetensors")
        >>> model.save_weights(path)
        >>> twin = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> tg.saving.load_weights(twin, path)
        >>> bool((twin.get_weights()[0] == model.get_weights()[0]).all())
        True
    """
    filepath = os.fspath(filepath)
    if not model.built:
        raise ValueError(f"load_weights: build model '{model.name}' first (call it on data or build(input_shape))")
    assign_weights(model, read_safetensors(filepath), f"load_weights({filepath!r})")
