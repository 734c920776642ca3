"""Bad input to the Python API is refused before anything changes, with a message naming the
argument, what was received and what was expected (issue 30, item 2)."""

import numpy as np
import pytest

import tapegrad as tg


def data(n=20, d=2):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype("float32"), (rng.random((n, 1)) > 0.5).astype("float32")


class Recorder(tg.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_test_begin(self, logs=None):
        self.calls.append("test_begin")

    def on_predict_begin(self, logs=None):
        self.calls.append("predict_begin")


def compiled(units=1, metrics=("accuracy",)):
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(4, activation="relu"),
                       tg.layers.Dense(units, activation="sigmoid")])
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=list(metrics))
    return m


def snapshot(m):
    return {"weights": [w.copy() for w in m.get_weights()], "iterations": m.optimizer.iterations,
            "opt_state": len(m.optimizer._state), "history": m.history}


def assert_unchanged(m, before):
    after = snapshot(m)
    for a, b in zip(before["weights"], after["weights"]):
        np.testing.assert_array_equal(a, b)
    assert after["iterations"] == before["iterations"] == 0
    assert after["opt_state"] == before["opt_state"] and after["history"] is before["history"]


x, y = data()
FIT_CASES = [
    ("complex x", dict(x=x.astype(np.complex64)), TypeError, r"fit: x must hold numbers .* dtype complex64 .* complex"),
    ("string x", dict(x=x.astype(str)), TypeError, r"fit: x must hold numbers .* dtype <U"),
    ("object x", dict(x=x.astype(object)), TypeError, r"fit: x must hold numbers .* dtype object"),
    ("string y", dict(y=np.array(["yes"] * 20)), TypeError, r"fit: y must hold numbers .* dtype <U3"),
    ("list of strings y", dict(y=["yes"] * 20), TypeError, r"fit: y must hold numbers"),
    ("y None", dict(y=None), ValueError, r"fit: y is required .* received y=None"),
    ("epochs str", dict(epochs="3"), TypeError, r"fit: epochs must be an integer >= 0, received '3' of type str"),
    ("epochs float", dict(epochs=2.5), TypeError, r"fit: epochs must be an integer >= 0, received 2.5 of type float"),
    ("epochs negative", dict(epochs=-1), ValueError, r"fit: epochs must be an integer >= 0, received -1"),
    ("steps negative", dict(steps_per_epoch=-1), ValueError,
     r"fit: steps_per_epoch must be a positive integer, received -1"),
    ("initial_epoch past epochs", dict(epochs=2, initial_epoch=5), ValueError,
     r"fit: initial_epoch \(5\) must not exceed epochs \(2\)"),
    ("validation_split str", dict(validation_split="0.2"), TypeError,
     r"fit: validation_split must be a float in \[0, 1\), received '0.2' of type str"),
    ("validation_split too big", dict(validation_split=1.5), ValueError,
     r"fit: validation_split must be in \[0, 1\), received 1.5"),
    ("validation_freq zero", dict(validation_data=(x, y), validation_freq=0), ValueError,
     r"fit: validation_freq must be a positive integer, received 0"),
    ("validation_data wrong width", dict(validation_data=(np.zeros((5, 3), "float32"), np.zeros((5, 1), "float32"))),
     ValueError, r"fit: validation_data's x has shape \(5, 3\), but model '.*' expects input of shape \(None, 2\)"),
    ("validation_data y wrong width", dict(validation_data=(x[:5], np.zeros((5, 4), "float32"))), ValueError,
     r"fit: validation_data's y has shape \(5, 4\), but the training y has shape \(20, 1\)"),
    ("validation_data lengths", dict(validation_data=(x[:5], y[:4])), ValueError,
     r"validation_data's x has 5 samples but its y has 4"),
    ("validation_data one element", dict(validation_data=(x,)), ValueError,
     r"fit: validation_data must be \(x_val, y_val\) or \(x_val, y_val, sample_weight_val\), received a tuple of 1"),
    ("x wrong width", dict(x=np.zeros((20, 3), "float32")), ValueError,
     r"fit: x has shape \(20, 3\), but model '.*' expects input of shape \(None, 2\)"),
    ("zero rows", dict(x=x[:0], y=y[:0]), ValueError, r"fit: x has 0 samples \(shape \(0, 2\)\); expected at least one"),
    ("batch_size str", dict(batch_size="32"), TypeError, r"fit: batch_size must be a positive integer, received '32'"),
    ("verbose", dict(verbose=7), ValueError, r"fit: verbose must be 'auto', 0, 1 or 2, received 7"),
]


