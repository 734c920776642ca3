"""Saving and loading: safetensors weights, .tapegrad archives, atomic writes, exact resume."""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import tapegrad as tg


def small_model():
    return tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu"),
                          tg.layers.Dropout(0.1), tg.layers.Dense(1, activation="sigmoid")])


def xy(n=64):
    x, y = tg.data.make_moons(n, noise=0.1, seed=0)
    return x, y.reshape(-1, 1).astype("float32")


def test_weights_round_trip(tmp_path):
    m = small_model()
    path = tmp_path / "m.weights.safetensors"
    m.save_weights(str(path))
    m2 = small_model()
    m2.load_weights(str(path))
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_wrong_shape_or_missing_named(tmp_path):
    path = tmp_path / "m.weights.safetensors"
    small_model().save_weights(str(path))
    other = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(8), tg.layers.Dense(1)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"weight '0000/kernel' has shape \(2, 8\) in the file but \(3, 8\)"):
        other.load_weights(str(path))
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing changed
    bigger = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8), tg.layers.Dense(1), tg.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"missing \['0004/kernel', '0005/bias'\]"):
        bigger.load_weights(str(path))


def test_truncated_weights_file_is_clear_error(tmp_path):
    path = tmp_path / "m.weights.safetensors"
    small_model().save_weights(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        small_model().load_weights(str(path))


def test_model_archive_round_trip_with_optimizer(tmp_path):
    x, y = xy()
    m = small_model()
    m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.tapegrad"
    m.save(str(path))
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "model.weights.safetensors", "optimizer.safetensors"]
        assert json.loads(zf.read("config.json"))["class_name"] == "Sequential"
    m2 = tg.models.load_model(str(path))
    np.testing.assert_array_equal(m.predict(x, verbose=0), m2.predict(x, verbose=0))
    assert m2.optimizer.iterations == m.optimizer.iterations
    assert isinstance(m2.optimizer, tg.optimizers.Adam) and m2.optimizer.learning_rate == pytest.approx(0.01)
    assert m2.evaluate(x, y, verbose=0) == pytest.approx(m.evaluate(x, y, verbose=0))


@tg.saving.register_serializable()
class Subclassed(tg.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = tg.layers.Dense(units, activation="tanh")
        self.out = tg.layers.Dense(1)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_round_trip(tmp_path):
    m = Subclassed(units=5)
    x = np.ones((3, 2), np.float32)
    m(x)
    path = tmp_path / "sub.tapegrad"
    m.save(str(path))
    m2 = tg.models.load_model(str(path))
    assert isinstance(m2, Subclassed) and m2.units == 5
    np.testing.assert_array_equal(m.predict(x, verbose=0), m2.predict(x, verbose=0))


def test_unknown_class_and_tampered_archive(tmp_path):
    m = small_model()
    path = tmp_path / "m.tapegrad"
    m.save(str(path))
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(files["config.json"])
    config["class_name"] = "os.system"
    tampered = tmp_path / "t.tapegrad"
    with zipfile.ZipFile(tampered, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, json.dumps(config) if n == "config.json" else d)
    with pytest.raises(ValueError, match="Unknown class 'os.system'"):
        tg.models.load_model(str(tampered))
    truncated = tmp_path / "cut.tapegrad"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a valid .tapegrad file"):
        tg.models.load_model(str(truncated))


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "m.tapegrad"
    m = small_model()
    m.save(str(path))
    before = path.read_bytes()
    import tapegrad.saving.archive as archive

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.zipfile.ZipFile, "writestr", boom)
    with pytest.raises(KeyboardInterrupt):
        m.save(str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.tapegrad"]  # no temporary file left


def test_library_never_uses_pickle():
    src = os.path.join(os.path.dirname(tg.__file__))
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith(".py"):
                text = open(os.path.join(root, f)).read()
                assert "import pickle" not in text and "allow_pickle=True" not in text, f


RESUME = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tapegrad as tg
    mode, path = sys.argv[1], sys.argv[2]
    x, y = tg.data.make_moons(200, noise=0.2, seed=0)
    y = y.reshape(-1, 1).astype("float32")
    tg.random.set_seed(7)
    if mode == "resume":
        m = tg.models.load_model(path)
        h = m.fit(x, y, epochs=10, initial_epoch=5, batch_size=16, verbose=0, validation_split=0.2)
    else:
        m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(16, activation="relu"), tg.layers.Dropout(0.2),
                           tg.layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
        epochs = 5 if mode == "first" else 10
        h = m.fit(x, y, epochs=epochs, batch_size=16, verbose=0, validation_split=0.2)
        if mode == "first":
            m.save(path)
    print(json.dumps({"history": h.history, "weights": [w.tolist() for w in m.get_weights()]}))
""")


def test_resume_in_fresh_process_equals_straight_run(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME)
    path = str(tmp_path / "half.tapegrad")

    def run(mode):
        out = subprocess.run([sys.executable, str(script), mode, path], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    full = run("full")
    run("first")
    resumed = run("resume")
    for key, values in resumed["history"].items():
        np.testing.assert_allclose(values, full["history"][key][5:], rtol=1e-6, atol=1e-7)
    for a, b in zip(resumed["weights"], full["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-6)


def test_saved_files_get_normal_permissions(tmp_path):
    path = tmp_path / "m.weights.safetensors"
    small_model().save_weights(str(path))
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
