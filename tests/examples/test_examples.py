"""Every example runs (with reduced epochs) and shows what it claims."""

import importlib.util
import os

import numpy as np
import pytest

HERE = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace(".py", ""), os.path.join(HERE, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_01_tensors(tmp_path):
    r = load("01_tensors.py").main(out=str(tmp_path / "g.dot"))
    assert r["e"] == 6.0 and "Mul" in r["dot"] and "Add" in r["dot"]


def test_02_perceptron():
    r = load("02_perceptron.py").main()
    assert r["perceptron"] == pytest.approx(1 / (1 + np.exp(6)), rel=1e-6) and r["same"]


def test_03_models():
    r = load("03_models.py").main()
    assert r["sequential"] == (1, 3) and r["identity"] == [[1.0, 2.0]] and r["multi"] == ((4, 1), (4, 3))


def test_04_gradient_descent(tmp_path):
    r = load("04_gradient_descent.py").main(out=str(tmp_path / "gd.png"))
    assert abs(r["final"] - 4.0) < 1e-3 and (tmp_path / "gd.png").exists()


def test_05_will_i_pass(tmp_path):
    r = load("05_will_i_pass.py").main(quick=True, out=str(tmp_path))
    assert r["test_accuracy"] > 0.75


def test_06_learning_rates(tmp_path):
    r = load("06_learning_rates.py").main(quick=True, out=str(tmp_path))
    assert (tmp_path / "loss_landscape.png").exists() and (tmp_path / "lr_sweep.png").exists()
    assert r["curvature"] > 0 and len(r["sweep"]) == 6


def test_07_overfitting(tmp_path):
    r = load("07_overfitting.py").main(quick=True, out=str(tmp_path))
    assert set(r) == {"plain", "dropout 0.5", "L2 1e-3", "early stopping"}
    assert (tmp_path / "overfitting_curves.png").exists()


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "mnist")), reason="shared MNIST not present")
def test_08_mnist_mlp_on_a_subset():
    r = load("08_mnist_mlp.py").main(data=os.path.join(SHARED, "mnist"), quick=True, verbose=0)
    assert r["test_accuracy"] > 0.85


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "mnist")), reason="shared MNIST not present")
def test_09_mnist_cnn_on_a_subset(tmp_path):
    r = load("09_mnist_cnn.py").main(data=os.path.join(SHARED, "mnist"), quick=True, out=str(tmp_path), verbose=0)
    assert r["test_accuracy"] > 0.80
    assert all(os.path.getsize(f) > 1000 for f in r["files"])


@pytest.mark.skipif(not os.path.isfile(os.path.join(SHARED, "music", "irish.abc")), reason="shared songs not present")
def test_10_music_generation_learns_and_writes_songs(tmp_path):
    r = load("10_music_generation.py").main(data=os.path.join(SHARED, "music", "irish.abc"), out=str(tmp_path),
                                             quick=True, steps=40, generation_length=300, show=False)
    losses = r["losses"]
    assert losses[0] > 4.0  # about ln 83 untrained
    assert np.mean(losses[-10:]) < losses[0] - 0.8  # falls within 40 steps
    assert (tmp_path / "generated.abc").stat().st_size > 0 and (tmp_path / "music.weights.safetensors").exists()
    assert (tmp_path / "losses.csv").read_text().count("\n") == 41
