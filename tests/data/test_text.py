"""Character-level text utilities and tg.random.categorical (TensorFlow's semantics)."""

import os

import numpy as np
import pytest

import tapegrad as tg

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
ABC = os.path.join(SHARED, "music", "irish.abc")


def test_categorical_frequencies_follow_the_softmax_of_the_logits():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    logits = np.log(probs) + np.array([[3.0], [-7.0]])  # a constant per row changes nothing
    ids = tg.random.categorical(tg.constant(logits, dtype="float32"), num_samples=40000, seed=0)
    assert ids.shape == (2, 40000) and ids.dtype == np.int64
    freq = np.stack([np.bincount(r, minlength=3) / 40000 for r in ids.numpy()])
    # binomial standard error is at most 0.0025: five of them
    np.testing.assert_allclose(freq, probs, atol=0.0125)


def test_categorical_never_draws_minus_inf_and_is_reproducible():
    logits = np.array([[-np.inf, 0.0, -np.inf, 1.0]])
    ids = tg.random.categorical(logits, 1000, seed=3).numpy()
    assert set(np.unique(ids)) <= {1, 3}
    np.testing.assert_array_equal(ids, tg.random.categorical(logits, 1000, seed=3).numpy())
    tg.random.set_seed(5)
    a = tg.random.categorical(logits, 10).numpy()
    tg.random.set_seed(5)
    np.testing.assert_array_equal(a, tg.random.categorical(logits, 10).numpy())
    assert tg.random.categorical(logits, 2, dtype="int32").dtype == np.int32


def test_categorical_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"expected logits of shape \(batch, classes\), received shape \(3,\)"):
        tg.random.categorical(np.zeros(3), 1)
    with pytest.raises(ValueError, match="num_samples must be a non-negative integer, received -1"):
        tg.random.categorical(np.zeros((1, 3)), -1)
    with pytest.raises(ValueError, match="at least one finite entry"):
        tg.random.categorical(np.full((1, 3), -np.inf), 1)


def test_vocabulary_round_trip_and_errors():
    vocab = tg.data.CharVocabulary("X:1\nabc|d")
    assert vocab.chars == sorted(set("X:1\nabc|d")) and len(vocab) == 9
    ids = vocab.encode("abc|")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "abc|"
    assert vocab.char2idx["a"] == vocab.chars.index("a") and vocab.idx2char[ids].tolist() == list("abc|")
    with pytest.raises(ValueError, match=r"characters not in the vocabulary: \['z'\]"):
        vocab.encode("az")
    with pytest.raises(ValueError, match=r"indices must be in \[0, 9\), received 9"):
        vocab.decode([9])


def test_char_batch_gives_windows_and_their_next_characters():
    text = np.arange(100) * 3
    x, y = tg.data.char_batch(text, seq_length=10, batch_size=16, seed=1)
    assert x.shape == y.shape == (16, 10)
    assert (np.diff(x, axis=1) == 3).all() and (y == x + 3).all()  # contiguous windows, shifted by one
    with pytest.raises(ValueError, match="fewer than seq_length"):
        tg.data.char_batch(np.arange(5), seq_length=5, batch_size=1)


def test_extract_songs_splits_on_blank_lines():
    text = "X:1\nT:One\nabc|\n\nX:2\nT:Two\n  \ncde|\n\n\n"
    assert tg.data.extract_songs(text) == ["X:1\nT:One\nabc|", "X:2\nT:Two", "cde|"]


@pytest.mark.skipif(not os.path.isfile(ABC), reason="shared music data not present")
def test_the_lab_songs_have_the_documented_counts():
    songs = tg.data.load_songs(ABC)
    assert len(songs) == 806  # as ../shared/data/README.md counts them
    assert len(tg.data.CharVocabulary("\n\n".join(songs))) == 83
    assert songs[0].startswith("X:1\nT:Alexander's")
