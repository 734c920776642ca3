"""Each optimizer against an independent float64 implementation of Keras 3's formula,
over 100 steps of a real model (a 2-8-1 tanh network with MSE, whose gradients the
reference computes by hand), and against PyTorch where the two updates coincide."""

import math

import numpy as np
import pytest

import tapegrad as tg

R = np.random.default_rng(0)
X = R.normal(size=(32, 2))
Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:]
W0 = [R.normal(size=(2, 8)) * 0.5, R.normal(size=(8,)) * 0.1, R.normal(size=(8, 1)) * 0.5, R.normal(size=(1,)) * 0.1]


def ref_grads(w):
    """Hand-written forward and backward of tanh(X W1 + b1) W2 + b2 with mean squared error."""
    w1, b1, w2, b2 = w
    h = np.tanh(X @ w1 + b1)
    out = h @ w2 + b2
    d = 2 * (out - Y) / out.size
    gw2 = h.T @ d
    gb2 = d.sum(0)
    dh = d @ w2.T * (1 - h**2)
    return [X.T @ dh, dh.sum(0), gw2, gb2]


def run_reference(update, init_state, steps=100, with_state=False):
    w = [a.copy() for a in W0]
    state = [init_state(a) for a in w]
    for t in range(1, steps + 1):
        g = ref_grads(w)
        for i in range(4):
            w[i] = update(w[i], g[i], state[i], t)
    return (w, state) if with_state else w


def run_ours(opt, steps=100):
    vs = [tg.Variable(a.copy(), dtype="float64") for a in W0]
    for _ in range(steps):
        with tg.GradientTape() as tape:
            h = tg.tanh(tg.matmul(X, vs[0]) + vs[1])
            loss = tg.reduce_mean(tg.square(tg.matmul(h, vs[2]) + vs[3] - Y))
        opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
    return [v.numpy() for v in vs]


def zeros_state(*names):
    return lambda a: {n: np.zeros_like(a) for n in names}


def sgd(lr, momentum=0.0, nesterov=False):
    def update(w, g, s, t):
        if momentum == 0:
            return w - lr * g
        s["m"] = momentum * s["m"] - lr * g
        return w + (momentum * s["m"] - lr * g if nesterov else s["m"])
    return update, zeros_state("m")


def adam(lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=0.0):
    def update(w, g, s, t):
        w = w - w * wd * lr
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        v = s["v"]
        if amsgrad:
            s["vh"] = np.maximum(s["vh"], v)
            v = s["vh"]
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        return w - alpha * s["m"] / (np.sqrt(v) + eps)
    return update, zeros_state("m", "v", "vh")


def adagrad(lr, init=0.1, eps=1e-7):
    def update(w, g, s, t):
        s["a"] = s["a"] + g * g
        return w - lr * g / np.sqrt(s["a"] + eps)
    return update, lambda a: {"a": np.full_like(a, init)}


def adadelta(lr, rho=0.95, eps=1e-7):
    def update(w, g, s, t):
        s["eg"] = rho * s["eg"] + (1 - rho) * g * g
        d = -np.sqrt(s["ed"] + eps) * g / np.sqrt(s["eg"] + eps)
        s["ed"] = rho * s["ed"] + (1 - rho) * d * d
        return w + lr * d
    return update, zeros_state("eg", "ed")


