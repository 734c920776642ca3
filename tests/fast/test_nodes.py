"""The fast wing's fused nodes (``tapegrad.fast.nodes``) and a loss's rules (``tapegrad.fast.losses``).

Each fused node is checked three ways: against an independent reference (PyTorch, or the
closed form) in float64, by finite differences (``tg.gradcheck``, float64), and against the
core's unfused nodes that a replayed training step replaces by it: forward value and input
gradients equal bit for bit (``np.array_equal``) in float32 on random data, as the replay's
promise ("the same weights as the eager step, bit for bit") requires."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.fast.losses import loss_rules
from tapegrad.fast.nodes import Chain, ConvRelu, Linear
from tapegrad.ops.conv import conv2d, max_pool2d, same_padding

CONV_CASES = [(1, 1, "valid"), (2, 1, "same"), (1, 2, "same"), (2, 1, "valid")]
POOLS = [None, (2, 2), (3, 2)]


def _conv_relu(x, k, b, stride, dilation, padding, pool):
    """``ConvRelu.apply`` with the settings a replayed step gives it (as ``conv2d`` builds them)."""
    args = (x, k) if b is None else (x, k, b)
    return ConvRelu.apply(*args, stride=(stride, stride), dilation=(dilation, dilation), padding=padding, pool=pool)


def _conv_data(rng, dtype=np.float64):
    x, k, b = rng.normal(size=(2, 9, 8, 2)), rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4)
    b[0] = -100.0  # filter 0 is negative everywhere: all its gradients are cut by the ReLU
    return x.astype(dtype), k.astype(dtype), b.astype(dtype)


# -- ConvRelu ------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv_relu_against_torch(stride, dilation, padding, pool):
    """Values and gradients of relu(conv2d) (then max-pooling) against PyTorch, float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x, k, b = _conv_data(rng)
    xt, kt, bt = (torch.tensor(a, requires_grad=True) for a in (x, k, b))
    xin = xt.permute(0, 3, 1, 2)
    if padding == "same":
        ph, pw = same_padding(9, 3, stride, dilation), same_padding(8, 3, stride, dilation)
        xin = torch.nn.functional.pad(xin, (pw[0], pw[1], ph[0], ph[1]))
    ref = torch.relu(torch.nn.functional.conv2d(xin, kt.permute(3, 2, 0, 1), bt, stride=stride, dilation=dilation))
    if pool is not None:
        ref = torch.nn.functional.max_pool2d(ref, pool)
    ref = ref.permute(0, 2, 3, 1)
    weights = rng.normal(size=tuple(ref.shape))
    (ref * torch.tensor(weights)).sum().backward()
    xv, kv, bv = (tg.Variable(a, dtype="float64") for a in (x, k, b))
    with tg.GradientTape() as tape:
        out = _conv_relu(xv, kv, bv, stride, dilation, padding, pool)
        assert type(out._ctx) is ConvRelu  # one node
        loss = tg.reduce_sum(out * weights)
    gx, gk, gb = tape.gradient(loss, [xv, kv, bv])
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-12)
    for ours, theirs in ((gx, xt), (gk, kt), (gb, bt)):
        np.testing.assert_allclose(ours.numpy(), theirs.grad.numpy(), atol=1e-11)
    assert gb.numpy()[0] == 0.0 and not gk.numpy()[..., 0].any()  # filter 0 is cut everywhere
    assert np.abs(gb.numpy()[1:]).min() > 0  # the others are not


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv_relu_gradcheck(stride, dilation, padding, pool):
    x, k, b = _conv_data(np.random.default_rng(12))
    assert tg.gradcheck(lambda x, k, b: _conv_relu(x, k, b, stride, dilation, padding, pool), [x, k, b])
    assert tg.gradcheck(lambda x, k: _conv_relu(x, k, None, stride, dilation, padding, pool), [x, k])


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv_relu_equals_the_unfused_nodes_bit_for_bit(stride, dilation, padding, pool):
    """``ConvRelu`` against ``max_pool2d(relu(conv2d(...)))`` (or ``relu(conv2d(...))``) in float32:
    the same value and the same input gradients, exactly."""
    rng = np.random.default_rng(13)
    x, k, b = (rng.normal(size=s).astype(np.float32) for s in [(4, 16, 14, 3), (3, 3, 3, 6), (6,)])
    b[0], b[1] = -100.0, -3.0  # filter 0 cut everywhere, filter 1 mostly; the others about half the time
    results = []
    for fused in (True, False):
        xv, kv, bv = (tg.Variable(a) for a in (x, k, b))
        with tg.GradientTape() as tape:
            if fused:
                out = _conv_relu(xv, kv, bv, stride, dilation, padding, pool)
            else:
                out = tg.relu(conv2d(xv, kv, bv, strides=stride, padding=padding, dilation_rate=dilation))
                if pool is not None:
                    out = max_pool2d(out, pool)
            if not results:
                weights = rng.normal(size=out.shape).astype(np.float32)
            loss = tg.reduce_sum(out * weights)
        assert out.dtype == np.float32
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(loss, [xv, kv, bv])])
    (out_f, *grads_f), (out_u, *grads_u) = results
    assert (out_u == 0).any() and (out_u > 0).any()  # the ReLU cuts some values and passes others
    assert np.array_equal(out_f, out_u)
    for name, a, c in zip("xkb", grads_f, grads_u):
        assert a.dtype == np.float32 and a.shape == c.shape
        assert np.array_equal(a, c), f"gradient of {name} differs by up to {np.abs(a - c).max()}"


