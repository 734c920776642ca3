"""The text of a functional model's ``summary()``: Keras's four columns, with "Connected to"."""

from __future__ import annotations

from .summary import _fmt_bytes


def _shape_text(structure) -> str:
    from ..layers.symbolic import KerasTensor, flatten

    shapes = [t.shape for t in flatten(structure) if isinstance(t, KerasTensor)]
    return str(shapes[0]) if len(shapes) == 1 else ", ".join(str(s) for s in shapes)


def summary_text(model, line_length: int = 98) -> str:
    from .functional_config import model_nodes

    per_layer = model_nodes(model)
    index = {id(n): i for nodes in per_layer.values() for i, n in enumerate(nodes)}
    cuts = [int(line_length * p) for p in (0.3, 0.55, 0.67)]
    widths = [cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], line_length - cuts[2]]

    def cell(text: str, width: int) -> str:
        text = str(text)
        return text if len(text) < width else text[:max(width - 2, 1)] + "…"

    def row(a, b, c, d):
        return (f"{cell(a, widths[0]):<{widths[0]}}{cell(b, widths[1]):<{widths[1]}}"
                f"{cell(c, widths[2] - 1):>{widths[2] - 1}} {cell(d, widths[3]):<{widths[3]}}").rstrip()

    lines = [f'Model: "{model.name}"', "_" * line_length, row("Layer (type)", "Output Shape", "Param #", "Connected to"),
             "=" * line_length]
    for i, layer in enumerate(model._layers):
        nodes = per_layer.get(id(layer), [])
        shape = _shape_text(nodes[0].output_structure) if nodes else "?"
        sources = []
        for node in nodes:
            for t in node.inputs:
                sources.append(f"{t.node.layer.name}[{index[id(t.node)]}][{t.index}]")
        sources = sources or ["-"]
        lines.append(row(f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}", sources[0]))
        for more in sources[1:]:
            lines.append(row("", "", "", more))
        lines.append("=" * line_length if i == len(model._layers) - 1 else "_" * line_length)
    total = model.count_params()
    trainable = sum(w.size for w in model.trainable_weights)
    nbytes = sum(w.data.nbytes for w in model.weights)
    tbytes = sum(w.data.nbytes for w in model.trainable_weights)
    lines += [f"Total params: {total:,} ({_fmt_bytes(nbytes)})",
              f"Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})",
              f"Non-trainable params: {total - trainable:,} ({_fmt_bytes(nbytes - tbytes)})",
              "_" * line_length]
    return "\n".join(lines)


__all__: list[str] = []  # used by the training loop and Functional, not a public API
