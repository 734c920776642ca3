"""A functional model's config, as Keras writes it, and the graph rebuilt from one.

Each layer is saved with its class, its config and its ``inbound_nodes``: the calls that
connect it, whose symbolic arguments are written ``{"class_name": "__keras_tensor__",
"config": {"shape", "dtype", "keras_history": [layer name, node index, tensor index]}}``.
Rebuilding instantiates only registered classes (``saving.registry``) and calls them on
symbolic tensors again: nothing from the file is executed.
"""

from __future__ import annotations

from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor, flatten, map_structure

_TENSOR = "__keras_tensor__"
_PLAIN = (type(None), bool, int, float, str)


def _class_name(layer) -> str:
    return getattr(type(layer), "_registered_name", type(layer).__name__)


def model_nodes(model) -> dict:
    """Each layer's calls in this model (by the layer's id), in the order the graph runs them,
    and each call's index among its layer's: what ``[layer name, node index, tensor index]`` counts.
    A valid order to call the layers again in, whatever other graphs the layers are part of."""
    per_layer: dict = {}
    for node in [t.node for t in model._input_tensors] + list(model._nodes):
        per_layer.setdefault(id(node.layer), []).append(node)
    return per_layer


def functional_config(model) -> dict:
    per_layer = model_nodes(model)
    node_index = {id(n): i for nodes in per_layer.values() for i, n in enumerate(nodes)}

    def history(t: KerasTensor) -> list:
        return [t.node.layer.name, node_index[id(t.node)], t.index]

    def arg(value):
        if isinstance(value, KerasTensor):
            return {"class_name": _TENSOR, "config": {"shape": list(value.shape), "dtype": value.dtype.name,
                                                      "keras_history": history(value)}}
        if isinstance(value, _PLAIN):
            return value
        raise ValueError(f"Model '{model.name}': cannot save a layer call with the argument {value!r} "
                         f"(only symbolic tensors, numbers, strings and None are saved)")

    layers = []
    for layer in model._layers:
        nodes = [n for n in per_layer.get(id(layer), []) if not n.is_input]
        inbound = []
        for node in nodes:
            inputs, args, kwargs = node.arguments
            inbound.append({"args": [map_structure(arg, inputs)] + [map_structure(arg, a) for a in args],
                            "kwargs": {k: map_structure(arg, v) for k, v in kwargs.items()}})
        layers.append({"class_name": _class_name(layer), "config": layer.get_config(), "name": layer.name,
                       "inbound_nodes": inbound})
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(history, model._inputs_struct),
            "output_layers": map_structure(history, model._outputs_struct)}


def _corrupt(what: str):
    return ValueError(f"corrupt functional model config: {what}")


def _refs(structure):
    """``structure`` of ``[name, node, index]`` references (one, a list, or a dict), checked."""
    if _is_ref(structure):
        return structure
    if isinstance(structure, dict):
        return {k: _refs(v) for k, v in structure.items()}
    if isinstance(structure, list) and structure and all(_is_ref(r) for r in structure):
        return structure
    raise _corrupt(f"expected [layer name, node index, tensor index] references, received {structure!r}")


def _is_ref(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]))


def functional_from_config(config: dict, custom_objects=None):
    """``(inputs, outputs, name, trainable)`` of the graph that ``config`` describes."""
    from ..saving.registry import deserialize_layer

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise _corrupt(f"expected a dict with a list of 'layers', received {type(config).__name__}")
    layers, pending = {}, {}
    for spec in config["layers"]:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or \
                not isinstance(spec.get("inbound_nodes", []), list):
            raise _corrupt(f"a layer entry must be a dict with a 'name' and a list of 'inbound_nodes', received "
                           f"{spec!r}")
        if spec["name"] in layers:
            raise _corrupt(f"the layer name {spec['name']!r} appears twice")
        layer = deserialize_layer({"class_name": spec.get("class_name"), "config": spec.get("config", {})},
                                  custom_objects)
        layers[spec["name"]] = layer
        pending[spec["name"]] = list(spec.get("inbound_nodes", []))
    made: dict = {}  # (layer name, node index) -> the node's outputs, flat
    counts = {}
    for name, layer in layers.items():
        if isinstance(layer, InputLayer):
            made[(name, 0)] = layer._inbound_nodes[0].outputs
            counts[name] = 1
        else:
            counts[name] = 0

    def lookup(ref):
        outs = made.get((ref[0], ref[1]))
        if outs is None or not 0 <= ref[2] < len(outs):
            raise KeyError(tuple(ref))
        return outs[ref[2]]

    def decode(value):
        if isinstance(value, dict) and value.get("class_name") == _TENSOR:
            ref = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            if not _is_ref(ref):
                raise _corrupt(f"a tensor reference must name [layer, node, index], received {value!r}")
            return lookup(ref)
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, _PLAIN):
            return value
        raise _corrupt(f"unexpected argument {value!r}")

    # Each layer's calls in their saved order, a layer waiting while its next call's inputs are not
    # made yet: the earliest call not made always has its inputs, so this ends.
    while any(pending.values()):
        progress = False
        for name, queue in pending.items():
            while queue:
                node = queue[0]
                if not isinstance(node, dict) or not isinstance(node.get("args", []), list) or not node.get("args") \
                        or not isinstance(node.get("kwargs", {}), dict):
                    raise _corrupt(f"layer {name!r} has a call entry {node!r}; expected {{'args': [...], "
                                   f"'kwargs': {{...}}}}")
                try:
                    args = decode(node["args"])
                    kwargs = decode(node.get("kwargs", {}))
                except KeyError:
                    break
                outputs = layers[name](args[0], *args[1:], **kwargs)
                made[(name, counts[name])] = flatten(outputs)
                counts[name] += 1
                queue.pop(0)
                progress = True
        if not progress:
            waiting = {n: q[0] for n, q in pending.items() if q}
            raise _corrupt(f"the calls of {sorted(waiting)} refer to tensors that no layer makes")

    def resolve(ref):
        try:
            return lookup(ref)
        except KeyError as exc:
            raise _corrupt(f"the model's inputs or outputs refer to {exc.args[0]}, which no layer makes") from None

    inputs = _resolve_refs(_refs(config.get("input_layers")), resolve)
    outputs = _resolve_refs(_refs(config.get("output_layers")), resolve)
    return inputs, outputs, config.get("name"), bool(config.get("trainable", True))


def _resolve_refs(refs, resolve):
    if _is_ref(refs):
        return resolve(refs)
    if isinstance(refs, dict):
        return {k: resolve(v) for k, v in refs.items()}
    return [resolve(r) for r in refs]


__all__: list[str] = []  # used by the training loop and Functional, not a public API
