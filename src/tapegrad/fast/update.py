"""Optimizer updates for replayed training steps: Keras's Adam and SGD into kept buffers.

``Optimizer.apply_gradients`` computes each update with NumPy's ordinary expressions, so every
intermediate is a new array. ``Updater`` computes the same operations, in the same order and
so to the same bits, into two buffers kept per variable (or into the gradient itself, when
the replay gives it up: it made that array and nothing else holds it). Small variables of
one dtype are updated together: their gradients are copied into one flat array, their state
moves into flat arrays of which the optimizer's per-variable state arrays become views, and
each weight (whose storage stays its own) takes its slice of the flat step; the arithmetic
is element-wise, so the result is the same bit for bit, in a few NumPy calls instead of a
dozen per variable. A large variable is updated in chunks of ``CHUNK`` elements: the whole
chain of operations runs on one chunk of its gradient, state and weight while they sit in
the core's cache, before the next chunk, so each array crosses the memory bus once instead
of once per operation; its intermediates go to two chunk-sized buffers (or into the gradient,
when the replay gives it up), and each operation writes into one of its inputs. The
operations per element, and so the results, are the same as the whole-array ones. It reads
and writes the optimizer's own state and ``iterations``, so eager and replayed steps can
follow each other in any order. Other optimizers, clipping and amsgrad go through
``apply_gradients``.
"""

from __future__ import annotations

import math
import operator
import os
from itertools import repeat

from ..backend import xp
from ..optimizers.adam import Adam, AdamW
from ..optimizers.sgd import SGD
from .memory import copy_aligned, empty_aligned


SMALL = 1 << 14
"""Variables of up to this many elements are updated together, as one flat array."""


def _chunk_elements(l2_bytes: int) -> int:
    """The largest power of two of float32 elements, from 2**12 to 2**18, whose six chunks (the
    gradient, two of state, the weight, two of scratch) fill at most three quarters of an L2
    cache of ``l2_bytes`` (2**15 where the size is unknown): the longer the chunk, the fewer
    NumPy calls, as long as the chain of operations finds its chunks still in the cache.

    Example:
        >>> _chunk_elements(1 << 20), _chunk_elements(2 << 20), _chunk_elements(0)
        (32768, 65536, 32768)
    """
    if l2_bytes <= 0:
        return 1 << 15
    n = 1 << 12
    while n < 1 << 18 and 6 * 4 * (2 * n) <= l2_bytes * 3 // 4:
        n *= 2
    return n


