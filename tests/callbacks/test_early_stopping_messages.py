"""EarlyStopping(verbose=1) says, in Keras 3's words, when it stops and when it restores the best weights."""

import numpy as np

import tapegrad as tg

from test_callbacks import FakeModel, drive


def test_verbose_says_when_it_stops_and_restores(capsys):
    drive(tg.callbacks.EarlyStopping(patience=2, restore_best_weights=True, verbose=1), [1.0, 0.5, 0.7, 0.8, 0.9])
    assert capsys.readouterr().out == ("Epoch 4: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 2.\n")


def test_silent_by_default_and_restoring_without_stopping_is_said_too(capsys):
    drive(tg.callbacks.EarlyStopping(patience=2, restore_best_weights=True), [1.0, 0.5, 0.7, 0.8])
    assert capsys.readouterr().out == ""
    drive(tg.callbacks.EarlyStopping(patience=5, restore_best_weights=True, verbose=1), [1.0, 0.5, 0.7])
    assert capsys.readouterr().out == "Restoring model weights from the end of the best epoch: 2.\n"


def test_in_a_real_fit(capsys):
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    model.compile(optimizer=tg.optimizers.SGD(0.0), loss="mse")  # a zero learning rate never improves
    stop = tg.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-3, verbose=1)
    model.fit(x, x[:, :1], batch_size=32, epochs=10, verbose=0, callbacks=[stop])
    assert capsys.readouterr().out == "Epoch 2: early stopping\n"
