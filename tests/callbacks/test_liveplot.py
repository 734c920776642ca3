"""LivePlot outside a notebook: a PNG file replaced at each redraw, and where it is, said once."""

import os

import numpy as np
import pytest

import tapegrad as tg

pytest.importorskip("matplotlib")


def data(n=64, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, :1] - x[:, 1:] > 0).astype(np.float32)


def model():
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(4, activation="tanh"), tg.layers.Dense(1)])
    m.compile(optimizer="sgd", loss=tg.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


def test_redraws_every_n_epochs_and_always_the_last(tmp_path, capsys):
    x, y = data()
    path = tmp_path / "sub" / "curves.png"
    live = tg.callbacks.LivePlot(every=2, path=path, data=(x, y), notebook=False)
    model().fit(x, y, epochs=5, validation_split=0.25, verbose=0, callbacks=[live])
    assert live.draws == 3  # epochs 2, 4 and the last, 5
    assert capsys.readouterr().out == f"LivePlot: drawing the training curves to {os.path.abspath(path)}\n"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]  # no temporary file left
    titles = [ax.get_title() for ax in live.figure.axes]
    assert titles[:2] == ["loss", "accuracy"] and titles[2] == "decision boundary, epoch 5"
    loss_axes = live.figure.axes[0]
    (train, val) = loss_axes.get_lines()
    assert train.get_label() == "training" and val.get_label() == "validation"
    assert len(train.get_xdata()) == 5


def test_early_stopping_between_redraws_still_draws_the_last_epoch(tmp_path):
    x, y = data()
    live = tg.callbacks.LivePlot(every=10, path=tmp_path / "c.png", notebook=False)
    stop = tg.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(m, "stop_training", epoch == 2))
    m = model()
    m.fit(x, y, epochs=20, verbose=0, callbacks=[stop, live])
    assert live.draws == 1 and len(live.figure.axes[0].get_lines()[0].get_xdata()) == 3


def test_default_path_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = data()
    model().fit(x, y, epochs=1, verbose=0, callbacks=[tg.callbacks.LivePlot(notebook=False)])
    assert (tmp_path / "training_curves.png").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"every": 0}, "every must be a positive integer, received 0"),
    ({"every": 1.5}, "every must be a positive integer, received 1.5"),
    ({"data": np.zeros((4, 2))}, "data must be a pair"),
    ({"data": (np.zeros((4, 3)), np.zeros(4))}, r"data's x must have shape \(n, 2\).*received shape \(4, 3\)"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tg.callbacks.LivePlot(**kwargs)
