"""11. Data-parallel training over MPI: the MNIST MLP on several processes.

    mpirun -n 2 python examples/11_distributed_mnist.py --data ../shared/data/mnist
    python examples/11_distributed_mnist.py --data ../shared/data/mnist      # one process, the same result

Every process runs this same script. ``tg.distribute.MPIStrategy`` gives each one its rank;
``fit`` splits each global batch of 128 images across the ranks, sums the gradients with
MPI's all-reduce and applies the same update everywhere, so the weights after each step
are those one process computes on the same 128 images (up to the order of float32 sums),
and the test accuracy is the same. Only rank 0 prints. The MLP is example 8's without
Dropout: dropout masks are drawn per rank, so with them the runs would differ sample for
sample (training as well, but not comparable bit for bit).

Install: ``pip install "tapegrad[mpi]"`` (mpi4py and the MPICH wheel, which puts ``mpirun``
in the environment's bin). On a cluster, see the README's "Training over MPI".
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

import tapegrad as tg
from tapegrad.saving.atomic import atomic_path


def load(data: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    (x, y), (xt, yt) = tg.datasets.mnist.load_data(data)
    if limit:
        x, y, xt, yt = x[:limit], y[:limit], xt[: limit // 3], yt[: limit // 3]
    return (x / np.float32(255.0)).astype(np.float32), y, (xt / np.float32(255.0)).astype(np.float32), yt


def main(data: str | None = None, epochs: int = 10, batch_size: int = 128, quick: bool = False, seed: int = 0,
         out: str | None = None) -> dict[str, object]:
    data = data or os.environ.get("TAPEGRAD_DATA") or os.path.join("..", "shared", "data", "mnist")
    strategy = tg.distribute.MPIStrategy()  # a job of one rank when not started by mpirun
    x, y, xt, yt = load(data, limit=3000 if quick else None)
    epochs = 3 if quick else epochs
    tg.random.set_seed(seed)  # the same seed on every rank: the same shuffles (and rank 0's weights win)
    with strategy.scope():
        model = tg.Sequential([
            tg.Input(shape=(28, 28)),
            tg.layers.Flatten(),
            tg.layers.Dense(256, activation="relu"),
            tg.layers.Dense(256, activation="relu"),
            tg.layers.Dense(10),
        ])
        model.compile(optimizer=tg.optimizers.Adam(1e-3),
                      loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    # batch_size is the global batch: each of the ranks trains on its share of it.
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)  # each rank its part; results summed
    result = {"ranks": strategy.size, "test_accuracy": float(acc), "test_loss": float(loss),
              "history": history.history}
    if strategy.is_chief:
        print(f"MNIST MLP 784-256-256-10 on {strategy.size} rank(s): test accuracy {acc:.2%} (loss {loss:.4f}) "
              f"after {epochs} epochs")
        if out:
            with atomic_path(out) as tmp, open(tmp, "w") as f:
                json.dump(result, f)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None,
                   help="folder with the four MNIST IDX files "
                        "(default $TAPEGRAD_DATA, else ../shared/data/mnist)")
    p.add_argument("--epochs", type=int, default=10, help="epochs (default 10; 3 with --quick)")
    p.add_argument("--batch-size", type=int, default=128, help="the global batch, split across the ranks (default 128)")
    p.add_argument("--quick", action="store_true", help="3000 images and 3 epochs")
    p.add_argument("--out", default=None,
                   help="write the results as JSON to this file, from rank 0 (default: none written)")
    a = p.parse_args()
    main(a.data, a.epochs, a.batch_size, a.quick, out=a.out)
