"""``tapegrad demo``: the lecture's example, "Will I pass this class?", end to end."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from .._extras import MissingExtraError, require_matplotlib


def build_model():
    import tapegrad as tg

    return tg.Sequential([
        tg.Input(shape=(2,)),
        tg.layers.Normalization(name="standardize"),
        tg.layers.Dense(16, activation="relu", name="hidden_1"),
        tg.layers.Dense(16, activation="relu", name="hidden_2"),
        tg.layers.Dense(1, activation="sigmoid", name="pass_probability"),
    ], name="will_i_pass")


def run_demo(out_dir: str = "tapegrad-demo", seed: int = 0, epochs: int = 60, verbose: int = 1,
             pictures: bool = True) -> dict:
    """Tell the lecture's story in the terminal, write the pictures, return the numbers."""
    import tapegrad as tg
    from tapegrad.data.lecture import FEATURES

    start = time.perf_counter()
    tg.random.set_seed(seed)
    x, y = tg.data.make_pass_fail(500, seed=seed)
    x_train, x_test, y_train, y_test = tg.data.train_test_split(x, y, test_size=0.2, seed=seed)
    student = np.array([[4.0, 5.0]], dtype=np.float32)

    print("Will I pass this class?")
    print(f"  features: x1 = {FEATURES[0]}, x2 = {FEATURES[1]}; {len(x_train)} students to learn from, "
          f"{len(x_test)} to test on.\n")
    model = build_model()
    model.layers[0].adapt(x_train)
    before = float(model.predict(student, verbose=0)[0, 0])
    print(f"Untrained network, student with 4 lectures and 5 hours: P(pass) = {before:.2f}  "
          "(random weights: a guess)\n")
    model.summary()
    model.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    stop = tg.callbacks.EarlyStopping(patience=15, restore_best_weights=True)
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, callbacks=[stop],
                        verbose=verbose)
    after = float(model.predict(student, verbose=0)[0, 0])
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"\nTrained network, same student: P(pass) = {after:.2f}  -> {'pass' if after >= 0.5 else 'fail'}")
    print(f"Test accuracy on {len(x_test)} unseen students: {test_acc:.1%} (loss {test_loss:.3f})")
    result = {"before": before, "after": after, "test_accuracy": test_acc, "test_loss": test_loss,
              "epochs_run": len(history.history["loss"]), "files": []}
    if pictures:
        try:
            require_matplotlib()
        except MissingExtraError as exc:  # the story is told; only the pictures need the extra
            print(f"No pictures: {exc}", file=sys.stderr)
        else:
            os.makedirs(out_dir, exist_ok=True)
            result["files"] = write_pictures(model, history, stop, x_train, y_train, out_dir, seed)
            print("\nPictures:")
            for f in result["files"]:
                print(f"  {f}")
    result["seconds"] = time.perf_counter() - start
    print(f"\nDone in {result['seconds']:.1f} s.")
    return result


def write_pictures(model, history, stop, x, y, out_dir, seed) -> list[str]:
    import tapegrad as tg
    from tapegrad.data.lecture import FEATURES

    files = []

    def path(name):
        p = os.path.join(out_dir, name)
        files.append(p)
        return p

    tg.viz.plot_activations(path=path("activations.png"))
    tg.viz.plot_decision_boundary(model, x, y, path=path("decision_boundary.png"), feature_names=FEATURES,
                                  class_names=["fail", "pass"], highlight=(4, 5),
                                  title="Will I pass? The learned decision boundary")
    tg.viz.plot_history(history, path=path("training_curves.png"), best_epoch=stop.best_epoch,
                        title="Training and validation curves (dotted: the epoch early stopping kept)")
    # A two-weight model (logistic regression on the standardized features, no bias):
    # its loss surface can be drawn, with the paths the optimizers take across it.
    norm = model.layers[0]
    xs = ((x - norm.mean.numpy()) / np.sqrt(norm.variance.numpy())).astype(np.float64)
    ys = y.astype(np.float64)
    bce = tg.losses.BinaryCrossentropy(from_logits=True)

    def loss_fn(w):
        return bce(ys, tg.matmul(xs, tg.reshape(w, (2, 1))))

    w_star = tg.viz.optimizer_path(loss_fn, (0.0, 0.0), tg.optimizers.Adam(0.1), 300)[-1]
    good = 1.0 / tg.viz.curvature(loss_fn, w_star)
    tg.viz.plot_loss_landscape(loss_fn, start=(-2.5, 2.5), bounds=((-3, 4), (-3, 4)), steps=50,
                               optimizers=tg.viz.default_optimizers(good), minimum=w_star,
                               path=path("loss_landscape.png"), weight_names=("w1 (lectures)", "w2 (hours)"),
                               title="Loss landscape of a two-weight model, and optimizer paths")
    sweep = tg.viz.lr_sweep(lambda: tg.Sequential([tg.Input(shape=(2,)), tg.layers.Normalization(
        mean=norm.mean.numpy(), variance=norm.variance.numpy()), tg.layers.Dense(16, activation="relu"),
        tg.layers.Dense(1, activation="sigmoid")]), x, y, rates=np.logspace(-4, 1.5, 12), epochs=5, seed=seed)
    tg.viz.plot_lr_sweep(sweep, path=path("lr_sweep.png"),
                         title="Try many learning rates: final loss after 5 epochs of SGD")
    xt = tg.constant(model.layers[0](x[:4]).numpy())
    w = model.layers[1].kernel
    with tg.GradientTape():
        z = tg.nn.relu(tg.matmul(xt, w) + model.layers[1].bias)
        out = tg.reduce_mean(tg.sigmoid(z))
    tg.viz.plot_graph(out, path=path("graph.dot"), name="mean output")
    return files
