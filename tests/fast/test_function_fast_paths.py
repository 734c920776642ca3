"""tg.function's shortcuts give the eager step's results bit for bit. It computes the weight
gradients of Dense layers straight into the update's packed gradient buffer where nothing else
reads them: also when the optimizer's state is replaced between steps, when a layer is called
twice (its gradient is a sum), when the gradients are also returned, and with SGD's momentum.
It takes the last replay's record when the arguments are arrays of the same shapes and dtypes,
and no other."""

import importlib

import numpy as np
import pytest

import tapegrad as tg

function_module = importlib.import_module("tapegrad.fast.function")


def _model():
    tg.random.set_seed(0)
    return tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"),
                          tg.layers.Dense(16, activation="relu"), tg.layers.Dense(1)])


def _batches(n=12):
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        x = rng.normal(size=(32, 2)).astype(np.float32)
        out.append((x, (x[:, :1] * x[:, 1:] > 0).astype(np.float32)))
    return out


def _run(decorate, opt, body, between=None, n=12, give_grads=True):
    model = _model()
    loss_fn = tg.losses.BinaryCrossentropy(from_logits=True)

    def step(x, y):
        with tg.GradientTape() as tape:
            loss = loss_fn(y, body(model, x))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return (loss, grads) if give_grads else (loss, [])

    fn = tg.function(step) if decorate else step
    out = []
    for k, (x, y) in enumerate(_batches(n)):
        if between is not None:
            between(k, model, opt)
        loss, grads = fn(x, y)
        out.append((loss.numpy().copy(), [g.numpy().copy() for g in grads]))
    return model, opt, out, fn


