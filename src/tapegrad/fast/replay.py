"""Replayed training steps: a model's forward pass recorded once, then replayed on raw arrays.

``TrainStep`` is what ``fit`` and ``train_on_batch`` call when the model is compiled with
``run_eagerly=False`` (the default, as in Keras). The first step for an input shape runs
as the eager step does while it records every primitive node of the model's forward pass
(``Function.apply`` reports them to the thread's recorder): its rule, where each input
comes from (the batch, a weight, an earlier node, a scalar constant) and its settings.
``fusion.fuse`` then puts fused nodes in place of some runs of nodes (a Dense layer's
product, bias and ReLU). The following steps with that shape replay the plan: the forward
rules on raw arrays, a built-in cross-entropy's rules (``losses.loss_rules``), the backward
pass through the engine's own loop (``engine.backprop``), and the update in kept buffers
(``update.Updater``): the same weights, losses and metrics as the eager step, bit for bit,
without the per-step Python of calling layers, wrapping tensors and sorting the graph. Every
step, replayed or not, takes its large scratch arrays (those of convolutions, pooling and
recurrences) from the arrays of the step before (``memory.Workspace``), not from new memory.

Only a forward pass with no Python side effects and no Python that depends on the data is
recorded: a model that the training loop says is a plain chain of layers, made of the
built-in layers in ``REPLAYABLE`` with built-in activations and no activity regularizer,
whose nodes read only the batch, the model's weights, earlier nodes and scalar constants.
Anything else trains eagerly on every step. A replayed step notices a changed model by
itself: before each step it compares the layers' attributes and weights with those of the
record (``_Snapshot``), and records again when any differs (a layer added, an activation or
a regularizer assigned, a layer frozen).

Where we differ from Keras: Keras traces the whole step into a graph (``tf.function``);
here only the model's forward pass is recorded, so a custom loss or metric keeps its
eager Python, and a custom layer simply turns recording off.
"""

from __future__ import annotations

import contextlib
import operator

import numpy as np

from .. import activations as _act
from ..autodiff import engine
from ..autodiff.grad_mode import enable_grad, mode
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import Tensor
from ..backend import xp
from ..layers.conv import (AveragePooling2D, BatchNormalization, Conv1D, Conv2D, GlobalAveragePooling2D,
                           GlobalMaxPooling2D, MaxPooling2D, UpSampling2D, ZeroPadding2D)
from ..layers.core import Activation, Dense, Dropout, Flatten, InputLayer, Reshape
from ..layers.merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from ..layers.normalization import LayerNormalization
from ..layers.pooling1d import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from ..layers.preprocessing import Normalization
from ..layers.reshaping import Identity, Permute, RepeatVector
from . import fusion, machine
from .losses import loss_rules
from .memory import Workspace
from .nodes import Chain
from .update import Updater

REPLAYABLE = (Dense, Activation, Flatten, Reshape, Dropout, Conv2D, Conv1D, MaxPooling2D, AveragePooling2D,
              GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, UpSampling2D, Normalization,
              BatchNormalization, InputLayer, Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
              LayerNormalization, Identity, RepeatVector, Permute, MaxPooling1D, AveragePooling1D,
              GlobalAveragePooling1D, GlobalMaxPooling1D)
"""Layer types whose ``call`` only applies primitive ops to its input and weights (the
moving statistics of BatchNormalization too: their update is a node, ``moving_average_update``).
A mask is made outside the recorded nodes, so a masked pooling's step trains eagerly. Models
nested in the model (a plain ``Sequential`` or functional one) are looked into."""

_SETTINGS = (type(None), bool, int, float, str, np.integer, np.floating, np.dtype, np.random.Generator)
_BUILTIN_ACTIVATIONS = tuple(_act.ALL.values())
_MAX_PLANS = 8


