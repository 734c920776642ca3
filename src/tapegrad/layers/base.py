"""``Layer``: weights made in ``build``, math done in ``call`` (Keras's split).

The first ``__call__`` builds the layer from the input's shape; later calls check
that the last dimension has not changed. Sub-layers and variables assigned as
attributes (also inside lists and dicts) are tracked automatically.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import re
from typing import Any

import numpy as np

from .. import initializers as _init
from .. import regularizers as _reg
from ..autodiff.tensor import Tensor, Variable
from ..backend import to_numpy
from .symbolic import KerasTensor, Node, is_shape, is_symbolic, probe_output_spec, shapes_of, spec_from_shapes

_COUNTS: dict[str, int] = {}

# While a model is rebuilt from a file, the bytes its weights may still take (see ``weight_budget``).
_WEIGHT_BUDGET: contextvars.ContextVar = contextvars.ContextVar("tapegrad_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(max_bytes: int, error):
    """Within the block, ``add_weight`` refuses, before allocating, a weight that would bring the
    total of the weights created in the block past ``max_bytes``: it raises
    ``error(requested_bytes, total_bytes)``. Loading a model uses it so that a config asking for
    ``units=10**9`` is refused instead of allocating gigabytes."""
    token = _WEIGHT_BUDGET.set([int(max_bytes), 0, error])
    try:
        yield
    finally:
        _WEIGHT_BUDGET.reset(token)


def _snake(name: str) -> str:
    """Keras's rule: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    n = _COUNTS.get(base, 0)
    _COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def get_mask(x):
    """The mask a layer attached to ``x`` (a boolean tensor of shape ``(batch, steps)``), or None."""
    if isinstance(x, (list, tuple)):
        masks = [get_mask(i) for i in x]
        return None if all(m is None for m in masks) else masks
    return getattr(x, "_keras_mask", None)


def set_mask(x, mask) -> None:
    """Attach ``mask`` to the tensor ``x`` (as Keras attaches ``_keras_mask``)."""
    if isinstance(x, Tensor):
        x._keras_mask = mask


