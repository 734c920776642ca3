"""Gradients against PyTorch autograd (skipped when torch is not installed)."""

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def both(tg_fn, torch_fn, *arrays):
    leaves = [tg.Variable(a, dtype="float64") for a in arrays]
    with tg.GradientTape() as tape:
        out = tg.reduce_sum(tg_fn(*leaves) * 1.0)
    grads = tape.gradient(out, leaves)
    tl = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    tout = torch_fn(*tl).sum()
    tout.backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(grads, tl):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


CASES = {
    "matmul_batched": (tg.matmul, torch.matmul, [(5, 2, 3), (3, 4)]),
    "broadcast_mul": (tg.multiply, torch.mul, [(2, 1, 3), (4, 1)]),
    "div": (tg.divide, torch.div, [(2, 3), (3,)]),
    "softmax": (lambda x: tg.softmax(x, axis=0), lambda x: torch.softmax(x, 0), [(4, 3)]),
    "log_softmax": (tg.log_softmax, lambda x: torch.log_softmax(x, -1), [(4, 3)]),
    "logsumexp": (lambda x: tg.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), [(4, 3)]),
    "gelu_tanh": (lambda x: tg.gelu(x, approximate=True), lambda x: torch.nn.functional.gelu(x, approximate="tanh"), [(7,)]),
    "gelu": (tg.gelu, torch.nn.functional.gelu, [(7,)]),
    "elu": (tg.elu, torch.nn.functional.elu, [(7,)]),
    "selu": (tg.selu, torch.nn.functional.selu, [(7,)]),
    "softplus": (tg.softplus, torch.nn.functional.softplus, [(7,)]),
    "silu": (tg.swish, torch.nn.functional.silu, [(7,)]),
    "var": (lambda x: tg.var(x, axis=0), lambda x: torch.var(x, 0, unbiased=False), [(5, 3)]),
    "std": (lambda x: tg.std(x, axis=(0, 1)), lambda x: torch.std(x, (0, 1), unbiased=False), [(5, 3, 2)]),
    "prod": (lambda x: tg.prod(x, axis=1), lambda x: torch.prod(x, 1), [(3, 4)]),
    "pad": (lambda x: tg.pad(x, [[1, 2], [0, 1]]), lambda x: torch.nn.functional.pad(x, (0, 1, 1, 2)), [(2, 3)]),
    "index": (lambda x: x[[0, 0, 1], 1:], lambda x: x[[0, 0, 1], 1:], [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(name):
    tg_fn, torch_fn, shapes = CASES[name]
    rng = np.random.default_rng(11)
    arrays = [rng.uniform(0.2, 2.0, size=s) * rng.choice([-1, 1], size=s) for s in shapes]
    if name in ("div",):
        arrays[1] = np.abs(arrays[1]) + 0.5
    both(tg_fn, torch_fn, *arrays)


def test_cross_entropy_against_torch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)) * 5
    labels = rng.integers(0, 4, 6)
    both(lambda l: tg.nn.sparse_softmax_cross_entropy_with_logits(labels, l),
         lambda l: torch.nn.functional.cross_entropy(l, torch.tensor(labels), reduction="none"), logits)
    y = rng.integers(0, 2, (6, 4)).astype(float)
    both(lambda l: tg.nn.sigmoid_cross_entropy_with_logits(y, l),
         lambda l: torch.nn.functional.binary_cross_entropy_with_logits(l, torch.tensor(y), reduction="none"), logits)


def test_cross_entropy_mean_form_against_torch():
    """The losses' default reduction from logits (per-sample values, then their mean):
    PyTorch's ``reduction="mean"``, value and gradient. (The replayed step's chain of the same
    rules, ``tapegrad.fast.nodes.Chain``, is checked against PyTorch in tests/fast/test_nodes.py.)"""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(7, 4)) * 3
    labels = rng.integers(0, 4, 7)
    both(lambda l: tg.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, l),
         lambda l: torch.nn.functional.cross_entropy(l, torch.tensor(labels)), logits)
    both(lambda l: tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels, l)),
         lambda l: torch.nn.functional.cross_entropy(l, torch.tensor(labels)), logits)
    soft = rng.dirichlet(np.ones(4), size=7)
    both(lambda l: tg.losses.CategoricalCrossentropy(from_logits=True)(soft, l),
         lambda l: torch.nn.functional.cross_entropy(l, torch.tensor(soft)), logits)
    y = rng.integers(0, 2, (7, 4)).astype(float)
    both(lambda l: tg.losses.BinaryCrossentropy(from_logits=True)(y, l),
         lambda l: torch.nn.functional.binary_cross_entropy_with_logits(l, torch.tensor(y)), logits)
