"""Every op: forward against NumPy, gradient against central finite differences (float64)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg

SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1, 3)]
BROADCAST_PAIRS = [(a, b) for a, b in itertools.product(SHAPES, SHAPES)
                   if np.broadcast_shapes(a, b) is not None]


def rand(shape, rng, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away_from(x, points, margin=0.1):
    """Push values at least ``margin`` away from kinks."""
    for p in points:
        near = np.abs(x - p) < margin
        x = np.where(near, p + margin * np.where(x >= p, 1, -1) * 2, x)
    return x


BINARY = {
    "add": (tg.add, np.add, None),
    "subtract": (tg.subtract, np.subtract, None),
    "multiply": (tg.multiply, np.multiply, None),
    "divide": (tg.divide, np.divide, "denominator"),
    "maximum": (tg.maximum, np.maximum, "separate"),
    "minimum": (tg.minimum, np.minimum, "separate"),
    "power": (tg.power, np.power, "positive_base"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_binary_ops_broadcasting(name, shapes):
    fn, ref, cond = BINARY[name]
    rng = np.random.default_rng(hash((name, shapes)) % 2**32)
    a, b = rand(shapes[0], rng), rand(shapes[1], rng)
    if cond == "denominator":
        b = away_from(b, [0.0], 0.5)
    if cond == "separate":
        b = a.mean() + away_from(b, [0.0], 0.3) if np.ndim(b) else b + 0.7
    if cond == "positive_base":
        a = np.abs(a) + 0.5
    np.testing.assert_allclose(fn(tg.constant(a), tg.constant(b)).numpy(), ref(a, b), rtol=1e-12)
    assert tg.gradcheck(fn, [a, b])


UNARY = {
    "exp": (tg.exp, np.exp, None),
    "log": (tg.log, np.log, "positive"),
    "log1p": (tg.log1p, np.log1p, "positive"),
    "expm1": (tg.expm1, np.expm1, None),
    "sqrt": (tg.sqrt, np.sqrt, "positive"),
    "square": (tg.square, np.square, None),
    "abs": (tg.abs, np.abs, [0.0]),
    "negative": (tg.negative, np.negative, None),
    "sigmoid": (tg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), None),
    "tanh": (tg.tanh, np.tanh, None),
    "relu": (tg.relu, lambda x: np.maximum(x, 0), [0.0]),
    "leaky_relu": (tg.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), [0.0]),
    "elu": (tg.elu, lambda x: np.where(x > 0, x, np.expm1(x)), [0.0]),
    "selu": (tg.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)), [0.0]),
    "softplus": (tg.softplus, lambda x: np.log1p(np.exp(x)), None),
    "softsign": (tg.softsign, lambda x: x / (1 + np.abs(x)), [0.0]),
    "swish": (tg.swish, lambda x: x / (1 + np.exp(-x)), None),
    "gelu_tanh": (lambda x: tg.gelu(x, approximate=True),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))), None),
    "hard_sigmoid": (tg.nn.ops_hard_sigmoid if hasattr(tg.nn, "ops_hard_sigmoid") else
                     __import__("tapegrad.ops", fromlist=["hard_sigmoid"]).hard_sigmoid,
                     lambda x: np.clip(x / 6 + 0.5, 0, 1), [-3.0, 3.0]),
    "power_scalar": (lambda x: x ** 3, lambda x: x ** 3, None),
    "clip": (lambda x: tg.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), [-0.5, 0.7]),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary_ops(name, shape):
    fn, ref, cond = UNARY[name]
    rng = np.random.default_rng(abs(hash((name, shape))) % 2**32)
    x = rand(shape, rng)
    if cond == "positive":
        x = np.abs(x) + 0.2
    elif isinstance(cond, list):
        x = away_from(x, cond)
    np.testing.assert_allclose(fn(tg.constant(x)).numpy(), ref(x), rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(fn, [x])


def test_gelu_exact_matches_erf():
    import math

    x = np.linspace(-4, 4, 41)
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(tg.gelu(tg.constant(x)).numpy(), ref, rtol=1e-12, atol=1e-15)
    assert tg.gradcheck(tg.gelu, [x[::4]], atol=1e-5)


AXES = [None, 0, -1, 1, (0, 2), (-1, 0)]
REDUCTIONS = {
    "sum": (tg.sum, np.sum),
    "mean": (tg.mean, np.mean),
    "max": (tg.max, np.max),
    "min": (tg.min, np.min),
    "prod": (tg.prod, np.prod),
    "var": (tg.var, np.var),
    "std": (tg.std, np.std),
    "logsumexp": (tg.logsumexp, lambda x, axis=None, keepdims=False: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    fn, ref = REDUCTIONS[name]
    rng = np.random.default_rng(7)
    x = rng.permutation(24).reshape(2, 3, 4) / 10.0 + 0.5  # distinct values: no ties
    f = lambda t: fn(t, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(f(tg.constant(x)).numpy(), ref(x, axis=axis, keepdims=keepdims), rtol=1e-10)
    assert tg.gradcheck(f, [x])


def test_prod_gradient_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]])
    assert tg.gradcheck(lambda t: tg.prod(t, axis=1), [x])


def test_reduction_on_scalar_and_bad_axis():
    assert float(tg.sum(tg.constant(3.0))) == 3.0
    with pytest.raises(ValueError, match="axis 3 is out of range for a tensor of rank 2"):
        tg.sum(tg.zeros((2, 2)), axis=3)


def test_argmax_sign_no_gradient():
    x = tg.Variable([1.0, 3.0, 2.0])
    assert int(tg.argmax(x)) == 1 and int(tg.argmin(x)) == 0
    assert not tg.sign(x).requires_grad


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 2)), ((4, 1, 2, 3), (3, 3, 1))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    rng = np.random.default_rng(3)
    a, b = rand(shapes[0], rng), rand(shapes[1], rng)
    np.testing.assert_allclose(tg.matmul(tg.constant(a), tg.constant(b)).numpy(), a @ b, rtol=1e-12)
    assert tg.gradcheck(tg.matmul, [a, b])


SHAPE_CASES = {
    "reshape": (lambda t: tg.reshape(t, (3, -1)), lambda x: x.reshape(3, -1)),
    "transpose": (lambda t: tg.transpose(t), lambda x: x.T),
    "transpose_axes": (lambda t: tg.transpose(t, (1, 2, 0)), lambda x: x.transpose(1, 2, 0)),
    "squeeze": (lambda t: tg.squeeze(t[:1]), lambda x: x[:1].squeeze()),
    "expand_dims": (lambda t: tg.expand_dims(t, -1), lambda x: x[..., None]),
    "broadcast_to": (lambda t: tg.broadcast_to(t[:, :1], (2, 3, 4)), lambda x: np.broadcast_to(x[:, :1], (2, 3, 4))),
    "flatten": (tg.flatten, lambda x: x.reshape(-1)),
    "pad": (lambda t: tg.pad(t, [[1, 0], [0, 2], [1, 1]]), lambda x: np.pad(x, [[1, 0], [0, 2], [1, 1]])),
    "tile": (lambda t: tg.tile(t, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3))),
    "tile_more_dims": (lambda t: tg.tile(t, (2, 1, 1, 2)), lambda x: np.tile(x, (2, 1, 1, 2))),
    "getitem_basic": (lambda t: t[1, ::2, -1], lambda x: x[1, ::2, -1]),
    "getitem_none_ellipsis": (lambda t: t[None, ..., 1:], lambda x: x[None, ..., 1:]),
    "getitem_repeated": (lambda t: t[:, [0, 0, 2]], lambda x: x[:, [0, 0, 2]]),
    "getitem_mask": (lambda t: t[t > 0.5], lambda x: x[x > 0.5]),
    "getitem_int_array": (lambda t: t[np.array([1, 1, 0])], lambda x: x[np.array([1, 1, 0])]),
    "embedding_lookup": (lambda t: tg.ops.embedding_lookup(t, np.array([[1, 0], [1, 1]])),
                         lambda x: x[np.array([[1, 0], [1, 1]])]),
    "concat": (lambda t: tg.concat([t, t * 2.0], axis=1), lambda x: np.concatenate([x, x * 2], axis=1)),
    "stack": (lambda t: tg.stack([t, t * 2.0], axis=-1), lambda x: np.stack([x, x * 2], axis=-1)),
    "split": (lambda t: tg.split(t, [1, 2], axis=1)[1], lambda x: np.split(x, [1], axis=1)[1]),
    "where": (lambda t: tg.where(t > 0.5, t, t * t), lambda x: np.where(x > 0.5, x, x * x)),
    "softmax": (lambda t: tg.softmax(t, axis=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    "log_softmax": (lambda t: tg.log_softmax(t), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "cast": (lambda t: tg.cast(t, "float32") * 1.0, lambda x: x.astype(np.float32)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_and_index_ops(name):
    fn, ref = SHAPE_CASES[name]
    x = np.random.default_rng(5).uniform(0, 1, size=(2, 3, 4))
    np.testing.assert_allclose(fn(tg.constant(x)).numpy(), ref(x), rtol=1e-6)
    if name != "cast":
        assert tg.gradcheck(fn, [x])


def test_shape_errors_name_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        tg.reshape(tg.zeros((2, 3)), (4, 2))
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\) and \(2, 4\) differ outside axis 0"):
        tg.concat([tg.zeros((2, 3)), tg.zeros((2, 4))])
    with pytest.raises(ValueError, match="cannot split axis 0 of size 3 into 2"):
        tg.split(tg.zeros((3,)), 2)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_property_broadcast_binary(data):
    shape_a = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), label="a")
    shape_b = data.draw(hnp.broadcastable_shapes(shape_a, min_dims=0, max_dims=3, max_side=3), label="b")
    elems = st.floats(-3, 3, allow_nan=False, width=64)
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=elems))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=st.floats(0.5, 3, width=64)))
    op = data.draw(st.sampled_from(["add", "subtract", "multiply", "divide"]))
    fn, ref, _ = BINARY[op]
    np.testing.assert_allclose(fn(tg.constant(a), tg.constant(b)).numpy(), ref(a, b), rtol=1e-12)
    assert tg.gradcheck(fn, [a, b])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_property_reductions(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    # distinct values on a 0.25 grid: far from the ties where max's gradient jumps
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-24, 24).map(lambda v: v / 4), unique=True))
    axis = data.draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
    keepdims = data.draw(st.booleans())
    name = data.draw(st.sampled_from(["sum", "mean", "max", "logsumexp"]))
    fn, ref = REDUCTIONS[name]
    f = lambda t: fn(t, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(f(tg.constant(x)).numpy(), ref(x, axis=axis, keepdims=keepdims), rtol=1e-10)
    assert tg.gradcheck(f, [x])


def test_fused_losses_gradients():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5))
    onehot = np.eye(5)[rng.integers(0, 5, 4)]
    assert tg.gradcheck(lambda l: tg.nn.softmax_cross_entropy_with_logits(onehot, l), [logits])
    labels = rng.integers(0, 5, 4)
    assert tg.gradcheck(lambda l: tg.nn.sparse_softmax_cross_entropy_with_logits(labels, l), [logits])
    y = rng.integers(0, 2, (4, 1)).astype(float)
    assert tg.gradcheck(lambda l: tg.nn.sigmoid_cross_entropy_with_logits(y, l), [logits[:, :1]])
    w, b = rng.normal(size=(5, 3)), rng.normal(size=(3,))
    assert tg.gradcheck(lambda x, w, b: tg.ops.linear(x, w, b), [logits, w, b])
    assert tg.gradcheck(lambda x, w, b: tg.ops.linear(x, w, b), [rng.normal(size=(2, 4, 5)), w, b])


def test_cross_entropy_mean_form_gradients():
    """The mean over every sample of the per-sample cross-entropies (what the losses compute),
    over leading axes and another class axis."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 5))
    labels = rng.integers(0, 5, (2, 3))
    f = lambda l: tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels, l))
    assert tg.gradcheck(f, [logits])
    per_sample = tg.nn.sparse_softmax_cross_entropy_with_logits(labels, tg.constant(logits)).numpy()
    assert float(f(tg.constant(logits))) == pytest.approx(per_sample.mean(), rel=1e-12)
    soft = rng.dirichlet(np.ones(2), size=(5, 3)).transpose(2, 1, 0)  # class axis 0, rows sum to 1
    g = lambda l: tg.reduce_mean(tg.nn.softmax_cross_entropy_with_logits(soft, l, axis=0))
    assert tg.gradcheck(g, [logits[:2]])
    per_sample = tg.nn.softmax_cross_entropy_with_logits(soft, tg.constant(logits[:2]), axis=0).numpy()
    assert float(g(tg.constant(logits[:2]))) == pytest.approx(per_sample.mean(), rel=1e-12)
    y = rng.integers(0, 2, logits.shape).astype(float)
    h = lambda l: tg.reduce_mean(tg.nn.sigmoid_cross_entropy_with_logits(y, l))
    assert tg.gradcheck(h, [logits])
    per_element = tg.nn.sigmoid_cross_entropy_with_logits(y, tg.constant(logits)).numpy()
    assert float(h(tg.constant(logits))) == pytest.approx(per_element.mean(), rel=1e-12)


