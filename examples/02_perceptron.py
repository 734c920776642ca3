"""2. The perceptron from scratch: dot product, bias, non-linearity, then a Dense layer.

y = g(w0 + x . w): a weighted sum of the inputs, plus a bias, through an activation.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad as tg


def perceptron(x: tg.Tensor, w: tg.Tensor, w0: float,
               g: Callable[[tg.Tensor], tg.Tensor] = tg.sigmoid) -> tg.Tensor:
    """One neuron, written out: the lecture's y = g(w0 + X^T W)."""
    return g(w0 + tg.reduce_sum(x * w))


class OurDenseLayer(tg.layers.Layer):
    """The lab's dense layer: many perceptrons at once, weights made in build."""

    def __init__(self, n_output_nodes: int) -> None:
        super().__init__()
        self.n_output_nodes = n_output_nodes

    def build(self, input_shape: tuple[int, ...]) -> None:
        d = int(input_shape[-1])
        self.W = self.add_weight("weight", shape=[d, self.n_output_nodes])
        self.b = self.add_weight("bias", shape=[1, self.n_output_nodes])

    def call(self, x: tg.Tensor) -> tg.Tensor:
        z = tg.matmul(x, self.W) + self.b
        return tg.sigmoid(z)


def main(quick: bool = False) -> dict[str, Any]:
    x = tg.constant([-1.0, 2.0])
    w = tg.constant([3.0, -2.0])
    y = perceptron(x, w, w0=1.0)
    print(f"z = 1 + (-1)(3) + (2)(-2) = -6, so y = sigmoid(-6) = {float(y):.5f}")
    tg.utils.set_random_seed(1)
    layer = OurDenseLayer(3)
    layer.build((1, 2))
    x_input = tg.constant([[1, 2.0]], shape=(1, 2))
    y = layer.call(x_input)
    print(f"OurDenseLayer(3) on [[1, 2]]: {np.round(y.numpy(), 4)}")
    builtin = tg.layers.Dense(3, activation="sigmoid")
    builtin(x_input)
    builtin.set_weights([layer.W.numpy(), layer.b.numpy()[0]])
    same = np.allclose(builtin(x_input).numpy(), y.numpy())
    print(f"tg.layers.Dense(3, activation='sigmoid') with the same weights agrees: {same}")
    return {"perceptron": float(perceptron(x, w, 1.0)), "layer_output": y.numpy(), "same": same}


if __name__ == "__main__":
    # Nothing here trains or draws, so there is no --epochs or --out: --help describes the example.
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
