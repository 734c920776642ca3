"""BLAS threads that follow the machine: a training step drops to one thread while a second
thread only slows small products down. Part of machine tuning (``tg.config``), off by default.

NumPy hands matrix products to a BLAS library (OpenBLAS in NumPy's wheels), which splits
each product over several threads. On some virtual machines the host at times runs the
virtual CPUs far apart, and then a second thread makes small products slower, not faster
(``benchmarks/README.md`` has the measurements).

``ThreadGovernor`` watches for that state and, while it lasts, runs whole training steps on
one BLAS thread if that is faster *for this model*. Every ``PROBE_INTERVAL`` seconds at most
it times a 128x128x128 product on the current thread count and on one thread; a ratio above
``SLOW_RATIO`` marks the slow state. In the slow state it times the model's steps on both
counts (``TRIALS`` each, renewed every ``RENEW`` steps) and uses the faster. Outside a step
the thread count is the one it found; it never raises it. Steps under ``MIN_STEP`` are left
alone. Because OpenBLAS may sum a long product in another order on one thread than on two,
weights can then differ in the last bits from run to run: that is why it is opt-in.

Example:
    >>> gov = ThreadGovernor()
    >>> with gov.step():
    ...     pass  # forward, backward and update of one training step
"""

from __future__ import annotations

import contextlib
import statistics
import time

import numpy as np

from ..backend import xp

MIN_STEP = 1e-3
"""Seconds: shorter steps are left alone."""
PROBE_INTERVAL = 0.1
"""Seconds between two probes of the machine's state, at most."""
SLOW_RATIO = 0.85
"""The probe's time on the current thread count over its time on one thread that marks the slow state."""
TRIALS = 3
"""Steps timed on each thread count before choosing."""
RENEW = 200
"""Slow-state steps after which the slower choice is timed again."""

class _Blas:
    """NumPy's BLAS library, its thread count and the probe of the machine's state."""

    def __init__(self, lib):
        self.lib = lib  # threadpoolctl's controller, or None
        self.next_probe = 0.0
        self.slow = False
        if self.lib is not None:
            self.a = np.ones((128, 128), np.float32)
            self.b = np.ones((128, 128), np.float32)
            self.c = np.empty((128, 128), np.float32)

    def threads(self) -> int:
        return self.lib.get_num_threads() or 1

    def set(self, n: int) -> None:
        self.lib.set_num_threads(n)

    def _time(self) -> float:
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            np.matmul(self.a, self.b, out=self.c)
            best = min(best, time.perf_counter() - t)
        return best

    def is_slow(self, now: float) -> bool:
        """The machine's state, probed again when the last probe is older than PROBE_INTERVAL
        (one thread configured counts as not slow: there is nothing to choose)."""
        if now >= self.next_probe:
            threads = self.threads()
            if threads < 2:
                self.slow = False
                self.next_probe = time.perf_counter() + PROBE_INTERVAL
                return False
            t_n = self._time()
            self.set(1)
            if self.threads() == 1:
                t_1 = self._time()
                self.set(threads)
                self.slow = t_n > SLOW_RATIO * t_1
            else:  # another Python thread controls OpenBLAS (threadpoolctl): leave it alone
                self.slow = False
            self.next_probe = time.perf_counter() + PROBE_INTERVAL
        return self.slow


def _numpy_blas():
    """threadpoolctl's controller of the BLAS library NumPy uses, or None."""
    if xp is not np:
        return None
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - loads only when training
    except ImportError:
        return None
    try:
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
    except (OSError, RuntimeError, ValueError):  # a library it cannot inspect: train on fixed threads
        return None
    ours = [lib for lib in libs if "numpy" in (lib.filepath or "")]
    if len(ours) == 1:
        return ours[0]
    return libs[0] if len(libs) == 1 else None


_blas: list = []


def _shared_blas() -> _Blas:
    if not _blas:
        _blas.append(_Blas(_numpy_blas()))
    return _blas[0]


class ThreadGovernor:
    """Chooses, for one model's training steps, between the BLAS thread count and one thread.

    Call ``begin()`` before a step and ``end()`` after it (or use ``with gov.step():``).
    See the module's docstring for what it measures and when it acts.
    """

    def __init__(self):
        self._start = 0.0
        self._last = 0.0
        self._restore = 0
        self._used = 0
        self._samples: dict[int, list[float]] = {}
        self._slow_steps = 0

    def begin(self) -> None:
        self._used = 0
        now = time.perf_counter()
        self._start = now
        if self._last < MIN_STEP:
            return
        blas = _shared_blas()
        # the state first: outside the slow state nothing calls into BLAS
        if blas.lib is None or not blas.is_slow(now):
            return
        threads = blas.threads()
        if threads < 2:
            return
        self._used = choice = self._choose(threads)
        self._restore = threads
        if choice != threads:
            blas.set(choice)
        self._start = time.perf_counter()

    def end(self) -> None:
        elapsed = time.perf_counter() - self._start
        self._last = elapsed
        if self._used:
            if self._used != self._restore:
                _shared_blas().set(self._restore)
            times = self._samples.setdefault(self._used, [])
            times.append(elapsed)
            del times[:-5]

    @contextlib.contextmanager
    def step(self):
        """``begin()`` and ``end()`` around a block."""
        self.begin()
        try:
            yield
        finally:
            self.end()

    def _choose(self, threads: int) -> int:
        one, many = self._samples.setdefault(1, []), self._samples.setdefault(threads, [])
        self._slow_steps += 1
        if self._slow_steps % RENEW == 0 and len(one) >= TRIALS and len(many) >= TRIALS:
            slower = one if statistics.median(one) > statistics.median(many) else many
            slower.clear()
        if len(one) < TRIALS:
            return 1
        if len(many) < TRIALS:
            return threads
        return 1 if statistics.median(one) < statistics.median(many) else threads


__all__ = ["ThreadGovernor"]