def _l2_bytes() -> int:
    """The size of the first core's L2 cache as Linux reports it (sysfs), or 0 where unknown."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(root)):
            with open(os.path.join(root, index, "level")) as f:
                if f.read().strip() != "2":
                    continue
            with open(os.path.join(root, index, "size")) as f:
                size = f.read().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):  # not Linux, or a file it cannot read: the default chunk
        pass
    return 0


CHUNK = _chunk_elements(_l2_bytes())
"""Elements per chunk of a variable updated on its own (see ``_chunk_elements``)."""


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


def _adam_chunk(opt, lr):
    """``Adam.update_step`` on one chunk, applied to the weight's chunk: ``(update, constants)``
    where ``update(g, (m, v), w, constants, a, b, spare)`` computes what ``_adam`` computes,
    operation by operation, in an order that lets each operation write into one of its
    inputs (``spare``: ``g`` may hold an intermediate)."""
    t = opt.iterations + 1
    alpha = lr * math.sqrt(1 - opt.beta_2**t) / (1 - opt.beta_1**t)
    return _adam_update, (1 - opt.beta_1, 1 - opt.beta_2, alpha, opt.epsilon)


def _adam_update(g, s, w, c, a, b, spare):
    one_b1, one_b2, alpha, eps = c
    m, v = s
    xp.square(g, out=a)  # g^2 first: g may take g - m next
    d = g if spare else b
    xp.subtract(g, m, out=d)  # m += (g - m) * (1 - beta_1)
    d *= one_b1
    m += d
    a -= v  # v += (g^2 - v) * (1 - beta_2)
    a *= one_b2
    v += a
    xp.multiply(m, alpha, out=b)  # w -= (m * alpha) / (sqrt(v) + epsilon)
    xp.sqrt(v, out=a)
    a += eps
    b /= a
    w -= b


def _sgd_chunk(opt, lr):
    """``SGD.update_step`` on one chunk (as ``_adam_chunk``): ``(update, constants)``."""
    return _sgd_update, (lr, opt.momentum, opt.nesterov)


def _sgd_update(g, s, w, c, a, b, spare):
    lr, momentum, nesterov = c
    d = g if spare else b
    xp.multiply(g, lr, out=d)
    if not momentum:
        w -= d  # w -= g * lr
        return
    (m,) = s
    xp.multiply(m, momentum, out=a)  # m = m * momentum - g * lr
    xp.subtract(a, d, out=m)
    if not nesterov:
        w += m
        return
    xp.multiply(m, momentum, out=a)  # w += m * momentum - g * lr
    a -= d
    w += a


_LAYOUT = operator.attrgetter("shape", "dtype", "flags.c_contiguous")
_FLAT = operator.methodcaller("reshape", -1)

_RULES = {Adam: _adam, AdamW: _adam, SGD: _sgd}
_CHUNKED = {_adam: (_adam_chunk, ("momentum", "velocity")), _sgd: (_sgd_chunk, ("momentum",))}


class _Pack:
    """Small variables of one dtype updated as one flat array: their gradients are copied
    into ``g`` (unless they are already there: a caller may compute them into the views
    ``grads``), their state lives in flat arrays (the optimizer's per-variable state arrays
    are views of them), and each weight takes its slice of the flat step (``views``)."""

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
        self.ids = [id(v) for v in variables]
        self._views: dict = {}  # id of a flat array of the pack -> (the array, its views)
        self.grads = self.views(self.g)

    def views(self, flat) -> list:
        """``flat`` (one of the pack's flat arrays) as one view per variable, of its shape;
        made once per array."""
        kept = self._views.get(id(flat))
        if kept is not None and kept[0] is flat:
            return kept[1]
        out = [flat[lo:hi].reshape(shape) for lo, hi, shape in self.slices]
        self._views[id(flat)] = (flat, out)
        return out


class Updater:
    """Applies one step's gradients for a model: in kept buffers where the rule is one of
    ``_RULES`` (and no clipping or amsgrad), with small variables packed, else through
    ``apply_gradients``."""

    def __init__(self) -> None:
        self._buffers: dict = {}  # id(variable) -> [variable, a, b, (shape, dtype)]; the variable keeps its id unique
        self._packs: dict = {}  # ids of variables -> (variables, optimizer, packs, singles, homed, ids, dicts)
        self._last = None  # the layout of the last step
        self._chunks: dict = {}  # dtype -> the two scratch chunks of chunked updates
        self._grad_views = None  # (layout, variables, views): what grad_views last returned

    def apply(self, opt, grads: list, variables: list, spare: bool) -> None:
        """Update ``variables`` from ``grads`` (arrays of their shapes and dtypes, made by this
        step). ``spare``: the arrays are the caller's to give up, so they may hold intermediates."""
        rule = _RULES.get(type(opt))
        if (rule is None or getattr(opt, "amsgrad", False) or opt.clipnorm or opt.clipvalue
                or opt.global_clipnorm or any(map(operator.is_, grads, repeat(None)))):
            opt.apply_gradients(zip(grads, variables))
            return
        packs, singles = self._layout(opt, variables)
        if singles and spare:
            spare = len(set(map(id, grads))) == len(grads)  # a rule may hand one array to two inputs
        lr = opt.learning_rate
        wd = opt.weight_decay
        inline = {}  # index -> the state arrays of a variable updated chunk by chunk
        if singles:  # (packed small variables need none of this)
            chunked, names = _CHUNKED[rule]
            update, consts = chunked(opt, lr)
            if rule is _sgd and not opt.momentum:
                names = ()
            for i in singles:
                w, state = variables[i].data, tuple(map(opt._state[id(variables[i])].__getitem__, names))
                if w.flags.c_contiguous and len(set(map(_LAYOUT, (grads[i], w) + state))) == 1:
                    inline[i] = state  # all of one shape and dtype, and C-contiguous
        opt.before_step(variables)
        if wd:
            for i, v in enumerate(variables):
                if i not in inline and opt._decays(v):
                    v.data -= v.data * (wd * lr)
        for pack, idx in packs:
            gs = [grads[i] for i in idx]
            if any(map(operator.is_not, gs, pack.grads)):  # else the caller computed them in place
                xp.concatenate(gs, axis=None, out=pack.g)
            step, sign = rule(opt, pack.g, pack.state, lr, pack.a, pack.b)
            for i, part in zip(idx, pack.views(step)):
                w = variables[i].data
                if sign < 0:
                    w -= part
                else:
                    w += part
        need_a = rule is not _sgd or bool(opt.momentum)  # plain SGD needs one buffer
        for i in singles:
            v, g = variables[i], grads[i]
            if i in inline:  # the weight decay too, chunk by chunk
                decay = wd * lr if wd and opt._decays(v) else None
                self._chunked(update, consts, g, inline[i], v.data, spare and g.flags.writeable and g.base is None,
                              decay)
                continue
            a, b = self._scratch(v, g if spare else None, need_a)
            step, sign = rule(opt, g, opt._state[id(v)], lr, a, b)
            if sign < 0:
                v.data -= step
            else:
                v.data += step
        opt.iterations += 1

    def grad_views(self, variables: list) -> list | None:
        """For each of ``variables``, a view of its pack's flat gradient buffer (None for a
        variable updated on its own), in the layout of the last step, which updated these
        same variables; None when there is no such step. A caller that computes a gradient
        into its view spares ``apply`` copying it there; should the layout change before that
        step's ``apply``, the views are of buffers no longer used and ``apply`` copies them."""
        last, kept = self._last, self._grad_views
        if kept is not None and kept[0] is last and kept[1] is variables:
            return kept[2]
        if last is None or len(last[0]) != len(variables) or any(map(operator.is_not, variables, last[0])):
            return None
        views: list = [None] * len(variables)
        for pack, idx in last[2]:
            for i, view in zip(idx, pack.grads):
                views[i] = view
        self._grad_views = (last, variables, views)
        return views

    def _chunked(self, update, consts, g, state, w, spare: bool, decay=None) -> None:
        """``update`` applied to ``w`` chunk by chunk (all arrays C-contiguous, of one shape
        and dtype); ``spare``: ``g`` may hold intermediates; ``decay``: ``w -= w * decay``
        first, as the optimizer's weight decay does before its update."""
        scratch = self._chunks.get(w.dtype)
        if scratch is None:
            scratch = self._chunks[w.dtype] = (empty_aligned((CHUNK,), w.dtype), empty_aligned((CHUNK,), w.dtype))
        a, b = scratch
        g, w = g.reshape(-1), w.reshape(-1)
        state = tuple(map(_FLAT, state))
        n = w.size
        for lo in range(0, n, CHUNK):
            part, scratch_part = slice(lo, min(lo + CHUNK, n)), slice(0, min(CHUNK, n - lo))
            wc, ac = w[part], a[scratch_part]
            if decay is not None:
                xp.multiply(wc, decay, out=ac)
                wc -= ac
            update(g[part], tuple(map(operator.itemgetter(part), state)), wc, consts, ac, b[scratch_part], spare)

    def _layout(self, opt, variables) -> tuple:
        """``(packs, singles)``: each pack with the indices of its variables, and the indices
        of the variables updated one by one; made once per list of variables."""
        last = self._last
        if (last is not None and last[1] is opt and len(variables) == len(last[0])
                and not any(map(operator.is_not, variables, last[0])) and self._intact(opt, last)):
            return last[2], last[3]  # the same variables as the last step's
        key = tuple(map(id, variables))
        kept = self._packs.get(key)
        if kept is None and any(id(v) not in opt._state for v in variables):
            opt.build(variables)
        if kept is not None and kept[1] is opt and self._intact(opt, kept):
            self._last = kept
            return kept[2], kept[3]
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
        singles.sort()
        homed = []
        for i in singles:  # the state of a large variable moves to buffers that start on a cache line
            v = variables[i]
            state = opt._state[id(v)] = {name: copy_aligned(arr) for name, arr in opt._state[id(v)].items()}
            homed.append((i, state))
        if len(self._packs) > 8:
            self._packs.clear()
        # what _intact compares: the state dicts this layout made, under their variables' ids
        ids = [i for pack, _ in packs for i in pack.ids] + [id(variables[i]) for i, _ in homed]
        dicts = [d for pack, _ in packs for d in pack.dicts] + [d for _, d in homed]
        self._packs[key] = self._last = (tuple(variables), opt, packs, singles, homed, ids, dicts)
        return packs, singles

    @staticmethod
    def _intact(opt, kept) -> bool:
        """Whether the optimizer still holds the state arrays this layout made (``set_state``
        and ``build`` of a new optimizer state replace them)."""
        return not any(map(operator.is_not, map(opt._state.get, kept[5]), kept[6]))

    def _scratch(self, v, g, need_a: bool) -> tuple:
        """The buffers ``a`` and ``b`` of ``v``'s update, kept from step to step and made on
        first use; ``b`` is ``g`` itself when the caller gave ``g`` up (``g`` not None) and
        nothing else views it; ``a`` is None when the rule needs none."""
        kept = self._buffers.get(id(v))
        if kept is None or kept[0] is not v or kept[3] != (v.data.shape, v.data.dtype):
            kept = self._buffers[id(v)] = [v, None, None, (v.data.shape, v.data.dtype)]
        if need_a and kept[1] is None:
            kept[1] = empty_aligned(v.data.shape, v.data.dtype)
        if g is not None and g.flags.writeable and g.base is None:
            return kept[1], g
        if kept[2] is None:
            kept[2] = empty_aligned(v.data.shape, v.data.dtype)
        return kept[1], kept[2]


__all__ = ["Updater", "SMALL", "CHUNK"]
