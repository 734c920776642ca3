"""The example scripts as a learner runs them: options on the command line, progress while they
train, and the path of every picture they write."""

import os
import re
import subprocess
import sys

import pytest

from test_examples import HERE, load

SCRIPTS = sorted(f for f in os.listdir(HERE) if re.match(r"\d\d_.*\.py$", f))
TRAINS_OR_DRAWS = {"01_tensors.py": ["--out"]} | {f: ["--epochs", "--out"] for f in SCRIPTS if f[:2] >= "04"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_the_options_with_their_defaults(script):
    out = run(os.path.join(HERE, script), "--help")
    assert out.returncode == 0, out.stderr
    for option in TRAINS_OR_DRAWS.get(script, []):
        assert option in out.stdout, f"{script}: no {option}"
    assert out.stdout.count("(default") >= len(TRAINS_OR_DRAWS.get(script, []))


def test_gradient_descent_takes_epochs_and_out_and_says_where(tmp_path):
    target = tmp_path / "pics" / "gd.png"
    out = run(os.path.join(HERE, "04_gradient_descent.py"), "--epochs", "40", "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert "after 40 steps" in out.stdout
    assert f"wrote the picture: {target}" in out.stdout and target.stat().st_size > 1000


def test_overfitting_shows_progress_and_where_each_picture_is(tmp_path, capsys):
    load("07_overfitting.py").main(out=str(tmp_path), epochs=20)
    text = capsys.readouterr().out
    assert text.count("  plain: epoch ") == 5 and "  plain: epoch 20/20 - loss " in text  # every 4 epochs
    for name in ("overfitting_curves.png", "overfit_boundary.png", "early_stopping_curves.png"):
        assert f"wrote the picture: {tmp_path / name}" in text and (tmp_path / name).exists()
