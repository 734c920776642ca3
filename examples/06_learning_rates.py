"""6. Learning rates and adaptive optimizers, pictured on a loss landscape.

A rate too small crawls, a good one converges, one too large overshoots and oscillates;
adaptive optimizers (momentum, Adagrad, RMSprop, Adam) adapt the step per weight. The
lecture's first answer to "how do I pick the rate?" is to try many: the sweep does that.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

import tapegrad as tg


def main(quick: bool = False, out: str = "lr-pictures", epochs: int = 5) -> dict[str, Any]:
    x, y = tg.data.make_pass_fail(300, seed=0)
    xs = ((x - x.mean(0)) / x.std(0)).astype(np.float64)
    bce = tg.losses.BinaryCrossentropy(from_logits=True)

    def loss_fn(w: tg.Tensor) -> tg.Tensor:  # logistic regression with two weights: its loss surface can be drawn
        return bce(y.astype(np.float64), tg.matmul(xs, tg.reshape(w, (2, 1))))

    w_star = tg.viz.optimizer_path(loss_fn, (0.0, 0.0), tg.optimizers.Adam(0.1), 300)[-1]
    curvature = tg.viz.curvature(loss_fn, w_star)
    print(f"minimum near w = {np.round(w_star, 3)}; largest curvature {curvature:.3f}, so plain gradient descent "
          f"is stable below a rate of {2 / curvature:.2f}")
    os.makedirs(out, exist_ok=True)
    fig = tg.viz.plot_loss_landscape(loss_fn, start=(-2.5, 2.5), bounds=((-3, 4), (-3, 4)),
                                     optimizers=tg.viz.default_optimizers(1 / curvature), minimum=w_star,
                                     steps=20 if quick else 50, resolution=40 if quick else 120,
                                     path=os.path.join(out, "loss_landscape.png"))
    print(f"wrote the picture: {os.path.abspath(os.path.join(out, 'loss_landscape.png'))}")
    for label, p in fig.paths.items():
        print(f"  {label:28s} final loss {float(loss_fn(tg.constant(p[-1]))):.4f}")
    build = lambda: tg.Sequential([tg.Input(shape=(2,)), tg.layers.Normalization(mean=x.mean(0), variance=x.var(0)),
                                   tg.layers.Dense(16, activation="relu"), tg.layers.Dense(1, activation="sigmoid")])
    rates = np.logspace(-3, 1.5, 6 if quick else 12)
    print(f"learning-rate sweep: {len(rates)} rates, {2 if quick else epochs} epochs each ...", flush=True)
    sweep = tg.viz.lr_sweep(build, x, y, rates=rates, epochs=2 if quick else epochs)
    tg.viz.plot_lr_sweep(sweep, path=os.path.join(out, "lr_sweep.png"))
    print(f"wrote the picture: {os.path.abspath(os.path.join(out, 'lr_sweep.png'))}")
    best = min(sweep, key=sweep.get)
    print(f"learning-rate sweep: best rate {best:.3g} (final loss {sweep[best]:.4f})")
    return {"paths": fig.paths, "sweep": sweep, "curvature": curvature}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs of training per rate in the sweep (default 5)")
    p.add_argument("--out", default="lr-pictures", help="folder for the pictures (default lr-pictures)")
    a = p.parse_args()
    main(out=a.out, epochs=a.epochs)
