"""The command line: demo, fit / evaluate / predict on CSV, bad input as exit code 2."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tapegrad.cli.main import main

pytest.importorskip("pandas")
PENGUINS = os.path.join(os.path.dirname(__file__), "..", "..", "data", "penguins.csv")


def test_demo_tells_the_story_and_writes_pictures(tmp_path, capsys):
    from tapegrad.cli.demo import run_demo

    result = run_demo(str(tmp_path / "demo"), seed=0, epochs=15, verbose=0)
    out = capsys.readouterr().out
    assert "4 lectures and 5 hours" in out and "Test accuracy" in out
    assert result["test_accuracy"] > 0.75
    assert abs(result["before"] - 0.5) < 0.35  # untrained: an uninformed guess
    names = sorted(os.path.basename(f) for f in result["files"])
    assert names == ["activations.png", "decision_boundary.png", "graph.dot", "loss_landscape.png", "lr_sweep.png",
                     "training_curves.png"]
    for f in result["files"]:
        assert os.path.getsize(f) > 100


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "tapegrad", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout and "fit" in out.stdout


@pytest.mark.parametrize("cmd", ["demo", "fit", "evaluate", "predict", "plot"])
def test_every_command_has_help_with_example(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "example" in capsys.readouterr().out


def test_fit_evaluate_predict_on_penguins(tmp_path, capsys):
    out_dir = str(tmp_path / "model")
    code = main(["fit", PENGUINS, "--target", "species", "--drop-missing", "--epochs", "60", "--lr", "0.01",
                 "--out", out_dir, "--verbose", "0"])
    assert code == 0
    text = capsys.readouterr().out
    assert "classification with classes ['Adelie', 'Chinstrap', 'Gentoo']" in text
    assert sorted(os.listdir(out_dir)) == ["model.tapegrad", "preprocessing.json", "report.md", "training_curves.png"]
    assert main(["evaluate", out_dir, PENGUINS, "--drop-missing"]) == 0
    line = capsys.readouterr().out
    acc = float(line.split("accuracy ")[1].split(",")[0])
    assert acc > 0.95
    pred = tmp_path / "pred.csv"
    assert main(["predict", out_dir, PENGUINS, "--drop-missing", "-o", str(pred)]) == 0
    import pandas as pd

    df = pd.read_csv(pred)
    assert list(df.columns) == ["prediction_species", "probability_Adelie", "probability_Chinstrap",
                                "probability_Gentoo"]
    np.testing.assert_allclose(df.iloc[:, 1:].sum(axis=1), 1.0, rtol=1e-5)


def test_regression_task_inferred(tmp_path, capsys):
    out_dir = str(tmp_path / "reg")
    assert main(["fit", PENGUINS, "--target", "body_mass_g", "--drop-missing", "--epochs", "5", "--out", out_dir,
                 "--verbose", "0"]) == 0
    assert "Task: regression" in capsys.readouterr().out
    assert main(["predict", out_dir, PENGUINS, "--drop-missing"]) == 0
    pred = capsys.readouterr().out.splitlines()
    assert pred[0] == "prediction_body_mass_g" and float(pred[1]) > 100  # back in grams


def run_err(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_missing_target_lists_columns(tmp_path, capsys):
    err = run_err(["fit", PENGUINS, "--target", "wingspan", "--drop-missing", "--out", str(tmp_path)], capsys)
    assert "target column 'wingspan' not found" in err and "bill_length_mm" in err


def test_missing_values_reported_with_count(tmp_path, capsys):
    err = run_err(["fit", PENGUINS, "--target", "species", "--out", str(tmp_path)], capsys)
    assert "19 missing values" in err and "sex (11)" in err and "--drop-missing" in err


def test_non_numeric_value_names_row_and_column(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    rows = ["a,b,y"] + [f"{i},{i * 2},{i % 2}" for i in range(30)]
    rows[8] = "7,oops,1"
    path.write_text("\n".join(rows) + "\n")
    err = run_err(["fit", str(path), "--target", "y", "--out", str(tmp_path / "m")], capsys)
    assert "non-numeric value 'oops' in numeric column 'b' at data row 8" in err


def test_empty_file_single_class_and_changed_columns(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in run_err(["fit", str(empty), "--target", "y", "--out", str(tmp_path / "m")], capsys)
    one = tmp_path / "one.csv"
    one.write_text("a,y\n1,yes\n2,yes\n3,yes\n")
    assert "single class ('yes')" in run_err(["fit", str(one), "--target", "y", "--out", str(tmp_path / "m")], capsys)
    two = tmp_path / "two.csv"
    two.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'p' if i % 2 else 'f'}\n" for i in range(40)))
    assert main(["fit", str(two), "--target", "y", "--epochs", "2", "--out", str(tmp_path / "m"), "--verbose", "0"]) == 0
    capsys.readouterr()
    other = tmp_path / "other.csv"
    other.write_text("a,c,y\n1,2,p\n")
    err = run_err(["evaluate", str(tmp_path / "m"), str(other)], capsys)
    assert "columns differ from training: missing ['b'], unexpected ['c']" in err
    assert "not a model folder" in run_err(["evaluate", str(tmp_path), str(other)], capsys)
    assert "no such file" in run_err(["fit", str(tmp_path / "nope.csv"), "--target", "y", "--out", "x"], capsys)


def test_plot_command(tmp_path):
    assert main(["plot", "activations", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["plot", "landscape", "--out", str(tmp_path / "l.png")]) == 0
    assert (tmp_path / "l.png").stat().st_size > 1000


def test_regression_errors_are_in_the_targets_units(tmp_path, capsys):
    """evaluate's MAE and MSE equal those of the predictions in grams (computed here with
    scikit-learn from predict's output), and its R² is scikit-learn's r2_score."""
    metrics = pytest.importorskip("sklearn.metrics")
    import pandas as pd

    out_dir = str(tmp_path / "reg")
    assert main(["fit", PENGUINS, "--target", "body_mass_g", "--drop-missing", "--epochs", "30", "--lr", "0.01",
                 "--out", out_dir, "--verbose", "0"]) == 0
    capsys.readouterr()
    assert main(["evaluate", out_dir, PENGUINS, "--drop-missing"]) == 0
    line = capsys.readouterr().out
    assert "errors in the units of 'body_mass_g'" in line
    values = dict(part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(" (")[0].split(", "))
    pred = tmp_path / "pred.csv"
    assert main(["predict", out_dir, PENGUINS, "--drop-missing", "-o", str(pred)]) == 0
    truth = pd.read_csv(PENGUINS).dropna()["body_mass_g"].to_numpy(float)
    got = pd.read_csv(pred)["prediction_body_mass_g"].to_numpy(float)
    assert float(values["mean_absolute_error"]) == pytest.approx(metrics.mean_absolute_error(truth, got), rel=2e-3)
    assert float(values["mean_squared_error"]) == pytest.approx(metrics.mean_squared_error(truth, got), rel=2e-3)
    assert float(values["r2_score"]) == pytest.approx(metrics.r2_score(truth, got), abs=2e-3)
    assert float(values["mean_absolute_error"]) > 50  # grams, not standardized units (about 0.3 there)
    report = open(os.path.join(out_dir, "report.md")).read()
    assert "Errors are in the units of `body_mass_g`" in report and "r2_score" in report
