"""tg.function: a custom training step recorded once and replayed gives the eager step's results
bit for bit; what it cannot record runs eagerly with one warning; a new signature or a changed
model records again. PyTorch gives the losses of the recorded W1 step from the same weights."""

import os
import sys
import warnings

import numpy as np
import pytest

import tapegrad as tg


def _mlp(dropout=False):
    tg.random.set_seed(0)
    layers = [tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"), tg.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(tg.layers.Dropout(0.3))
    return tg.Sequential(layers + [tg.layers.Dense(1)])


def _train(decorate, dropout=False, steps=50):
    model = _mlp(dropout)
    opt = tg.optimizers.Adam(1e-2)
    loss_fn = tg.losses.BinaryCrossentropy(from_logits=True)
    acc, mean = tg.metrics.BinaryAccuracy(threshold=0.0), tg.metrics.Mean()

    def step(x, y):
        with tg.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        acc.update_state(y, logits)
        mean.update_state(loss)
        return loss

    fn = tg.function(step) if decorate else step
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(steps):
        x = rng.normal(size=(32, 2)).astype(np.float32)
        y = (x[:, :1] * x[:, 1:] > 0).astype(np.float32)
        losses.append(fn(x, y).numpy())
    return model, opt, acc, mean, np.array(losses), fn


@pytest.mark.parametrize("dropout", [False, True])
def test_recorded_step_equals_eager_bit_for_bit(dropout):
    eager = _train(False, dropout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = _train(True, dropout)
    assert (rec[5].recorded, rec[5].replayed) == (1, 49)
    for a, b in zip(eager[0].weights, rec[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(eager[1].variables, rec[1].variables):
        np.testing.assert_array_equal(a, b)
    assert eager[1].iterations == rec[1].iterations == 50
    assert float(eager[2].result()) == float(rec[2].result()) and float(eager[3].result()) == float(rec[3].result())
    np.testing.assert_array_equal(eager[4], rec[4])


def _music(decorate, reset, stateful=True):
    tg.random.set_seed(0)
    model = tg.Sequential([tg.Input(batch_shape=(4, 10), dtype="int32"), tg.layers.Embedding(20, 8),
                           tg.layers.LSTM(16, return_sequences=True, stateful=stateful), tg.layers.Dense(20)])
    opt = tg.optimizers.Adam(1e-2)

    def step(x, y):
        with tg.GradientTape() as tape:
            logits = model(x)
            loss = tg.reduce_mean(tg.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    fn = tg.function(step) if decorate else step
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(10):
        if reset:
            model.reset_states()
        x, y = rng.integers(0, 20, (4, 10)).astype(np.int32), rng.integers(0, 20, (4, 10)).astype(np.int32)
        losses.append(fn(x, y).numpy())
    return model, np.array(losses), fn, opt


@pytest.mark.parametrize("reset,stateful", [(True, True), (False, True), (False, False)])
def test_lab_part2_step_with_a_stateful_lstm_equals_eager(reset, stateful):
    eager = _music(False, reset, stateful)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = _music(True, reset, stateful)
    # a stateful LSTM's first call makes its states for this batch size: the second one records
    assert (rec[2].recorded, rec[2].replayed) == ((1, 8) if stateful else (1, 9))
    np.testing.assert_array_equal(eager[1], rec[1])
    for a, b in zip(eager[0].weights, rec[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(eager[0].layers[1].states or (), rec[0].layers[1].states or ()):  # the held states carried on
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(eager[3].variables, rec[3].variables):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, 20])
def test_a_replayed_embedding_checks_its_ids_as_the_eager_call(bad):
    model, _, fn, opt = _music(True, reset=False, stateful=False)
    assert fn.replayed > 0  # the step below is a replay of the recorded one
    weights = [w.numpy() for w in model.weights]
    x = np.zeros((4, 10), np.int32)
    x[2, 3] = bad  # NumPy would read row -1 (the last) or raise its own IndexError
    with pytest.raises(ValueError, match=rf"Embedding '.*': ids must be in \[0, 20\), received {bad}"):
        fn(x, np.zeros((4, 10), np.int32))
    for before, w in zip(weights, model.weights):  # refused before any weight changed
        np.testing.assert_array_equal(before, w.numpy())


def test_an_operation_reading_a_numpy_made_tensor_runs_eagerly():
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(2)])

    def f(x):
        return model(x) * tg.constant(np.ones((2, 2), np.float32) * 2)

    x = np.array([[1, 2, 0], [3, 0, 0]], np.float32)
    with pytest.warns(UserWarning, match="made outside the recorded operations"):
        fn = tg.function(f)
        outs = [fn(x) for _ in range(3)]
    np.testing.assert_array_equal(outs[-1].numpy(), f(x).numpy())


def _counter_step(model, opt, check):
    def step(x, y):
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(tg.square(model(x) - y))
        if check == "bool" and loss > 100.0:
            loss = loss * 0.5
        if check == "float":
            float(loss)
        if check == "numpy":
            loss.numpy()
        if check == "item":
            loss.item()
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    return step


@pytest.mark.parametrize("check", ["bool", "float", "numpy", "item"])
def test_reading_a_value_while_recording_runs_eagerly_with_one_warning(check):
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    results = []
    for decorate in (False, True):
        tg.random.set_seed(0)
        model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
        step = _counter_step(model, tg.optimizers.SGD(0.1), check)
        fn = tg.function(step) if decorate else step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = [fn(x, y).numpy() for _ in range(4)]
        results.append((losses, [w.numpy() for w in model.weights], caught))
    messages = [str(w.message) for w in results[1][2]]
    assert len(messages) == 1 and "runs eagerly" in messages[0] and "tensor's value" in messages[0]
    assert fn.recorded == 0 and fn.replayed == 0
    np.testing.assert_array_equal(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_python_that_does_not_read_values_runs_once_while_recording(capsys):
    v = tg.Variable([0.0, 0.0])

    @tg.function
    def add(x):
        print("recording")
        for _ in range(3):  # unrolled into the record
            v.assign_add(x)
        return v * 1.0

    for _ in range(4):
        out = add(np.ones(2, np.float32))
    assert capsys.readouterr().out == "recording\n"
    assert v.numpy().tolist() == [12.0, 12.0] and out.numpy().tolist() == [12.0, 12.0]
    assert (add.recorded, add.replayed) == (1, 3)


def test_new_signature_and_changed_model_record_again():
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(3), tg.layers.Dense(1)])
    opt = tg.optimizers.SGD(0.1)

    @tg.function
    def step(x, y, scale):
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(tg.square(model(x) - y)) * scale
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    step(x, y, 1.0)
    step(x, y, 1.0)
    assert (step.recorded, step.replayed) == (1, 1)
    step(x[:2], y[:2], 1.0)  # a new shape
    step(x, y, 2.0)  # a new Python value
    assert step.recorded == 3
    step(x, y, 1.0)
    assert (step.recorded, step.replayed) == (3, 2)
    model.layers[0].trainable = False  # a frozen layer: its kernel gets no update
    frozen = model.layers[0].kernel.numpy()
    step(x, y, 1.0)
    assert step.recorded == 4
    step(x, y, 1.0)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), frozen)
    model.set_weights([np.full_like(w.numpy(), 0.5) for w in model.weights])
    expected = tg.reduce_mean(tg.square(model(x) - y)).numpy()
    assert step(x, y, 1.0).numpy() == expected  # the replay reads the new weights
    assert tg.function(step.python_function).python_function is step.python_function


