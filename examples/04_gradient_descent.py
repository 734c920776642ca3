"""4. Gradient descent with GradientTape: minimize L = (x - x_f)^2 from a random start.

Backpropagation is the chain rule applied recursively; here the chain is one link long,
dL/dx = 2 (x - x_f), and each step moves x against it, scaled by the learning rate.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import tapegrad as tg


def main(quick: bool = False, out: str | None = None, steps: int = 500) -> dict[str, Any]:
    tg.random.set_seed(1)
    x = tg.Variable([tg.random.normal([1]).numpy()[0]])
    print(f"Initializing x = {x.numpy()[0]:.4f}")
    learning_rate = 1e-2
    history = []
    x_f = 4.0
    for _ in range(steps):
        with tg.GradientTape() as tape:
            loss = (x - x_f) ** 2
        grad = tape.gradient(loss, x)
        new_x = x - learning_rate * grad
        x.assign(new_x)
        history.append(float(x.numpy()[0]))
    print(f"after {steps} steps x = {history[-1]:.5f} (target {x_f})")
    if out:
        fig = tg.viz._figure.new_figure(6, 4)
        ax = fig.subplots()
        ax.plot(history, label="x")
        ax.axhline(x_f, color="k", ls="--", label="x_f")
        ax.set_xlabel("iteration")
        ax.set_ylabel("x value")
        ax.legend()
        ax.set_title("Gradient descent on (x - x_f)^2")
        tg.viz._figure.finish(fig, out)
        print(f"wrote the picture: {os.path.abspath(out)}")
    return {"final": history[-1], "history": history}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", "--steps", dest="steps", type=int, default=500,
                   help="gradient-descent steps (default 500)")
    p.add_argument("--out", default="gradient_descent.png", help="picture file (default gradient_descent.png)")
    a = p.parse_args()
    main(out=a.out, steps=a.steps)
