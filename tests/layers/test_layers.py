"""Layers: the lab's and lecture's custom layers, Dense, tracking, weights, errors."""

import numpy as np
import pytest

import tapegrad as tg


class OurDenseLayer(tg.layers.Layer):
    """Exactly as the lab writes it, with tf.keras.layers.Layer replaced."""

    def __init__(self, n_output_nodes):
        super(OurDenseLayer, self).__init__()
        self.n_output_nodes = n_output_nodes

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.W = self.add_weight("weight", shape=[d, self.n_output_nodes])
        self.b = self.add_weight("bias", shape=[1, self.n_output_nodes])

    def call(self, x):
        z = tg.matmul(x, self.W) + self.b
        y = tg.sigmoid(z)
        return y


class LectureDense(tg.layers.Layer):
    """As the lecture writes it: weights created in __init__."""

    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.W = self.add_weight([input_dim, output_dim])
        self.b = self.add_weight([1, output_dim])

    def call(self, inputs):
        z = tg.matmul(inputs, self.W) + self.b
        return tg.math.sigmoid(z)


def test_lab_custom_layer_runs_as_written():
    tg.utils.set_random_seed(1)
    layer = OurDenseLayer(3)
    layer.build((1, 2))
    x_input = tg.constant([[1, 2.0]], shape=(1, 2))
    y = layer.call(x_input)
    assert y.shape == (1, 3)
    w, b = layer.W.numpy(), layer.b.numpy()
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-(np.array([[1, 2.0]]) @ w + b))), rtol=1e-6)
    assert [v.name for v in layer.weights] == ["weight", "bias"]
    assert layer.built
    layer(x_input)  # __call__ after a manual build must not build again
    assert len(layer.weights) == 2


def test_lecture_custom_layer_weights_in_init():
    layer = LectureDense(2, 3)
    assert layer(tg.ones((4, 2))).shape == (4, 3)
    assert len(layer.trainable_weights) == 2


def test_dense_matches_numpy_and_gradchecks():
    layer = tg.layers.Dense(3, activation="tanh", dtype="float64")
    x = np.random.default_rng(0).normal(size=(5, 4))
    out = layer(x)
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    np.testing.assert_allclose(out.numpy(), np.tanh(x @ k + b), rtol=1e-12)
    assert tg.gradcheck(lambda x, k, b: tg.tanh(tg.ops.linear(x, k, b)), [x, k, b])


def test_dense_changed_last_dimension_is_clear_error():
    layer = tg.layers.Dense(4, name="hidden")
    layer(tg.zeros((32, 3)))
    with pytest.raises(ValueError, match=r"Dense 'hidden': expected input with last dimension 3, received shape \(32, 5\)"):
        layer(tg.zeros((32, 5)))


def test_dense_rejects_bad_units():
    with pytest.raises(ValueError, match="positive integer"):
        tg.layers.Dense(0)


def test_sublayers_tracked_in_attributes_lists_and_dicts():
    class Block(tg.Model):
        def __init__(self):
            super().__init__()
            self.first = tg.layers.Dense(4)
            self.stack = [tg.layers.Dense(4), tg.layers.Dense(2)]
            self.heads = {"a": tg.layers.Dense(1)}

        def call(self, x, training=False):
            x = self.first(x)
            for layer in self.stack:
                x = layer(x)
            return self.heads["a"](x)

    m = Block()
    m(tg.ones((3, 5)))
    assert len(m.trainable_weights) == 8
    assert m.count_params() == (5 * 4 + 4) + (4 * 4 + 4) + (4 * 2 + 2) + (2 + 1)


