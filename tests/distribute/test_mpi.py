"""tg.distribute over real MPI processes: ``mpirun -n 2`` and ``-n 3`` on this machine, loopback
only, each job under a time bound. Skipped when mpi4py or an MPI launcher is missing.

The expected values come from one process training on the same global batches without
MPI (``mpi_worker.reference``): the update a strategy applies is by construction the
single-process update of the global batch, computed with a different order of sums.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "mpi_worker.py")
TIME_BOUND = 240  # seconds for one job: 3 processes share 2 cores here


def _launcher():
    for name in ("mpirun", "mpiexec"):
        beside = os.path.join(os.path.dirname(sys.executable), name)  # the MPICH wheel's, in the venv
        if os.path.exists(beside):
            return beside
    return shutil.which("mpirun") or shutil.which("mpiexec")


LAUNCHER = _launcher()
pytestmark = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or LAUNCHER is None,
                                reason="mpi4py or mpirun not installed (pip install 'tapegrad[mpi]')")


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "OMPI_"))}
    env.update({
        "HYDRA_IFACE": "lo", "UCX_NET_DEVICES": "lo", "FI_TCP_IFACE": "lo",  # loopback only
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # one BLAS thread a rank
        "PYTHONPATH": os.pathsep.join([HERE] + [p for p in [env.get("PYTHONPATH")] if p]),
    })
    return env


def mpirun(n, scenario, out, timeout=TIME_BOUND):
    cmd = [LAUNCHER, "-n", str(n), sys.executable, WORKER, scenario, str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=str(out),
                          stdin=subprocess.DEVNULL)


def _worker():
    spec = importlib.util.spec_from_file_location("mpi_worker", WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    _worker().reference(str(out))
    weights = dict(np.load(out / "reference.npz"))
    info = json.loads((out / "reference.json").read_text())
    resumed = np.load(out / "resume.npz")
    return weights, info, [resumed[k] for k in sorted(resumed.files, key=lambda k: int(k.split("_")[1]))]


# float32 tolerance: each step's gradient is a sum over the same samples in another order
# (per-rank sums, each scaled by its rank's share of the batch, then the all-reduce), which
# changes the last bits (float32's epsilon is 1.2e-7); Adam and momentum carry such
# differences through the 18 steps of 3 epochs, and Adam's division by sqrt(v) magnifies
# them for small gradients. Measured here: at most 1.2e-7 on weights of order 1. 2e-6
# absolute (about 30 ulps) leaves room for another MPI's summation order while staying far
# below what one wrong sample per batch moves (test_the_tolerance_would_catch_a_wrong_update).
ATOL, RTOL = 2e-6, 1e-5


@pytest.mark.parametrize("n", [2, 3])
def test_fit_over_mpi_equals_one_process_and_ranks_agree_bit_for_bit(n, tmp_path, reference):
    r = mpirun(n, "fit", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ref_w, ref_info, _ = reference
    ranks = [dict(np.load(tmp_path / f"rank{k}.npz")) for k in range(n)]
    infos = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in range(n)]
    assert set(ranks[0]) == set(ref_w)
    for k in range(1, n):  # every rank holds the same weights, bit for bit (fit, eager fit, tape loop)
        for name in ranks[0]:
            assert ranks[k][name].tobytes() == ranks[0][name].tobytes(), (k, name)
        same = {key: v for key, v in infos[k].items() if key != "replayed"}  # an idle rank replays fewer steps
        assert same == {key: v for key, v in infos[0].items() if key != "replayed"}  # logs, evaluation, lr
    for name, expected in ref_w.items():
        np.testing.assert_allclose(ranks[0][name], expected, rtol=RTOL, atol=ATOL, err_msg=name)
    info = infos[0]
    for key in ("fast", "eager"):  # the logs are the metrics of all samples: one process's values
        for metric, values in ref_info[key].items():
            np.testing.assert_allclose(info[key][metric], values, rtol=1e-4, atol=1e-5, err_msg=f"{key} {metric}")
    assert info["evaluate"] == pytest.approx(ref_info["evaluate"], rel=1e-4, abs=1e-5)
    assert info["replayed"] > 0  # the recorded fast step carried the all-reduce
    assert info["lr"] == ref_info["lr"] == pytest.approx(1e-2 * 0.5**2)  # ReduceLROnPlateau decided as one process
    # Written once: rank 0 alone saved each epoch's checkpoint and logged each epoch.
    assert (tmp_path / "writes.txt").read_text().split() == ["0,1", "0,2", "0,3"]
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == [f"ckpt-{e}.weights.safetensors" for e in (1, 2, 3)]
    assert len((tmp_path / "log.csv").read_text().strip().splitlines()) == 1 + 3
    # Only rank 0 printed the per-epoch lines (verbose=2) and the callbacks' messages.
    assert r.stdout.count("Epoch 1/3") == 1 and r.stdout.count("ReduceLROnPlateau reducing") == 2


def test_the_tolerance_would_catch_a_wrong_update(reference):
    """The comparison above is not vacuous: a model trained on batches missing one sample
    each differs from the reference by far more than the tolerance."""
    worker = _worker()
    tg.random.set_seed(1)
    x, y, _, _ = worker.data()
    fast, _ = worker.compile_two()
    keep = np.ones(len(x), bool)
    keep[::worker.BATCH] = False
    fast.fit(x, y, batch_size=worker.BATCH, epochs=worker.EPOCHS, verbose=0, sample_weight=keep.astype(np.float32))
    diff = max(float(np.abs(w.numpy() - reference[0][f"fast/{i}"]).max()) for i, w in enumerate(fast.weights))
    assert diff > 50 * ATOL


def test_a_second_fit_starts_from_rank_0s_weights_and_optimizer_state(tmp_path, reference):
    r = mpirun(2, "resume", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ranks = [np.load(tmp_path / f"resume{k}.npz") for k in range(2)]
    ranks = [[f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))] for f in ranks]
    for a, b, expected in zip(ranks[0], ranks[1], reference[2]):
        assert a.tobytes() == b.tobytes()
        np.testing.assert_allclose(a, expected, rtol=RTOL, atol=ATOL)


def test_a_raising_rank_stops_every_rank_with_its_error(tmp_path):
    r = mpirun(2, "raise", tmp_path, timeout=120)
    assert r.returncode != 0
    assert "rank 1 of 2 raised RuntimeError: injected failure on rank 1" in r.stderr
    assert "aborting all 2 ranks" in r.stderr


def test_a_killed_rank_ends_the_job(tmp_path):
    r = mpirun(2, "kill", tmp_path, timeout=120)
    assert r.returncode != 0
    assert "signal 9" in (r.stdout + r.stderr).lower()  # MPICH: "Killed (signal 9)"; Open MPI: "exited on signal 9"


@pytest.mark.parametrize("scenario, message", [
    ("model", "the ranks were given different models: weight 0 is dense/kernel of shape (5, 6) (float32) on rank 0 "
              "but dense/kernel of shape (5, 4) (float32) on rank 1"),
    ("data", "the ranks disagree on samples: rank 0 has 42, rank 1 (of 2) has 40"),
    ("custom", "after this epoch the trainable weights ['dense/kernel', 'dense/bias', 'dense_1/kernel', "
               "'dense_1/bias'] differ between ranks; a custom train_step must pass its gradients through "
               "strategy.allreduce_gradients"),
])
def test_a_mismatch_between_ranks_is_named(scenario, message, tmp_path):
    r = mpirun(2, scenario, tmp_path, timeout=120)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr[-3000:]


SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data")
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "11_distributed_mnist.py")


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "mnist")), reason="shared MNIST not present")
def test_example_11_two_ranks_reach_one_process_accuracy(tmp_path):
    args = [sys.executable, EXAMPLE, "--data", os.path.join(SHARED, "mnist"), "--quick"]
    two = subprocess.run([LAUNCHER, "-n", "2"] + args + ["--out", str(tmp_path / "two.json")], capture_output=True,
                         text=True, timeout=TIME_BOUND, env=_env(), cwd=str(tmp_path), stdin=subprocess.DEVNULL)
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-2000:]
    one = subprocess.run(args + ["--out", str(tmp_path / "one.json")], capture_output=True, text=True,
                         timeout=TIME_BOUND, env=_env(), cwd=str(tmp_path), stdin=subprocess.DEVNULL)
    assert one.returncode == 0, one.stderr[-2000:]
    r2, r1 = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("two", "one"))
    assert (r2["ranks"], r1["ranks"]) == (2, 1)
    assert two.stdout.count("test accuracy") == 1  # rank 0 alone prints
    assert r1["test_accuracy"] > 0.85
    # The same global batches: the weights agree up to float32 sums, so the accuracy does
    # to within one of the 1000 test images.
    assert abs(r2["test_accuracy"] - r1["test_accuracy"]) <= 1e-3
