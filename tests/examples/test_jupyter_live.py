"""Training as a learner sees it in Jupyter, in a real kernel: a live progress bar, pictures that
display without ``%matplotlib``, and LivePlot's curves redrawn in place. The checks read the
outputs the notebook records and the display messages the kernel sent."""

from __future__ import annotations

import pytest

from nbkernel import execute, images, nbformat, stream_text

SETUP = """
import time
import sys
import numpy as np
import tapegrad as tg

x = np.random.default_rng(0).normal(size=(80, 2)).astype(np.float32)
y = (x[:, :1] + x[:, 1:] > 0).astype(np.float32)

def model():
    tg.utils.set_random_seed(0)
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m

slow = tg.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.15))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        SETUP,
        "_ = model().fit(x, y, batch_size=8, epochs=1, verbose=1, callbacks=[slow])",
        "_ = model().fit(x, y, batch_size=8, epochs=1, callbacks=[slow])  # verbose='auto'",
        "_ = model().fit(x, y, batch_size=8, epochs=2, verbose=2)",
        "tg.viz.plot_activations()",
        "print('matplotlib.pyplot' in sys.modules)",
        "live = tg.callbacks.LivePlot(every=1, data=(x, y))\n"
        "_ = model().fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0, callbacks=[live])",
        "print(live.draws)",
    )]
    folder = tmp_path_factory.mktemp("live")
    client = execute(nb, folder)
    return nb, client, folder


@pytest.mark.parametrize("cell", [1, 2], ids=["verbose=1", "verbose=auto"])
def test_fit_draws_a_bar_updated_in_place_while_the_epoch_runs(run, cell):
    nb, _, _ = run
    text = stream_text(nb.cells[cell])
    assert text.startswith("Epoch 1/1\n")
    states = [s for s in text.split("\r") if s.strip()]
    # 10 steps of 0.15 s: the bar is redrawn (over itself, after a carriage return) part-way, not only at the end
    partial = [s for s in states if s.split("/")[0].strip().isdigit() and 0 < int(s.split("/")[0]) < 10]
    assert len(partial) >= 3, states
    assert states[-1].startswith("10/10 ") and "loss: " in states[-1] and "accuracy: " in states[-1]


def test_verbose_2_prints_one_line_per_epoch(run):
    nb, _, _ = run
    lines = stream_text(nb.cells[3]).strip().split("\n")
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - ") and "\r" not in stream_text(nb.cells[3])


def test_a_viz_figure_displays_inline_without_matplotlib_magic(run):
    nb, _, _ = run
    (png,) = images(nb.cells[4])
    assert len(png.data["image/png"]) > 10_000
    assert stream_text(nb.cells[5]).strip() == "False"  # pyplot was never imported: the figure shows itself


def test_liveplot_redraws_one_picture_in_place(run):
    nb, client, folder = run
    cell = nb.cells[6]
    assert len(images(cell)) == 1  # one output, replaced: not one picture per epoch
    assert client.messages[6].count("display_data") == 1
    assert client.messages[6].count("update_display_data") == 3  # epochs 2, 3 and 4 redraw it
    assert stream_text(nb.cells[7]).strip() == "4"
    assert not list(folder.glob("*.png"))  # in a notebook nothing is written unless a path is given
