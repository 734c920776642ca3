"""Optimizer updates into kept buffers (``tapegrad.fast.update.Updater``).

The reference is the core optimizer's own ``apply_gradients`` on a twin copy of the
variables and the optimizer; every comparison is bit for bit (``np.array_equal``): the
weights, every array of ``get_state`` and ``iterations``. ``apply_gradients`` is itself
checked against independent float64 implementations of Keras's formulas in
tests/optimizers/test_optimizers.py."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.fast.update import CHUNK, SMALL, Updater
from tapegrad.optimizers.schedules import ExponentialDecay

O = tg.optimizers
SUPPORTED = {
    "adam": lambda: O.Adam(0.01),
    "adamw": lambda: O.AdamW(0.01, weight_decay=0.05),
    "sgd": lambda: O.SGD(0.1),
    "sgd_momentum": lambda: O.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
    "adam_schedule": lambda: O.Adam(ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5), beta_1=0.8),
}
FALLBACK = {
    "adamax": lambda: O.Adamax(0.01),
    "adam_amsgrad": lambda: O.Adam(0.01, amsgrad=True),
    "adam_clipnorm": lambda: O.Adam(0.01, clipnorm=0.5),
    "sgd_global_clipnorm": lambda: O.SGD(0.1, momentum=0.9, global_clipnorm=1.0),
    "nadam": lambda: O.Nadam(0.01),
    "rmsprop": lambda: O.RMSprop(0.01),
}
# tiny variables (which the updater may pack together), one of 20000 elements (updated on its
# own), and a float64 variable among float32 ones
SHAPES = [((1,), np.float32), ((3,), np.float32), ((5, 7), np.float32), ((20000,), np.float32),
          ((4, 6), np.float32), ((2,), np.float32), ((3,), np.float64)]
STEPS = 5


def start(rng, shapes=SHAPES):
    return [rng.normal(size=s).astype(d) for s, d in shapes]


def gradients(rng, variables):
    return [rng.normal(size=v.shape).astype(v.dtype) for v in variables]


def assert_same(opt_a, vars_a, opt_b, vars_b):
    assert opt_a.iterations == opt_b.iterations
    for i, (a, b) in enumerate(zip(vars_a, vars_b)):
        assert a.dtype == b.dtype
        diff = np.abs(a.numpy().astype(np.float64) - b.numpy()).max()
        assert np.array_equal(a.numpy(), b.numpy()), f"variable {i} differs by up to {diff}"
    sa, sb = opt_a.get_state(vars_a), opt_b.get_state(vars_b)
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and np.array_equal(sa[key], sb[key]), f"state {key!r} differs"


def assert_moved(variables, initial):
    for v, a in zip(variables, initial):
        assert not np.array_equal(v.numpy(), a)  # every variable was updated: the comparison is not vacuous


def run_twins(make, seed, spare):
    """STEPS steps of ``Updater.apply`` on one optimizer and ``apply_gradients`` on its twin:
    weights and state equal after every step, the caller's arrays untouched unless given up."""
    rng = np.random.default_rng(seed)
    initial = start(rng)
    opt_a, opt_b = make(), make()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    for _ in range(STEPS):
        grads = gradients(rng, vars_a)
        given = [g.copy() for g in grads]
        updater.apply(opt_a, given, vars_a, spare)
        opt_b.apply_gradients(zip([g.copy() for g in grads], vars_b))
        if not spare:  # the caller's arrays are left as they were
            for g, kept in zip(given, grads):
                assert np.array_equal(g, kept)
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert_moved(vars_a, initial)
    return opt_a


