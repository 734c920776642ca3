"""Each picture is written, is a valid PNG, and is not blank."""

import numpy as np
import pytest

import tapegrad as tg

pytest.importorskip("matplotlib")


def assert_real_png(path):
    import matplotlib.image as mpimg

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(str(path))
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_activations(tmp_path):
    tg.viz.plot_activations(path=tmp_path / "a.png")
    assert_real_png(tmp_path / "a.png")


def test_decision_boundary(tmp_path):
    x, y = tg.data.make_moons(100, noise=0.1, seed=0)
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dense(1)])
    tg.viz.plot_decision_boundary(m, x, y, path=tmp_path / "b.png", resolution=50)
    assert_real_png(tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"expected x of shape \(n, 2\)"):
        tg.viz.plot_decision_boundary(m, np.zeros((4, 3)), np.zeros(4))


def test_history_marks_kept_epoch(tmp_path):
    h = tg.callbacks.History()
    h.on_train_begin()
    for e, (l, v) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.9)]):
        h.on_epoch_end(e, {"loss": l, "val_loss": v})
    fig = tg.viz.plot_history(h, path=tmp_path / "h.png")
    assert_real_png(tmp_path / "h.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "lowest validation loss: epoch 2" in labels
    fig = tg.viz.plot_history(h, best_epoch=2)
    assert "kept: epoch 3" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_loss_landscape_paths_and_lecture_cases(tmp_path):
    a = np.diag([1.0, 10.0])

    def loss_fn(w):
        return tg.sum(tg.matmul(tg.reshape(w, (1, 2)), tg.constant(a)) * tg.reshape(w, (1, 2))) * 0.5

    lam = tg.viz.curvature(loss_fn, np.zeros(2))
    assert lam == pytest.approx(10.0, rel=1e-4)
    fig = tg.viz.plot_loss_landscape(loss_fn, start=(2.0, 2.0), optimizers=tg.viz.default_optimizers(1 / lam),
                                     path=tmp_path / "l.png", steps=40, resolution=40)
    assert_real_png(tmp_path / "l.png")
    ends = {k.split(" (")[-1]: np.abs(p[-1]).max() for k, p in fig.paths.items() if k.startswith("SGD lr")}
    # closed forms for gradient descent on diag(1, 10) from (2, 2): the slow coordinate shrinks by
    # (1 - lr) per step; past 2/lambda the fast one grows by |1 - 2.4| = 1.4 per step
    assert ends["good)"] == pytest.approx(2 * 0.9**40, rel=1e-6)
    assert ends["too small)"] == pytest.approx(2 * 0.995**40, rel=1e-6)
    assert ends["too large)"] > 1e4


def test_lr_sweep(tmp_path):
    x, y = tg.data.make_moons(64, noise=0.1, seed=0)
    y = y.reshape(-1, 1).astype("float32")
    build = lambda: tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"),
                                   tg.layers.Dense(1, activation="sigmoid")])
    res = tg.viz.lr_sweep(build, x, y, rates=[1e-4, 1e-1, 1e3], epochs=2)
    assert set(res) == {1e-4, 1e-1, 1e3}
    assert res[1e-1] < res[1e-4]
    tg.viz.plot_lr_sweep(res, path=tmp_path / "s.png")
    assert_real_png(tmp_path / "s.png")


def test_graph_dot(tmp_path):
    w = tg.Variable([1.0, 2.0], name="w")
    y = tg.reduce_sum(tg.exp(w * 2.0))
    dot = tg.viz.plot_graph(y, path=tmp_path / "g.dot")
    assert dot.startswith("digraph") and "Exp" in dot and "Mul" in dot and "w\\n(2,)" in dot
    assert (tmp_path / "g.dot").read_text() == dot
