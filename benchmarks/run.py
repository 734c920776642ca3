"""Time the workloads through tapegrad, PyTorch and the hand-written NumPy reference.

    python benchmarks/run.py [--workloads W1,W2,W3,W4] [--repeats 10] [--burst 0.5] [--pause 0] [--threads 2]
                            [--machine-tuning]
    python benchmarks/run.py --workloads W5,W6        # the recurrent workloads (the music lab's LSTM)

Each implementation runs in its own process (two BLAS thread pools in one process
slow each other down), from the same initial weights and data, with warm-up steps.
The processes stay alive for the whole workload and take turns: in each round every
implementation times a burst of training steps (forward, loss, backward, optimizer
update; at least ``--steps`` of them and ``--burst`` seconds) while the others wait
idle, and the order rotates from round to round. By default no pause separates the
bursts, so the machine stays loaded as it is during training (on a shared virtual
machine an idle pause before each burst changed PyTorch's LeNet step from 4.2 to
3.5 ms and left the NumPy programs' unchanged); the median over a burst's steps
discounts its first ones, which may share the cores with the previous process's
still-spinning threads. A ratio is the median over rounds of the ratio of two bursts
run within seconds of each other, so a machine whose speed drifts over minutes
affects both sides alike; the times shown are medians over rounds of each burst's
median. The table prints ratios to PyTorch and to the NumPy reference, and the
reference's own ratio to PyTorch (what NumPy itself allowed in that run), and is written
as JSON to benchmarks/results/latest.json. A correctness check runs first:
tapegrad's losses must match PyTorch's over 20 steps from identical weights.

By default every process runs as tapegrad does by default: ``--threads`` BLAS threads for
every step and the allocator as it is. ``--machine-tuning`` turns on tapegrad's opt-in
machine tuning (``tg.config``) in tapegrad and the NumPy reference alike: glibc's allocator
thresholds, and one BLAS thread for the steps where the machine makes that faster.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLEMENTATIONS = (("tapegrad", "tapegrad", "train_on_batch"), ("tapegrad_tape", "tapegrad", "tape"),
                   ("tapegrad_function", "tapegrad", "function"),
                   ("numpy_ref", "numpy", "manual"), ("torch", "torch", "eager"), ("jax", "jax", "jit"))

CHILD = r"""
import json, os, resource, statistics, sys, time
sys.path.insert(0, {here!r})
impl, key, mode, repeats, threads = {impl!r}, {key!r}, {mode!r}, {repeats}, {threads}
def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
if impl == "torch":
    import torch
    torch.set_num_threads(threads)
import numpy as np
from workloads import batch
mod = __import__("impl_" + impl)
if mode not in ("losses", "fit"):  # which kernels this process's matrix products run on
    if impl == "jax":
        kernel = mod.kernel()
    else:
        from threadpoolctl import threadpool_info
        kernel = ", ".join(f"{{i.get('internal_api')}} {{i.get('version')}} {{i.get('architecture')}}"
                           for i in threadpool_info() if i.get("user_api") == "blas") or "no BLAS pool found"
    print("@@" + json.dumps({{"kernel": kernel}}), flush=True)
batches = [batch(key, i) for i in range(8)]
base = rss_kb()
if mode == "losses":
    step = mod.make_step(key, *(["check"] if impl in ("torch", "jax") else []))
    print(json.dumps({{"losses": [step(*batches[i % 8]) for i in range(20)]}}))
    sys.exit()
if mode == "fit":
    import tapegrad as tg
    model = mod.make_fit(key)
    x = np.concatenate([b[0] for b in batches] * 4); y = np.concatenate([b[1] for b in batches] * 4)
    n = len(batches[0][0])
    out = {{}}
    for r in range(repeats + 1):
        t = time.perf_counter()
        for i in range(0, len(x), n):
            model.train_on_batch(x[i:i + n], y[i:i + n])
        loop = time.perf_counter() - t
        t = time.perf_counter()
        model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=1)
        fit = time.perf_counter() - t
        if r:  # pair each fit with the loop just before it: the machine's speed drifts
            out.setdefault("ratio", []).append(fit / loop)
    print("@@" + json.dumps({{"overhead": statistics.median(out["ratio"]) - 1}}))
    sys.exit()
step = mod.make_step(key, mode)
for i in range(5):
    step(*batches[i % 8])
