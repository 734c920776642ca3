"""Optimizer updates for replayed training steps: Keras's Adam and SGD into kept buffers.

``Optimizer.apply_gradients`` computes each update with NumPy's ordinary expressions, so every
intermediate is a new array. ``Updater`` computes the same operations, in the same order and
so to the same bits, into two buffers kept per variable (or into the gradient itself, when
the replay gives it up: it made that array and nothing else holds it). Small variables of
one dtype are updated together: their gradients are copied into one flat array, their state
moves into flat arrays of which the optimizer's per-variable state arrays become views, and
each weight (whose storage stays its own) takes its slice of the flat step; the arithmetic
is element-wise, so the result is the same bit for bit, in a few NumPy calls instead of a
dozen per variable. It reads and writes the optimizer's own state and ``iterations``, so
eager and replayed steps can follow each other in any order. Other optimizers, clipping
and amsgrad go through ``apply_gradients``.
"""

from __future__ import annotations

import math

from ..backend import xp
from ..optimizers.adam import Adam, AdamW
from ..optimizers.sgd import SGD
from .memory import empty_aligned


SMALL = 1 << 14
"""Variables of up to this many elements are updated together, as one flat array."""


def _adam(opt, g, s, lr, a, b):
    """``Adam.update_step`` with its intermediates in ``a`` and ``b`` (``b`` may be ``g``);
    returns the array to subtract from the weight, and -1."""
    t = opt.iterations + 1
    alpha = lr * math.sqrt(1 - opt.beta_2**t) / (1 - opt.beta_1**t)
    m, v = s["momentum"], s["velocity"]
    xp.subtract(g, m, out=a)  # m += (g - m) * (1 - beta_1)
    a *= 1 - opt.beta_1
    m += a
    xp.square(g, out=a)  # v += (g^2 - v) * (1 - beta_2)
    a -= v
    a *= 1 - opt.beta_2
    v += a
    xp.multiply(m, alpha, out=b)  # w -= (m * alpha) / (sqrt(v) + epsilon); g is not read again
    xp.sqrt(v, out=a)
    a += opt.epsilon
    b /= a
    return b, -1


def _sgd(opt, g, s, lr, a, b):
    """``SGD.update_step`` with its intermediates in ``a`` and ``b`` (``b`` may be ``g``);
    returns the array to add to (+1) or subtract from (-1) the weight."""
    xp.multiply(g, lr, out=b)
    if not opt.momentum:
        return b, -1  # w -= g * lr
    m = s["momentum"]
    xp.multiply(m, opt.momentum, out=a)  # m = m * momentum - g * lr
    xp.subtract(a, b, out=m)
    if not opt.nesterov:
        return m, 1  # w += m
    xp.multiply(m, opt.momentum, out=a)  # w += m * momentum - g * lr
    a -= b
    return a, 1


_RULES = {Adam: _adam, AdamW: _adam, SGD: _sgd}


class _Pack:
    """Small variables of one dtype updated as one flat array: their gradients are copied
    into ``g``, their state lives in flat arrays (the optimizer's per-variable state arrays
    are views of them), and each weight takes its slice of the flat step."""

    def __init__(self, opt, variables) -> None:
        self.variables = variables
        sizes = [v.data.size for v in variables]
        offsets = [0]
        for n in sizes:
            offsets.append(offsets[-1] + n)
        total, dtype = offsets[-1], variables[0].data.dtype
        self.g, self.a, self.b = (empty_aligned((total,), dtype) for _ in range(3))
        first = opt._state[id(variables[0])]
        self.state = {}
        for name in first:
            flat = self.state[name] = empty_aligned((total,), dtype)
            for v, lo, hi in zip(variables, offsets, offsets[1:]):
                flat[lo:hi] = opt._state[id(v)][name].reshape(-1)
        self.dicts = []
        for v, lo, hi in zip(variables, offsets, offsets[1:]):
            views = {name: flat[lo:hi].reshape(v.data.shape) for name, flat in self.state.items()}
            opt._state[id(v)] = views  # the optimizer's state, now in the flat arrays
            self.dicts.append(views)
        self.slices = [(lo, hi, v.data.shape) for v, lo, hi in zip(variables, offsets, offsets[1:])]

    def intact(self, opt) -> bool:
        """Whether the optimizer still holds these state arrays (``set_state`` replaces them)."""
        state = opt._state
        return all(state.get(id(v)) is d for v, d in zip(self.variables, self.dicts))


