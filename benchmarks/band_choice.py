"""Time one convolution layer's forward + backward for every band width, next to the band
``band_width`` picks: the measurements behind its cost model.

    python benchmarks/band_choice.py            # ten MNIST- and CIFAR-sized layers (C1's last two)

A tool, not a test. One process, 2 BLAS threads unless OPENBLAS_NUM_THREADS says otherwise.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.fast.memory import tune_allocator  # noqa: E402
from tapegrad.ops.conv import Conv2D, band_width  # noqa: E402

# (batch, height, width, in channels, filters, kernel, padding, input needs a gradient)
LAYERS = [(64, 28, 28, 1, 6, 5, "same", False), (64, 14, 14, 6, 16, 5, "valid", True),
          (128, 28, 28, 1, 16, 5, "same", False), (128, 14, 14, 16, 32, 5, "valid", True),
          (128, 28, 28, 1, 32, 3, "valid", False), (128, 13, 13, 32, 64, 3, "valid", True),
          (32, 32, 32, 3, 32, 3, "same", False), (32, 16, 16, 32, 64, 3, "same", True),
          (128, 32, 32, 32, 32, 3, "valid", True), (128, 15, 15, 32, 64, 3, "same", True)]


def median_ms(fn, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> None:
    tune_allocator()
    rng = np.random.default_rng(0)
    for n, h, w, c, co, k, padding, needs_x in LAYERS:
        data = rng.random((n, h, w, c), dtype=np.float32)
        x = tg.Variable(data) if needs_x else tg.constant(data)
        kernel = tg.Variable(rng.random((k, k, c, co), dtype=np.float32) - 0.5)
        bias = tg.Variable(np.zeros(co, np.float32))
        ow = w if padding == "same" else w - k + 1
        timings = []
        for band in (d for d in range(1, ow + 1) if ow % d == 0):
            def step(band=band):
                out = Conv2D.apply(x, kernel, bias, padding=padding, band=band)
                out.backward(np.ones(out.shape, np.float32))
                kernel.grad = bias.grad = x.grad = None
            timings.append((band, median_ms(step)))
        fastest = min(timings, key=lambda bt: bt[1])
        picked = band_width(ow, co, k, k, c)
        cells = " ".join(f"{b}:{t:.2f}" for b, t in timings)
        print(f"{(n, h, w, c, co, k, padding)} picked {picked} fastest {fastest[0]}   ms by band: {cells}")


if __name__ == "__main__":
    main()