def test_not_a_callable_is_a_type_error():
    with pytest.raises(TypeError, match="expected a callable, received int"):
        tg.function(3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        tg.function(lambda: None, bogus=True)
    f = tg.function(reduce_retracing=True, jit_compile=True)(lambda x: x * 2.0)
    assert f(tg.constant([1.0])).numpy().tolist() == [2.0]


def test_recorded_w1_step_matches_pytorch():
    pytest.importorskip("torch")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import impl_tapegrad
    import impl_torch
    from workloads import batch

    ours, ref = impl_tapegrad.make_step("W1", "function"), impl_torch.make_step("W1", "check")
    batches = [batch("W1", i) for i in range(8)]
    a = [ours(*batches[i % 8]) for i in range(50)]
    b = [ref(*batches[i % 8]) for i in range(50)]
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_a_name_bound_to_another_model_records_again_and_dense_layers_are_fused():
    from tapegrad.fast.nodes import Linear

    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(4, activation="relu"), tg.layers.Dense(1)])

    @tg.function
    def predict(x):
        return model(x)

    x = np.ones((3, 2), np.float32)
    predict(x)
    predict(x)
    plan = next(iter(predict._plans.values()))
    assert [op[1] for op in plan.program] == [Linear, Linear]
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    out = predict(x)
    assert predict.recorded == 2
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())


def test_train_on_batch_inside_the_function_runs_eagerly():
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    fn = tg.function(lambda x, y: model.train_on_batch(x, y))
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    with pytest.warns(UserWarning, match="train_on_batch"):
        for _ in range(3):
            fn(x, y)
    assert model.optimizer.iterations == 3 and fn.recorded == 0
