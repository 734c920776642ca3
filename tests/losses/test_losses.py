"""Losses against closed forms, Keras's formulas written out, and PyTorch."""

import numpy as np
import pytest

import tapegrad as tg

rng = np.random.default_rng(0)
Y_BIN = rng.integers(0, 2, (6, 1)).astype(np.float64)
LOGITS = rng.normal(size=(6, 1)) * 3
P = 1 / (1 + np.exp(-LOGITS))


def test_bce_hand_value():
    # -(1 log 0.8 + 0 + 1 log(1 - 0.3)) / 2
    expected = -(np.log(0.8) + np.log(0.7)) / 2
    got = tg.losses.BinaryCrossentropy()(np.array([[1.0], [0.0]]), tg.constant([[0.8], [0.3]], dtype="float64"))
    assert float(got) == pytest.approx(expected, abs=1e-12)


def test_bce_logits_equals_probabilities():
    a = tg.losses.BinaryCrossentropy(from_logits=True)(Y_BIN, tg.constant(LOGITS))
    b = tg.losses.BinaryCrossentropy()(Y_BIN, tg.constant(P))
    assert float(a) == pytest.approx(float(b), rel=1e-6)


def test_bce_clips_probabilities_like_keras():
    got = tg.losses.binary_crossentropy(np.array([[1.0]]), tg.constant([[0.0]], dtype="float64"))
    assert float(got[0]) == pytest.approx(-np.log(1e-7), rel=1e-9)


def test_bce_label_smoothing():
    y = np.array([[1.0]])
    got = tg.losses.BinaryCrossentropy(label_smoothing=0.2)(y, tg.constant([[0.9]], dtype="float64"))
    ys = 0.9  # 1 * 0.8 + 0.5 * 0.2
    assert float(got) == pytest.approx(-(ys * np.log(0.9) + (1 - ys) * np.log(0.1)), abs=1e-12)


def test_cce_and_sparse_agree_and_match_hand():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    labels = np.array([0, 1])
    onehot = np.eye(3)[labels]
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -np.mean(logp[np.arange(2), labels])
    a = tg.losses.CategoricalCrossentropy(from_logits=True)(onehot, tg.constant(logits))
    b = tg.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, tg.constant(logits))
    probs = np.exp(logp)
    c = tg.losses.CategoricalCrossentropy()(onehot, tg.constant(probs))
    d = tg.losses.SparseCategoricalCrossentropy()(labels.reshape(-1, 1), tg.constant(probs))
    for v in (a, b, c, d):
        assert float(v) == pytest.approx(expected, rel=1e-6)


def test_cce_label_smoothing():
    y = np.array([[0.0, 1.0]])
    p = np.array([[0.3, 0.7]])
    got = tg.losses.CategoricalCrossentropy(label_smoothing=0.1)(y, tg.constant(p))
    ys = np.array([0.05, 0.95])
    assert float(got) == pytest.approx(-(ys * np.log(p[0])).sum(), rel=1e-6)


def test_regression_losses_hand_values():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = tg.constant([[1.5, 2.0], [1.0, 6.0]], dtype="float64")
    assert float(tg.losses.MeanSquaredError()(y, p)) == pytest.approx((0.25 + 0 + 4 + 4) / 4)
    assert float(tg.losses.MeanAbsoluteError()(y, p)) == pytest.approx((0.5 + 0 + 2 + 2) / 4)
    # Huber, delta=1: 0.125, 0, 1.5, 1.5
    assert float(tg.losses.Huber()(y, p)) == pytest.approx((0.125 + 0 + 1.5 + 1.5) / 4)


def test_hinge_maps_binary_labels():
    got = tg.losses.Hinge()(np.array([[1.0], [0.0]]), tg.constant([[0.3], [0.4]], dtype="float64"))
    assert float(got) == pytest.approx(((1 - 0.3) + (1 + 0.4)) / 2)


def test_kl_divergence():
    y = np.array([[0.2, 0.8]])
    p = np.array([[0.5, 0.5]])
    got = tg.losses.KLDivergence()(y, tg.constant(p))
    assert float(got) == pytest.approx((y * np.log(y / p)).sum(), rel=1e-6)


def test_reductions_and_sample_weight():
    y = np.array([[1.0], [0.0], [1.0]])
    p = tg.constant([[0.5], [0.5], [1.0]], dtype="float64")
    per = tg.losses.MeanSquaredError(reduction="none")(y, p).numpy()
    np.testing.assert_allclose(per, [0.25, 0.25, 0.0])
    assert float(tg.losses.MeanSquaredError(reduction="sum")(y, p)) == pytest.approx(0.5)
    w = np.array([2.0, 0.0, 1.0])
    assert float(tg.losses.MeanSquaredError()(y, p, sample_weight=w)) == pytest.approx(0.5 / 3)


def test_huge_logits_give_finite_losses_and_gradients():
    logits = tg.Variable([[1e4], [-1e4]], dtype="float64")
    with tg.GradientTape() as tape:
        l = tg.losses.BinaryCrossentropy(from_logits=True)([[0.0], [1.0]], logits)
    assert float(l) == pytest.approx(1e4)
    assert np.isfinite(tape.gradient(l, logits).numpy()).all()
    logits2 = tg.Variable([[1e4, -1e4]], dtype="float64")
    with tg.GradientTape() as tape:
        l2 = tg.losses.CategoricalCrossentropy(from_logits=True)([[0.0, 1.0]], logits2)
    assert float(l2) == pytest.approx(2e4)
    assert np.isfinite(tape.gradient(l2, logits2).numpy()).all()


