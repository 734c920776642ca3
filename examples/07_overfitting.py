"""7. Overfitting, and three remedies: dropout, L2 regularization, early stopping.

On 60 noisy points an over-large network memorizes the training set: its training loss
keeps falling while the validation loss turns up. Dropout and weight penalties make it
generalize better; early stopping keeps the weights of the best validation epoch.
"""

from __future__ import annotations

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


def main(quick: bool = False, out: str = "overfitting-pictures") -> dict[str, Any]:
    x, y = tg.data.make_moons(60, noise=0.35, seed=3)
    xv, yv = tg.data.make_moons(400, noise=0.35, seed=4)
    y, yv = y.reshape(-1, 1).astype("float32"), yv.reshape(-1, 1).astype("float32")
    epochs = 60 if quick else 300
    os.makedirs(out, exist_ok=True)
    results = {}
    bce = tg.losses.BinaryCrossentropy()
    for name, kwargs, callbacks in [
        ("plain", {}, []),
        ("dropout 0.5", {"dropout": 0.5}, []),
        ("L2 1e-3", {"l2": 1e-3}, []),
        ("early stopping", {}, [tg.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]),
    ]:
        tg.random.set_seed(0)
        model = build(**kwargs)
        model.compile(optimizer=tg.optimizers.Adam(0.005), loss="binary_crossentropy", metrics=["accuracy"])
        h = model.fit(x, y, epochs=epochs, batch_size=60, validation_data=(xv, yv), callbacks=callbacks, verbose=0)
        val = float(bce(yv, model.predict(xv, verbose=0)))
        results[name] = {"val_loss": val, "epochs": len(h.epoch)}
        print(f"{name:15s} epochs {len(h.epoch):4d}  final training loss {h.history['loss'][-1]:.3f}  "
              f"validation loss of the kept weights {val:.3f}")
        if name == "plain":
            tg.viz.plot_history(h, path=os.path.join(out, "overfitting_curves.png"),
                                title="Overfitting: training loss falls while validation loss turns up")
            tg.viz.plot_decision_boundary(model, x, y, path=os.path.join(out, "overfit_boundary.png"),
                                          title="An over-large network memorizes 60 noisy points")
        if name == "early stopping":
            tg.viz.plot_history(h, path=os.path.join(out, "early_stopping_curves.png"),
                                best_epoch=callbacks[0].best_epoch,
                                title="Early stopping keeps the best validation epoch")
    return results


if __name__ == "__main__":
    main()