print("@@ready", flush=True)
k = 0
for line in sys.stdin:  # one burst per line: at least n timed steps and s seconds; "0 0" ends
    n, s = line.split()
    n, s = int(n), float(s)
    if n == 0:
        break
    times = []
    start = time.perf_counter()
    while len(times) < n or time.perf_counter() - start < s:
        x, y = batches[k % 8]
        k += 1
        t = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t)
    print("@@" + json.dumps({{"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}}), flush=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("@@" + json.dumps({{"peak_mb": (peak - base) / 1024}}), flush=True)
"""


def _env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONHASHSEED="0")
    if KEEP_OPENBLAS_ENV is False:
        # OpenBLAS's own choice of kernels for this CPU, as on users' machines: a machine may set
        # OPENBLAS_CORETYPE (for old OpenBLAS builds) and so pin older, slower kernels
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    if threads == 1:  # XLA's CPU client: one thread for the step's kernels
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1").strip()
    return env


KEEP_OPENBLAS_ENV = False
"""``--keep-openblas-env`` sets this: keep the machine's OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE."""


def _code(impl, key, mode, repeats, threads):
    """The child program; ``repeats`` is the number of paired fit/loop timings (mode "fit")."""
    return CHILD.format(here=HERE, impl=impl, key=key, mode=mode, repeats=repeats, threads=threads)


def child(impl, key, mode, repeats, threads):
    """Run one process to the end (the loss check, the fit overhead) and return its JSON."""
    out = subprocess.run([sys.executable, "-c", _code(impl, key, mode, repeats, threads)],
                         capture_output=True, text=True, env=_env(threads))
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {key} {mode} failed:\n{out.stderr[-3000:]}")
    line = [l for l in out.stdout.splitlines() if l.startswith("{") or l.startswith("@@")][-1]
    return json.loads(line.lstrip("@"))


class Worker:
    """One implementation in its own process, warmed up, timing bursts of steps on request."""

    def __init__(self, impl, key, mode, threads):
        self.name = f"{impl} {key} {mode}"
        self.proc = subprocess.Popen([sys.executable, "-c", _code(impl, key, mode, 0, threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=_env(threads))
        self.kernel = self._read()["kernel"]
        self._read()  # "ready": imported, built and warmed up

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                body = line[2:].strip()
                return None if body == "ready" else json.loads(body)
        err = self.proc.stderr.read()
        raise RuntimeError(f"{self.name} failed:\n{err[-3000:]}")

    def burst(self, steps: int, seconds: float) -> dict:
        self.proc.stdin.write(f"{steps} {seconds}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict:
        """Stop the process; returns its peak memory."""
        self.proc.stdin.write("0 0\n")
        self.proc.stdin.flush()
        peak = self._read()
        self.proc.wait()
        return peak


def have(module: str) -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    except Exception:
        return False


def runs_here(impl: str, key: str) -> bool:
    """Whether ``impl`` has this workload: the NumPy reference knows the MLPs and LeNet only."""
    from workloads import WORKLOADS

    if impl == "numpy":
        return WORKLOADS[key]["kind"] != "cnn"
    if impl == "jax" and WORKLOADS[key]["kind"] == "lstm":
        return False  # impl_jax has the MLPs and CNNs
    return impl in ("tapegrad",) or have(impl)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="W1,W2,W3,W4")
    p.add_argument("--steps", type=int, default=5, help="at least this many timed steps per burst")
    p.add_argument("--burst", type=float, default=0.5, help="and at least this many seconds per burst")
    p.add_argument("--repeats", type=int, default=10, help="rounds: each implementation times one burst per round")
    p.add_argument("--pause", type=float, default=0.0, help="seconds of idle machine before each burst")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--machine-tuning", action="store_true",
                   help="tapegrad's opt-in machine tuning in tapegrad and the reference (TAPEGRAD_MACHINE_TUNING=1)")
    p.add_argument("--keep-openblas-env", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (by default they are unset "
                        "for the timed processes, so OpenBLAS picks its kernels for this CPU)")
    p.add_argument("--functional", action="store_true",
                   help="also time the workload's layers as a functional model (tg.Model(inputs, outputs))")
    p.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    a = p.parse_args(argv)
    global KEEP_OPENBLAS_ENV
    KEEP_OPENBLAS_ENV = a.keep_openblas_env
    keys = a.workloads.split(",")
    os.environ["TAPEGRAD_MACHINE_TUNING"] = "1" if a.machine_tuning else "0"  # the children inherit it
    results = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
               f"{platform.python_implementation()} {platform.python_version()}", "threads": a.threads,
               "machine_tuning": a.machine_tuning, "workloads": {}}
    import numpy as np
    from workloads import WORKLOADS

    for key in keys:
        row = {}
        if have("torch"):
            ref = child("torch", key, "losses", 0, a.threads)["losses"]
            for other in ("tapegrad",) + (("jax",) if runs_here("jax", key) else ()):
                ours = child(other, key, "losses", 0, a.threads)["losses"]
                err = float(np.max(np.abs(np.array(ours) - np.array(ref)) / np.maximum(np.abs(ref), 1e-6)))
                row["loss_check_max_rel_err" if other == "tapegrad" else f"{other}_loss_check_max_rel_err"] = err
                if err > WORKLOADS[key].get("loss_check_rtol", 1e-4):
                    raise SystemExit(f"{key}: {other}'s losses differ from PyTorch's by {err:.2e} (relative): "
                                     f"{ours[:3]} vs {ref[:3]}")
        impls = [(name, impl, mode) for name, impl, mode in IMPLEMENTATIONS if runs_here(impl, key)]
        if a.functional:
            impls.append(("tapegrad_functional", "tapegrad", "functional"))
        workers = {name: Worker(impl, key, mode, a.threads) for name, impl, mode in impls}
        row["kernels"] = {name: w.kernel for name, w in workers.items()}
        runs: dict[str, list] = {name: [] for name in workers}
        names = list(workers)
        try:
            for r in range(a.repeats):  # take turns, the order rotating: drift hits all alike
                for name in names[r % len(names):] + names[:r % len(names)]:
                    if a.pause:
                        time.sleep(a.pause)
                    runs[name].append(workers[name].burst(a.steps, a.burst))
        finally:
            peaks = {name: w.close() for name, w in workers.items()}
        for name, rs in runs.items():
            row[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            row[name]["peak_mb"] = peaks[name]["peak_mb"]

        def per_round(a_name, b_name):
            return [x["median_ms"] / max(y["median_ms"], 1e-9) for x, y in zip(runs[a_name], runs[b_name])]

        # each ratio is the median of per-round ratios: robust to the machine's speed drifting
        if "torch" in row:
            row["ratios_to_torch_per_round"] = per_round("tapegrad", "torch")
            row["ratio_to_torch"] = statistics.median(row["ratios_to_torch_per_round"])
            # what NumPy itself allowed in this run: the hand-written program against PyTorch
            if "numpy_ref" in row:
                row["numpy_ref_ratio_to_torch"] = statistics.median(per_round("numpy_ref", "torch"))
        if "jax" in row:
            row["ratios_to_jax_per_round"] = per_round("tapegrad", "jax")
            row["ratio_to_jax"] = statistics.median(row["ratios_to_jax_per_round"])
            row["tape_ratio_to_jax"] = statistics.median(per_round("tapegrad_tape", "jax"))
            row["function_ratio_to_jax"] = statistics.median(per_round("tapegrad_function", "jax"))
        if "numpy_ref" in row:
            row["ratios_to_numpy_ref_per_round"] = per_round("tapegrad", "numpy_ref")
            row["ratio_to_numpy_ref"] = statistics.median(row["ratios_to_numpy_ref_per_round"])
            row["memory_ratio_to_numpy_ref"] = row["tapegrad"]["peak_mb"] / max(row["numpy_ref"]["peak_mb"], 1e-9)
        if a.functional:  # the same layers as a functional model, against the Sequential one
            row["functional_ratio_to_sequential"] = statistics.median(per_round("tapegrad_functional", "tapegrad"))
            print(f"{key}: functional / Sequential step {row['functional_ratio_to_sequential']:.3f}", flush=True)
        if key == "W2":
            row["fit_overhead"] = child("tapegrad", key, "fit", a.repeats, a.threads)["overhead"]
        results["workloads"][key] = row
        print_row(key, row, header=key == keys[0])
    kernels = sorted({k for row in results["workloads"].values() for k in row.get("kernels", {}).values()})
    results["kernels"] = kernels
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, a.out)
    print(f"\n{results['date']}, {results['machine']}, {a.threads} threads; kernels: {'; '.join(kernels)}; "
          f"written to {a.out}")
    return 0


def print_row(key, row, header=False):
    def ms(name):
        return f"{row[name]['median_ms']:8.3f}" if name in row else "     n/a"

    def ratio(name, width):
        return f"{row[name]:{width}.2f}" if name in row else " " * (width - 3) + "n/a"

    if header:
        print(f"{'':5} {'tapegrad':>9} {'(tape)':>9} {'(function)':>10} {'numpy ref':>9} {'torch':>9} {'jax':>9} {'tg/torch':>9} "
              f"{'ref/torch':>9} {'tg/ref':>7} {'tg/jax':>7} {'tape/jax':>8} {'func/jax':>8} {'mem tg/ref':>10}  (median ms per step)")
    extra = f"  fit overhead {row['fit_overhead']:+.1%}" if "fit_overhead" in row else ""
    for other in ("torch", "jax"):
        if f"ratios_to_{other}_per_round" in row:
            rs = sorted(row[f"ratios_to_{other}_per_round"])
            q1, q3 = rs[len(rs) // 4], rs[(3 * len(rs)) // 4]
            extra += f"  tg/{other} per round {rs[0]:.2f}-{rs[-1]:.2f} (middle half {q1:.2f}-{q3:.2f})"
    print(f"{key:5} {ms('tapegrad')} {ms('tapegrad_tape')}  {ms('tapegrad_function')} {ms('numpy_ref')} {ms('torch')} {ms('jax')} "
          f"{ratio('ratio_to_torch', 9)} {ratio('numpy_ref_ratio_to_torch', 9)} {ratio('ratio_to_numpy_ref', 7)} "
          f"{ratio('ratio_to_jax', 7)} {ratio('tape_ratio_to_jax', 8)} {ratio('function_ratio_to_jax', 8)} "
          f"{ratio('memory_ratio_to_numpy_ref', 10)}"
          f"{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
