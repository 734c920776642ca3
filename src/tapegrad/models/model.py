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

    def save_weights(self, filepath) -> None:
        """Write the weights as safetensors (``.weights.safetensors``), atomically."""
        from ..saving.weights import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Load weights saved by ``save_weights``; missing, extra or misshapen weights are errors."""
        from ..saving.weights import load_weights

        load_weights(self, filepath)
