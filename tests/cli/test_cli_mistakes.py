"""A user's mistakes on the command line: each is one line on stderr and exit code 2, never a
traceback; a closed output pipe ends quietly (issue 30, item 3). Every case runs the real
program in a subprocess."""

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tapegrad.cli.main import main

pytest.importorskip("pandas")
pytest.importorskip("safetensors")


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "tapegrad", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kwargs)


def one_line_error(out, *fragments):
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def numeric_csv(path, rows=60, header="a,b,y", seed=0):
    rng = np.random.default_rng(seed)
    lines = [header] + [f"{a:.4f},{b:.4f},{int(a + b > 0)}" for a, b in rng.normal(size=(rows, 2))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model folder trained on a small numeric CSV, and one trained on a CSV with a categorical column."""
    root = tmp_path_factory.mktemp("cli")
    data = numeric_csv(root / "numbers.csv")
    assert main(["fit", str(data), "--target", "y", "--epochs", "2", "--out", str(root / "model"), "--verbose",
                 "0"]) == 0
    other = root / "colors.csv"
    colors = ["red", "green", "blue"]
    other.write_text("a,b,y\n" + "".join(f"{i / 10},{colors[i % 3]},{i % 2}\n" for i in range(30)))
    assert main(["fit", str(other), "--target", "y", "--epochs", "1", "--out", str(root / "colors"), "--verbose",
                 "0"]) == 0
    return root


def test_data_path_is_a_folder(tmp_path):
    one_line_error(run("fit", tmp_path, "--target", "y", "--out", tmp_path / "m"), "is a folder; expected a CSV file")


def test_a_flipped_bit_in_the_model_file(trained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained / "model", folder)
    path = folder / "model.tapegrad"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.weights.safetensors")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x10  # inside the deflated data
    path.write_bytes(bytes(data))
    one_line_error(run("evaluate", folder, trained / "numbers.csv"), "cannot load the model in",
                   "entry 'model.weights.safetensors'")


def test_preprocessing_json_of_another_csv(trained, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(trained / "model", folder)
    shutil.copy(trained / "colors" / "preprocessing.json", folder / "preprocessing.json")
    one_line_error(run("evaluate", folder, trained / "colors.csv"), "preprocessing.json describes 4 input features",
                   "model.tapegrad takes 2 inputs")
    (folder / "preprocessing.json").write_text("{not json")
    one_line_error(run("predict", folder, trained / "colors.csv"), "cannot load the model in")


def test_out_naming_an_existing_file_is_refused_before_training(trained, tmp_path):
    existing = tmp_path / "report.txt"
    existing.write_text("keep me")
    out = run("fit", trained / "numbers.csv", "--target", "y", "--out", existing)
    one_line_error(out, "--out", "is an existing file")
    assert out.stdout == "" and existing.read_text() == "keep me"  # no "Task: ..." line: training never started
    one_line_error(run("predict", trained / "model", trained / "numbers.csv", "-o", tmp_path), "--output",
                   "is a folder; expected a file name")
    one_line_error(run("plot", "activations", "--out", existing / "a.png"), "is a file, so nothing can be written")


def test_closed_output_pipe_ends_quietly(trained, tmp_path):
    big = numeric_csv(tmp_path / "big.csv", rows=20000)  # more predictions than a pipe buffers
    proc = subprocess.Popen([sys.executable, "-m", "tapegrad", "predict", str(trained / "model"), str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("prediction_y")
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141 and err == ""
    if shutil.which("sh") and shutil.which("head"):
        shell = subprocess.run(f'"{sys.executable}" -m tapegrad predict "{trained / "model"}" "{big}" | head -1',
                               shell=True, capture_output=True, text=True, timeout=120)
        assert shell.stdout == "prediction_y,probability_0,probability_1\n" and shell.stderr == ""


def test_non_finite_numbers_are_refused(trained, tmp_path):
    bad = tmp_path / "inf.csv"
    lines = (trained / "numbers.csv").read_text().splitlines()
    lines[3] = "0.5,inf,1"
    bad.write_text("\n".join(lines) + "\n")
    one_line_error(run("fit", bad, "--target", "y", "--out", tmp_path / "m"),
                   "non-finite value inf in numeric column 'b' at data row 3 (line 4 of the file")
    one_line_error(run("evaluate", trained / "model", bad), "non-finite value inf in numeric column 'b'")
    target = tmp_path / "target.csv"
    target.write_text("a,y\n" + "".join(f"{i},{i * 1.5}\n" for i in range(30)) + "31,-inf\n")
    one_line_error(run("fit", target, "--target", "y", "--task", "regression", "--out", tmp_path / "m"),
                   "non-finite value -inf in numeric column 'y' at data row 31")


def test_duplicate_column_names_are_refused(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,y,y\n" + "".join(f"{i},{i + 1},{i % 2},{i % 3}\n" for i in range(20)))
    one_line_error(run("fit", dup, "--target", "y", "--out", tmp_path / "m"), "duplicate column names ['a', 'y']")


def test_a_file_that_is_not_text(tmp_path):
    binary = tmp_path / "data.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line_error(run("fit", binary, "--target", "y", "--out", tmp_path / "m"), "is not a readable CSV file")