def _same(eager, rec):
    for a, b in zip(eager[0].weights, rec[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(eager[1].variables, rec[1].variables):
        np.testing.assert_array_equal(a, b)
    for (la, ga), (lb, gb) in zip(eager[2], rec[2]):
        np.testing.assert_array_equal(la, lb)
        for a, b in zip(ga, gb):
            np.testing.assert_array_equal(a, b)


def _plain(model, x):
    return model(x, training=True)


def _loss_only_step(opt):
    """The lab's step (the gradients go to the update alone): ``(model, fn, plan's gradient op)``."""
    model = _model()
    loss_fn = tg.losses.BinaryCrossentropy(from_logits=True)

    @tg.function
    def step(x, y):
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    return model, step


@pytest.mark.parametrize("make_opt", [lambda: tg.optimizers.Adam(1e-2),
                                      lambda: tg.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                                      lambda: tg.optimizers.SGD(0.05)])
def test_gradients_computed_in_the_update_buffer_give_the_eager_results(make_opt):
    model, step = _loss_only_step(make_opt())
    eager_model = _model()
    eager_opt = make_opt()
    loss_fn = tg.losses.BinaryCrossentropy(from_logits=True)
    for x, y in _batches():
        loss = step(x, y)
        with tg.GradientTape() as tape:
            eager_loss = loss_fn(y, eager_model(x, training=True))
        grads = tape.gradient(eager_loss, eager_model.trainable_weights)
        eager_opt.apply_gradients(zip(grads, eager_model.trainable_weights))
        np.testing.assert_array_equal(loss.numpy(), eager_loss.numpy())
    for a, b in zip(eager_model.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    (plan,) = step._plans.values()
    (op,) = [op for op in plan.program if op[0] == 2]
    groups, ids = op[-1]
    assert len(groups) == 1 and len(groups[0][2]) == 3  # the three Dense layers' nodes
    assert len(ids) == 6  # each kernel's and bias's gradient went to its view of the buffer


def test_optimizer_state_replaced_between_steps_gives_the_eager_results():
    def between(k, model, opt):
        if k in (4, 7):  # new state arrays: the update makes new packs, the old views are let go
            opt.set_state(opt.get_state(model.trainable_weights), model.trainable_weights)

    eager = _run(False, tg.optimizers.Adam(1e-2), _plain, between, give_grads=False)
    rec = _run(True, tg.optimizers.Adam(1e-2), _plain, between, give_grads=False)
    _same(eager, rec)
    assert rec[3].replayed == 11
    (plan,) = rec[3]._plans.values()
    (op,) = [op for op in plan.program if op[0] == 2]
    assert op[-1] is not None


def test_returned_gradients_are_arrays_of_their_own_as_the_eager_step_gives():
    eager = _run(False, tg.optimizers.Adam(1e-2), _plain)
    rec = _run(True, tg.optimizers.Adam(1e-2), _plain)
    _same(eager, rec)
    (plan,) = rec[3]._plans.values()
    (op,) = [op for op in plan.program if op[0] == 2]
    assert op[-1] is None  # the returned gradients are read by more than the update
    model, opt, _, fn = rec
    x, y = _batches(1)[0]
    _, grads = fn(x, y)
    assert all(g.numpy().base is None for g in grads)


def test_a_layer_called_twice_sums_its_gradient_as_the_eager_step():
    def body(model, x):
        h = model.layers[0](x, training=True)
        h = model.layers[1](h, training=True)
        h = model.layers[1](h, training=True)  # the same 16x16 kernel twice: two gradients summed
        return model.layers[2](h, training=True)

    eager = _run(False, tg.optimizers.Adam(1e-2), body, give_grads=False)
    rec = _run(True, tg.optimizers.Adam(1e-2), body, give_grads=False)
    _same(eager, rec)
    (plan,) = rec[3]._plans.values()
    (op,) = [op for op in plan.program if op[0] == 2]
    assert len(op[-1][0][0][2]) == 2  # the first and last layers' nodes; the shared one's gradient is a sum


def test_arguments_of_another_shape_or_dtype_never_take_the_last_replays_record():
    v = tg.Variable(np.zeros((1, 3), np.float64))

    @tg.function
    def f(x, y):
        out = tg.reduce_sum(x * 2.0, axis=0, keepdims=True) + tg.cast(tg.reduce_sum(y), x.dtype)
        v.assign_add(tg.cast(out, "float64"))
        return out

    rng = np.random.default_rng(0)
    calls = [((4, 3), np.float32), ((4, 3), np.float32), ((4, 3), np.float64), ((4, 3), np.float64),
             ((2, 3), np.float32), ((4, 3), np.float32), ((4, 3), np.float64), ((2, 3), np.float32)]
    expected = np.zeros((1, 3), np.float64)
    for shape, dtype in calls:
        x = rng.normal(size=shape).astype(dtype)
        y = np.arange(3, dtype=np.float32)
        out = f(x, y)
        want = (x * dtype(2.0)).sum(axis=0, keepdims=True) + dtype(y.sum())
        assert out.dtype == dtype and out.shape == (1, 3)
        np.testing.assert_array_equal(out.numpy(), want)
        expected += want.astype(np.float64)
    np.testing.assert_array_equal(v.numpy(), expected)
    assert (f.recorded, f.replayed) == (3, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_binary_cross_entropy_of_one_logit_per_sample_takes_both_means_in_one_rule_bit_for_bit(dtype, smoothing):
    from tapegrad.fast.losses import loss_rules
    from tapegrad.fast.nodes import Chain

    loss = tg.losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing)
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 8, 9, 31, 32, 100, 129, 1000, 4097):
        logits = (rng.normal(size=(n, 1)) * 10.0 ** rng.uniform(-3, 3, (n, 1))).astype(dtype)
        logits[0, 0] = -0.0
        y = rng.integers(0, 2, (n, 1)).astype(dtype)
        rules = loss_rules(loss, y, logits, None)
        assert len(rules) == 2  # the per-element rule and one mean
        a, b = tg.Variable(logits), tg.Variable(logits)
        with tg.GradientTape(persistent=True) as tape:
            chained, eager = Chain.apply(a, rules=rules), loss(y, b)
        assert chained.dtype == eager.dtype == dtype and chained.shape == eager.shape == ()
        assert chained.numpy().tobytes() == eager.numpy().tobytes()
        ga, gb = tape.gradient(chained, a).numpy(), tape.gradient(eager, b).numpy()
        assert ga.dtype == gb.dtype and ga.tobytes() == gb.tobytes()
