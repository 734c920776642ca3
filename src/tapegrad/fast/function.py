"""``tg.function``: a whole custom training step recorded once, then replayed on raw arrays.

TensorFlow's ``tf.function`` traces a Python function into a graph. Here the first call for an
input signature runs the function eagerly while it records, in order, everything it does:

- every primitive node (``Function.apply`` reports them, as for ``TrainStep``): the forward
  pass, and the loss, which is recorded as one node (a built-in cross-entropy from logits runs
  as the core's rules on raw arrays, any other loss is called whole on each replay);
- ``tape.gradient``: the backward pass over the recorded nodes, in the engine's order, run by
  ``engine.backprop`` on each replay;
- ``optimizer.apply_gradients``: the update, applied by ``update.Updater`` in kept buffers;
- ``metric.update_state`` / ``reset_state`` / ``result`` and ``Variable.assign``,
  ``assign_add``, ``assign_sub``: called again on each replay with that replay's tensors;
- a stateful recurrent layer's held states (``layer.states``): read from the layer on each
  replay, and replaced at its end by copies of the recorded final states, as the layer's call does.

Later calls with the same signature replay that record: the same weights, optimizer state,
metric values and results as the undecorated function, bit for bit. The signature is each
tensor or array argument's shape and dtype, each Python number, string or None argument's
value, and any other argument's identity. A new signature records again (up to 8 kept).

Before each replay the record is checked: the models, optimizers, metrics and losses that the
function reads by global or closure name must be the same objects, and each model must be as
recorded (``replay._Snapshot``, less a stateful layer's ``states``: a layer added, frozen, given
new weight objects, an activation assigned... records again; ``set_weights`` assigns in place, so
the record reads the new values). A call during which a model changes (the first call that
builds it) is not kept; when the model changes during two recordings in a row (a stateful
layer keeping another Python attribute), that signature runs eagerly.

What cannot be recorded makes that signature run eagerly from then on, with one
``UserWarning`` per function naming the reason: Python reading a tensor's value while
recording (``if loss > 1:``, ``float(t)``, ``t.numpy()``, ``t.item()``), a node reading a
tensor made outside the recorded nodes (a mask made with NumPy, say), an argument that is
not a tensor or a plain value, and so on. Python that does not depend on tensor values runs
once, while recording, as in TensorFlow: a ``for`` loop over a fixed range is unrolled into
the record, and ``print("step")`` prints on the recording call only.
"""

from __future__ import annotations

import functools
import operator
import warnings
from typing import Any, Callable

import numpy as np

from ..autodiff import engine
from ..autodiff.function import Function
from ..autodiff.grad_mode import mode
from ..autodiff.tape import _flat_list, _flatten
from ..autodiff.tensor import Tensor, Variable
from ..layers.base import Layer
from ..losses import Loss
from ..metrics import Metric
from ..optimizers.base import Optimizer
from .fusion import Record, fusable
from .losses import _HANDLED, loss_rules
from .memory import Workspace
from .nodes import Chain, Linear
from .replay import _is_setting, _seed, _Snapshot
from .update import Updater

_MAX_PLANS = 8
_PLAIN = (type(None), bool, int, float, str, np.integer, np.floating, np.bool_)


class _Eager(Exception):
    """Raised inside recording bookkeeping: this call cannot be recorded (the reason)."""


def _call_quietly(method, args, kwargs):
    """Run ``method`` with nothing recording: its own operations are not part of the record."""
    trace, effect, escape = mode.trace, mode.effect, mode.escape
    mode.trace = mode.effect = mode.escape = None
    try:
        return method(*args, **kwargs)
    finally:
        mode.trace, mode.effect, mode.escape = trace, effect, escape


class _LossCall(Function):
    """A loss called whole as one node: ``forward`` rebuilds the call's arguments from its
    tensor inputs (``layout``: the arguments with ``_Hole(i)`` where input ``i`` goes), calls
    it with those inputs as leaves, and ``backward`` runs the engine over the loss's own graph.
    A built-in cross-entropy from logits (``fast.losses.loss_rules``) runs as one ``Chain`` of
    the core's rules instead: the same values and gradients."""

    def forward(self, *arrays, call, layout, grad_mask, fast):
        if fast:
            rules = loss_rules(call, arrays[0], arrays[1], None)
            if rules is not None:
                self.chain = Chain()
                self.chain.parents = (True,)
                return self.chain.forward(arrays[1], rules=rules)
        self.chain = None
        leaves = []
        for a, need in zip(arrays, grad_mask):
            t = Tensor._wrap(a)
            if need:
                t.requires_grad = True
            leaves.append(t)
        args, kwargs = _fill(layout, leaves)
        out = _call_quietly(call, args, kwargs)
        self.out, self.leaves = out, leaves
        return out.data

    def backward(self, g):
        if self.chain is not None:
            return (None, self.chain.backward(g)[0])
        wanted = {id(t) for t in self.leaves if t.requires_grad}
        found = engine.run([self.out], [g], False, wanted)
        return tuple(found[id(t)][1] if id(t) in found else None for t in self.leaves)


