"""Helpers shared by the ops."""

import numpy as np
import pytest

from tapegrad.ops import _util


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_zeros_operand_is_read_only_zeros_of_the_shape(shape):
    z = _util.zeros_operand(shape, np.float32)
    assert z.shape == shape and z.dtype == np.float32 and not z.any()
    with pytest.raises(ValueError):
        z[...] = 1.0  # shared by every caller: must never be written


def test_zeros_operand_past_the_cache_limit_is_fresh(monkeypatch):
    monkeypatch.setattr(_util, "CACHED_ZEROS", 8)
    monkeypatch.setattr(_util, "_zero_buffers", {})
    small = _util.zeros_operand((2, 4), np.float64)
    big = _util.zeros_operand((3, 4), np.float64)
    assert not big.any() and big.shape == (3, 4)
    assert _util._zero_buffers[np.dtype(np.float64)].size >= small.size
    assert _util._zero_buffers[np.dtype(np.float64)].size < big.size  # not cached
