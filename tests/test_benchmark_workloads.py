"""The recurrent benchmark workloads compute what they claim: tapegrad (both steps), the
hand-written NumPy reference and PyTorch's nn.LSTM give the same losses from the same weights."""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import impl_numpy  # noqa: E402
import impl_tapegrad  # noqa: E402
import impl_torch  # noqa: E402
from workloads import WORKLOADS, batch  # noqa: E402


def test_small_lstm_workload_agrees_across_implementations():
    key = "W6"
    assert WORKLOADS[key]["kind"] == "lstm"
    steps = {"tapegrad": impl_tapegrad.make_step(key), "tape": impl_tapegrad.make_step(key, "tape"),
             "numpy": impl_numpy.make_step(key), "torch": impl_torch.make_step(key, "check")}
    batches = [batch(key, i) for i in range(3)]
    losses = {name: [step(*batches[i % 3]) for i in range(6)] for name, step in steps.items()}
    assert abs(losses["torch"][0] - np.log(83)) < 0.05
    for name in ("tapegrad", "tape", "numpy"):
        np.testing.assert_allclose(losses[name], losses["torch"], rtol=1e-5)
    assert losses["torch"][-1] < losses["torch"][0]  # the same batches again: the loss falls
