"""predict's replayed inference pass (tapegrad.fast.PredictStep): the eager pass's outputs, bit for bit."""

import numpy as np
import pytest

import tapegrad as tg

L = tg.layers


def eager_and_replayed(model, x, batch_size=32):
    model.run_eagerly = True
    eager = model.predict(x, batch_size=batch_size, verbose=0)
    model.run_eagerly = False
    replayed = model.predict(x, batch_size=batch_size, verbose=0)
    return eager, replayed


MODELS = {
    "mlp": lambda: tg.Sequential([tg.Input((6,)), L.Dense(16, activation="relu"), L.Dropout(0.5),
                                  L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")]),
    "batchnorm": lambda: tg.Sequential([tg.Input((6,)), L.Dense(16), L.BatchNormalization(), L.Activation("relu"),
                                        L.Dense(1, activation="sigmoid")]),
    "cnn": lambda: tg.Sequential([tg.Input((12, 12, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
                                  L.MaxPooling2D(), L.Conv2D(6, 3, activation="relu"), L.Flatten(), L.Dense(5)]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_replayed_predict_equals_eager_bit_for_bit(name):
    model = MODELS[name]()
    shape = (100,) + model._input_layer.shape
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    if name == "batchnorm":  # trained moving statistics, so that inference uses them
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, (x[:, :1] > 0).astype(np.float32), epochs=2, verbose=0)
    eager, replayed = eager_and_replayed(model, x)
    np.testing.assert_array_equal(replayed, eager)
    step = model._fast_predict
    assert step.recorded == 2 and step.replayed == 2  # batches of 32, 32, 32 and a last one of 4


def test_functional_model_with_two_inputs():
    a, b = tg.Input((4,), name="a"), tg.Input((3,), name="b")
    h = L.concatenate([L.Dense(5, activation="relu")(a), b])
    model = tg.Model([a, b], L.Dense(2)(h))
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(70, 4)).astype(np.float32), rng.normal(size=(70, 3)).astype(np.float32)]
    eager, replayed = eager_and_replayed(model, x)
    np.testing.assert_array_equal(replayed, eager)
    assert model._fast_predict.replayed > 0


def test_a_changed_model_is_recorded_again():
    model = tg.Sequential([tg.Input((3,)), L.Dense(4, activation="relu")])
    x = np.random.default_rng(2).normal(size=(64, 3)).astype(np.float32)
    model.predict(x, verbose=0)
    model.set_weights([w * 2 for w in model.get_weights()])  # new values in the same weights
    model.add(L.Dense(2))  # a new layer: the record no longer holds
    eager, replayed = eager_and_replayed(model, x)
    assert replayed.shape == (64, 2)
    np.testing.assert_array_equal(replayed, eager)
    kernel = model.layers[0].kernel.numpy()
    np.testing.assert_allclose(replayed, np.maximum(x @ kernel + model.layers[0].bias.numpy(), 0)
                               @ model.layers[1].kernel.numpy() + model.layers[1].bias.numpy(), rtol=1e-5, atol=1e-6)


def test_own_predict_step_and_subclassed_models_run_eagerly():
    class Doubled(tg.Sequential):
        def predict_step(self, data):
            return super().predict_step(data) * 2.0

    model = Doubled([tg.Input((2,)), L.Dense(1)])
    x = np.ones((5, 2), np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * model(x).numpy(), rtol=1e-6)
    assert model._fast_predict is None

    class Sub(tg.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs, training=False):
            return self.dense(inputs) + 1.0

    sub = Sub()
    out = sub.predict(x, verbose=0)
    np.testing.assert_allclose(out, sub(x).numpy(), rtol=1e-6)
    assert sub._fast_predict.recorded == 0 and sub._fast_predict.replayed == 0