def test_linear_then_relu_matches_the_closed_form():
    """relu(x @ w + b) from the core's nodes: values and gradients by hand, with exact zeros
    before the ReLU (the fused ``tapegrad.fast.nodes.Linear`` is checked in tests/fast/test_nodes.py)."""
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    x[0] = 0.0
    b[1] = 0.0  # row 0, column 1 is exactly 0 before the ReLU: its gradient must be 0 (relu'(0) = 0)
    weights = rng.normal(size=(6, 5))
    z = x @ w + b
    mask = (z > 0).astype(float)
    xv, wv, bv = (tg.Variable(a, dtype="float64") for a in (x, w, b))
    with tg.GradientTape() as tape:
        out = tg.relu(tg.ops.linear(xv, wv, bv))
        loss = tg.reduce_sum(out * weights)
    gx, gw, gb = tape.gradient(loss, [xv, wv, bv])
    gz = weights * mask
    np.testing.assert_allclose(out.numpy(), np.maximum(z, 0.0), rtol=1e-14)
    np.testing.assert_allclose(gx.numpy(), gz @ w.T, rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), x.T @ gz, rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), gz.sum(0), rtol=1e-12)
    assert gz[0, 1] == 0.0 and z[0, 1] == 0.0
    x2 = rng.normal(size=(2, 3, 4))
    assert tg.gradcheck(lambda x, w, b: tg.relu(tg.ops.linear(x, w, b)), [x2, w, b])


