"""ops.conv's helpers for strided views."""

import numpy as np
import pytest


def test_strided_views_match_as_strided_and_stay_inside_their_array():
    from tapegrad.ops.conv import strided

    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    e = a.itemsize
    for src in (a, a[:, 1:]):  # built on the buffer, and through as_strided when not contiguous
        want = np.lib.stride_tricks.as_strided(src, (3, 2), (6 * e, e))
        got = strided(src, (3, 2), (6 * e, e), writeable=False)
        assert np.array_equal(got, want) and not got.flags.writeable
    view = strided(a, (2, 2), (e, e))
    view[1, 1] = -1.0  # writeable by default, and a view of a
    assert a[0, 2] == -1.0
    with pytest.raises(ValueError):
        strided(a, (5, 6), (6 * e, e))  # past the end of a's 24 values
