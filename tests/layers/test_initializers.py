"""Initializers: Keras's variance-scaling formulas, checked by statistics and closed forms."""

import numpy as np
import pytest

import tapegrad as tg

SHAPE = (400, 300)
FAN_IN, FAN_OUT = 400, 300


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", np.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", np.sqrt(6 / FAN_IN)),
    ("lecun_uniform", np.sqrt(3 / FAN_IN)),
])
def test_uniform_limits_and_variance(name, limit):
    w = tg.initializers.get(name)(SHAPE)
    assert np.abs(w).max() <= limit + 1e-7
    assert np.var(w) == pytest.approx(limit**2 / 3, rel=0.03)


@pytest.mark.parametrize("name,var", [
    ("glorot_normal", 2 / (FAN_IN + FAN_OUT)),
    ("he_normal", 2 / FAN_IN),
    ("lecun_normal", 1 / FAN_IN),
])
def test_truncated_normals_have_the_target_variance(name, var):
    w = np.asarray(tg.initializers.get(name)(SHAPE), dtype=np.float64)
    std = np.sqrt(var) / 0.87962566103423978  # Keras's correction before truncating at 2 std
    assert np.abs(w).max() <= 2 * std + 1e-6
    assert np.var(w) == pytest.approx(var, rel=0.03)


def test_conv_kernel_fans_include_receptive_field():
    assert tg.initializers.compute_fans((3, 3, 16, 32)) == (144.0, 288.0)


def test_simple_initializers():
    assert np.all(tg.initializers.get("zeros")((2, 2)) == 0)
    assert np.all(tg.initializers.get("ones")((2,)) == 1)
    assert np.all(tg.initializers.Constant(3.0)((2,)) == 3)
    w = tg.initializers.RandomNormal(stddev=0.05)((200, 200))
    assert np.std(w) == pytest.approx(0.05, rel=0.03)
    u = tg.initializers.RandomUniform()((200, 200))
    assert np.abs(u).max() <= 0.05
    t = tg.initializers.TruncatedNormal(stddev=1.0)((200, 200))
    assert np.abs(t).max() <= 2.0


def test_orthogonal():
    q = np.asarray(tg.initializers.Orthogonal(gain=2.0)((6, 4)), dtype=np.float64)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)


def test_reproducible_under_set_seed():
    tg.random.set_seed(42)
    a = tg.layers.Dense(5)
    a(tg.ones((1, 3)))
    tg.random.set_seed(42)
    b = tg.layers.Dense(5)
    b(tg.ones((1, 3)))
    assert np.array_equal(a.kernel.numpy(), b.kernel.numpy())


def test_unknown_initializer():
    with pytest.raises(ValueError, match="valid names are"):
        tg.initializers.get("xavier")
