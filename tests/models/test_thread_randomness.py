"""Randomness is per thread: ``fit`` installs each epoch's generator for its own thread only.

Two threads, each training its own model with Dropout and shuffling, must each end with the
weights that the same training gives alone in one thread, bit for bit, and leave the
caller's generator where it was. Before, ``fit`` swapped the one global generator, so the
threads drew from each other's epoch generators and never reproduced their results.
"""

import threading

import numpy as np

import tapegrad as tg


def _model(seed: int):
    # small products (inner dimensions of 20 and 32): their sums do not depend on BLAS threads
    tg.random.set_seed(seed)
    model = tg.Sequential([tg.Input(shape=(20,)), tg.layers.Dense(32, activation="relu"),
                           tg.layers.Dropout(0.5), tg.layers.Dense(3)])
    model.compile(optimizer=tg.optimizers.Adam(0.01),
                  loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data(seed: int):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(512, 20)).astype(np.float32), rng.integers(0, 3, 512)


def _train(model, seed: int, out: dict, key) -> None:
    x, y = _data(seed)
    model.fit(x, y, batch_size=16, epochs=4, shuffle=True, verbose=0)
    out[key] = model.get_weights()


def test_two_threads_training_reproduce_their_single_thread_weights():
    alone = {}
    for s in (1, 2):
        model = _model(s)
        tg.random.set_seed(7)  # the seed each epoch's generator comes from
        _train(model, s, alone, s)
    assert not all(np.array_equal(a, b) for a, b in zip(alone[1], alone[2]))
    for _ in range(3):  # several interleavings
        models = {s: _model(s) for s in (1, 2)}
        tg.random.set_seed(7)
        caller = tg.random.generator()
        state = caller.bit_generator.state
        together: dict = {}
        threads = [threading.Thread(target=_train, args=(models[s], s, together, s)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in (1, 2):
            assert all(np.array_equal(a, b) for a, b in zip(alone[s], together[s])), f"model {s} differs"
        assert tg.random.generator() is caller  # the caller's generator was not swapped
        assert caller.bit_generator.state == state  # nor drawn from


def test_use_is_per_thread():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        with tg.random.use(np.random.default_rng(1)) as gen:
            seen["gen"] = gen
            seen["own"] = tg.random.generator() is gen
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    try:
        assert inside.wait(10)
        main = tg.random.generator()
        assert main is not seen["gen"]  # the other thread's block leaves this thread's generator alone
        with tg.random.use(np.random.default_rng(2)) as mine:
            assert tg.random.generator() is mine
        assert tg.random.generator() is main
    finally:
        release.set()
        t.join()
    assert seen["own"]
