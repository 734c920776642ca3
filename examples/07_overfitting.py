"""7. Overfitting, and three remedies: dropout, L2 regularization, early stopping.

On 60 noisy points an over-large network memorizes the training set: its training loss
keeps falling while the validation loss turns up. Dropout and weight penalties make it
generalize better; early stopping keeps the weights of the best validation epoch.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import tapegrad as tg


def build(dropout: float = 0.0, l2: float = 0.0) -> tg.Sequential:
    reg = tg.regularizers.L2(l2) if l2 else None
    layers: list[tg.layers.Layer | tg.KerasTensor] = [tg.Input(shape=(2,))]
    for _ in range(2):
        layers.append(tg.layers.Dense(256, activation="relu", kernel_regularizer=reg))
        if dropout:
            layers.append(tg.layers.Dropout(dropout))
    layers.append(tg.layers.Dense(1, activation="sigmoid"))
    return tg.Sequential(layers)


def progress(name: str, epochs: int, every: int) -> tg.callbacks.LambdaCallback:
    """A callback printing one line every ``every`` epochs: training is long, and should not be silent."""
    def report(epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % every == 0 or epoch + 1 == epochs:
            print(f"  {name}: epoch {epoch + 1}/{epochs} - loss {logs['loss']:.3f} - val_loss {logs['val_loss']:.3f}",
                  flush=True)
    return tg.callbacks.LambdaCallback(on_epoch_end=report)


def main(quick: bool = False, out: str = "overfitting-pictures", epochs: int = 300) -> dict[str, Any]:
    x, y = tg.data.make_moons(60, noise=0.35, seed=3)
    xv, yv = tg.data.make_moons(400, noise=0.35, seed=4)
    y, yv = y.reshape(-1, 1).astype("float32"), yv.reshape(-1, 1).astype("float32")
    epochs = 60 if quick else epochs
    os.makedirs(out, exist_ok=True)
    results = {}
    bce = tg.losses.BinaryCrossentropy()
    for name, kwargs, callbacks in [
        ("plain", {}, []),
        ("dropout 0.5", {"dropout": 0.5}, []),
        ("L2 1e-3", {"l2": 1e-3}, []),
        ("early stopping", {}, [tg.callbacks.EarlyStopping(patience=10, restore_best_weights=True, verbose=1)]),
    ]:
        tg.random.set_seed(0)
        model = build(**kwargs)
        model.compile(optimizer=tg.optimizers.Adam(0.005), loss="binary_crossentropy", metrics=["accuracy"])
        h = model.fit(x, y, epochs=epochs, batch_size=60, validation_data=(xv, yv), verbose=0,
                      callbacks=callbacks + [progress(name, epochs, max(epochs // 5, 1))])
        val = float(bce(yv, model.predict(xv, verbose=0)))
        results[name] = {"val_loss": val, "epochs": len(h.epoch)}
        print(f"{name:15s} epochs {len(h.epoch):4d}  final training loss {h.history['loss'][-1]:.3f}  "
              f"validation loss of the kept weights {val:.3f}")
        written = []
        if name == "plain":
            tg.viz.plot_history(h, path=os.path.join(out, "overfitting_curves.png"),
                                title="Overfitting: training loss falls while validation loss turns up")
            tg.viz.plot_decision_boundary(model, x, y, path=os.path.join(out, "overfit_boundary.png"),
                                          title="An over-large network memorizes 60 noisy points")
            written = ["overfitting_curves.png", "overfit_boundary.png"]
        if name == "early stopping":
            tg.viz.plot_history(h, path=os.path.join(out, "early_stopping_curves.png"),
                                best_epoch=callbacks[0].best_epoch,
                                title="Early stopping keeps the best validation epoch")
            written = ["early_stopping_curves.png"]
        for f in written:
            print(f"wrote the picture: {os.path.abspath(os.path.join(out, f))}")
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=300, help="epochs per model (default 300)")
    p.add_argument("--out", default="overfitting-pictures", help="folder for the pictures (default overfitting-pictures)")
    a = p.parse_args()
    main(out=a.out, epochs=a.epochs)
