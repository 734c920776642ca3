"""Export a trained model to ONNX, for ONNX Runtime and the other engines that read it.

The graph is built with the ``onnx`` package's helpers, one converter per layer class:
each converter receives the names of its inputs in the graph and returns the name of
its output. Weights become initializers; the batch dimension stays dynamic. Layers
are exported in their inference form (Dropout is the identity, BatchNormalization uses
its moving statistics), as ``predict`` runs them.
"""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from .. import activations as _act
from .._extras import require_onnx
from ..layers import (Activation, Add, Average, AveragePooling1D, AveragePooling2D, BatchNormalization, Concatenate,
                      Conv1D, Conv2D, Dense, Dot, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, Identity, InputLayer,
                      LayerNormalization, Masking, Maximum, MaxPooling1D, MaxPooling2D, Minimum, Multiply, Normalization,
                      Permute, RepeatVector, Reshape, Subtract, UpSampling2D, ZeroPadding2D)
from ..layers.base import Layer
from ..ops.conv import same_padding
from ..saving.atomic import atomic_path
from ..saving.registry import builtin_classes

OPSET = 17
"""The ONNX opset of exported graphs (ONNX 1.12 and later, ONNX Runtime 1.12 and later)."""


class _Graph:
    """The nodes, weights and names of the graph being built."""

    def __init__(self, onnx, reserved=()) -> None:
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0
        self._reserved = set(reserved)  # the graph's input and output names

    def name(self, hint: str) -> str:
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self._reserved:
                return name

    def const(self, value, hint: str = "const", dtype=np.float32) -> str:
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], **attrs))
        return out


# -- activations ------------------------------------------------------------------------
def _gelu(g: _Graph, x: str) -> str:
    # Keras 3's default gelu is the exact form: 0.5 x (1 + erf(x / sqrt 2))
    erf = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0))])])
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5)]), g.op("Add", [erf, g.const(1.0)])])


_ACTIVATIONS: dict[str, Callable[[_Graph, str], str]] = {
    "linear": lambda g, x: x,
    "relu": lambda g, x: g.op("Relu", [x]),
    "sigmoid": lambda g, x: g.op("Sigmoid", [x]),
    "tanh": lambda g, x: g.op("Tanh", [x]),
    "softmax": lambda g, x: g.op("Softmax", [x], axis=-1),
    "log_softmax": lambda g, x: g.op("LogSoftmax", [x], axis=-1),
    "elu": lambda g, x: g.op("Elu", [x], alpha=1.0),
    "selu": lambda g, x: g.op("Selu", [x], alpha=1.6732632423543772, gamma=1.0507009873554805),
    "softplus": lambda g, x: g.op("Softplus", [x]),
    "softsign": lambda g, x: g.op("Softsign", [x]),
    "leaky_relu": lambda g, x: g.op("LeakyRelu", [x], alpha=0.2),
    "gelu": _gelu,
    "swish": lambda g, x: g.op("Mul", [x, g.op("Sigmoid", [x])]),
    "hard_sigmoid": lambda g, x: g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5),
}


def _activation(g: _Graph, fn, x: str, owner: Layer) -> str:
    try:
        name = _act.serialize(fn)
    except (ValueError, KeyError, TypeError):
        name = None
    if name not in _ACTIVATIONS:
        raise ValueError(f"ONNX export: layer '{owner.name}' uses activation {fn!r}, which has no ONNX form; "
                         f"supported: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name](g, x)


# -- layers -----------------------------------------------------------------------------
def _w(var) -> np.ndarray:
    return np.asarray(var.data)


def _dense(g: _Graph, layer: Dense, x: str, shape) -> str:
    y = g.op("MatMul", [x, g.const(_w(layer.kernel), "kernel")])
    if layer.use_bias:
        y = g.op("Add", [y, g.const(_w(layer.bias), "bias")])
    return _activation(g, layer.activation, y, layer)


def _pad_attrs(padding: str, sizes, kernel, strides, dilation) -> dict:
    """ONNX's padding attributes for a window layer: explicit begin and end pads from
    ``same_padding`` (the odd extra cell at the end, as the layer pads), or ``SAME_UPPER``,
    the same rule, where a size is unknown."""
    if padding == "valid":
        return {"pads": [0] * (2 * len(kernel))}
    if any(n is None for n in sizes):
        return {"auto_pad": "SAME_UPPER"}
    pairs = [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, strides, dilation)]
    return {"pads": [lo for lo, _ in pairs] + [hi for _, hi in pairs]}