def test_conv_relu_without_a_gradient_for_its_input():
    """A first layer: the input needs no gradient; the kernel's and bias's are the unfused ones."""
    rng = np.random.default_rng(14)
    x, k, b = _conv_data(rng, np.float32)
    grads = []
    for fused in (True, False):
        kv, bv = tg.Variable(k), tg.Variable(b)
        with tg.GradientTape() as tape:
            out = (_conv_relu(tg.constant(x), kv, bv, 1, 1, "valid", (2, 2)) if fused
                   else max_pool2d(tg.relu(conv2d(tg.constant(x), kv, bv)), 2))
            loss = tg.reduce_sum(out * np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape))
        grads.append([g.numpy() for g in tape.gradient(loss, [kv, bv])])
    for a, c in zip(*grads):
        assert np.array_equal(a, c)


# -- Linear --------------------------------------------------------------------------------

def test_linear_with_relu_matches_the_closed_form():
    """relu(x @ w + b) in one node: values and gradients by hand, with exact zeros before the ReLU."""
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    x[0] = 0.0
    b[1] = 0.0  # row 0, column 1 is exactly 0 before the ReLU: its gradient must be 0 (relu'(0) = 0)
    weights = rng.normal(size=(6, 5))
    z = x @ w + b
    mask = (z > 0).astype(float)
    xv, wv, bv = (tg.Variable(a, dtype="float64") for a in (x, w, b))
    with tg.GradientTape() as tape:
        out = Linear.apply(xv, wv, bv, relu=True)
        assert type(out._ctx) is Linear  # one node
        loss = tg.reduce_sum(out * weights)
    gx, gw, gb = tape.gradient(loss, [xv, wv, bv])
    gz = weights * mask
    np.testing.assert_allclose(out.numpy(), np.maximum(z, 0.0), rtol=1e-14)
    np.testing.assert_allclose(gx.numpy(), gz @ w.T, rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), x.T @ gz, rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), gz.sum(0), rtol=1e-12)
    assert gz[0, 1] == 0.0 and z[0, 1] == 0.0 and weights[0, 1] != 0.0
    assert (mask == 0).any() and (mask == 1).any()