class _Snapshot:
    """What the record assumed of the model: each layer's attributes and weights, and each
    weight's trainability and regularizer, held by reference and compared by identity."""

    def __init__(self, model, layers) -> None:
        self.model = model
        self.chain = tuple(model._layers)
        self.trainable = model._trainable
        self.layers = []
        for layer in layers:
            d = layer.__dict__
            skip = list(d).index("_output_shape") if "_output_shape" in d else None  # set by every call
            weights = tuple(layer._own_weights)
            self.layers.append((layer, tuple(d.values()), skip, weights,
                                tuple((w._trainable, w._regularizer) for w in weights)))

    def holds(self) -> bool:
        """Whether the model is still as recorded."""
        model = self.model
        if model._trainable is not self.trainable or any(map(operator.is_not, model._layers, self.chain)) \
                or len(model._layers) != len(self.chain):
            return False
        for layer, values, skip, weights, flags in self.layers:
            d = layer.__dict__
            if len(d) != len(values):
                return False
            if any(map(operator.is_not, d.values(), values)):  # only the output shape may differ
                changed = list(map(operator.is_not, d.values(), values))
                if skip is not None:
                    changed[skip] = False
                if any(changed):
                    return False
            if len(layer._own_weights) != len(weights) or any(map(operator.is_not, layer._own_weights, weights)):
                return False
            for w, (trainable, regularizer) in zip(weights, flags):
                if w._trainable is not trainable or w._regularizer is not regularizer:
                    return False
        return True


class _Plan:
    """A recorded forward pass. ``nodes[k] = (rule, inputs, settings, needs)``: an input is an
    int (slot: 0 the batch, k + 1 node k's result) or a tensor read when replayed; ``needs``
    says which inputs take a gradient (None for a node off the backward pass). ``steps`` are
    the backward pass's ``(slot, k, edges)`` in the engine's order, with the edges of
    ``engine.backprop`` (a slot's key is its negative, a weight's its ``id``). ``penalized``:
    a weight has a regularizer; ``plain_loss``: the model computes its loss as
    ``Trainer.compute_loss`` does."""

    __slots__ = ("nodes", "output", "steps", "weights", "penalized", "plain_loss", "fused", "holders")

    def __init__(self, nodes, output, steps, weights, penalized, plain_loss, fused, holders=()) -> None:
        self.nodes, self.output, self.steps, self.weights = nodes, output, steps, weights
        self.holders = holders
        self.penalized, self.plain_loss, self.fused = penalized, plain_loss, fused


class _Plans:
    """A model's plans by input signature (a ``_Plan``, or the reason that input runs eagerly),
    kept while the model is as they were recorded from (``_Snapshot``)."""

    def __init__(self, model) -> None:
        self.model = model
        self.by_key: dict = {}
        self.snapshot: _Snapshot | None = None

    def get(self, key):
        """The plan recorded for ``key``; None when there is none, or the model changed since."""
        if self.snapshot is None or not self.snapshot.holds():
            self.by_key.clear()
            self.snapshot = None
        return self.by_key.get(key)

    def store(self, key, plan) -> None:
        """Keep ``plan`` for ``key``, with a snapshot of the model taken now (after the first
        call built it)."""
        self.snapshot = _Snapshot(self.model, list(self.model._iter_layers())[1:])
        if len(self.by_key) >= _MAX_PLANS:
            self.by_key.clear()
        self.by_key[key] = plan


