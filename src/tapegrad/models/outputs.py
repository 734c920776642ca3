"""Losses and metrics of a model with several outputs, as Keras's compile resolves them.

``compile(loss=..., metrics=..., loss_weights=...)`` takes for each a single value (used
for every output), a list (one per output, in order) or a dict keyed by output name (a
functional model's ``output_names``: the keys of a dict of outputs, else the names of the
layers that make them). Targets ``y`` come the same way. The total loss is
``sum(loss_weight * loss)`` over the outputs that have a loss; the logs hold ``loss``, then
each output's (unweighted) loss as ``<output>_loss`` and its metrics as ``<output>_<metric>``.
"""

from __future__ import annotations

from .. import losses as _losses
from .. import metrics as _metrics
from .. import ops
from ..autodiff.tensor import Tensor


def _names(model, y_pred) -> tuple[list[str], bool]:
    """The output names, and whether they are real names (else ``output_<i>`` stand-ins)."""
    names = getattr(model, "output_names", None)
    if isinstance(y_pred, dict):
        return list(y_pred), True
    if names is not None and not callable(names):
        return list(names), True
    n = len(y_pred) if isinstance(y_pred, (list, tuple)) else 1
    return [f"output_{i}" for i in range(n)], False


def _aligned(values, names: list[str], what: str, structure_of=None) -> list:
    """``values`` (a dict by name, a list in order, or one value for a single output) as a list
    aligned with ``names``; a ValueError names what is missing or extra."""
    if isinstance(values, dict):
        missing = [n for n in names if n not in values]
        extra = [k for k in values if k not in names]
        if missing or extra:
            raise ValueError(f"{what}: expected a dict with the keys {names} (the model's outputs), received the "
                             f"keys {list(values)}")
        return [values[n] for n in names]
    if isinstance(values, (list, tuple)):
        if len(values) != len(names):
            raise ValueError(f"{what}: expected {len(names)} values, one per output {names}, received {len(values)}")
        return list(values)
    if len(names) != 1:
        raise ValueError(f"{what}: expected a list or a dict of {len(names)} values for the outputs {names}, "
                         f"received a single {type(values).__name__}")
    return [values]


def _spec(spec, names: list[str], what: str) -> list:
    """A compile argument for each output: a dict may leave outputs out (None), a single value
    is used for every output."""
    if isinstance(spec, dict):
        extra = [k for k in spec if k not in names]
        if extra:
            raise ValueError(f"compile: {what} has the keys {extra}, which are not outputs of the model; the "
                             f"outputs are {names}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"compile: {what} has {len(spec)} entries but the model has {len(names)} outputs "
                             f"{names}")
        return list(spec)
    return [spec] * len(names)


def _mean(value) -> Tensor:
    return value if not isinstance(value, Tensor) or value.ndim == 0 else ops.mean(value)


def multi_output_loss(model, y, y_pred, sample_weight):
    """The weighted sum of the outputs' losses; each output's loss is kept for the logs."""
    names, named = _names(model, y_pred)
    preds = _aligned(y_pred, names, "the model's outputs")
    fns = _spec(model.loss, names, "loss")
    weights = _spec(model.loss_weights if model.loss_weights is not None else 1.0, names, "loss_weights")
    if all(fn is None for fn in fns):
        raise ValueError(f"compile: no loss for any of the outputs {names}")
    wanted = [n for n, fn in zip(names, fns) if fn is not None]
    if isinstance(y, dict):
        missing = [n for n in wanted if n not in y]
        if missing:
            raise ValueError(f"the targets y have no entry for the outputs {missing}: expected a dict with the keys "
                             f"{wanted}, received the keys {list(y)}")
        ys = [y.get(n) for n in names]
    else:
        ys = _aligned(y, names, "the targets y")
    sws = _aligned(sample_weight, names, "sample_weight") if isinstance(sample_weight, (dict, list, tuple)) \
        else [sample_weight] * len(names)
    total, parts = None, []
    for name, fn, yt, yp, sw, w in zip(names, fns, ys, preds, sws, weights):
        if fn is None:
            continue
        fn = _losses.get(fn)
        value = _mean(fn(yt, yp, sw) if sw is not None else fn(yt, yp))
        parts.append((name, value))
        term = value * float(1.0 if w is None else w)
        total = term if total is None else total + term
    object.__setattr__(model, "_output_losses", parts if named else [])
    return total


