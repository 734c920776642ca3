"""Callbacks driven by hand-made logs (as Keras's own tests do) and through real fits."""

import csv
import math

import numpy as np
import pytest

import tapegrad as tg


class FakeModel:
    """Just enough of a model for callbacks: weights, stop flag, an optimizer, metrics."""

    def __init__(self):
        self.stop_training = False
        self.w = [np.zeros(1)]
        self.optimizer = tg.optimizers.SGD(0.1)
        self.metrics = [tg.metrics.Mean(name="loss"), tg.metrics.BinaryAccuracy(name="accuracy")]

    def get_weights(self):
        return [a.copy() for a in self.w]

    def set_weights(self, ws):
        self.w = [a.copy() for a in ws]


def drive(cb, values, key="val_loss", model=None):
    model = model or FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    stopped_at = None
    for epoch, v in enumerate(values):
        model.w = [np.array([float(epoch)])]
        cb.on_epoch_end(epoch, {key: v})
        if model.stop_training:
            stopped_at = epoch
            break
    cb.on_train_end()
    return model, stopped_at


def test_early_stopping_patience_counts_epochs_without_improvement():
    _, stopped = drive(tg.callbacks.EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.96, 0.5])
    assert stopped == 3  # best at epoch 1, wait reaches 2 at epoch 3


def test_early_stopping_min_delta():
    # improvements smaller than min_delta do not count
    _, stopped = drive(tg.callbacks.EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.92])
    assert stopped == 1


def test_early_stopping_max_mode_auto_for_accuracy():
    _, stopped = drive(tg.callbacks.EarlyStopping(monitor="val_accuracy", patience=1), [0.5, 0.6, 0.55], "val_accuracy")
    assert stopped == 2


def test_early_stopping_restores_best_even_without_stopping():
    model, stopped = drive(tg.callbacks.EarlyStopping(patience=10, restore_best_weights=True), [1.0, 0.5, 0.7, 0.8])
    assert stopped is None and model.w[0][0] == 1.0  # best epoch 1


def test_early_stopping_baseline_and_start_from_epoch():
    # Improvements that do not beat the baseline leave `wait` growing; an improving epoch
    # never stops training, so the stop comes at the first epoch without improvement.
    _, stopped = drive(tg.callbacks.EarlyStopping(patience=2, baseline=0.5), [0.9, 0.8, 0.7, 0.75])
    assert stopped == 3
    _, stopped = drive(tg.callbacks.EarlyStopping(patience=2), [0.9, 0.8, 0.7, 0.75])
    assert stopped is None  # without a baseline each improvement resets wait
    _, stopped = drive(tg.callbacks.EarlyStopping(patience=1, start_from_epoch=3), [1.0, 2.0, 3.0, 4.0, 5.0])
    assert stopped == 4


def test_early_stopping_missing_key_warns_with_available_keys():
    cb = tg.callbacks.EarlyStopping(monitor="val_loss")
    cb.set_model(FakeModel())
    cb.on_train_begin()
    with pytest.warns(UserWarning, match="Available metrics are: loss"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_early_stopping_unknown_direction_is_error():
    cb = tg.callbacks.EarlyStopping(monitor="val_mystery")
    cb.set_model(FakeModel())
    cb.on_train_begin()
    with pytest.raises(ValueError, match="mode='max' or mode='min'"):
        cb.on_epoch_end(0, {"val_mystery": 1.0})


def test_early_stopping_reused_starts_fresh():
    cb = tg.callbacks.EarlyStopping(patience=1)
    drive(cb, [0.1, 0.2, 0.3])
    _, stopped = drive(cb, [1.0, 0.9, 0.8])
    assert stopped is None


def test_reduce_lr_on_plateau():
    model = FakeModel()
    cb = tg.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.03)
    drive(cb, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.03)  # 0.1 -> 0.05 -> 0.03 (floor)


