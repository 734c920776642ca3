"""Replayed training steps (``tapegrad.fast.replay``): a replayed step must give exactly
what the eager step gives, and anything that cannot be recorded must train eagerly.

The reference here is ``compile(run_eagerly=True)``, the path the rest of the suite checks
against finite differences and PyTorch; every comparison is bit for bit."""

import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.fast import replay


def mlp(act="relu", out_act=None, out=3, reg=None, dropout=0.0, cls=tg.Sequential):
    layers = [tg.Input(shape=(5,)), tg.layers.Dense(8, activation=act, kernel_regularizer=reg)]
    if dropout:
        layers.append(tg.layers.Dropout(dropout))
    layers += [tg.layers.Dense(6, activation="tanh"), tg.layers.Dense(out, activation=out_act)]
    return cls(layers)


def convnet():
    return tg.Sequential([tg.Input(shape=(12, 12, 2)),
                          tg.layers.Conv2D(4, 3, padding="same", activation="relu"), tg.layers.MaxPooling2D(2),
                          tg.layers.ZeroPadding2D(1), tg.layers.Conv2D(3, 3, activation="sigmoid"),
                          tg.layers.AveragePooling2D(2), tg.layers.Reshape((27,)), tg.layers.Activation("relu"),
                          tg.layers.Dense(3)])


def pooled():
    return tg.Sequential([tg.Input(shape=(6, 6, 3)), tg.layers.Conv2D(4, 3, activation="relu"),
                          tg.layers.GlobalAveragePooling2D(), tg.layers.Dense(3)])


def conv1d(data_format="channels_last"):
    shape = (12, 3) if data_format == "channels_last" else (3, 12)
    return tg.Sequential([tg.Input(shape=shape),
                          tg.layers.Conv1D(4, 3, padding="same", activation="relu", data_format=data_format),
                          tg.layers.Conv1D(2, 3, strides=2, data_format=data_format), tg.layers.Flatten(),
                          tg.layers.Dense(3)])


def upsampled():
    return tg.Sequential([tg.Input(shape=(4, 4, 2)), tg.layers.Normalization(mean=[1.0, -2.0], variance=[4.0, 0.25]),
                          tg.layers.UpSampling2D(2), tg.layers.Conv2D(3, 3, activation="relu"),
                          tg.layers.UpSampling2D((1, 2), data_format="channels_first"), tg.layers.Flatten(),
                          tg.layers.Dense(3)])


def normalized():
    return tg.Sequential([tg.Input(shape=(6, 6, 2)), tg.layers.Conv2D(4, 3, activation="relu"),
                          tg.layers.BatchNormalization(momentum=0.9), tg.layers.Flatten(), tg.layers.Dense(8),
                          tg.layers.BatchNormalization(center=False), tg.layers.Activation("relu"),
                          tg.layers.Dense(3)])


def twins(build, loss, optimizer=lambda: tg.optimizers.Adam(0.01), metrics=None):
    """Two copies of a model with the same weights: recorded (default) and eager."""
    out = []
    for eager in (False, True):
        tg.random.set_seed(1)
        m = build()
        m.compile(optimizer=optimizer(), loss=loss, metrics=metrics, run_eagerly=eager)
        out.append(m)
    return out


def assert_same(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)


