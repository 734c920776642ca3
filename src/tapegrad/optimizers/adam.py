"""The Adam family: Adam, AdamW, Nadam, Adamax (Keras 3's updates)."""

from __future__ import annotations

import math

from ..backend import xp
from .base import Optimizer, check_number


class Adam(Optimizer):
    """Adam, as Keras 3 writes it. At step ``t`` (from 1), for each variable ``w`` with gradient ``g``,
    first moment ``m`` and second moment ``v``:

    ``m += (g - m) (1 - beta_1)``; ``v += (g^2 - v) (1 - beta_2)``;
    ``alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``;
    ``w -= alpha m / (sqrt(v) + epsilon)`` (Keras's "epsilon hat" form).
    With ``amsgrad``, ``v`` in the last line is the running maximum of ``v``.

    Args:
        learning_rate: a float or a ``tg.optimizers.schedules`` schedule (default 0.001).
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the second moment (default 0.999).
        epsilon: added to the denominator (default 1e-7).
        amsgrad: use the running maximum of ``v`` (default False).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0, -1.0])
        >>> opt = tg.optimizers.Adam(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(tg.constant([0.5, -2.0]), w)])
        >>> [round(x, 4) for x in w.numpy().tolist()]  # the first step moves each weight by lr
        [0.9, -0.9]
    """

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs) -> None:
        for arg, val in (("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)):
            check_number(type(self).__name__, arg, val)
        for arg, val in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= val < 1.0:  # as PyTorch: beta = 1 would divide by zero in alpha
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), received {val}")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def update_step(self, g, w, s, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        m, v = s["momentum"], s["velocity"]
        m += (g - m) * (1 - self.beta_1)
        v += (xp.square(g) - v) * (1 - self.beta_2)
        if self.amsgrad:
            v_hat = s["velocity_hat"]
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        w -= (m * alpha) / (xp.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each Adam step
    (``keras.optimizers.AdamW``).

    Args:
        learning_rate: a float or a schedule (default 0.001).
        weight_decay: the decay factor (default 0.004).
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the second moment (default 0.999).
        epsilon: added to the denominator (default 1e-7).
        amsgrad: use the running maximum of ``v`` (default False).
        **kwargs: the base ``Optimizer``'s arguments: ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.AdamW(0.1, weight_decay=0.004).apply_gradients([(tg.constant([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # 1 - 1 * 0.004 * 0.1, then Adam's first step of lr
        0.8996
    """

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs) -> None:
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number, received None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat), as Keras 3. With ``u_t = beta_1 (1 - 0.5 * 0.96^t)`` and ``U``
    the running product of the ``u`` (updated once per step):

    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``m_hat = u_{t+1} m / (1 - U u_{t+1}) + (1 - u_t) g / (1 - U)``;
    ``v_hat = v / (1 - beta_2^t)``; ``w -= lr m_hat / (sqrt(v_hat) + epsilon)``.

    Args:
        learning_rate: a float or a schedule (default 0.001).
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the second moment (default 0.999).
        epsilon: added to the denominator (default 1e-7).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable(1.0)
        >>> opt = tg.optimizers.Nadam(0.1)
        >>> for _ in range(100):
        ...     with tg.GradientTape() as tape:
        ...         loss = w * w
        ...     _ = opt.apply_gradients([(tape.gradient(loss, w), w)])
        >>> abs(float(w)) < 0.1  # near the minimum at 0
        True
    """

    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.u_product = 1.0

    def before_step(self, variables) -> None:
        self.u_product *= self.beta_1 * (1.0 - 0.5 * 0.96 ** (self.iterations + 1))

    def extra_state(self) -> dict:
        return {"u_product": self.u_product}

    def set_extra_state(self, state: dict) -> None:
        if "u_product" in state:
            self.u_product = float(state["u_product"].reshape(-1)[0])

    def update_step(self, g, w, s, lr):
        b1, b2 = self.beta_1, self.beta_2
        t = self.iterations + 1
        u_t = b1 * (1.0 - 0.5 * 0.96**t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_prod = self.u_product
        u_prod1 = u_prod * u_t1
        m, v = s["momentum"], s["velocity"]
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = m * (u_t1 / (1 - u_prod1)) + g * ((1 - u_t) / (1 - u_prod))
        v_hat = v / (1 - b2**t)
        w -= (m_hat * lr) / (xp.sqrt(v_hat) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adam with the infinity norm (``keras.optimizers.Adamax``): ``m += (g - m)(1 - beta_1)``;
    ``u = max(beta_2 u, |g|)``; ``w -= lr m / ((1 - beta_1^t)(u + epsilon))``.

    Args:
        learning_rate: a float or a schedule (default 0.001).
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the infinity norm (default 0.999).
        epsilon: added to the denominator (default 1e-7).
        **kwargs: the base ``Optimizer``'s arguments: ``weight_decay``, ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``name``.

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([1.0])
        >>> _ = tg.optimizers.Adamax(0.1).apply_gradients([(tg.constant([1.0]), w)])
        >>> round(float(w.numpy()[0]), 4)  # m = 0.1, u = 1: a step of 0.1 * 0.1 / (0.1 * 1)
        0.9
    """

    slot_names = ("m", "u")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update_step(self, g, w, s, lr):
        t = self.iterations + 1
        m, u = s["m"], s["u"]
        m += (g - m) * (1 - self.beta_1)
        xp.maximum(u * self.beta_2, xp.abs(g), out=u)
        w -= (m * lr) / ((1 - self.beta_1**t) * (u + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
