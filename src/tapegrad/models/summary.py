"""The text of ``model.summary()``: layers, output shapes, parameter counts, totals."""

from __future__ import annotations


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"  # pragma: no cover


def summary_text(model, line_length: int = 72) -> str:
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet, so its summary is unknown: call it on "
                         "data, call build(input_shape), or start a Sequential with tg.Input(shape=...)")
    widths = [int(line_length * 0.45), int(line_length * 0.33), line_length - int(line_length * 0.45) -
              int(line_length * 0.33)]

    def row(a, b, c):
        return f"{a:<{widths[0]}}{b:<{widths[1]}}{c:>{widths[2]}}"

    lines = [f'Model: "{model.name}"', "_" * line_length, row("Layer (type)", "Output Shape", "Param #"),
             "=" * line_length]
    for i, layer in enumerate(model._layers):
        try:
            shape = str(layer.output_shape)
        except AttributeError:
            shape = "?"
        lines.append(row(f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}"))
        lines.append(("_" if i == len(model._layers) - 1 else " ") * 0 or "")
    lines = [l for l in lines if l != ""]
    lines.append("=" * line_length)
    total = model.count_params()
    trainable = sum(w.size for w in model.trainable_weights)
    nbytes = sum(w.data.nbytes for w in model.weights)
    tbytes = sum(w.data.nbytes for w in model.trainable_weights)
    lines += [f"Total params: {total:,} ({_fmt_bytes(nbytes)})",
              f"Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})",
              f"Non-trainable params: {total - trainable:,} ({_fmt_bytes(nbytes - tbytes)})",
              "_" * line_length]
    return "\n".join(lines)