def _conv2d(g: _Graph, layer: Conv2D, x: str, shape) -> str:
    last = layer.data_format == "channels_last"
    sizes = shape[1:3] if last else shape[2:4]
    if last:
        x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    kernel = _w(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    inputs = [x, g.const(kernel, "kernel")] + ([g.const(_w(layer.bias), "bias")] if layer.use_bias else [])
    y = g.op("Conv", inputs, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate),
             **_pad_attrs(layer.padding, sizes, layer.kernel_size, layer.strides, layer.dilation_rate))
    y = _activation(g, layer.activation, y, layer)  # element-wise: the same in either layout
    return g.op("Transpose", [y], perm=[0, 2, 3, 1]) if last else y


def _conv1d(g: _Graph, layer: Conv1D, x: str, shape) -> str:
    last = layer.data_format_1d == "channels_last"
    if last:
        x = g.op("Transpose", [x], perm=[0, 2, 1])
    steps = shape[1] if last else shape[2]
    k, s, d = layer.kernel_size[1], layer.strides[1], layer.dilation_rate[1]
    kernel = _w(layer.kernel)[0].transpose(2, 1, 0)  # (1, k, in, out) -> (out, in, k)
    inputs = [x, g.const(kernel, "kernel")] + ([g.const(_w(layer.bias), "bias")] if layer.use_bias else [])
    y = g.op("Conv", inputs, kernel_shape=[k], strides=[s], dilations=[d],
             **_pad_attrs(layer.padding, [steps], [k], [s], [d]))
    y = _activation(g, layer.activation, y, layer)
    return g.op("Transpose", [y], perm=[0, 2, 1]) if last else y


def _pool2d(g: _Graph, layer, x: str, shape) -> str:
    last = layer.data_format == "channels_last"
    sizes = shape[1:3] if last else shape[2:4]
    if last:
        x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    attrs = _pad_attrs(layer.padding, sizes, layer.pool_size, layer.strides, (1, 1))
    if isinstance(layer, MaxPooling2D):
        y = g.op("MaxPool", [x], kernel_shape=list(layer.pool_size), strides=list(layer.strides), **attrs)
    else:  # Keras's average over "same" windows counts only the cells inside the image
        y = g.op("AveragePool", [x], kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                 count_include_pad=0, **attrs)
    return g.op("Transpose", [y], perm=[0, 2, 3, 1]) if last else y


def _global_pool(g: _Graph, layer, x: str, shape) -> str:
    axes = [2, 3] if layer.data_format == "channels_first" else [1, 2]
    op = "ReduceMax" if isinstance(layer, GlobalMaxPooling2D) else "ReduceMean"
    return g.op(op, [x], axes=axes, keepdims=int(bool(layer.keepdims)))


def _reshape(g: _Graph, layer: Reshape, x: str, shape) -> str:
    return g.op("Reshape", [x, g.const([0] + list(layer.target_shape), "shape", np.int64)])


def _flatten(g: _Graph, layer: Flatten, x: str, shape) -> str:
    return g.op("Flatten", [x], axis=1)


