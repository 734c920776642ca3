"""3. Stacking layers: Sequential models, subclassed models, and a multi-output layer."""

from __future__ import annotations

import argparse
from typing import Any

import tapegrad as tg


class SubclassModel(tg.Model):
    """The lab's subclassed model: layers made in __init__, used in call."""

    def __init__(self, n_output_nodes: int) -> None:
        super().__init__()
        self.dense_layer = tg.layers.Dense(n_output_nodes, activation="sigmoid")

    def call(self, inputs: tg.Tensor, training: bool = False) -> tg.Tensor:
        out: tg.Tensor = self.dense_layer(inputs)  # a layer's output follows its call: annotate it
        return out


class IdentityModel(tg.Model):
    """A model whose behaviour changes with a flag: return the input unchanged when asked."""

    def __init__(self, n_output_nodes: int) -> None:
        super().__init__()
        self.dense_layer = tg.layers.Dense(n_output_nodes, activation="sigmoid")

    def call(self, inputs: tg.Tensor, isidentity: bool = False, training: bool = False) -> tg.Tensor:
        return inputs if isidentity else self.dense_layer(inputs)


class TwoOutputs(tg.layers.Layer):
    """A multi-output layer: one input, two differently shaped outputs."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.score = tg.layers.Dense(1)
        self.classes = tg.layers.Dense(3, activation="softmax")

    def call(self, x: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        return self.score(x), self.classes(x)


def main(quick: bool = False) -> dict[str, Any]:
    tg.random.set_seed(0)
    x = tg.constant([[1, 2.0]])
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(3, activation="sigmoid")])
    model.summary()
    print("Sequential output:", model(x).numpy())
    sub = SubclassModel(3)
    print("Subclassed output:", sub(x).numpy())
    ident = IdentityModel(3)
    print("Identity model, isidentity=True:", ident(x, isidentity=True).numpy())
    score, classes = TwoOutputs()(tg.ones((4, 2)))
    print(f"Multi-output layer: {score.shape} and {classes.shape}; class probabilities sum to "
          f"{classes.numpy().sum(1).round(6).tolist()}")
    return {"sequential": model(x).shape, "identity": ident(x, isidentity=True).numpy().tolist(),
            "multi": (score.shape, classes.shape)}


if __name__ == "__main__":
    # Nothing here trains or draws, so there is no --epochs or --out: --help describes the example.
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
