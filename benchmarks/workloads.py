"""The benchmark workloads, with the data and initial weights every implementation shares.

Weights are drawn here with NumPy (Glorot-uniform) in tapegrad's layouts: dense kernels
``(in, out)``, conv kernels ``(kh, kw, in, out)``; other implementations transpose them.
"""

from __future__ import annotations

import numpy as np

WORKLOADS = {
    "W1": {"name": "tiny", "kind": "mlp", "sizes": [2, 16, 16, 1], "batch": 32, "loss": "bce", "opt": "adam", "lr": 1e-3},
    "W2": {"name": "mnist-mlp", "kind": "mlp", "sizes": [784, 256, 256, 10], "batch": 128, "loss": "ce",
           "opt": "adam", "lr": 1e-3},
    "W3": {"name": "lenet", "kind": "lenet", "batch": 64, "loss": "ce", "opt": "adam", "lr": 1e-3},
    "W4": {"name": "big-batch", "kind": "mlp", "sizes": [784, 1024, 1024, 10], "batch": 1024, "loss": "ce",
           "opt": "sgd", "lr": 0.01},
    # issue 32's workloads, which tapegrad was never tuned for: a CIFAR-sized CNN and an MLP width sweep
    # 20 Adam steps of this CNN from the same weights drift apart by rounding alone: JAX and
    # PyTorch differ by 2.7e-4 relative, tapegrad and either by 1.6-1.7e-4; the check allows 1e-3
    "C1": {"name": "cifar-cnn", "kind": "cnn", "input": (32, 32, 3), "batch": 128, "loss": "ce", "opt": "adam",
           "lr": 1e-3, "loss_check_rtol": 1e-3},
    # the wide ones drift apart by rounding alone over 20 Adam steps: JAX and PyTorch by 3.3e-3
    # (1024) and 6.5e-3 (2048) relative, tapegrad within that of either; their check allows 1e-2
    **{f"M{w}": {"name": f"mlp-{w}", "kind": "mlp", "sizes": [784, w, w, 10], "batch": 128, "loss": "ce",
                 "opt": "adam", "lr": 1e-3, **({"loss_check_rtol": 1e-2} if w >= 1024 else {})}
       for w in (64, 256, 1024, 2048)},
    # the music lab's model (Embedding -> LSTM with return_sequences -> Dense over the vocabulary), softmax
    # CE over every step; W6 is a small version of it
    "W5": {"name": "lab-lstm", "kind": "lstm", "vocab": 83, "embed": 256, "units": 1024, "batch": 8, "seq": 100,
           "loss": "ce", "opt": "adam", "lr": 5e-3},
    "W6": {"name": "small-lstm", "kind": "lstm", "vocab": 83, "embed": 64, "units": 128, "batch": 32, "seq": 50,
           "loss": "ce", "opt": "adam", "lr": 5e-3},
}

LENET = [("conv", 5, 1, 6, "same"), ("pool",), ("conv", 5, 6, 16, "valid"), ("pool",), ("flatten",),
         ("dense", 400, 120), ("dense", 120, 84), ("dense", 84, 10, "last")]


CIFAR = [("conv", 3, 3, 32, "same"), ("conv", 3, 32, 32, "valid"), ("pool",), ("conv", 3, 32, 64, "same"),
         ("pool",), ("flatten",), ("dense", 7 * 7 * 64, 256), ("dense", 256, 10, "last")]


def layers_of(key: str) -> list:
    """The layer list of a convolutional workload: LeNet for W3, the CIFAR-sized CNN for C1."""
    return CIFAR if WORKLOADS[key]["kind"] == "cnn" else LENET


def input_shape(key: str) -> tuple:
    """One sample's shape (channels last)."""
    spec = WORKLOADS[key]
    if spec["kind"] == "mlp":
        return (spec["sizes"][0],)
    return spec.get("input", (28, 28, 1))


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def weights(key: str) -> list[np.ndarray]:
    """Initial weights in order: kernel, bias for each layer."""
    spec = WORKLOADS[key]
    rng = np.random.default_rng(1234)
    out = []
    if spec["kind"] == "lstm":
        # Keras's layout: embeddings, LSTM kernel (embed, 4 units), recurrent kernel (units, 4 units) and
        # bias (gates i, f, c, o; the forget gate's starts at 1), dense kernel and bias
        v, e, u = spec["vocab"], spec["embed"], spec["units"]
        bias = np.zeros(4 * u, np.float32)
        bias[u:2 * u] = 1
        return [rng.uniform(-0.05, 0.05, (v, e)).astype(np.float32), glorot(rng, (e, 4 * u), e, 4 * u),
                glorot(rng, (u, 4 * u), u, 4 * u), bias, glorot(rng, (u, v), u, v), np.zeros(v, np.float32)]
    if spec["kind"] == "mlp":
        s = spec["sizes"]
        for a, b in zip(s[:-1], s[1:]):
            out += [glorot(rng, (a, b), a, b), np.zeros(b, np.float32)]
        return out
    for layer in layers_of(key):
        if layer[0] == "conv":
            k, cin, cout = layer[1], layer[2], layer[3]
            out += [glorot(rng, (k, k, cin, cout), k * k * cin, k * k * cout), np.zeros(cout, np.float32)]
        elif layer[0] == "dense":
            out += [glorot(rng, (layer[1], layer[2]), layer[1], layer[2]), np.zeros(layer[2], np.float32)]
    return out


def batch(key: str, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A batch of inputs and labels (float labels (n, 1) for BCE, int64 classes for CE)."""
    spec = WORKLOADS[key]
    rng = np.random.default_rng(100 + step)
    n = spec["batch"]
    if spec["kind"] == "lstm":  # character ids and the next-character targets
        ids = rng.integers(0, spec["vocab"], (n, spec["seq"] + 1))
        return ids[:, :-1].astype(np.int64), ids[:, 1:].astype(np.int64)
    if spec["kind"] != "mlp":
        x = rng.random((n,) + input_shape(key), dtype=np.float32)
    else:
        x = rng.normal(size=(n, spec["sizes"][0])).astype(np.float32)
    if spec["loss"] == "bce":
        y = (x[:, :1] * x[:, 1:2] > 0).astype(np.float32)
    else:
        y = rng.integers(0, 10, n).astype(np.int64)
    return x, y
