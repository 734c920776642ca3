"""A plain install (no extras): core features work, and what needs an extra says so in one line.

A fresh virtual environment per test run would be too slow, so each test runs tapegrad in a
subprocess where the optional library cannot be imported (``sys.modules[name] = None`` makes
``import name`` fail as it does when the package is not installed).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

PENGUINS = os.path.join(os.path.dirname(__file__), "..", "..", "data", "penguins.csv")


def run_without(blocked, code, cwd):
    shim = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    return subprocess.run([sys.executable, "-c", shim + code], capture_output=True, text=True, cwd=cwd, timeout=300)


def cli(argv):
    return f"from tapegrad.cli.main import main\nsys.exit(main({argv!r}))\n"


def test_demo_without_matplotlib_prints_its_results_and_one_line(tmp_path):
    out = run_without(["matplotlib"], cli(["demo", "--epochs", "3", "--out", str(tmp_path / "demo")]), tmp_path)
    assert out.returncode == 0, out.stderr
    assert "P(pass)" in out.stdout and "Test accuracy" in out.stdout and "Done in" in out.stdout
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        'No pictures: matplotlib is not installed (needed for tapegrad\'s pictures): pip install "tapegrad[viz]"']
    assert not (tmp_path / "demo").exists()


def test_plot_without_matplotlib_is_one_line_and_exit_1(tmp_path):
    out = run_without(["matplotlib"], cli(["plot", "activations", "--out", str(tmp_path / "a.png")]), tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        'tapegrad plot: matplotlib is not installed (needed for tapegrad\'s pictures): pip install "tapegrad[viz]"']


def test_viz_without_matplotlib_raises_an_import_error_naming_the_extra(tmp_path):
    code = ("import tapegrad as tg\n"
            "try:\n    tg.viz.plot_activations()\n"
            "except ImportError as exc:\n    print(type(exc).__name__, exc)\n")
    out = run_without(["matplotlib"], code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ('MissingExtraError matplotlib is not installed (needed for tapegrad\'s pictures): '
                                  'pip install "tapegrad[viz]"')


def test_csv_command_line_without_pandas_is_one_line(tmp_path):
    out = run_without(["pandas"], cli(["fit", PENGUINS, "--target", "species", "--out", str(tmp_path / "m")]),
                      tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        'tapegrad fit: pandas is not installed (needed for the CSV command line): pip install "tapegrad[cli]"']


def test_fit_without_matplotlib_saves_the_model_without_its_picture(tmp_path):
    pytest.importorskip("pandas")
    out = run_without(["matplotlib"], cli(["fit", PENGUINS, "--target", "species", "--drop-missing", "--epochs",
                                           "3", "--out", str(tmp_path / "m"), "--verbose", "0"]), tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(tmp_path / "m")) == ["model.tapegrad", "preprocessing.json", "report.md"]
    assert "training_curves" not in (tmp_path / "m" / "report.md").read_text()
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == ('No training curves: matplotlib is not installed (needed for '
                                                   'tapegrad\'s pictures): pip install "tapegrad[viz]"')


def test_core_features_without_any_extra(tmp_path):
    # Training with the progress bar, saving and loading need no extra: block every optional library.
    code = ("import io, numpy as np, tapegrad as tg\n"
            "tg.random.set_seed(0)\n"
            "x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32'); y = x.sum(1, keepdims=True)\n"
            "m = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(1)])\n"
            "m.compile(optimizer='sgd', loss='mse')\n"
            "m.fit(x, y, epochs=2, batch_size=16, verbose=1)\n"
            "m.save('m.tapegrad'); m.save_weights('m.weights.safetensors')\n"
            "back = tg.models.load_model('m.tapegrad')\n"
            "print('same', bool(np.array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))))\n")
    out = run_without(["matplotlib", "pandas", "sklearn"], code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Epoch 2/2" in out.stdout and out.stdout.strip().endswith("same True")
    assert "Traceback" not in out.stderr


def test_core_dependencies_are_declared():
    from importlib.metadata import requires

    core = {r.split(">")[0].split("=")[0].strip() for r in requires("tapegrad") if "extra ==" not in r}
    assert {"numpy", "safetensors", "tqdm"} <= core
    assert np.__version__  # numpy itself imports


def test_onnx_export_without_onnx_is_one_line(tmp_path):
    code = ("import tapegrad as tg\n"
            "m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(1)])\n"
            "try:\n    m.export('m.onnx', format='onnx')\n"
            "except ImportError as exc:\n    print(type(exc).__name__, exc)\n")
    out = run_without(["onnx"], code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ('MissingExtraError onnx is not installed (needed for ONNX export): '
                                  'pip install "tapegrad[onnx]"')
    assert not (tmp_path / "m.onnx").exists()
