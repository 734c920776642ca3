"""TensorFlow's semantics that the course's Lab 1 relies on: ``numpy()`` is a snapshot,
string tensors, and ``tg.keras`` as an alias of tapegrad's own objects."""

import numpy as np
import pytest

import tapegrad as tg


def test_numpy_of_a_variable_is_a_snapshot_that_assign_does_not_change():
    # The lab's gradient-descent loop saves x.numpy()[0] each step: the history must keep each value.
    x = tg.Variable([[0.5]])
    history = []
    for _ in range(5):
        with tg.GradientTape() as tape:
            loss = (x - 4.0) ** 2
        x.assign(x - 0.1 * tape.gradient(loss, x))
        history.append(x.numpy()[0])
    # closed form of x_{k+1} = x_k - 0.1 * 2 (x_k - 4), from 0.5
    expected = [4.0 - 3.5 * 0.8 ** k for k in range(1, 6)]
    np.testing.assert_allclose(np.ravel(history), expected, rtol=1e-6)


@pytest.mark.parametrize("op", ["assign", "assign_add", "assign_sub"])
def test_every_assignment_leaves_an_earlier_numpy_unchanged(op):
    v = tg.Variable([1.0, 2.0, 3.0])
    snap = v.numpy()
    getattr(v, op)([10.0, 10.0, 10.0])
    assert snap.tolist() == [1.0, 2.0, 3.0]
    assert not np.shares_memory(snap, v.data)


def test_the_zero_copy_ways_share_the_storage():
    v = tg.Variable(np.zeros((2, 3), np.float32))
    view, arr = v.numpy(copy=False), np.asarray(v)
    assert np.shares_memory(view, v.data) and np.shares_memory(arr, v.data)
    v.assign(np.ones((2, 3)))
    assert view.sum() == 6 and arr.sum() == 6


def test_numpy_of_a_tensor_is_a_fresh_array():
    t = tg.constant([1.0, 2.0])
    a = t.numpy()
    a[0] = 99.0
    assert t.numpy().tolist() == [1.0, 2.0]


def test_string_constants_have_rank_and_shape_like_tensorflow():
    sport = tg.constant("Tennis", tg.string)
    assert int(tg.rank(sport)) == 0 and sport.shape == () and sport.dtype == tg.string
    assert sport.numpy() == "Tennis"
    sports = tg.constant(["Tennis", "Basketball"], tg.string)
    assert int(tg.rank(sports)) == 1 and tg.shape(sports).numpy().tolist() == [2]
    assert str(sports[1].numpy()) == "Basketball" and sports[1].shape == ()
    assert tg.constant("inferred").dtype == tg.string  # Python text becomes tg.string, as tf infers tf.string
    grid = tg.reshape(tg.concat([sports, sports], axis=0), (2, 2))
    assert grid.shape == (2, 2) and grid.numpy().tolist() == [["Tennis", "Basketball"]] * 2
    assert "dtype=string" in repr(sport)


@pytest.mark.parametrize("maths", [
    lambda s: s + s, lambda s: s * 2, lambda s: -s, lambda s: tg.exp(s), lambda s: tg.reduce_sum(s),
    lambda s: tg.matmul(tg.reshape(s, (1, 2)), tg.reshape(s, (2, 1))),
])
def test_maths_on_strings_is_a_clear_error(maths):
    sports = tg.constant(["Tennis", "Basketball"], tg.string)
    with pytest.raises(TypeError, match=r"expected numeric tensors, received a string tensor of shape \("):
        maths(sports)


def test_keras_names_are_tapegrads_own_objects():
    k = tg.keras
    assert k.layers is tg.layers and k.optimizers is tg.optimizers and k.losses is tg.losses
    assert k.metrics is tg.metrics and k.callbacks is tg.callbacks
    assert k.Model is tg.Model and k.Sequential is tg.Sequential and k.layers.Dense is tg.layers.Dense
    assert k.utils.set_random_seed is tg.utils.set_random_seed


def test_keras_code_runs_after_replacing_tf_by_tg():
    # The lab's subclassed layer, written against tf.keras, with tf replaced by tg.
    class OurDenseLayer(tg.keras.layers.Layer):
        def __init__(self, n_output_nodes):
            super().__init__()
            self.n_output_nodes = n_output_nodes

        def build(self, input_shape):
            d = int(input_shape[-1])
            self.W = self.add_weight(name="weight", shape=[d, self.n_output_nodes])
            self.b = self.add_weight(name="bias", shape=[1, self.n_output_nodes])

        def call(self, x):
            return tg.sigmoid(tg.matmul(x, self.W) + self.b)

    tg.keras.utils.set_random_seed(1)
    layer = OurDenseLayer(3)
    layer.build((1, 2))
    x = tg.constant([[1, 2.0]], shape=(1, 2))
    y = layer.call(x)
    w, b = layer.W.numpy(), layer.b.numpy()
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-(np.array([[1, 2.0]]) @ w + b))), rtol=1e-6)


def test_keras_submodules_import_as_in_tensorflow():
    from tapegrad.keras import Sequential
    from tapegrad.keras.callbacks import EarlyStopping
    from tapegrad.keras.layers import Dense
    from tapegrad.keras.optimizers import Adam

    assert Dense is tg.layers.Dense and Sequential is tg.Sequential
    assert EarlyStopping is tg.callbacks.EarlyStopping and Adam is tg.optimizers.Adam


def test_numpy_text_arrays_become_string_tensors():
    t = tg.constant(np.array(["a", "bc"]))
    assert t.dtype == tg.string and t.numpy().tolist() == ["a", "bc"]
    assert tg.Variable(np.array([b"x"])).dtype == tg.string