def _constant(value) -> bool:
    """A node's setting that cannot depend on the data: ``replay._is_setting``'s, and slices
    and ``None``/``...`` in an index."""
    if isinstance(value, (tuple, list)):
        return all(_constant(v) for v in value)
    if isinstance(value, slice):
        return all(v is None or isinstance(v, (int, np.integer)) for v in (value.start, value.stop, value.step))
    return value is Ellipsis or _is_setting(value)


def _held_states(layer) -> list:
    """The states a stateful recurrent layer holds between calls (``layer.states``), or []."""
    if getattr(layer, "stateful", False) and isinstance(getattr(layer, "states", None), list):
        return [t for t in layer.states if isinstance(t, Tensor)]
    return []


class _HeldState:
    """A node's input that is a stateful layer's held state: read from the layer on each replay."""

    __slots__ = ("layer", "i")

    def __init__(self, layer, i: int) -> None:
        self.layer, self.i = layer, i

    @property
    def data(self):
        return self.layer.states[self.i].data


class _StateSnapshot(_Snapshot):
    """``replay._Snapshot`` that leaves out a stateful layer's ``states``: the function records
    how it changes them."""

    def __init__(self, model, layers) -> None:
        super().__init__(model, layers)
        self.layers = [(layer, values, _skips(layer, skip), weights, flags)
                       for layer, values, skip, weights, flags in self.layers]

    def holds(self) -> bool:
        model = self.model
        if model._trainable is not self.trainable or len(model._layers) != len(self.chain) \
                or any(map(operator.is_not, model._layers, self.chain)):
            return False
        for layer, values, skips, weights, flags in self.layers:
            d = layer.__dict__
            if len(d) != len(values):
                return False
            if any(map(operator.is_not, d.values(), values)):
                if any(i not in skips for i, (a, b) in enumerate(zip(d.values(), values)) if a is not b):
                    return False
            if len(layer._own_weights) != len(weights) or any(map(operator.is_not, layer._own_weights, weights)):
                return False
            for w, (trainable, regularizer) in zip(weights, flags):
                if w._trainable is not trainable or w._regularizer is not regularizer:
                    return False
        return True


def _skips(layer, skip) -> frozenset:
    names = list(layer.__dict__)
    out = set() if skip is None else {skip}
    if getattr(layer, "stateful", False) and "states" in names:
        out.add(names.index("states"))
    return frozenset(out)


class _Hole:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def _fill(layout, values):
    """``layout`` (args, kwargs) with each ``_Hole(i)`` replaced by ``values[i]``."""
    def put(obj):
        if obj.__class__ is _Hole:
            return values[obj.i]
        if isinstance(obj, (list, tuple)):
            items = [put(o) for o in obj]
            return items if isinstance(obj, list) else tuple(items)
        if isinstance(obj, dict):
            return {k: put(v) for k, v in obj.items()}
        return obj

    args, kwargs = layout
    return put(args), put(kwargs)


