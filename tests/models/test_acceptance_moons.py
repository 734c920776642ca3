"""Issue acceptance: the lab's custom training loop on two-moons, and every optimizer.

Learning rates that work for this 2-16-16-1 network (recorded here and in the README):
SGD 0.1, SGD+momentum(0.9) 0.05, Adagrad 0.1, Adadelta 1.0, RMSprop 0.01, Adam 0.01,
AdamW 0.01, Nadam 0.01, Adamax 0.02.
"""

import numpy as np
import pytest

import tapegrad as tg

X, Y = tg.data.make_moons(1000, noise=0.15, seed=0)
Y = Y.reshape(-1, 1).astype("float32")
X_TR, X_TE, Y_TR, Y_TE = tg.data.train_test_split(X, Y, test_size=0.2, seed=1)


def make_model():
    return tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"),
                          tg.layers.Dense(16, activation="relu"), tg.layers.Dense(1)])


def lab_loop(model, optimizer, epochs=40, batch_size=32):
    """The lab's custom training loop, as written there."""
    loss_fn = tg.losses.BinaryCrossentropy(from_logits=True)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(X_TR))
        for i in range(0, len(X_TR), batch_size):
            idx = order[i:i + batch_size]
            with tg.GradientTape() as tape:
                logits = model(X_TR[idx])
                loss = loss_fn(Y_TR[idx], logits)
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return float(((model.predict(X_TE, verbose=0) > 0) == Y_TE).mean())


def test_lab_loop_reaches_97_percent():
    tg.random.set_seed(0)
    assert lab_loop(make_model(), tg.optimizers.Adam(0.01)) >= 0.97


RATES = {
    "SGD": lambda: tg.optimizers.SGD(0.1),
    "SGD-momentum": lambda: tg.optimizers.SGD(0.05, momentum=0.9),
    "Adagrad": lambda: tg.optimizers.Adagrad(0.1),
    "Adadelta": lambda: tg.optimizers.Adadelta(1.0),
    "RMSprop": lambda: tg.optimizers.RMSprop(0.01),
    "Adam": lambda: tg.optimizers.Adam(0.01),
    "AdamW": lambda: tg.optimizers.AdamW(0.01),
    "Nadam": lambda: tg.optimizers.Nadam(0.01),
    "Adamax": lambda: tg.optimizers.Adamax(0.02),
}


@pytest.mark.parametrize("name", sorted(RATES))
def test_every_optimizer_reaches_95_percent(name):
    tg.random.set_seed(0)
    assert lab_loop(make_model(), RATES[name]()) >= 0.95


def test_untrained_network_is_a_guess():
    tg.random.set_seed(0)
    acc = float(((make_model().predict(X_TE, verbose=0) > 0) == Y_TE).mean())
    assert acc < 0.9
