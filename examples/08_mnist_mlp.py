"""8. A real data set: a multilayer perceptron on MNIST (or Fashion-MNIST) from IDX files.

    python examples/08_mnist_mlp.py --data ../shared/data/mnist
    python examples/08_mnist_mlp.py --data ../shared/data/fashion-mnist --dataset fashion_mnist

The images are flattened to 784 numbers, scaled to [0, 1], and fed to a 784-256-256-10
network trained with Adam on mini-batches of 128; the test accuracy is printed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

import tapegrad as tg


def load(data: str, dataset: str,
         limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    module = getattr(tg.datasets, dataset)
    (x, y), (xt, yt) = module.load_data(data)
    if limit:
        x, y, xt, yt = x[:limit], y[:limit], xt[: limit // 5], yt[: limit // 5]
    return (x / np.float32(255.0)).astype(np.float32), y, (xt / np.float32(255.0)).astype(np.float32), yt


def main(data: str | None = None, dataset: str = "mnist", epochs: int = 20, quick: bool = False,
         seed: int = 0, verbose: int = 2, out: str | None = None) -> dict[str, Any]:
    data = data or os.environ.get("TAPEGRAD_DATA") or os.path.join("..", "shared", "data", dataset.replace("_", "-"))
    x, y, xt, yt = load(data, dataset, limit=3000 if quick else None)
    epochs = 3 if quick else epochs
    tg.random.set_seed(seed)
    model = tg.Sequential([
        tg.Input(shape=(28, 28)),
        tg.layers.Flatten(),
        tg.layers.Dense(256, activation="relu"),
        tg.layers.Dropout(0.2),
        tg.layers.Dense(256, activation="relu"),
        tg.layers.Dropout(0.2),
        tg.layers.Dense(10),
    ])
    model.compile(optimizer=tg.optimizers.Adam(1e-3),
                  loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, verbose=verbose)
    loss, acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)
    print(f"{dataset} MLP 784-256-256-10: test accuracy {acc:.2%} (loss {loss:.4f}) after {epochs} epochs")
    files = []
    if out:
        files.append(os.path.join(out, f"{dataset}_mlp_curves.png"))
        tg.viz.plot_history(history, path=files[0], title=f"{dataset} MLP: training and validation")
        print(f"wrote the picture: {os.path.abspath(files[0])}")
    return {"test_accuracy": acc, "test_loss": loss, "history": history.history, "files": files}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="folder with the four IDX files")
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    p.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    p.add_argument("--out", default="mlp-pictures", help="folder for the training curves (default mlp-pictures)")
    p.add_argument("--quick", action="store_true", help="a small subset and 3 epochs")
    a = p.parse_args()
    main(a.data, a.dataset, a.epochs, a.quick, out=a.out)