class _Recorder:
    """What one recording call saw: slots for arrays (arguments, node results, call results),
    and the program that replays it."""

    def __init__(self, objects: dict) -> None:
        self.nslots = 0
        self.slot: dict = {}  # id(tensor) -> slot
        self.data_slot: dict = {}  # id(array) -> slot: a new tensor around an argument's array
        self.var_data: dict = {}  # id(array) -> the Variable that holds it
        self.program: list = []
        self.keep: list = []  # every tensor seen, so that no id is reused while recording
        self.reason: str | None = None
        self.fns: dict = {}  # slot -> the node that made it (for the backward steps)
        self.shapes: dict = {}  # slot -> the shape of that node's result
        self.dtypes: dict = {}  # slot -> the dtype of its array as recorded
        self.objects = objects
        self.held: dict = {}  # id(tensor) -> (layer, i): a stateful layer's held state as the call began
        for obj in objects.values():
            if isinstance(obj, Layer):
                for w in obj.weights:
                    self.var_data[id(w.data)] = w
                for layer in obj._iter_layers():
                    for i, t in enumerate(_held_states(layer)):
                        self.held[id(t)] = (layer, i)
                        self.keep.append(t)

    def new_slot(self, t: Tensor | None, data=None) -> int:
        s = self.nslots
        self.nslots += 1
        if t is not None:
            self.slot[id(t)] = s
            self.keep.append(t)
            data = t.data
        if data is not None:
            self.dtypes[s] = data.dtype
            if id(data) not in self.data_slot:
                self.data_slot[id(data)] = s
        return s

    def fail(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def ref(self, t, what: str):
        """An int slot, or a tensor read live when replayed; raises ``_Eager`` otherwise."""
        if isinstance(t, np.ndarray):
            s = self.data_slot.get(id(t))
            if s is not None:
                return s
            raise _Eager(f"{what} reads a NumPy array that is not an argument")
        s = self.slot.get(id(t))
        if s is not None:
            return s
        if isinstance(t, Variable):
            return t
        s = self.data_slot.get(id(t.data))
        if s is not None:
            return s
        v = self.var_data.get(id(t.data))
        if v is not None:
            return v
        held = self.held.get(id(t))
        if held is not None:
            return _HeldState(*held)
        if t._ctx is None and not t.requires_grad and t.data.ndim == 0 and t.data.dtype.kind == "f":
            return Tensor._wrap(t.data.copy())  # a Python number made a tensor
        for obj in self.objects.values():
            if obj is t:
                return t  # a tensor the function reads by name: captured, as TensorFlow does
        raise _Eager(f"{what} reads a tensor of shape {t.shape} made outside the recorded operations")

    def state_writes(self, models) -> None:
        """Record how the call changed each stateful layer's held states: each new state is a
        copy of one recorded node's result (the final states of a recurrent layer's node)."""
        for model in models:
            for layer in model._iter_layers():
                states = _held_states(layer)
                if not states or all(id(t) in self.held for t in states):
                    continue
                slots = []
                for t in states:
                    found = [s for tid, s in self.slot.items() if s in self.fns and self._same(s, t)]
                    if len(found) != 1:
                        raise _Eager(f"layer '{layer.name}' holds a state the record cannot follow")
                    slots.append(found[0])
                self.program.append((4, layer, tuple(slots)))

    def _same(self, s: int, t: Tensor) -> bool:
        out = next((k for k in self.keep if self.slot.get(id(k)) == s), None)
        return (out is not None and out.data is not t.data and out.data.shape == t.data.shape
                and out.data.dtype == t.data.dtype and np.array_equal(out.data, t.data))

    # -- hooks -------------------------------------------------------------------------------
    def on_node(self, fn, inputs, params, out) -> None:
        if self.reason is not None:
            return
        try:
            refs = tuple(self.ref(t, type(fn).__name__) for t in inputs)
        except _Eager as exc:
            self.fail(str(exc))
            return
        arrays = []  # settings that are an argument's array (an Embedding's ids): that replay's array
        if type(fn) is not _LossCall:
            for name, value in params.items():
                if isinstance(value, np.ndarray) and id(value) in self.data_slot:
                    arrays.append((name, self.data_slot[id(value)]))
                elif not _constant(value):
                    self.fail(f"{type(fn).__name__} has a setting {name!r} of type {type(value).__name__}")
                    return
        needs = tuple(None if p is None else True for p in fn.parents) if out._ctx is fn else None
        s = self.new_slot(out)
        self.fns[s] = fn
        self.shapes[s] = out.data.shape
        self.program.append((0, type(fn), refs, dict(params), needs, s, tuple(arrays) or None))

    def on_escape(self, what: str) -> None:
        self.fail(f"Python reads a tensor's value ({what}) while the function runs")

    def on_effect(self, kind: str, method, args, kwargs):
        if self.reason is not None:
            return _call_quietly(method, args, kwargs)
        try:
            if kind == "gradient":
                return self.gradient(method, args, kwargs)
            if kind == "apply_gradients":
                return self.apply_gradients(method, args)
            if kind == "loss":
                return self.loss(method, args, kwargs)
            return self.call(method, args, kwargs)
        except _Eager as exc:
            self.fail(str(exc))
            return _call_quietly(method, args, kwargs)

    # -- effects -----------------------------------------------------------------------------
    def _layout(self, args, kwargs, what: str):
        """``(layout, tensors)``: the arguments with holes where tensors go, and the tensors."""
        tensors: list = []

        def cut(obj):
            if isinstance(obj, (Tensor, np.ndarray)):
                if isinstance(obj, np.ndarray):
                    self.ref(obj, what)
                    obj = Tensor._wrap(obj)
                tensors.append(obj)
                return _Hole(len(tensors) - 1)
            if isinstance(obj, (list, tuple)):
                items = [cut(o) for o in obj]
                return items if isinstance(obj, list) else tuple(items)
            if isinstance(obj, dict):
                return {k: cut(v) for k, v in obj.items()}
            if isinstance(obj, _PLAIN) or obj is None:
                return obj
            if any(obj is o for o in self.objects.values()) or callable(obj):
                return obj
            raise _Eager(f"{what} is given an argument of type {type(obj).__name__}")

        return (cut(tuple(args)), cut(dict(kwargs))), tensors

    def loss(self, call, args, kwargs):
        name = getattr(call, "__name__", type(call).__name__)
        layout, tensors = self._layout(args, kwargs, f"the loss {name}")
        fast = _fast_loss(call, layout)
        grad_mask = tuple(bool(t.requires_grad) for t in tensors)
        return _LossCall.apply(*tensors, call=call, layout=layout, grad_mask=grad_mask, fast=fast)

    def call(self, method, args, kwargs):
        what = f"{type(method.__self__).__name__}.{method.__name__}"
        layout, tensors = self._layout(args, kwargs, what)
        refs = tuple(self.ref(t, what) for t in tensors)
        out = _call_quietly(method, args, kwargs)
        outs = self._outputs(out)
        self.program.append((1, method, layout, refs, outs[0], outs[1]))
        return out

    def _outputs(self, out):
        """``(template, slots)`` of a call's result: its tensors in new slots."""
        slots = []

        def cut(obj):
            if isinstance(obj, Tensor) and not isinstance(obj, Variable):
                s = self.new_slot(obj)
                slots.append(s)
                return _Hole(len(slots) - 1)
            if isinstance(obj, (list, tuple)):
                items = [cut(o) for o in obj]
                return items if isinstance(obj, list) else tuple(items)
            return obj

        return cut(out), tuple(slots)

    def gradient(self, method, args, kwargs):
        tape = method.__self__
        target, sources = args
        if kwargs["output_gradients"] is not None:
            raise _Eager("tape.gradient is given output_gradients")
        targets = [target] if isinstance(target, Tensor) else list(_flatten(target))
        tslots = []
        for t in targets:
            s = self.slot.get(id(t)) if isinstance(t, Tensor) else None
            if s is None or self.fns.get(s) is None or t._ctx is None:
                raise _Eager("tape.gradient's target is not the result of a recorded operation")
            tslots.append((s, t.data.shape, t.data.dtype))
        steps = []
        for t in reversed(engine.toposort(targets)):
            s = self.slot.get(id(t))
            if s is None or t._ctx is not self.fns.get(s):
                raise _Eager("the tape's graph reaches operations made before the function ran")
            edges = []
            for i, p in enumerate(t._ctx.parents):
                if p is None:
                    continue
                ps = self.slot.get(id(p))
                if ps is not None:
                    key = -ps - 1
                elif isinstance(p, Variable):
                    key = id(p)
                else:
                    raise _Eager(f"the tape differentiates a tensor of shape {p.shape} made outside the function")
                edges.append((i, key, p.data.shape, p.data.dtype))
            steps.append((-s - 1, s, tuple(edges)))
        flat = _flat_list(sources)
        keys = []
        for src in flat:
            if not isinstance(src, Tensor) or not tape._allowed(src):
                keys.append(None)
            elif id(src) in self.slot:
                keys.append(-self.slot[id(src)] - 1)
            elif isinstance(src, Variable):
                keys.append(id(src))
            else:
                raise _Eager("tape.gradient's source is a tensor made outside the function")
        out = _call_quietly(method, args, kwargs)
        flat_out = out if flat is sources else list(_flatten(out))
        slots = tuple(None if g is None else self.new_slot(g) for g in flat_out)
        zero = kwargs["unconnected_gradients"] == "zero"
        shapes = tuple((s.data.shape, s.data.dtype) for s in flat)
        self.program.append((2, tuple(tslots), tuple(steps), tuple(keys), slots, zero, shapes,
                             None if flat is sources else sources))
        return out

    def apply_gradients(self, method, args):
        opt = method.__self__
        pairs = list(args[0])
        kept = [(g, v) for g, v in pairs if g is not None]
        grads, variables = [], []
        for g, v in kept:
            if not isinstance(v, Variable):
                raise _Eager(f"apply_gradients is given a {type(v).__name__} to update")
            grads.append(self.ref(g, "apply_gradients"))
            variables.append(v)
        out = _call_quietly(method, ([(g, v) for g, v in pairs],), {})
        self.program.append((3, opt, tuple(grads), variables, Updater(), False))
        return out


def _fast_loss(call, layout) -> bool:
    """Whether the loss is a built-in cross-entropy called as ``loss(y_true, y_pred)``."""
    args, kwargs = layout
    return (isinstance(call, _HANDLED) and len(args) == 2 and args[0].__class__ is _Hole and args[0].i == 0
            and args[1].__class__ is _Hole and args[1].i == 1 and kwargs in ({}, {"sample_weight": None}))


class _Record:
    """One signature's record: the program, the argument slots and the returned value's template."""

    __slots__ = ("program", "nslots", "result", "result_slots", "snapshots", "workspace")

    def __init__(self, program, nslots, result, result_slots, snapshots) -> None:
        self.program, self.nslots = program, nslots
        self.result, self.result_slots, self.snapshots = result, result_slots, snapshots
        self.workspace = Workspace()  # the scratch arrays of the last replay


class RecordedFunction:
    """A Python function recorded once per input signature and replayed (``tg.function``'s result).

    ``python_function`` is the function itself; ``recorded`` and ``replayed`` count the calls
    that recorded and replayed; ``reason`` says why the last call ran eagerly (None otherwise).

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> v = tg.Variable([1.0, 2.0])
        >>> step = tg.function(lambda x: v.assign_add(x * 2.0))
        >>> for _ in range(3):
        ...     _ = step(np.ones(2, np.float32))
        >>> v.numpy().tolist(), step.recorded, step.replayed
        ([7.0, 8.0], 1, 2)
    """

    def __init__(self, fn: Callable, reduce_retracing: bool = False, jit_compile: Any = None) -> None:
        self.python_function = fn
        self.reduce_retracing = reduce_retracing
        self.jit_compile = jit_compile
        self._plans: dict = {}
        self._changed: dict = {}  # key -> recordings in a row during which a model changed
        self._last = None  # (shapes and dtypes, record) of the last replay, when its arguments were all arrays
        self._warned = False
        self.recorded = 0
        self.replayed = 0
        self.reason: str | None = None
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def __call__(self, *args, **kwargs):
        if mode.effect is not None:  # called while another tg.function records: part of that record
            return self.python_function(*args, **kwargs)
        last = self._last
        if last is not None and not kwargs and _same_arrays(args, last[0]):  # the last replay's signature
            key, plan, leaves, arrays = None, last[1], args, True
        else:
            leaves: list = []
            arrays = not kwargs and all(a.__class__ is np.ndarray for a in args)
            try:
                if arrays:  # the common case, quickly
                    leaves = list(args)
                    key = _array_key(args)
                else:
                    key = (_key(args, leaves), _key(kwargs, leaves))
            except _Eager as exc:
                return self._eager(str(exc), args, kwargs)
            plan = self._plans.get(key)
            if arrays and plan is not None and not isinstance(plan, str):
                self._last = (tuple((a.shape, a.dtype) for a in args), plan)
        if plan is not None and not isinstance(plan, str):
            names, snaps = plan.snapshots
            if any(read() is not o for read, o in names) or not all(s.holds() for s in snaps):
                plan = None
        if plan is None:
            if key is None:
                key = _array_key(args)
            self._last = None
            return self._record(key, args, kwargs, leaves, _named_objects(self.python_function))
        if isinstance(plan, str):
            return self._eager(plan, args, kwargs)
        self.replayed += 1
        self.reason = None
        plan.workspace.begin()
        try:
            return _replay(plan, leaves, arrays)
        finally:
            plan.workspace.end()

    def _eager(self, reason: str, args, kwargs):
        self.reason = reason
        if not self._warned:
            self._warned = True
            name = getattr(self.python_function, "__name__", "function")
            warnings.warn(f"tg.function({name}) runs eagerly for these inputs: {reason}", UserWarning, stacklevel=3)
        return self.python_function(*args, **kwargs)

    def _record(self, key, args, kwargs, leaves, objects):
        models = [o for o in objects.values() if isinstance(o, Layer)]
        for leaf in leaves:
            if isinstance(leaf, Layer):
                models.append(leaf)
        before = [_StateSnapshot(m, list(m._iter_layers())[1:]) for m in models]
        held = [(layer, [t.shape for t in _held_states(layer)]) for m in models for layer in m._iter_layers()
                if getattr(layer, "stateful", False)]
        rec = _Recorder(objects)
        args, kwargs = _as_tensors(args), _as_tensors(kwargs)  # NumPy arguments become tensors, as in TensorFlow
        for leaf in _leaves((args, kwargs)):
            rec.new_slot(leaf)
        mode.trace, mode.effect, mode.escape = rec.on_node, rec.on_effect, rec.on_escape
        try:
            result = self.python_function(*args, **kwargs)
            if mode.trace != rec.on_node:  # fit, train_on_batch or predict recorded a step of their own
                rec.fail("the function runs a model's fit, train_on_batch or predict")
        finally:
            mode.trace = mode.effect = mode.escape = None
        reason = rec.reason
        if reason is None:
            try:
                template, slots = _result(rec, result)
                rec.state_writes(models)
            except _Eager as exc:
                reason = str(exc)
        changed = next((_what_changed(s) for s in before if not s.holds()), None)
        if changed is None and any([t.shape for t in _held_states(layer)] != shapes for layer, shapes in held):
            changed = "a stateful layer's first states"  # made by this call: the next one records
        if changed is not None and (reason is None or self._changed.get(key, 0) == 0):
            count = self._changed.get(key, 0) + 1
            self._changed[key] = count
            if count < 2:
                return result  # the call built the model: record the next one
            reason = f"the function changes the model on every call ({changed})"
        self._changed.pop(key, None)
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        if reason is not None:
            self._plans[key] = reason
            self.reason = None
            self._eager_warning(reason)
            return result
        snaps = [_StateSnapshot(m, list(m._iter_layers())[1:]) for m in models]
        readers = _readers(self.python_function)
        names = tuple((readers[n], o) for n, o in objects.items()
                      if isinstance(o, (Layer, Optimizer, Metric, Loss, Tensor)) and n in readers)
        program = _compile(rec.program, slots, rec.shapes, rec.dtypes)
        self._plans[key] = _Record(program, rec.nslots, template, slots, (names, snaps))
        self.recorded += 1
        self.reason = None
        return result

    def _eager_warning(self, reason: str) -> None:
        self.reason = reason
        if not self._warned:
            self._warned = True
            name = getattr(self.python_function, "__name__", "function")
            warnings.warn(f"tg.function({name}) runs eagerly for these inputs from now on: {reason}", UserWarning,
                          stacklevel=4)


def _what_changed(snapshot: _StateSnapshot) -> str:
    for layer, values, skips, _, _ in snapshot.layers:
        d = layer.__dict__
        for i, (name, value) in enumerate(d.items()):
            if i not in skips and (i >= len(values) or value is not values[i]):
                return f"layer '{layer.name}' sets its attribute {name!r}"
    return f"model '{snapshot.model.name}' has new layers or weights"


def _result(rec: _Recorder, result):
    slots: list = []

    def cut(obj):
        if isinstance(obj, Tensor) and not isinstance(obj, Variable):
            slots.append(rec.ref(obj, "the returned value"))
            return _Hole(len(slots) - 1)
        if isinstance(obj, (list, tuple)):
            items = [cut(o) for o in obj]
            return items if isinstance(obj, list) else tuple(items)
        if isinstance(obj, dict):
            return {k: cut(v) for k, v in obj.items()}
        if isinstance(obj, np.ndarray):
            raise _Eager("the function returns a NumPy array")
        return obj

    return cut(result), tuple(slots)


def _uses(program: list, result_slots) -> dict:
    """How many times each slot is read: by a node, a call, an update, a gradient or the result."""
    uses: dict = {}

    def add(ref):
        if ref.__class__ is int:
            uses[ref] = uses.get(ref, 0) + 1

    for op in program:
        if op[0] == 0:
            for r in op[2]:
                add(r)
            for _, r in op[6] or ():
                add(r)
        elif op[0] == 1:
            for r in op[3]:
                add(r)
        elif op[0] == 2:
            for s, _, _ in op[1]:
                add(s)
            for key in op[3]:
                if key is not None and key < 0 and key > -(1 << 40):
                    add(-key - 1)
        else:
            for r in op[2]:
                add(r)
    for r in result_slots:
        add(r)
    return uses


def _compile(program: list, result_slots, shapes: dict, dtypes: dict) -> list:
    """The program with each Dense layer's ``MatMul``, ``Add`` of the bias and ``Relu`` as one
    ``nodes.Linear`` (as ``fusion`` does for ``TrainStep``): only where the intermediate results
    are read by the next node alone, and run one after another in every backward pass; each
    gradient step given the ``Linear`` nodes that may compute weight gradients in place
    (``_in_place``)."""
    return _in_place(_fuse(program, result_slots, shapes), dtypes)


def _fuse(program: list, result_slots, shapes: dict) -> list:
    uses = _uses(program, result_slots)
    grads = [op for op in program if op[0] == 2]
    out: list = []
    replace: dict = {}  # slot of the run's last node -> the run's slots, last node first
    i = 0
    while i < len(program):
        run = _linear_run(program, i, uses, shapes)
        if run is not None:
            n, fused, slots = run
            if all(_consecutive(op[2], slots) for op in grads):
                out.append(fused)
                replace[slots[0]] = slots
                i += n
                continue
        out.append(program[i])
        i += 1
    out = [op[:5] + (all(r.__class__ is int and uses.get(r) == 1 for r in op[2]),) if op[0] == 3 else op
           for op in out]  # gradients read by the update alone: it may use their arrays as scratch
    if not replace:
        return out
    final = []
    for op in out:
        if op[0] == 2:
            steps = []
            skip = set()
            for key, s, edges in op[2]:
                if s in skip:
                    continue
                if s in replace:
                    slots = replace[s]
                    skip.update(slots[1:])
                    first = next(e for k2, s2, e in op[2] if s2 == slots[-1])  # the MatMul's edges
                    second = next(e for k2, s2, e in op[2] if s2 == slots[-2])  # the Add's: the bias is input 1
                    edges = tuple(e for e in first) + tuple((2, k, sh, dt) for j, k, sh, dt in second if j == 1)
                steps.append((key, s, edges))
            op = op[:2] + (tuple(steps),) + op[3:]
        final.append(op)
    return final


def _in_place(program: list, dtypes: dict) -> list:
    """The program with each gradient step (kind 2) given, last, the ``Linear`` nodes whose
    weight gradients the replay may compute straight into an update's packed gradient buffer
    (``Updater.grad_views``): ``[groups, ids]`` with a group ``[updater, variables, ((node slot,
    kernel index, bias index), ...), views, intos]`` per update, where the replay keeps the
    views it was last given, each node's ``into`` made of them, and in ``ids`` the ids of
    all those views; or None. Only a gradient that the update alone reads (``spare``), of the
    variable it updates, that one ``Linear`` node of that step computes for it, with the
    node's input and result of that variable's dtype."""
    rules = {op[5]: op for op in program if op[0] == 0}
    made: dict = {}  # gradient slot -> (index of its gradient step, key)
    for n, op in enumerate(program):
        if op[0] == 2:
            for key, s in zip(op[3], op[4]):
                if s is not None and key is not None:
                    made[s] = (n, key)
    found: dict = {n: [] for n, op in enumerate(program) if op[0] == 2}
    for op in program:
        if op[0] != 3 or not op[5]:
            continue
        _, _, refs, variables, updater, _ = op
        links: dict = {}  # (gradient step, node slot) -> [kernel index, bias index]
        for j, (r, v) in enumerate(zip(refs, variables)):
            n, key = made.get(r, (None, None)) if r.__class__ is int else (None, None)
            if key != id(v):
                continue
            into = [(s, i) for _, s, edges in program[n][2] for i, k, _, _ in edges if k == key]
            if len(into) != 1 or into[0][1] not in (1, 2):
                continue
            s, i = into[0]
            node = rules.get(s)
            if node is None or node[1] is not Linear or node[2][0].__class__ is not int:
                continue
            kinds = {dtypes.get(node[2][0]), dtypes.get(s), v.data.dtype}
            if len(kinds) != 1:
                continue
            links.setdefault((n, s), [None, None])[i - 1] = j
        groups: dict = {}
        for (n, s), (jw, jb) in links.items():
            groups.setdefault(n, []).append((s, jw, jb))
        for n, entries in groups.items():
            found[n].append([updater, variables, tuple(entries), None, None])
    return [op + ([found[n], set()] if found[n] else None,) if op[0] == 2 else op for n, op in enumerate(program)]


def _linear_run(program, i, uses, shapes):
    """``(length, fused op, slots)`` when a Dense layer's nodes start at ``program[i]``, else
    None: the nodes from ``i`` on, their results renumbered as ``fusion.fusable`` reads them
    (node ``k``'s result is slot ``k + 1``), matched by the rule ``TrainStep``'s fusion uses."""
    window = []
    for op in program[i:i + 3]:
        if op[0] != 0 or op[6] is not None:  # a call or a node reading an argument's array ends it
            break
        window.append(op)
    local = {op[5]: k + 1 for k, op in enumerate(window)}

    def ref(r):  # a weight is a Variable read live; any other input is no weight
        return local.get(r, -1) if r.__class__ is int else (r if isinstance(r, Variable) else None)

    records = [Record(op[1], tuple(map(ref, op[2])), op[3], op[4], shapes.get(op[5], ()), None) for op in window]
    run = fusable(records, 0, {k + 1: uses.get(op[5], 0) for k, op in enumerate(window)}) if window else None
    if run is None or run[1].rule is not Linear:
        return None
    n, rec = run
    ops_ = window[:n]
    members = [op[4] is None for op in ops_]
    if any(members) and not all(members):
        return None
    x, w = ops_[0][2]
    fused = (0, Linear, (x, w, ops_[1][2][1]), rec.settings, rec.needs, ops_[-1][5], None)
    return n, fused, tuple(op[5] for op in ops_)[::-1]


def _consecutive(steps, slots) -> bool:
    """Whether ``slots`` (last node first) run one after another in ``steps``, or none of them runs."""
    where = [next((k for k, st in enumerate(steps) if st[1] == s), None) for s in slots]
    if all(w is None for w in where):
        return True
    return None not in where and all(where[k] + 1 == where[k + 1] for k in range(len(where) - 1))


def _replay(plan: _Record, leaves: list, arrays: bool = False):
    """Run ``plan`` on the arguments' tensors and arrays (``leaves``; ``arrays``: all of them
    NumPy arrays); returns the function's result."""
    vals: list = [None] * plan.nslots
    fns: dict = {}
    if arrays:
        vals[:len(leaves)] = leaves
    else:
        k = 0
        for leaf in leaves:
            if isinstance(leaf, Tensor) and not isinstance(leaf, Variable):
                vals[k] = leaf.data
                k += 1
            elif isinstance(leaf, np.ndarray):
                vals[k] = leaf
                k += 1
    for op in plan.program:
        kind = op[0]
        if kind == 0:
            _, rule, refs, settings, needs, s, arrays = op
            fn = rule()
            if needs is not None:
                fn.parents = needs
            if arrays is not None:
                settings = {**settings, **{name: vals[i] for name, i in arrays}}
            vals[s] = fn.forward(*[vals[i] if i.__class__ is int else i.data for i in refs], **settings)
            fns[s] = fn
        elif kind == 2:
            _, tslots, steps, keys, slots, zero, shapes, structure, in_place = op
            grads: dict = {}
            for s, shape, dtype in tslots:
                seed = _seed(shape, dtype)
                key = -s - 1
                grads[key] = grads[key] + seed if key in grads else seed
            if in_place is not None:  # the weight gradients that Linear nodes compute into the update's buffer
                _into(in_place, fns)
            engine.backprop([(key, fns[s], edges) for key, s, edges in steps], grads)
            for key, s, (shape, dtype) in zip(keys, slots, shapes):
                if s is None:
                    continue
                g = grads.get(key) if key is not None else None
                if g is None:
                    g = np.zeros(shape, dtype)
                elif (g.base is not None or not g.flags.writeable) and (in_place is None or id(g) not in in_place[1]):
                    g = g.copy()  # as the tape: never a view of another array (but an update's buffer)
                vals[s] = g
        elif kind == 4:  # a stateful layer keeps copies of its final states, as its call does
            op[1].states = [Tensor(vals[s].copy()) for s in op[2]]
        elif kind == 3:
            _, opt, grads_refs, variables, updater, spare = op
            updater.apply(opt, [vals[i] if i.__class__ is int else i.data for i in grads_refs], variables, spare=spare)
        else:
            _, method, layout, refs, template, slots = op
            tensors = [Tensor._wrap(vals[i]) if i.__class__ is int else i for i in refs]
            args, kwargs = _fill(layout, tensors)
            out = method(*args, **kwargs)
            if slots:
                outs = [o for o in _flatten(out) if isinstance(o, Tensor) and not isinstance(o, Variable)]
                for s, o in zip(slots, outs):
                    vals[s] = o.data
    if plan.result.__class__ is _Hole:  # one tensor returned
        s = plan.result_slots[0]
        return Tensor._wrap(vals[s]) if s.__class__ is int else s
    values = [Tensor._wrap(vals[s]) if s.__class__ is int else s for s in plan.result_slots]
    return _fill((plan.result, {}), values)[0]


def _into(in_place: list, fns: dict) -> None:
    """Give the ``Linear`` nodes of ``in_place`` (see ``_in_place``) the views of the update's
    buffers to compute their weight gradients in."""
    groups, ids = in_place
    for group in groups:
        views = group[0].grad_views(group[1])
        if views is None:
            continue
        if views is not group[3]:
            group[3] = views
            group[4] = [(s, (None if jw is None else views[jw], None if jb is None else views[jb]))
                        for s, jw, jb in group[2]]
            ids.clear()
            ids.update(id(v) for g in groups if g[3] is not None for v in g[3] if v is not None)
        for s, into in group[4]:
            fns[s].into = into


def _array_key(args: tuple) -> tuple:
    """What ``(_key(args, leaves), _key({}, leaves))`` gives for arguments that are all NumPy arrays."""
    return (tuple,) + tuple(("A", a.shape, a.dtype) for a in args), (dict,)


def _same_arrays(args: tuple, signature: tuple) -> bool:
    """Whether ``args`` are NumPy arrays of the shapes and dtypes of ``signature``, quickly."""
    if len(args) != len(signature):
        return False
    for a, (shape, dtype) in zip(args, signature):
        if a.__class__ is not np.ndarray or a.shape != shape or a.dtype is not dtype:
            return False
    return True


def _as_tensors(obj):
    """``obj`` with each NumPy array in it wrapped as a tensor (sharing its memory)."""
    if isinstance(obj, np.ndarray):
        return Tensor._wrap(obj)
    if isinstance(obj, (list, tuple)):
        items = [_as_tensors(o) for o in obj]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, dict):
        return {k: _as_tensors(v) for k, v in obj.items()}
    return obj