def test_dense_relu_is_matmul_add_relu_nodes_with_their_values():
    """The core Dense layer is ``matmul``, ``add(bias)`` and its activation: three nodes (the
    replayed step fuses them into ``tapegrad.fast.nodes.Linear``)."""
    from tapegrad.ops.math import Add, MatMul
    from tapegrad.ops.nn import Relu

    layer = tg.layers.Dense(3, activation="relu")
    x = tg.constant(np.random.default_rng(0).normal(size=(5, 4)))
    out = layer(x)
    assert type(out._ctx) is Relu
    (added,) = out._ctx.parents
    assert type(added._ctx) is Add and added._ctx.parents[1] is layer.bias
    product = added._ctx.parents[0]
    assert type(product._ctx) is MatMul and product._ctx.parents == (None, layer.kernel)  # x needs no gradient
    z = x.numpy() @ layer.kernel.numpy() + layer.bias.numpy()
    assert (z < 0).any() and (z > 0).any()
    np.testing.assert_allclose(product.numpy(), x.numpy() @ layer.kernel.numpy(), rtol=1e-6)
    np.testing.assert_allclose(added.numpy(), z, rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), np.maximum(z, 0), rtol=1e-6)


def test_fused_losses_are_finite_for_huge_logits():
    logits = tg.Variable([[1e4, -1e4]], dtype="float64")
    with tg.GradientTape() as tape:
        l1 = tg.reduce_sum(tg.nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], logits))
        l2 = tg.reduce_sum(tg.nn.sigmoid_cross_entropy_with_logits([[0.0, 1.0]], logits))
        total = l1 + l2
    g = tape.gradient(total, logits).numpy()
    assert np.isfinite(total.numpy()) and np.isfinite(g).all()
    assert float(l1) == pytest.approx(2e4)