def _batch_norm(g: _Graph, layer: BatchNormalization, x: str, shape) -> str:
    # The inference form, operation by operation as BatchNormalization.call computes it,
    # so that ONNX Runtime's float32 results round as predict's do.
    bshape = [1] * len(shape)
    axis = layer.axis % len(shape)
    bshape[axis] = -1
    mean = _w(layer.moving_mean).reshape(bshape)
    std = np.sqrt(_w(layer.moving_variance).reshape(bshape) + np.float32(layer.epsilon))
    y = g.op("Div", [g.op("Sub", [x, g.const(mean, "moving_mean")]), g.const(std, "moving_std")])
    if layer.scale:
        y = g.op("Mul", [y, g.const(_w(layer.gamma).reshape(bshape), "gamma")])
    if layer.center:
        y = g.op("Add", [y, g.const(_w(layer.beta).reshape(bshape), "beta")])
    return y


def _normalization(g: _Graph, layer: Normalization, x: str, shape) -> str:
    std = np.sqrt(np.maximum(_w(layer.variance), np.float32(1e-7)))
    return g.op("Div", [g.op("Sub", [x, g.const(_w(layer.mean), "mean")]), g.const(std, "std")])


def _zero_padding(g: _Graph, layer: ZeroPadding2D, x: str, shape) -> str:
    (t, b), (l, r) = layer.padding
    if layer.data_format == "channels_last":
        pads = [0, t, l, 0, 0, b, r, 0]
    else:
        pads = [0, 0, t, l, 0, 0, b, r]
    return g.op("Pad", [x, g.const(pads, "pads", np.int64)], mode="constant")


def _upsampling(g: _Graph, layer: UpSampling2D, x: str, shape) -> str:
    sh, sw = layer.size
    last = layer.data_format == "channels_last"
    if not last:
        x = g.op("Transpose", [x], perm=[0, 2, 3, 1])
    _, h, w, c = shape if last else (shape[0], shape[2], shape[3], shape[1])
    y = g.op("Reshape", [x, g.const([0, h, 1, w, 1, c], "shape", np.int64)])
    y = g.op("Expand", [y, g.const([1, 1, sh, 1, sw, 1], "shape", np.int64)])
    y = g.op("Reshape", [y, g.const([0, h * sh, w * sw, c], "shape", np.int64)])
    return y if last else g.op("Transpose", [y], perm=[0, 3, 1, 2])


def _embedding(g: _Graph, layer: Embedding, x: str, shape) -> str:
    ids = g.op("Cast", [x], to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [g.const(_w(layer.embeddings), "embeddings"), ids], axis=0)


def _passthrough(g: _Graph, layer, x: str, shape) -> str:
    return x


def _activation_layer(g: _Graph, layer: Activation, x: str, shape) -> str:
    return _activation(g, layer.activation, x, layer)


def _axes(g: _Graph, axes) -> str:
    return g.const(list(axes), "axes", np.int64)


def _layer_norm(g: _Graph, layer: LayerNormalization, x: str, shape) -> str:
    # operation by operation as LayerNormalization.call, over any set of axes
    axes = list(layer._reduce)
    mean = g.op("ReduceMean", [x], axes=axes, keepdims=1)
    centered = g.op("Sub", [x, mean])
    var = g.op("ReduceMean", [g.op("Mul", [centered, centered])], axes=axes, keepdims=1)
    y = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.const(layer.epsilon)])])])
    if layer.scale:
        y = g.op("Mul", [y, g.const(_w(layer.gamma).reshape(layer._bshape), "gamma")])
    if layer.center:
        y = g.op("Add", [y, g.const(_w(layer.beta).reshape(layer._bshape), "beta")])
    return y


def _pool1d(g: _Graph, layer, x: str, shape) -> str:
    last = layer.data_format == "channels_last"
    if last:
        x = g.op("Transpose", [x], perm=[0, 2, 1])
    steps = shape[1] if last else shape[2]
    attrs = _pad_attrs(layer.padding, [steps], [layer.pool_size], [layer.strides], [1])
    if isinstance(layer, MaxPooling1D):
        y = g.op("MaxPool", [x], kernel_shape=[layer.pool_size], strides=[layer.strides], **attrs)
    else:
        y = g.op("AveragePool", [x], kernel_shape=[layer.pool_size], strides=[layer.strides],
                 count_include_pad=0, **attrs)
    return g.op("Transpose", [y], perm=[0, 2, 1]) if last else y


