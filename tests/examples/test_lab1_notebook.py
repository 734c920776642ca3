"""The course's Lab 1 as a notebook (examples/notebooks/lab1_intro.ipynb), run top to bottom in a
real Jupyter kernel; the checks read the outputs the notebook recorded."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from nbkernel import cells_tagged, execute, images, nbformat, numbers, stream_text

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "notebooks", "lab1_intro.ipynb")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    execute(nb, tmp_path_factory.mktemp("lab1"))
    return nb


def one(nb, tag):
    (cell,) = cells_tagged(nb, tag)
    assert not [o for o in cell.outputs if o.output_type == "error"]
    return cell


def test_every_cell_ran_without_an_error(lab):
    code = [c for c in lab.cells if c.cell_type == "code"]
    assert len(code) > 20 and all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_string_and_higher_rank_tensors(lab):
    assert stream_text(one(lab, "rank-0")) == "`sport` is a 0-d Tensor\n`number` is a 0-d Tensor\n"
    text = stream_text(one(lab, "rank-1"))
    assert "`sports` is a 1-d Tensor with shape: tg.Tensor([2]" in text
    assert "`numbers` is a 1-d Tensor with shape: tg.Tensor([3]" in text
    assert stream_text(one(lab, "rank-4")) == "matrix: (2, 3)  images: (10, 256, 256, 3)\n"


def test_operations_and_their_graph(lab):
    assert stream_text(one(lab, "add")).count("tg.Tensor(76,") == 2  # 15 + 61
    assert "tg.Tensor(6.," in stream_text(one(lab, "func"))  # (1.5 + 2.5) * (2.5 - 1)
    dot = stream_text(one(lab, "graph"))
    assert dot.startswith("digraph") and all(f'label="{op}"' in dot for op in ("Add", "Sub", "Mul"))


def test_the_perceptron_from_scratch_matches_its_closed_form(lab):
    ours, by_hand = stream_text(one(lab, "perceptron")).strip().split("\n")
    np.testing.assert_allclose(numbers(ours), numbers(by_hand), rtol=1e-6)
    assert len(numbers(ours)) == 3 and all(0 < v < 1 for v in numbers(ours))


def test_sequential_and_the_identity_flag(lab):
    out = numbers(stream_text(one(lab, "sequential")))
    assert len(out) == 3 and all(0 < v < 1 for v in out)
    text = stream_text(one(lab, "identity"))
    assert "network identity output: [[1. 2.]]" in text


def test_gradient_descent_rises_from_its_start_to_4(lab):
    cell = one(lab, "gradient-descent")
    text = stream_text(cell)
    x0 = float(re.search(r"Initializing x=\[\[(-?[\d.]+)\]\]", text).group(1))
    checkpoints = numbers(text.split("499:")[1])
    steps = (0, 100, 200, 300, 400, 499)
    # x_{k+1} = x_k - lr * 2 (x_k - 4), so after step k (history[k]): 4 - (4 - x0) (1 - 2 lr)^(k+1)
    expected = [4 - (4 - x0) * (1 - 2e-2) ** (k + 1) for k in steps]
    np.testing.assert_allclose(checkpoints, expected, atol=2e-5)
    assert checkpoints[0] < 3.5 and np.all(np.diff(checkpoints) > 0) and abs(checkpoints[-1] - 4) < 1e-3
    assert len(images(cell)) == 1  # the plot of the history


def test_the_trained_model_answers_the_lectures_student(lab):
    text = stream_text(one(lab, "answer"))
    p = float(re.search(r"P\(pass\) = ([\d.]+) -> pass", text).group(1))
    # The data's rule gives this student sigmoid(0.6 (4 - 3) + 0.7 (5 - 4)) = 0.79 of passing.
    assert 0.6 < p < 0.95
    assert float(re.search(r"unseen students: ([\d.]+)%", text).group(1)) > 80


def test_training_shows_a_live_bar_and_curves(lab):
    cell = one(lab, "fit")
    text = stream_text(cell)
    assert text.startswith("Epoch 1/60\n") and text.count("\r10/10 ") >= 10
    assert len(images(cell)) == 1  # LivePlot: one picture, redrawn in place


def test_the_lectures_pictures_are_shown(lab):
    pictures = cells_tagged(lab, "picture")
    assert len(pictures) == 5
    for cell in pictures:
        (png,) = images(cell)
        assert len(png.data["image/png"]) > 10_000  # base64 of a real picture, not an empty canvas
