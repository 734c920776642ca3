"""The per-step BLAS thread choice (``tapegrad.fast.threads``, part of machine tuning), driven with a fake BLAS and clock.

Expected choices follow from the rules in the module's docstring worked by hand: a first
step is never governed (its length is unknown), then in the slow state TRIALS steps on
one thread, TRIALS on the current count, then the faster by median.
"""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.fast import machine as tuning
from tapegrad.fast import threads as th


class FakeBlas:
    """Stands for ``_Blas``: a thread count, a record of changes and a fixed machine state."""

    lib = "fake"

    def __init__(self, n=2, slow=True):
        self.n, self.slow, self.sets = n, slow, []

    def threads(self):
        return self.n

    def set(self, n):
        self.sets.append(n)
        self.n = n

    def is_slow(self, now):
        return self.slow


class Clock:
    def __init__(self):
        self.t = 100.0

    def perf_counter(self):
        return self.t


@pytest.fixture
def machine(monkeypatch):
    blas, clock = FakeBlas(), Clock()
    monkeypatch.setattr(th, "_blas", [blas])
    monkeypatch.setattr(th, "time", clock)
    monkeypatch.setitem(tuning._state, "on", True)
    return blas, clock


def run(gov, blas, clock, cost, steps):
    """``steps`` steps whose length depends on the thread count in force; the counts used."""
    used = []
    for _ in range(steps):
        gov.begin()
        used.append(blas.n)
        clock.t += cost[blas.n]
        gov.end()
        assert blas.n == 2, "the thread count must be restored after every step"
    return used


def test_slow_state_runs_small_product_models_on_one_thread(machine):
    blas, clock = machine
    used = run(th.ThreadGovernor(), blas, clock, {1: 6e-3, 2: 8e-3}, 20)
    t = th.TRIALS
    assert used == [2] + [1] * t + [2] * t + [1] * (20 - 1 - 2 * t)


def test_slow_state_keeps_both_threads_when_they_win(machine):
    blas, clock = machine
    used = run(th.ThreadGovernor(), blas, clock, {1: 0.11, 2: 0.06}, 20)
    t = th.TRIALS
    assert used == [2] + [1] * t + [2] * (20 - 1 - t)
    assert blas.sets == [1, 2] * t  # no calls into BLAS once two threads are chosen


def test_the_slower_choice_is_timed_again_after_renew_slow_steps(machine):
    blas, clock = machine
    gov = th.ThreadGovernor()
    t, renew = th.TRIALS, th.RENEW
    used = run(gov, blas, clock, {1: 6e-3, 2: 8e-3}, 1 + renew + 2 * t)
    # slow step number `renew` (counted from 1) clears two threads' times: timed t times more
    assert used[renew - 1] == 1 and used[renew:renew + t] == [2] * t and set(used[renew + t:]) == {1}


def test_choice_follows_the_machine_when_the_costs_change(machine):
    blas, clock = machine
    gov = th.ThreadGovernor()
    run(gov, blas, clock, {1: 6e-3, 2: 8e-3}, 10)
    used = run(gov, blas, clock, {1: 9e-3, 2: 5e-3}, th.RENEW + 10)
    assert used[-5:] == [2] * 5


def test_fast_state_never_touches_blas(machine):
    blas, clock = machine
    blas.slow = False
    gov = th.ThreadGovernor()
    gov.begin()
    clock.t += 8e-3
    gov.end()
    blas.threads = lambda: pytest.fail("outside the slow state the thread count is not read")
    for _ in range(10):
        gov.begin()
        clock.t += 8e-3
        gov.end()
    assert blas.sets == []


def test_short_steps_do_not_probe(machine):
    blas, clock = machine

    def fail(now, threads):
        raise AssertionError("a step under MIN_STEP must not probe the machine")

    blas.is_slow = fail
    used = run(th.ThreadGovernor(), blas, clock, {1: 1e-4, 2: th.MIN_STEP / 2}, 10)
    assert used == [2] * 10 and blas.sets == []


def test_one_thread_configured_is_left_alone(machine):
    blas, clock = machine
    blas.n = 1
    gov = th.ThreadGovernor()
    for _ in range(5):
        gov.begin()
        clock.t += 0.01
        gov.end()
    assert blas.sets == [] and blas.n == 1


