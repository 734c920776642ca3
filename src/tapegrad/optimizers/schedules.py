"""Learning-rate schedules: ``schedule(step)`` gives the rate at an optimizer step (Keras's formulas).

Example:
    >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(s(10), 6)
    0.05
"""

from __future__ import annotations

import math


class LearningRateSchedule:
    """Base class of learning-rate schedules: ``schedule(step)`` gives the rate at an optimizer step.

    Pass one as an optimizer's ``learning_rate``; subclasses write ``__call__``.

    Example:
        >>> import tapegrad as tg
        >>> class Halving(tg.optimizers.schedules.LearningRateSchedule):
        ...     def __call__(self, step):
        ...         return 0.1 * 0.5 ** step
        >>> Halving()(2)
        0.025
    """
    def __call__(self, step: int) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(self.__dict__)


class _StepDecay(LearningRateSchedule):
    """Shared by the decays of ``step / decay_steps`` (floored when ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False):
        if decay_steps <= 0:
            raise ValueError(f"{type(self).__name__}: decay_steps must be > 0, received {decay_steps}")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase

    def progress(self, step) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (``keras.optimizers.schedules.ExponentialDecay``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the steps over which the rate is multiplied by ``decay_rate``.
        decay_rate: the factor per ``decay_steps``.
        staircase: floor ``step / decay_steps`` (default False).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)(10))
        0.05
    """

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self.progress(step)


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``
    (``keras.optimizers.schedules.InverseTimeDecay``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the step unit.
        decay_rate: how fast it decays.
        staircase: floor ``step / decay_steps`` (default False).

    Example:
        >>> import tapegrad as tg
        >>> float(tg.optimizers.schedules.InverseTimeDecay(0.1, 10, 1.0)(10))
        0.05
    """

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self.progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``step <= boundaries[i]``, then ``values[-1]``.

    As ``keras.optimizers.schedules.PiecewiseConstantDecay``.

    Args:
        boundaries: increasing step numbers.
        values: one more rate than boundaries.

    Example:
        >>> import tapegrad as tg
        >>> s = tg.optimizers.schedules.PiecewiseConstantDecay([10], [0.1, 0.01])
        >>> float(s(5)), float(s(11))
        (0.1, 0.01)
    """

    def __init__(self, boundaries, values):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: expected {len(boundaries) + 1} values for "
                             f"{len(boundaries)} boundaries, received {len(values)}")
        self.boundaries, self.values = list(boundaries), list(values)

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial`` over ``decay_steps``
    (``keras.optimizers.schedules.CosineDecay``).

    With ``warmup_steps``, the rate first rises linearly to ``warmup_target``.

    Args:
        initial_learning_rate: the rate at step 0 (or at the end of the warmup).
        decay_steps: the length of the decay.
        alpha: the final rate as a fraction of the initial one (default 0.0).
        name: optional name (default None).
        warmup_target: the rate reached after the warmup (default None: no warmup).
        warmup_steps: the length of the warmup (default 0).

    Example:
        >>> import tapegrad as tg
        >>> round(float(tg.optimizers.schedules.CosineDecay(0.1, 100)(50)), 6)  # half way: half the rate
        0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name=None,
                 warmup_target: float | None = None, warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be > 0, received {decay_steps}")
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def __call__(self, step):
        if self.warmup_target is not None and step < self.warmup_steps:
            return self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * (
                step / self.warmup_steps)
        start = self.warmup_target if self.warmup_target is not None else self.initial_learning_rate
        s = min(step - (self.warmup_steps if self.warmup_target is not None else 0), self.decay_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * s / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)


__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"]
