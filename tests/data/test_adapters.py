"""fit / evaluate / predict on every source of batches (tapegrad.data.adapters).

The independent check throughout: a source giving the same batches as ``fit(x, y,
batch_size=B, shuffle=False)`` must train to the same weights, bit for bit, and evaluate and
predict to the same numbers as the arrays do.
"""

import io
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data.adapters import epoch_iterator, is_batch_source

N, B = 50, 16  # batches of 16, 16, 16 and a partial 2


def data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")
    return x, y


def model(seed=0):
    tg.random.set_seed(seed)
    m = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(8, activation="relu"), tg.layers.Dense(1)])
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return m


def reference(x, y, epochs, batch_size=B, sample_weight=None, class_weight=None):
    m = model()
    m.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, sample_weight=sample_weight,
          class_weight=class_weight)
    return m


def slices(*arrays, batch_size=B):
    n = len(arrays[0])
    return [tuple(a[i:i + batch_size] for a in arrays) for i in range(0, n, batch_size)]


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


class Batches:
    """A re-iterable object (not a generator): every iter() starts again."""

    def __init__(self, batches, with_len=True):
        self.batches, self.with_len = batches, with_len

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return len(self.batches)


class Squares(tg.data.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.begins = self.ends = 0
        self.asked = []

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        self.asked.append(idx)
        lo = idx * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


# -- each kind trains as the arrays do -----------------------------------------------------------
def test_generator_one_epoch_equals_arrays():
    x, y = data()
    m = model()
    h = m.fit((b for b in slices(x, y)), epochs=1, verbose=0)
    assert_same_weights(m, reference(x, y, 1))
    assert len(h.history["loss"]) == 1


@pytest.mark.parametrize("with_len", [True, False])
def test_reiterable_object_several_epochs_equals_arrays_and_uses_the_recorded_step(with_len):
    x, y = data()
    m = model()
    m.fit(Batches(slices(x, y), with_len), epochs=3, verbose=0)
    assert_same_weights(m, reference(x, y, 3))
    # one recording per batch shape (16 and the last 2), replayed on every later step
    assert m._fast_step.recorded == 2 and m._fast_step.replayed == 3 * 4 - 2 and m._fast_step.reason is None


def test_sample_weight_as_third_element():
    x, y = data()
    sw = np.linspace(0.5, 2.0, N).astype("float32")
    m = model()
    m.fit(iter(slices(x, y, sw)), epochs=1, verbose=0)
    assert_same_weights(m, reference(x, y, 1, sample_weight=sw))


def test_infinite_generator_with_steps_per_epoch_carries_on_across_epochs():
    x, y = data()
    drawn = []

    def forever():
        k = 0
        while True:
            drawn.append(k)
            i = (k % 4) * B
            yield x[i:i + B], y[i:i + B]
            k += 1

    m = model()
    h = m.fit(forever(), steps_per_epoch=4, epochs=3, verbose=0)
    assert_same_weights(m, reference(x, y, 3))
    assert len(h.history["loss"]) == 3
    assert drawn == list(range(12))  # epochs carried on from where the last one stopped, as Keras


def test_finite_generator_several_epochs_follows_keras3():
    # Keras 3 (checked with 3.15.1): a generator's first epoch runs to its end; later epochs warn that the
    # input ran out of data and get only the two batches Keras read ahead. Independent check: the same as
    # one epoch on all the data, then two epochs on the first two batches' samples.
    x, y = data(40)  # batches of 8: five
    counts = []

    class Count(tg.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            counts.append(0)

        def on_train_batch_end(self, batch, logs=None):
            counts[-1] += 1

    m = model()
    with pytest.warns(UserWarning, match="ran out of data"):
        m.fit((b for b in slices(x, y, batch_size=8)), epochs=3, verbose=0, callbacks=[Count()])
    assert counts == [5, 2, 2]
    ref = model()
    ref.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ref.fit(x[:16], y[:16], batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_same_weights(m, ref)


def test_finite_generator_with_steps_per_epoch_runs_short_with_a_warning():
    x, y = data(40)
    counts = []

    class Count(tg.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            counts.append(0)

        def on_train_batch_end(self, batch, logs=None):
            counts[-1] += 1

    with pytest.warns(UserWarning, match="ran out of data"):
        model().fit((b for b in slices(x, y, batch_size=8)), steps_per_epoch=2, epochs=3, verbose=0,
                    callbacks=[Count()])
    assert counts == [2, 2, 1]  # as Keras 3.15.1


def test_pydataset_equals_arrays_and_hears_every_epoch():
    x, y = data()
    ds = Squares(x, y, B)
    m = model()
    m.fit(ds, epochs=3, shuffle=False, verbose=0)
    assert_same_weights(m, reference(x, y, 3))
    assert ds.begins == 3 and ds.ends == 3 and ds.asked == [0, 1, 2, 3] * 3
    m.evaluate(ds, verbose=0)
    m.predict(ds, verbose=0)
    assert ds.begins == 5 and ds.ends == 5  # a pass of evaluate or predict is an epoch too, as Keras


def test_pydataset_shuffle_reorders_the_batches_each_epoch_reproducibly():
    x, y = data()
    orders = []
    for _ in range(2):
        ds = Squares(x, y, B)
        model().fit(ds, epochs=3, verbose=0)  # shuffle=True, the default
        orders.append([ds.asked[i:i + 4] for i in range(0, 12, 4)])
    assert orders[0] == orders[1]  # tg.random.set_seed fixes them
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders[0])
    assert len({tuple(o) for o in orders[0]}) > 1


def test_pydataset_without_end_needs_steps():
    x, y = data()

    class Endless(tg.data.PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, idx):
            i = (idx % 4) * B
            return x[i:i + B], y[i:i + B]

    with pytest.raises(ValueError, match="without end; pass steps_per_epoch"):
        model().fit(Endless(), epochs=1, verbose=0)
    m = model()
    m.fit(Endless(), steps_per_epoch=4, epochs=2, verbose=0)
    assert_same_weights(m, reference(x, y, 2))
    with pytest.raises(ValueError, match="pass steps"):
        m.predict(Endless(), verbose=0)
    assert m.predict(Endless(), steps=2, verbose=0).shape == (32, 1)


def test_torch_dataloader_over_a_tensor_dataset():
    torch = pytest.importorskip("torch")
    x, y = data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=B, shuffle=False)
    assert is_batch_source(loader) and not is_batch_source(torch.from_numpy(x))
    m = model()
    m.fit(loader, epochs=3, verbose=0)
    ref = reference(x, y, 3)
    assert_same_weights(m, ref)
    np.testing.assert_array_equal(m.predict(loader, verbose=0), ref.predict(x, batch_size=B, verbose=0))
    assert m.evaluate(loader, verbose=0) == ref.evaluate(x, y, batch_size=B, verbose=0)
    shuffled = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                           batch_size=B, shuffle=True, generator=torch.Generator().manual_seed(0))
    h = model().fit(shuffled, epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all()


def test_dataset_pipelines_equal_arrays():
    x, y = data()
    ref = reference(x, y, 3)
    ds = tg.data.Dataset.from_tensor_slices((x, y))
    for pipeline in (ds.batch(B), ds.batch(B).prefetch(1), ds.map(lambda a, b: (a, b)).batch(B),
                     ds.batch(B).map(lambda a, b: (a * 1, b)), ds.take(N)):
        m = model()
        m.fit(pipeline, epochs=3, batch_size=B, verbose=0)  # batch_size: for the unbatched take(N)
        assert_same_weights(m, ref)
    m = model()
    m.fit(ds.repeat().batch(B), steps_per_epoch=4, epochs=3, verbose=0)  # 3 * 4 batches of 16, no partial
    ref2 = model()
    x3, y3 = np.concatenate([x] * 4), np.concatenate([y] * 4)
    ref2.fit(x3[:192], y3[:192], batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(m, ref2)
    with pytest.raises(ValueError, match="without end; pass steps_per_epoch"):
        model().fit(ds.repeat().batch(B), verbose=0)


def test_class_weight_with_pydataset_and_dataset():
    x, y = data()
    labels = (y > 0).astype("float32")
    m = model()
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy")
    cw = {0: 1.0, 1: 3.0}
    ref = model()
    ref.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy")
    ref.fit(x, labels, batch_size=B, shuffle=False, epochs=2, class_weight=cw, verbose=0)
    m.fit(tg.data.Dataset.from_tensor_slices((x, labels)).batch(B), epochs=2, class_weight=cw, verbose=0)
    assert_same_weights(m, ref)
    with pytest.raises(ValueError, match="class_weight is not supported when x is a generator"):
        m.fit((b for b in slices(x, labels)), class_weight=cw, verbose=0)


def test_dict_inputs_pass_through():
    class TwoInputs(tg.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = tg.layers.Dense(4), tg.layers.Dense(1)

        def call(self, inputs, training=False):
            return self.b(tg.relu(self.a(inputs["left"]) + inputs["right"]))

    x, y = data(32)
    right = np.ones((32, 4), "float32")
    outs = []
    for source in ({"left": x, "right": right},
                   (({"left": x[i:i + 8], "right": right[i:i + 8]}, y[i:i + 8]) for i in range(0, 32, 8))):
        tg.random.set_seed(0)
        m = TwoInputs()
        m.compile(optimizer="sgd", loss="mse")
        if isinstance(source, dict):
            m.fit(source, y, batch_size=8, shuffle=False, verbose=0)
        else:
            m.fit(source, verbose=0)
        outs.append(m.predict({"left": x, "right": right}, verbose=0))
    np.testing.assert_array_equal(outs[0], outs[1])


# -- validation, evaluate and predict ------------------------------------------------------------
def test_validation_data_as_a_source():
    x, y = data()
    xv, yv = data(20, seed=1)
    for make in (lambda: (b for b in slices(xv, yv, batch_size=8)), lambda: Squares(xv, yv, 8),
                 lambda: tg.data.Dataset.from_tensor_slices((xv, yv)).batch(8)):
        m = model()
        h = m.fit(x, y, batch_size=B, epochs=1, validation_data=make(), verbose=0)
        expected = m.evaluate(xv, yv, batch_size=8, return_dict=True, verbose=0)
        assert h.history["val_loss"][-1] == expected["loss"]
        assert h.history["val_mean_absolute_error"][-1] == expected["mean_absolute_error"]
    m = model()
    h = m.fit(x, y, batch_size=B, epochs=2, validation_data=Squares(xv, yv, 8), verbose=0)
    assert h.history["val_loss"][-1] == m.evaluate(xv, yv, batch_size=8, verbose=0)[0]
    m = model()
    h = m.fit(x, y, batch_size=B, epochs=2, validation_data=tg.data.Dataset.from_tensor_slices((xv, yv)).repeat()
              .batch(8), validation_steps=2, verbose=0)
    assert h.history["val_loss"][-1] == m.evaluate(xv[:16], yv[:16], batch_size=8, verbose=0)[0]


def test_evaluate_and_predict_on_generators():
    x, y = data()
    m = reference(x, y, 1)
    assert m.evaluate((b for b in slices(x, y)), verbose=0) == m.evaluate(x, y, batch_size=B, verbose=0)
    np.testing.assert_array_equal(m.predict((b[0] for b in slices(x, y)), verbose=0),
                                  m.predict(x, batch_size=B, verbose=0))

    def forever():
        while True:
            yield from slices(x)

    np.testing.assert_array_equal(m.predict(forever(), steps=4, verbose=0), m.predict(x, batch_size=B, verbose=0))
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        m.evaluate((b for b in slices(x, y)), verbose=1)
    assert out.getvalue().startswith("4/4 - ")


def test_progress_bar_with_unknown_length():
    pytest.importorskip("tqdm")

    class TTY(io.StringIO):
        def isatty(self):
            return True

    x, y = data()
    stream = TTY()
    model().fit(Batches(slices(x, y), with_len=False), epochs=2, verbose=1,
                callbacks=[tg.callbacks.ProgbarLogger(stream=stream)])
    text = stream.getvalue()
    assert "0/Unknown" in text and "4/4" in text  # counted in the first epoch, known in the second
    plain = io.StringIO()
    model().fit(Batches(slices(x, y), with_len=False), epochs=1, callbacks=[tg.callbacks.ProgbarLogger(stream=plain)])
    assert "4/4 - " in plain.getvalue()


# -- bad input -------------------------------------------------------------------------------------
def bad(kind):
    x, y = data(8)
    good = (x[:2], y[:2])
    if kind == "length":
        return [good, good, good, (x[:2], y[:2], y[:2, 0], y[:2])], "batch 3 of the generator is a tuple of 4"
    if kind == "ragged":
        return [good, ([[1.0, 2.0, 3.0], [1.0, 2.0]], y[:2])], "batch 1 of the generator: x could not be read"
    if kind == "dtype":
        return [good, good, (x[:2], np.array(["a", "b"]))], "batch 2 of the generator: y has dtype <U1"
    if kind == "samples":
        return [good, (x[:4], y[:3])], "batch 1 of the generator: x has 4 samples but y has 3"
    if kind == "scalar":
        return [(1.0, 2.0)], "batch 0 of the generator: x is a single number"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["length", "ragged", "dtype", "samples", "scalar"])
def test_bad_batches_name_the_batch(kind):
    batches, message = bad(kind)
    with pytest.raises((ValueError, TypeError), match=message):
        model().fit((b for b in batches), verbose=0)


def test_bad_batch_from_a_pydataset_names_its_index():
    class Bad(tg.data.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, idx):
            x, y = np.ones((2, 3), "float32"), np.ones((2, 1), "float32")
            return (x, y) if idx != 2 else (x, y, y, y)

    with pytest.raises(ValueError, match="fit: batch 2 of the PyDataset is a tuple of 4"):
        model().fit(Bad(), shuffle=False, verbose=0)


def test_bad_arguments_with_a_source():
    x, y = data()
    gen = lambda: (b for b in slices(x, y))  # noqa: E731
    with pytest.raises(ValueError, match="when x is a generator, y must not be passed"):
        model().fit(gen(), y, verbose=0)
    with pytest.raises(ValueError, match="sample_weight must not be passed"):
        model().fit(gen(), sample_weight=np.ones(N), verbose=0)
    with pytest.raises(ValueError, match="validation_split is only supported for arrays"):
        model().fit(gen(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        model().fit(gen(), steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="the generator yielded no batch"):
        model().fit((b for b in []), verbose=0)
    m = model()
    before = m.get_weights()
    with pytest.raises(ValueError, match="validation_steps must be a positive integer"):
        m.fit(gen(), validation_data=gen(), validation_steps=-1, verbose=0)
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))


def test_what_is_a_source():
    x, y = data(4)
    assert not any(is_batch_source(v) for v in (x, [x, x], (x, y), {"a": x}, tg.constant(x), range(3),
                                                tg.data.Dataset(x, y), tg.data.DataLoader(tg.data.Dataset(x))))
    assert all(is_batch_source(v) for v in ((b for b in [x]), iter([x]), Batches([x]), Squares(x, y, 2),
                                            tg.data.Dataset(x).batch(2)))


def test_epoch_iterator_is_reset_between_evaluations():
    x, y = data(16)
    it = epoch_iterator(Batches(slices(x, y, batch_size=4)), steps=2, who="evaluate")
    first = [b[0][0, 0] for b in it]
    second = [b[0][0, 0] for b in epoch_iterator(it, who="evaluate")]
    assert first == second == [x[0, 0], x[4, 0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [b[0][0, 0] for b in it] == [x[8, 0], x[12, 0]]  # without reset the next epoch carries on
