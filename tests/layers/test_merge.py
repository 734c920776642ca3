"""Merge layers, LayerNormalization, structure layers and 1-d poolings: against PyTorch, closed forms
and float64 finite differences."""

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _arrays(*shapes):
    return [RNG.normal(size=s) for s in shapes]


ELEMENTWISE = {
    "Add": (tg.layers.Add, tg.layers.add, lambda ts: ts[0] + ts[1] + ts[2], 3),
    "Subtract": (tg.layers.Subtract, tg.layers.subtract, lambda ts: ts[0] - ts[1], 2),
    "Multiply": (tg.layers.Multiply, tg.layers.multiply, lambda ts: ts[0] * ts[1] * ts[2], 3),
    "Average": (tg.layers.Average, tg.layers.average, lambda ts: (ts[0] + ts[1] + ts[2]) / 3, 3),
    "Maximum": (tg.layers.Maximum, tg.layers.maximum, lambda ts: torch.maximum(torch.maximum(ts[0], ts[1]), ts[2]), 3),
    "Minimum": (tg.layers.Minimum, tg.layers.minimum, lambda ts: torch.minimum(torch.minimum(ts[0], ts[1]), ts[2]), 3),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_merges_match_torch_forward_and_backward(name):
    cls, fn, ref, n = ELEMENTWISE[name]
    xs = _arrays(*[(4, 5)] * n)
    out = cls()([x.astype(np.float32) for x in xs])
    np.testing.assert_allclose(out.numpy(), ref([torch.tensor(x) for x in xs]).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fn([x.astype(np.float32) for x in xs]).numpy(), out.numpy())
    tg.gradcheck(lambda *ts: cls(dtype="float64")(list(ts)), xs)


def test_elementwise_merge_broadcasts_as_keras_and_names_both_shapes():
    a, b = _arrays((2, 3), (2, 4, 3))
    out = tg.layers.Add()([a.astype(np.float32), b.astype(np.float32)])
    np.testing.assert_allclose(out.numpy(), a[:, None, :] + b, rtol=1e-6, atol=1e-6)  # axis after batch
    assert tg.layers.Add().compute_output_shape([(None, 3), (None, 4, 3)]) == (None, 4, 3)
    with pytest.raises(ValueError, match=r"\(None, 3\) and \(None, 4\)"):
        tg.layers.Add()([tg.Input((3,)), tg.Input((4,))])
    with pytest.raises(ValueError, match="exactly 2 inputs, received 3"):
        tg.layers.Subtract()([tg.ones((1, 2))] * 3)
    with pytest.raises(ValueError, match="list of inputs"):
        tg.layers.Add()(tg.ones((1, 2)))


def test_concatenate_matches_torch_and_checks_shapes():
    a, b, c = _arrays((2, 3, 4), (2, 3, 1), (2, 3, 2))
    out = tg.layers.concatenate([x.astype(np.float32) for x in (a, b, c)])
    np.testing.assert_allclose(out.numpy(), torch.cat([torch.tensor(x) for x in (a, b, c)], -1).numpy(), rtol=1e-6)
    tg.gradcheck(lambda *ts: tg.layers.Concatenate(axis=1, dtype="float64")(list(ts)), _arrays((2, 3, 4), (2, 1, 4)))
    assert tg.layers.Concatenate(axis=1).compute_output_shape([(None, 3, 4), (None, None, 4)]) == (None, None, 4)
    with pytest.raises(ValueError, match=r"received shapes \(None, 3, 4\) and \(None, 2, 5\)"):
        tg.layers.Concatenate()([tg.Input((3, 4)), tg.Input((2, 5))])


@pytest.mark.parametrize("axes,shapes", [(1, [(3, 5), (3, 5)]), (2, [(3, 4, 5), (3, 6, 5)]), ((1, 2), [(3, 5, 4), (3, 6, 5)]),
                                         ((2, 1), [(3, 4, 5), (3, 5)]), (-1, [(3, 4, 5), (3, 2, 5)])])
def test_dot_matches_torch_batched_products(axes, shapes):
    x, y = _arrays(*shapes)
    ax, ay = (axes, axes) if isinstance(axes, int) else axes
    ax, ay = ax % len(shapes[0]), ay % len(shapes[1])
    tx = torch.movedim(torch.tensor(x), ax, -1).reshape(3, -1, shapes[0][ax])
    ty = torch.movedim(torch.tensor(y), ay, 1).reshape(3, shapes[1][ay], -1)
    layer = tg.layers.Dot(axes=axes)
    expected_shape = layer.compute_output_shape([(None,) + s[1:] for s in shapes])
    ref = torch.bmm(tx, ty).reshape((3,) + expected_shape[1:])
    out = layer([x.astype(np.float32), y.astype(np.float32)])
    assert out.shape == (3,) + expected_shape[1:]
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    tg.gradcheck(lambda a, b: tg.layers.Dot(axes=axes, dtype="float64")([a, b]), [x, y])


def test_dot_normalize_is_the_cosine_similarity():
    x, y = _arrays((4, 6), (4, 6))
    out = tg.layers.dot([x.astype(np.float32), y.astype(np.float32)], axes=1, normalize=True)
    ref = torch.nn.functional.cosine_similarity(torch.tensor(x), torch.tensor(y), dim=1)[:, None]
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    tg.gradcheck(lambda a, b: tg.layers.Dot(1, normalize=True, dtype="float64")([a, b]), [x, y])
    with pytest.raises(ValueError, match=r"axis values 6 \(at axis 1\) != 5"):
        tg.layers.Dot(axes=1)([tg.Input((6,)), tg.Input((5,))])


def test_layer_normalization_matches_torch():
    x = RNG.normal(size=(4, 3, 6)).astype(np.float32) * 3 + 1
    layer = tg.layers.LayerNormalization()
    layer(x)
    gamma, beta = RNG.normal(size=6).astype(np.float32), RNG.normal(size=6).astype(np.float32)
    layer.set_weights([gamma, beta])
    tx = torch.tensor(x, requires_grad=True)
    tgm, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    ref = torch.nn.functional.layer_norm(tx, (6,), tgm, tb, eps=1e-3)  # Keras's default epsilon
    upstream = RNG.normal(size=ref.shape).astype(np.float32)
    (ref * torch.tensor(upstream)).sum().backward()
    xt = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        loss = tg.sum(layer(xt) * upstream)
    gx, gg, gb = tape.gradient(loss, [xt, layer.gamma, layer.beta])
    np.testing.assert_allclose(layer(x).numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    for mine, theirs in ((gx, tx.grad), (gg, tgm.grad), (gb, tb.grad)):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    assert [w.name for w in layer.weights] == ["gamma", "beta"]


def test_layer_normalization_gradient_and_several_axes():
    x = RNG.normal(size=(3, 4, 5))
    tg.gradcheck(lambda t: tg.layers.LayerNormalization(dtype="float64")(t), [x])
    layer = tg.layers.LayerNormalization(axis=[1, 2], epsilon=0.0, dtype="float64")
    out = layer(x).numpy()
    flat = x.reshape(3, -1)
    ref = ((flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)).reshape(x.shape)
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    assert layer.gamma.shape == (4, 5)
    with pytest.raises(ValueError, match="batch axis"):
        tg.layers.LayerNormalization(axis=0)(x)


def test_identity_repeat_vector_and_permute():
    x = RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(tg.layers.Identity()(x).numpy(), x)
    np.testing.assert_array_equal(tg.layers.RepeatVector(4)(x).numpy(), np.repeat(x[:, None, :], 4, axis=1))
    y = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(tg.layers.Permute((3, 1, 2))(y).numpy(), y.transpose(0, 3, 1, 2))
    assert tg.layers.Permute((2, 1)).compute_output_shape((None, None, 7)) == (None, 7, None)
    tg.gradcheck(lambda t: tg.layers.RepeatVector(3, dtype="float64")(t), [x.astype(np.float64)])
    tg.gradcheck(lambda t: tg.layers.Permute((2, 1), dtype="float64")(t), [RNG.normal(size=(2, 3, 4))])
    with pytest.raises(ValueError, match="permutation"):
        tg.layers.Permute((1, 3))
    with pytest.raises(ValueError, match="2-d input"):
        tg.layers.RepeatVector(2)(tg.Input((3, 4)))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_1d_poolings_match_torch(padding):
    x = RNG.normal(size=(2, 9, 3)).astype(np.float32)
    tx = torch.tensor(x).permute(0, 2, 1)
    mx = tg.layers.MaxPooling1D(3, strides=2, padding=padding)(x).numpy()
    av = tg.layers.AveragePooling1D(2, padding=padding)(x).numpy()
    if padding == "valid":
        np.testing.assert_allclose(mx, torch.nn.functional.max_pool1d(tx, 3, 2).permute(0, 2, 1).numpy(), rtol=1e-6)
        np.testing.assert_allclose(av, torch.nn.functional.avg_pool1d(tx, 2).permute(0, 2, 1).numpy(), rtol=1e-6)
    else:  # Keras's "same": ceil(steps / stride) windows, the average over the steps inside the input
        assert mx.shape == (2, 5, 3) and av.shape == (2, 5, 3)
        np.testing.assert_allclose(av[:, -1], x[:, -1], rtol=1e-6)
        np.testing.assert_allclose(mx[:, -1], x[:, 7:].max(1), rtol=1e-6)  # padding of 1 on each side
    assert tg.layers.MaxPooling1D(3, 2, padding=padding).compute_output_shape((None, 9, 3)) == (None, mx.shape[1], 3)
    tg.gradcheck(lambda t: tg.layers.AveragePooling1D(2, padding=padding, dtype="float64")(t),
                 [x.astype(np.float64)])


def test_global_1d_poolings_and_the_embedding_mask():
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(tg.layers.GlobalAveragePooling1D()(x).numpy(), x.mean(1), rtol=1e-6)
    np.testing.assert_allclose(tg.layers.GlobalMaxPooling1D()(x).numpy(), x.max(1), rtol=1e-6)
    assert tg.layers.GlobalAveragePooling1D(keepdims=True)(x).shape == (2, 1, 3)
    ids = np.array([[4, 2, 0, 0], [1, 0, 0, 0]])
    emb = tg.layers.Embedding(5, 3, mask_zero=True)
    pooled = tg.layers.GlobalAveragePooling1D()(emb(ids)).numpy()
    table = emb.embeddings.numpy()
    expected = np.stack([table[[4, 2]].mean(0), table[[1]].mean(0)])  # padding steps left out, as Keras
    np.testing.assert_allclose(pooled, expected, rtol=1e-6)
    tg.gradcheck(lambda t: tg.layers.GlobalAveragePooling1D(dtype="float64")(t, mask=tg.constant(ids != 0)),
                 [x.astype(np.float64)])


def test_merge_masks_follow_keras():
    a, b = tg.ones((2, 3, 1)), tg.ones((2, 3, 1))
    tg.layers.base.set_mask(a, tg.constant([[True, True, False], [True, False, False]]))
    tg.layers.base.set_mask(b, tg.constant([[True, False, False], [True, True, False]]))
    added = tg.layers.Add()([a, b])  # Keras 3's Merge: a step kept by any input is kept
    assert tg.layers.base.get_mask(added).numpy().tolist() == [[True, True, False], [True, True, False]]
    assert tg.layers.base.get_mask(tg.layers.Add()([a, tg.ones((2, 3, 1))])) is None  # one input without a mask
    joined = tg.layers.Concatenate()([a, b])  # Keras 3: a step is kept where any input keeps it
    assert tg.layers.base.get_mask(joined).numpy().tolist() == [[True, True, False], [True, True, False]]
