"""tg.distribute in one process: the sharding arithmetic, the scope, argument checks, and a
strategy of one rank, which must leave training exactly as it is without one."""

import importlib.util

import numpy as np
import pytest

import tapegrad as tg

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py not installed")


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 100])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_are_numpys_array_split(n, size):
    parts = np.array_split(np.arange(n), size)
    for r in range(size):
        lo, hi = tg.distribute.shard_bounds(n, r, size)
        assert np.arange(n)[lo:hi].tolist() == parts[r].tolist()


@pytest.mark.parametrize("args, message", [((4, 2, 2), "rank must be an integer in [0, 2), received 2"),
                                           ((4, 0, 0), "size must be a positive integer, received 0"),
                                           ((-1, 0, 1), "n must be a non-negative integer, received -1")])
def test_shard_bounds_names_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        tg.distribute.shard_bounds(*args)


def test_data_loader_batch_indices_are_what_it_yields():
    ds = tg.data.Dataset(np.arange(11.0).reshape(11, 1))
    loader = tg.data.DataLoader(ds, batch_size=4, shuffle=True, seed=3)
    order = np.random.default_rng(3).permutation(11)
    assert [i.tolist() for i in loader.batch_indices()] == [order[:4].tolist(), order[4:8].tolist(),
                                                           order[8:].tolist()]


def test_compile_rejects_what_is_not_a_strategy():
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    with pytest.raises(TypeError, match="compile: distribute must be a tg.distribute strategy, received 'mirrored'"):
        model.compile(loss="mse", distribute="mirrored")


def _train(strategy=None, scope=False, run_eagerly=False):
    tg.random.set_seed(4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(45, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(4, activation="relu"), tg.layers.Dense(1)])
    if scope:
        with strategy.scope():
            model.compile(optimizer="adam", loss="mse", metrics=["mae"], run_eagerly=run_eagerly)
    else:
        model.compile(optimizer="adam", loss="mse", metrics=["mae"], run_eagerly=run_eagerly, distribute=strategy)
    hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_split=0.2)
    return model, hist.history


@needs_mpi
@pytest.mark.parametrize("run_eagerly", [False, True])
@pytest.mark.parametrize("scope", [False, True])
def test_a_strategy_of_one_rank_trains_bit_for_bit_as_without(scope, run_eagerly):
    strategy = tg.distribute.MPIStrategy()
    assert (strategy.rank, strategy.size, strategy.is_chief, strategy.num_replicas_in_sync) == (0, 1, True, 1)
    plain, h0 = _train(run_eagerly=run_eagerly)
    dist, h1 = _train(strategy, scope=scope, run_eagerly=run_eagerly)
    assert dist._distribute is strategy
    for a, b in zip(plain.weights, dist.weights):
        assert a.numpy().tobytes() == b.numpy().tobytes()
    assert h0 == h1


@needs_mpi
def test_the_scope_is_left_after_the_block():
    strategy = tg.distribute.MPIStrategy()
    with strategy.scope():
        assert tg.distribute.get_strategy() is strategy and tg.distribute.has_strategy()
    assert tg.distribute.get_strategy() is None
    model = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])
    model.compile(loss="mse")
    assert model._distribute is None


@needs_mpi
def test_allreduce_gradients_of_one_rank_and_its_checks():
    strategy = tg.distribute.MPIStrategy()
    v = tg.Variable(np.zeros((2, 2), np.float32))
    t = tg.Tensor(np.full((2, 2), 3.0, np.float32))
    out = strategy.allreduce_gradients([t, None], num_samples=5, variables=[v, v])
    assert isinstance(out[0], tg.Tensor) and out[0].numpy().tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert out[1] is None  # None on every rank stays None
    with pytest.raises(ValueError, match="received 2 gradients but 1 variables"):
        strategy.allreduce_gradients([t, None], variables=[v])
    with pytest.raises(ValueError, match="num_samples must be a non-negative integer, received -1"):
        strategy.allreduce_gradients([t], num_samples=-1)
    with pytest.raises(ValueError, match="op must be one of"):
        strategy.allreduce(1.0, op="prod")
    assert strategy.allreduce(np.array([1, 5]), op="max").tolist() == [1, 5]


@needs_mpi
def test_metric_states_are_found_for_every_built_in_metric():
    from tapegrad.distribute.mpi import _state_names

    assert _state_names(tg.metrics.Mean()) == ("total", "count")
    assert _state_names(tg.metrics.SparseCategoricalAccuracy()) == ("total", "count")
    assert set(_state_names(tg.metrics.Precision())) == {"tp", "fp", "fn", "tn"}
    assert set(_state_names(tg.metrics.AUC())) == {"tp", "fp", "fn", "tn"}  # not its thresholds
