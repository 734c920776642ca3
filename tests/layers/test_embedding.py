"""Embedding and Masking: lookups against PyTorch, masks as Keras defines them, and the mask seam."""

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def test_embedding_forward_and_gradient_match_torch():
    layer = tg.layers.Embedding(10, 4)
    ids = np.array([[3, 1, 0, 3], [2, 2, 9, 9]])
    ref = torch.nn.Embedding(10, 4)
    out = layer(ids)
    ref.weight.data = torch.tensor(layer.embeddings.numpy())
    upstream = np.random.default_rng(0).normal(size=(2, 4, 4)).astype(np.float32)
    with tg.GradientTape() as tape:
        loss = tg.sum(layer(ids) * upstream)
    grad = tape.gradient(loss, layer.embeddings)
    (ref(torch.tensor(ids)) * torch.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), ref(torch.tensor(ids)).detach().numpy())
    np.testing.assert_allclose(grad.numpy(), ref.weight.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_gradient_against_finite_differences():
    ids = np.array([[1, 1, 2], [0, 2, 2]])
    tg.gradcheck(lambda table: table[ids] ** 2, [np.random.default_rng(1).normal(size=(3, 2))])


def test_embedding_defaults_and_shape_follow_keras():
    layer = tg.layers.Embedding(1000, 8)
    out = layer(np.zeros((2, 5), dtype=np.int64))
    assert out.shape == (2, 5, 8) and layer.compute_output_shape((None, 5)) == (None, 5, 8)
    table = layer.embeddings.numpy()
    assert table.min() >= -0.05 and table.max() <= 0.05 and table.std() > 0.02  # Keras's "uniform"
    assert [w.name for w in layer.weights] == ["embeddings"]


def test_mask_zero_marks_padding_and_reaches_the_next_layer():
    class Seen(tg.layers.Layer):
        def call(self, inputs, mask=None):
            self.mask = mask
            return inputs * 1.0

    ids = np.array([[5, 2, 0, 0], [1, 0, 0, 0]])
    emb, seen = tg.layers.Embedding(6, 3, mask_zero=True), Seen()
    out = seen(emb(ids))
    assert seen.mask.numpy().tolist() == (ids != 0).tolist()
    assert getattr(out, "_keras_mask", None) is None  # a layer that does not support masking drops it


def test_no_mask_without_mask_zero():
    out = tg.layers.Embedding(6, 3)(np.array([[0, 1]]))
    assert getattr(out, "_keras_mask", None) is None


@pytest.mark.parametrize("bad", [np.array([[0, 6]]), np.array([[-1, 2]])])
def test_embedding_refuses_ids_out_of_range(bad):
    with pytest.raises(ValueError, match=r"ids must be in \[0, 6\)"):
        tg.layers.Embedding(6, 3)(bad)


def test_embedding_refuses_non_integer_ids():
    with pytest.raises(ValueError, match="expected integer ids"):
        tg.layers.Embedding(6, 3)(np.array([[0.5, 1.0]]))


@pytest.mark.parametrize("args", [(0, 3), (5, -1), (2.5, 3)])
def test_embedding_refuses_bad_sizes(args):
    with pytest.raises(ValueError, match="must be a positive integer"):
        tg.layers.Embedding(*args)


def test_masking_zeroes_and_masks_the_steps_equal_to_the_mask_value():
    x = np.array([[[1.0, 2.0], [-1.0, -1.0], [0.0, -1.0]]], dtype=np.float32)
    layer = tg.layers.Masking(mask_value=-1.0)
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), [[[1.0, 2.0], [0.0, 0.0], [0.0, -1.0]]])
    assert out._keras_mask.numpy().tolist() == [[True, False, True]]


def test_embedding_round_trips_through_saving(tmp_path):
    model = tg.Sequential([tg.Input((3,), dtype="int32"), tg.layers.Embedding(7, 2, mask_zero=True),
                           tg.layers.Flatten(), tg.layers.Dense(1)])
    ids = np.array([[1, 2, 0], [6, 5, 4]])
    model.save(tmp_path / "m.tapegrad")
    loaded = tg.models.load_model(tmp_path / "m.tapegrad")
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    assert loaded.layers[0].mask_zero
