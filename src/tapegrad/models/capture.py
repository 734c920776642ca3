"""Captured training steps: the forward pass of a model recorded once, then replayed.

With ``compile(run_eagerly=False)`` (the default, as in Keras), the first training step
for an input shape runs as ``train_step`` does while it records every primitive node of
the model's forward pass: its rule (a ``Function`` class), where each input comes from
(the batch, a weight, an earlier node, a scalar constant) and its settings. The
following steps with that shape replay the record on raw arrays: the same forward and
backward rules in the same order, so weights, losses and metrics come out the same bit
for bit, without the per-step Python of calling layers, wrapping tensors and sorting
the graph. The loss, the optimizer and the metrics run on every step as they are: a
built-in loss that is one rule under its default reduction (the cross-entropies from
logits, ``Loss.mean_node``) runs that rule on the raw output, and the optimizer gets the
gradients as checked arrays (``Optimizer._apply_arrays``); any other loss, or one with
sample weights or regularization penalties, runs eagerly with the replayed output as a
leaf whose gradient the replay carries back through the recorded nodes.

Only a model whose forward pass has no Python side effects and no Python that depends
on the data is recorded: a ``Sequential`` of the built-in layers in :data:`CAPTURABLE`
with built-in activations and no activity regularizer, whose nodes read only the batch,
the model's weights, earlier nodes and scalar constants. Anything else (a subclassed
model, a custom layer, an overridden ``train_step``) trains eagerly on every step, as
with ``run_eagerly=True``. Dropout draws its mask inside its node, so a replayed step
draws a new one. Changing the model (adding a layer, assigning a layer attribute,
freezing a weight) makes the next step record again. The recording hook is per thread
(``grad_mode.mode.trace``): ops that other threads run meanwhile stay out of the record.

Where we differ from Keras: Keras traces the whole step into a graph (``tf.function``);
here only the model's forward pass is recorded, so a custom loss or metric keeps its
eager Python, and a custom layer simply turns recording off.
"""

from __future__ import annotations

import numpy as np

from ..autodiff import engine
from ..autodiff.grad_mode import mode
from ..autodiff.tape import GradientTape
from ..autodiff.tensor import STRUCTURE, Tensor
from ..backend import xp
from ..layers.base import Layer
from ..layers.conv import (AveragePooling2D, BatchNormalization, Conv1D, Conv2D, GlobalAveragePooling2D,
                           GlobalMaxPooling2D, MaxPooling2D, UpSampling2D, ZeroPadding2D)
from ..layers.core import Activation, Dense, Dropout, Flatten, Reshape
from ..layers.preprocessing import Normalization
from .. import activations as _act
from ..losses import Loss
from ..optimizers.base import Optimizer

CAPTURABLE = (Dense, Activation, Flatten, Reshape, Dropout, Conv2D, Conv1D, MaxPooling2D, AveragePooling2D,
              GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, UpSampling2D, Normalization,
              BatchNormalization)
"""Layer types whose ``call`` only applies primitive ops to its input and weights (the
moving statistics of BatchNormalization too: their update is a node, ``moving_average_update``)."""

_SETTINGS = (type(None), bool, int, float, str, np.integer, np.floating, np.dtype, np.random.Generator)
_BUILTIN_ACTIVATIONS = tuple(_act.ALL.values())
_MAX_PLANS = 8


class _Plan:
    """A recorded forward pass: ``nodes[k] = (rule, inputs, settings, links, parents)``. An
    input is an int (slot: 0 the batch, k + 1 node k's result) or a tensor read when
    replayed; ``links`` names settings that are earlier nodes themselves (max-pooling
    taking over a convolution's ReLU mask), as ``(name, k)`` pairs. ``edges[k]`` lists the
    inputs of node k that take a gradient, as ``(position, input)``; ``order`` is the
    backward pass's order of the nodes. ``layers`` are the model's layers, ``penalized``
    whether any of their weights has a regularizer (assigning one starts a new record), and
    ``plain_loss`` whether the model computes its loss with ``Trainer.compute_loss``."""

    __slots__ = ("nodes", "output", "order", "edges", "layers", "penalized", "plain_loss")

    def __init__(self, nodes, output, order, model, plain_loss):
        self.nodes, self.output, self.order, self.plain_loss = nodes, output, order, plain_loss
        self.edges = [tuple((i, ref) for i, (ref, need) in enumerate(zip(inputs, parents)) if need is not None)
                      if parents is not None else () for _, inputs, _, _, parents in nodes]
        self.layers = list(model._iter_layers())
        self.penalized = any(w.regularizer is not None and layer._trainable
                             for layer in self.layers for w in layer._own_weights)


