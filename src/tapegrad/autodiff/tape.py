"""``GradientTape``: TensorFlow-style reverse-mode differentiation.

Trainable variables are recorded wherever they are used, as in PyTorch; a tape adds
recording of the other float tensors it is asked to ``watch`` while it is open, and
computes gradients of a target with respect to any sources in the graph.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from .engine import run
from .grad_mode import mode
from .tensor import Tensor, Variable


class GradientTape:
    """Record operations to differentiate, as ``tf.GradientTape``.

    Args:
        persistent: allow more than one ``gradient`` call (the graph is kept).
        watch_accessed_variables: watch every trainable variable automatically;
            when False only tensors passed to ``watch`` get gradients.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant(3.0)
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> float(tape.gradient(y, x))
        6.0

    Differences from TensorFlow: trainable variables record their operations even
    outside a tape (that is what makes PyTorch-style ``backward()`` work), and
    gradients are first order only (a tape inside a tape does not differentiate
    the outer gradient computation).
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched: dict[int, Tensor] = {}
        self._flipped: list[Tensor] = []
        self._recording = False
        self._used = False

    def __enter__(self) -> "GradientTape":
        self._recording = True
        return self

    def __exit__(self, *exc) -> None:
        self._recording = False
        for t in self._flipped:  # watched constants stop recording once the tape closes
            t.requires_grad = False
        self._flipped.clear()

    def watch(self, tensor: Any) -> None:
        """Record operations on ``tensor`` (or each tensor in a list/tuple/dict)."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected a Tensor, received {type(t).__name__}")
            if t.dtype.kind != "f":
                continue  # integer tensors are not differentiable (TensorFlow warns and ignores)
            self._watched[id(t)] = t
            if not t.requires_grad:
                t.requires_grad = True
                if self._recording:
                    self._flipped.append(t)
                else:  # pragma: no cover - watching a closed tape records nothing
                    t.requires_grad = False

    def watched_variables(self) -> list[Tensor]:
        return list(self._watched.values())

    def reset(self) -> None:
        self._watched.clear()
        self._used = False

    def stop_recording(self):
        """Context in which the tape's watched constants do not record."""
        tape = self

        class _Pause:
            def __enter__(self_inner):
                for t in tape._flipped:
                    t.requires_grad = False

            def __exit__(self_inner, *exc):
                for t in tape._flipped:
                    t.requires_grad = True

        return _Pause()

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = "none") -> Any:
        """d(sum of target)/d(source) for each source, in the structure of ``sources``.

        A source the target does not depend on gives None, or zeros with
        ``unconnected_gradients="zero"``. A non-persistent tape can do this once.
        """
        if mode.effect is not None:  # tg.function is recording: it records the backward pass
            return mode.effect("gradient", self.gradient, (target, sources),
                               {"output_gradients": output_gradients, "unconnected_gradients": unconnected_gradients})
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(
                f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero', received {unconnected_gradients!r}"
            )
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient can only be called once on a non-persistent tape; "
                "create the tape with GradientTape(persistent=True) to call it more than once"
            )
        targets = [target] if isinstance(target, Tensor) else list(_flatten(target))
        for t in targets:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.gradient: target must be a Tensor, received {type(t).__name__}")
        if output_gradients is None:
            seeds = [xp.ones(t.data.shape, t.data.dtype) for t in targets]
        else:
            og = list(_flatten(output_gradients))
            if len(og) != len(targets):
                raise ValueError(
                    f"GradientTape.gradient: received {len(og)} output_gradients for {len(targets)} targets"
                )
            seeds = []
            for t, g in zip(targets, og):
                arr = g.data if isinstance(g, Tensor) else xp.asarray(g, dtype=t.dtype)
                if arr.shape != t.shape:
                    raise ValueError(
                        f"GradientTape.gradient: output_gradients shape {arr.shape} does not match target shape {t.shape}"
                    )
                seeds.append(arr)
        flat_sources = _flat_list(sources)
        wanted = set()
        for s in flat_sources:
            if not isinstance(s, Tensor):
                raise TypeError(f"GradientTape.gradient: sources must be Tensors, received {type(s).__name__}")
            if self._allowed(s):
                wanted.add(id(s))
        self._used = True
        results = run(targets, seeds, retain_graph=self.persistent, wanted=wanted)
        out = []
        for s in flat_sources:
            hit = results.get(id(s)) if id(s) in wanted else None
            if hit is not None:
                g = hit[1]
                if g.base is not None or not g.flags.writeable:
                    g = g.copy()
                out.append(Tensor._wrap(g))
            elif unconnected_gradients == "zero":
                out.append(Tensor._wrap(xp.zeros_like(s.data)))
            else:
                out.append(None)
        if flat_sources is sources:  # a flat list in, a flat list out
            return out
        return _unflatten(sources, iter(out))

    def _allowed(self, s: Tensor) -> bool:
        if id(s) in self._watched:
            return True
        if isinstance(s, Variable):
            return self.watch_accessed_variables and s.trainable
        return s.requires_grad  # an intermediate result of watched inputs


def _flat_list(obj):
    """``obj`` itself when it is a list of tensors (the usual ``trainable_weights``), else its leaves."""
    if type(obj) is list and all(isinstance(o, Tensor) for o in obj):
        return obj
    return list(_flatten(obj))


def _flatten(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    elif isinstance(obj, dict):
        for k in obj:
            yield from _flatten(obj[k])
    else:
        yield obj


def _unflatten(structure, it):
    if isinstance(structure, (list, tuple)):
        items = [_unflatten(s, it) for s in structure]
        return items if isinstance(structure, list) else tuple(items)
    if isinstance(structure, dict):
        return {k: _unflatten(v, it) for k, v in structure.items()}
    return next(it)
