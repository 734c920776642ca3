"""tg.data.Dataset's tf.data-style methods against plain Python and NumPy equivalents."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest

import tapegrad as tg

Dataset = tg.data.Dataset


def values(ds):
    """Elements as plain Python, for comparing with lists."""
    def plain(e):
        if isinstance(e, tuple):
            return tuple(plain(v) for v in e)
        if isinstance(e, dict):
            return {k: plain(v) for k, v in e.items()}
        return np.asarray(e).tolist()
    return [plain(e) for e in ds]


def test_elements_follow_tf_data_structure():
    x, y, sw = np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]), np.array([1.0, 0.5, 2.0])
    assert values(Dataset(x)) == x.tolist()
    assert values(Dataset(x, y)) == [(r, int(t)) for r, t in zip(x.tolist(), y)]
    assert values(Dataset.from_tensor_slices((x, y, sw))) == list(zip(x.tolist(), y.tolist(), sw.tolist()))
    assert values(Dataset({"a": x, "b": y})) == [{"a": r, "b": int(t)} for r, t in zip(x.tolist(), y)]


def test_map_equals_a_list_comprehension():
    x, y = np.arange(10.0), np.arange(10) % 3
    got = values(Dataset(x, y).map(lambda a, b: (a * a, b + 1)))
    assert got == [(float(a * a), int(b + 1)) for a, b in zip(x, y)]
    assert values(Dataset(x).map(lambda a: a - 1)) == [float(a - 1) for a in x]
    assert values(Dataset({"k": x}).map(lambda d: d["k"] * 2)) == [float(a * 2) for a in x]
    with pytest.raises(TypeError, match="map_func must be callable"):
        Dataset(x).map(3)


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("n,b", [(10, 3), (9, 3), (2, 5), (0, 4)])
def test_batch_equals_slicing(n, b, drop):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    expected = [(x[i:i + b].tolist(), y[i:i + b].tolist()) for i in range(0, n, b)
                if not drop or i + b <= n]
    ds = Dataset(x, y)
    for pipeline in (ds.batch(b, drop_remainder=drop), ds.map(lambda p, q: (p, q)).batch(b, drop_remainder=drop)):
        assert values(pipeline) == expected  # gathered by index, and stacked element by element
        assert pipeline.cardinality() == len(expected) == len(pipeline)
    for got in ds.batch(b):
        assert got[0].dtype == np.float32


def test_batch_keeps_dicts_and_stacks_batches_again():
    x = np.arange(12.0).reshape(6, 2)
    got = list(Dataset({"a": x, "b": x[:, 0]}).map(lambda d: d).batch(4))
    np.testing.assert_array_equal(got[0]["a"], x[:4])
    np.testing.assert_array_equal(got[1]["b"], x[4:, 0])
    twice = list(Dataset(x).batch(2).batch(2))
    assert [t.shape for t in twice] == [(2, 2, 2), (1, 2, 2)]


def test_batch_of_ragged_elements_names_the_batch():
    ds = Dataset(np.arange(6)).map(lambda v: np.zeros(2 if v != 4 else 3))
    with pytest.raises(ValueError, match=r"Dataset.batch: batch 1: element 1 has shape \(3,\) where element 0 has "
                                         r"\(2,\)"):
        list(ds.batch(3))


def test_take_and_repeat_equal_list_operations():
    x = np.arange(7)
    items = x.tolist()
    for k in (0, 3, 7, 20, -1):
        assert values(Dataset(x).take(k)) == (items if k == -1 else items[:k])
        assert Dataset(x).take(k).cardinality() == len(items if k == -1 else items[:k])
    assert values(Dataset(x).repeat(3)) == items * 3
    assert values(Dataset(x).repeat(0)) == []
    assert values(Dataset(x).repeat().take(17)) == list(itertools.islice(itertools.cycle(items), 17))
    assert values(Dataset(x).map(lambda v: v * 2).repeat(2)) == [v * 2 for v in items] * 2
    assert Dataset(x).repeat().cardinality() == tg.data.INFINITE_CARDINALITY == -1
    assert Dataset(x).repeat(-1).take(5).cardinality() == 5
    assert Dataset(x).repeat(2).batch(4).cardinality() == math.ceil(14 / 4)
    assert Dataset(x[:0]).repeat().cardinality() == 0 and values(Dataset(x[:0]).repeat()) == []
    with pytest.raises(TypeError, match="repeats forever"):
        len(Dataset(x).repeat())


def test_prefetch_is_a_no_op():
    ds = Dataset(np.arange(4)).batch(2)
    assert ds.prefetch(1) is ds and ds.prefetch() is ds


def test_shuffle_is_a_seeded_permutation_with_a_large_buffer():
    x = np.arange(20)
    a = values(Dataset(x).shuffle(20, seed=3))
    assert sorted(a) == x.tolist() and a != x.tolist()
    assert values(Dataset(x).shuffle(20, seed=3)) == a  # the same seed, the same order
    assert sorted(values(Dataset(x).map(lambda v: v).shuffle(7, seed=1))) == x.tolist()


def test_shuffle_buffer_of_one_keeps_the_order_and_a_buffer_limits_how_far_elements_move():
    x = np.arange(30)
    assert values(Dataset(x).shuffle(1, seed=0)) == x.tolist()
    for seed in range(20):
        for pipeline in (Dataset(x).shuffle(4, seed=seed), Dataset(x).map(lambda v: v).shuffle(4, seed=seed)):
            out = values(pipeline)
            assert sorted(out) == x.tolist()
            # output j is drawn from a buffer that has only seen inputs 0 .. j + 3
            assert all(v <= j + 3 for j, v in enumerate(out))


def test_shuffle_with_a_full_buffer_is_uniform():
    # every one of the 24 orders of 4 elements, each about 1/24 of 2400 draws
    ds = Dataset(np.arange(4)).shuffle(4)
    tg.random.set_seed(0)
    counts = Counter(tuple(values(ds)) for _ in range(2400))
    assert len(counts) == 24
    expected = 100
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7  # the 0.999 quantile of chi-square with 23 degrees of freedom


def test_reshuffle_each_iteration():
    ds = Dataset(np.arange(12)).shuffle(12, seed=5)
    first, second = values(ds), values(ds)
    assert first != second and sorted(first) == sorted(second)
    fixed = Dataset(np.arange(12)).shuffle(12, seed=5, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)
    repeated = values(Dataset(np.arange(6)).shuffle(6, seed=2).repeat(2))
    assert sorted(repeated[:6]) == sorted(repeated[6:]) == list(range(6)) and repeated[:6] != repeated[6:]


def test_shuffle_without_seed_follows_tg_random_set_seed():
    ds = Dataset(np.arange(10)).shuffle(10)
    tg.random.set_seed(1)
    a = values(ds)
    tg.random.set_seed(1)
    assert values(ds) == a


def test_bad_arguments():
    ds = Dataset(np.arange(4))
    for call, message in ((lambda: ds.batch(0), "batch_size must be a positive integer, received 0"),
                          (lambda: ds.batch(2.5), "batch_size must be a positive integer"),
                          (lambda: ds.shuffle(0), "buffer_size must be a positive integer, received 0"),
                          (lambda: ds.shuffle(3, seed=-1), "seed must be a non-negative integer"),
                          (lambda: ds.repeat(-2), "count must be None, -1 or a non-negative integer"),
                          (lambda: ds.take("3"), "count must be -1 or a non-negative integer")):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="only a dataset of arrays can be indexed"):
        ds.batch(2)[0]
    with pytest.raises(TypeError, match="DataLoader: expected a Dataset of arrays"):
        tg.data.DataLoader(ds.shuffle(2))


def test_a_dataset_of_arrays_still_batches_as_before():
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    ds = Dataset(x, y)
    assert len(ds) == 5 and [b[0].shape for b in tg.data.DataLoader(ds, batch_size=2)] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_array_equal(ds[1:3][0], x[1:3])