def why_not_capturable(model) -> str | None:
    """None when ``model``'s forward pass can be recorded; otherwise the reason."""
    from .sequential import Sequential
    from .training import Trainer

    cls = type(model)
    if not isinstance(model, Sequential) or cls.call is not Sequential.call or cls.__call__ is not Layer.__call__:
        return f"{cls.__name__} is not a plain Sequential model"
    if cls.train_step is not Trainer.train_step:
        return f"{cls.__name__} overrides train_step"
    for layer in model._layers:
        if type(layer) not in CAPTURABLE:
            return f"layer '{layer.name}' ({type(layer).__name__}) is not one of the built-in layers recorded"
        if layer.activity_regularizer is not None:
            return f"layer '{layer.name}' has an activity regularizer"
        act = getattr(layer, "activation", _act.linear)
        if not any(act is a for a in _BUILTIN_ACTIVATIONS):
            return f"layer '{layer.name}' has a custom activation"
    return None


class StepCapture:
    """Records and replays one model's training step (one record per input shape and dtype)."""

    def __init__(self, model) -> None:
        self.model = model
        self.plans: dict = {}  # (structure version, shape, dtype) -> _Plan, or the reason it runs eagerly
        self.version = -1
        self.recorded = 0
        self.replayed = 0
        self.reason: str | None = None  # why the last step ran eagerly (None after a replay)

    def step(self, x, y, sample_weight):
        """One training step: replayed, or recorded while it runs eagerly; ``None`` when
        this model or input cannot be captured (the caller runs ``train_step``)."""
        if not isinstance(x, Tensor):
            self.reason = "the input is not a single array"
            return None
        if STRUCTURE[0] != self.version:
            self.plans.clear()
            self.version = STRUCTURE[0]
        plan = self.plans.get((self.version, x.data.shape, x.data.dtype))
        if plan is None:
            return self._record(x, y, sample_weight)
        if isinstance(plan, str):
            self.reason = plan
            return None
        self.replayed += 1
        self.reason = None
        return self._replay(plan, x, y, sample_weight)

    # -- recording -------------------------------------------------------------------------
    def _record(self, x, y, sample_weight):
        model = self.model
        reason = why_not_capturable(model)
        if reason is not None:
            self._store(x, reason)
            return None
        nodes: list = []
        with GradientTape() as tape:
            mode.trace = lambda fn, inputs, params, out: nodes.append((fn, inputs, params, out))
            try:
                y_pred = model(x, training=True)
            finally:
                mode.trace = None  # the forward pass only: the loss runs as on every step
            loss = model.compute_loss(x, y, y_pred, sample_weight)
        plan = _plan(model, x, y_pred, nodes)
        nodes.clear()  # the recorded tensors: the plan keeps what it needs
        weights = model.trainable_weights
        _update(model.optimizer, [None if g is None else g.data for g in tape.gradient(loss, weights)], weights)
        if STRUCTURE[0] != self.version:  # the first call built the model
            self.plans.clear()
            self.version = STRUCTURE[0]
        self._store(x, plan)
        if isinstance(plan, _Plan):
            self.recorded += 1
            self.reason = None
        else:
            self.reason = plan
        return model.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def _store(self, x, plan) -> None:
        if len(self.plans) >= _MAX_PLANS:
            self.plans.clear()
        self.plans[(self.version, x.data.shape, x.data.dtype)] = plan

    # -- replaying -------------------------------------------------------------------------
    def _replay(self, plan: _Plan, x, y, sample_weight):
        model = self.model
        vals = [x.data]
        fns = []
        for rule, inputs, settings, links, parents in plan.nodes:
            fn = rule()
            if parents is not None:
                fn.parents = parents
            if links:
                settings = {**settings, **{name: fns[k] for name, k in links}}
            vals.append(fn.forward(*[vals[i] if i.__class__ is int else i.data for i in inputs], **settings))
            fns.append(fn)
        out = vals[plan.output]
        y_pred = Tensor._wrap(out)
        weights = model.trainable_weights
        loss_fn = model.loss
        node = None
        if plan.plain_loss and not plan.penalized and isinstance(loss_fn, Loss):
            node = loss_fn.single_node(y, out, sample_weight)
        if node is not None:  # the loss is one rule: run it on raw arrays as the tape would
            rule, settings = node
            fn = rule()
            value = fn.forward(out, **settings)
            loss = Tensor._wrap(value)
            out_grad, extra = fn.backward(_seed(value.dtype))[0], ()
            if out_grad.shape != out.shape or out_grad.dtype != out.dtype:
                out_grad = _edge(out_grad, out)
        else:
            for layer in plan.layers:  # as calling them would: no activity penalties from earlier calls
                layer._losses.clear()
            y_pred.requires_grad = True  # a leaf: the loss's gradient stops here and the replay takes it on
            loss = model.compute_loss(x, y, y_pred, sample_weight)  # records: y_pred requires a gradient
            seed = xp.ones(loss.data.shape, loss.data.dtype)
            found = engine.run([loss], [seed], False, {id(y_pred)} | {id(w) for w in weights})
            out_grad = found.pop(id(y_pred), (None, None))[1]
            extra = found  # the penalties' gradients
        mine = _backward(plan, fns, vals, out_grad, node is not None) if out_grad is not None else {}
        del fns, vals
        grads = []
        for w in weights:
            g = mine.get(id(w))
            if extra and id(w) in extra:
                penalty = extra[id(w)][1]
                g = penalty if g is None else g + penalty
            if g is not None and (g.base is not None or not g.flags.writeable):
                g = g.copy()  # as GradientTape.gradient: never a view of another array
            grads.append(g)
        _update(model.optimizer, grads, weights)
        return model.compute_metrics(x, y, y_pred, sample_weight, loss=loss)


