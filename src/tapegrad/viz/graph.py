"""The computation graph of a result, as Graphviz DOT text."""

from __future__ import annotations

import os
import shutil
import subprocess

from ..autodiff.tensor import Tensor, Variable
from ..saving.atomic import atomic_path


def to_dot(tensor: Tensor, name: str = "result") -> str:
    """DOT text (Graphviz) of the recorded graph behind ``tensor``: ops as boxes, tensors as ovals.

    Only a recorded graph can be drawn: compute the result inside a ``GradientTape`` or from
    tensors that require gradients, and draw it before ``backward`` frees it.

    Args:
        tensor: the result whose graph is drawn.
        name: the label of the result's node (default "result").

    Example:
        >>> import tapegrad as tg
        >>> a, b = tg.Variable(1.5), tg.Variable(2.5)
        >>> with tg.GradientTape():
        ...     e = (a + b) * (b - 1)
        >>> dot = tg.viz.to_dot(e, "e")
        >>> dot.startswith("digraph"), all(op in dot for op in ("Add", "Sub", "Mul"))
        (True, True)
    """
    lines = ["digraph G {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    ids: dict[int, str] = {}
    stack = [tensor]
    seen = set()

    def tensor_node(t: Tensor, label: str | None = None) -> str:
        key = id(t)
        if key not in ids:
            ids[key] = f"t{len(ids)}"
            kind = "Variable" if isinstance(t, Variable) else "tensor"
            text = label or (t.name or kind)
            fill = "lightblue" if isinstance(t, Variable) else ("khaki" if t._ctx is None else "white")
            lines.append(f'  {ids[key]} [label="{text}\\n{t.shape}", shape=ellipse, style=filled, '
                         f'fillcolor={fill}];')
        return ids[key]

    tensor_node(tensor, name)
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        op = f"op{len(seen)}"
        lines.append(f'  {op} [label="{type(t._ctx).__name__}", shape=box, style="rounded,filled", '
                     f'fillcolor=lightgray];')
        lines.append(f"  {op} -> {tensor_node(t)};")
        for p in t._ctx.parents:
            if p is not None:
                lines.append(f"  {tensor_node(p)} -> {op};")
                stack.append(p)
    lines.append("}")
    return "\n".join(lines)


def plot_graph(tensor: Tensor, path=None, name: str = "result") -> str:
    """Write the graph as DOT (``.dot``), or render it (``.png``/``.svg``) when Graphviz is installed.

    Returns the DOT text. Rendering needs the ``dot`` program; without it, asking for an image is
    an error that says so, and a ``.dot`` path always works.

    Args:
        tensor: the result whose recorded graph is drawn.
        path: the file to write (default None: only return the text).
        name: the label of the result's node (default "result").

    Example:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> x = tg.Variable(2.0)
        >>> with tg.GradientTape():
        ...     y = x * x + 1
        >>> path = os.path.join(tempfile.mkdtemp(), "graph.dot")
        >>> tg.viz.plot_graph(y, path) == open(path).read()
        True
    """
    dot = to_dot(tensor, name)
    if path is None:
        return dot
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    with atomic_path(path) as tmp:
        if ext in ("dot", "gv", ""):
            with open(tmp, "w") as f:
                f.write(dot)
        else:
            exe = shutil.which("dot")
            if exe is None:
                raise RuntimeError(f"plot_graph: rendering {ext!r} needs Graphviz's 'dot' program, which is not "
                                   "installed; save to a .dot path instead")
            subprocess.run([exe, f"-T{ext}", "-o", tmp], input=dot.encode(), check=True)
    return dot