@pytest.mark.parametrize("case, kwargs, error, match", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_refuses_before_the_first_epoch(case, kwargs, error, match):
    m = compiled()
    before = snapshot(m)
    rec = Recorder()
    args = dict(x=x, y=y, epochs=2, verbose=0, callbacks=[rec])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        m.fit(**args)
    assert rec.calls == []
    assert_unchanged(m, before)


def test_target_width_differing_from_the_output_is_refused_before_weights_change():
    m = compiled(units=3)  # 3 outputs, y of one column: MSE and cross-entropy would broadcast
    m.compile(optimizer="adam", loss="mse")
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true shape \(20, 1\) does not match y_pred shape "
                                         r"\(20, 3\)"):
        m.fit(x, y, batch_size=20, verbose=0)
    assert_unchanged(m, before)


def test_losses_refuse_shapes_that_would_broadcast_and_keep_the_trailing_1_rule():
    torch = pytest.importorskip("torch")
    y3, p3 = np.ones((20, 3), "float32"), np.linspace(0, 1, 60, dtype="float32").reshape(20, 3)
    for loss in ("mse", "mae", "huber", "hinge", "kld", "binary_crossentropy"):
        with pytest.raises(ValueError, match=r"y_true shape \(20, 1\) does not match y_pred shape \(20, 3\)"):
            tg.losses.get(loss)(y3[:, :1], p3)
    # (N,) targets against (N, 1) predictions, and (N, 1) against (N,), are the same thing (Keras's rule)
    p1 = p3[:, :1]
    expected = float(torch.nn.functional.mse_loss(torch.tensor(p1[:, 0]), torch.tensor(y3[:, 0])))
    assert float(tg.losses.MeanSquaredError()(y3[:, 0], p1)) == pytest.approx(expected, rel=1e-6)
    assert float(tg.losses.MeanSquaredError()(y3[:, :1], p1[:, 0])) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("metrics, error, match", [
    (["foo"], ValueError, r"compile: unknown metric 'foo' in metrics; valid names are: accuracy"),
    ("accuracy", TypeError, r"compile: metrics must be a list of metric names or objects, received 'accuracy'"),
    ([3], TypeError, r"compile: metrics must hold names, Metric objects or functions, received 3 of type int"),
])
def test_compile_refuses_bad_metrics_before_changing_the_model(metrics, error, match):
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    with pytest.raises(error, match=match):
        m.compile(optimizer="adam", loss="mse", metrics=metrics)
    assert not m.compiled and m.optimizer is None
    m.compile(optimizer="adam", loss="mse", metrics=["mae", tg.metrics.MeanAbsoluteError(name="mae2")])


@pytest.mark.parametrize("make, error, match", [
    (lambda: tg.optimizers.Adam("abc"), TypeError,
     r"Adam: learning_rate \(the first argument\) must be a number, received 'abc' of type str"),
    (lambda: tg.optimizers.SGD(learning_rate=True), TypeError, r"SGD: learning_rate .* received True of type bool"),
    (lambda: tg.optimizers.Adam(beta_1="0.9"), TypeError, r"Adam: beta_1 must be a number, received '0.9'"),
    (lambda: tg.optimizers.SGD(momentum="0.9"), TypeError, r"SGD: momentum must be a number, received '0.9'"),
    (lambda: tg.optimizers.RMSprop(clipnorm="1"), TypeError, r"RMSprop: clipnorm must be a number or None"),
])
def test_optimizer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_apply_gradients_with_fewer_gradients_than_variables_changes_nothing():
    variables = [tg.Variable(np.ones(2, "float32")) for _ in range(4)]
    grads = [tg.constant(np.ones(2, "float32")) for _ in range(3)]
    opt = tg.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match=r"apply_gradients received 3 gradients for 4 variables"):
        opt.apply_gradients(zip(grads, variables))
    with pytest.raises(ValueError, match=r"apply received 3 gradients for 4 variables"):
        opt.apply(grads, variables)
    assert opt.iterations == 0 and all(np.all(v.numpy() == 1) for v in variables)
    opt.apply_gradients(zip(grads + [None], variables))  # None for a variable is allowed and skipped
    assert [float(v.numpy()[0]) for v in variables] == pytest.approx([0.9, 0.9, 0.9, 1.0])
    opt.apply_gradients((g, v) for g, v in zip(grads, variables))  # a generator: lengths unknown, accepted


