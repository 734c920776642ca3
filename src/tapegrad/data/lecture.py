"""The lecture's example data: "Will I pass this class?"

Two features per student, lectures attended (0 to 12) and hours spent on the final
project (0 to 12), and a pass (1) / fail (0) label from a plausible rule plus noise:
a student passes with probability ``sigmoid(0.6 (lectures - 3) + 0.7 (hours - 4))``,
so the lecture's student (4 lectures, 5 hours) is likely to pass.
Generated from a fixed seed, so it needs no file and no download.
"""

from __future__ import annotations

import numpy as np

FEATURES = ("lectures attended", "hours on the final project")


def make_pass_fail(n_samples: int = 400, seed: int = 0):
    """The lecture's data: ``(x, y)``, ``x`` float32 ``(n, 2)`` = (lectures, hours), ``y`` float32 ``(n, 1)`` pass labels.

    Args:
        n_samples: the number of students, at least 2 (default 400).
        seed: the seed of the data (default 0).

    Example:
        >>> x, y = make_pass_fail(10)
        >>> x.shape, y.shape
        ((10, 2), (10, 1))
    """
    if n_samples < 2:
        raise ValueError(f"make_pass_fail: n_samples must be >= 2, received {n_samples}")
    rng = np.random.default_rng(seed)
    lectures = rng.integers(0, 13, n_samples).astype(np.float64)
    hours = np.clip(rng.gamma(3.0, 2.0, n_samples), 0, 12).round(1)
    logit = 0.6 * (lectures - 3) + 0.7 * (hours - 4)
    passed = rng.random(n_samples) < 1 / (1 + np.exp(-logit))
    x = np.stack([lectures, hours], 1).astype(np.float32)
    return x, passed.astype(np.float32).reshape(-1, 1)