def _global_pool1d(g: _Graph, layer, x: str, shape) -> str:
    axis = 1 if layer.data_format == "channels_last" else 2
    op = "ReduceMax" if isinstance(layer, GlobalMaxPooling1D) else "ReduceMean"
    return g.op(op, [x], axes=[axis], keepdims=int(layer.keepdims))


def _repeat_vector(g: _Graph, layer: RepeatVector, x: str, shape) -> str:
    y = g.op("Unsqueeze", [x, _axes(g, [1])])
    return g.op("Expand", [y, g.const([1, layer.n, 1], "shape", np.int64)])


def _permute(g: _Graph, layer: Permute, x: str, shape) -> str:
    return g.op("Transpose", [x], perm=[0] + list(layer.dims))


def _merge_inputs(g: _Graph, xs: list, shapes: list) -> list:
    """As the merge layers: inputs of lower rank get axes inserted after the batch axis."""
    rank = max(len(s) for s in shapes)
    out = []
    for x, s in zip(xs, shapes):
        if len(s) < rank:
            x = g.op("Unsqueeze", [x, _axes(g, range(1, 1 + rank - len(s)))])
        out.append(x)
    return out


def _fold(op: str):
    def convert(g: _Graph, layer, xs: list, shapes: list) -> str:
        xs = _merge_inputs(g, xs, shapes)
        out = xs[0]
        for x in xs[1:]:  # pairwise, in order, as the layer computes it
            out = g.op(op, [out, x])
        return out

    return convert


def _average(g: _Graph, layer: Average, xs: list, shapes: list) -> str:
    return g.op("Div", [_fold("Add")(g, layer, xs, shapes), g.const(float(len(xs)))])


def _subtract(g: _Graph, layer: Subtract, xs: list, shapes: list) -> str:
    a, b = _merge_inputs(g, xs, shapes)
    return g.op("Sub", [a, b])


def _concatenate(g: _Graph, layer: Concatenate, xs: list, shapes: list) -> str:
    return g.op("Concat", list(xs), axis=layer.axis)


def _l2_normalize(g: _Graph, x: str, axis: int) -> str:
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [x, x]), _axes(g, [axis])], keepdims=1)])
    return g.op("Div", [x, g.op("Max", [norm, g.const(1e-7)])])


def _dot(g: _Graph, layer: Dot, xs: list, shapes: list) -> str:
    (s1, s2), (x, y) = shapes, xs
    _, _, (ax, ay) = layer._resolve([s1, s2])
    if layer.normalize:
        x, y = _l2_normalize(g, x, ax), _l2_normalize(g, y, ay)
    # as Dot.call: x with its dot axis last, y with its dot axis first (after the batch), one product per sample
    px = [i for i in range(len(s1)) if i != ax] + [ax]
    py = [0, ay] + [i for i in range(1, len(s2)) if i != ay]
    rest_x = [s1[i] for i in px[1:-1]]
    rest_y = [s2[i] for i in py[2:]]
    d = s1[ax]
    x = g.op("Reshape", [g.op("Transpose", [x], perm=px),
                         g.const([0, int(np.prod(rest_x)), d], "shape", np.int64)])
    y = g.op("Reshape", [g.op("Transpose", [y], perm=py),
                         g.const([0, d, int(np.prod(rest_y))], "shape", np.int64)])
    out_shape = [0] + rest_x + rest_y
    return g.op("Reshape", [g.op("MatMul", [x, y]),
                            g.const(out_shape if len(out_shape) > 1 else [0, 1], "shape", np.int64)])


