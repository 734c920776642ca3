"""DLPack both ways: NumPy's and PyTorch's consumers share memory with a tg.Tensor, and
tg.from_dlpack shares memory with their arrays (checked by writing through one side)."""

import numpy as np
import pytest

import tapegrad as tg


def test_numpy_from_dlpack_shares_memory_with_a_tensor():
    t = tg.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    a = np.from_dlpack(t)
    assert a.shape == (2, 3) and a.dtype == np.float32
    assert np.shares_memory(a, t.data)
    a[1, 2] = -1.0
    assert t.data[1, 2] == -1.0


def test_numpy_consumer_sees_an_optimizer_update_of_a_variable():
    v = tg.Variable([1.0, 2.0])
    a = np.from_dlpack(v)
    v.assign_sub([0.5, 0.5])
    np.testing.assert_array_equal(a, [0.5, 1.5])


def test_non_contiguous_and_int_tensors_export_with_their_strides():
    t = tg.transpose(tg.constant(np.arange(12, dtype=np.int64).reshape(3, 4)))
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, np.arange(12).reshape(3, 4).T)
    assert np.shares_memory(a, t.data)


def test_dlpack_device_is_the_cpu():
    assert tg.ones((2,)).__dlpack_device__() == (1, 0)


def test_from_dlpack_shares_memory_with_a_numpy_array():
    a = np.linspace(0, 1, 5)
    t = tg.from_dlpack(a)
    assert t.dtype == np.float64 and np.shares_memory(t.data, a)
    a[0] = 9.0
    assert t.data[0] == 9.0
    # and it takes part in autodiff like any tensor (gradients checked in float64)
    assert tg.gradcheck(lambda x: (x * x).sum(), [tg.from_dlpack(np.random.default_rng(0).normal(size=4))])


def test_from_dlpack_rejects_a_non_producer():
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__.*received list"):
        tg.from_dlpack([1.0, 2.0])


torch = pytest.importorskip("torch")


def test_torch_from_dlpack_shares_memory_with_a_tensor():
    t = tg.Tensor(np.arange(4.0, dtype=np.float32), requires_grad=True)
    pt = torch.from_dlpack(t)
    assert pt.dtype == torch.float32 and tuple(pt.shape) == (4,)
    assert pt.data_ptr() == t.data.ctypes.data
    pt[0] = 42.0
    assert t.data[0] == 42.0
    t.data[3] = -3.0
    assert pt[3].item() == -3.0


def test_tg_from_dlpack_shares_memory_with_a_torch_tensor():
    pt = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    t = tg.from_dlpack(pt)
    assert t.shape == (2, 3) and t.dtype == np.float64
    assert t.data.ctypes.data == pt.data_ptr()
    pt[0, 0] = 11.0
    assert t.data[0, 0] == 11.0
    t.data[1, 1] = -2.0
    assert pt[1, 1].item() == -2.0
    # results agree with PyTorch's own
    np.testing.assert_allclose((t * 2.0 + 1.0).numpy(), (pt * 2.0 + 1.0).numpy())


def test_round_trip_through_torch_keeps_the_same_memory():
    t = tg.ones((3, 2))
    back = tg.from_dlpack(torch.from_dlpack(t))
    assert back.data.ctypes.data == t.data.ctypes.data
    back.data[0, 0] = 0.0
    assert t.data[0, 0] == 0.0
