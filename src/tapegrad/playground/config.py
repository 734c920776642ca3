"""A playground configuration: checked field by field, turned into data, a model and a program.

The page sends a JSON object; :func:`validate` checks every field (names, ranges,
combinations) and raises :class:`ConfigError` naming the first bad one, before
anything is built. :func:`build` makes the data and the compiled model exactly as
the program of :func:`program` does, so running that program gives the same loss
curve as the page (same seeds, same calls).

Example:
    >>> cfg = validate({"dataset": "xor", "hidden": [{"units": 4, "activation": "tanh"}]})
    >>> cfg["dataset"], cfg["hidden"][0]["units"], cfg["optimizer"]
    ('xor', 4, 'sgd')
    >>> "model.fit(" in program(cfg)
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tapegrad as tg

MAX_LAYERS = 6
MAX_UNITS = 16

DATASETS = {  # name: (label on the page, the tg.data function, number of classes it may have)
    "pass_fail": ("Will I pass this class?", "make_pass_fail", (2,)),
    "moons": ("Two moons", "make_moons", (2,)),
    "circles": ("Circles", "make_circles", (2,)),
    "xor": ("XOR", "make_xor", (2,)),
    "spiral": ("Spiral", "make_spirals", (2, 3, 4)),
    "blobs": ("Gaussian blobs", "make_blobs", (2, 3, 4)),
}
# Hidden activations: tapegrad's list less the two that act across units, not on each one.
ACTIVATIONS = sorted(a for a in tg.activations.ALL if a not in ("softmax", "log_softmax"))
# loss: (output units for k classes, output activation, label form, classes it accepts)
LOSSES = {
    "binary_crossentropy": ("sigmoid", "binary"),
    "mean_squared_error": ("sigmoid", "binary"),
    "hinge": ("tanh", "binary"),
    "sparse_categorical_crossentropy": ("softmax", "sparse"),
}
OPTIMIZERS = {  # name on the page: (tapegrad class, extra keyword arguments)
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "adadelta": ("Adadelta", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("Nadam", {}),
    "adamax": ("Adamax", {}),
}

DEFAULTS: dict[str, Any] = {
    "dataset": "moons", "n_samples": 200, "noise": 0.2, "classes": 2, "test_fraction": 0.3, "seed": 0,
    "hidden": [{"units": 8, "activation": "relu"}, {"units": 8, "activation": "relu"}],
    "loss": "binary_crossentropy", "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 10,
    "l1": 0.0, "l2": 0.0, "dropout": 0.0, "epochs": 300, "early_stopping": False, "patience": 20,
    "speed": 30,
}
# numeric fields: (type, low, high, low inclusive)
RANGES = {
    "n_samples": (int, 20, 1000, True), "noise": (float, 0.0, 1.0, True), "classes": (int, 2, 4, True),
    "test_fraction": (float, 0.1, 0.9, True), "seed": (int, 0, 2**31 - 1, True),
    "learning_rate": (float, 0.0, 100.0, False), "batch_size": (int, 1, 1000, True),
    "l1": (float, 0.0, 1.0, True), "l2": (float, 0.0, 1.0, True), "dropout": (float, 0.0, 0.9, True),
    "epochs": (int, 1, 5000, True), "patience": (int, 1, 1000, True),
    "speed": (int, 0, 1000, True),  # epochs a second shown on the page (0: as fast as it trains); not in the program
}


class ConfigError(ValueError):
    """A bad field of a request: ``field`` names it, the message says what was received and expected."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _number(field: str, value, kind, low, high, low_inclusive):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, f"expected a number, received {value!r}")
    if kind is int and (not float(value).is_integer()):
        raise ConfigError(field, f"expected an integer, received {value!r}")
    if not math.isfinite(value):
        raise ConfigError(field, f"expected a finite number, received {value!r}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        bracket = "[" if low_inclusive else "("
        raise ConfigError(field, f"expected a value in {bracket}{low}, {high}], received {value!r}")
    return kind(value)


def _choice(field: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(field, f"expected one of {', '.join(choices)}, received {value!r}")
    return value


def validate(raw) -> dict:
    """A complete, checked configuration from the page's JSON (missing fields take ``DEFAULTS``).

    Raises ``ConfigError`` naming the first field that is unknown, of the wrong
    type, out of range, or does not fit the others (a binary loss on 3 classes).

    Example:
        >>> validate({"learning_rate": 0.03})["learning_rate"]
        0.03
        >>> try:
        ...     validate({"hidden": [{"units": 40, "activation": "relu"}]})
        ... except ConfigError as e:
        ...     print(e.field)
        hidden[0].units
    """
    if not isinstance(raw, dict):
        raise ConfigError("config", f"expected a JSON object, received {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown field; valid fields are: {', '.join(sorted(DEFAULTS))}")
    cfg = {**DEFAULTS, **raw}
    out: dict[str, Any] = {}
    out["dataset"] = _choice("dataset", cfg["dataset"], list(DATASETS))
    for field, spec in RANGES.items():
        out[field] = _number(field, cfg[field], *spec)
    out["loss"] = _choice("loss", cfg["loss"], list(LOSSES))
    out["optimizer"] = _choice("optimizer", cfg["optimizer"], list(OPTIMIZERS))
    if not isinstance(cfg["early_stopping"], bool):
        raise ConfigError("early_stopping", f"expected true or false, received {cfg['early_stopping']!r}")
    out["early_stopping"] = cfg["early_stopping"]
    hidden = cfg["hidden"]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise ConfigError("hidden", f"expected a list of at most {MAX_LAYERS} layers, received "
                          f"{len(hidden) if isinstance(hidden, list) else type(hidden).__name__}")
    out["hidden"] = []
    for i, layer in enumerate(hidden):
        if not isinstance(layer, dict) or set(layer) != {"units", "activation"}:
            raise ConfigError(f"hidden[{i}]", f"expected {{\"units\": n, \"activation\": name}}, received {layer!r}")
        units = _number(f"hidden[{i}].units", layer["units"], int, 1, MAX_UNITS, True)
        act = _choice(f"hidden[{i}].activation", layer["activation"], ACTIVATIONS)
        out["hidden"].append({"units": units, "activation": act})
    allowed = DATASETS[out["dataset"]][2]
    if out["classes"] not in allowed:
        raise ConfigError("classes", f"the {out['dataset']} data set has {' or '.join(map(str, allowed))} classes, "
                          f"received {out['classes']}")
    if LOSSES[out["loss"]][1] == "binary" and out["classes"] != 2:
        raise ConfigError("loss", f"{out['loss']} is for two classes; with {out['classes']} classes use "
                          "sparse_categorical_crossentropy")
    n_test = int(round(out["n_samples"] * out["test_fraction"]))
    if out["batch_size"] > out["n_samples"] - n_test:
        raise ConfigError("batch_size", f"expected at most the {out['n_samples'] - n_test} training samples, "
                          f"received {out['batch_size']}")
    return out


# -- what the program does, written twice: as Python here and as text in ``program`` -------------
def _data_call(cfg) -> tuple[str, dict]:
    fn = DATASETS[cfg["dataset"]][1]
    if cfg["dataset"] == "pass_fail":
        return fn, {"n_samples": cfg["n_samples"], "seed": cfg["seed"]}
    kw: dict[str, Any] = {"n_samples": cfg["n_samples"]}
    if cfg["dataset"] == "blobs":
        kw.update(centers=cfg["classes"], cluster_std=round(0.3 + cfg["noise"], 6), center_box=(-3.0, 3.0))
    else:
        kw["noise"] = cfg["noise"]
        if cfg["dataset"] == "spiral":
            kw["n_classes"] = cfg["classes"]
    kw["seed"] = cfg["seed"]
    return fn, kw


def _optimizer_call(cfg) -> tuple[str, dict]:
    cls, extra = OPTIMIZERS[cfg["optimizer"]]
    return cls, {"learning_rate": cfg["learning_rate"], **extra}


def output_layer(cfg) -> tuple[int, str]:
    """Units and activation of the output layer for the configuration's loss and classes.

    Example:
        >>> output_layer(validate({"dataset": "blobs", "classes": 3, "loss": "sparse_categorical_crossentropy"}))
        (3, 'softmax')
    """
    act, form = LOSSES[cfg["loss"]]
    return (1 if form == "binary" else cfg["classes"]), act


def build(cfg: dict):
    """``(model, (x_train, y_train), (x_test, y_test))`` as :func:`program` makes them.

    Call it after ``tg.random.set_seed(cfg["seed"])`` (the program does), or inside
    ``tg.random.use(...)`` with the generator that seed gives.

    Example:
        >>> cfg = validate({"dataset": "circles", "n_samples": 40})
        >>> model, (x_tr, y_tr), (x_te, y_te) = build(cfg)
        >>> x_tr.shape, y_te.shape, model.layers[-1].units
        ((28, 2), (12, 1), 1)
    """
    fn, kw = _data_call(cfg)
    x, y = getattr(tg.data, fn)(**kw)
    if LOSSES[cfg["loss"]][1] == "binary":
        y = y.reshape(-1, 1).astype("float32")
    else:
        y = y.reshape(-1).astype("int64")
    x_train, x_test, y_train, y_test = tg.data.train_test_split(x, y, test_size=cfg["test_fraction"], seed=cfg["seed"])
    reg = {}
    if cfg["l1"] or cfg["l2"]:
        reg["kernel_regularizer"] = tg.regularizers.L1L2(l1=cfg["l1"], l2=cfg["l2"])
    layers = [tg.layers.Input((2,))]
    for h in cfg["hidden"]:
        layers.append(tg.layers.Dense(h["units"], activation=h["activation"], **reg))
        if cfg["dropout"]:
            layers.append(tg.layers.Dropout(cfg["dropout"]))
    units, act = output_layer(cfg)
    layers.append(tg.layers.Dense(units, activation=act, **reg))
    model = tg.models.Sequential(layers)
    cls, okw = _optimizer_call(cfg)
    model.compile(optimizer=getattr(tg.optimizers, cls)(**okw), loss=cfg["loss"], metrics=["accuracy"])
    return model, (x_train, y_train), (x_test, y_test)


def fit_kwargs(cfg: dict) -> dict:
    """The keyword arguments of ``model.fit`` other than the data and callbacks.

    Example:
        >>> fit_kwargs(validate({"batch_size": 16, "epochs": 50}))
        {'batch_size': 16, 'epochs': 50, 'verbose': 0}
    """
    return {"batch_size": cfg["batch_size"], "epochs": cfg["epochs"], "verbose": 0}


def early_stopping(cfg: dict):
    """The ``EarlyStopping`` callback of the configuration (on ``val_loss``, best weights kept), or None.

    Example:
        >>> early_stopping(validate({"early_stopping": True, "patience": 5})).patience
        5
    """
    if not cfg["early_stopping"]:
        return None
    return tg.callbacks.EarlyStopping(monitor="val_loss", patience=cfg["patience"], restore_best_weights=True)


def _args(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def program(cfg: dict) -> str:
    """The tapegrad program that trains the configuration's model as the playground does.

    Example:
        >>> print(program(validate({"dataset": "xor", "hidden": []})).splitlines()[0])
        # tapegrad playground: XOR, no hidden layer, sgd
    """
    fn, kw = _data_call(cfg)
    shape = " -> ".join(str(h["units"]) for h in cfg["hidden"]) or "no hidden layer"
    lines = [f"# tapegrad playground: {DATASETS[cfg['dataset']][0]}, {shape}, {cfg['optimizer']}",
             "# Running it reproduces the playground's loss curve (same seeds, same calls).",
             "import tapegrad as tg", "",
             f"tg.random.set_seed({cfg['seed']})  # initial weights, and each epoch's shuffling and dropout",
             f"x, y = tg.data.{fn}({_args(kw)})"]
    if LOSSES[cfg["loss"]][1] == "binary":
        lines.append('y = y.reshape(-1, 1).astype("float32")  # one output unit: labels as a column of 0/1')
    else:
        lines.append('y = y.reshape(-1).astype("int64")  # one output unit per class: integer labels')
    lines.append(f"x_train, x_test, y_train, y_test = tg.data.train_test_split(x, y, test_size={cfg['test_fraction']!r}, "
                 f"seed={cfg['seed']})")
    lines.append("")
    reg = ""
    if cfg["l1"] or cfg["l2"]:
        reg = f", kernel_regularizer=tg.regularizers.L1L2(l1={cfg['l1']!r}, l2={cfg['l2']!r})"
    lines += ["model = tg.models.Sequential([", "    tg.layers.Input((2,)),"]
    for h in cfg["hidden"]:
        lines.append(f"    tg.layers.Dense({h['units']}, activation={h['activation']!r}{reg}),")
        if cfg["dropout"]:
            lines.append(f"    tg.layers.Dropout({cfg['dropout']!r}),")
    units, act = output_layer(cfg)
    lines += [f"    tg.layers.Dense({units}, activation={act!r}{reg}),", "])"]
    cls, okw = _optimizer_call(cfg)
    lines.append(f"model.compile(optimizer=tg.optimizers.{cls}({_args(okw)}), loss={cfg['loss']!r}, "
                 "metrics=[\"accuracy\"])")
    lines.append("")
    callbacks = ""
    if cfg["early_stopping"]:
        lines.append(f"stop = tg.callbacks.EarlyStopping(monitor=\"val_loss\", patience={cfg['patience']}, "
                     "restore_best_weights=True)")
        callbacks = ", callbacks=[stop]"
    lines.append(f"history = model.fit(x_train, y_train, batch_size={cfg['batch_size']}, epochs={cfg['epochs']}, "
                 f"validation_data=(x_test, y_test){callbacks}, verbose=0)")
    lines += ["for epoch, (loss, val_loss) in enumerate(zip(history.history[\"loss\"], "
              "history.history[\"val_loss\"]), 1):",
              "    print(f\"epoch {epoch}: loss {loss:.6f}, val_loss {val_loss:.6f}\")"]
    if cfg["early_stopping"]:
        lines.append("print(f\"early stopping: best epoch {stop.best_epoch + 1}\")")
    lines.append("model.save(\"playground.tapegrad\")")
    return "\n".join(lines) + "\n"


def grid_extent(x: np.ndarray) -> list[float]:
    """``[x0, x1, y0, y1]``: the data's bounding box with a margin, for the pictures.

    Example:
        >>> [round(v, 2) for v in grid_extent(np.array([[0.0, 0.0], [1.0, 2.0]]))]
        [-0.1, 1.1, -0.2, 2.2]
    """
    lo, hi = x.min(0).astype(float), x.max(0).astype(float)
    pad = np.maximum((hi - lo) * 0.1, 0.1)
    return [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]


def options() -> dict:
    """What the page may choose from, and the limits the server enforces.

    Example:
        >>> options()["max_layers"], options()["max_units"]
        (6, 16)
    """
    return {"datasets": {k: {"label": v[0], "classes": list(v[2])} for k, v in DATASETS.items()},
            "activations": ACTIVATIONS, "losses": list(LOSSES), "optimizers": list(OPTIMIZERS),
            "max_layers": MAX_LAYERS, "max_units": MAX_UNITS, "defaults": DEFAULTS,
            "ranges": {k: {"min": v[1], "max": v[2], "integer": v[0] is int} for k, v in RANGES.items()}}


__all__ = ["ConfigError", "validate", "build", "program", "options", "output_layer", "fit_kwargs", "early_stopping",
           "grid_extent", "DEFAULTS", "DATASETS", "LOSSES", "OPTIMIZERS", "ACTIVATIONS"]
