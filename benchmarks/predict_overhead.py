"""``predict`` on many rows: time per batch at Keras's default ``batch_size=32`` (and at 1024),
tapegrad against PyTorch eager (``torch.no_grad``, a loop over slices), issue 32's point 5.

    python benchmarks/predict_overhead.py [--rows 10000] [--repeats 5] [--threads 2]

The model is W2's (MLP 784-256-256-10, the weights of ``workloads.py``). Each library runs
in its own process with ``--threads`` BLAS threads; each time is the median of
``--repeats`` whole passes over the rows, after one warm-up pass. The Python part of
tapegrad's batch is the time per batch minus that of the three products and the ReLUs
done with NumPy alone on the same arrays (the ``numpy`` row).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, {here!r})
import numpy as np
from workloads import weights
impl, rows, repeats, threads = {impl!r}, {rows}, {repeats}, {threads}
x = np.random.default_rng(0).normal(size=(rows, 784)).astype(np.float32)
w = weights("W2")
if impl == "tapegrad":
    import impl_tapegrad
    model = impl_tapegrad.build("W2")
    run = lambda bs: model.predict(x, batch_size=bs, verbose=0)
elif impl == "torch":
    import torch
    torch.set_num_threads(threads)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    with torch.no_grad():
        for layer, (k, b) in zip([net[0], net[2], net[4]], [w[0:2], w[2:4], w[4:6]]):
            layer.weight.copy_(torch.from_numpy(k.T.copy())); layer.bias.copy_(torch.from_numpy(b))
    xt = torch.from_numpy(x)
    def run(bs):
        with torch.no_grad():
            return np.concatenate([net(xt[i:i + bs]).numpy() for i in range(0, rows, bs)])
else:
    def run(bs):
        out = []
        for i in range(0, rows, bs):
            h = np.maximum(x[i:i + bs] @ w[0] + w[1], 0)
            h = np.maximum(h @ w[2] + w[3], 0)
            out.append(h @ w[4] + w[5])
        return np.concatenate(out)
res = {{}}
for bs in (32, 1024):
    run(bs)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); run(bs); times.append(time.perf_counter() - t)
    res[str(bs)] = statistics.median(times) / -(-rows // bs) * 1e6
print(json.dumps(res))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)
    out = {}
    for impl in ("tapegrad", "torch", "numpy"):
        code = CHILD.format(here=HERE, impl=impl, rows=a.rows, repeats=a.repeats, threads=a.threads)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{impl}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        out[impl] = json.loads(done.stdout.strip().splitlines()[-1])
    print("| implementation | µs per batch of 32 | µs per batch of 1024 |\n|---|---|---|")
    for impl, r in out.items():
        print(f"| {impl} | {r['32']:.0f} | {r['1024']:.0f} |")
    if "tapegrad" in out and "numpy" in out:
        for bs in ("32", "1024"):
            extra = out["tapegrad"][bs] - out["numpy"][bs]
            print(f"batch {bs}: tapegrad's Python around the arithmetic {extra:.0f} µs per batch"
                  + (f"; tapegrad / PyTorch {out['tapegrad'][bs] / out['torch'][bs]:.2f}" if "torch" in out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
