"""Plain gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from ..backend import xp
from .base import Optimizer, check_number


class SGD(Optimizer):
    """Gradient descent (Keras 3's update, ``keras.optimizers.SGD``).

    Without momentum: ``w -= lr * g``.
    With momentum: ``m = momentum * m - lr * g``; then ``w += m``, or with
    ``nesterov=True`` ``w += momentum * m - lr * g``.

    Args:
        learning_rate: a float or a ``tg.optimizers.schedules`` schedule (default 0.01).
        momentum: in ``[0, 1]`` (default 0.0: plain gradient descent).
        nesterov: use Nesterov momentum (default False).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.SGD(0.1).apply_gradients([(tg.constant([2.0]), w)])
        >>> round(float(w.numpy()[0]), 6)
        0.8
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_number("SGD", "momentum", momentum)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], received {momentum}")
        self.momentum, self.nesterov = float(momentum), nesterov
        self.slot_names = ("momentum",) if momentum else ()

    def update_step(self, g, w, s, lr):
        if not self.momentum:
            w -= g * lr
            return
        m = s["momentum"]
        m[...] = m * self.momentum - g * lr
        if self.nesterov:
            w += m * self.momentum - g * lr
        else:
            w += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