class TrainStep:
    """One model's training steps with ``run_eagerly=False``: replayed where the model allows,
    else the model's own ``train_step``; under the BLAS thread governor with machine tuning.

    ``why_eager`` is the training loop's reason why this model's forward pass is not a plain
    chain of layers (None when it is), ``plain_loss`` whether its loss is ``compute_loss``'s.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = [model.train_on_batch(np.ones((4, 2)), np.zeros((4, 1))) for _ in range(3)]
        >>> model._fast_step.recorded, model._fast_step.replayed
        (1, 2)
    """

    def __init__(self, model, why_eager: str | None, plain_loss: bool) -> None:
        self.model = model
        self.why_eager = why_eager
        self.plain_loss = plain_loss
        self.plans = _Plans(model)
        self.updater = Updater()
        self.workspace = Workspace()  # the scratch arrays of the last step, replayed or eager
        self.governor = None
        self.recorded = 0
        self.replayed = 0
        self.reason: str | None = None  # why the last step ran eagerly (None after a replay)
        # Set by compile under a tg.distribute strategy: (grads, weights) -> the global batch's
        # gradients, called between the backward pass and the update, as train_step does.
        self.reduce_gradients = None

    def __call__(self, x, y, sample_weight) -> dict:
        """One training step on a batch; returns the model's logs."""
        self.workspace.begin()
        try:
            return self._tuned_step(x, y, sample_weight)
        finally:
            self.workspace.end()

    def _tuned_step(self, x, y, sample_weight) -> dict:
        if not machine.enabled():
            return self._step(x, y, sample_weight)
        if self.governor is None:
            from .memory import tune_allocator
            from .threads import ThreadGovernor

            tune_allocator()  # once per process: with TAPEGRAD_MACHINE_TUNING=1 nothing applied it yet
            self.governor = ThreadGovernor()
        gov = self.governor
        gov.begin()
        try:
            return self._step(x, y, sample_weight)
        finally:
            gov.end()

    def _step(self, x, y, sample_weight) -> dict:
        model = self.model
        if mode.escape is not None:  # inside tg.function's recording: it cannot record this step
            mode.escape("a model's fit or train_on_batch")
        first, extra, key = _batch_key(x)
        if self.why_eager is not None or first is None:
            self.reason = self.why_eager or "the input is not an array, or a list or dict of arrays"
            return model.train_step((x, y, sample_weight))
        plan = self.plans.get(key)
        if plan is None:
            return self._record(x, first, extra, key, y, sample_weight)
        if isinstance(plan, str):
            self.reason = plan
            return self._eager(x, y, sample_weight)
        self.replayed += 1
        self.reason = None
        return self._replay(plan, x, first, extra, y, sample_weight)

    # -- recording -------------------------------------------------------------------------
    def _record(self, x, first, extra, key, y, sample_weight) -> dict:
        model = self.model
        reason = _why_not_replayable(model)
        if reason is not None:
            logs = self._eager(x, y, sample_weight)
            self.plans.store(key, reason)
            self.reason = reason
            return logs
        nodes: list = []
        with GradientTape() as tape:
            with _recording(nodes):
                y_pred = model(x, training=True)
            loss = model.compute_loss(x, y, y_pred, sample_weight)
        plan = _plan(model, first, extra, y_pred, nodes, self.plain_loss)
        nodes.clear()  # the recorded tensors: the plan keeps what it needs
        self._update(tape, loss)
        self.plans.store(key, plan)
        if isinstance(plan, _Plan):
            self.recorded += 1
            self.reason = None
        else:
            self.reason = plan
        return model.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def _eager(self, x, y, sample_weight) -> dict:
        """The model's ``train_step`` for a model whose forward pass is not recorded: the
        same forward pass, loss and gradients, with the update in the updater's kept buffers."""
        model = self.model
        with GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x, y, y_pred, sample_weight)
        self._update(tape, loss)
        return model.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def _update(self, tape, loss) -> None:
        """``loss``'s gradients on the model's trainable weights (summed across workers where
        ``compile`` set that up), applied as ``optimizer.apply_gradients`` would, by the updater."""
        model = self.model
        weights = model.trainable_weights
        grads = [None if g is None else g.data for g in tape.gradient(loss, weights)]
        if self.reduce_gradients is not None:
            grads = self.reduce_gradients(grads, weights)
        self.updater.apply(model.optimizer, grads, weights, spare=True)

    # -- replaying -------------------------------------------------------------------------
    def _replay(self, plan: _Plan, x, first, extra, y, sample_weight) -> dict:
        model = self.model
        vals = [first.data]
        for holder, t in zip(plan.holders, extra):  # the batch's other inputs, where the nodes read them
            holder.data = t.data
        fns = []
        for rule, inputs, settings, needs in plan.nodes:
            fn = rule()
            if needs is not None:
                fn.parents = needs
            vals.append(fn.forward(*[vals[i] if i.__class__ is int else i.data for i in inputs], **settings))
            fns.append(fn)
        out = vals[plan.output]
        del vals  # the nodes keep what their backward rules need
        y_pred = Tensor._wrap(out)
        weights = plan.weights
        rules = loss_rules(model.loss, y, out, sample_weight) if plan.plain_loss and not plan.penalized else None
        penalties: dict = {}
        if rules is not None:  # a built-in cross-entropy: its rules on the raw output, as the tape would run them
            fn = Chain()
            fn.parents = (True,)
            value = fn.forward(out, rules=rules)
            loss = Tensor._wrap(value)
            out_grad = fn.backward(_seed(value.shape, value.dtype))[0]
        else:
            for layer in model._iter_layers():  # as calling them would: no activity penalties from earlier calls
                layer._losses.clear()
            y_pred.requires_grad = True  # a leaf: the loss's gradient stops here and the replay takes it on
            loss = model.compute_loss(x, y, y_pred, sample_weight)
            seed = xp.ones(loss.data.shape, loss.data.dtype)
            found = engine.run([loss], [seed], False, {id(y_pred)} | {id(w) for w in weights})
            out_grad = found.pop(id(y_pred), (None, None))[1]
            penalties = found
        grads: dict = {}
        if out_grad is not None:
            grads[-plan.output] = out_grad
            engine.backprop([(-slot, fns[k], edges) for slot, k, edges in plan.steps], grads)
        del fns
        weight_grads = []
        for w in weights:
            g = grads.get(id(w))
            if id(w) in penalties:
                penalty = penalties[id(w)][1]
                g = penalty if g is None else g + penalty
            if g is not None and (g.base is not None or not g.flags.writeable):
                g = g.copy()  # as GradientTape.gradient: never a view of another array
            weight_grads.append(g)
        if self.reduce_gradients is not None:
            weight_grads = self.reduce_gradients(weight_grads, weights)
        self.updater.apply(model.optimizer, weight_grads, weights, spare=True)
        return model.compute_metrics(x, y, y_pred, sample_weight, loss=loss)


