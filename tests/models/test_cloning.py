"""tg.models.clone_model: same architecture, new weights drawn from the initializers, not compiled."""

import numpy as np
import pytest

import tapegrad as tg


def test_clone_has_the_same_architecture_and_new_weights():
    tg.random.set_seed(0)
    model = tg.Sequential([tg.Input(shape=(4,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dropout(0.2),
                           tg.layers.Dense(2)], name="net")
    model.compile(optimizer="adam", loss="mse")
    clone = tg.models.clone_model(model)
    assert clone.get_config()["layers"] == model.get_config()["layers"]
    assert clone.built and not clone.compiled
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert all(a is not b for a, b in zip(clone.weights, model.weights))
    assert not np.array_equal(clone.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())  # drawn again
    np.testing.assert_array_equal(clone.layers[0].bias.numpy(), 0.0)  # zeros initializer
    # weights copied over, the clone computes what the original does
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_is_reproducible_under_a_seed():
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(5)])
    tg.random.set_seed(7)
    a = tg.models.clone_model(model).layers[0].kernel.numpy()
    tg.random.set_seed(7)
    b = tg.models.clone_model(model).layers[0].kernel.numpy()
    np.testing.assert_array_equal(a, b)


def test_clone_of_an_unregistered_subclass_is_a_clear_error():
    class Net(tg.Model):
        def __init__(self):
            super().__init__()
            self.dense = tg.layers.Dense(2)

        def call(self, inputs, training=False):
            return self.dense(inputs)

    with pytest.raises(ValueError, match="clone_model: cannot rebuild model .* of class Net from its config"):
        tg.models.clone_model(Net())
    with pytest.raises(TypeError, match="clone_model: expected a tg.Model or tg.Sequential, received Dense"):
        tg.models.clone_model(tg.layers.Dense(2))
