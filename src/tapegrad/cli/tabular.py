"""Models for a CSV file: infer the task, preprocess, train, evaluate, predict.

The preprocessing (standardization of numeric columns, one-hot categories, the
target's classes or scale) is stored as JSON beside the model, and applied again
by ``evaluate`` and ``predict``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .._extras import require_pandas


class CliError(Exception):
    """Bad input: reported as one clear message and exit code 2."""


def read_csv(path: str, drop_missing: bool = False):
    pd = require_pandas()
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CliError(f"{path} is a folder; expected a CSV file")
    _check_header(path)
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise CliError(f"{path} is empty: expected a header row and at least one data row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{path} is not a readable CSV file: {_one_line(exc)}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(df) == 0:
        raise CliError(f"{path} has a header but no data rows")
    missing = df.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        total = int(missing.sum())
        where = ", ".join(f"{c} ({n})" for c, n in missing.items())
        if not drop_missing:
            raise CliError(f"{path} has {total} missing values, in columns {where}; "
                           "pass --drop-missing to drop the rows that have them")
        before = len(df)
        df = df.dropna().reset_index(drop=True)
        print(f"Dropped {before - len(df)} rows with {total} missing values ({where}); {len(df)} rows left.",
              file=sys.stderr)
        if len(df) == 0:
            raise CliError(f"{path}: no rows left after dropping missing values")
    return df


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def _check_header(path: str) -> None:
    """Duplicate column names are an error (pandas would rename the second ``a`` to ``a.1``)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not a readable CSV file: it is not UTF-8 text ({_one_line(exc)})") from None
    except csv.Error as exc:
        raise CliError(f"{path} is not a readable CSV file: {_one_line(exc)}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CliError(f"{path} has duplicate column names {dupes} in its header; each column needs its own name")


def _finite_or_error(values: np.ndarray, column: str) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise CliError(f"non-finite value {values[i]} in numeric column {column!r} at data row {i + 1} (line {i + 2} "
                       f"of the file; {bad.size} such values in the column); expected finite numbers")
    return values


def _numeric_or_error(df, column: str):
    """Numeric values of a column, or CliError naming the first bad row when the column is mostly numeric."""
    import pandas as pd

    col = df[column]
    if pd.api.types.is_numeric_dtype(col):
        return _finite_or_error(col.to_numpy(dtype=np.float64), column)
    parsed = pd.to_numeric(col, errors="coerce")
    ok = parsed.notna().mean()
    if ok >= 0.9:  # a numeric column with a few bad values
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise CliError(f"non-numeric value {col.iloc[bad]!r} in numeric column {column!r} at data row {bad + 1} "
                       f"(line {bad + 2} of the file)")
    return None


def infer_task(df, target: str, task: str) -> str:
    values = _numeric_or_error(df, target)
    if task != "auto":
        if task == "regression" and values is None:
            raise CliError(f"--task regression needs a numeric target, but column {target!r} is not numeric")
        return task
    if values is None:
        return "classification"
    uniq = np.unique(values)
    if len(uniq) <= 10 and np.all(uniq == np.round(uniq)):
        return "classification"
    return "regression"


def fit_preprocessing(df, target: str, task: str) -> dict:
    if target not in df.columns:
        raise CliError(f"target column {target!r} not found; the columns are: {', '.join(map(str, df.columns))}")
    features = []
    for name in df.columns:
        if name == target:
            continue
        values = _numeric_or_error(df, name)
        if values is not None:
            std = float(values.std()) or 1.0
            features.append({"name": str(name), "kind": "numeric", "mean": float(values.mean()), "std": std})
        else:
            cats = sorted(map(str, df[name].unique()))
            features.append({"name": str(name), "kind": "categorical", "categories": cats})
    if not features:
        raise CliError(f"no feature columns: the file has only the target column {target!r}")
    task = infer_task(df, target, task)
    if task == "classification":
        classes = sorted(map(str, df[target].unique()))
        if len(classes) < 2:
            raise CliError(f"target column {target!r} has a single class ({classes[0]!r}); classification needs "
                           "at least two")
        tgt = {"name": target, "task": task, "classes": classes}
    else:
        values = _numeric_or_error(df, target)
        tgt = {"name": target, "task": task, "mean": float(values.mean()), "std": float(values.std()) or 1.0}
    return {"features": features, "target": tgt}


def check_columns(df, prep: dict, need_target: bool) -> None:
    expected = [f["name"] for f in prep["features"]] + ([prep["target"]["name"]] if need_target else [])
    have = list(map(str, df.columns))
    missing = [c for c in expected if c not in have]
    extra = [c for c in have if c not in expected and c != prep["target"]["name"]]
    if missing or extra:
        raise CliError(f"the columns differ from training: missing {missing}, unexpected {extra}; the model was "
                       f"trained on {expected}")


def transform_x(df, prep: dict) -> np.ndarray:
    cols = []
    for f in prep["features"]:
        if f["kind"] == "numeric":
            values = _numeric_or_error(df, f["name"])
            if values is None:
                raise CliError(f"column {f['name']!r} was numeric in training but is not numeric here")
            cols.append(((values - f["mean"]) / f["std"])[:, None])
        else:
            values = df[f["name"]].astype(str).to_numpy()
            unknown = sorted(set(values) - set(f["categories"]))
            if unknown:
                raise CliError(f"column {f['name']!r} has categories not seen in training: {unknown}; "
                               f"known: {f['categories']}")
            cols.append((values[:, None] == np.array(f["categories"])[None, :]).astype(np.float64))
    return np.concatenate(cols, axis=1).astype(np.float32)


def transform_y(df, prep: dict) -> np.ndarray:
    t = prep["target"]
    if t["task"] == "classification":
        values = df[t["name"]].astype(str).to_numpy()
        unknown = sorted(set(values) - set(t["classes"]))
        if unknown:
            raise CliError(f"target {t['name']!r} has classes not seen in training: {unknown}")
        index = {c: i for i, c in enumerate(t["classes"])}
        y = np.array([index[v] for v in values])
        return y.reshape(-1, 1).astype(np.float32) if len(t["classes"]) == 2 else y.astype(np.int64)
    values = _numeric_or_error(df, t["name"])
    if values is None:
        raise CliError(f"target {t['name']!r} was numeric in training but is not numeric here")
    return ((values - t["mean"]) / t["std"]).reshape(-1, 1).astype(np.float32)


def build(prep: dict, hidden, activation: str, dropout: float, l2: float):
    import tapegrad as tg

    d = sum(1 if f["kind"] == "numeric" else len(f["categories"]) for f in prep["features"])
    reg = tg.regularizers.L2(l2) if l2 else None
    layers = [tg.Input(shape=(d,))]
    for units in hidden:
        layers.append(tg.layers.Dense(units, activation=activation, kernel_regularizer=reg))
        if dropout:
            layers.append(tg.layers.Dropout(dropout))
    t = prep["target"]
    if t["task"] == "classification" and len(t["classes"]) == 2:
        layers.append(tg.layers.Dense(1, activation="sigmoid"))
        loss, metrics = "binary_crossentropy", ["accuracy"]
    elif t["task"] == "classification":
        layers.append(tg.layers.Dense(len(t["classes"]), activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        layers.append(tg.layers.Dense(1))
        loss, metrics = "mse", ["mse", "mae", "r2_score"]
    return tg.Sequential(layers, name="tabular_model"), loss, metrics


_SCALE = {"mse": 2, "mean_squared_error": 2, "mae": 1, "mean_absolute_error": 1, "rmse": 1,
          "root_mean_squared_error": 1}
"""How a regression metric of the standardized target scales with the target's spread: MSE by
std², MAE and RMSE by std; R² does not change. The loss is the training objective (the
standardized MSE plus any L2 penalty) and stays as training saw it."""


def in_target_units(logs: dict, prep: dict) -> dict:
    """For a regression, the errors in the target's own units: the model learns the standardized
    target ``(y - mean) / std``, so its MSE is multiplied by ``std**2`` and its MAE by ``std``
    (``val_`` forms too); R² is the same in either; the loss (the training objective) is left as
    it is. Classification logs come back unchanged.

    Example:
        >>> prep = {"target": {"task": "regression", "std": 10.0}}
        >>> in_target_units({"loss": 0.5, "mean_absolute_error": 0.25, "val_mean_squared_error": 0.5}, prep)
        {'loss': 0.5, 'mean_absolute_error': 2.5, 'val_mean_squared_error': 50.0}
    """
    t = prep["target"]
    if t.get("task") != "regression":
        return dict(logs)
    std = float(t["std"])
    out = {}
    for key, value in logs.items():
        power = _SCALE.get(key[4:] if key.startswith("val_") else key, 0)
        if isinstance(value, (list, tuple)):
            out[key] = [v * std ** power for v in value]
        else:
            out[key] = value * std ** power
    return out


def save_prep(prep: dict, model_dir: str) -> None:
    from ..saving.atomic import atomic_path

    with atomic_path(os.path.join(model_dir, "preprocessing.json")) as tmp:
        with open(tmp, "w") as f:
            json.dump(prep, f, indent=2)


def load(model_dir: str):
    import tapegrad as tg

    prep_path = os.path.join(model_dir, "preprocessing.json")
    model_path = os.path.join(model_dir, "model.tapegrad")
    for p in (prep_path, model_path):
        if not os.path.exists(p):
            raise CliError(f"{model_dir} is not a model folder made by 'tapegrad fit': {os.path.basename(p)} is missing")
    try:
        with open(prep_path, encoding="utf-8") as f:
            prep = json.load(f)
        model = tg.models.load_model(model_path)
    except (ValueError, RecursionError) as exc:  # ModelFileError is a ValueError, as are JSON errors
        raise CliError(f"cannot load the model in {model_dir}: {_one_line(exc)}") from None
    except OSError as exc:
        raise CliError(f"cannot read the model in {model_dir}: {exc.strerror or exc}") from None
    _check_prep(prep, model, model_dir)
    return model, prep


def _check_prep(prep, model, model_dir: str) -> None:
    """``preprocessing.json`` well formed, and describing the inputs and outputs of the model beside it."""
    def bad(what):
        return CliError(f"{model_dir}/preprocessing.json {what}; was it written by 'tapegrad fit' with this model?")

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)

    if not isinstance(prep, dict) or not isinstance(prep.get("features"), list) or not isinstance(
            prep.get("target"), dict):
        raise bad("lacks the 'features' list or the 'target' object")
    width = 0
    for f in prep["features"]:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise bad(f"has a malformed feature {str(f)[:80]}")
        if f.get("kind") == "numeric" and number(f.get("mean")) and number(f.get("std")) and f["std"] != 0:
            width += 1
        elif f.get("kind") == "categorical" and isinstance(f.get("categories"), list) and f["categories"] and all(
                isinstance(c, str) for c in f["categories"]):
            width += len(f["categories"])
        else:
            raise bad(f"has a malformed feature {str(f)[:80]}")
    t = prep["target"]
    if not isinstance(t.get("name"), str):
        raise bad("has a malformed target")
    if t.get("task") == "classification" and isinstance(t.get("classes"), list) and len(t["classes"]) >= 2 and all(
            isinstance(c, str) for c in t["classes"]):
        outputs = 1 if len(t["classes"]) == 2 else len(t["classes"])
    elif t.get("task") == "regression" and number(t.get("mean")) and number(t.get("std")) and t["std"] != 0:
        outputs = 1
    else:
        raise bad("has a malformed target")
    build = getattr(model, "_build_shape", None)
    takes = build[-1] if isinstance(build, tuple) and build else None
    try:
        gives = model.compute_output_shape((None, width))[-1] if takes == width else None
    except ValueError:
        gives = None
    if takes != width or gives != outputs:
        raise bad(f"describes {width} input features and {outputs} outputs, but model.tapegrad takes "
                  f"{takes} inputs" + (f" and gives {gives} outputs" if gives is not None else ""))


def decode_predictions(p: np.ndarray, prep: dict) -> dict:
    t = prep["target"]
    if t["task"] == "classification":
        classes = t["classes"]
        if len(classes) == 2:
            probs = np.concatenate([1 - p, p], axis=1)
        else:
            probs = p
        out = {f"prediction_{t['name']}": [classes[i] for i in probs.argmax(1)]}
        for i, c in enumerate(classes):
            out[f"probability_{c}"] = probs[:, i]
        return out
    return {f"prediction_{t['name']}": p[:, 0] * t["std"] + t["mean"]}