@pytest.mark.parametrize("spare", [False, True])
@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_updater_gives_apply_gradients_weights_and_state_bit_for_bit(name, spare):
    assert run_twins(SUPPORTED[name], 0, spare).iterations == STEPS


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_one_array_given_as_the_gradient_of_two_variables_with_spare(name):
    """A backward rule may hand the same array to two inputs; with ``spare=True`` the updater must
    not work in it while another variable still reads it."""
    rng = np.random.default_rng(1)
    shapes = [((20000,), np.float32), ((20000,), np.float32), ((3,), np.float32), ((3,), np.float32),
              ((5, 7), np.float32), ((5, 7), np.float32)]
    initial = start(rng, shapes)
    opt_a, opt_b = SUPPORTED[name](), SUPPORTED[name]()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    for _ in range(STEPS):
        big, small, mid, other = (rng.normal(size=s).astype(np.float32) for s in [(20000,), (3,), (5, 7), (5, 7)])
        reference = [big.copy(), big.copy(), small.copy(), small.copy(), mid.copy(), other.copy()]
        updater.apply(opt_a, [big, big, small, small, mid, other], vars_a, True)  # big and small twice
        opt_b.apply_gradients(zip(reference, vars_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert_moved(vars_a, initial)


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_eager_and_updater_steps_interleaved_give_the_all_eager_result(name):
    rng = np.random.default_rng(2)
    initial = start(rng)
    opt_a, opt_b = SUPPORTED[name](), SUPPORTED[name]()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    for eager in (True, False, False, True, False, True, True, False):
        grads = gradients(rng, vars_a)
        if eager:
            opt_a.apply_gradients(zip([g.copy() for g in grads], vars_a))
        else:
            updater.apply(opt_a, [g.copy() for g in grads], vars_a, True)
        opt_b.apply_gradients(zip(grads, vars_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert opt_a.iterations == 8


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_updater_continues_from_a_state_restored_by_set_state(name):
    """``set_state`` replaces the optimizer's state arrays; the updater's next steps must start
    from the restored state (and iterations), not from what it kept of the old one."""
    rng = np.random.default_rng(3)
    opt_a, opt_b, opt_c = SUPPORTED[name](), SUPPORTED[name](), SUPPORTED[name]()
    vars_a = [tg.Variable(a) for a in start(rng)]
    vars_c = [tg.Variable(a) for a in start(rng)]
    updater = Updater()
    for _ in range(3):  # the updater lays out (and may pack) opt_a's state
        updater.apply(opt_a, gradients(rng, vars_a), vars_a, True)
    for _ in range(2):  # another optimizer's history, eagerly
        opt_c.apply_gradients(zip(gradients(rng, vars_c), vars_c))
    state = opt_c.get_state(vars_c)
    vars_b = [tg.Variable(v.numpy()) for v in vars_c]
    opt_a.set_state(state, vars_a)
    opt_b.set_state(state, vars_b)
    for a, c in zip(vars_a, vars_c):
        a.assign(c.numpy())
    assert_same(opt_a, vars_a, opt_b, vars_b)
    assert opt_a.iterations == 2
    for _ in range(3):
        grads = gradients(rng, vars_a)
        updater.apply(opt_a, [g.copy() for g in grads], vars_a, True)
        opt_b.apply_gradients(zip(grads, vars_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert opt_a.iterations == 5


@pytest.mark.parametrize("name", ["adam", "sgd_momentum", "adamw"])
def test_lists_of_variables_that_change_between_steps(name):
    """A subset of the variables, another order, then the whole list again, and a variable whose
    storage was replaced: each step must give ``apply_gradients``'s result for exactly the
    variables given, and leave the others alone."""
    rng = np.random.default_rng(4)
    initial = start(rng)
    opt_a, opt_b = SUPPORTED[name](), SUPPORTED[name]()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    orders = [range(7), [2, 0, 5], [6, 5, 4, 3, 2, 1, 0], range(7), [1, 2], range(7)]
    for step, order in enumerate(orders):
        if step == 4:
            vars_a[2].data = vars_a[2].numpy().copy()  # the variable's storage replaced
        sub_a, sub_b = [vars_a[i] for i in order], [vars_b[i] for i in order]
        grads = gradients(rng, sub_a)
        updater.apply(opt_a, [g.copy() for g in grads], sub_a, True)
        opt_b.apply_gradients(zip(grads, sub_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert opt_a.iterations == len(orders)


@pytest.mark.parametrize("spare", [False, True])
@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_unsupported_optimizers_fall_back_and_still_match(name, spare):
    run_twins(FALLBACK[name], 5, spare)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_a_missing_gradient_leaves_its_variable_alone(name):
    rng = np.random.default_rng(6)
    initial = start(rng)
    opt_a, opt_b = SUPPORTED[name](), SUPPORTED[name]()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    for step in range(4):
        grads = gradients(rng, vars_a)
        grads[step % 2 + 2] = None
        updater.apply(opt_a, [None if g is None else g.copy() for g in grads], vars_a, True)
        opt_b.apply_gradients(zip(grads, vars_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)


def test_adamw_weight_decay_exclusions_are_kept():
    rng = np.random.default_rng(7)
    initial = start(rng)
    opt_a, opt_b = O.AdamW(0.01, weight_decay=0.5), O.AdamW(0.01, weight_decay=0.5)
    vars_a = [tg.Variable(a, name=f"w{i}") for i, a in enumerate(initial)]
    vars_b = [tg.Variable(a, name=f"w{i}") for i, a in enumerate(initial)]
    opt_a.exclude_from_weight_decay(var_list=[vars_a[1], vars_a[3]])
    opt_b.exclude_from_weight_decay(var_list=[vars_b[1], vars_b[3]])
    updater = Updater()
    for _ in range(STEPS):
        grads = gradients(rng, vars_a)
        updater.apply(opt_a, [g.copy() for g in grads], vars_a, True)
        opt_b.apply_gradients(zip(grads, vars_b))
        assert_same(opt_a, vars_a, opt_b, vars_b)
    decayed = O.AdamW(0.01, weight_decay=0.5)  # the exclusions matter: without them the weights differ
    vars_c = [tg.Variable(a) for a in initial]
    rng = np.random.default_rng(7)
    start(rng)
    for _ in range(STEPS):
        decayed.apply_gradients(zip(gradients(rng, vars_c), vars_c))
    assert not np.array_equal(vars_c[1].numpy(), vars_a[1].numpy())
    assert np.array_equal(vars_c[0].numpy(), vars_a[0].numpy())


# variables updated in chunks: exactly one chunk, several with a short last one, a 2-d one whose
# rows straddle chunk boundaries, and one just over SMALL (one short chunk)
CHUNKED_SHAPES = [((CHUNK,), np.float32), ((2 * CHUNK + 123,), np.float32), ((7, CHUNK // 3 + 5), np.float32),
                  ((SMALL + 1,), np.float32), ((3,), np.float32), ((CHUNK + 9,), np.float64)]


@pytest.mark.parametrize("layout", ["c", "fortran", "strided"])
@pytest.mark.parametrize("spare", [False, True])
@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_chunked_updates_match_apply_gradients_bit_for_bit(name, spare, layout):
    """Large variables go through the chunk loop; gradients that are not C-contiguous (a
    Fortran-ordered array, a strided view) take the whole-array path. Either way the result
    is ``apply_gradients``'s, bit for bit, and the caller's arrays stay untouched unless given up."""
    rng = np.random.default_rng(11)
    initial = start(rng, CHUNKED_SHAPES)
    opt_a, opt_b = SUPPORTED[name](), SUPPORTED[name]()
    vars_a, vars_b = [tg.Variable(a) for a in initial], [tg.Variable(a) for a in initial]
    updater = Updater()
    for _ in range(STEPS):
        grads = gradients(rng, vars_a)
        if layout == "fortran":
            given = [np.array(g, order="F") for g in grads]
        elif layout == "strided":
            given = [np.repeat(g.reshape(-1), 2)[::2].reshape(g.shape) for g in grads]
        else:
            given = [g.copy() for g in grads]
        updater.apply(opt_a, given, vars_a, spare)
        opt_b.apply_gradients(zip([g.copy() for g in grads], vars_b))
        if not spare:  # an array given up may hold intermediates
            for g, kept in zip(given, grads):
                assert np.array_equal(g, kept)
        assert_same(opt_a, vars_a, opt_b, vars_b)
    assert_moved(vars_a, initial)


def test_chunked_updates_keep_two_chunk_sized_buffers_per_dtype():
    """The chunk loop's scratch does not grow with the variables: two chunks per dtype."""
    rng = np.random.default_rng(12)
    variables = [tg.Variable(a) for a in start(rng, CHUNKED_SHAPES)]
    updater = Updater()
    updater.apply(O.Adam(0.01), gradients(rng, variables), variables, True)
    assert sorted(str(d) for d in updater._chunks) == ["float32", "float64"]
    assert all(a.shape == b.shape == (CHUNK,) for a, b in updater._chunks.values())


def test_chunk_length_follows_the_l2_cache():
    """Six float32 chunks fill at most three quarters of L2: 2**15 elements for 1 MiB, 2**16
    for 2 MiB; an unknown size keeps 2**15, and the length stays within [2**12, 2**18]."""
    from tapegrad.fast.update import _chunk_elements

    for l2, expected in [(1 << 20, 1 << 15), (2 << 20, 1 << 16), (0, 1 << 15), (1 << 10, 1 << 12), (1 << 30, 1 << 18)]:
        n = _chunk_elements(l2)
        assert n == expected
        assert l2 == 0 or n == 1 << 12 or 6 * 4 * n <= l2 * 3 // 4
