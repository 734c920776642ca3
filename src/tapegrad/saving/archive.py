"""The ``.tapegrad`` file: one zip holding the architecture as JSON, the weights as
safetensors, and optionally the optimizer state and compile settings.

Nothing in the file is ever executed: the JSON names classes that must be
tapegrad's own or registered by the user, and arrays are read by safetensors.

Loading reads within limits, so that a hostile or damaged file costs little: each
entry's declared size is checked before it is decompressed (``config.json`` at most
``MAX_CONFIG_BYTES``, the weights exactly what their header describes, at most
``max_weight_bytes``), decompression stops at the declared size, JSON nested deeper
than ``MAX_JSON_DEPTH`` is refused, the model's weights are counted while it is
rebuilt and refused before allocation past what the file stores, and every stored
tensor's dtype and shape must equal the model's. Whatever is wrong raises
``ModelFileError`` naming the file, the entry and the problem.
"""

from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np

from ..layers.base import weight_budget
from .atomic import atomic_path, remove_stale_temporaries
from .errors import ModelFileError
from .registry import deserialize_layer
from .weights import NP_TO_ST, assign_weights, check_against_model, read_header, weights_dict

FORMAT = "tapegrad-model"
VERSION = 1
CONFIG, WEIGHTS, OPTIMIZER = "config.json", "model.weights.safetensors", "optimizer.safetensors"
MAX_CONFIG_BYTES = 16 * 2**20  # an architecture's JSON takes kilobytes
MAX_JSON_DEPTH = 64  # a Sequential inside a Sequential nests about ten levels
MAX_WEIGHT_BYTES = 2**31  # load_model's default limit on the weights (2 GiB); raise it with max_weight_bytes=
_SHAPE_KEYS = ("build_input_shape", "input_shape", "batch_input_shape")


def _class_name(model) -> str:
    return getattr(type(model), "_registered_name", type(model).__name__)


def save_model(model, filepath, include_optimizer: bool = True) -> None:
    """Write a model to one ``.tapegrad`` file: architecture (JSON), weights (safetensors) and, by
    default, the optimizer's state; written atomically, never with pickle. ``model.save`` calls it.

    Args:
        model: a built model.
        filepath: the file, ending in ``.tapegrad`` (Keras writes ``.keras``).
        include_optimizer: also save the compile settings and the optimizer's state (default True).

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> folder = tempfile.mkdtemp()
        >>> tg.saving.save_model(model, os.path.join(folder, "m.tapegrad"))
        >>> os.listdir(folder)
        ['m.tapegrad']
    """
    from safetensors.numpy import save as st_save

    filepath = os.fspath(filepath)
    if not filepath.endswith(".tapegrad"):
        raise ValueError(f"save: the filename must end in '.tapegrad', received {filepath!r}")
    if not model.built:
        raise ValueError(f"save: model '{model.name}' has not been built, so it has no weights yet")
    build_shape = model._build_shape
    config = {
        "format": FORMAT, "version": VERSION, "class_name": _class_name(model), "config": model.get_config(),
        "build_input_shape": list(build_shape) if build_shape is not None else None,
        "compile_config": getattr(model, "_compile_config", None),
    }
    json_text = json.dumps(config)  # fails before anything is written if a config is not JSON-able
    payload = {CONFIG: json_text.encode(), WEIGHTS: st_save(weights_dict(model))}
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and opt._state:
        state = {k: np.ascontiguousarray(v) for k, v in opt.get_state(model.trainable_weights).items()}
        payload[OPTIMIZER] = st_save(state)
    with atomic_path(filepath) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in payload.items():
                zf.writestr(name, data)