class PredictStep:
    """One model's ``predict`` batches with ``run_eagerly=False``: the inference forward pass
    (``training=False``) recorded once per input signature, as ``TrainStep`` records a
    training step, then replayed on raw arrays with the same fused nodes; the same outputs as
    the model's own ``predict_step``, bit for bit, without the per-batch Python of calling
    layers and wrapping tensors. Anything ``TrainStep`` would not record, and a changed model
    until it is recorded again, goes through ``predict_step``.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> _ = model.predict(np.ones((96, 2)), verbose=0)
        >>> model._fast_predict.recorded, model._fast_predict.replayed
        (1, 2)
    """

    def __init__(self, model, why_eager: str | None) -> None:
        self.model = model
        self.why_eager = why_eager
        self.plans = _Plans(model)
        self.workspace = Workspace()
        self.recorded = 0
        self.replayed = 0

    def __call__(self, x):
        """The model's outputs for one batch ``x`` (a tensor, or a list or dict of them)."""
        model = self.model
        if mode.escape is not None:  # inside tg.function's recording: it cannot record this pass
            mode.escape("a model's predict")
        first, extra, key = _batch_key(x)
        if self.why_eager is not None or first is None:
            return model.predict_step((x, None, None))
        plan = self.plans.get(key)
        if plan is None:
            return self._record(x, first, extra, key)
        if isinstance(plan, str):
            return model.predict_step((x, None, None))
        self.replayed += 1
        vals = [first.data]
        for holder, t in zip(plan.holders, extra):  # the batch's other inputs, where the nodes read them
            holder.data = t.data
        self.workspace.begin()
        try:
            for rule, inputs, settings, _ in plan.nodes:
                vals.append(rule().forward(*[vals[i] if i.__class__ is int else i.data for i in inputs], **settings))
        finally:
            self.workspace.end()
        return Tensor._wrap(vals[plan.output])

    def _record(self, x, first, extra, key):
        model = self.model
        reason = _why_not_replayable(model)
        if reason is not None:
            out = model.predict_step((x, None, None))
            plan = reason
        else:
            nodes: list = []
            with enable_grad(), _recording(nodes):  # with the graph, so that the plan can be checked whole
                out = model(x, training=False)
            plan = _plan(model, first, extra, out, nodes, plain_loss=False)
            nodes.clear()
            if isinstance(plan, _Plan):
                self.recorded += 1
            out = Tensor._wrap(out.data) if isinstance(out, Tensor) else out  # off the graph, as predict_step's
        self.plans.store(key, plan)
        return out


@contextlib.contextmanager
def _recording(nodes: list):
    """Collect ``(node, inputs, settings, output)`` of every op this thread applies in the block."""
    previous = mode.trace
    mode.trace = lambda fn, inputs, params, out: nodes.append((fn, inputs, params, out))
    try:
        yield
    finally:
        mode.trace = previous


def _why_not_replayable(model) -> str | None:
    """None when each layer's forward pass can be recorded; otherwise the reason."""
    layers = list(model._layers)
    while layers:
        layer = layers.pop(0)
        nested = getattr(layer, "_why_not_a_chain", None)  # a model inside the model: its layers decide
        if nested is not None and nested() is None and layer.activity_regularizer is None:
            layers.extend(layer._layers)
            continue
        if type(layer) not in REPLAYABLE:
            return f"layer '{layer.name}' ({type(layer).__name__}) is not one of the built-in layers recorded"
        if layer.activity_regularizer is not None:
            return f"layer '{layer.name}' has an activity regularizer"
        act = getattr(layer, "activation", _act.linear)
        if not any(act is a for a in _BUILTIN_ACTIVATIONS):
            return f"layer '{layer.name}' has a custom activation"
    return None


