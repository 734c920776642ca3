"""``Model``: a layer that can be trained, saved and summarized; subclass it and write ``call``."""

from __future__ import annotations

from ..layers.base import Layer
from ..layers.symbolic import is_symbolic
from .training import Trainer


def _functional_arguments(args, kwargs) -> bool:
    """Whether a call's arguments are a functional model's: inputs and outputs, as Keras tells them."""
    if len(args) == 2 or (len(args) == 1 and "outputs" in kwargs):
        inputs = args[0]
    elif not args and "inputs" in kwargs and "outputs" in kwargs:
        inputs = kwargs["inputs"]
    else:
        return False
    return is_symbolic(inputs)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls: type) -> type:
    """``cls`` with the functional model mixed in after it (Keras's functional subclassing)."""
    functional = Model._functional_class
    if issubclass(cls, functional):
        return cls
    made = _FUNCTIONAL_SUBCLASSES.get(cls)
    if made is None:
        made = type(cls.__name__, (cls, functional), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = made
    return made


class Model(Trainer, Layer):
    """Subclass ``tg.Model``: make layers in ``__init__``, use them in ``call(inputs, training=False)``.

    Example:
        >>> import tapegrad as tg
        >>> class TwoLayers(tg.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = tg.layers.Dense(8, activation="relu")
        ...         self.out = tg.layers.Dense(1)
        ...     def call(self, inputs, training=False):
        ...         return self.out(self.hidden(inputs))
        >>> TwoLayers()(tg.ones((4, 2))).shape
        (4, 1)

    ``tg.Model(inputs, outputs)`` makes a functional model instead (see ``tg.models.Functional``),
    and so does a subclass called with inputs and outputs (``CustomModel(inputs, outputs)``, or
    ``super().__init__(inputs, outputs)`` in its ``__init__``): as Keras, the instance's class
    becomes the subclass with the functional model mixed in, keeping the subclass's own methods
    (a custom ``train_step``, say).
    """

    _functional_class = None  # set by models.functional: the class of tg.Model(inputs, outputs)

    def __new__(cls, *args, **kwargs):
        # tg.Model(inputs, outputs) is a functional model, as Keras's Model.__new__ makes it
        if _functional_arguments(args, kwargs):
            return object.__new__(Model._functional_class if cls is Model else _functional_subclass(cls))
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        if _functional_arguments(args, kwargs):
            functional = Model._functional_class
            if not isinstance(self, functional):  # super().__init__(inputs, outputs) in a subclass
                object.__setattr__(self, "__class__", _functional_subclass(type(self)))
            functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}: tg.Model takes inputs and outputs (symbolic tensors from "
                            f"tg.Input and layer calls) or, in a subclass, no positional arguments; received "
                            f"{len(args)} positional arguments")
        super().__init__(**kwargs)
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._loss_tracker = None
        self._compiled_metrics = None
        self._metric_specs = []
        self._compile_config = None
        self.run_eagerly = False
        self._fast_step = None
        self._fast_predict = None  # predict's replayed inference pass (tapegrad.fast.PredictStep)

    def build(self, input_shape) -> None:
        """Build every layer by running a batch of zeros of ``input_shape`` through the model."""
        from ..autodiff.grad_mode import no_grad
        from ..ops import zeros

        shape = tuple(1 if s is None else s for s in input_shape)
        self._build_shape = tuple(input_shape)
        with no_grad():
            self.built = True
            self(zeros(shape, dtype=self.dtype))

    def _build_from_call(self, shape) -> None:
        # On a first real call, sub-layers build themselves during that call: no dummy pass.
        if type(self).build is not Model.build:
            return super()._build_from_call(shape)
        self.built = True
        self._build_shape = (None,) + tuple(shape[1:]) if isinstance(shape, tuple) else shape

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name`` (or at ``index`` in ``layers``), as Keras's ``get_layer``.

        Example:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(3, name="hidden")])
            >>> model.get_layer("hidden").units
            3
        """
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: give a name or an index, not both")
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"get_layer: index {index} is out of range for a model of {len(self._layers)} "
                                 f"layers")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are {[l.name for l in self._layers]}")

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Model":
        """A model from ``get_config``: a functional graph's config (``layers``, ``input_layers``,
        ``output_layers``) rebuilds the graph and calls ``cls(inputs, outputs)``."""
        if isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            from .functional_config import functional_from_config

            inputs, outputs, name, trainable = functional_from_config(config, custom_objects)
            return cls(inputs, outputs, name=name, trainable=trainable)
        return super().from_config(config)

    def reset_states(self) -> None:
        """Set the held states of every stateful recurrent layer in the model back to zeros
        (what the lab calls before generating text).

        Differs from Keras 3, where this is a layer method only (tf.keras 2 had it on models).
        """
        for layer in self._iter_layers():
            if layer is not self and getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
                layer.reset_states()

    def summary(self, print_fn=print, line_length: int = 72) -> None:
        """Print a table of layers, output shapes and parameter counts, then the totals."""
        from .summary import summary_text

        print_fn(summary_text(self, line_length))

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write one ``.tapegrad`` file: architecture, weights, and optimizer state (atomic)."""
        from ..saving.archive import save_model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def export(self, filepath, format: str = "onnx", verbose=None, input_signature=None, opset: int | None = None) -> None:
        """Write the model for inference engines; ``format="onnx"`` (Keras 3's signature).

        The ONNX graph has a dynamic batch dimension, opset ``tg.export.OPSET`` unless
        ``opset`` is given, and the layers in their inference form; ONNX Runtime gives
        ``predict``'s outputs. Needs ``pip install "tapegrad[onnx]"``.

        Differs from Keras: ONNX is the only format (Keras 3 defaults to a TensorFlow
        SavedModel, which needs TensorFlow); ``input_signature`` must be None (the
        model's own input shape is used).

        Example:
            >>> import tapegrad as tg, tempfile, os
            >>> model = tg.Sequential([tg.Input((4,)), tg.layers.Dense(3, activation="softmax")])
            >>> model.export(os.path.join(tempfile.mkdtemp(), "model.onnx"), format="onnx")
        """
        if format != "onnx":
            raise ValueError(f"{self.name}: export supports format='onnx', received format={format!r}")
        if input_signature is not None:
            raise ValueError(f"{self.name}: export takes the model's own input shape; input_signature must be None")
        from ..export import OPSET, export_onnx

        export_onnx(self, filepath, opset=OPSET if opset is None else int(opset))
        if verbose:
            print(f"Saved the ONNX model to {filepath}")

    def save_weights(self, filepath) -> None:
        """Write the weights as safetensors (``.weights.safetensors``), atomically."""
        from ..saving.weights import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Load weights saved by ``save_weights``; missing, extra or misshapen weights are errors."""
        from ..saving.weights import load_weights

        load_weights(self, filepath)