def rmsprop(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def update(w, g, s, t):
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        den = s["v"] + eps
        if centered:
            s["a"] = rho * s["a"] + (1 - rho) * g
            den = s["v"] - s["a"] ** 2 + eps
        inc = lr * g / np.sqrt(den)
        if momentum > 0:
            s["m"] = momentum * s["m"] + inc
            return w - s["m"]
        return w - inc
    return update, zeros_state("v", "a", "m")


def adamax(lr, b1=0.9, b2=0.999, eps=1e-7):
    def update(w, g, s, t):
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["u"] = np.maximum(b2 * s["u"], np.abs(g))
        return w - lr * s["m"] / ((1 - b1**t) * (s["u"] + eps))
    return update, zeros_state("m", "u")


def nadam_reference(lr, b1=0.9, b2=0.999, eps=1e-7, steps=100):
    """Dozat's Nadam as Keras 3 writes it, with the running product of the momentum schedule."""
    w = [a.copy() for a in W0]
    m = [np.zeros_like(a) for a in w]
    v = [np.zeros_like(a) for a in w]
    u_prod = 1.0
    for t in range(1, steps + 1):
        g = ref_grads(w)
        u_t = b1 * (1 - 0.5 * 0.96**t)
        u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_prod = u_prod * u_t
        for i in range(4):
            m[i] = m[i] + (g[i] - m[i]) * (1 - b1)
            v[i] = v[i] + (g[i] ** 2 - v[i]) * (1 - b2)
            m_hat = u_next * m[i] / (1 - u_prod * u_next) + (1 - u_t) * g[i] / (1 - u_prod)
            v_hat = v[i] / (1 - b2**t)
            w[i] = w[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


CASES = {
    "sgd": (lambda: tg.optimizers.SGD(0.1), sgd(0.1)),
    "sgd_momentum": (lambda: tg.optimizers.SGD(0.05, momentum=0.9), sgd(0.05, 0.9)),
    "sgd_nesterov": (lambda: tg.optimizers.SGD(0.05, momentum=0.9, nesterov=True), sgd(0.05, 0.9, True)),
    "adam": (lambda: tg.optimizers.Adam(0.01), adam(0.01)),
    "adam_amsgrad": (lambda: tg.optimizers.Adam(0.01, amsgrad=True), adam(0.01, amsgrad=True)),
    "adamw": (lambda: tg.optimizers.AdamW(0.01), adam(0.01, wd=0.004)),
    "adagrad": (lambda: tg.optimizers.Adagrad(0.1), adagrad(0.1)),
    "adadelta": (lambda: tg.optimizers.Adadelta(1.0), adadelta(1.0)),
    "rmsprop": (lambda: tg.optimizers.RMSprop(0.001), rmsprop(0.001)),
    "rmsprop_centered_momentum": (lambda: tg.optimizers.RMSprop(0.005, momentum=0.5, centered=True),
                                  rmsprop(0.005, momentum=0.5, centered=True)),
    "adamax": (lambda: tg.optimizers.Adamax(0.02), adamax(0.02)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_formula_over_100_steps(name):
    make, (update, init) = CASES[name]
    ours = run_ours(make())
    ref = run_reference(update, init)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert not np.allclose(ref[0], W0[0])  # the run really moved the weights


def test_nadam_matches_reference():
    ours = run_ours(tg.optimizers.Nadam(0.01))
    for a, b in zip(ours, nadam_reference(0.01)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_float32_state_stays_float32():
    v = tg.Variable(np.ones(3, np.float32))
    opt = tg.optimizers.Adam()
    opt.apply_gradients([(tg.constant(np.ones(3, np.float32)), v)])
    assert v.dtype == np.float32 and all(a.dtype == np.float32 for a in opt.variables)


def test_none_gradients_skipped_and_iterations():
    a, b = tg.Variable([1.0]), tg.Variable([1.0])
    opt = tg.optimizers.SGD(0.5)
    opt.apply_gradients([(tg.constant([1.0]), a), (None, b)])
    assert a.numpy()[0] == 0.5 and b.numpy()[0] == 1.0 and opt.iterations == 1


def test_gradient_shape_error_names_variable():
    v = tg.Variable([1.0, 2.0], name="w")
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for variable 'w' of shape \(2,\)"):
        tg.optimizers.SGD().apply_gradients([(tg.constant([1.0, 2.0, 3.0]), v)])
    assert v.numpy().tolist() == [1.0, 2.0]


def test_clipping_rules():
    g = tg.constant([3.0, 4.0])
    v = tg.Variable([0.0, 0.0])
    tg.optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([(g, v)])
    np.testing.assert_allclose(v.numpy(), [-0.6, -0.8], rtol=1e-6)
    v2, v3 = tg.Variable([0.0, 0.0]), tg.Variable([0.0])
    tg.optimizers.SGD(1.0, global_clipnorm=6.5).apply_gradients([(g, v2), (tg.constant([12.0]), v3)])
    np.testing.assert_allclose(v2.numpy(), [-1.5, -2.0], rtol=1e-6)  # global norm 13 -> scale 0.5
    v4 = tg.Variable([0.0, 0.0])
    tg.optimizers.SGD(1.0, clipvalue=3.5).apply_gradients([(g, v4)])
    np.testing.assert_allclose(v4.numpy(), [-3.0, -3.5])
    with pytest.raises(ValueError, match="Only one of clipnorm and global_clipnorm"):
        tg.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)


def test_weight_decay_is_decoupled():
    v = tg.Variable([2.0])
    tg.optimizers.SGD(0.1, weight_decay=0.5).apply_gradients([(tg.constant([0.0]), v)])
    assert v.numpy()[0] == pytest.approx(2.0 - 2.0 * 0.5 * 0.1)


def test_schedules():
    s = tg.optimizers.schedules
    assert s.ExponentialDecay(1.0, 10, 0.5)(5) == pytest.approx(0.5**0.5)
    assert s.ExponentialDecay(1.0, 10, 0.5, staircase=True)(15) == pytest.approx(0.5)
    assert s.InverseTimeDecay(1.0, 10, 1.0)(10) == pytest.approx(0.5)
    pc = s.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pc(10), pc(11), pc(21)] == [1.0, 0.5, 0.1]
    cd = s.CosineDecay(1.0, 100, alpha=0.1)
    assert cd(0) == pytest.approx(1.0) and cd(100) == pytest.approx(0.1) and cd(50) == pytest.approx(0.55)
    opt = tg.optimizers.SGD(s.ExponentialDecay(1.0, 1, 0.5))
    v = tg.Variable([0.0])
    opt.apply_gradients([(tg.constant([1.0]), v)])
    opt.apply_gradients([(tg.constant([1.0]), v)])
    assert v.numpy()[0] == pytest.approx(-1.5)  # lr 1.0 at step 0, 0.5 at step 1
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_minimize_and_names():
    x = tg.Variable(0.0)
    opt = tg.optimizers.get("sgd")
    assert isinstance(opt, tg.optimizers.SGD)
    for _ in range(600):  # x_t = 3 (1 - 0.98^t)
        opt.minimize(lambda: (x - 3.0) ** 2, [x])
    assert float(x) == pytest.approx(3.0, abs=1e-3)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        tg.optimizers.get("adamm")


TORCH = {
    "sgd_momentum": (lambda: tg.optimizers.SGD(0.05, momentum=0.9), lambda p, t: t.optim.SGD(p, 0.05, momentum=0.9)),
    "adam_eps0": (lambda: tg.optimizers.Adam(0.01, epsilon=1e-30), lambda p, t: t.optim.Adam(p, 0.01, eps=1e-30)),
    "adamw_eps0": (lambda: tg.optimizers.AdamW(0.01, weight_decay=0.01, epsilon=1e-30),
                   lambda p, t: t.optim.AdamW(p, 0.01, eps=1e-30, weight_decay=0.01)),
    "rmsprop_eps0": (lambda: tg.optimizers.RMSprop(0.001, epsilon=1e-30),
                     lambda p, t: t.optim.RMSprop(p, 0.001, alpha=0.9, eps=1e-30)),
    "adagrad_eps0": (lambda: tg.optimizers.Adagrad(0.1, epsilon=1e-30),
                     lambda p, t: t.optim.Adagrad(p, 0.1, initial_accumulator_value=0.1, eps=1e-30)),
    "adadelta": (lambda: tg.optimizers.Adadelta(1.0, rho=0.95, epsilon=1e-6),
                 lambda p, t: t.optim.Adadelta(p, 1.0, rho=0.95, eps=1e-6)),
    "adamax_eps0": (lambda: tg.optimizers.Adamax(0.02, epsilon=1e-30),
                    lambda p, t: t.optim.Adamax(p, 0.02, eps=1e-30)),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_against_torch_where_updates_coincide(name):
    """With epsilon ~0 (where torch places it differently) the updates are algebraically equal."""
    torch = pytest.importorskip("torch")
    make_ours, make_torch = TORCH[name]
    ours = run_ours(make_ours())
    params = [torch.tensor(a.copy(), requires_grad=True) for a in W0]
    opt = make_torch(params, torch)
    xt, yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(100):
        opt.zero_grad()
        h = torch.tanh(xt @ params[0] + params[1])
        loss = ((h @ params[2] + params[3] - yt) ** 2).mean()
        loss.backward()
        opt.step()
    for a, p in zip(ours, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-6, atol=1e-9)


def adam_reference_state(lr, steps, amsgrad=False):
    """The reference run of Keras's Adam formula, returning its weights and moments."""
    return run_reference(*adam(lr, amsgrad=amsgrad), steps=steps, with_state=True)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_state_reads_and_restores_as_keras_moments(amsgrad):
    """Adam stores its moments rescaled; get_state must still give Keras's m and v, and a state
    written by set_state must continue the run as if it had never stopped."""
    vs = [tg.Variable(a.copy(), dtype="float64") for a in W0]
    opt = tg.optimizers.Adam(0.01, amsgrad=amsgrad)

    def train(opt, steps):
        for _ in range(steps):
            with tg.GradientTape() as tape:
                h = tg.tanh(tg.matmul(X, vs[0]) + vs[1])
                loss = tg.reduce_mean(tg.square(tg.matmul(h, vs[2]) + vs[3] - Y))
            opt.apply_gradients(zip(tape.gradient(loss, vs), vs))

    train(opt, 40)
    _, ref_state = adam_reference_state(0.01, 40, amsgrad)
    state = opt.get_state(vs)
    for i, s in enumerate(ref_state):
        np.testing.assert_allclose(state[f"{i}/momentum"], s["m"], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(state[f"{i}/velocity"], s["v"], rtol=1e-9, atol=1e-15)
        if amsgrad:
            np.testing.assert_allclose(state[f"{i}/velocity_hat"], s["vh"], rtol=1e-9, atol=1e-15)
    fresh = tg.optimizers.Adam(0.01, amsgrad=amsgrad)
    fresh.set_state(state, vs)
    train(fresh, 60)
    ref_w, _ = adam_reference_state(0.01, 100, amsgrad)
    for v, r in zip(vs, ref_w):
        np.testing.assert_allclose(v.numpy(), r, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kwargs", [{"beta_1": 1.0}, {"beta_2": -0.1}, {"beta_2": 1.5}])
def test_adam_rejects_betas_outside_unit_interval(kwargs):
    (name, value), = kwargs.items()
    with pytest.raises(ValueError, match=rf"Adam: {name} must be in \[0, 1\), received {value}"):
        tg.optimizers.Adam(**kwargs)


def test_adam_moves_each_weight_by_lr_on_steady_gradients_of_every_size():
    """Variables of several sizes (tiny ones and one of 20000 elements): a gradient of 1 twice
    moves each weight by lr per step (Adam's first steps on a steady gradient). (The fast
    wing's updates into kept buffers are checked against ``apply_gradients`` in
    tests/fast/test_update.py.)"""
    variables = [tg.Variable(np.ones(s, np.float32)) for s in [(3,), (5, 7), (1,), (20000,)]]
    opt = tg.optimizers.Adam(0.1)
    for _ in range(2):
        opt.apply_gradients([(tg.constant(np.ones(v.shape, np.float32)), v) for v in variables])
    for v in variables:
        np.testing.assert_allclose(v.numpy(), 0.8, rtol=1e-6)
        assert v.data.flags.owndata  # each weight stays in its own storage


def test_variables_with_some_gradients_missing_or_storage_replaced():
    """Lists that leave out some variables, lists in another order, and a variable whose
    storage was replaced must all give plain SGD's ``w - lr * g`` (computed here in float64)
    for exactly the variables given."""
    rng = np.random.default_rng(0)
    a, b, c = (tg.Variable(rng.normal(size=s).astype(np.float32)) for s in [(3,), (2, 4), (5,)])
    opt = tg.optimizers.SGD(0.5)
    expected = {id(v): v.numpy().astype(np.float64) for v in (a, b, c)}

    def step(pairs):
        grads = [(rng.normal(size=v.shape).astype(np.float32), v) for v in pairs]
        opt.apply_gradients([(tg.constant(g), v) for g, v in grads])
        for g, v in grads:
            expected[id(v)] -= 0.5 * g.astype(np.float64)
        for v in (a, b, c):
            np.testing.assert_allclose(v.numpy(), expected[id(v)], rtol=1e-6, atol=1e-6)

    step([a, b, c])
    step([c, a])  # b has no gradient
    step([b, c, a])  # another order
    step([a, b, c])
    b.data = b.numpy().copy()  # b's storage replaced
    step([a, b, c])
    assert opt.iterations == 5


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw"])
def test_apply_gradients_leaves_the_gradient_arrays_untouched(name):
    """``apply_gradients`` leaves the caller's arrays as they were (Keras and PyTorch do)."""
    rng = np.random.default_rng(4)
    shapes = [(20005,), (3, 4), (7,)]
    variables = [tg.Variable(rng.normal(size=s).astype(np.float32)) for s in shapes]
    opt = tg.optimizers.get(name)
    for _ in range(3):
        step = [rng.normal(size=s).astype(np.float32) for s in shapes]
        given = [g.copy() for g in step]
        opt.apply_gradients(zip(given, variables))  # raw arrays: the caller's own
        assert all(np.array_equal(a, b) for a, b in zip(given, step))
