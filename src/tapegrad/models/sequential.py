"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from ..autodiff.tensor import Tensor
from ..layers.base import Layer
from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor
from .model import Model


class Sequential(Model):
    """A stack of layers, each feeding the next (``keras.Sequential``).

    Args:
        layers: a list of layers, optionally starting with ``tg.Input(shape=...)`` (default None: empty;
            add layers with ``add``).
        name: the model's name (default None: made unique).
        trainable: whether ``fit`` updates its weights (default True).
        **kwargs: the base ``Model``'s arguments.

    Example:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"),
        ...                        tg.layers.Dense(1, activation="sigmoid")])
        >>> model.count_params()
        65
    """

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True, **kwargs) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        object.__setattr__(self, "_input_layer", None)  # the declared input, not a sub-layer
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        """Append a layer; the model is built as soon as its input shape is known."""
        if isinstance(layer, KerasTensor) and layer.node is not None and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer  # tg.Input(...) as the first item, as in Keras
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"Sequential '{self.name}': an Input must come first")
            object.__setattr__(self, "_input_layer", layer)
            self.build((None,) + layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a tg.layers.Layer, received {type(layer).__name__}")
        if any(layer is l for l in self._layers):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' is already in the model")
        self._layers.append(layer)
        declared = layer._declared_input_shape
        if len(self._layers) == 1 and declared is not None and self._input_layer is None:
            object.__setattr__(self, "_input_layer", InputLayer(shape=declared))
        if self._input_layer is not None:
            self.built = False
            self.build((None,) + self._input_layer.shape)

    # -- the stack as a graph (Keras's Sequential keeps one) ----------------------------------
    def _symbolic(self):
        """``(input, output)``: the symbolic tensors of the stack, traced when first asked for and
        again after the layers change, so that ``model.inputs`` and each layer's ``output`` make
        feature extractors (``tg.Model(model.inputs, [l.output for l in model.layers])``)."""
        key = (self._input_layer,) + tuple(self._layers)
        cached = self.__dict__.get("_trace")
        if cached is not None and len(cached[0]) == len(key) and all(a is b for a, b in zip(cached[0], key)):
            return cached[1], cached[2]
        if self._input_layer is None:
            raise AttributeError(f"Sequential '{self.name}' has no input yet, so it has no symbolic inputs: start it "
                                 "with tg.Input(shape=...) or build it")
        if cached is not None:  # the previous trace's calls go: each layer's output is the latest trace's
            for node in cached[3]:
                nodes = node.layer.__dict__.get("_inbound_nodes", [])
                if node in nodes:
                    nodes.remove(node)
        x = inputs = self._input_layer.output
        made = []
        for layer in self._layers:
            x = layer(x)
            made.append(layer._inbound_nodes[-1])
        object.__setattr__(self, "_trace", (key, inputs, x, made))
        return inputs, x

    @property
    def inputs(self) -> list:
        """The symbolic input, in a list (as Keras's ``model.inputs``)."""
        return [self._symbolic()[0]]

    @property
    def outputs(self) -> list:
        return [self._symbolic()[1]]

    @property
    def input(self):
        return self._symbolic()[0]

    @property
    def output(self):
        return self._symbolic()[1]

    def pop(self) -> Layer:
        if not self._layers:
            raise IndexError(f"Sequential '{self.name}': there is no layer to pop")
        layer = self._layers.pop()
        self.built = bool(self._layers) and self.built
        return layer

    def build(self, input_shape=None) -> None:
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential '{self.name}': build() needs an input_shape, e.g. "
                                 "model.build((None, 2))")
            input_shape = (None,) + self._input_layer.shape
        if self._input_layer is None:
            object.__setattr__(self, "_input_layer", InputLayer(shape=tuple(input_shape)[1:]))
        if self._layers:
            super().build(input_shape)

    def _build_from_call(self, shape) -> None:
        if self._input_layer is None and isinstance(shape, tuple):
            object.__setattr__(self, "_input_layer", InputLayer(shape=tuple(shape)[1:]))
        self.built = True
        self._build_shape = (None,) + tuple(shape[1:]) if isinstance(shape, tuple) else shape

    def _why_not_a_chain(self) -> str | None:
        cls = type(self)
        if cls.call is not Sequential.call or cls.__call__ is not Layer.__call__:
            return f"{cls.__name__} is not a plain Sequential model"
        return None

    def call(self, inputs, training=None):
        x = inputs
        spec = self._input_layer
        if spec is not None and isinstance(x, Tensor) and x.shape[1:] != spec.shape:
            spec.call(x)  # raises a clear error unless the difference is an unknown (None) dimension
        for layer in self._layers:
            if layer._call_takes_training:
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name, "layers": []}
        if self._input_layer is not None:
            config["input_shape"] = list(self._input_layer.shape)
        for layer in self._layers:
            config["layers"].append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Sequential":
        from ..saving.registry import deserialize_layer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True), dtype=config.get("dtype"))
        for spec in config.get("layers", []):
            model.add(deserialize_layer(spec, custom_objects))
        if config.get("input_shape") is not None and model._input_layer is None:
            model.build((None,) + tuple(config["input_shape"]))
        return model
