"""Functional models: ``tg.Model(inputs, outputs)``, a graph of layers, as Keras's functional API.

The graph is what calling layers on symbolic tensors recorded (``layers.symbolic``): each
call a ``Node``. ``Functional`` walks those nodes back from the outputs to the inputs once,
at construction, checking that every output depends only on the given inputs and every
input is used, and keeps them in topological order; calling the model runs them in that
order (a loop, no recursion), each layer's real outputs feeding the nodes that use them.
A layer used by several nodes is shared: one set of weights. Masks travel with the
tensors (``_keras_mask``), so an ``Embedding(mask_zero=True)`` masks a pooling downstream.
"""

from __future__ import annotations

import numpy as np

from ..autodiff.tensor import Tensor
from ..layers.base import Layer
from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor, flatten, map_structure
from .model import Model


def _structure(value, what: str):
    """A single KerasTensor, a list of them or a dict of them, checked."""
    if isinstance(value, tuple):
        value = list(value)
    leaves = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
    if not leaves:
        raise ValueError(f"Model: {what} must not be empty")
    for leaf in leaves:
        if not isinstance(leaf, KerasTensor):
            raise ValueError(f"Model: {what} must be symbolic tensors (from tg.Input and layer calls on them), "
                             f"received {type(leaf).__name__}: {leaf!r}")
    return value