def test_switched_off_fit_never_touches_blas(machine, monkeypatch):
    """Machine tuning off (the default): fit and train_on_batch leave the thread count alone."""
    blas, _ = machine
    monkeypatch.setattr(th, "time", __import__("time"))
    monkeypatch.setattr(th, "MIN_STEP", 0.0)
    tg.config.disable_machine_tuning()
    assert not tg.config.machine_tuning_enabled()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 64)).astype(np.float32), rng.integers(0, 3, 64)
    m = _model()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for _ in range(4):
        m.train_on_batch(x[:16], y[:16])
    assert blas.sets == [] and blas.n == 2
    with pytest.raises(TypeError, match="received 'no'"):
        tuning.set_enabled("no")
    assert not tg.config.machine_tuning_enabled()  # the bad call changed nothing


def test_step_context_manager_restores_after_an_error(machine):
    blas, clock = machine
    gov = th.ThreadGovernor()
    run(gov, blas, clock, {1: 6e-3, 2: 8e-3}, 1)
    with pytest.raises(RuntimeError):
        with gov.step():
            assert blas.n == 1
            raise RuntimeError("failed step")
    assert blas.n == 2


class FakeLib:
    """threadpoolctl's controller when another Python thread controls OpenBLAS: set is ignored."""

    def get_num_threads(self):
        return 2

    def set_num_threads(self, n):
        pass


def test_probe_stands_down_when_another_thread_controls_blas():
    blas = th._Blas(FakeLib())
    assert blas.is_slow(0.0) is False


def test_probe_with_one_thread_configured_times_nothing():
    class OneThread(FakeLib):
        def get_num_threads(self):
            return 1

    blas = th._Blas(OneThread())
    blas._time = lambda: pytest.fail("no product is timed when there is one thread")
    assert blas.is_slow(0.0) is False


def test_probe_on_numpys_blas_leaves_the_thread_count():
    pytest.importorskip("threadpoolctl")
    lib = th._numpy_blas()
    if lib is None:
        pytest.skip("NumPy's BLAS library is not one threadpoolctl can control")
    blas = th._Blas(lib)
    before = blas.threads()
    assert isinstance(blas.is_slow(0.0), bool)
    assert blas.threads() == before
    assert blas.is_slow(0.0) == blas.slow  # within PROBE_INTERVAL: no new probe


def _model():
    tg.random.set_seed(3)
    m = tg.Sequential([tg.Input(shape=(64,)), tg.layers.Dense(96, activation="relu"), tg.layers.Dense(3)])
    m.compile(optimizer="adam", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def test_fit_and_train_on_batch_govern_their_steps(machine, monkeypatch):
    blas, _ = machine
    monkeypatch.setattr(th, "time", __import__("time"))
    monkeypatch.setattr(th, "MIN_STEP", 0.0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 64)).astype(np.float32), rng.integers(0, 3, 64)
    m = _model()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert 1 in blas.sets and blas.n == 2
    blas.sets.clear()
    m = _model()  # a new model's governor: its first steps after the first are trials on one thread
    for _ in range(4):
        m.train_on_batch(x[:16], y[:16])
    assert blas.sets == [1, 2] * th.TRIALS and blas.n == 2


def test_training_on_one_thread_matches_fixed_threads(monkeypatch):
    """Switching NumPy's real BLAS to one thread mid-training changes no result beyond rounding."""
    pytest.importorskip("threadpoolctl")
    lib = th._numpy_blas()
    if lib is None or (lib.get_num_threads() or 1) < 2:
        pytest.skip("needs a BLAS library with two threads or more")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(128, 64)).astype(np.float32), rng.integers(0, 3, 128)
    losses = {}
    for adaptive in (False, True):
        monkeypatch.setattr(th, "_blas", [th._Blas(lib)])
        monkeypatch.setattr(th._Blas, "is_slow", lambda self, now: True)
        monkeypatch.setattr(th, "MIN_STEP", 0.0)
        monkeypatch.setitem(tuning._state, "on", adaptive)
        m = _model()
        losses[adaptive] = m.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False).history["loss"]
        assert lib.get_num_threads() >= 2
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)
