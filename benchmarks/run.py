"""Time the four workloads through tapegrad, PyTorch and the hand-written NumPy reference.

    python benchmarks/run.py [--workloads W1,W2,W3,W4] [--steps 50] [--repeats 3] [--threads 2]

Each implementation runs in its own process (two BLAS thread pools in one process
slow each other down), from the same initial weights and data, with warm-up steps,
and reports the median milliseconds of a training step (forward, loss, backward,
optimizer update): each repeat starts a fresh process per implementation, the
implementations take turns, and the table shows the median over repeats; each ratio
is the median of the per-repeat ratios, which a machine whose speed drifts between
repeats (a shared virtual machine) affects far less than a ratio of medians. The table prints ratios to PyTorch and to the NumPy reference
and is written as JSON to benchmarks/results/latest.json. A correctness check runs
first: tapegrad's losses must match PyTorch's over 20 steps from identical weights.
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

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, resource, statistics, sys, time
sys.path.insert(0, {here!r})
impl, key, mode, steps, repeats, threads = {impl!r}, {key!r}, {mode!r}, {steps}, {repeats}, {threads}
def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
if impl == "torch":
    import torch
    torch.set_num_threads(threads)
import numpy as np
from workloads import batch
mod = __import__("impl_" + impl)
batches = [batch(key, i) for i in range(8)]
base = rss_kb()
if mode == "losses":
    step = mod.make_step(key, *(["check"] if impl == "torch" else []))
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
times = []
for r in range(repeats):
    for i in range(steps):
        x, y = batches[i % 8]
        t = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
                  "peak_mb": (peak - base) / 1024}}))
"""


def child(impl, key, mode, steps, repeats, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONHASHSEED="0")
    code = CHILD.format(here=HERE, impl=impl, key=key, mode=mode, steps=steps, repeats=repeats, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {key} {mode} failed:\n{out.stderr[-3000:]}")
    line = [l for l in out.stdout.splitlines() if l.startswith("{") or l.startswith("@@")][-1]
    return json.loads(line.lstrip("@"))


def have_torch() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    except Exception:
        return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="W1,W2,W3,W4")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    a = p.parse_args(argv)
    keys = a.workloads.split(",")
    torch_ok = have_torch()
    results = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
               f"{platform.python_implementation()} {platform.python_version()}", "threads": a.threads,
               "workloads": {}}
    import numpy as np

    for key in keys:
        steps = max(5, a.steps // (8 if key == "W4" else 1))
        row = {}
        if torch_ok:
            ours = child("tapegrad", key, "losses", 0, 0, a.threads)["losses"]
            ref = child("torch", key, "losses", 0, 0, a.threads)["losses"]
            err = float(np.max(np.abs(np.array(ours) - np.array(ref)) / np.maximum(np.abs(ref), 1e-6)))
            row["loss_check_max_rel_err"] = err
            if err > 1e-4:
                raise SystemExit(f"{key}: tapegrad's losses differ from PyTorch's by {err:.2e} (relative): "
                                 f"{ours[:3]} vs {ref[:3]}")
        runs: dict[str, list] = {}
        for _ in range(a.repeats):  # interleave implementations across processes: drift hits all alike
            for name, impl, mode in (("tapegrad", "tapegrad", "train_on_batch"), ("tapegrad_tape", "tapegrad", "tape"),
                                     ("numpy_ref", "numpy", "manual"), ("torch", "torch", "eager")):
                if impl == "torch" and not torch_ok:
                    continue
                runs.setdefault(name, []).append(child(impl, key, mode, steps, 1, a.threads))
        for name, rs in runs.items():
            row[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}

        def per_repeat(a_name, b_name, field="median_ms"):
            return [x[field] / max(y[field], 1e-9) for x, y in zip(runs[a_name], runs[b_name])]

        # each ratio is the median of per-repeat ratios: robust to the machine's speed drifting between repeats
        if "torch" in row:
            row["ratios_to_torch_per_repeat"] = per_repeat("tapegrad", "torch")
            row["ratio_to_torch"] = statistics.median(row["ratios_to_torch_per_repeat"])
        row["ratios_to_numpy_ref_per_repeat"] = per_repeat("tapegrad", "numpy_ref")
        row["ratio_to_numpy_ref"] = statistics.median(row["ratios_to_numpy_ref_per_repeat"])
        row["memory_ratio_to_numpy_ref"] = statistics.median(per_repeat("tapegrad", "numpy_ref", "peak_mb"))
        if key == "W2":
            row["fit_overhead"] = child("tapegrad", key, "fit", 0, a.repeats, a.threads)["overhead"]
        results["workloads"][key] = row
        print_row(key, row)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, a.out)
    print(f"\n{results['date']}, {results['machine']}, {a.threads} threads; written to {a.out}")
    return 0


def print_row(key, row):
    def ms(name):
        return f"{row[name]['median_ms']:8.3f}" if name in row else "     n/a"

    if key == "W1":
        print(f"{'':4} {'tapegrad':>9} {'(tape)':>9} {'numpy ref':>9} {'torch':>9} {'tg/torch':>9} {'tg/ref':>7} "
              f"{'mem tg/ref':>10}  (median ms per step)")
    rt = f"{row['ratio_to_torch']:9.2f}" if "ratio_to_torch" in row else "      n/a"
    extra = f"  fit overhead {row['fit_overhead']:+.1%}" if "fit_overhead" in row else ""
    if "ratios_to_torch_per_repeat" in row:
        rs = row["ratios_to_torch_per_repeat"]
        extra += f"  tg/torch per repeat {min(rs):.2f}-{max(rs):.2f}"
    print(f"{key:4} {ms('tapegrad')} {ms('tapegrad_tape')} {ms('numpy_ref')} {ms('torch')} {rt} "
          f"{row['ratio_to_numpy_ref']:7.2f} {row['memory_ratio_to_numpy_ref']:10.2f}{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
