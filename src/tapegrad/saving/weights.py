"""Weights as safetensors: ``model.save_weights`` / ``model.load_weights``.

Weights are stored under their position and name in ``model.weights``
(``"0000/kernel"``), so loading checks every one: a missing, extra, misshapen or
mistyped weight is an error naming it (``ModelFileError``), raised before any
weight changes. The safetensors header (names, dtypes, shapes and offsets) is read
and checked against the model before any array data is read.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from ..backend import to_numpy
from .atomic import atomic_path, remove_stale_temporaries
from .errors import ModelFileError

MAX_HEADER_BYTES = 16 * 2**20  # a safetensors header lists names, dtypes and shapes: far below this
# safetensors' dtype names and the NumPy dtypes they hold (BF16 and F8 have no NumPy dtype)
ST_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
             "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16, "F32": np.float32,
             "F64": np.float64}
NP_TO_ST = {np.dtype(v): k for k, v in ST_DTYPES.items()}


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
    from safetensors.numpy import save_file

    with atomic_path(filepath) as tmp:
        save_file(weights_dict(model), tmp, metadata={"format": "tapegrad-weights", "version": "1"})


def read_header(read, size: int, path, entry: str | None) -> tuple[dict, int]:
    """The tensors a safetensors buffer of ``size`` bytes declares, checked for consistency,
    and the length of its header; ``read(n)`` returns its next ``n`` bytes.

    Each tensor's dtype must be one NumPy holds, its shape a list of non-negative
    integers, and its offsets must cover exactly its bytes; the tensors must fill the
    data section exactly and ``size`` must be the header plus that data.
    """
    def bad(problem):
        return ModelFileError(path, entry, problem)

    first = read(8)
    if len(first) < 8:
        raise bad(f"truncated or corrupt: {size} bytes cannot hold a safetensors header")
    (n,) = struct.unpack("<Q", first)
    if n > min(MAX_HEADER_BYTES, size - 8):
        raise bad(f"truncated or corrupt: the safetensors header declares {n} bytes, but "
                  f"{'the entry' if entry else 'the file'} holds {size} bytes and a header may take at most "
                  f"{MAX_HEADER_BYTES}")
    raw = read(n)
    if len(raw) < n:
        raise bad(f"truncated or corrupt: the safetensors header declares {n} bytes but only {len(raw)} follow")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"the safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise bad(f"the safetensors header must be a JSON object, received {type(header).__name__}")
    tensors, spans = {}, []
    for key, spec in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(spec, dict) and isinstance(spec.get("dtype"), str) and isinstance(spec.get("shape"), list)
                and isinstance(spec.get("data_offsets"), list) and len(spec["data_offsets"]) == 2):
            raise bad(f"tensor {key!r} is described by {str(spec)[:200]}, expected dtype, shape and data_offsets")
        shape, (begin, end) = spec["shape"], spec["data_offsets"]
        if not all(type(s) is int and s >= 0 for s in shape) or not all(type(o) is int and o >= 0
                                                                         for o in (begin, end)):
            raise bad(f"tensor {key!r} has shape {str(shape)[:100]} and offsets {spec['data_offsets']}; expected "
                      "non-negative integers")
        if spec["dtype"] not in ST_DTYPES:
            raise bad(f"tensor {key!r} has dtype {spec['dtype']!r}, expected one of {', '.join(ST_DTYPES)}")
        dtype = np.dtype(ST_DTYPES[spec["dtype"]])
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if end - begin != nbytes:
            raise bad(f"tensor {key!r} of dtype {spec['dtype']} and shape {tuple(shape)} takes {nbytes} bytes, but "
                      f"its offsets {spec['data_offsets']} span {end - begin}")
        tensors[key] = (dtype, tuple(shape))
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise bad("the tensors' data offsets overlap or leave gaps")
        pos = end
    if 8 + n + pos != size:
        raise bad(f"truncated or corrupt: {'the entry' if entry else 'the file'} holds {size} bytes, but its header "
                  f"describes {8 + n + pos}")
    return tensors, n


def check_against_model(model, tensors: dict, path, entry: str | None) -> None:
    """Every weight of ``model`` stored, nothing else, each with the model's dtype and shape."""
    keys = weight_keys(model)
    missing = [k for k in keys if k not in tensors]
    extra = [k for k in tensors if k not in keys]
    if missing or extra:
        raise ModelFileError(path, entry, f"the saved weights do not match model '{model.name}': missing {missing}, "
                                          f"unexpected {extra}")
    for k, w in zip(keys, model.weights):
        dtype, shape = tensors[k]
        if shape != tuple(w.shape):
            raise ModelFileError(path, entry, f"weight {k!r} has shape {shape} in the file but {tuple(w.shape)} in "
                                              "the model")
        if dtype != np.dtype(w.dtype):
            raise ModelFileError(path, entry, f"weight {k!r} has dtype {NP_TO_ST[dtype]} ({dtype}) in the file but "
                                              f"{np.dtype(w.dtype)} in the model")


def assign_weights(model, stored: dict[str, np.ndarray], path, entry: str | None = None) -> None:
    """Set the model's weights from arrays already checked by ``check_against_model``."""
    check_against_model(model, {k: (np.dtype(v.dtype), tuple(v.shape)) for k, v in stored.items()}, path, entry)
    for k, w in zip(weight_keys(model), model.weights):
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
    if not os.path.isfile(filepath):
        if os.path.isdir(filepath):
            raise ModelFileError(filepath, None, "is a folder, expected a .weights.safetensors file")
        raise FileNotFoundError(f"load_weights: no such file {filepath!r}")
    remove_stale_temporaries(os.path.dirname(os.path.abspath(filepath)))
    size = os.path.getsize(filepath)
    with open(filepath, "rb") as f:
        tensors, _ = read_header(f.read, size, filepath, None)
        check_against_model(model, tensors, filepath, None)
        f.seek(0)
        data = f.read()
    from safetensors.numpy import load

    try:
        stored = load(data)
    except Exception as exc:  # safetensors raises its own error types for corrupt buffers
        raise ModelFileError(filepath, None, f"the file is truncated or corrupt ({exc})") from None
    assign_weights(model, stored, filepath, None)