class OutputMetric(_metrics.Metric):
    """A metric of one output: ``<output>_<metric>``, fed that output's targets and predictions."""

    def __init__(self, metric, index: int, name: str) -> None:
        self.metric, self.index = metric, index
        super().__init__(name=name)
        self._direction = getattr(metric, "_direction", "up")

    def reset_state(self) -> None:
        self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.metric.update_state(y_true, y_pred, sample_weight)

    def result(self) -> Tensor:
        return self.metric.result()


def build_output_metrics(model, y, y_pred) -> list:
    """The per-output loss trackers and metrics of a model with structured outputs."""
    names, named = _names(model, y_pred)
    preds = _aligned(y_pred, names, "the model's outputs")
    ys = [y.get(n) for n in names] if isinstance(y, dict) else _aligned(y, names, "the targets y")
    fns = _spec(model.loss, names, "loss")
    out = []
    if named and len(names) > 1:
        out += [_metrics.Mean(name=f"{n}_loss") for n, fn in zip(names, fns) if fn is not None]
    specs = model._metric_specs
    if isinstance(specs, list) and len(specs) == 1 and isinstance(specs[0], dict):
        specs = specs[0]
    if isinstance(specs, dict) or len(names) == 1:
        per = _spec(specs, names, "metrics") if isinstance(specs, dict) else [specs]
    elif specs and all(isinstance(s, (list, tuple)) or s is None for s in specs):
        per = _spec(specs, names, "metrics")
    else:
        per = [specs] * len(names)  # one flat list: every output gets each metric
    for i, (name, ms, yt, yp, fn) in enumerate(zip(names, per, ys, preds, fns)):
        for spec in ([] if ms is None else ms if isinstance(ms, (list, tuple)) else [ms]):
            metric = _metrics.get(spec, loss=fn, y_true=yt, y_pred=yp.shape if isinstance(yp, Tensor) else None)
            out.append(OutputMetric(metric, i, metric.name if len(names) == 1 else f"{name}_{metric.name}"))
    return out


def update_output_metrics(model, y, y_pred, sample_weight, n: int) -> None:
    names, _ = _names(model, y_pred)
    if model._compiled_metrics is None:
        model._compiled_metrics = build_output_metrics(model, y, y_pred)
    trackers = {m.name: m for m in model._compiled_metrics if not isinstance(m, OutputMetric)}
    for name, value in getattr(model, "_output_losses", []):
        tracker = trackers.get(f"{name}_loss")
        if tracker is not None:
            tracker.update_state(float(value.data), int(n))
    preds = _aligned(y_pred, names, "the model's outputs")
    ys = [y.get(k) for k in names] if isinstance(y, dict) else _aligned(y, names, "the targets y")
    sws = _aligned(sample_weight, names, "sample_weight") if isinstance(sample_weight, (dict, list, tuple)) \
        else [sample_weight] * len(names)
    for m in model._compiled_metrics:
        if isinstance(m, OutputMetric) and ys[m.index] is not None:
            m.update_state(ys[m.index], preds[m.index], sws[m.index])


def is_structured(model, y_pred) -> bool:
    """Whether the outputs or the compiled loss are a list or a dict (the per-output path)."""
    return isinstance(y_pred, (list, tuple, dict)) or isinstance(model.loss, (list, tuple, dict)) or isinstance(
        getattr(model, "_metric_specs", None), dict)


def serializable_metrics(metrics):
    """The metrics of ``compile`` that a saved file can name (strings), in their structure."""
    if isinstance(metrics, dict):
        return {k: serializable_metrics(v) if isinstance(v, (list, tuple)) else v for k, v in metrics.items()
                if isinstance(v, (str, list, tuple))}
    return [m if isinstance(m, str) else serializable_metrics(m) for m in metrics or []
            if isinstance(m, str) or isinstance(m, (list, tuple))]


__all__: list[str] = []  # used by the training loop and Functional, not a public API
