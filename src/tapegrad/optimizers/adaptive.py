"""Per-parameter adaptive learning rates: Adagrad, Adadelta, RMSprop (Keras 3's updates)."""

from __future__ import annotations

from ..backend import xp
from .base import Optimizer


class Adagrad(Optimizer):
    """``acc += g^2``; ``w -= lr * g / sqrt(acc + epsilon)``; ``acc`` starts at ``initial_accumulator_value``
    (``keras.optimizers.Adagrad``).

    Args:
        learning_rate: a float or a schedule (default 0.001).
        initial_accumulator_value: where ``acc`` starts (default 0.1).
        epsilon: added under the square root (default 1e-7).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.Adagrad(0.1).apply_gradients([(tg.constant([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 / sqrt(0.1 + 1)
        0.9047
    """

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def init_state(self, w):
        return {"accumulator": xp.full(w.shape, self.initial_accumulator_value, dtype=w.dtype)}

    def update_step(self, g, w, s, lr):
        acc = s["accumulator"]
        acc += g * g
        w -= (g * lr) / xp.sqrt(acc + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Zeiler's Adadelta with a learning rate, as Keras 3 (``keras.optimizers.Adadelta``):

    ``Eg = rho Eg + (1 - rho) g^2``;
    ``d = -sqrt(Ed + eps) * g / sqrt(Eg + eps)``;
    ``Ed = rho Ed + (1 - rho) d^2``; ``w += lr * d``.

    Args:
        learning_rate: a float or a schedule (default 0.001).
        rho: the decay of the running averages (default 0.95).
        epsilon: the ``eps`` above (default 1e-7).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.Adadelta(1.0).apply_gradients([(tg.constant([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - sqrt(1e-7) / sqrt(0.05 + 1e-7)
        0.9986
    """

    slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def update_step(self, g, w, s, lr):
        rho, eps = self.rho, self.epsilon
        eg, ed = s["accumulated_grad"], s["accumulated_delta_var"]
        eg *= rho
        eg += (1 - rho) * (g * g)
        delta = -(xp.sqrt(ed + eps) * g) / xp.sqrt(eg + eps)
        ed *= rho
        ed += (1 - rho) * (delta * delta)
        w += lr * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g^2``; ``w -= lr * g / sqrt(v + eps)`` (``keras.optimizers.RMSprop``).

    ``centered`` subtracts the squared moving mean of ``g`` from ``v``; with ``momentum > 0`` the step
    goes through a velocity ``m = momentum m + step``.

    Args:
        learning_rate: a float or a schedule (default 0.001).
        rho: the decay of ``v`` (default 0.9).
        momentum: the velocity's momentum (default 0.0: none).
        epsilon: added under the square root (default 1e-7).
        centered: divide by the variance rather than the second moment (default False).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.RMSprop(0.1).apply_gradients([(tg.constant([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 / sqrt(0.1)
        0.6838
    """

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self.slot_names = ("velocity",) + (("momentum",) if momentum > 0 else ()) + (
            ("average_gradient",) if centered else ())

    def update_step(self, g, w, s, lr):
        rho = self.rho
        v = s["velocity"]
        v *= rho
        v += (1 - rho) * (g * g)
        if self.centered:
            a = s["average_gradient"]
            a *= rho
            a += (1 - rho) * g
            denominator = v - a * a + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = lr * g / xp.sqrt(denominator)
        if self.momentum > 0:
            m = s["momentum"]
            m *= self.momentum
            m += increment
            w -= m
        else:
            w -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