# -- reading within limits ----------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (brackets inside strings do not count)."""
    skeleton = np.frombuffer(_STRINGS.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    steps = (np.isin(skeleton, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(skeleton, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(steps).max()) if steps.size else 0


class _Reader:
    """The entries of a ``.tapegrad`` zip, each read no further than its checked, declared size."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except IsADirectoryError:
            raise ModelFileError(path, None, "is a folder, expected a .tapegrad file") from None
        except PermissionError:
            raise
        except Exception as exc:  # zipfile raises BadZipFile, EOFError, ValueError... on damaged files
            raise ModelFileError(path, None, f"not a valid .tapegrad file (truncated or not a zip: {exc})") from None
        names = [i.filename for i in infos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        unknown = [n for n in names if n not in (CONFIG, WEIGHTS, OPTIMIZER)]
        if dupes or unknown:
            self.close()
            raise ModelFileError(path, (dupes or unknown)[0], f"unexpected entry: a .tapegrad file holds {CONFIG}, "
                                                              f"{WEIGHTS} and optionally {OPTIMIZER}, each once; "
                                                              f"found {names}")
        for needed in (CONFIG, WEIGHTS):
            if needed not in names:
                self.close()
                raise ModelFileError(path, needed, f"missing: the file holds only {names}")
        self.infos = {i.filename: i for i in infos}
        for info in infos:
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.close()
                raise ModelFileError(path, info.filename, "encrypted or compressed with an unsupported method "
                                                          f"({info.compress_type})")

    def close(self) -> None:
        self.zf.close()

    def size(self, name: str) -> int:
        return self.infos[name].file_size

    def read(self, name: str, limit: int, why: str, prefix: int | None = None) -> bytes:
        """The entry's bytes (its first ``prefix`` bytes if given), refused before decompressing
        when it declares more than ``limit``; damaged data is a ModelFileError."""
        size = self.size(name)
        if size > limit:
            raise ModelFileError(self.path, name, f"declares {size} bytes uncompressed, more than {why} ({limit})")
        try:
            with self.zf.open(name) as f:  # decompression stops at the declared size; the CRC is checked at its end
                data = f.read(size if prefix is None else min(prefix, size))
        except Exception as exc:  # BadZipFile (bad CRC, renamed header), zlib.error, EOFError on damaged data
            raise ModelFileError(self.path, name, f"corrupt ({type(exc).__name__}: {exc})") from None
        if prefix is None and len(data) != size:
            raise ModelFileError(self.path, name, f"truncated: declares {size} bytes, holds {len(data)}")
        return data

    def tensors(self, name: str, limit: int, why: str) -> tuple[dict, int]:
        """The tensors a safetensors entry declares (checked), read from its header alone."""
        size = self.size(name)
        if size > limit:
            raise ModelFileError(self.path, name, f"declares {size} bytes uncompressed, more than {why} ({limit})")
        head = self.read(name, limit, why, prefix=8)
        n = int.from_bytes(head[:8].ljust(8, b"\0"), "little") if len(head) == 8 else 0
        blob = head if len(head) < 8 or n > size - 8 else self.read(name, limit, why, prefix=8 + n)
        pos = [0]

        def take(k):
            out = blob[pos[0]:pos[0] + k]
            pos[0] += k
            return out

        return read_header(take, size, self.path, name)


def _bad(path, entry):
    def raise_(problem):
        raise ModelFileError(path, entry, problem)
    return raise_


def _check_shape(value, where: str, limit: int, bad) -> None:
    if isinstance(value, dict):  # a model with named inputs: one shape per name
        for k, v in value.items():
            _check_shape(v, f"{where}[{k!r}]", limit, bad)
        return
    if isinstance(value, list) and value and all(isinstance(v, (list, dict)) for v in value):
        for i, v in enumerate(value):  # a model with several inputs: one shape each
            _check_shape(v, f"{where}[{i}]", limit, bad)
        return
    if not isinstance(value, list) or not all(v is None or (type(v) is int and v >= 0) for v in value):
        bad(f"{where} must be a list of non-negative integers or null, received {str(value)[:100]}")
    per_sample = int(np.prod([1 if v is None else v for v in value], dtype=object)) * 8
    if per_sample > limit:
        bad(f"{where} {value} needs {per_sample} bytes for one float64 sample, more than max_weight_bytes={limit}")


def _check_layer_config(node, limit: int, bad, where: str = "config") -> None:
    """Input shapes that fit in ``limit`` bytes and numeric dtypes, everywhere in a config."""
    if isinstance(node, list):
        for i, v in enumerate(node):
            _check_layer_config(v, limit, bad, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _SHAPE_KEYS and value is not None:
            _check_shape(value, f"{where}.{key}", limit, bad)
        elif key == "shape" and node.get("class_name") is None and "batch_size" in node and value is not None:
            _check_shape(value, f"{where}.shape", limit, bad)  # an InputLayer's config
        elif key == "dtype" and value is not None:
            try:
                kind = np.dtype(value).kind if isinstance(value, str) else "O"
            except TypeError:
                kind = "O"
            if kind not in "fiub":
                bad(f"{where}.dtype is {str(value)[:50]!r}, expected a numeric dtype such as 'float32'")
        else:
            _check_layer_config(value, limit, bad, f"{where}.{key}")


def _read_config(reader: _Reader, limit: int) -> dict:
    path, bad = reader.path, _bad(reader.path, CONFIG)
    raw = reader.read(CONFIG, MAX_CONFIG_BYTES, "the limit for a model's config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad(f"not UTF-8 text ({exc})")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        bad(f"JSON nested {depth} levels deep, more than the {MAX_JSON_DEPTH} a model config may use")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        bad(f"not valid JSON ({exc})")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(path, CONFIG, "not a tapegrad model file (no \"format\": \"tapegrad-model\")")
    if config.get("version") != VERSION:
        bad(f"format version {str(config.get('version'))[:20]}, this tapegrad reads version {VERSION}")
    if not isinstance(config.get("class_name"), str) or not isinstance(config.get("config"), dict):
        bad("expected \"class_name\" (a string) and \"config\" (an object)")
    if not isinstance(config.get("compile_config"), (dict, type(None))):
        bad("\"compile_config\" must be an object or null")
    _check_layer_config({k: config.get(k) for k in ("config", "build_input_shape")}, limit, bad)
    return config


def load_model(filepath, custom_objects=None, compile: bool = True,  # noqa: A002 - Keras's name
               max_weight_bytes: int = MAX_WEIGHT_BYTES):
    """Rebuild a model saved with ``model.save``: architecture, weights, optimizer state.

    Args:
        filepath: the ``.tapegrad`` file.
        custom_objects: ``{"name": class}`` for custom layers not registered with
            ``register_serializable``.
        compile: compile the model as it was saved (optimizer, loss, metrics).
        max_weight_bytes: refuse, before allocating, a model whose weights would take
            more bytes (default 2 GiB). Differs from Keras, which has no such limit.

    Raises:
        ModelFileError: the file is damaged, tampered with, or over the limits.

    Example:
        >>> import os, tempfile, tapegrad as tg
        >>> path = os.path.join(tempfile.mkdtemp(), "m.tapegrad")
        >>> tg.Sequential([tg.Input(shape=(1,)), tg.layers.Dense(2)]).save(path)
        >>> tg.saving.load_model(path).count_params()
        4
        >>> try:
        ...     tg.saving.load_model(path, max_weight_bytes=12)  # 4 float32 weights take 16 bytes
        ... except tg.saving.ModelFileError as err:
        ...     print(err.entry, "->", err.problem)
        model.weights.safetensors -> its weights take 16 bytes, more than max_weight_bytes=12
    """
    from safetensors.numpy import load as st_load

    filepath = os.fspath(filepath)
    if not isinstance(max_weight_bytes, (int, np.integer)) or isinstance(max_weight_bytes, bool) or \
            max_weight_bytes < 0:
        raise ValueError(f"load_model: max_weight_bytes must be a non-negative integer, received {max_weight_bytes!r}")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_model: no such file {filepath!r}")
    remove_stale_temporaries(os.path.dirname(os.path.abspath(filepath)))
    reader = _Reader(filepath)
    try:
        config = _read_config(reader, max_weight_bytes)
        tensors, _ = reader.tensors(WEIGHTS, max_weight_bytes + (16 << 20), f"max_weight_bytes={max_weight_bytes} "
                                                                            "plus a header")
        stored = sum(int(np.prod(shape, dtype=object)) * dtype.itemsize for dtype, shape in tensors.values())
        if stored > max_weight_bytes:
            raise ModelFileError(filepath, WEIGHTS, f"its weights take {stored} bytes, more than "
                                                    f"max_weight_bytes={max_weight_bytes}")
        model = _rebuild(config, custom_objects, filepath, stored)
        check_against_model(model, tensors, filepath, WEIGHTS)
        data = reader.read(WEIGHTS, reader.size(WEIGHTS), "its header describes")
        try:
            weights = st_load(data)
        except Exception as exc:  # safetensors' own error types
            raise ModelFileError(filepath, WEIGHTS, f"corrupt ({exc})") from None
        del data
        opt_state = _read_optimizer(reader, model, stored) if OPTIMIZER in reader.infos else None
    finally:
        reader.close()
    assign_weights(model, weights, filepath, WEIGHTS)
    cc = config.get("compile_config")
    if compile and cc:
        _compile(model, cc, opt_state, filepath)
    return model


def _rebuild(config: dict, custom_objects, path: str, stored_bytes: int):
    """The model config.json describes, built with weights counted as they are made: one
    that needs more bytes than the file stores cannot match it, and is refused before allocating."""
    def too_big(requested, total):
        return ModelFileError(path, CONFIG, f"the model it describes needs more than the {stored_bytes} bytes of "
                                            f"weights stored in {WEIGHTS} (a weight of {requested} bytes brings it "
                                            f"to {total})")

    try:
        with weight_budget(stored_bytes, too_big):
            model = deserialize_layer({"class_name": config["class_name"], "config": config["config"]},
                                      custom_objects)
            if not model.built:
                shape = config.get("build_input_shape")
                if shape is None:
                    raise ModelFileError(path, CONFIG, "does not record the input shape needed to build the model")
                model.build(tuple(shape))
    except ModelFileError:
        raise
    except Exception as exc:  # anything a tampered config makes a constructor raise: the cause is chained
        raise ModelFileError(path, CONFIG, f"cannot rebuild the model ({type(exc).__name__}: {exc})") from exc
    return model


def _read_optimizer(reader: _Reader, model, weight_bytes: int) -> dict:
    """The optimizer state, checked against the model's trainable weights before its data is read."""
    from safetensors.numpy import load as st_load

    path = reader.path
    limit = 4 * weight_bytes + (16 << 20)  # at most three slots per weight (AMSGrad), plus small extras
    tensors, _ = reader.tensors(OPTIMIZER, limit, "four times the weights plus a header")
    variables = model.trainable_weights
    for key, (dtype, shape) in tensors.items():
        index, _, slot = key.partition("/")
        if key == "iterations":
            ok = dtype.kind in "iu" and shape == (1,)
            want = "an integer of shape (1,)"
        elif index == "extra":
            ok = dtype.kind in "fiub" and shape == (1,)
            want = "a number of shape (1,)"
        elif index.isdigit() and int(index) < len(variables) and slot:
            v = variables[int(index)]
            ok = dtype == np.dtype(v.dtype) and shape == tuple(v.shape)
            want = f"{NP_TO_ST.get(np.dtype(v.dtype), v.dtype)} of shape {tuple(v.shape)} like weight {v.name!r}"
        else:
            ok, want = False, f"a key 'iterations', 'extra/<name>' or '<i>/<slot>' with i < {len(variables)}"
        if not ok:
            raise ModelFileError(path, OPTIMIZER, f"state {key!r} is {NP_TO_ST[dtype]} of shape {shape}, "
                                                  f"expected {want}")
    data = reader.read(OPTIMIZER, limit, "its header describes")
    try:
        return st_load(data)
    except Exception as exc:
        raise ModelFileError(path, OPTIMIZER, f"corrupt ({exc})") from None


def _compile(model, cc: dict, opt_state, path: str) -> None:
    from .. import losses, optimizers

    try:
        loss = cc.get("loss")
        if isinstance(loss, dict) and "class_name" in loss:
            loss = losses.get(loss)
        model.compile(optimizer=optimizers.get(cc["optimizer"]), loss=loss, metrics=cc.get("metrics"),
                      loss_weights=cc.get("loss_weights"))
    except Exception as exc:
        raise ModelFileError(path, CONFIG, f"cannot compile the model as saved: compile_config is "
                                           f"{str(cc)[:200]} ({type(exc).__name__}: {exc})") from exc
    if opt_state is not None:
        try:
            model.optimizer.set_state(opt_state, model.trainable_weights)
        except Exception as exc:
            raise ModelFileError(path, OPTIMIZER, f"does not fit the model's optimizer "
                                                  f"({type(exc).__name__}: {exc})") from exc