def _plan(model, x, extra, y_pred, nodes, plain_loss):
    """A ``_Plan`` from the recorded nodes, or the reason they cannot be replayed. ``x`` is the
    batch (slot 0); ``extra`` are a model's other inputs, read by the nodes from holder tensors
    whose data each replay sets to the batch's."""
    if not isinstance(y_pred, Tensor):
        return "the model's output is not a single tensor"
    slot = {id(x): 0}
    holders = {id(t): Tensor._wrap(t.data) for t in extra}
    if len(holders) != len(extra) or id(x) in holders:
        return "the same array is given for two of the model's inputs"
    weights = {id(w) for w in model.weights}
    records = []
    for k, (fn, inputs, params, out) in enumerate(nodes):
        refs = []
        for t in inputs:
            s = slot.get(id(t))
            if s is not None:
                refs.append(s)
            elif id(t) in weights:
                refs.append(t)
            elif id(t) in holders:
                refs.append(holders[id(t)])
            elif t._ctx is None and not t.requires_grad and t.data.ndim == 0:
                refs.append(Tensor._wrap(t.data.copy()))
            else:
                return f"{type(fn).__name__} reads a tensor of shape {t.shape} made outside the recorded nodes"
        for name, value in params.items():
            if not _is_setting(value):
                return f"{type(fn).__name__} has a setting {name!r} of type {type(value).__name__}"
        needs = tuple(None if p is None else True for p in fn.parents) if out._ctx is fn else None
        records.append(fusion.Record(type(fn), tuple(refs), dict(params), needs, out.data.shape, out.data.dtype))
        slot[id(out)] = k + 1
    output = slot.get(id(y_pred), 0)
    if output == 0:
        return "the model's output is not the result of a recorded node"
    order = []
    for t in reversed(engine.toposort([y_pred])):
        s = slot.get(id(t))
        if s is None:
            return "the graph reaches nodes made before the step"
        order.append(s - 1)
    records, output, order, fused = fusion.fuse(records, output, order)
    steps = []
    for k in order:
        rec = records[k]
        edges = []
        for i, (ref, need) in enumerate(zip(rec.inputs, rec.needs)):
            if need is None:
                continue
            if ref.__class__ is int:
                edges.append((i, -ref, records[ref - 1].shape, records[ref - 1].dtype))
            else:
                edges.append((i, id(ref), ref.data.shape, ref.data.dtype))
        steps.append((k + 1, k, tuple(edges)))
    plan_nodes = [(r.rule, r.inputs, r.settings, r.needs) for r in records]
    trainable = model.trainable_weights
    penalized = any(w.regularizer is not None and layer._trainable
                    for layer in model._iter_layers() for w in layer._own_weights)
    return _Plan(plan_nodes, output, steps, trainable, penalized, plain_loss, fused,
                 tuple(holders[id(t)] for t in extra))


def _seed(shape, dtype):
    """Ones of ``shape`` and ``dtype``, a loss's gradient with respect to itself: ``np.ones``,
    without its Python for the scalar a loss usually is."""
    return xp.array(1, dtype) if shape == () else xp.ones(shape, dtype)


def _batch_key(x):
    """``(first input, other inputs, plan key)`` of a batch: one tensor, or a list, tuple or dict
    of them (a dict's inputs by sorted key); ``(None, (), None)`` for anything else."""
    if isinstance(x, Tensor):
        return x, (), (x.data.shape, x.data.dtype)
    if isinstance(x, dict) and x:
        names = tuple(sorted(x))
        items = [x[k] for k in names]
    elif isinstance(x, (list, tuple)) and x:
        names, items = None, list(x)
    else:
        return None, (), None
    if not all(isinstance(t, Tensor) for t in items):
        return None, (), None
    return items[0], tuple(items[1:]), (names,) + tuple((t.data.shape, t.data.dtype) for t in items)


def _is_setting(value) -> bool:
    """A value that cannot depend on the batch: numbers, strings, dtypes, generators
    (drawn from anew on each replay), and tuples of them. Never an array."""
    if isinstance(value, (tuple, list)):
        return all(_is_setting(v) for v in value)
    return isinstance(value, _SETTINGS)


__all__ = ["PredictStep", "TrainStep", "REPLAYABLE"]