MERGE_CONVERTERS: dict[type, Callable] = {
    Add: _fold("Add"), Multiply: _fold("Mul"), Maximum: _fold("Max"), Minimum: _fold("Min"), Average: _average,
    Subtract: _subtract, Concatenate: _concatenate, Dot: _dot,
}
"""Converters of the layers called on a list of tensors: ``(graph, layer, input_names, input_shapes) -> output_name``."""

CONVERTERS: dict[type, Callable] = {
    Dense: _dense, Conv2D: _conv2d, Conv1D: _conv1d, MaxPooling2D: _pool2d, AveragePooling2D: _pool2d,
    GlobalAveragePooling2D: _global_pool, GlobalMaxPooling2D: _global_pool, Reshape: _reshape, Flatten: _flatten,
    BatchNormalization: _batch_norm, Normalization: _normalization, ZeroPadding2D: _zero_padding,
    UpSampling2D: _upsampling, Embedding: _embedding, Dropout: _passthrough, InputLayer: _passthrough,
    Activation: _activation_layer, LayerNormalization: _layer_norm, MaxPooling1D: _pool1d,
    AveragePooling1D: _pool1d, GlobalAveragePooling1D: _global_pool1d, GlobalMaxPooling1D: _global_pool1d,
    RepeatVector: _repeat_vector, Permute: _permute, Identity: _passthrough,
}
"""One converter per built-in layer class: ``(graph, layer, input_name, input_shape) -> output_name``."""


# -- models ---------------------------------------------------------------------------
def _model_class(name: str):
    return builtin_classes().get(name)


def _unsupported(layer: Layer) -> ValueError:
    names = sorted(c.__name__ for c in list(CONVERTERS) + list(MERGE_CONVERTERS))
    return ValueError(f"ONNX export: layer '{layer.name}' of type {type(layer).__name__} is not supported; "
                      f"supported layers: {names}, and Sequential and functional models of them")


def _emit(g: _Graph, layer: Layer, xs, shapes):
    """Emit ``layer`` applied to the graph values ``xs`` (a name, or a list of names for a layer
    called on a list) of ``shapes`` (batch axis ``None``); return its outputs and their shapes."""
    if isinstance(layer, Masking) or (isinstance(layer, Embedding) and layer.mask_zero):
        raise ValueError(f"ONNX export: layer '{layer.name}' makes a mask, and masks are not exported "
                         f"(use Embedding(mask_zero=False) for an exported model)")
    if type(layer) is _model_class("Sequential"):
        for inner in layer.layers:
            xs, shapes = _emit(g, inner, xs, shapes)
        return xs, shapes
    if type(layer) is _model_class("Functional"):
        return _emit_functional(g, layer, xs if isinstance(xs, list) else [xs])
    if type(layer) in MERGE_CONVERTERS:
        return MERGE_CONVERTERS[type(layer)](g, layer, list(xs), list(shapes)), \
            tuple(layer.compute_output_shape(list(shapes)))
    convert = CONVERTERS.get(type(layer))
    if convert is None:
        raise _unsupported(layer)
    return convert(g, layer, xs, shapes), tuple(layer.compute_output_shape(shapes))


def _emit_functional(g: _Graph, model, xs: list) -> tuple:
    """The nodes of a functional model in its own order, its inputs bound to ``xs``; returns its
    outputs (a list when it has several) and their shapes."""
    values = {id(t): x for t, x in zip(model._input_tensors, xs)}
    for node in model._nodes:
        args, call_args, kwargs = node.arguments
        if call_args or set(kwargs) - {"training", "mask"}:
            raise ValueError(f"ONNX export: layer '{node.layer.name}' is called with extra arguments "
                             f"{list(call_args) + sorted(kwargs)}; only the layer's inputs are exported")
        many = isinstance(args, (list, tuple))
        ins = [values[id(t)] for t in node.inputs]
        shapes = [t.shape for t in node.inputs]
        out, _ = _emit(g, node.layer, ins if many else ins[0], shapes if many else shapes[0])
        outs = out if isinstance(out, list) else [out]
        for t, name in zip(node.outputs, outs):
            values[id(t)] = name
    outs = [values[id(t)] for t in model._output_tensors]
    shapes = [t.shape for t in model._output_tensors]
    return (outs, shapes) if len(outs) > 1 else (outs[0], shapes[0])