def _leaves(obj) -> list:
    """The argument tensors in ``obj`` (not variables), in the order ``_key`` meets them."""
    leaves: list = []
    _key(obj, leaves)
    return [t for t in leaves if isinstance(t, Tensor) and not isinstance(t, Variable)]


def _key(obj, leaves: list):
    """The signature of one argument; its tensors, arrays and objects are appended to ``leaves``."""
    if isinstance(obj, Variable):
        leaves.append(obj)
        return ("V", id(obj))
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return ("T", obj.data.shape, obj.data.dtype)
    if isinstance(obj, np.ndarray):
        leaves.append(obj)
        return ("A", obj.shape, obj.dtype)
    if isinstance(obj, _PLAIN):
        return (type(obj), obj)
    if isinstance(obj, (list, tuple)):
        return (type(obj),) + tuple(_key(o, leaves) for o in obj)
    if isinstance(obj, dict):
        return (dict,) + tuple((k, _key(obj[k], leaves)) for k in sorted(obj, key=str))
    leaves.append(obj)
    return ("O", id(obj))


def _readers(fn) -> dict:
    """For each name ``_named_objects`` finds, a function that reads its current value."""
    out: dict = {}
    code = getattr(fn, "__code__", None)
    if code is None:
        return out
    glob = getattr(fn, "__globals__", {})
    for name in _named_objects(fn):
        out[name] = functools.partial(glob.get, name)
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        out[name] = functools.partial(_cell_value, cell)
    return out


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _named_objects(fn) -> dict:
    """The objects ``fn`` reads by global or closure name (and those of functions nested in it)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    out: dict = {}
    glob = getattr(fn, "__globals__", {})
    stack = [code]
    while stack:
        c = stack.pop()
        for name in c.co_names:
            if name in glob:
                out[name] = glob[name]
        stack.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            out[name] = cell.cell_contents
        except ValueError:
            pass
    return out


def function(func: Callable | None = None, *, reduce_retracing: bool = False, jit_compile: Any = None,
             **kwargs) -> Any:
    """Record a Python function once per input signature and replay it: ``tf.function``.

    Use it as ``@tg.function``, ``@tg.function(reduce_retracing=False)`` or ``tg.function(fn)``
    on a custom training step (forward pass, loss, ``tape.gradient``, ``apply_gradients``,
    metric updates). The first call for a signature runs the function eagerly and records what
    it does; later calls replay the record on raw arrays, with the same results bit for bit
    (see ``tapegrad.fast.function`` for what is recorded and what records again). What cannot be
    recorded (Python reading a tensor's value: ``if loss > 1:``, ``float(t)``, ``.numpy()``)
    makes that signature run eagerly, with one ``UserWarning``.

    Args:
        func: the function (default None: return a decorator).
        reduce_retracing: accepted for TensorFlow compatibility (default False); each input
            shape still has its own record.
        jit_compile: accepted and ignored (default None): there is no compiler.
        **kwargs: ``autograph`` and ``input_signature`` are accepted and ignored (TensorFlow's).

    Returns:
        A ``RecordedFunction`` (or a decorator that makes one).

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> opt = tg.optimizers.SGD(0.1)
        >>> @tg.function
        ... def train_step(x, y):
        ...     with tg.GradientTape() as tape:
        ...         loss = tg.reduce_mean(tg.square(model(x, training=True) - y))
        ...     grads = tape.gradient(loss, model.trainable_weights)
        ...     opt.apply_gradients(zip(grads, model.trainable_weights))
        ...     return loss
        >>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
        >>> losses = [float(train_step(x, y)) for _ in range(3)]
        >>> train_step.recorded, train_step.replayed, losses[2] < losses[0]
        (1, 2, True)
    """
    unknown = set(kwargs) - {"autograph", "input_signature", "experimental_relax_shapes", "name"}
    if unknown:
        raise TypeError(f"tg.function: unexpected keyword arguments {sorted(unknown)}")
    if func is None:
        return lambda f: function(f, reduce_retracing=reduce_retracing, jit_compile=jit_compile)
    if not callable(func):
        raise TypeError(f"tg.function: expected a callable, received {type(func).__name__} {func!r:.60}")
    return RecordedFunction(func, reduce_retracing=reduce_retracing, jit_compile=jit_compile)


__all__ = ["function", "RecordedFunction"]
