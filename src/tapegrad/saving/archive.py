"""The ``.tapegrad`` file: one zip holding the architecture as JSON, the weights as
safetensors, and optionally the optimizer state and compile settings.

Nothing in the file is ever executed: the JSON names classes that must be
tapegrad's own or registered by the user, and arrays are read by safetensors.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .atomic import atomic_path
from .registry import deserialize_layer
from .weights import assign_weights, weights_dict

FORMAT = "tapegrad-model"
VERSION = 1


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
    payload = {"config.json": json_text.encode(), "model.weights.safetensors": st_save(weights_dict(model))}
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and opt._state:
        state = {k: np.ascontiguousarray(v) for k, v in opt.get_state(model.trainable_weights).items()}
        payload["optimizer.safetensors"] = st_save(state)
    with atomic_path(filepath) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in payload.items():
                zf.writestr(name, data)


def _read(filepath) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(filepath) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"load_model: {filepath!r} is corrupt (bad CRC in {bad!r})")
            return {name: zf.read(name) for name in zf.namelist()}
    except zipfile.BadZipFile as exc:
        raise ValueError(f"load_model: {filepath!r} is not a valid .tapegrad file (truncated or not a zip: "
                         f"{exc})") from None


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002
    """Rebuild a model from a ``.tapegrad`` file written by ``save_model`` (``keras.saving.load_model``).

    Args:
        filepath: the ``.tapegrad`` file.
        custom_objects: a dict of name to class for your own layers or losses (default None; classes
            decorated with ``register_serializable`` are found without it).
        compile: compile the model as it was saved (default True).

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> folder = tempfile.mkdtemp()
        >>> model.save(os.path.join(folder, "m.tapegrad"))
        >>> tg.saving.load_model(os.path.join(folder, "m.tapegrad")).get_weights()[0].shape
        (2, 1)
    """
    from safetensors.numpy import load as st_load

    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_model: no such file {filepath!r}")
    files = _read(filepath)
    for needed in ("config.json", "model.weights.safetensors"):
        if needed not in files:
            raise ValueError(f"load_model: {filepath!r} lacks {needed!r}; found {sorted(files)}")
    try:
        config = json.loads(files["config.json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_model: config.json in {filepath!r} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"load_model: {filepath!r} is not a tapegrad model file")
    try:
        weights = st_load(files["model.weights.safetensors"])
        opt_state = st_load(files["optimizer.safetensors"]) if "optimizer.safetensors" in files else None
    except Exception as exc:
        raise ValueError(f"load_model: the weights in {filepath!r} are corrupt ({exc})") from None
    model = deserialize_layer({"class_name": config["class_name"], "config": config["config"]}, custom_objects)
    if not model.built:
        shape = config.get("build_input_shape")
        if shape is None:
            raise ValueError(f"load_model: {filepath!r} does not record the input shape needed to build the model")
        model.build(tuple(shape))
    assign_weights(model, weights, f"load_model({filepath!r})")
    cc = config.get("compile_config")
    if compile and cc:
        from .. import losses, optimizers

        loss = cc.get("loss")
        if isinstance(loss, dict) and "class_name" in loss:
            loss = losses.get(loss)
        model.compile(optimizer=optimizers.get(cc["optimizer"]), loss=loss, metrics=cc.get("metrics"),
                      loss_weights=cc.get("loss_weights"))
        if opt_state is not None:
            model.optimizer.set_state(opt_state, model.trainable_weights)
    return model