@pytest.mark.parametrize("relu", [True, False])
def test_linear_gradcheck_on_2d_and_3d_inputs(relu):
    rng = np.random.default_rng(5)
    w, b = rng.normal(size=(4, 5)), rng.normal(size=5)
    for x in (rng.normal(size=(6, 4)), rng.normal(size=(2, 3, 4))):
        assert tg.gradcheck(lambda x, w, b: Linear.apply(x, w, b, relu=relu), [x, w, b])
        assert tg.gradcheck(lambda x, w: Linear.apply(x, w, relu=relu), [x, w])
    x3 = rng.normal(size=(2, 3, 4))
    z = x3 @ w + b
    out = Linear.apply(tg.constant(x3), tg.constant(w), tg.constant(b), relu=relu).numpy()
    np.testing.assert_allclose(out, np.maximum(z, 0.0) if relu else z, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_the_unfused_nodes_bit_for_bit(relu, bias):
    """``Linear`` against ``relu(matmul(x, w) + b)`` on a 2-d batch in float32: the same value
    and input gradients, exactly."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 20)).astype(np.float32)
    w = rng.normal(size=(20, 12)).astype(np.float32)
    b = rng.normal(size=12).astype(np.float32)
    weights = rng.normal(size=(32, 12)).astype(np.float32)
    results = []
    for fused in (True, False):
        xv, wv, bv = tg.Variable(x), tg.Variable(w), tg.Variable(b)
        sources = [xv, wv, bv] if bias else [xv, wv]
        with tg.GradientTape() as tape:
            if fused:
                out = Linear.apply(*sources, relu=relu)
            else:
                out = tg.matmul(xv, wv)
                if bias:
                    out = tg.add(out, bv)
                if relu:
                    out = tg.relu(out)
            loss = tg.reduce_sum(out * weights)
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(loss, sources)])
    (out_f, *grads_f), (out_u, *grads_u) = results
    if relu:
        assert (out_u == 0).any() and (out_u > 0).any()
    assert out_f.dtype == np.float32 and np.array_equal(out_f, out_u)
    for name, a, c in zip("xwb", grads_f, grads_u):
        assert a.dtype == np.float32 and a.shape == c.shape
        assert np.array_equal(a, c), f"gradient of {name} differs by up to {np.abs(a - c).max()}"


# -- Chain with a loss's rules ---------------------------------------------------------------

def _ce_cases(rng, n=16, classes=5):
    labels = rng.integers(0, classes, n)
    return [
        ("sparse (N,)", tg.losses.SparseCategoricalCrossentropy(from_logits=True), labels, (n, classes)),
        ("sparse (N, 1)", tg.losses.SparseCategoricalCrossentropy(from_logits=True), labels.reshape(-1, 1),
         (n, classes)),
        ("sparse float (N, 1)", tg.losses.SparseCategoricalCrossentropy(from_logits=True),
         labels.reshape(-1, 1).astype(np.float32), (n, classes)),
        ("categorical", tg.losses.CategoricalCrossentropy(from_logits=True), np.eye(classes)[labels], (n, classes)),
        ("categorical smoothed", tg.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
         np.eye(classes)[labels], (n, classes)),
        ("binary 2-d", tg.losses.BinaryCrossentropy(from_logits=True),
         rng.integers(0, 2, (n, classes)).astype(np.float32), (n, classes)),
        ("binary (N,) for (N, 1)", tg.losses.BinaryCrossentropy(from_logits=True),
         rng.integers(0, 2, n).astype(np.float32), (n, 1)),
        ("binary smoothed", tg.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
         rng.integers(0, 2, (n, classes)).astype(np.float32), (n, classes)),
    ]


CE_NAMES = [case[0] for case in _ce_cases(np.random.default_rng(0))]


@pytest.mark.parametrize("case", CE_NAMES)
def test_chain_of_loss_rules_equals_the_eager_loss_bit_for_bit(case):
    """A replayed step computes a built-in cross-entropy from logits as one ``Chain`` of its
    rules: the value and the gradient of the logits must be the eager ``loss(y, logits)``'s, exactly."""
    rng = np.random.default_rng(21)
    name, loss, y, shape = next(c for c in _ce_cases(rng) if c[0] == case)
    logits = (rng.normal(size=shape) * 3).astype(np.float32)
    rules = loss_rules(loss, y, logits, None)
    assert rules is not None and all(len(r) == 2 for r in rules)
    lv = tg.Variable(logits)
    with tg.GradientTape() as tape:
        chained = Chain.apply(lv, rules=rules)
        assert type(chained._ctx) is Chain  # one node
    g_chain = tape.gradient(chained, lv).numpy()
    lv2 = tg.Variable(logits)
    with tg.GradientTape() as tape:
        eager = loss(y, lv2)
    g_eager = tape.gradient(eager, lv2).numpy()
    assert chained.shape == eager.shape == () and chained.dtype == eager.dtype == np.float32
    assert np.array_equal(chained.numpy(), eager.numpy()), (float(chained), float(eager))
    assert g_chain.dtype == g_eager.dtype == np.float32 and g_chain.shape == shape
    assert np.array_equal(g_chain, g_eager), np.abs(g_chain - g_eager).max()
    assert np.abs(g_eager).max() > 0


def test_chain_of_loss_rules_over_leading_axes_and_another_class_axis():
    """Per-sample values over leading axes (and a class axis 0): the chain equals the eager
    loss bit for bit in float32, and passes finite differences in float64."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 5))
    labels = rng.integers(0, 5, (2, 3))
    soft = rng.dirichlet(np.ones(2), size=(5, 3)).transpose(2, 1, 0)  # class axis 0, rows sum to 1
    y = rng.integers(0, 2, logits.shape).astype(float)
    cases = [(tg.losses.SparseCategoricalCrossentropy(from_logits=True), labels, logits),
             (tg.losses.CategoricalCrossentropy(from_logits=True, axis=0), soft, logits[:2]),
             (tg.losses.BinaryCrossentropy(from_logits=True), y, logits)]
    for loss, target, l in cases:
        rules = loss_rules(loss, target, l, None)
        assert tg.gradcheck(lambda t: Chain.apply(t, rules=rules), [l])
        value = float(Chain.apply(tg.constant(l), rules=rules))
        assert value == pytest.approx(float(loss(target, tg.constant(l))), rel=1e-14)
        l32 = l.astype(np.float32)
        rules32 = loss_rules(loss, target, l32, None)
        a, b = tg.Variable(l32), tg.Variable(l32)
        with tg.GradientTape(persistent=True) as tape:
            chained, eager = Chain.apply(a, rules=rules32), loss(target, b)
        assert np.array_equal(chained.numpy(), eager.numpy())
        assert np.array_equal(tape.gradient(chained, a).numpy(), tape.gradient(eager, b).numpy())


def test_chain_of_loss_rules_against_torch():
    """The mean cross-entropies a replayed step computes: PyTorch's ``reduction="mean"``,
    value and gradient, in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(7, 4)) * 3
    labels = rng.integers(0, 4, 7)
    soft = rng.dirichlet(np.ones(4), size=7)
    y = rng.integers(0, 2, (7, 4)).astype(float)
    F = torch.nn.functional
    cases = [
        (tg.losses.SparseCategoricalCrossentropy(from_logits=True), labels,
         lambda l: F.cross_entropy(l, torch.tensor(labels))),
        (tg.losses.SparseCategoricalCrossentropy(from_logits=True), labels.reshape(-1, 1),
         lambda l: F.cross_entropy(l, torch.tensor(labels))),
        (tg.losses.CategoricalCrossentropy(from_logits=True), soft, lambda l: F.cross_entropy(l, torch.tensor(soft))),
        (tg.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), np.eye(4)[labels],
         lambda l: F.cross_entropy(l, torch.tensor(labels), label_smoothing=0.1)),
        (tg.losses.BinaryCrossentropy(from_logits=True), y,
         lambda l: F.binary_cross_entropy_with_logits(l, torch.tensor(y))),
    ]
    for loss, target, ref in cases:
        rules = loss_rules(loss, target, logits, None)
        lv = tg.Variable(logits, dtype="float64")
        with tg.GradientTape() as tape:
            out = Chain.apply(lv, rules=rules)
        g = tape.gradient(out, lv).numpy()
        lt = torch.tensor(logits, requires_grad=True)
        expected = ref(lt)
        expected.backward()
        np.testing.assert_allclose(float(out), float(expected.detach()), rtol=1e-12)
        np.testing.assert_allclose(g, lt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_loss_rules_handle_only_the_default_reduction_of_a_cross_entropy_from_logits():
    """Sample weights, another reduction, probabilities and any other loss are left to the
    eager loss (None)."""
    logits = np.zeros((4, 3), np.float32)
    labels = np.array([0, 1, 2, 0])
    sparse = tg.losses.SparseCategoricalCrossentropy
    assert loss_rules(sparse(from_logits=True), labels, logits, None) is not None
    assert loss_rules(sparse(from_logits=True), labels, logits, np.ones(4, np.float32)) is None
    assert loss_rules(sparse(from_logits=True, reduction="sum"), labels, logits, None) is None
    assert loss_rules(sparse(from_logits=True, reduction="none"), labels, logits, None) is None
    assert loss_rules(sparse(), labels, np.full((4, 3), 1 / 3, np.float32), None) is None
    onehot = np.eye(3, dtype=np.float32)[labels]
    assert loss_rules(tg.losses.CategoricalCrossentropy(from_logits=False), onehot, logits, None) is None
    assert loss_rules(tg.losses.CategoricalCrossentropy(from_logits=True, reduction="sum"), onehot, logits,
                      None) is None
    assert loss_rules(tg.losses.BinaryCrossentropy(from_logits=False), onehot, logits + 0.5, None) is None
    assert loss_rules(tg.losses.BinaryCrossentropy(from_logits=True), onehot, logits, onehot[:, :1]) is None
    assert loss_rules(tg.losses.MeanSquaredError(), onehot, logits, None) is None
    assert loss_rules(tg.losses.Huber(), onehot, logits, None) is None


def test_loss_rules_check_labels_as_the_eager_loss_does():
    logits = np.zeros((2, 3), np.float32)
    loss = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), received values from 0 to 3"):
        loss_rules(loss, np.array([0, 3]), logits, None)
    with pytest.raises(ValueError, match="must hold integer class labels"):
        loss_rules(loss, np.array([0.5, 1.0]), logits, None)


@pytest.mark.parametrize("channels", [4, 64])
def test_conv_relu_on_the_exact_im2col_path_equals_the_unfused_nodes_bit_for_bit(channels):
    """Layers for which ``band_width`` picks exact im2col (band 1): with fewer input channels than
    filters (the input's gradient by kh * kw adds) and as many (by the flipped-kernel product)."""
    from tapegrad.ops.conv import band_width

    assert band_width(5, 64, 3, 3, channels) == 1
    rng = np.random.default_rng(15)
    x, k, b = (rng.normal(size=s).astype(np.float32) for s in [(2, 7, 7, channels), (3, 3, channels, 64), (64,)])
    results = []
    for fused in (True, False):
        xv, kv, bv = (tg.Variable(a) for a in (x, k, b))
        with tg.GradientTape() as tape:
            out = (_conv_relu(xv, kv, bv, 1, 1, "valid", None) if fused
                   else tg.relu(conv2d(xv, kv, bv)))
            loss = tg.reduce_sum(out * np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape))
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(loss, [xv, kv, bv])])
    assert (results[1][0] == 0).any() and (results[1][0] > 0).any()
    for a, c in zip(*results):
        assert a.dtype == np.float32 and np.array_equal(a, c)
