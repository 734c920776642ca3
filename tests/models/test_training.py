"""compile / fit / evaluate / predict with Keras's semantics."""

import io

import numpy as np
import pytest

import tapegrad as tg


def data(n=200, seed=0):
    x, y = tg.data.make_moons(n, noise=0.1, seed=seed)
    return x, y.reshape(-1, 1).astype("float32")


def model_fn(dropout=0.0):
    layers = [tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(tg.layers.Dropout(dropout))
    layers.append(tg.layers.Dense(1, activation="sigmoid"))
    return tg.Sequential(layers)


def test_fit_returns_history_and_sets_model_history():
    x, y = data()
    m = model_fn()
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in h.history.values())
    assert m.history is h and h.epoch == [0, 1, 2]


def test_compile_required():
    with pytest.raises(RuntimeError, match="compile"):
        model_fn().fit(*data(), verbose=0)


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses_with_partial_batch():
    x, y = data(70)  # batches of 32, 32 and a partial 6
    m = model_fn()
    m.compile(optimizer=tg.optimizers.SGD(0.0), loss="binary_crossentropy")  # lr 0: weights fixed
    h = m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    p = m.predict(x, verbose=0)
    per_sample = -(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1 - 1e-7)))
    batch_means = [per_sample[i:i + 32].mean() for i in (0, 32, 64)]
    expected = (batch_means[0] * 32 + batch_means[1] * 32 + batch_means[2] * 6) / 70
    assert h.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_validation_split_takes_last_samples_before_shuffling():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.zeros((10, 1), np.float32)
    seen = []

    class Spy(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = tg.layers.Dense(1)

        def call(self, inputs, training=False):
            if not training:
                seen.extend(inputs.numpy()[:, 0].tolist())
            return self.d(inputs)

    m = Spy()
    m.compile(optimizer="sgd", loss="mse")
    m.fit(x, y, validation_split=0.3, epochs=1, verbose=0)
    assert sorted(seen) == [7.0, 8.0, 9.0]


def test_training_flag_only_in_train_step():
    flags = []

    class Spy(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = tg.layers.Dense(1)

        def call(self, inputs, training=False):
            flags.append(training)
            return self.d(inputs)

    m = Spy()
    m.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    m.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    assert flags == [True, False, False, False]


def test_evaluate_predict_and_batch_methods():
    x, y = data()
    m = model_fn()
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    loss, acc = m.evaluate(x, y, verbose=0)
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert d == {"loss": loss, "accuracy": acc}
    p = m.predict(x, batch_size=7, verbose=0)
    assert isinstance(p, np.ndarray) and p.shape == (200, 1)
    np.testing.assert_allclose(m.predict_on_batch(x), p, rtol=1e-6)
    before = m.get_weights()
    out = m.train_on_batch(x[:32], y[:32])
    assert len(out) == 2 and not np.allclose(before[0], m.get_weights()[0])
    assert isinstance(m.test_on_batch(x[:32], y[:32], return_dict=True), dict)


def test_dropout_off_in_evaluate_and_predict_is_deterministic():
    x, y = data()
    m = model_fn(dropout=0.5)
    m.compile(optimizer="adam", loss="binary_crossentropy")
    np.testing.assert_array_equal(m.predict(x, verbose=0), m.predict(x, verbose=0))
    assert m.evaluate(x, y, verbose=0) == m.evaluate(x, y, verbose=0)


def test_inputs_as_lists_tensors_dataset_and_dataloader():
    x, y = data(64)
    m = model_fn()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(x.tolist(), y.tolist(), epochs=1, verbose=0)
    m.fit(tg.constant(x), tg.constant(y), epochs=1, verbose=0)
    m.fit(tg.data.Dataset(x, y), epochs=1, batch_size=16, verbose=0)
    h = m.fit(tg.data.DataLoader(tg.data.Dataset(x, y), batch_size=10, shuffle=True, drop_last=True), epochs=2,
              verbose=0)
    assert len(h.history["loss"]) == 2


def test_dict_inputs_for_multi_input_model():
    class TwoInputs(tg.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = tg.layers.Dense(4), tg.layers.Dense(4)
            self.out = tg.layers.Dense(1)

        def call(self, inputs, training=False):
            return self.out(tg.relu(self.a(inputs["left"]) + self.b(inputs["right"])))

    m = TwoInputs()
    m.compile(optimizer="adam", loss="mse")
    x = {"left": np.ones((20, 3), np.float32), "right": np.ones((20, 2), np.float32)}
    h = m.fit(x, np.ones((20, 1), np.float32), epochs=2, batch_size=8, verbose=0)
    assert len(h.history["loss"]) == 2
    assert m.predict(x, verbose=0).shape == (20, 1)


def test_multi_output_losses_and_weights():
    class TwoHeads(tg.Model):
        def __init__(self):
            super().__init__()
            self.body = tg.layers.Dense(8, activation="relu")
            self.h1, self.h2 = tg.layers.Dense(1), tg.layers.Dense(3)

        def call(self, inputs, training=False):
            z = self.body(inputs)
            return [self.h1(z), self.h2(z)]

    m = TwoHeads()
    m.compile(optimizer="adam", loss=["mse", tg.losses.SparseCategoricalCrossentropy(from_logits=True)],
              loss_weights=[1.0, 0.5])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y1, y2 = np.zeros((16, 1), np.float32), np.arange(16) % 3
    out = m(x)
    expected = float(tg.losses.mse(y1, out[0]).numpy().mean()) + 0.5 * float(
        tg.losses.SparseCategoricalCrossentropy(from_logits=True)(y2, out[1]))
    assert m.evaluate(x, [y1, y2], verbose=0) == pytest.approx(expected, rel=1e-5)


def test_sample_weight_and_class_weight():
    x, y = data(64)
    m = model_fn()
    m.compile(optimizer=tg.optimizers.SGD(0.0), loss="binary_crossentropy")
    full = m.evaluate(x, y, verbose=0, batch_size=64)
    w = np.zeros(64, np.float32)
    w[:32] = 2.0
    half = m.evaluate(x, y, sample_weight=w, verbose=0, batch_size=64)
    p = m.predict(x, verbose=0)
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))[:, 0]
    assert half == pytest.approx((per * w).sum() / 64, rel=1e-5) and full == pytest.approx(per.mean(), rel=1e-5)
    h = m.fit(x, y, class_weight={0: 1.0, 1: 0.0}, epochs=1, verbose=0, shuffle=False, batch_size=64)
    assert h.history["loss"][0] == pytest.approx((per * (y[:, 0] == 0)).sum() / 64, rel=1e-5)
    with pytest.raises(ValueError, match="class_weight has no weight for classes"):
        m.fit(x, y, class_weight={0: 1.0}, epochs=1, verbose=0)


def test_regularization_penalty_added_to_training_loss():
    x, y = data(64)
    m = tg.Sequential([tg.Input(shape=(2,)),
                       tg.layers.Dense(4, kernel_regularizer=tg.regularizers.L2(0.1)),
                       tg.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=tg.optimizers.SGD(0.0), loss="binary_crossentropy")
    penalty = 0.1 * float((m.layers[0].kernel.numpy() ** 2).sum())
    assert len(m.losses) == 1 and float(m.losses[0]) == pytest.approx(penalty, rel=1e-5)
    data_loss = float(tg.losses.BinaryCrossentropy()(y, m(x)))
    h = m.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert h.history["loss"][0] == pytest.approx(data_loss + penalty, rel=1e-5)


def test_activity_regularizer_collected():
    layer = tg.layers.Dense(3, activity_regularizer=tg.regularizers.L1(0.01))
    out = layer(tg.ones((2, 4)))
    # Keras 3 adds activity_regularizer(output) as is (Keras 2 divided it by the batch size)
    assert float(layer.losses[0]) == pytest.approx(0.01 * float(np.abs(out.numpy()).sum()), rel=1e-5)


def test_orthogonal_regularizer_zero_for_orthogonal_rows():
    reg = tg.regularizers.OrthogonalRegularizer(factor=1.0)
    assert float(reg(tg.eye(3))) == pytest.approx(0.0)
    # Keras: factor * 0.5 * sum(|off-diagonal|) / pairs; both triangles hold cos = 1 for the one pair
    assert float(reg(tg.constant([[1.0, 0.0], [1.0, 0.0]]))) == pytest.approx(1.0)


def test_steps_per_epoch_and_initial_epoch():
    x, y = data(128)
    m = model_fn()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    batches = []
    cb = tg.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    h = m.fit(x, y, epochs=3, initial_epoch=1, steps_per_epoch=2, callbacks=[cb], verbose=0)
    assert h.epoch == [1, 2] and batches == [0, 1, 0, 1]


def test_custom_train_step_override():
    calls = []

    class Custom(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = tg.layers.Dense(1)

        def call(self, x, training=False):
            return self.d(x)

        def train_step(self, data):
            calls.append(1)
            return super().train_step(data)

    m = Custom()
    m.compile(optimizer="sgd", loss="mse")
    m.fit(np.ones((8, 2), np.float32), np.ones((8, 1), np.float32), batch_size=4, epochs=1, verbose=0)
    assert len(calls) == 2


def test_progress_output_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = data(64)
    m = model_fn()
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=2, verbose=1)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("2/2 - ") and "ms/step" in out[1] or "us/step" in out[1]
    assert "loss: " in out[1] and "accuracy: " in out[1]
    m.fit(x, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - ")
    m.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_draws_with_tqdm_on_a_terminal():
    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    stream = FakeTTY()
    x, y = data(64)
    m = model_fn()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(x, y, epochs=1, batch_size=16, verbose=1, callbacks=[tg.callbacks.ProgbarLogger(1, stream=stream)])
    text = stream.getvalue()
    assert "Epoch 1/1" in text and "4/4" in text and "loss: " in text and "/step" in text


def test_reproducible_fit_with_seed():
    x, y = data()
    results = []
    for _ in range(2):
        tg.random.set_seed(123)
        m = model_fn(dropout=0.3)
        m.compile(optimizer="adam", loss="binary_crossentropy")
        h = m.fit(x, y, epochs=3, batch_size=16, verbose=0)
        results.append((h.history["loss"], m.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments_are_clear():
    x, y = data(10)
    m = model_fn()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        m.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, received 0"):
        m.fit(x, y, batch_size=0, verbose=0)
