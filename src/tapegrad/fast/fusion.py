"""Fusion: a recorded forward pass with runs of nodes replaced by one fused node.

``fuse`` scans the nodes a replayed step recorded for the runs that ``nodes.py`` computes as
one node, and puts the fused node in their place:

- ``MatMul`` of a 2-d batch and a weight, ``Add`` of a bias weight, optionally ``Relu``
  (a Dense layer) -> ``nodes.Linear``;
- a ``Conv2D`` node, ``Relu``, optionally ``MaxPoolTiled`` -> ``nodes.ConvRelu``.

A run is fused only when each of its intermediate results goes to the next node alone (not
to another node, nor out of the model), when its nodes run one after another in the
backward pass, and when they all take part in it or none does. The fused node takes the
run's place in the backward order, so every other gradient is summed in the same order.
"""

from __future__ import annotations

from typing import NamedTuple

from ..autodiff.tensor import Tensor
from ..ops.conv import Conv2D, MaxPoolTiled
from ..ops.math import Add, MatMul
from ..ops.nn import Relu
from .nodes import ConvRelu, Linear


class Record(NamedTuple):
    """One recorded node: its rule, inputs (an int slot: 0 the batch, k + 1 node k's result;
    or a tensor), settings, which inputs take a gradient (None: off the backward pass),
    and its result's shape and dtype."""

    rule: type
    inputs: tuple
    settings: dict
    needs: tuple | None
    shape: tuple
    dtype: object


def _is_weight(ref, ndim: int) -> bool:
    return isinstance(ref, Tensor) and ref.data.ndim == ndim


def fusable(records: list, k: int, uses: dict) -> tuple | None:
    """``(length, fused record)`` when a fusable run starts at node ``k``, else None (``uses``:
    slot -> how many inputs read it; the caller checks where the run's nodes sit in the
    backward order)."""
    first = records[k]

    def follows(j: int, rule) -> bool:  # node j is `rule` applied to node j-1's result alone
        return (j < len(records) and records[j].rule is rule and records[j].inputs[0] == j
                and uses.get(j, 0) == 1)

    if first.rule is MatMul and len(first.shape) == 2 and _is_weight(first.inputs[1], 2) \
            and follows(k + 1, Add) and _is_weight(records[k + 1].inputs[1], 1):
        relu = follows(k + 2, Relu)
        x, w = first.inputs
        b = records[k + 1].inputs[1]
        needs = None if first.needs is None else first.needs + records[k + 1].needs[1:]
        n = 3 if relu else 2
        return n, Record(Linear, (x, w, b), {"relu": relu}, needs, records[k + n - 1].shape,
                         records[k + n - 1].dtype)
    if first.rule is Conv2D and follows(k + 1, Relu) and first.settings.get("band") is None:
        pool = records[k + 2].settings["pool"] if follows(k + 2, MaxPoolTiled) else None
        n = 2 if pool is None else 3
        return n, Record(ConvRelu, first.inputs, {**first.settings, "pool": pool}, first.needs,
                         records[k + n - 1].shape, records[k + n - 1].dtype)
    return None


def fuse(records: list, output: int, order: list) -> tuple:
    """``(records, output, order, fused)``: the records with fusable runs replaced, the output's
    slot and the backward order (node indices) renumbered, and how many runs were fused."""
    uses: dict = {output: 1}  # slot -> how many inputs read it (the model's output counts once)
    for rec in records:
        for ref in rec.inputs:
            if ref.__class__ is int:
                uses[ref] = uses.get(ref, 0) + 1
    where = {k: i for i, k in enumerate(order)}
    out: list = []
    new_slot = {0: 0}  # old slot -> new slot
    group = {}  # old node index -> new node index (all members of a fused run map to it)
    fused = 0
    k = 0
    while k < len(records):
        run = fusable(records, k, uses)
        if run is not None:
            n, rec = run
            members = [records[j].needs is None for j in range(k, k + n)]
            positions = [where.get(j) for j in range(k, k + n)]
            together = all(members) or (not any(members) and None not in positions and all(
                positions[j] == positions[j + 1] + 1 for j in range(n - 1)))
            if together:
                out.append(rec._replace(inputs=tuple(new_slot[r] if r.__class__ is int else r
                                                     for r in rec.inputs)))
                for j in range(k, k + n):
                    group[j] = len(out) - 1
                new_slot[k + n] = len(out)
                fused += 1
                k += n
                continue
        rec = records[k]
        out.append(rec._replace(inputs=tuple(new_slot[r] if r.__class__ is int else r for r in rec.inputs)))
        group[k] = len(out) - 1
        new_slot[k + 1] = len(out)
        k += 1
    new_order = []
    for k in order:
        g = group[k]
        if not new_order or new_order[-1] != g:
            new_order.append(g)
    return out, new_slot[output], new_order, fused


__all__ = ["Record", "fusable", "fuse"]
