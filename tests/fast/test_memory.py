"""The fast wing's aligned buffers, and the storage a Variable owns."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.fast.memory import ALIGNMENT, copy_aligned, empty_aligned, zeros_aligned


@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 5), (7, 0, 2), (784, 256)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8"])
def test_aligned_arrays_start_on_a_cache_line(shape, dtype):
    size = int(np.prod(shape))
    for _ in range(8):  # malloc hands out differently placed blocks: alignment must not be luck
        a = empty_aligned(shape, dtype)
        assert a.shape == shape and a.dtype == np.dtype(dtype) and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % ALIGNMENT == 0 or size == 0  # an empty array has no data to align
    z = zeros_aligned(shape, dtype)
    assert (z.ctypes.data % ALIGNMENT == 0 or size == 0) and not z.any()
    src = np.arange(size, dtype=dtype).reshape(shape)
    c = copy_aligned(src)
    assert (c.ctypes.data % ALIGNMENT == 0 or size == 0) and np.array_equal(c, src)
    assert not np.shares_memory(c, src)


def test_copy_aligned_makes_strided_input_contiguous():
    src = np.arange(24.0).reshape(4, 6)[:, ::2]
    c = copy_aligned(src)
    assert c.flags.c_contiguous and np.array_equal(c, src)


def test_variables_own_their_storage():
    for value in ([1.0, 2.0], np.ones((5, 3), np.float64), tg.constant(np.ones(7)), 3.0,
                  np.ones((4, 6), np.float32)[:, ::2]):
        v = tg.Variable(value)
        assert v.data.flags.c_contiguous and v.data.flags.owndata
    arr = np.ones(4, np.float32)
    v = tg.Variable(arr)
    v.assign_add(np.ones(4, np.float32))
    assert arr.tolist() == [1.0] * 4  # the Variable copied its input, as before
