"""``Optimizer``: the shared machinery of every update rule.

``apply_gradients`` skips None gradients, clips (``clipnorm``, else
``global_clipnorm``, else ``clipvalue``), applies decoupled weight decay
(``w -= w * weight_decay * lr``), then calls ``update_step`` once per variable on
raw arrays, in place, and finally increments ``iterations``: Keras 3's order. The
state of a variable (moments, accumulators) is created by ``build`` the first time
the variable is seen. No graph is recorded.

Example:
    >>> import tapegrad as tg
    >>> w = tg.Variable([1.0, 2.0])
    >>> opt = tg.optimizers.SGD(learning_rate=0.5)
    >>> opt.apply_gradients([(tg.constant([1.0, 1.0]), w)])
    1
    >>> w.numpy().tolist()
    [0.5, 1.5]
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Iterable

import numpy as np

from ..autodiff.grad_mode import mode
from ..autodiff.tensor import Tensor, Variable
from ..backend import to_numpy, xp
from .schedules import LearningRateSchedule


def check_number(owner: str, name: str, value, allow_none: bool = False) -> None:
    """A hyperparameter must be a real number (or None where allowed), not a string or a bool."""
    if value is None and allow_none:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number{' or None' if allow_none else ''}, received {value!r} of "
                        f"type {type(value).__name__}")


class Optimizer:
    """Base class of the optimizers: ``apply_gradients(zip(grads, variables))`` updates the variables.

    Subclasses write ``update_step``; this class applies weight decay, gradient clipping and the
    learning-rate schedule, and counts ``iterations``, as Keras 3's ``keras.optimizers.Optimizer``.

    Args:
        learning_rate: a float or a ``tg.optimizers.schedules`` schedule (default 0.001).
        weight_decay: decoupled weight decay ``w -= w * weight_decay * lr`` (default None: off).
        clipnorm: clip each gradient to this L2 norm (default None).
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]`` (default None).
        global_clipnorm: clip all gradients together to this L2 norm (default None; not with ``clipnorm``).
        name: the optimizer's name (default None: the class name in lower case).

    Example:
        >>> import tapegrad as tg
        >>> w = tg.Variable([0.0, 0.0])
        >>> opt = tg.optimizers.SGD(1.0, clipnorm=1.0)
        >>> _ = opt.apply_gradients([(tg.constant([3.0, 4.0]), w)])  # norm 5, clipped to 1
        >>> [round(v, 4) for v in w.numpy().tolist()], int(opt.iterations)
        ([-0.6, -0.8], 1)
    """
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name: str | None = None, **kwargs) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        owner = type(self).__name__
        for arg, val in (("weight_decay", weight_decay), ("clipnorm", clipnorm), ("clipvalue", clipvalue),
                         ("global_clipnorm", global_clipnorm)):
            check_number(owner, arg, val, allow_none=True)
        if not isinstance(learning_rate, LearningRateSchedule) and not callable(learning_rate):
            check_number(owner, "learning_rate (the first argument)", learning_rate)
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Only one of clipnorm and global_clipnorm can be set, received both")
        for arg, val in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if val is not None and val <= 0:
                raise ValueError(f"{type(self).__name__}: {arg} must be positive, received {val}")
        if not isinstance(learning_rate, LearningRateSchedule) and not callable(learning_rate):
            learning_rate = float(learning_rate)
            if learning_rate < 0:
                raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, received {learning_rate}")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state: dict[int, dict[str, Any]] = {}
        self._variables: list[Variable] = []
        self._exclude_wd: set[int] = set()
        self._exclude_wd_names: tuple[str, ...] = ()

    # -- learning rate -------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, LearningRateSchedule) or callable(value):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError("This optimizer was created with a LearningRateSchedule, so its learning rate "
                            "is not settable; create it with a float learning_rate instead")
        self._learning_rate = float(value)

    # -- state ---------------------------------------------------------------------------
    def build(self, var_list: Iterable[Variable]) -> None:
        """Create the per-variable state for ``var_list`` (done lazily on first use otherwise)."""
        for v in var_list:
            if id(v) not in self._state:
                self._state[id(v)] = self.init_state(v.data)
                self._variables.append(v)

    def init_state(self, w) -> dict:
        """The state of one variable: a zero array shaped like it for each of ``slot_names``."""
        return {name: xp.zeros(w.shape, w.dtype) for name in self.slot_names}

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        self._exclude_wd = {id(v) for v in (var_list or [])}
        self._exclude_wd_names = tuple(var_names or ())

    @property
    def variables(self) -> list[np.ndarray]:
        """The optimizer's state arrays, in the order variables were first seen."""
        out = []
        for v in self._variables:
            st = self._state[id(v)]
            out.extend(st[k] for k in sorted(st))
        return out

    def get_state(self, var_list: list[Variable]) -> dict[str, np.ndarray]:
        """The state as arrays keyed ``"<index>/<slot>"`` for the variables in ``var_list`` (copies)."""
        out = {"iterations": np.asarray([self.iterations], dtype=np.int64)}
        for i, v in enumerate(var_list):
            for k, arr in self._state.get(id(v), {}).items():
                out[f"{i}/{k}"] = np.array(to_numpy(arr))
        for k, val in self.extra_state().items():
            out[f"extra/{k}"] = np.asarray(val).reshape(1)
        return out

    def set_state(self, state: dict, var_list: list[Variable]) -> None:
        """Restore what :meth:`get_state` returned (everything is checked before anything changes)."""
        pending = []
        for i, v in enumerate(var_list):
            for k in self.init_state(v.data[:0] if v.ndim else v.data):
                key = f"{i}/{k}"
                if key not in state:
                    raise ValueError(f"{self.name}: optimizer state is missing {key!r}")
                arr = np.asarray(state[key])
                if arr.shape != v.shape:
                    raise ValueError(f"{self.name}: optimizer state {key!r} has shape {arr.shape}, "
                                     f"expected {v.shape} for variable {v.name!r}")
                pending.append((v, k, arr))
        self._state.clear()
        self._variables = []
        self.build(var_list)
        for v, k, arr in pending:
            self._state[id(v)][k][...] = xp.asarray(arr.astype(v.dtype))
        self.iterations = int(np.asarray(state["iterations"]).reshape(-1)[0])
        self.set_extra_state({k[6:]: v for k, v in state.items() if k.startswith("extra/")})

    def extra_state(self) -> dict:
        return {}

    def set_extra_state(self, state: dict) -> None:
        pass

    # -- applying gradients -----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """Update each variable from its gradient; pairs with a None gradient are skipped.
        The gradients are left as they are (as Keras's and PyTorch's optimizers leave them).
        ``zip(grads, variables)`` of lists of different lengths is an error (zip would drop the rest)."""
        if mode.effect is not None:  # tg.function is recording: it records the update
            return mode.effect("apply_gradients", self.apply_gradients, (grads_and_vars,), {})
        if type(grads_and_vars) is zip:
            self._check_zip_lengths(grads_and_vars)
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            return self.iterations
        variables = [v for _, v in pairs]
        grads = self._conform([g.data if isinstance(g, Tensor) else g for g, _ in pairs], variables)
        if any(id(v) not in self._state for v in variables):
            self.build(variables)
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = self._clip(grads)
        lr = self.learning_rate
        wd = self.weight_decay
        self.before_step(variables)
        for g, v in zip(grads, variables):
            if wd and self._decays(v):
                v.data -= v.data * (wd * lr)
            self.update_step(g, v.data, self._state[id(v)], lr)
        self.iterations += 1
        return self.iterations

    def _check_zip_lengths(self, pairs: zip) -> None:
        """``zip(grads, variables)`` silently drops what one list has beyond the other: refuse that
        when both are sized (lists, tuples), before any variable changes."""
        try:
            parts = pairs.__reduce__()[1]
            lengths = [operator.length_hint(p, -1) for p in parts]
        except Exception:  # pragma: no cover - an exotic zip: nothing to compare
            return
        if len(lengths) == 2 and -1 not in lengths and lengths[0] != lengths[1]:
            raise ValueError(f"{self.name}: apply_gradients received {lengths[0]} gradients for {lengths[1]} "
                             "variables; expected one gradient (or None) per variable")

    def apply(self, grads, trainable_variables) -> int:
        grads, trainable_variables = list(grads), list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{self.name}: apply received {len(grads)} gradients for {len(trainable_variables)} "
                             "variables; expected one gradient (or None) per variable")
        return self.apply_gradients(zip(grads, trainable_variables))

    def _conform(self, grads: list, variables: list) -> list:
        """The gradients as arrays of their variables' dtypes; a wrong variable or shape is an error."""
        out = []
        for g, v in zip(grads, variables):
            if not isinstance(v, Variable):
                raise TypeError(f"{self.name}: can only update tg.Variable objects, received {type(v).__name__}")
            arr = xp.asarray(g)
            if arr.shape != v.shape:
                raise ValueError(f"{self.name}: gradient of shape {arr.shape} for variable {v.name!r} "
                                 f"of shape {v.shape}")
            out.append(arr if arr.dtype == v.dtype else arr.astype(v.dtype))
        return out

    def minimize(self, loss, var_list, tape=None) -> int:
        """Differentiate ``loss`` (a callable, or a tensor recorded on ``tape``) and apply the gradients."""
        from ..autodiff.tape import GradientTape

        var_list = list(var_list() if callable(var_list) else var_list)
        if tape is None:
            if not callable(loss):
                raise ValueError("minimize: without a tape, loss must be a callable that returns the loss")
            with GradientTape() as tape:
                value = loss()
        else:
            value = loss
        grads = tape.gradient(value, var_list)
        return self.apply_gradients(zip(grads, var_list))

    def _decays(self, v: Variable) -> bool:
        if id(v) in self._exclude_wd:
            return False
        return not any(n in (v.name or "") for n in self._exclude_wd_names)

    def _clip(self, grads: list) -> list:
        if self.clipnorm:
            out = []
            for g in grads:
                norm = math.sqrt(float(xp.sum(g * g)))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm:
            norm = math.sqrt(sum(float(xp.sum(g * g)) for g in grads))
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                return [g * scale for g in grads]
            return grads
        if self.clipvalue:
            return [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def before_step(self, variables) -> None:
        """Hook run once per step before the per-variable updates (Nadam uses it)."""

    def update_step(self, grad, w, state: dict, lr: float) -> None:  # pragma: no cover - interface
        """The update rule on one variable: ``grad`` and ``w`` are arrays (``w`` is updated in
        place), ``state`` the variable's state from ``init_state``, ``lr`` this step's rate."""
        raise NotImplementedError

    def get_config(self) -> dict:
        lr = self._learning_rate
        return {"name": self.name, "learning_rate": lr if isinstance(lr, float) else None,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        return cls(**config)