@pytest.mark.parametrize("loss", [
    tg.losses.BinaryCrossentropy(), tg.losses.BinaryCrossentropy(from_logits=True),
    tg.losses.MeanSquaredError(), tg.losses.MeanAbsoluteError(), tg.losses.Huber(0.5), tg.losses.Hinge(),
    tg.losses.CategoricalCrossentropy(), tg.losses.CategoricalCrossentropy(from_logits=True),
    tg.losses.KLDivergence()], ids=lambda l: f"{type(l).__name__}-{getattr(l, 'kwargs', {})}")
def test_every_loss_gradchecks(loss):
    r = np.random.default_rng(1)
    y = np.eye(3)[r.integers(0, 3, 4)]
    p = r.uniform(0.15, 0.85, size=(4, 3))
    assert tg.gradcheck(lambda t: loss(y, t), [p])


def test_sparse_gradchecks():
    r = np.random.default_rng(2)
    labels = r.integers(0, 3, 4)
    assert tg.gradcheck(lambda t: tg.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, t),
                        [r.normal(size=(4, 3))])
    assert tg.gradcheck(lambda t: tg.losses.SparseCategoricalCrossentropy()(labels, t),
                        [r.uniform(0.2, 0.8, size=(4, 3))])


@pytest.mark.parametrize("cls", [tg.losses.SparseCategoricalCrossentropy, tg.losses.CategoricalCrossentropy,
                                 tg.losses.BinaryCrossentropy])
def test_cross_entropy_from_logits_has_the_weighted_route_s_values(cls):
    """The default reduction from logits is the per-sample cross-entropy node, then a ``Mean``
    node; with sample weights (the per-sample route, then a weighted mean) all-ones weights
    must give the same loss and gradient."""
    from tapegrad.ops.reduce import Mean

    r = np.random.default_rng(5)
    labels = r.integers(0, 4, 6)
    y = {tg.losses.SparseCategoricalCrossentropy: labels.reshape(-1, 1),
         tg.losses.CategoricalCrossentropy: np.eye(4)[labels],
         tg.losses.BinaryCrossentropy: r.integers(0, 2, (6, 4)).astype(float)}[cls]
    logits = tg.Variable(r.normal(size=(6, 4)), dtype="float64")
    loss = cls(from_logits=True)
    with tg.GradientTape(persistent=True) as tape:
        fused = loss(y, logits)
        unfused = loss(y, logits, sample_weight=np.ones(6))
    assert type(fused._ctx) is Mean  # the reduction: its own node after the per-sample values
    node = fused._ctx
    while type(node) is Mean:  # binary cross-entropy has two: over the last axis, then over the batch
        (values,) = node.parents
        node = values._ctx
    assert type(node).__name__.endswith("CrossEntropy") and len(node.parents) == 1 and node.parents[0] is logits
    assert float(fused) == pytest.approx(float(unfused), rel=1e-12)
    np.testing.assert_allclose(tape.gradient(fused, logits).numpy(), tape.gradient(unfused, logits).numpy(),
                               rtol=1e-12)


def test_sparse_from_logits_checks_labels_on_the_fused_route():
    logits = tg.zeros((2, 3))
    loss = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), received values from 0 to 3"):
        loss(np.array([0, 3]), logits)
    with pytest.raises(ValueError, match="must hold integer class labels"):
        loss(np.array([0.5, 1.0]), logits)
    with pytest.raises(ValueError, match=r"y_true shape \(3,\) does not match y_pred shape \(2, 3\)"):
        loss(np.array([0, 1, 2]), logits)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"y_true shape \(4,\) must equal y_pred shape \(4, 3\)"):
        tg.losses.CategoricalCrossentropy()(np.zeros(4), tg.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        tg.losses.SparseCategoricalCrossentropy()(np.array([0, 5]), tg.ones((2, 3)))
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        tg.losses.get("msee")


def test_string_names():
    assert isinstance(tg.losses.get("mse"), tg.losses.MeanSquaredError)
    assert isinstance(tg.losses.get("binary_crossentropy"), tg.losses.BinaryCrossentropy)


def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = np.random.default_rng(3)
    logits = r.normal(size=(8, 5)) * 4
    labels = r.integers(0, 5, 8)
    ours = tg.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, tg.constant(logits))
    assert float(ours) == pytest.approx(F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item(), rel=1e-9)
    yb = r.integers(0, 2, (8, 5)).astype(float)
    ours = tg.losses.BinaryCrossentropy(from_logits=True)(yb, tg.constant(logits))
    ref = F.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(yb))
    assert float(ours) == pytest.approx(ref.item(), rel=1e-9)
    t = r.normal(size=(8, 5))
    ours = tg.losses.Huber(delta=1.5)(t, tg.constant(logits))
    assert float(ours) == pytest.approx(F.huber_loss(torch.tensor(logits), torch.tensor(t), delta=1.5).item(), rel=1e-9)