@pytest.mark.parametrize("make, match", [
    (lambda: tg.layers.Conv2D(2, 0), r"Conv2D kernel_size: expected a positive integer or a pair of positive "
                                     r"integers, received 0"),
    (lambda: tg.layers.Conv2D(2, (3, 0)), r"Conv2D kernel_size: .* received \(3, 0\)"),
    (lambda: tg.layers.Conv2D(2, 3, strides=0), r"Conv2D strides: .* received 0"),
    (lambda: tg.layers.Conv2D(2, 3, strides=-1), r"Conv2D strides: .* received -1"),
    (lambda: tg.layers.Conv2D(2, 2.5), r"Conv2D kernel_size: .* received 2.5"),
    (lambda: tg.layers.Conv2D(2, (3, 3, 3)), r"Conv2D kernel_size: .* received \(3, 3, 3\)"),
    (lambda: tg.layers.Conv2D(2, 3, dilation_rate=0), r"Conv2D dilation_rate: .* received 0"),
    (lambda: tg.layers.Conv2D(0, 3), r"Conv2D: filters must be a positive integer, received 0"),
    (lambda: tg.layers.Conv1D(2, 0), r"Conv1D kernel_size: .* received \(1, 0\)"),
    (lambda: tg.layers.MaxPooling2D(0), r"MaxPooling2D pool_size: .* received 0"),
    (lambda: tg.layers.AveragePooling2D(2, strides=0), r"AveragePooling2D strides: .* received 0"),
    (lambda: tg.layers.UpSampling2D(0), r"UpSampling2D size: .* received 0"),
])
def test_layer_arguments_refused_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_predict_on_zero_rows_returns_the_empty_output_shape():
    m = compiled(units=3)
    assert m.predict(np.zeros((0, 2), "float32"), verbose=0).shape == (0, 3)
    conv = tg.Sequential([tg.Input(shape=(6, 6, 1)), tg.layers.Conv2D(4, 3), tg.layers.Flatten(), tg.layers.Dense(5)])
    assert conv.predict(np.zeros((0, 6, 6, 1), "float32"), verbose=0).shape == (0, 5)


def test_evaluate_and_predict_refuse_before_starting():
    m = compiled()
    rec = Recorder()
    with pytest.raises(ValueError, match=r"evaluate: y is required .* received y=None"):
        m.evaluate(x, None, verbose=0, callbacks=[rec])
    with pytest.raises(ValueError, match=r"evaluate: x has 0 samples"):
        m.evaluate(x[:0], y[:0], verbose=0, callbacks=[rec])
    with pytest.raises(TypeError, match=r"evaluate: y must hold numbers .* dtype complex128"):
        m.evaluate(x, y.astype(complex), verbose=0, callbacks=[rec])
    with pytest.raises(TypeError, match=r"predict: x must hold numbers .* dtype <U"):
        m.predict(x.astype(str), verbose=0, callbacks=[rec])
    with pytest.raises(ValueError, match=r"predict: x has shape \(20, 3\), but model .* expects input of shape "
                                         r"\(None, 2\)"):
        m.predict(np.zeros((20, 3), "float32"), verbose=0, callbacks=[rec])
    assert rec.calls == []
    with pytest.raises(TypeError, match=r"train_on_batch: x must hold numbers .* complex"):
        m.train_on_batch(x.astype(np.complex64), y)
    assert m.optimizer.iterations == 0


def test_checks_leave_datasets_and_custom_steps_alone():
    # a model whose own train_step needs no y (an autoencoder) trains on x alone
    class AutoEncoder(tg.Model):
        def __init__(self):
            super().__init__()
            self.dense = tg.layers.Dense(2)

        def call(self, inputs, training=False):
            return self.dense(inputs)

        def train_step(self, data):
            xb = data[0] if isinstance(data, tuple) else data
            with tg.GradientTape() as tape:
                loss = tg.losses.mean_squared_error(xb, self(xb, training=True))
                loss = tg.ops.mean(loss)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": float(loss.numpy())}

    ae = AutoEncoder()
    ae.compile(optimizer="sgd")
    ae.fit(x, epochs=1, verbose=0)
    assert ae.optimizer.iterations == 1
    m = compiled()
    m.fit(tg.data.Dataset(x, y), epochs=1, verbose=0, validation_data=tg.data.Dataset(x, y))
    m.fit(x.astype("float64"), y.astype(bool), epochs=1, verbose=0)  # numbers of any numeric kind are fine
    assert m.optimizer.iterations == 2