def _plan(model, x, y_pred, nodes):
    """A ``_Plan`` from the recorded nodes, or the reason they cannot be replayed."""
    if not isinstance(y_pred, Tensor):
        return "the model's output is not a single tensor"
    slot = {id(x): 0}
    weights = {id(w) for w in model.weights}
    recorded = {id(fn): k for k, (fn, _, _, _) in enumerate(nodes)}
    plan_nodes = []
    for k, (fn, inputs, params, out) in enumerate(nodes):
        refs = []
        for t in inputs:
            s = slot.get(id(t))
            if s is not None:
                refs.append(s)
            elif id(t) in weights:
                refs.append(t)
            elif t._ctx is None and not t.requires_grad and t.data.ndim == 0:
                refs.append(Tensor._wrap(t.data.copy()))
            else:
                return f"{type(fn).__name__} reads a tensor of shape {t.shape} made outside the recorded nodes"
        settings, links = {}, []
        for name, value in params.items():
            if recorded.get(id(value), k) < k:
                links.append((name, recorded[id(value)]))
            elif _is_setting(value):
                settings[name] = value
            else:
                return f"{type(fn).__name__} has a setting {name!r} of type {type(value).__name__}"
        parents = tuple(None if p is None else True for p in fn.parents) if out._ctx is fn else None
        plan_nodes.append((type(fn), tuple(refs), settings, tuple(links), parents))
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
    from .training import Trainer

    return _Plan(plan_nodes, output, order, model, type(model).compute_loss is Trainer.compute_loss)


def _update(opt, grads: list, weights: list) -> None:
    """The optimizer's step from a training step's own gradient arrays (the weights' shapes and
    dtypes, made by the engine or the replay, never views, held by nothing else): given up
    to the update, which may work in them; ``apply_gradients`` where a gradient is None, one
    array is two weights' gradient (a rule that hands the same array to two inputs), or the
    optimizer overrides ``apply_gradients``."""
    if (grads and type(opt).apply_gradients is Optimizer.apply_gradients and all(g is not None for g in grads)
            and len(set(map(id, grads))) == len(grads)):
        opt._apply_arrays(grads, weights, spare=True)
    else:
        opt.apply_gradients(zip(grads, weights))


_SEEDS: dict = {}


def _seed(dtype):
    """A read-only 0-d one of ``dtype``: the gradient of a scalar loss with respect to itself."""
    one = _SEEDS.get(dtype)
    if one is None:
        one = _SEEDS[dtype] = xp.ones((), dtype)
        one.flags.writeable = False
    return one


def _edge(pg, target):
    """A gradient brought to its input's shape and dtype, as ``engine.run`` does on every edge."""
    if pg.shape != target.shape:
        pg = engine.unbroadcast(pg, target.shape)
    if pg.dtype != target.dtype:
        pg = pg.astype(target.dtype)
    return pg


def _is_setting(value) -> bool:
    """A value that cannot depend on the batch: numbers, strings, dtypes, generators
    (drawn from anew on each replay), and tuples of them. Never an array."""
    if isinstance(value, (tuple, list)):
        return all(_is_setting(v) for v in value)
    return isinstance(value, _SETTINGS)


def _backward(plan: _Plan, fns: list, vals: list, g, owned: bool) -> dict:
    """The chain rule over the replayed nodes, outputs first, as ``engine.run`` applies it;
    returns the weights' gradients by ``id``. ``owned``: nothing else holds ``g``, the
    output's gradient. A node whose incoming gradient is such an array (not a view, handed
    to its output alone) may overwrite it (``Function.owns_grad``)."""
    engine._this_pass.intermediates = False
    grads = {plan.output: g}
    found: dict = {}
    handed: dict = {} if owned else {id(g): 2}  # id of an array handed on -> how many slots got it
    take, edges = grads.pop, plan.edges
    for k in plan.order:
        g = take(k + 1, None)
        if g is None:
            continue
        fn = fns[k]
        fns[k] = None  # release the arrays the node saved
        # a fresh array that went to this node's output alone is the rule's to overwrite
        fn.owns_grad = g.base is None and g.flags.writeable and handed.get(id(g), 1) == 1
        pgs = fn.backward(g)
        for i, ref in edges[k]:
            pg = pgs[i]
            if pg is None:
                continue
            target, table, key = (vals[ref], grads, ref) if ref.__class__ is int else (ref.data, found, id(ref))
            if pg.shape != target.shape or pg.dtype != target.dtype:
                pg = _edge(pg, target)
            prev = table.get(key)
            if prev is None:
                table[key] = pg
                handed[id(pg)] = handed.get(id(pg), 0) + 1
            else:
                table[key] = prev + pg
    return found