class Updater:
    """Applies one step's gradients for a model: in kept buffers where the rule is one of
    ``_RULES`` (and no clipping or amsgrad), with small variables packed, else through
    ``apply_gradients``."""

    def __init__(self) -> None:
        self._buffers: dict = {}  # id(variable) -> (variable, a, b); the variable keeps its id unique
        self._packs: dict = {}  # ids of a list of variables -> (the variables, packs, singles)

    def apply(self, opt, grads: list, variables: list, spare: bool) -> None:
        """Update ``variables`` from ``grads`` (arrays of their shapes and dtypes, made by this
        step). ``spare``: the arrays are the caller's to give up, so they may hold intermediates."""
        rule = _RULES.get(type(opt))
        if (rule is None or getattr(opt, "amsgrad", False) or opt.clipnorm or opt.clipvalue
                or opt.global_clipnorm or any(g is None for g in grads)):
            opt.apply_gradients(zip(grads, variables))
            return
        packs, singles = self._layout(opt, variables)
        if singles and spare:
            spare = len(set(map(id, grads))) == len(grads)  # a rule may hand one array to two inputs
        lr = opt.learning_rate
        wd = opt.weight_decay
        opt.before_step(variables)
        if wd:
            for v in variables:
                if opt._decays(v):
                    v.data -= v.data * (wd * lr)
        for pack, idx in packs:
            xp.concatenate([grads[i] for i in idx], axis=None, out=pack.g)
            step, sign = rule(opt, pack.g, pack.state, lr, pack.a, pack.b)
            for i, (lo, hi, shape) in zip(idx, pack.slices):
                w = variables[i].data
                if sign < 0:
                    w -= step[lo:hi].reshape(shape)
                else:
                    w += step[lo:hi].reshape(shape)
        for i in singles:
            v, g = variables[i], grads[i]
            a, b = self._scratch(v, g if spare else None)
            step, sign = rule(opt, g, opt._state[id(v)], lr, a, b)
            if sign < 0:
                v.data -= step
            else:
                v.data += step
        opt.iterations += 1

    def _layout(self, opt, variables) -> tuple:
        """``(packs, singles)``: each pack with the indices of its variables, and the indices
        of the variables updated one by one; made once per list of variables."""
        key = tuple(map(id, variables))
        kept = self._packs.get(key)
        if kept is None and any(id(v) not in opt._state for v in variables):
            opt.build(variables)
        if kept is not None and all(p.intact(opt) for p, _ in kept[1]):
            return kept[1], kept[2]
        small: dict = {}
        singles = []
        for i, v in enumerate(variables):
            if v.data.size <= SMALL and v.data.flags.c_contiguous:
                small.setdefault(v.data.dtype, []).append(i)
            else:
                singles.append(i)
        packs = []
        for idx in small.values():
            if len(idx) > 1:
                packs.append((_Pack(opt, [variables[i] for i in idx]), tuple(idx)))
            else:
                singles.extend(idx)
        if len(self._packs) > 8:
            self._packs.clear()
        self._packs[key] = (list(variables), packs, sorted(singles))
        return packs, sorted(singles)

    def _scratch(self, v, g) -> tuple:
        kept = self._buffers.get(id(v))
        if kept is None or kept[0] is not v or kept[1].shape != v.data.shape or kept[1].dtype != v.data.dtype:
            kept = self._buffers[id(v)] = (v, empty_aligned(v.data.shape, v.data.dtype), None)
        if g is not None and g.flags.writeable and g.base is None:
            return kept[1], g
        if kept[2] is None:
            kept = self._buffers[id(v)] = (v, kept[1], empty_aligned(v.data.shape, v.data.dtype))
        return kept[1], kept[2]


__all__ = ["Updater", "SMALL"]
