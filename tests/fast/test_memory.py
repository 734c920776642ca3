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


# -- a compiled step's workspace -------------------------------------------------------------
from tapegrad import backend  # noqa: E402
from tapegrad.fast.memory import Workspace  # noqa: E402


@pytest.fixture(autouse=True)
def _no_pool_left_behind():
    """A test that fails between a workspace's begin and end must not leave it installed."""
    yield
    backend.workspace.pool = None


def test_without_a_workspace_every_array_is_new():
    assert backend.workspace.pool is None
    a, b = backend.empty((3, 4), np.float32), backend.zeros((3, 4), np.float32)
    assert a.shape == b.shape == (3, 4) and a.dtype == b.dtype == np.float32 and not b.any()
    assert not np.shares_memory(a, b)


def test_a_workspace_gives_an_array_out_again_only_when_nothing_else_holds_it():
    ws = Workspace()
    ws.begin()
    first = backend.empty((4, 5), np.float32)
    address = first.ctypes.data
    del first
    again = backend.empty((4, 5), np.float32)  # free: the same array
    assert again.ctypes.data == address
    held = again
    view = held[1:]  # a view holds its base
    del held, again
    other = backend.empty((4, 5), np.float32)
    assert not np.shares_memory(other, view)
    other_dtype = backend.empty((4, 5), np.float64)  # another dtype: another array
    assert other_dtype.dtype == np.float64 and not np.shares_memory(other_dtype, view)
    ws.end()
    assert backend.workspace.pool is None


def test_zeros_from_a_workspace_are_zeros_though_the_array_was_written():
    ws = Workspace()
    ws.begin()
    a = backend.empty((6,), np.float64)
    a[:] = 7.0
    address = a.ctypes.data
    del a
    z = backend.zeros((6,), np.float64)
    assert z.ctypes.data == address and z.tolist() == [0.0] * 6
    ws.end()


def test_a_workspace_keeps_what_the_last_step_used_and_drops_the_rest():
    ws = Workspace()
    ws.begin()
    backend.empty((2, 2), np.float32), backend.empty((9,), np.float32)
    ws.end()
    assert len(ws.arrays) == 2
    ws.begin()
    backend.empty((2, 2), np.float32)
    ws.end()
    assert list(ws.arrays) == [((2, 2), np.float32)] and len(ws.arrays[((2, 2), np.float32)]) == 1


def test_workspaces_nest_and_stay_in_their_thread():
    import threading

    outer, inner = Workspace(), Workspace()
    outer.begin()
    inner.begin()
    assert backend.workspace.pool is inner
    seen = []
    t = threading.Thread(target=lambda: seen.append(backend.workspace.pool))
    t.start()
    t.join()
    assert seen == [None]  # another thread allocates as usual
    inner.end()
    assert backend.workspace.pool is outer
    outer.end()
    assert backend.workspace.pool is None
