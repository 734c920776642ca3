"""The lecture's second half as tests: overfitting shows, early stopping catches it,
and dropout and L2 each lower the validation loss of an over-large network."""

import numpy as np
import pytest

import tapegrad as tg

X, Y = tg.data.make_moons(60, noise=0.35, seed=3)
Y = Y.reshape(-1, 1).astype("float32")
XV, YV = tg.data.make_moons(400, noise=0.35, seed=4)
YV = YV.reshape(-1, 1).astype("float32")


def big_model(dropout=0.0, l2=0.0):
    reg = tg.regularizers.L2(l2) if l2 else None
    layers = [tg.Input(shape=(2,))]
    for _ in range(2):
        layers.append(tg.layers.Dense(256, activation="relu", kernel_regularizer=reg))
        if dropout:
            layers.append(tg.layers.Dropout(dropout))
    layers.append(tg.layers.Dense(1, activation="sigmoid"))
    return tg.Sequential(layers)


def data_val_loss(model):
    """Validation cross-entropy without regularization penalties."""
    return float(tg.losses.BinaryCrossentropy()(YV, model.predict(XV, verbose=0)))


def train(model, epochs=300, callbacks=None):
    model.compile(optimizer=tg.optimizers.Adam(0.005), loss="binary_crossentropy")
    return model.fit(X, Y, epochs=epochs, batch_size=60, validation_data=(XV, YV), verbose=0, callbacks=callbacks)


def test_overfitting_shows_and_early_stopping_catches_it():
    tg.random.set_seed(0)
    h = train(big_model())
    loss, val = np.array(h.history["loss"]), np.array(h.history["val_loss"])
    best = int(np.argmin(val))
    assert loss[-1] < loss[best] * 0.5  # training loss keeps falling ...
    assert val[-1] > val[best] * 1.3  # ... while validation loss turns up
    tg.random.set_seed(0)
    model = big_model()
    es = tg.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    h2 = train(model, callbacks=[es])
    assert len(h2.history["loss"]) < 300  # stopped early
    assert es.best_epoch == int(np.argmin(h2.history["val_loss"]))
    assert model.evaluate(XV, YV, verbose=0, batch_size=400) == pytest.approx(min(h2.history["val_loss"]), rel=1e-5)


def test_dropout_and_l2_each_lower_validation_loss():
    results = {}
    for name, kwargs in {"none": {}, "dropout": {"dropout": 0.5}, "l2": {"l2": 1e-3}}.items():
        tg.random.set_seed(0)
        model = big_model(**kwargs)
        train(model)
        results[name] = data_val_loss(model)
    assert results["dropout"] < results["none"]
    assert results["l2"] < results["none"]