def test_get_set_weights_copy_and_check_shapes():
    layer = tg.layers.Dense(2)
    layer(tg.ones((1, 3)))
    ws = layer.get_weights()
    ws[0][...] = 7.0
    assert not np.all(layer.kernel.numpy() == 7.0)  # a copy
    layer.set_weights([np.ones((3, 2)), np.zeros(2)])
    assert np.all(layer.kernel.numpy() == 1.0)
    with pytest.raises(ValueError, match=r"weight 'kernel' has shape \(3, 2\), received an array of shape \(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.zeros(2)])
    assert np.all(layer.kernel.numpy() == 1.0)  # nothing changed


def test_trainable_switch_freezes_weights():
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(3), tg.layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(model(tg.ones((1, 2))))
    grads = tape.gradient(loss, model.layers[0].weights)
    assert grads == [None, None]


def test_dropout_only_in_training_and_inverted_scaling():
    layer = tg.layers.Dropout(0.5, seed=3)
    x = tg.ones((1000, 10))
    assert np.array_equal(layer(x).numpy(), x.numpy())
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.02
    assert abs(y.mean() - 1.0) < 0.05


def test_flatten_reshape_activation_layers():
    x = tg.ones((2, 3, 4))
    assert tg.layers.Flatten()(x).shape == (2, 12)
    assert tg.layers.Reshape((4, 3))(x).shape == (2, 4, 3)
    assert tg.layers.Activation("relu")(tg.constant([[-1.0]])).numpy().tolist() == [[0.0]]
    with pytest.raises(ValueError, match="cannot reshape"):
        tg.layers.Reshape((5,))(x)


def test_activations_by_name_and_unknown_name_lists_valid_ones():
    for name in ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softsign", "softmax",
                 "log_softmax", "gelu", "swish", "silu", "hard_sigmoid", "linear"]:
        assert tg.activations.get(name)(tg.constant([[0.5, -0.5]])).shape == (1, 2)
    with pytest.raises(ValueError, match="valid names are: .*relu.*sigmoid"):
        tg.activations.get("rectifier")


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softsign",
                                  "softmax", "log_softmax", "gelu", "swish", "hard_sigmoid"])
def test_every_activation_gradchecks(name):
    x = np.array([[-1.7, -0.4, 0.3, 1.2, 2.5]])
    assert tg.gradcheck(tg.activations.get(name), [x])


def test_hard_sigmoid_matches_keras3_definition():
    x = np.array([-4.0, -3.0, -1.0, 0.0, 1.5, 3.0, 5.0])
    np.testing.assert_allclose(tg.activations.hard_sigmoid(tg.constant(x)).numpy(), np.clip(x / 6 + 0.5, 0, 1))


def test_sequential_add_pop_build_and_summary(capsys):
    model = tg.Sequential(name="net")
    model.add(tg.layers.Dense(4, activation="relu"))
    model.add(tg.layers.Dense(1))
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    model.build((None, 3))
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "net"' in out and "(None, 4)" in out and "Total params: 21" in out
    assert "Trainable params: 21" in out and "Non-trainable params: 0" in out
    model.pop()
    assert len(model.layers) == 1


def test_input_layer_checks_shape():
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"expected input of shape \(batch,\) \+ \(3,\), received shape \(4, 5\)"):
        model(tg.zeros((4, 5)))


def test_multi_output_layer():
    class TwoHeads(tg.layers.Layer):
        def build(self, input_shape):
            self.a = tg.layers.Dense(1)
            self.b = tg.layers.Dense(3)

        def call(self, x):
            return self.a(x), self.b(x)

    layer = TwoHeads()
    out_a, out_b = layer(tg.ones((5, 2)))
    assert out_a.shape == (5, 1) and out_b.shape == (5, 3)
    assert len(layer.weights) == 4


def test_float64_inputs_are_cast_to_layer_dtype():
    layer = tg.layers.Dense(2)
    assert layer(np.ones((1, 3))).dtype == np.float32


def test_add_weight_keras3_order_and_regularizer():
    layer = tg.layers.Layer()
    w = layer.add_weight(shape=(2, 2), initializer="ones", regularizer=tg.regularizers.L2(0.5), name="w")
    assert w.name == "w" and np.all(w.numpy() == 1)
    assert float(layer.losses[0]) == pytest.approx(0.5 * 4)


def test_dropout_gradchecks_with_a_fixed_mask():
    layer = tg.layers.Dropout(0.4, dtype="float64")

    def f(t):
        layer._rng = np.random.default_rng(7)  # the same mask on every call
        return layer(t, training=True)

    assert tg.gradcheck(f, [np.random.default_rng(0).normal(size=(5, 4))])


def test_normalization_layer_gradchecks_and_adapts():
    norm = tg.layers.Normalization(dtype="float64")
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 3))
    norm.adapt(data)
    np.testing.assert_allclose(norm(data).numpy().mean(0), 0, atol=1e-12)
    assert tg.gradcheck(lambda t: norm(t), [data[:4]])
    with pytest.raises(ValueError, match="adapt received 2 features, the layer was built for 3"):
        norm.adapt(data[:, :2])
