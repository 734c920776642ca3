"""IDX reading on tiny files the tests write, and the real data sets when ../shared is present."""

import gzip
import os
import struct

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.datasets import idx

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def write_set(folder, n_train=5, n_test=3, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, arr in arrays.items():
        idx.write(folder / (name + (".gz" if gz else "")), arr)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_and_loader(tmp_path, gz):
    arrays = write_set(tmp_path / "mnist", gz=gz)
    (x, y), (xt, yt) = tg.datasets.mnist.load_data(tmp_path / "mnist")
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte"])
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28)


def test_header_is_big_endian(tmp_path):
    p = tmp_path / "f-idx1-ubyte"
    p.write_bytes(struct.pack(">BBBBI", 0, 0, 0x0C, 1, 2) + struct.pack(">ii", 1, -2))
    assert idx.read(p).tolist() == [1, -2]


def test_missing_files_named_with_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"lacks train-images-idx3-ubyte\[.gz\].*published at"):
        tg.datasets.mnist.load_data(tmp_path)


def test_env_variable(tmp_path, monkeypatch):
    write_set(tmp_path / "fashion-mnist")
    monkeypatch.setenv("TAPEGRAD_DATA", str(tmp_path))
    (x, _), _ = tg.datasets.fashion_mnist.load_data()
    assert x.shape == (5, 28, 28)


def test_truncated_and_wrong_files(tmp_path):
    write_set(tmp_path / "m", gz=False)
    f = tmp_path / "m" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(idx.IDXError, match="truncated or wrong file"):
        tg.datasets.mnist.load_data(tmp_path / "m")
    write_set(tmp_path / "w", gz=False)
    labels = (tmp_path / "w" / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "w" / "train-images-idx3-ubyte").write_bytes(labels)  # a labels file where images belong
    with pytest.raises(idx.IDXError, match="magic number 2049 where 2051 was expected"):
        tg.datasets.mnist.load_data(tmp_path / "w")
    bad_gz = tmp_path / "b.gz"
    bad_gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")[:-6])
    with pytest.raises(idx.IDXError):
        idx.read(bad_gz)
    junk = tmp_path / "junk"
    junk.write_bytes(b"PK\x03\x04hello")
    with pytest.raises(idx.IDXError, match="not an IDX file"):
        idx.read(junk)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "mnist")), reason="shared data not present")
def test_real_mnist_and_fashion_counts():
    (x, y), (xt, yt) = tg.datasets.mnist.load_data(os.path.join(SHARED, "mnist"))
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    (x, y), _ = tg.datasets.fashion_mnist.load_data(os.path.join(SHARED, "fashion-mnist"))
    assert np.bincount(y).tolist() == [6000] * 10
