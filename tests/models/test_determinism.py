"""Same seed, same weights: ``fit`` is bit-for-bit reproducible across processes by default.

tapegrad once chose the BLAS thread count for each training step from the machine's load;
with another process busy on a second core, two same-seed runs of a 784-wide model then
ended with weights that differed in the last bits (OpenBLAS sums a long product in another
order on one thread than on two). That choice is now part of machine tuning
(``tg.config.enable_machine_tuning()`` or ``TAPEGRAD_MACHINE_TUNING=1``), off by default.

The first test trains the same seeded model three times, each in a fresh Python process
with BLAS on its default thread count, while a separate process keeps another core busy
with matrix products, and requires bit-identical weights (and that training moved them).
The second checks, more cheaply, that ``fit`` leaves the BLAS thread count as it found it
and that importing tapegrad and training leaves glibc's allocator settings alone.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tapegrad as tg

BUSY_SECONDS = 60
"""The busy process stops by itself after this many seconds, whatever happens to the test."""

BUSY = f"""
import time
import numpy as np

a = np.random.default_rng(0).standard_normal((256, 256))
stop = time.monotonic() + {BUSY_SECONDS}
while time.monotonic() < stop:
    a = np.tanh(a @ a.T)
"""

TRAIN = """
import hashlib
import json
import sys

import numpy as np

import tapegrad as tg

epochs = int(sys.argv[1])
tg.random.set_seed(123)
model = tg.Sequential([
    tg.Input(shape=(784,)),
    tg.layers.Dense(128, activation="relu"),
    tg.layers.Dropout(0.3),
    tg.layers.Dense(64, activation="relu"),
    tg.layers.Dense(10),
])
model.compile(
    optimizer=tg.optimizers.Adam(),
    loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
)
rng = np.random.default_rng(7)
x = rng.standard_normal((2048, 784)).astype("float32")
y = rng.integers(0, 10, size=2048)
history = model.fit(x, y, batch_size=64, epochs=epochs, shuffle=True, verbose=0)
weights = model.get_weights()
digest = hashlib.sha256()
for w in weights:
    digest.update(str((w.shape, w.dtype.str)).encode())
    digest.update(np.ascontiguousarray(w).tobytes())
print(json.dumps({
    "sha256": digest.hexdigest(),
    "loss": [float(v) for v in history.history.get("loss", [])],
    "shapes": [list(w.shape) for w in weights],
    "machine_tuning": tg.config.machine_tuning_enabled(),
}))
"""


def _env():
    env = dict(os.environ)
    env.pop("TAPEGRAD_MACHINE_TUNING", None)
    return env


def _train(epochs, timeout=60):
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN, str(epochs)],
        env=_env(), capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_seed_gives_bit_identical_weights_across_processes_under_load():
    busy = subprocess.Popen([sys.executable, "-c", BUSY], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let the busy loop start before the first run
        assert busy.poll() is None, "the busy process stopped early"
        initial = _train(epochs=0)
        runs = [_train(epochs=2) for _ in range(3)]
        assert busy.poll() is None, "the busy process stopped before the runs ended"
    finally:
        busy.terminate()
        try:
            busy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            busy.kill()
            busy.wait()

    assert not any(r["machine_tuning"] for r in [initial, *runs])
    assert runs[0]["shapes"] == [[784, 128], [128], [128, 64], [64], [64, 10], [10]]
    assert len(runs[0]["loss"]) == 2
    # training moved the weights and lowered the loss, so a broken fit cannot pass
    assert runs[0]["sha256"] != initial["sha256"]
    assert runs[0]["loss"][1] < runs[0]["loss"][0]
    # bit-identical weights (and losses) in all three processes
    assert [r["sha256"] for r in runs] == [runs[0]["sha256"]] * 3, runs
    assert [r["loss"] for r in runs] == [runs[0]["loss"]] * 3, runs


def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [lib for lib in threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
    if not info:
        pytest.skip("threadpoolctl finds no BLAS library")
    return [(lib["filepath"], lib["num_threads"]) for lib in info]


ALLOCATOR = """
import json

import numpy as np

import tapegrad as tg
import tapegrad.fast.memory

model = tg.Sequential([tg.Input(shape=(4,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
model.fit(rng.standard_normal((64, 4)).astype("float32"), rng.standard_normal((64, 1)).astype("float32"),
          batch_size=16, epochs=2, verbose=0)
print(json.dumps(tapegrad.fast.memory._allocator))
"""


def test_fit_leaves_blas_threads_and_allocator_alone():
    before = _blas_threads()
    x = np.random.default_rng(0).standard_normal((256, 784)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, size=256)
    model = tg.Sequential([tg.Input(shape=(784,)), tg.layers.Dense(128, activation="relu"), tg.layers.Dense(10)])
    model.compile(optimizer="adam", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert _blas_threads() == before

    proc = subprocess.run([sys.executable, "-c", ALLOCATOR], env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"tuned": False}
