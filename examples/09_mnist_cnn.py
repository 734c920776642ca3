"""9. Convolutions: a LeNet-style CNN on MNIST (or Fashion-MNIST), and what it learned.

The learning rate decays by 15% per epoch (``ExponentialDecay``), and dropout before the
last dense layers fights overfitting.

    python examples/09_mnist_cnn.py --data ../shared/data/mnist
    python examples/09_mnist_cnn.py --data ../shared/data/fashion-mnist --dataset fashion_mnist

Two convolution + max-pooling stages learn a hierarchy of features (edges and strokes,
then parts of digits), then dense layers classify. Writes the first layer's filters and
the feature maps of one test image to --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from typing import Any

import tapegrad as tg

_spec = importlib.util.spec_from_file_location("mlp_example", os.path.join(os.path.dirname(__file__), "08_mnist_mlp.py"))
if _spec is None or _spec.loader is None:
    raise ImportError("09_mnist_cnn.py needs 08_mnist_mlp.py beside it")
_mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mlp)


def build(dataset: str) -> tg.Sequential:
    f1, f2 = (32, 64) if dataset == "fashion_mnist" else (16, 32)  # clothing needs more filters than digits
    return tg.Sequential([
        tg.Input(shape=(28, 28, 1)),
        tg.layers.Conv2D(f1, 5, padding="same", activation="relu"),
        tg.layers.MaxPooling2D(2),
        tg.layers.Conv2D(f2, 5, activation="relu"),
        tg.layers.MaxPooling2D(2),
        tg.layers.Flatten(),
        tg.layers.Dense(120, activation="relu"),
        tg.layers.Dropout(0.3),
        tg.layers.Dense(84, activation="relu"),
        tg.layers.Dense(10),
    ], name=f"lenet_{dataset}")


def main(data: str | None = None, dataset: str = "mnist", epochs: int = 12, quick: bool = False, seed: int = 0,
         out: str = "cnn-pictures", verbose: int = 2) -> dict[str, Any]:
    data = data or os.environ.get("TAPEGRAD_DATA") or os.path.join("..", "shared", "data", dataset.replace("_", "-"))
    x, y, xt, yt = _mlp.load(data, dataset, limit=3000 if quick else None)
    x, xt = x[..., None], xt[..., None]
    epochs = 2 if quick else epochs
    tg.random.set_seed(seed)
    model = build(dataset)
    steps = -(-int(len(x) * 0.9) // 64)  # batches per epoch
    schedule = tg.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=steps, decay_rate=0.85)
    model.compile(optimizer=tg.optimizers.Adam(schedule),
                  loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.summary()
    history = model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.1, verbose=verbose)
    loss, acc = model.evaluate(xt, yt, batch_size=500, verbose=0)
    print(f"{dataset} CNN: test accuracy {acc:.2%} (loss {loss:.4f}) after {epochs} epochs")
    os.makedirs(out, exist_ok=True)
    files = [os.path.join(out, f"{dataset}_filters.png"), os.path.join(out, f"{dataset}_feature_maps.png")]
    tg.viz.plot_filters(model.layers[0], path=files[0])
    tg.viz.plot_feature_maps(model, xt[0], path=files[1])
    for f in files:
        print(f"wrote the picture: {os.path.abspath(f)}")
    return {"test_accuracy": acc, "test_loss": loss, "files": files, "history": history.history}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="folder with the four IDX files")
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    p.add_argument("--epochs", type=int, default=12, help="epochs (default 12)")
    p.add_argument("--out", default="cnn-pictures", help="folder for the pictures (default cnn-pictures)")
    p.add_argument("--quick", action="store_true", help="a small subset and 2 epochs")
    a = p.parse_args()
    main(a.data, a.dataset, a.epochs, a.quick, out=a.out)