def test_sparse_cross_entropy_over_leading_axes_and_extreme_logits():
    """Labels of shape (2, 3) over logits (2, 3, 5): the gradient by finite differences, and the
    values against the closed form log-sum-exp minus the label's logit (stable at +-1e4)."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 3, 5))
    labels = rng.integers(0, 5, (2, 3))
    weights = np.arange(1, 7).reshape(2, 3)
    assert tg.gradcheck(lambda l: tg.nn.sparse_softmax_cross_entropy_with_logits(labels, l) * weights, [logits])
    big = logits * 1e4
    ours = tg.nn.sparse_softmax_cross_entropy_with_logits(labels, tg.constant(big)).numpy()
    m = big.max(axis=-1, keepdims=True)
    ref = (np.log(np.exp(big - m).sum(-1)) + m[..., 0]) - np.take_along_axis(big, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_sparse_cross_entropy_mean_with_masked_and_infinite_logits():
    """The mean of the per-sample values: a -inf logit (a masked class) must give the closed
    form, and a label on a masked class an infinite loss."""
    logits = np.array([[0.5, -np.inf, 2.0], [1.0, 0.0, -1.0]])
    labels = np.array([0, 2])
    closed = np.mean([np.log(np.exp(0.5) + np.exp(2.0)) - 0.5, np.log(np.e + 1 + np.exp(-1)) + 1.0])
    ours = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels, tg.constant(logits)))
    assert float(ours) == pytest.approx(closed, rel=1e-14)
    with np.errstate(invalid="ignore"):
        per_sample = tg.nn.sparse_softmax_cross_entropy_with_logits(np.array([1, 2]), tg.constant(logits))
        masked = tg.reduce_mean(per_sample)
    assert float(masked) == np.inf


def test_sparse_cross_entropy_rejects_labels_outside_the_classes():
    logits = tg.constant(np.zeros((3, 4)))
    for bad, lo, hi in (([0, -1, 3], -1, 3), ([0, 4, 1], 0, 4)):
        with pytest.raises(ValueError, match=rf"labels must be in \[0, 4\), received values from {lo} to {hi}"):
            tg.nn.sparse_softmax_cross_entropy_with_logits(np.array(bad), logits)


def test_dropout_op_gradient_scaling_and_bad_rate():
    x = np.random.default_rng(0).normal(size=(6, 5))
    assert tg.gradcheck(lambda t: tg.ops.dropout(t, 0.3, rng=np.random.default_rng(5)), [x])
    out = tg.ops.dropout(tg.ones((2000, 10), dtype="float64"), 0.25, rng=np.random.default_rng(1)).numpy()
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert abs((out == 0).mean() - 0.25) < 0.02
    shared = tg.ops.dropout(tg.ones((4, 6)), 0.5, noise_shape=(1, 6), rng=np.random.default_rng(2)).numpy()
    assert (shared == shared[0]).all()  # one draw broadcast over the batch axis
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\), received 1.0"):
        tg.ops.dropout(tg.ones((2,)), 1.0)