class Layer:
    """Base class of layers and models.

    Args:
        name: a unique name (derived from the class name by default).
        trainable: whether the weights are updated by training.
        dtype: the dtype of weights and of float inputs (float32 by default);
            float inputs of another dtype are cast, as Keras does.

    Example (the lab's custom Dense layer):
        >>> import tapegrad as tg
        >>> class OurDenseLayer(tg.layers.Layer):
        ...     def __init__(self, n_output_nodes):
        ...         super().__init__()
        ...         self.n_output_nodes = n_output_nodes
        ...     def build(self, input_shape):
        ...         d = int(input_shape[-1])
        ...         self.W = self.add_weight("weight", shape=[d, self.n_output_nodes])
        ...         self.b = self.add_weight("bias", shape=[1, self.n_output_nodes])
        ...     def call(self, x):
        ...         return tg.sigmoid(tg.matmul(x, self.W) + self.b)
        >>> layer = OurDenseLayer(3)
        >>> layer.build((1, 2))
        >>> layer.call(tg.constant([[1.0, 2.0]])).shape
        (1, 3)
    """

    _call_takes_training = True
    _call_takes_mask = False
    supports_masking = False
    """True for a layer that passes a mask through (``compute_mask`` returns the input's mask),
    as Keras's ``supports_masking``; a layer that makes a mask overrides ``compute_mask``."""
    _checks_own_input = False
    """True for a layer whose ``call`` checks its input itself (a convolution, whose channels
    need not be the last axis); otherwise a built layer with weights checks the last axis."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_tapegrad_wrapped", False):
            @functools.wraps(build)
            def wrapped(self, *args, **kw):
                out = build(self, *args, **kw)
                self.built = True
                if args and self._build_shape is None:
                    self._build_shape = _shape_tuple(args[0])
                return out

            wrapped._tapegrad_wrapped = True
            cls.build = wrapped
        if cls.call is not Layer.call:  # Layer.call (which raises) takes anything: keep the defaults
            cls._call_takes_training = _accepts(cls.call, "training")
            cls._call_takes_mask = _accepts(cls.call, "mask")

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None, **kwargs) -> None:
        allowed = {"input_shape", "input_dim", "batch_input_shape", "activity_regularizer"}
        bad = set(kwargs) - allowed
        if bad:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(bad)}")
        self._tracked = {}  # attribute name -> the layers and weights found in its value
        self._layers = []
        self._own_weights = []
        self.built = False
        self._build_shape = None
        self._output_shape = None
        self._trainable = bool(trainable)
        self._losses = []
        self.name = name or unique_name(_snake(type(self).__name__))
        self.dtype = np.dtype(dtype or "float32")
        self.activity_regularizer = _reg.get(kwargs.get("activity_regularizer"))
        shape = kwargs.get("input_shape")
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs["input_dim"],)
        if shape is None and kwargs.get("batch_input_shape") is not None:
            shape = tuple(kwargs["batch_input_shape"])[1:]
        self._declared_input_shape = tuple(shape) if shape is not None else None

    # -- attribute tracking ---------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        items = [v for v in _walk(value) if isinstance(v, (Layer, Variable))]
        tracked = self.__dict__.get("_tracked")
        if tracked is None:
            if items:
                raise RuntimeError(
                    f"{type(self).__name__}: call super().__init__() before assigning layers or weights in __init__"
                )
            object.__setattr__(self, key, value)
            return
        old = tracked.pop(key, None)
        if old is not None:  # what the attribute held before stops being tracked
            for item in old:
                if isinstance(item, Layer) and item in self._layers:
                    self._layers.remove(item)
        if items and not key.startswith("__"):
            tracked[key] = items
            for item in items:
                if isinstance(item, Layer) and item is not self and not any(item is l for l in self._layers):
                    self._layers.append(item)
                elif isinstance(item, Variable) and not any(item is w for w in self._own_weights):
                    self._own_weights.append(item)
        object.__setattr__(self, key, value)

    # -- weights -------------------------------------------------------------------------
    def add_weight(self, *args, **kwargs) -> Variable:
        """Create and track a weight.

        Signature as Keras 3: ``add_weight(shape=None, initializer=None, dtype=None,
        trainable=True, regularizer=None, name=None)``. A string first argument is
        taken as the name, as older Keras code and the lab pass it:
        ``add_weight("weight", shape=[2, 3])``. The default initializer is
        ``"glorot_uniform"`` for floats, ``"zeros"`` otherwise.
        """
        if args and isinstance(args[0], str):
            if "name" in kwargs:
                raise TypeError(f"add_weight: name given twice ({args[0]!r} and {kwargs['name']!r})")
            kwargs["name"] = args[0]
            args = args[1:]
        return self._add_weight(*args, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True, regularizer=None,
                    name: str | None = None) -> Variable:
        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = np.dtype(dtype or self.dtype)
        budget = _WEIGHT_BUDGET.get()
        if budget is not None:
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            budget[1] += nbytes
            if budget[1] > budget[0]:
                raise budget[2](nbytes, budget[1])
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        init = _init.get(initializer)
        value = init(shape, dtype=dtype) if isinstance(init, _init.Initializer) else init(shape, dtype)
        var = Variable(value, dtype=dtype, trainable=trainable, name=name or f"variable_{len(self._own_weights)}")
        var.regularizer = _reg.get(regularizer)
        self._own_weights.append(var)
        return var

    def _all_weights(self, seen: set[int]) -> list[Variable]:
        out = []
        for w in self._own_weights:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        for layer in self._layers:
            out.extend(layer._all_weights(seen))
        return out

    @property
    def weights(self) -> list[Variable]:
        """All weights: this layer's own, then its sub-layers' (each once)."""
        return self._all_weights(set())

    @property
    def variables(self) -> list[Variable]:
        return self.weights

    @property
    def trainable_weights(self) -> list[Variable]:
        """The weights that training updates: those of trainable layers, each once."""
        out: list = []
        if self.trainable:
            self._collect_trainable(out, set())
        return out

    def _collect_trainable(self, out: list, seen: set) -> None:
        if not self._trainable:
            return
        for w in self._own_weights:
            if w.trainable and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        for layer in self._layers:
            layer._collect_trainable(out, seen)

    @property
    def trainable_variables(self) -> list[Variable]:
        return self.trainable_weights

    @property
    def non_trainable_weights(self) -> list[Variable]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        """Freeze or unfreeze this layer and its sub-layers (their weights stop recording)."""
        self._trainable = bool(flag)
        for layer in self._layers:
            layer.trainable = flag
        for w in self._own_weights:
            w.requires_grad = bool(flag) and w.trainable and w.dtype.kind == "f"

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays."""
        return [to_numpy(w.data).copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays (shapes are checked first)."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"{self.name}: set_weights expected a list of {len(own)} arrays, received {len(weights)}"
            )
        arrays = []
        for w, value in zip(own, weights):
            arr = np.asarray(value.numpy(copy=False) if isinstance(value, Tensor) else value)
            if arr.shape != w.shape:
                raise ValueError(
                    f"{self.name}: weight {w.name!r} has shape {w.shape}, received an array of shape {arr.shape}"
                )
            arrays.append(arr)
        for w, arr in zip(own, arrays):
            w.assign(arr)

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def _kernel_and_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer) -> None:
        """The options Dense and Conv2D share, resolved from names or objects."""
        from .. import activations as _act

        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.kernel = self.bias = None

    # -- losses ----------------------------------------------------------------------------
    @property
    def losses(self) -> list[Tensor]:
        """Regularization penalties: weight regularizers now, and activity penalties of the last call."""
        out = []
        for layer in self._iter_layers():
            for w in layer._own_weights:
                if w.regularizer is not None and layer._trainable:
                    out.append(w.regularizer(w))
            out.extend(layer._losses)
        return out

    def add_loss(self, loss) -> None:
        self._losses.append(loss)

    def _iter_layers(self):
        stack, seen = [self], set()
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield layer
            stack.extend(layer._layers)

    # -- calling ---------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create weights from the input shape; the default creates none."""
        self.built = True

    def _build_from_call(self, shape) -> None:
        self.build(shape)
        self.built = True
        if self._build_shape is None:
            self._build_shape = shape

    # Typed as taking anything, so that a subclass's call(self, x) or call(self, inputs, mask=None,
    # training=False) is a valid override for type checkers; __call__ inspects the real signature.
    def call(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation on its inputs; subclasses implement it (``call(self, inputs)``,
        optionally with ``training`` and ``mask`` parameters)."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if inputs.__class__ is KerasTensor or (inputs.__class__ in (list, tuple, dict) and is_symbolic(inputs)):
            return self._symbolic_call(inputs, args, kwargs)
        inputs = self._convert(inputs)
        if not self.built:
            self._build_from_call(_input_shape(inputs))
        elif self._own_weights and not self._checks_own_input and isinstance(inputs, Tensor):
            expected = self._build_shape
            if expected and inputs.ndim and expected[-1] is not None and inputs.shape[-1] != expected[-1]:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': expected input with last dimension {expected[-1]}, "
                    f"received shape {inputs.shape}"
                )
        if self._losses:
            self._losses.clear()
        if "training" in kwargs and not self._call_takes_training:
            kwargs.pop("training")
        # Masks, as Keras: a call that takes ``mask`` receives the one attached to its input,
        # and the output carries what ``compute_mask`` makes of it.
        mask = kwargs.get("mask") if "mask" in kwargs else get_mask(inputs)
        if self._call_takes_mask and "mask" not in kwargs and mask is not None:
            kwargs["mask"] = mask
        out = self.call(inputs, *args, **kwargs)
        if self.supports_masking or type(self).compute_mask is not Layer.compute_mask:
            out_mask = self.compute_mask(inputs, mask)
            if out_mask is not None:
                set_mask(out, out_mask)
        if isinstance(out, Tensor):
            self._output_shape = out.shape
            if self.activity_regularizer is not None:
                self._losses.append(self.activity_regularizer(out))  # as Keras 3: not divided by the batch size
        return out

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: the input's for a layer that ``supports_masking``
        (a layer that does not drops it), as Keras's ``Layer.compute_mask``."""
        return mask if self.supports_masking else None

    def _convert(self, inputs):
        if isinstance(inputs, Tensor):
            if inputs.data.dtype != self.dtype and inputs.data.dtype.kind == "f":
                from ..ops import cast

                out = cast(inputs, self.dtype)
                set_mask(out, get_mask(inputs))
                return out
            return inputs
        if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], Tensor):
            return type(inputs)(self._convert(i) for i in inputs)
        if isinstance(inputs, dict):
            return {k: self._convert(v) for k, v in inputs.items()}
        arr = np.asarray(inputs)
        if arr.dtype.kind == "f" or arr.dtype.kind in "iub" and self.dtype.kind == "f":
            return Tensor(arr, dtype=self.dtype)
        return Tensor(arr)

    # -- config ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        try:
            return cls(**config)
        except TypeError:
            # a subclass whose __init__ takes none of the base arguments (and no get_config of its own)
            if set(config) <= {"name", "trainable", "dtype", "input_shape"}:
                return cls()
            raise

    def _symbolic_call(self, inputs, args, kwargs):
        """A call on symbolic tensors (the functional API): build the layer from their shapes,
        check them, and return symbolic outputs of the inferred shape, recording the call."""
        shapes = shapes_of(inputs)
        if not self.built:
            self._build_from_call(shapes)
        elif self._own_weights and not self._checks_own_input and isinstance(inputs, KerasTensor):
            expected = self._build_shape
            if expected and inputs.ndim and expected[-1] is not None and inputs.shape[-1] is not None \
                    and inputs.shape[-1] != expected[-1]:
                raise ValueError(f"{type(self).__name__} '{self.name}': expected input with last dimension "
                                 f"{expected[-1]}, received shape {inputs.shape}")
        outputs = self.compute_output_spec(inputs, *args, **kwargs)
        Node(self, (inputs, tuple(args), dict(kwargs)), outputs)
        if isinstance(outputs, KerasTensor):
            self._output_shape = outputs.shape
        return outputs

    def compute_output_spec(self, inputs, *args, **kwargs):
        """Symbolic outputs for symbolic ``inputs``: from ``compute_output_shape`` where the layer
        defines it, otherwise by running the layer on small batches of zeros (see
        ``compute_output_shape``)."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            return spec_from_shapes(self.compute_output_shape(shapes_of(inputs)), self.dtype)
        return probe_output_spec(self, inputs, args, kwargs)

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (``None`` for unknown sizes).

        Built-in layers compute it; for a layer that does not define it, the layer is run on
        batches of zeros twice, with different sizes for the unknown axes, and an output axis
        whose size follows them is unknown (``None``) too.
        """
        if is_shape(input_shape):
            spec = KerasTensor(input_shape, self.dtype)
        else:
            spec = spec_from_shapes(input_shape, self.dtype)
        out = probe_output_spec(self, spec)
        return shapes_of(out)

    @property
    def input(self):
        """The symbolic input of this layer's first call on symbolic tensors, as Keras's ``layer.input``."""
        return self._single_node("input").arguments[0]

    @property
    def output(self):
        """The symbolic output of this layer's first call on symbolic tensors, as Keras's ``layer.output``
        (what ``tg.Model(model.input, model.get_layer("h2").output)`` takes for feature extraction)."""
        return self._single_node("output").output_structure

    def _single_node(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic tensors (tg.Input), so it "
                                 f"has no {what}")
        return nodes[0]

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"{self.name} has not been called yet, so its output shape is unknown")
        return (None,) + tuple(self._output_shape[1:])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def _walk(value):
    if isinstance(value, (Layer, Variable)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)


def _shape_tuple(shape):
    if isinstance(shape, Tensor):
        return shape.shape
    try:
        return tuple(None if s is None else int(s) for s in shape)
    except TypeError:
        return shape


def _input_shape(inputs):
    if isinstance(inputs, Tensor):
        return inputs.shape
    if isinstance(inputs, (list, tuple)):
        return [_input_shape(i) for i in inputs]
    if isinstance(inputs, dict):
        return {k: _input_shape(v) for k, v in inputs.items()}
    return np.shape(inputs)
