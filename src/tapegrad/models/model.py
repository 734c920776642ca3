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

    _setattr_is_structure = False

    def __init__(self, *args, **kwargs) -> None:
        if args:
            raise TypeError("tg.Model has no functional API: subclass it and define call(), or use tg.Sequential")
        super().__init__(**kwargs)
        d = self.__dict__
        d["compiled"] = False
        d["optimizer"] = None
        d["loss"] = None
        d["stop_training"] = False
        d["history"] = None
        d["_loss_tracker"] = None
        d["_compiled_metrics"] = None
        d["_metric_specs"] = []
        d["_compile_config"] = None
        d["run_eagerly"] = False
        d["_capture"] = None

    def build(self, input_shape) -> None:
        """Build every layer by running a batch of zeros of ``input_shape`` through the model."""
        from ..autodiff.grad_mode import no_grad
        from ..ops import zeros

        shape = tuple(1 if s is None else s for s in input_shape)
        self.__dict__["_build_shape"] = tuple(input_shape)
        with no_grad():
            self.__dict__["built"] = True
            self(zeros(shape, dtype=self.dtype))

    def _build_from_call(self, shape) -> None:
        # On a first real call, sub-layers build themselves during that call: no dummy pass.
        if type(self).build is not Model.build:
            return super()._build_from_call(shape)
        d = self.__dict__
        d["built"] = True
        d["_build_shape"] = (None,) + tuple(shape[1:]) if isinstance(shape, tuple) else shape

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