def batches(shape, n=16, steps=5, classes=3, kind="sparse", seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.normal(size=(n,) + shape).astype(np.float32)
        if kind == "sparse":
            y = rng.integers(0, classes, n)
        elif kind == "onehot":
            y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
        else:
            y = rng.normal(size=(n, classes)).astype(np.float32)
        yield x, y


CASES = {
    "sparse CE from logits, Adam": (mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "softmax output, CE": (lambda: mlp(act="sigmoid", out_act="softmax"), "categorical_crossentropy", "onehot"),
    "MSE, L2 penalty": (lambda: mlp(act="elu", reg=tg.regularizers.L2(0.01)), "mse", "real"),
    "BCE from logits": (lambda: mlp(out=1), tg.losses.BinaryCrossentropy(from_logits=True), "binary"),
    "conv, pools, padding, reshape": (convnet, tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "global pooling": (pooled, tg.losses.CategoricalCrossentropy(from_logits=True), "onehot"),
    "Conv1D": (conv1d, tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "Conv1D channels first": (lambda: conv1d("channels_first"), "mse", "real"),
    "Normalization, UpSampling2D": (upsampled, tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "BatchNormalization": (normalized, tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_replayed_steps_equal_eager_steps_bit_for_bit(case):
    build, loss, kind = CASES[case]
    recorded, eager = twins(build, loss)
    shape = recorded._input_layer.shape
    for x, y in batches(shape, kind="real" if kind == "binary" else kind,
                        classes=1 if kind == "binary" else 3):
        if kind == "binary":
            y = (y > 0).astype(np.float32)
        a = recorded.train_on_batch(x, y)
        b = eager.train_on_batch(x, y)
        assert a == b
    assert_same(recorded, eager)
    assert recorded._fast_step.recorded == 1 and recorded._fast_step.replayed == 4
    assert eager._fast_step.replayed == 0


def test_sample_weights_metrics_and_momentum_replay_exactly():
    recorded, eager = twins(mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                            optimizer=lambda: tg.optimizers.SGD(0.1, momentum=0.9), metrics=["accuracy"])
    rng = np.random.default_rng(3)
    for x, y in batches((5,)):
        sw = rng.random(len(x)).astype(np.float32)
        a = recorded.train_on_batch(x, y, sample_weight=sw, return_dict=True)
        b = eager.train_on_batch(x, y, sample_weight=sw, return_dict=True)
        assert a == b and set(a) == {"loss", "accuracy"}
    assert_same(recorded, eager)
    assert recorded._fast_step.replayed == 4


def test_fit_with_validation_and_metrics_matches_eager():
    x, y = next(batches((5,), n=70, steps=1))
    models = twins(mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    histories = [m.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, verbose=0).history for m in models]
    assert histories[0] == histories[1] and len(histories[0]["val_accuracy"]) == 3
    assert_same(*models)
    assert models[0]._fast_step.replayed > 0


def test_fit_with_dropout_replays_one_plan_per_batch_shape():
    x, y = next(batches((5,), n=70, steps=1))
    models = twins(lambda: mlp(dropout=0.5), tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    histories = []
    for m in models:
        tg.random.set_seed(7)
        histories.append(m.fit(x, y, batch_size=32, epochs=3, verbose=0).history)
    assert histories[0] == histories[1]
    assert_same(*models)
    # batches of 32, 32 and 6: one record per shape, the rest replayed
    assert models[0]._fast_step.recorded == 2 and models[0]._fast_step.replayed == 7


def test_replayed_dropout_draws_a_new_mask_each_step():
    m = mlp(dropout=0.5)
    m.compile(optimizer=tg.optimizers.SGD(0.0), loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = next(batches((5,), steps=1))
    losses = [m.train_on_batch(x, y) for _ in range(4)]  # lr 0: only the masks change
    assert m._fast_step.replayed == 3
    assert len(set(losses)) == 4


def test_changing_the_model_records_again():
    recorded, eager = twins(mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = list(batches((5,), steps=6))
    for m in (recorded, eager):
        for x, y in data[:3]:
            m.train_on_batch(x, y)
        m.layers[0].trainable = False
        frozen = m.layers[0].get_weights()
        for x, y in data[3:]:
            m.train_on_batch(x, y)
        assert all(np.array_equal(a, b) for a, b in zip(frozen, m.layers[0].get_weights()))
    assert_same(recorded, eager)
    assert recorded._fast_step.recorded == 2 and recorded._fast_step.replayed == 4


def recorded_mlp():
    """A compiled MLP after one recorded and one replayed step, with that step's batch."""
    m = mlp()
    m.compile(optimizer="sgd", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = next(batches((5,), steps=1))
    m.train_on_batch(x, y)
    m.train_on_batch(x, y)
    return m, x, y


def test_a_changed_layer_setting_is_recorded_again():
    m, x, y = recorded_mlp()
    m.layers[1].activation = tg.activations.get("sigmoid")
    before = m.predict(x, verbose=0)
    m.run_eagerly = True  # the eager step with the new activation...
    eager_loss = m.test_on_batch(x, y)
    m.run_eagerly = False
    assert m.train_on_batch(x, y) == pytest.approx(eager_loss)  # ...is what the new record computes
    assert m._fast_step.recorded == 2
    assert not np.array_equal(before, m.predict(x, verbose=0))


def test_models_that_cannot_be_recorded_train_eagerly():
    class Twice(tg.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    class Sub(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = tg.layers.Dense(3)

        def call(self, inputs, training=False):
            return self.d(inputs)

    cases = {
        "not a plain Sequential": Sub(),
        "Twice": tg.Sequential([tg.Input(shape=(5,)), Twice(), tg.layers.Dense(3)]),
        "custom activation": tg.Sequential([tg.Input(shape=(5,)), tg.layers.Dense(3, activation=lambda t: t * 1.0)]),
        "activity regularizer": tg.Sequential([tg.Input(shape=(5,)),
                                               tg.layers.Dense(3, activity_regularizer="l2")]),
    }
    for why, m in cases.items():
        m.compile(optimizer="sgd", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
        for x, y in batches((5,), steps=3):
            m.train_on_batch(x, y)
        assert why in m._fast_step.reason
        assert m._fast_step.recorded == 0 and m._fast_step.replayed == 0


def test_a_node_reading_a_tensor_from_outside_is_refused(monkeypatch):
    class Noisy(tg.layers.Layer):  # adds noise made in Python: a replay would freeze it
        def call(self, inputs):
            return inputs + tg.Tensor(np.random.default_rng().normal(size=inputs.shape).astype(np.float32))

    monkeypatch.setattr(replay, "REPLAYABLE", replay.REPLAYABLE + (Noisy,))
    m = tg.Sequential([tg.Input(shape=(5,)), Noisy(), tg.layers.Dense(3)])
    m.compile(optimizer="sgd", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    for x, y in batches((5,), steps=3):
        m.train_on_batch(x, y)
    assert "reads a tensor of shape (16, 5) made outside the recorded nodes" in m._fast_step.reason
    assert m._fast_step.replayed == 0


def test_bad_input_after_recording_gets_the_eager_error():
    m, x, y = recorded_mlp()
    with pytest.raises(ValueError, match=r"received shape \(16, 4\)"):
        m.train_on_batch(x[:, :4], y)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), received values from -1 to 2"):
        m.train_on_batch(x, np.where(y == 0, -1, y))
    before = m.get_weights()
    with pytest.raises(ValueError, match="labels must be in"):
        m.train_on_batch(x, y + 3)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))  # nothing changed


def test_run_eagerly_never_records():
    m = mlp()
    m.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    for x, y in batches((5,), kind="real", steps=3):
        m.train_on_batch(x, y)
    assert m._fast_step.recorded == 0 and m._fast_step.replayed == 0


class HalfSquareOutput(tg.Sequential):
    """A Sequential whose compute_loss adds a term of its own."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, sample_weight, training) + 0.5 * tg.ops.mean(y_pred * y_pred)


class ScaledMSE(tg.losses.Loss):
    def call(self, y_true, y_pred):
        return tg.ops.mean(tg.ops.square(y_pred - tg.constant(y_true)), axis=-1) * 3.0


LOSS_PATHS = {
    "overridden compute_loss": (lambda: mlp(cls=HalfSquareOutput), "mse"),
    "custom Loss class": (mlp, ScaledMSE()),
    "loss function": (mlp, lambda y_true, y_pred: tg.ops.mean(tg.ops.abs(y_pred - tg.constant(y_true)))),
    "reduction sum": (mlp, tg.losses.MeanSquaredError(reduction="sum")),
    "fused loss": (mlp, tg.losses.CategoricalCrossentropy(from_logits=True)),
}


@pytest.mark.parametrize("case", list(LOSS_PATHS))
def test_every_kind_of_loss_replays_exactly(case):
    """A replayed step runs a built-in fused loss's rule directly and any other loss eagerly;
    both must give the eager step's results bit for bit."""
    build, loss = LOSS_PATHS[case]
    recorded, eager = twins(build, loss)
    for x, y in batches((5,), kind="onehot" if case == "fused loss" else "real"):
        assert recorded.train_on_batch(x, y) == eager.train_on_batch(x, y)
    assert_same(recorded, eager)
    assert recorded._fast_step.replayed == 4


def test_a_regularizer_set_on_a_weight_after_recording_is_applied():
    recorded, eager = twins(mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = list(batches((5,), steps=6))
    for m in (recorded, eager):
        for x, y in data[:2]:
            m.train_on_batch(x, y)
        m.layers[1].kernel.regularizer = tg.regularizers.L2(0.5)  # a weight's setting: recorded again
        for x, y in data[2:4]:
            m.train_on_batch(x, y)
        m.layers[1].kernel.regularizer = None
        m.train_on_batch(*data[4])
        m.add_loss(tg.constant(5.0))  # a model's call drops penalties added before it
        m.train_on_batch(*data[5])
    assert_same(recorded, eager)
    assert recorded._fast_step.recorded == 3 and recorded._fast_step.replayed == 3


def test_normalization_adapted_after_recording_is_read_when_replayed():
    recorded, eager = twins(lambda: tg.Sequential([tg.Input(shape=(5,)), tg.layers.Normalization(),
                                                   tg.layers.Dense(3)]), "mse")
    data = list(batches((5,), kind="real", steps=4))
    stats = np.random.default_rng(5).normal(3.0, 2.0, size=(40, 5))
    for m in (recorded, eager):
        for x, y in data[:2]:
            m.train_on_batch(x, y)
        m.layers[0].adapt(stats)  # new statistics, same structure: the replay reads them
        for x, y in data[2:]:
            m.train_on_batch(x, y)
    assert_same(recorded, eager)
    assert recorded._fast_step.recorded == 1 and recorded._fast_step.replayed == 3


def test_batch_normalization_moving_statistics_follow_every_replayed_step():
    """The moving averages are updated by nodes of the record, so each replayed step moves
    them as an eager step does: after four steps, ``m_4 = 0.9^4 m_0 + 0.1 sum 0.9^(4-k) mean_k``
    of the batches' channel means (computed here from the inputs: the layer comes first)."""
    m = tg.Sequential([tg.Input(shape=(3,)), tg.layers.BatchNormalization(momentum=0.9), tg.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    expected = np.zeros(3)
    for x, y in batches((3,), kind="real", classes=2, steps=4):
        m.train_on_batch(x + 2.0, y)
        expected = 0.9 * expected + 0.1 * (x + 2.0).astype(np.float64).mean(0)
    assert m._fast_step.replayed == 3
    np.testing.assert_allclose(m.layers[0].moving_mean.numpy(), expected, rtol=1e-5)


def test_one_gradient_array_for_two_weights_is_not_worked_in(monkeypatch):
    """A rule may hand the same array to two inputs (an addition's backward gives ``g`` to
    both). If both are weights, the optimizer must not use that array as a work buffer:
    updating the first weight would change the second one's gradient."""
    n = (1 << 14) + 1

    class SumOfTwo(tg.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(shape=(n,), initializer="ones", name="a")
            self.b = self.add_weight(shape=(n,), initializer="zeros", name="b")

        def call(self, inputs):
            return inputs * (self.a + self.b)

    monkeypatch.setattr(replay, "REPLAYABLE", replay.REPLAYABLE + (SumOfTwo,))
    layer = SumOfTwo()
    model = tg.Sequential([tg.Input(shape=(n,)), layer])
    model.compile(optimizer=tg.optimizers.SGD(0.5), loss="mse")
    x, y = np.ones((2, n), np.float32), np.zeros((2, n), np.float32)
    expected_a, expected_b = 1.0, 0.0
    for _ in range(2):  # recorded, then replayed
        model.train_on_batch(x, y)
        # per element (a + b)^2, mean over 2n elements: d/da = d/db = 2 (a + b) * 2 / (2n)
        g = 2 * (expected_a + expected_b) / n
        expected_a, expected_b = expected_a - 0.5 * g, expected_b - 0.5 * g
        np.testing.assert_allclose(layer.a.numpy(), expected_a, rtol=1e-6)
        np.testing.assert_allclose(layer.b.numpy(), expected_b, rtol=1e-6)
    assert model._fast_step.recorded == 1 and model._fast_step.replayed == 1


def test_a_gradient_handed_to_two_nodes_is_not_overwritten(monkeypatch):
    """An addition's backward gives one array to both of its inputs. A rule that may work in
    its incoming gradient must not do so here, or the other branch would see the first
    branch's mask applied."""
    class TwoBranches(tg.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left, self.right = tg.layers.Dense(6, activation="relu"), tg.layers.Dense(6, activation="relu")

        def call(self, inputs):
            return self.left(inputs) + self.right(inputs)

    monkeypatch.setattr(replay, "REPLAYABLE", replay.REPLAYABLE + (TwoBranches,))
    recorded, eager = twins(lambda: tg.Sequential([tg.Input(shape=(5,)), TwoBranches(), tg.layers.Dense(3)]),
                            tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    for x, y in batches((5,)):
        assert recorded.train_on_batch(x, y) == eager.train_on_batch(x, y)
    assert_same(recorded, eager)
    assert recorded._fast_step.replayed == 4


def test_a_weight_with_only_a_penalty_gradient_trains_as_eagerly(monkeypatch):
    """A weight off the forward path gets its gradient from its penalty alone; a sum's
    gradient is a read-only broadcast of one value, which the replay must copy before the
    optimizer may work in it."""
    SMALL = 1 << 14

    class WithSpare(tg.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="a")
            self.spare = self.add_weight(shape=(SMALL + 1,), initializer="ones", name="spare",
                                         regularizer=lambda w: tg.ops.sum(w) * 0.5)

        def call(self, inputs):
            return inputs * self.a

    monkeypatch.setattr(replay, "REPLAYABLE", replay.REPLAYABLE + (WithSpare,))
    recorded, eager = twins(lambda: tg.Sequential([tg.Input(shape=(5,)), WithSpare(), tg.layers.Dense(3)]), "mse",
                            optimizer=lambda: tg.optimizers.SGD(0.1))
    for x, y in batches((5,), kind="real", steps=3):
        assert recorded.train_on_batch(x, y) == eager.train_on_batch(x, y)
    assert_same(recorded, eager)
    np.testing.assert_allclose(recorded.layers[0].spare.numpy(), 1 - 3 * 0.1 * 0.5, rtol=1e-6)
    assert recorded._fast_step.replayed == 2


def test_another_threads_ops_during_the_recorded_step_stay_out_of_the_record():
    # the recording hook is per thread: a second thread training its own weights while this
    # model records its first step must neither enter this record nor stop the replay
    other = tg.Variable(np.ones(4, np.float32))
    go, done, seen = threading.Event(), threading.Event(), []

    def elsewhere():
        go.wait(10)
        seen.append((other * 2.0).requires_grad)  # a recorded node, made in the other thread
        done.set()

    recorded, eager = twins(mlp, tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    dense = recorded.layers[1]
    original = dense.call

    def call_while_the_other_thread_works(inputs, **kwargs):
        if not go.is_set():  # the first (recorded) call only
            go.set()
            assert done.wait(10)
        return original(inputs, **kwargs)

    dense.call = call_while_the_other_thread_works  # the instance's call: the layer type is unchanged
    t = threading.Thread(target=elsewhere)
    t.start()
    steps = list(batches((5,), steps=3))
    try:
        recorded.train_on_batch(*steps[0])
    finally:
        go.set()
        t.join()
    for x, y in steps[1:]:
        recorded.train_on_batch(x, y)
    for x, y in steps:
        eager.train_on_batch(x, y)
    assert seen == [True]
    assert recorded._fast_step.recorded == 1 and recorded._fast_step.replayed == 2
    assert_same(recorded, eager)


def test_replayed_steps_reuse_their_scratch_arrays():
    recorded, eager = twins(convnet, tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    kept_ids = []
    for x, y in batches(recorded._input_layer.shape, steps=6):
        assert recorded.train_on_batch(x, y) == eager.train_on_batch(x, y)
        kept_ids.append(sorted(id(a) for arrays in recorded._fast_step.workspace.arrays.values() for a in arrays))
    assert_same(recorded, eager)
    assert recorded._fast_step.replayed == 5 and kept_ids[-1] and kept_ids[-1] == kept_ids[-2]


def test_a_step_never_writes_into_an_array_that_something_still_holds():
    class Keep(tg.metrics.Metric):  # a metric that holds on to every prediction it sees
        def __init__(self):
            super().__init__(name="keep")
            self.seen = []

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.seen.append((y_pred, np.array(y_pred.numpy(), copy=True)))

        def result(self):
            return tg.constant(0.0)

        def reset_state(self):
            pass

    keep = Keep()
    # the LSTM's output sequence is made in the step's workspace
    model = tg.Sequential([tg.Input(shape=(6,)), tg.layers.Embedding(10, 4), tg.layers.LSTM(5, return_sequences=True)])
    model.compile(optimizer="adam", loss="mse", metrics=[keep])
    rng = np.random.default_rng(0)
    for _ in range(4):
        model.train_on_batch(rng.integers(0, 10, (3, 6)), rng.normal(size=(3, 6, 5)).astype(np.float32))
    assert len(keep.seen) == 4
    for y_pred, copy in keep.seen:
        assert np.array_equal(y_pred.numpy(), copy)


def test_predictions_held_by_the_caller_are_not_overwritten_by_later_batches():
    m = convnet()
    x = np.random.default_rng(0).normal(size=(40,) + m._input_layer.shape).astype(np.float32)
    first = [m.predict_on_batch(x[i:i + 8]) for i in range(0, 40, 8)]
    copies = [np.array(p, copy=True) for p in first]
    m.predict(x, batch_size=8, verbose=0)
    again = m.predict(x, batch_size=8, verbose=0)
    assert m._fast_predict.replayed > 0
    for p, c in zip(first, copies):
        assert np.array_equal(p, c)
    assert np.array_equal(again, np.concatenate(copies))


def test_a_model_that_is_not_recorded_trains_as_eagerly_with_the_kept_update_buffers():
    def lstm():
        return tg.Sequential([tg.Input(shape=(7,)), tg.layers.Embedding(11, 6),
                              tg.layers.LSTM(9, return_sequences=True), tg.layers.Dense(11)])

    recorded, eager = twins(lstm, tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(3)
    for _ in range(4):
        x, y = rng.integers(0, 11, (5, 7)), rng.integers(0, 11, (5, 7))
        assert recorded.train_on_batch(x, y) == eager.train_on_batch(x, y)
    assert_same(recorded, eager)
    assert recorded._fast_step.replayed == 0 and "is not one of the built-in layers recorded" in recorded._fast_step.reason
    assert recorded._fast_step.updater._last is not None  # the update ran in the updater's buffers
