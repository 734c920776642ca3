"""The program each MPI rank runs in tests/distribute/test_mpi.py (``mpirun -n N python mpi_worker.py
SCENARIO OUT``); ``reference(OUT)`` trains the same models in one process, without MPI.

Scenarios: ``fit`` (two models through fit, one replayed and one eager, with callbacks, and a
GradientTape loop; every rank writes its weights and history to OUT), ``raise`` (rank 1 raises
in a callback during epoch 2), ``kill`` (rank 1 kills itself during epoch 2), ``model`` (rank
1 builds a different model), ``data`` (rank 1 has fewer samples), ``resume`` (ranks other
than 0 lose their weights and optimizer state between two fits), ``custom`` (a train_step
that does not reduce its gradients).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import tapegrad as tg

N, FEATURES, CLASSES, BATCH, EPOCHS = 42, 5, 3, 8, 3  # 42 = 5 * 8 + 2: a last batch smaller than 3 ranks


def data(n: int = N):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    xv = rng.normal(size=(13, FEATURES)).astype(np.float32)
    yv = (xv[:, 0] > 0).astype(np.int64)
    return x, y, xv, yv


def model(hidden: int = 6):
    return tg.Sequential([tg.Input(shape=(FEATURES,)), tg.layers.Dense(hidden, activation="relu"),
                          tg.layers.Dense(CLASSES)])


def compile_two(strategy=None):
    """A replayed Adam model and an eager SGD-with-momentum one."""
    tg.random.set_seed(1)
    fast = model()
    fast.compile(optimizer=tg.optimizers.Adam(1e-2),
                 loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                 distribute=strategy)
    eager = model()
    eager.compile(optimizer=tg.optimizers.SGD(0.05, momentum=0.9), loss=tg.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"], run_eagerly=True, distribute=strategy)
    return fast, eager


def tape_loop(strategy=None):
    """A GradientTape loop over the same global batches: each rank its shard, gradients
    through ``strategy.allreduce_gradients`` weighted by the shard's size."""
    tg.random.set_seed(2)
    net = model()
    rank, size = (0, 1) if strategy is None else (strategy.rank, strategy.size)
    if strategy is not None:
        strategy.broadcast_variables(net.weights)
    opt = tg.optimizers.Adam(1e-2)
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y, _, _ = data()
    for epoch in range(EPOCHS):
        order = np.random.default_rng(epoch).permutation(N)
        for start in range(0, N, BATCH):
            idx = order[start:start + BATCH]
            lo, hi = tg.distribute.shard_bounds(len(idx), rank, size)
            mine = idx[lo:hi]
            weights = net.trainable_weights
            if len(mine):
                with tg.GradientTape() as tape:
                    loss = loss_fn(y[mine], net(x[mine], training=True))
                grads = tape.gradient(loss, weights)
            else:
                grads = [None] * len(weights)
            if strategy is not None:
                grads = strategy.allreduce_gradients(grads, num_samples=len(mine), variables=weights)
            opt.apply_gradients(zip(grads, weights))
    return net


class RecordingCheckpoint(tg.callbacks.ModelCheckpoint):
    """A ModelCheckpoint that also notes which rank wrote which epoch."""

    def __init__(self, out, **kw):
        super().__init__(os.path.join(out, "ckpt-{epoch}.weights.safetensors"), save_weights_only=True, **kw)
        self.out = out

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        with open(os.path.join(self.out, "writes.txt"), "a") as f:
            f.write(f"{os.environ.get('PMI_RANK', '?')},{epoch + 1}\n")


def callbacks(out):
    return [tg.callbacks.CSVLogger(os.path.join(out, "log.csv"), append=True), RecordingCheckpoint(out),
            tg.callbacks.ReduceLROnPlateau(monitor="loss", min_delta=10.0, patience=1, factor=0.5, verbose=1),
            tg.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1)]


def train(strategy, out, extra=()):
    x, y, xv, yv = data()
    fast, eager = compile_two(strategy)
    hist = fast.fit(x, y, batch_size=BATCH, epochs=EPOCHS, validation_data=(xv, yv), verbose=2,
                    callbacks=callbacks(out) + list(extra))
    hist2 = eager.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    evaluated = fast.evaluate(xv, yv, batch_size=4, verbose=0, return_dict=True)
    net = tape_loop(strategy)
    return {"fast": fast, "eager": eager, "tape": net}, {"fast": hist.history, "eager": hist2.history,
                                                        "evaluate": evaluated,
                                                        "replayed": fast._fast_step.replayed,
                                                        "lr": float(fast.optimizer.learning_rate)}


def save(models, info, path):
    arrays = {f"{k}/{i}": w.numpy() for k, m in models.items() for i, w in enumerate(m.weights)}
    np.savez(path + ".npz", **arrays)
    with open(path + ".json", "w") as f:
        json.dump(info, f)


def reference(out):
    """Single-process training on the same global batches (and for ``resume``, 3 epochs of
    the replayed model straight through)."""
    models, info = train(None, out)
    save(models, info, os.path.join(out, "reference"))
    x, y, _, _ = data()
    fast, _ = compile_two()
    fast.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    np.savez(os.path.join(out, "resume.npz"), *fast.get_weights())


def main(scenario, out):
    strategy = tg.distribute.MPIStrategy()
    if scenario == "fit":
        models, info = train(strategy, out)
        save(models, info, os.path.join(out, f"rank{strategy.rank}"))
        return
    if scenario in ("raise", "kill"):
        def hit(batch, logs):
            if strategy.rank == 1 and hit.epoch == 1 and batch == 2:
                if scenario == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("injected failure on rank 1")

        def epoch(e, logs):
            hit.epoch = e
        hit.epoch = 0
        x, y, _, _ = data()
        fast, _ = compile_two(strategy)
        fast.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=[
            tg.callbacks.LambdaCallback(on_epoch_begin=epoch, on_train_batch_end=hit)])
        return
    if scenario == "resume":
        # Every rank trains one epoch; then ranks other than 0 start again from other weights
        # and a fresh optimizer, and the next fit broadcasts rank 0's weights and Adam state.
        x, y, _, _ = data()
        fast, _ = compile_two(strategy)
        fast.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        if not strategy.is_chief:
            fast.set_weights([np.full(w.shape, 0.5, np.float32) for w in fast.get_weights()])
            fast.compile(optimizer=tg.optimizers.Adam(1e-2),
                         loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                         distribute=strategy)
        fast.fit(x, y, batch_size=BATCH, epochs=EPOCHS, initial_epoch=1, verbose=0)
        np.savez(os.path.join(out, f"resume{strategy.rank}.npz"), *fast.get_weights())
        return
    if scenario == "custom":
        # A custom train_step that applies its own rank's gradients without reducing them.
        class Unreduced(tg.Sequential):
            def train_step(self, batch):
                xb, yb, _ = batch
                with tg.GradientTape() as tape:
                    loss = self.compute_loss(xb, yb, self(xb, training=True))
                grads = tape.gradient(loss, self.trainable_weights)
                self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
                return self.compute_metrics(xb, yb, None, loss=loss)

        x, y, _, _ = data()
        tg.random.set_seed(1)
        net = Unreduced(model().layers)
        net.compile(optimizer="adam", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                    distribute=strategy)
        net.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
        return
    x, y, _, _ = data(N - 2 if scenario == "data" and strategy.rank == 1 else N)
    tg.random.set_seed(1)
    net = model(4 if scenario == "model" and strategy.rank == 1 else 6)
    net.compile(optimizer="adam", loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True), distribute=strategy)
    net.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