def _signature(model) -> tuple[list, list]:
    """``[(name, shape, dtype)]`` of the model's inputs, and its outputs' names."""
    if type(model) is _model_class("Functional"):
        ins = [(name, t.shape, t.dtype) for name, t in zip(model.input_names, model._input_tensors)]
        return ins, list(model.output_names)
    spec = getattr(model, "_input_layer", None)
    if spec is None or not model.built:
        raise ValueError(f"ONNX export: model '{model.name}' has no known input shape; build it first "
                         "(give it a tg.Input, call it on data, or call model.build(input_shape))")
    return [("input", (None,) + tuple(spec.shape), spec.dtype)], ["output"]


def to_onnx(model, opset: int = OPSET):
    """The model as an ``onnx.ModelProto``, checked with ``onnx.checker``.

    Args:
        model: a ``Sequential`` or functional model of the supported layers (``CONVERTERS`` and
            ``MERGE_CONVERTERS``), possibly nested.
        opset: the ONNX opset to declare (default ``OPSET``, 17; the graph uses operators of
            opset 13 to 17).

    The graph's inputs are named as the model's inputs (``"input"`` for a ``Sequential``
    model), its outputs as the model's outputs (``"output"``); the batch dimension is
    dynamic (``"batch"``).

    Example:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2, activation="relu")])
        >>> proto = tg.export.to_onnx(model)
        >>> [n.op_type for n in proto.graph.node]
        ['MatMul', 'Add', 'Relu', 'Identity']
    """
    onnx = require_onnx()
    if type(model) not in (_model_class("Sequential"), _model_class("Functional")):
        raise ValueError(f"ONNX export: expected a Sequential or functional model, received {type(model).__name__}")
    ins, out_names = _signature(model)
    g = _Graph(onnx, reserved=[name for name, _, _ in ins] + out_names)
    xs = [name for name, _, _ in ins]
    if type(model) is _model_class("Functional"):
        outs, shapes = _emit_functional(g, model, xs)
    else:
        outs, shapes = _emit(g, model, xs[0], ins[0][1])
    outs, shapes = (outs, shapes) if isinstance(outs, list) else ([outs], [shapes])
    out_elem = onnx.helper.np_dtype_to_tensor_dtype(model.dtype)
    outputs = []
    for name, value, shape in zip(out_names, outs, shapes):
        g.nodes.append(onnx.helper.make_node("Identity", [value], [name]))
        outputs.append(onnx.helper.make_tensor_value_info(name, out_elem, ["batch"] + [
            None if s is None else int(s) for s in shape[1:]]))
    inputs = [onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                                 ["batch"] + [None if s is None else int(s) for s in shape[1:]])
              for name, shape, dtype in ins]
    graph = onnx.helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="tapegrad")
    proto.ir_version = min(proto.ir_version, 8)  # readable by ONNX Runtime releases since 1.12
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, filepath: str | os.PathLike, opset: int = OPSET) -> None:
    """Write ``model`` as an ONNX file, atomically; see :func:`to_onnx`.

    Args:
        model: a ``Sequential`` or functional model of the supported layers.
        filepath: where to write the ``.onnx`` file.
        opset: the ONNX opset to declare (default ``OPSET``).

    Example:
        >>> import tapegrad as tg, tempfile, os
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        >>> tg.export.export_onnx(model, path)
        >>> os.path.getsize(path) > 0
        True
    """
    data = to_onnx(model, opset).SerializeToString()
    with atomic_path(os.fspath(filepath)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