def _graph(inputs: list, outputs: list):
    """The nodes between ``inputs`` and ``outputs`` in topological order (an explicit stack,
    no recursion), or a ValueError for an output that needs a tensor which is not an input,
    or an input that no output uses."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}  # state: 1 while a node's inputs are being visited, 2 once it is placed
    used_inputs = set()
    for out in outputs:
        if id(out) in input_ids:
            used_inputs.add(id(out))
            continue
        stack = [(out.node, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if state.get(id(node)) != 2:
                    state[id(node)] = 2
                    order.append(node)
                continue
            if id(node) in state:
                continue
            state[id(node)] = 1
            stack.append((node, True))
            for t in reversed(node.inputs):
                if id(t) in input_ids:
                    used_inputs.add(id(t))
                    continue
                if t.node.is_input:
                    raise ValueError(
                        f"Model: the graph is disconnected: an output depends on input '{t.node.layer.name}' "
                        f"(shape {t.shape}), which is not among the model's inputs "
                        f"{[i.node.layer.name for i in inputs]}")
                if id(t.node) not in state:
                    stack.append((t.node, False))
    for t in inputs:
        if id(t) not in used_inputs:
            raise ValueError(f"Model: input '{t.node.layer.name}' (shape {t.shape}) is not used by any of the "
                             f"outputs; expected every input to reach an output")
    return order


class Functional(Model):
    """A model defined by its inputs and outputs: ``tg.Model(inputs, outputs, name=None)``.

    Args:
        inputs: a symbolic tensor from ``tg.Input``, a list of them, or a dict of them
            (named inputs: data is then given as a dict with the same keys).
        outputs: symbolic tensors computed from ``inputs`` by calling layers: one, a list,
            or a dict (named outputs: losses, metrics and targets can be keyed by name).
        name: the model's name (default None: a unique one, ``"functional"``, ``"functional_1"``, ...).
        trainable: whether the model's weights are trained (default True); False freezes all
            its layers, as setting ``model.trainable = False`` later does.
        **kwargs: the base ``Layer``'s other arguments (``dtype``).

    The model is a layer: it can be called on data or on new symbolic tensors, and used
    inside another functional model or a ``Sequential`` one. A layer called on two
    different tensors is shared: one set of weights. Differs from Keras: there is no
    ``Lambda`` layer; write a small ``tg.layers.Layer`` subclass for a custom computation.

    Example (Keras's functional API guide, with ``keras`` replaced by ``tapegrad``):
        >>> import tapegrad as tg
        >>> inputs = tg.Input(shape=(784,))
        >>> x = tg.layers.Dense(64, activation="relu")(inputs)
        >>> x = tg.layers.Dense(64, activation="relu")(x)
        >>> outputs = tg.layers.Dense(10)(x)
        >>> model = tg.Model(inputs=inputs, outputs=outputs, name="mnist_model")
        >>> model.output_shape, model.count_params()
        ((None, 10), 55050)
        >>> model(tg.ones((2, 784))).shape
        (2, 10)
    """

    def __init__(self, inputs, outputs, name: str | None = None, trainable: bool = True, **kwargs) -> None:
        inputs = _structure(inputs, "inputs")
        outputs = _structure(outputs, "outputs")
        flat_in, flat_out = flatten(inputs), flatten(outputs)
        names = {}
        for t in flat_in:
            if t.node is None or not t.node.is_input:
                raise ValueError(f"Model: inputs must come from tg.Input (symbolic tensors with no layer before "
                                 f"them), received {t!r} made by layer '{t.node.layer.name}'")
            layer_name = t.node.layer.name
            if layer_name in names:
                raise ValueError(f"Model: two inputs have the same name {layer_name!r}; expected unique names "
                                 f"(tg.Input(..., name=...))")
            names[layer_name] = t
        if isinstance(inputs, dict):
            for key, t in inputs.items():
                if not isinstance(key, str):
                    raise ValueError(f"Model: the keys of a dict of inputs must be strings, received {key!r}")
        nodes = _graph(flat_in, flat_out)  # errors before any state is set
        seen_names: dict = {}
        for layer in [t.node.layer for t in flat_in] + [n.layer for n in nodes]:
            other = seen_names.setdefault(layer.name, layer)
            if other is not layer:
                raise ValueError(f"Model: the name {layer.name!r} is used by two different layers; expected unique "
                                 f"layer names in a model")
        super().__init__(name=name, trainable=trainable, **kwargs)
        object.__setattr__(self, "_inputs_struct", inputs)
        object.__setattr__(self, "_outputs_struct", outputs)
        object.__setattr__(self, "_input_tensors", flat_in)
        object.__setattr__(self, "_output_tensors", flat_out)
        object.__setattr__(self, "_nodes", [n for n in nodes if not n.is_input])
        layers = [t.node.layer for t in flat_in]
        for node in self._nodes:
            if not any(node.layer is l for l in layers):
                layers.append(node.layer)
        for layer in layers:
            if layer is self:
                raise ValueError(f"Model '{self.name}': a model cannot contain itself")
            self._layers.append(layer)
        if not trainable:
            self.trainable = False  # freezes the layers too, as setting it later would
        self._compile_plan()
        self.built = True
        shapes = [t.shape for t in flat_in]
        self._build_shape = shapes[0] if len(shapes) == 1 else shapes
        if len(flat_in) == 1 and flat_in[0].dtype.kind == "f":
            self._declared_input_shape = flat_in[0].shape[1:]  # so that Sequential([model, ...]) builds at once
        object.__setattr__(self, "_output_names", self._make_output_names())

    def _compile_plan(self) -> None:
        """Slots for the tensors: the run keeps values in a list, indexed as here."""
        slot = {id(t): i for i, t in enumerate(self._input_tensors)}
        plan = []
        for node in self._nodes:
            ins = [slot[id(t)] for t in node.inputs]
            outs = []
            for t in node.outputs:
                slot[id(t)] = len(slot)
                outs.append(slot[id(t)])
            plan.append((node, ins, outs))
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(self, "_n_slots", len(slot))
        object.__setattr__(self, "_output_slots", [slot[id(t)] for t in self._output_tensors])

    def _make_output_names(self) -> list[str]:
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        names, seen = [], {}
        for t in self._output_tensors:
            name = t.node.layer.name
            if name in seen:
                seen[name] += 1
                name = f"{name}_{seen[name]}"
            else:
                seen[name] = 0
            names.append(name)
        return names

    # -- properties ------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The layers, inputs first, then in the order the graph runs them (each once)."""
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._output_tensors)

    @property
    def input(self):
        """The inputs as given to the model: one symbolic tensor, a list or a dict."""
        return self._inputs_struct

    @property
    def output(self):
        """The outputs as given to the model: one symbolic tensor, a list or a dict."""
        return self._outputs_struct

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._inputs_struct, dict):
            return list(self._inputs_struct)
        return [t.node.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        """The names of the outputs: a dict's keys, else the names of the layers that make them."""
        return list(self._output_names)

    @property
    def input_shape(self):
        shapes = map_structure(lambda t: t.shape, self._inputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = map_structure(lambda t: t.shape, self._outputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    # -- running ---------------------------------------------------------------------------
    def _convert(self, inputs):
        return inputs  # each input is converted to its Input's dtype in call

    def _flatten_inputs(self, inputs) -> list:
        """The data for each input, in order, from a single value, a list or a dict."""
        expected = self._input_tensors
        names = self.input_names
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            extra = [k for k in inputs if k not in names]
            if missing or extra:
                raise ValueError(f"Model '{self.name}': expected inputs with the keys {names}, received the keys "
                                 f"{list(inputs)}")
            values = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)) and (len(expected) > 1 or isinstance(self._inputs_struct, list)):
            if len(inputs) != len(expected):
                raise ValueError(f"Model '{self.name}': expected {len(expected)} inputs {names}, received "
                                 f"{len(inputs)}")
            values = list(inputs)
        elif len(expected) != 1:
            raise ValueError(f"Model '{self.name}': expected {len(expected)} inputs {names} (as a list or a dict), "
                             f"received a single {type(inputs).__name__}")
        else:
            values = [inputs]
        out = []
        for spec, name, value in zip(expected, names, values):
            out.append(_as_input(value, spec, name, self.name))
        return out

    def call(self, inputs, training=None):
        values = [None] * self._n_slots
        values[:len(self._input_tensors)] = self._flatten_inputs(inputs)
        for node, ins, outs in self._plan:
            layer = node.layer
            if len(ins) == len(node.inputs) and node.inputs and not node.arguments[1] and not node.arguments[2] \
                    and node.arguments[0] is node.inputs[0]:
                args, call_args, kwargs = values[ins[0]], (), {}
            else:
                found = iter(values[i] for i in ins)
                swap = lambda v: next(found) if isinstance(v, KerasTensor) else v  # noqa: E731
                arguments = map_structure(swap, node.arguments)
                args, call_args, kwargs = arguments[0], arguments[1], dict(arguments[2])
            if layer._call_takes_training and "training" not in kwargs:
                kwargs["training"] = training
            result = layer(args, *call_args, **kwargs)
            flat = [result] if len(outs) == 1 and not isinstance(result, (list, tuple, dict)) else flatten(result)
            if len(flat) != len(outs):
                raise ValueError(f"Model '{self.name}': layer '{layer.name}' returned {len(flat)} outputs, its "
                                 f"symbolic call returned {len(outs)}")
            for i, v in zip(outs, flat):
                values[i] = v
        results = iter([values[i] for i in self._output_slots])
        return map_structure(lambda _: next(results), self._outputs_struct)

    def compute_output_spec(self, inputs, *args, **kwargs):
        """Symbolic outputs for a call on symbolic tensors: the model's own outputs' shapes, once the
        inputs are checked against its inputs."""
        self._flatten_inputs(inputs)  # the same checks as a call on data: a clear error for a mismatch
        fresh = iter([KerasTensor(t.shape, t.dtype) for t in self._output_tensors])
        return map_structure(lambda _: next(fresh), self._outputs_struct)

    def compute_output_shape(self, input_shape):
        return self.output_shape

    def _why_not_a_chain(self) -> str | None:
        cls = type(self)
        if cls.call is not Functional.call or cls.__call__ is not Layer.__call__:
            return f"{cls.__name__} is not a plain functional model"
        return None

    # -- summary -----------------------------------------------------------------------------
    def summary(self, print_fn=print, line_length: int | None = None) -> None:
        """Print each layer's output shape, parameters and what it is connected to, as Keras does."""
        from .functional_summary import summary_text

        print_fn(summary_text(self, line_length or 98))

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The graph as Keras writes it: each layer's config and the calls (``inbound_nodes``)
        that connect it, each input tensor named ``[layer name, node index, tensor index]``."""
        from .functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Functional":
        from .functional_config import functional_from_config

        inputs, outputs, name, trainable = functional_from_config(config, custom_objects)
        return cls(inputs, outputs, name=name, trainable=trainable)


def _as_input(value, spec: KerasTensor, name: str, model: str):
    """``value`` as a tensor for the input ``spec``: converted to its dtype and checked."""
    if isinstance(value, KerasTensor):
        data_shape = value.shape
    else:
        if not isinstance(value, Tensor):
            arr = np.asarray(value)
            if arr.dtype.kind in "fiub" and spec.dtype.kind == "f" and arr.dtype != spec.dtype:
                arr = arr.astype(spec.dtype)
            value = Tensor(arr)
        elif value.data.dtype != spec.dtype and value.data.dtype.kind == "f" and spec.dtype.kind == "f":
            from ..layers.base import get_mask, set_mask
            from ..ops import cast

            mask = get_mask(value)
            value = cast(value, spec.dtype)
            set_mask(value, mask)
        data_shape = value.shape
    if len(data_shape) != len(spec.shape) or any(
            s is not None and d is not None and s != d for s, d in zip(spec.shape, data_shape)):
        raise ValueError(f"Model '{model}': input '{name}' expected shape {spec.shape}, received shape "
                         f"{tuple(data_shape)}")
    return value


Model._functional_class = Functional  # what tg.Model(inputs, outputs) makes (Model.__new__)
__all__ = ["Functional"]
