"""A variable's storage is its own on every training path.

``layer.kernel.numpy(copy=False)`` (and ``np.asarray(layer.kernel)``) is the variable's live
storage (it shares memory on the NumPy backend), while ``get_weights()`` and ``numpy()``
return copies (TensorFlow's semantics for ``numpy()``). Whatever a training step
does to go fast (a replayed step with fused nodes, updates into kept buffers, small
variables updated together as one flat array), it must update each weight in place in the
array the variable owns: an array taken before training must still be that storage, hold
the new values, and the copies taken before must not move."""

import numpy as np
import pytest

import tapegrad as tg


def classifier():
    return tg.Sequential([tg.Input(shape=(6,)), tg.layers.Dense(32, activation="relu"),
                          tg.layers.Dense(16, activation="tanh"), tg.layers.Dense(3)])


def tiny():
    """Several tiny weights (the fast wing may pack small variables together)."""
    return tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"),
                          tg.layers.Dense(16, activation="relu"), tg.layers.Dense(1)])


def wide():
    """A kernel of 19200 elements (updated on its own) beside small weights."""
    return tg.Sequential([tg.Input(shape=(64,)), tg.layers.Dense(300, activation="relu"), tg.layers.Dense(3)])


def convnet():
    return tg.Sequential([tg.Input(shape=(8, 8, 2)), tg.layers.Conv2D(4, 3, activation="relu"),
                          tg.layers.MaxPooling2D(2), tg.layers.Flatten(), tg.layers.Dense(3)])


MODELS = {
    "classifier, Adam": (classifier, lambda: tg.optimizers.Adam(0.01),
                         tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "tiny 2-16-16-1, Adam": (tiny, lambda: tg.optimizers.Adam(0.01), "mse", "real"),
    "tiny 2-16-16-1, SGD momentum": (tiny, lambda: tg.optimizers.SGD(0.05, momentum=0.9), "mse", "real"),
    "wide, Adam": (wide, lambda: tg.optimizers.Adam(0.01), tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                   "sparse"),
    "wide, SGD nesterov": (wide, lambda: tg.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                           tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
    "convnet, AdamW": (convnet, lambda: tg.optimizers.AdamW(0.01),
                       tg.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
}


def data(model, kind, n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + tuple(model._input_layer.shape)).astype(np.float32)
    if kind == "sparse":
        return x, rng.integers(0, 3, n)
    return x, rng.normal(size=(n, 1)).astype(np.float32)


def before(model):
    live = [w.numpy(copy=False) for w in model.weights]
    copies = model.get_weights()
    return live, copies, [c.copy() for c in copies]


def check_after(model, live, copies, saved):
    assert len(model.weights) == len(live) > 0
    for w, arr, copy, kept in zip(model.weights, live, copies, saved):
        now = w.numpy(copy=False)
        assert np.shares_memory(arr, now), f"{w.name}: the variable's storage was replaced"
        assert np.array_equal(arr, now)  # the array taken before is the live storage: it holds the new values
        assert w.data.flags.owndata and w.data.flags.c_contiguous, f"{w.name}: a view of another array"
        assert np.array_equal(copy, kept), f"{w.name}: get_weights() returned a view, not a copy"
        assert not np.shares_memory(copy, now)
    for w, kept in zip(model.weights, saved):
        if w.name.endswith("kernel") or w.ndim > 1:
            assert not np.array_equal(w.numpy(), kept), f"{w.name} did not train"  # the check is not vacuous
    storages = [w.numpy(copy=False) for w in model.weights]  # no two weights share storage
    for i in range(len(storages)):
        for j in range(i + 1, len(storages)):
            assert not np.shares_memory(storages[i], storages[j])


@pytest.mark.parametrize("eager", [False, True], ids=["replayed", "run_eagerly"])
@pytest.mark.parametrize("case", list(MODELS))
def test_train_on_batch_updates_each_weight_in_its_own_storage(case, eager):
    build, optimizer, loss, kind = MODELS[case]
    tg.random.set_seed(0)
    model = build()
    model.compile(optimizer=optimizer(), loss=loss, run_eagerly=eager)
    x, y = data(model, kind)
    live, copies, saved = before(model)
    for step in range(6):
        model.train_on_batch(x[step % 2::2], y[step % 2::2])
    check_after(model, live, copies, saved)
    if not eager:
        assert model._fast_step.replayed >= 4  # the replayed path really ran


@pytest.mark.parametrize("eager", [False, True], ids=["replayed", "run_eagerly"])
def test_fit_updates_each_weight_in_its_own_storage(eager):
    build, optimizer, loss, kind = MODELS["tiny 2-16-16-1, Adam"]
    tg.random.set_seed(0)
    model = build()
    model.compile(optimizer=optimizer(), loss=loss, run_eagerly=eager)
    x, y = data(model, kind, n=64)
    live, copies, saved = before(model)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    check_after(model, live, copies, saved)


@pytest.mark.parametrize("case", list(MODELS))
def test_gradient_tape_loop_updates_each_weight_in_its_own_storage(case):
    build, optimizer, loss, kind = MODELS[case]
    tg.random.set_seed(0)
    model = build()
    opt = optimizer()
    loss_fn = tg.losses.get(loss) if isinstance(loss, str) else loss
    x, y = data(model, kind)
    live, copies, saved = before(model)
    for _ in range(5):
        with tg.GradientTape() as tape:
            value = loss_fn(y, model(x, training=True))
        grads = tape.gradient(value, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
    check_after(model, live, copies, saved)
    assert opt.iterations == 5


def test_an_optimizer_used_by_a_replayed_model_and_by_hand_keeps_weights_in_their_storage():
    """The same model and optimizer, trained by replayed steps, then by a hand-written loop,
    then replayed again: the weights stay in the arrays the variables own."""
    build, optimizer, loss, kind = MODELS["tiny 2-16-16-1, Adam"]
    tg.random.set_seed(0)
    model = build()
    model.compile(optimizer=optimizer(), loss=loss)
    x, y = data(model, kind)
    live, copies, saved = before(model)
    for _ in range(3):
        model.train_on_batch(x, y)
    for _ in range(2):
        with tg.GradientTape() as tape:
            value = tg.losses.get(loss)(y, model(x, training=True))
        model.optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_weights), model.trainable_weights))
    for _ in range(3):
        model.train_on_batch(x, y)
    check_after(model, live, copies, saved)
    assert model.optimizer.iterations == 8 and model._fast_step.replayed >= 4
