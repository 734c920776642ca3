"""1. Tensors and computation graphs (the lab's first part).

Tensors are N-dimensional arrays: a number is 0-d, a vector 1-d, a matrix 2-d, and a
batch of RGB images 4-d. Computations on them form a graph, which tapegrad records so
it can later differentiate it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import tapegrad as tg


def func(a: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
    """The lab's example: e = (a + b) * (b - 1), drawn as a graph of c = a + b, d = b - 1, e = c * d."""
    c = tg.add(a, b)
    d = tg.subtract(b, 1)
    return tg.multiply(c, d)


def main(quick: bool = False, out: str | None = None) -> dict[str, Any]:
    sport = tg.constant("Tennis", tg.string)  # 0-d
    number = tg.constant(1.41421356237, tg.float64)
    print(f"0-d tensors: {sport.numpy()!r} and {number.numpy()}, of rank {int(tg.rank(sport))} and "
          f"{int(tg.rank(number))}")
    sports = tg.constant(["Tennis", "Basketball"], tg.string)
    print(f"a 1-d tensor of shape {sports.shape}: {sports.numpy().tolist()}")
    matrix = tg.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    print(f"a 2-d tensor of shape {matrix.shape}; its second row is {matrix[1].numpy()} (slicing)")
    images = tg.zeros([10, 256, 256, 3])
    print(f"a 4-d tensor: {images.shape[0]} images of {images.shape[1]}x{images.shape[2]} with "
          f"{images.shape[3]} colour channels, rank {int(tg.rank(images))}")
    row_vector = matrix[1]
    column_vector = matrix[:, 1]
    scalar = matrix[0, 1]
    print(f"slices: row {row_vector.numpy()}, column {column_vector.numpy()}, element {scalar.numpy()}")

    a, b = tg.constant(1.5), tg.constant(2.5)
    with tg.GradientTape() as tape:
        tape.watch([a, b])
        e = func(a, b)
    print(f"func(1.5, 2.5) = {float(e)}")  # (1.5 + 2.5) * (2.5 - 1) = 6.0
    dot = tg.viz.to_dot(e, "e")
    if out:
        with open(out, "w") as f:
            f.write(dot)
        print(f"wrote the computation graph as Graphviz DOT: {os.path.abspath(out)}")
    print("NumPy interop:", tg.constant([1.0, 2.0]).numpy() * 2, "and back:", tg.constant(matrix.numpy().T).shape)
    return {"e": float(e), "dot": dot, "sport": str(sport.numpy())}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="graph.dot", help="file for the computation graph, Graphviz DOT (default graph.dot)")
    main(out=p.parse_args().out)
