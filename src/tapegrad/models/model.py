"""``Model``: a layer that can be trained, saved and summarized; subclass it and write ``call``."""

from __future__ import annotations

from ..layers.base import Layer
from .training import Trainer


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

    Differs from Keras: there is no functional API (``Model(inputs, outputs)``);
    use ``Sequential`` or subclassing.
    """

    def __init__(self, *args, **kwargs) -> None:
        if args:
            raise TypeError("tg.Model has no functional API: subclass it and define call(), or use tg.Sequential")
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