def test_learning_rate_scheduler_and_lambda_and_terminate():
    model = FakeModel()
    cb = tg.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    cb.on_epoch_begin(1)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    t = tg.callbacks.TerminateOnNaN()
    t.set_model(model)
    t.on_train_batch_end(0, {"loss": math.nan})
    assert model.stop_training


def test_history_records_per_epoch():
    h = tg.callbacks.History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5})
    assert h.history == {"loss": [1.0, 0.5]} and h.epoch == [0, 1]


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    cb = tg.callbacks.CSVLogger(str(path))
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0, "acc": 0.5})
    cb.on_epoch_end(1, {"loss": 0.5, "acc": 0.75})
    cb.on_train_end()
    rows = list(csv.reader(path.open()))
    assert rows == [["epoch", "acc", "loss"], ["0", "0.5", "1.0"], ["1", "0.75", "0.5"]]


def test_hooks_called_in_order_during_fit():
    events = []

    class Recorder(tg.callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): events.append(f"batch{batch}")
        def on_test_begin(self, logs=None): events.append("test_begin")
        def on_epoch_end(self, epoch, logs=None): events.append(f"epoch_end{epoch}:{sorted(logs)}")
        def on_train_end(self, logs=None): events.append("train_end")

    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
    m.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), callbacks=[Recorder()], verbose=0)
    assert events == ["train_begin", "epoch_begin0", "batch0", "batch1", "test_begin",
                      "epoch_end0:['loss', 'val_loss']", "train_end"]


def test_model_checkpoint_best_only(tmp_path):
    x, y = tg.data.make_moons(100, noise=0.1, seed=0)
    y = y.reshape(-1, 1).astype("float32")
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy")
    path = tmp_path / "best.weights.safetensors"
    saved = []

    class Spy(tg.callbacks.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = self.best
            super().on_epoch_end(epoch, logs)
            if self.best != before:
                saved.append(epoch)

    cb = Spy(str(path), monitor="val_loss", save_best_only=True, save_weights_only=True)
    h = m.fit(x, y, epochs=5, validation_split=0.2, callbacks=[cb], verbose=0)
    assert path.exists() and saved[0] == 0
    best = int(np.argmin(h.history["val_loss"]))
    assert saved[-1] == best
    with pytest.raises(ValueError, match="must end in '.weights.safetensors'"):
        tg.callbacks.ModelCheckpoint(str(tmp_path / "x.h5"), save_weights_only=True)


def test_callbacks_through_a_real_fit(tmp_path):
    x, y = tg.data.make_moons(64, noise=0.1, seed=0)
    y = y.reshape(-1, 1).astype("float32")
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"),
                       tg.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=tg.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    log = tmp_path / "log.csv"
    rates = []
    cbs = [tg.callbacks.CSVLogger(str(log)),
           tg.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch),
           tg.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: rates.append(m.optimizer.learning_rate)),
           tg.callbacks.TerminateOnNaN()]
    h = m.fit(x, y, epochs=3, validation_split=0.25, callbacks=cbs, verbose=0)
    assert rates == pytest.approx([0.1, 0.05, 0.025])
    rows = list(csv.reader(log.open()))
    # callbacks run in list order: the logger, first, does not see the rate the scheduler adds (as Keras)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"] and len(rows) == 4
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    m2 = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1, activation="sigmoid")])
    m2.compile(optimizer=tg.optimizers.SGD(0.1), loss="binary_crossentropy")
    plateau = tg.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    m2.fit(x, y, epochs=3, callbacks=[plateau], verbose=0)  # min_delta 10: never an improvement
    assert m2.optimizer.learning_rate == pytest.approx(0.1 * 0.5**2)
    m3 = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    m3.compile(optimizer=tg.optimizers.SGD(1e30), loss="mse")
    with np.errstate(all="ignore"):  # the blow-up is the point
        h3 = m3.fit(x * 1e10, y, epochs=5, callbacks=[tg.callbacks.TerminateOnNaN()], verbose=0)
    assert len(h3.epoch) == 1  # stopped in the first epoch once the loss blew up
