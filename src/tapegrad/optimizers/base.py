"""``Optimizer``: the shared machinery of every update rule.

``apply_gradients`` skips None gradients, clips (``clipnorm``, else
``global_clipnorm``, else ``clipvalue``), applies decoupled weight decay
(``w -= w * weight_decay * lr``), then calls ``update_step`` once per variable on
raw arrays, in place, and finally increments ``iterations``: Keras 3's order. The
state of a variable (moments, accumulators) is created the first time it is seen.
No graph is recorded.

Small variables (up to ``SMALL`` elements) of one dtype are packed into one flat
buffer when the optimizer first sees them: their arrays become views of it, and
their state lives in flat arrays too, so one call of ``update_step`` updates them
all. The math is element-wise, so the result is bit-identical to updating them one
by one; only the number of NumPy calls per step changes (this is what makes tiny
models fast). If a packed variable's storage is replaced, or only some of a group
get gradients, those variables are updated one by one through views of the state.
Updates allocate nothing: their intermediates go into one buffer kept per variable
(``work_buffer``), or into the gradient itself where the caller gave it up (a recorded
training step does; ``apply_gradients`` leaves the caller's arrays untouched).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..autodiff.tensor import Tensor, Variable
from ..backend import empty_aligned, to_numpy, xp, zeros_aligned
from .schedules import LearningRateSchedule

SMALL = 1 << 14
"""Packing costs one copy of the gradients per step and saves ~10 NumPy calls per variable:
for 16,384 float32 elements both are ~3-15 us (measured warm and cold), so larger
variables are updated on their own."""


def scratch(state: dict, w):
    """A work buffer shaped like ``w`` kept in ``state`` (under a name starting with "_",
    so it is never saved): updates that use it allocate nothing per step."""
    buf = state.get("_scratch")
    if buf is None or buf.shape != w.shape:
        buf = state["_scratch"] = empty_aligned(w.shape, w.dtype)
    return buf


class _Group:
    """Small variables of one dtype sharing flat buffers for values, gradients and state."""

    __slots__ = ("variables", "index", "w", "owner", "g", "state", "slices")

    def __init__(self, variables, init_state):
        self.variables = list(variables)
        self.index = {id(v): i for i, v in enumerate(self.variables)}
        sizes = [v.size for v in self.variables]
        offsets = np.cumsum([0] + sizes)
        self.slices = [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
        self.w = empty_aligned(int(offsets[-1]), self.variables[0].dtype)
        xp.concatenate([v.data.reshape(-1) for v in self.variables], out=self.w)
        self.owner = self.w if self.w.base is None else self.w.base  # what the variables' views point to
        self.g = empty_aligned(self.w.shape, self.w.dtype)  # the optimizer's own: updates also work in it
        self.state = init_state(self.w)
        for v, sl in zip(self.variables, self.slices):
            v.data = self.w[sl].reshape(v.shape)  # the variable's storage is now a view of the flat buffer

    def views(self, i):
        sl, shape = self.slices[i], self.variables[i].shape
        return {k: a[sl].reshape(shape) for k, a in self.state.items() if not k.startswith("_")}

    def intact(self) -> bool:
        owner = self.owner
        return all(v.data.base is owner for v in self.variables)


class Optimizer:
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name: str | None = None, **kwargs) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
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
        self._group_of: dict[int, _Group] = {}
        self._schedules: dict[tuple, tuple] = {}  # ids of a list of variables -> how a step updates them
        self._spare = False  # whether update_step may write into the gradient it is given (see work_buffer)
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
        new = []
        for v in var_list:
            if id(v) not in self._state and all(v is not n for n in new):
                new.append(v)
        small: dict = {}
        for v in new:
            if v.size <= SMALL and isinstance(v.data, xp.ndarray) and v.data.flags.c_contiguous:
                small.setdefault(v.dtype, []).append(v)
        for vs in small.values():
            if len(vs) > 1:
                group = _Group(vs, self.init_state)
                for i, v in enumerate(vs):
                    self._group_of[id(v)] = group
                    self._state[id(v)] = group.views(i)
        for v in new:
            if id(v) not in self._state:
                self._state[id(v)] = self.init_state(v.data)
            self._variables.append(v)

    def init_state(self, w) -> dict:
        return {name: zeros_aligned(w.shape, w.dtype) for name in self.slot_names}

    def slot_scale(self, name: str) -> float:
        """The factor from a stored state array to the quantity Keras's formula names (1 unless
        an update rule keeps the slot rescaled, as Adam does); ``get_state`` applies it."""
        return 1.0

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        self._exclude_wd = {id(v) for v in (var_list or [])}
        self._exclude_wd_names = tuple(var_names or ())

    @property
    def variables(self) -> list[np.ndarray]:
        """The optimizer's state arrays as stored (see ``slot_scale``), in the order variables
        were first seen."""
        out = []
        for v in self._variables:
            st = self._state[id(v)]
            out.extend(st[k] for k in sorted(st) if not k.startswith("_"))
        return out

    def get_state(self, var_list: list[Variable]) -> dict[str, np.ndarray]:
        """The state as flat arrays keyed ``"<index>/<slot>"`` for the variables in ``var_list``,
        each slot in the form Keras's formula names it (stored arrays times ``slot_scale``)."""
        out = {"iterations": np.asarray([self.iterations], dtype=np.int64)}
        for i, v in enumerate(var_list):
            for k, arr in self._state.get(id(v), {}).items():
                if not k.startswith("_"):
                    arr = np.array(to_numpy(arr))  # a copy: scaled in place below
                    scale = self.slot_scale(k)
                    if scale != 1.0:
                        arr *= arr.dtype.type(scale)
                    out[f"{i}/{k}"] = arr
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
        self._group_of.clear()
        self._schedules.clear()
        self._variables = []
        self.build(var_list)
        for v, k, arr in pending:
            dst = self._state[id(v)][k]
            dst[...] = xp.asarray(arr.astype(v.dtype))
            scale = self.slot_scale(k)
            if scale != 1.0:
                dst /= dst.dtype.type(scale)
        self.iterations = int(np.asarray(state["iterations"]).reshape(-1)[0])
        self.set_extra_state({k[6:]: v for k, v in state.items() if k.startswith("extra/")})

    def extra_state(self) -> dict:
        return {}

    def set_extra_state(self, state: dict) -> None:
        pass

    # -- applying gradients -----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """Update each variable from its gradient; pairs with a None gradient are skipped."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            return self.iterations
        variables = [v for _, v in pairs]
        grads = [g.data if isinstance(g, Tensor) else g for g, _ in pairs]
        if not all(isinstance(v, Variable) and isinstance(g, xp.ndarray) and g.shape == v.data.shape
                   and g.dtype == v.data.dtype for g, v in zip(grads, variables)):
            grads = self._conform(grads, variables)
        return self._apply_arrays(grads, variables)

    def _apply_arrays(self, grads: list, variables: list, spare: bool = False) -> int:
        """``apply_gradients`` after its checks: ``grads`` are arrays of their variables' shapes
        and dtypes, none of them None. With ``spare=True`` the caller gives the arrays up, and
        updates may use them as work buffers (a recorded training step, whose gradients are
        its own, calls this directly); otherwise the gradients are left untouched, as Keras's
        and PyTorch's optimizers leave them."""
        self._spare = spare
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = self._clip(grads)
        lr = self.learning_rate
        schedule = self._schedules.get(tuple(map(id, variables)))
        if schedule is None:
            schedule = self._schedule(variables)
        singles, groups = schedule
        wd = self.weight_decay
        self.before_step(variables)
        for i, state in singles:
            w = variables[i].data
            if wd and self._decays(variables[i]):
                w -= w * (wd * lr)
            self.update_step(grads[i], w, state, lr)
        for grp, idx in groups:
            if grp.intact():
                xp.concatenate([grads[i] for i in idx], axis=None, out=grp.g)  # in the group's order
                if wd:
                    for i in idx:
                        if self._decays(variables[i]):
                            variables[i].data -= variables[i].data * (wd * lr)
                self._spare = True  # grp.g is the optimizer's own
                self.update_step(grp.g, grp.w, grp.state, lr)
                self._spare = spare
            else:  # a storage was replaced: one by one, through views of the state
                for i in idx:
                    w = variables[i].data
                    if wd and self._decays(variables[i]):
                        w -= w * (wd * lr)
                    self.update_step(grads[i], w, self._state[id(variables[i])], lr)
        self.iterations += 1
        return self.iterations

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

    def _schedule(self, variables: list) -> tuple:
        """How a step updates this list of variables (made once per list, then looked up):
        ``(index, state)`` for each variable updated on its own, and ``(group, indices in the
        group's order)`` for each packed group whose variables all have gradients."""
        if any(id(v) not in self._state for v in variables):
            self.build(variables)
        singles, members = [], {}
        for i, v in enumerate(variables):
            grp = self._group_of.get(id(v))
            if grp is None:
                singles.append((i, self._state[id(v)]))
            else:
                members.setdefault(id(grp), (grp, {}))[1][grp.index[id(v)]] = i
        groups = []
        for grp, at in members.values():
            if len(at) == len(grp.variables):
                groups.append((grp, tuple(at[k] for k in sorted(at))))
            else:  # only some of the group get gradients: those one by one, through views
                singles.extend((i, self._state[id(variables[i])]) for i in at.values())
        schedule = self._schedules[tuple(map(id, variables))] = (singles, groups)
        return schedule

    def apply(self, grads, trainable_variables) -> int:
        return self.apply_gradients(zip(grads, trainable_variables))

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

    def work_buffer(self, g, state: dict, w):
        """The array an ``update_step`` writes its intermediates into, never a fresh one: the
        gradient ``g`` itself when the caller gave it up (``_apply_arrays(spare=True)``), else
        one buffer shaped like ``w`` kept in ``state`` (see ``scratch``). An update that uses
        it must read ``g`` for the last time before it first writes there."""
        if self._spare:
            return g
        buf = state.get("_scratch")
        return buf if buf is not None and buf.shape == w.shape else scratch(state, w)

    def before_step(self, variables) -> None:
        """Hook run once per step before the per-variable updates (Nadam uses it)."""

    def update_step(self, grad, w, state: dict, lr: float) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        lr = self._learning_rate
        return {"name": self.name, "learning_rate": lr if isinstance(lr, float) else None,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        return cls(**config)
