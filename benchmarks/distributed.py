"""Data-parallel throughput over MPI: W2 and W4 with 1 and 2 ranks, one BLAS thread per rank.

    python benchmarks/distributed.py                          # W2,W4 x 1,2 ranks, 30 timed steps each
    python benchmarks/distributed.py --workloads W4 --ranks 1,2,4 --steps 50

For each workload and number of ranks the script launches ``mpirun -n R`` on this file
(``--child``), which trains the workload's model (``impl_tapegrad.build``: the same weights
and data as benchmarks/run.py) with ``fit`` under ``tg.distribute.MPIStrategy`` on global
batches of the workload's size (W2: 128, W4: 1024), so every rank computes ``batch / R``
samples per step. Every rank runs with one BLAS thread (``OMP_NUM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``, checked with threadpoolctl), so R ranks use R cores, and the
launch stays on the loopback interface.

Reported per run (rank 0's view; the median over the timed steps): the step time (from one
step's start to the next), the global throughput in samples per second, and the time spent
in the strategy's collectives per step: the gradients' all-reduce (packing the gradients
into one buffer, ``Allreduce``, unpacking) and the small all-reduces of the metrics and of
the stop flag. Their fraction of the step is the communication fraction; on one machine it
also holds the time a rank waits for a slower one. The table is printed as Markdown and
written as JSON to benchmarks/results/distributed.json.

Timings need cores to spare: with R ranks on a machine whose cores are shared with other
work, the numbers measure the contention, not MPI.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(key: str, steps: int, warmup: int, out: str) -> None:
    """One rank: train ``warmup + steps`` steps of workload ``key`` and (rank 0) write the timings."""
    sys.path.insert(0, HERE)
    import numpy as np
    from threadpoolctl import threadpool_info

    import tapegrad as tg
    from impl_tapegrad import build
    from workloads import WORKLOADS, batch

    strategy = tg.distribute.MPIStrategy()
    spent = {"gradients": 0.0, "metrics": 0.0, "stop": 0.0}

    def timed(name, fn):
        def wrapper(*args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    strategy.step_gradients = timed("gradients", strategy.step_gradients)
    strategy.reduce_logs = timed("metrics", strategy.reduce_logs)
    strategy.agree_to_stop = timed("stop", strategy.agree_to_stop)

    model = build(key)  # the workload's weights, optimizer and loss
    model.compile(optimizer=model.optimizer, loss=model.loss, distribute=strategy)
    spec = WORKLOADS[key]
    b = spec["batch"]
    parts = [batch(key, i) for i in range(8)]
    total = warmup + steps
    x = np.concatenate([parts[i % 8][0] for i in range(total)])
    y = np.concatenate([parts[i % 8][1] for i in range(total)])

    starts: list = []
    marks = tg.callbacks.LambdaCallback(on_train_batch_begin=lambda step, logs: starts.append(
        (time.perf_counter(), dict(spent))))
    model.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0, callbacks=[marks])
    starts.append((time.perf_counter(), dict(spent)))
    timed_steps = list(zip(starts[warmup:-1], starts[warmup + 1:]))
    step = [t1 - t0 for (t0, _), (t1, _) in timed_steps]
    comm = {name: [s1[name] - s0[name] for (_, s0), (_, s1) in timed_steps] for name in spent}
    comm_total = [sum(v) for v in zip(*comm.values())]
    blas = sorted({p.get("num_threads") for p in threadpool_info()})
    if strategy.is_chief:
        params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        result = {
            "workload": key, "ranks": strategy.size, "global_batch": b, "parameters": params,
            "step_ms": statistics.median(step) * 1e3,
            "samples_per_s": b / statistics.median(step),
            "allreduce_ms": statistics.median(comm["gradients"]) * 1e3,
            "metrics_and_stop_ms": statistics.median([m + s for m, s in zip(comm["metrics"], comm["stop"])]) * 1e3,
            "comm_fraction": statistics.median([c / s for c, s in zip(comm_total, step)]),
            "blas_threads": blas, "steps": steps,
        }
        with open(out, "w") as f:
            json.dump(result, f)


def _launcher() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    found = beside if os.path.exists(beside) else shutil.which("mpirun") or shutil.which("mpiexec")
    if found is None:
        sys.exit("mpirun not found: pip install \"tapegrad[mpi]\"")
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="W2,W4")
    p.add_argument("--ranks", default="1,2")
    p.add_argument("--steps", type=int, default=30, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child, a.steps, a.warmup, a.out)
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               HYDRA_IFACE="lo", UCX_NET_DEVICES="lo", FI_TCP_IFACE="lo", TAPEGRAD_MACHINE_TUNING="0")
    rows = []
    results_dir = os.path.join(HERE, "results")
    os.makedirs(results_dir, exist_ok=True)
    for key in a.workloads.split(","):
        for ranks in (int(r) for r in a.ranks.split(",")):
            out = os.path.join(results_dir, f".distributed-{key}-{ranks}.json")
            cmd = [_launcher(), "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--child", key,
                   "--steps", str(a.steps), "--warmup", str(a.warmup), "--out", out]
            subprocess.run(cmd, check=True, env=env, timeout=1800, stdin=subprocess.DEVNULL)
            with open(out) as f:
                rows.append(json.load(f))
            os.remove(out)
    base = {r["workload"]: r["samples_per_s"] for r in rows if r["ranks"] == 1}
    print("| workload | parameters | ranks | global batch | step ms | samples/s | speed-up | all-reduce ms "
          "| metrics+stop ms | communication |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        speedup = r["samples_per_s"] / base[r["workload"]] if r["workload"] in base else float("nan")
        r["speedup"] = speedup
        print(f"| {r['workload']} | {r['parameters']:,} | {r['ranks']} | {r['global_batch']} | {r['step_ms']:.2f} "
              f"| {r['samples_per_s']:.0f} | {speedup:.2f}x | {r['allreduce_ms']:.3f} | "
              f"{r['metrics_and_stop_ms']:.3f} | {r['comm_fraction']:.1%} |")
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
           "rows": rows}
    with open(os.path.join(results_dir, "distributed.json"), "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
