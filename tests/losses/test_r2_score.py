"""R2Score against the closed form of Keras 3's formulas: R² = 1 - SS_res / SS_tot per output,
aggregated uniformly or by variance, adjusted by 1 - (1 - R²)(n - 1)/(n - p - 1), weighted sums
with sample weights; computed here in float64 NumPy from the definition."""

import numpy as np
import pytest

import tapegrad as tg


def r2_columns(t, p, w=None):
    w = np.ones_like(t) if w is None else np.broadcast_to(w.reshape(len(t), -1), t.shape)
    mean = (w * t).sum(0) / w.sum(0)
    ss_tot = (w * (t - mean) ** 2).sum(0)
    ss_res = (w * (t - p) ** 2).sum(0)
    return 1 - ss_res / ss_tot, ss_tot


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1] + [0.0, 100.0, -5.0]
    p = t + rng.normal(size=(50, 3)) * [0.5, 3.0, 0.08]
    return t, p


def test_uniform_variance_weighted_and_raw(data):
    t, p = data
    cols, ss_tot = r2_columns(t, p)
    m = tg.metrics.R2Score()
    m.update_state(t, p)
    assert float(m.result()) == pytest.approx(cols.mean(), rel=1e-6)
    m = tg.metrics.R2Score(class_aggregation="variance_weighted_average")
    m.update_state(t, p)
    assert float(m.result()) == pytest.approx((ss_tot * cols).sum() / ss_tot.sum(), rel=1e-6)
    m = tg.metrics.R2Score(class_aggregation=None)
    m.update_state(t, p)
    np.testing.assert_allclose(m.result().numpy(), cols, rtol=1e-6)


def test_batches_accumulate_to_the_whole(data):
    t, p = data
    m = tg.metrics.R2Score()
    for i in range(0, 50, 7):
        m.update_state(t[i:i + 7], p[i:i + 7])
    assert float(m.result()) == pytest.approx(r2_columns(t, p)[0].mean(), rel=1e-6)
    m.reset_state()
    m.update_state(t[:, :1], t[:, :1])
    assert float(m.result()) == 1.0


def test_sample_weights_and_adjusted(data):
    t, p = data
    w = np.random.default_rng(1).uniform(0.1, 2.0, 50)
    m = tg.metrics.R2Score()
    m.update_state(t, p, sample_weight=w)
    assert float(m.result()) == pytest.approx(r2_columns(t, p, w)[0].mean(), rel=1e-6)
    m = tg.metrics.R2Score(num_regressors=4)
    m.update_state(t, p)
    r2 = r2_columns(t, p)[0].mean()
    assert float(m.result()) == pytest.approx(1 - (1 - r2) * 49 / 45, rel=1e-6)


def test_one_dimensional_targets_are_one_output():
    m = tg.metrics.R2Score()
    m.update_state([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert float(m.result()) == pytest.approx(0.5)  # SS_res 1, SS_tot 2


def test_through_compile_and_evaluate():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 3).astype(np.float32)
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(1)])
    model.compile(optimizer=tg.optimizers.Adam(0.05), loss="mse", metrics=["r2_score", "mae"])
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    result = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    expected = r2_columns(y.astype(np.float64), model.predict(x, verbose=0).astype(np.float64))[0][0]
    assert result["r2_score"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert 0.5 < result["r2_score"] <= 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"class_aggregation": "median"}, "class_aggregation must be"),
    ({"num_regressors": -1}, "num_regressors must be a non-negative integer, received -1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tg.metrics.R2Score(**kwargs)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match=r"R2Score: expected y_true and y_pred of one shape .* \(2, 1\) and \(2, 2\)"):
        tg.metrics.R2Score().update_state([[1.0], [2.0]], [[1.0, 2.0], [3.0, 4.0]])
