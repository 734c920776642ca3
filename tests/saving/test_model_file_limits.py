"""Hostile and damaged model files: each is refused with ModelFileError naming the file and the
entry, within a small memory bound, before anything large is allocated; killed saves leave no
temporary file behind after the next save or load in that folder."""

import copy
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.saving import ModelFileError

safetensors_numpy = pytest.importorskip("safetensors.numpy")
MB = 2**20


def trained_model():
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                       tg.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    return m


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid model file's entries, parsed config, and weights."""
    path = tmp_path_factory.mktemp("valid") / "m.tapegrad"
    model = trained_model()
    model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return {"files": files, "config": json.loads(files["config.json"]), "weights": model.get_weights()}


def write(path, files, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return str(path)


def with_config(saved, edit):
    config = copy.deepcopy(saved["config"])
    edit(config)
    return {**saved["files"], "config.json": json.dumps(config)}


def refused(path, entry, match, **kwargs):
    """load_model raises ModelFileError naming the file and entry, within 8 MB of Python allocations."""
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=match) as info:
            tg.models.load_model(path, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.path == path and info.value.entry == entry
    assert repr(path)[1:-1] in str(info.value) and (entry is None or repr(entry) in str(info.value))
    assert peak < 8 * MB, f"loading took {peak / MB:.1f} MB"
    return info.value


def set_declared_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size an entry declares, in its local header and the central directory."""
    out = bytearray(data)
    raw = name.encode()
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if out[name_at:name_at + len(raw)] == raw:
                out[i + at:i + at + 4] = struct.pack("<I", size)
            start = i + 4
    return bytes(out)


# -- sizes -------------------------------------------------------------------------------------

def test_entry_declaring_4_gib_is_refused_before_decompressing(saved, tmp_path):
    path = tmp_path / "m.tapegrad"
    write(path, saved["files"])
    for entry in ("config.json", "model.weights.safetensors"):
        lying = tmp_path / f"lie-{entry}.tapegrad"
        lying.write_bytes(set_declared_size(path.read_bytes(), entry, 2**32 - 1))
        refused(str(lying), entry, "declares 4294967295 bytes uncompressed, more than")


def test_real_decompression_bombs_are_refused_from_the_declared_size(saved, tmp_path):
    bomb = {**saved["files"], "config.json": b" " * (40 * MB)}  # 40 MB of spaces deflate to 40 KB
    refused(write(tmp_path / "c.tapegrad", bomb), "config.json", "more than the limit for a model's config")
    zeros = safetensors_numpy.save({"0000/kernel": np.zeros((2, 8 * MB), "float32")})
    refused(write(tmp_path / "w.tapegrad", {**saved["files"], "model.weights.safetensors": zeros}),
            "model.weights.safetensors", "more than max_weight_bytes=1048576", max_weight_bytes=MB)


def test_entry_shorter_or_longer_than_declared(saved, tmp_path):
    path = tmp_path / "m.tapegrad"
    write(path, saved["files"])
    real = len(saved["files"]["model.weights.safetensors"])
    for size in (real - 7, real + 7):
        lying = tmp_path / f"{size}.tapegrad"
        lying.write_bytes(set_declared_size(path.read_bytes(), "model.weights.safetensors", size))
        refused(str(lying), "model.weights.safetensors", "truncated or corrupt|corrupt")


def test_weights_over_the_stated_limit_and_the_limit_argument(saved, tmp_path):
    path = write(tmp_path / "m.tapegrad", saved["files"])
    refused(path, "model.weights.safetensors", r"its weights take 132 bytes, more than max_weight_bytes=100",
            max_weight_bytes=100)
    model = tg.models.load_model(path, max_weight_bytes=132)
    for a, b in zip(model.get_weights(), saved["weights"]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="max_weight_bytes must be a non-negative integer, received '1'"):
        tg.saving.load_model(path, max_weight_bytes="1")


def test_config_asking_for_huge_weights_is_refused_before_allocating(saved, tmp_path):
    def huge_units(c):
        c["config"]["layers"][0]["config"]["units"] = 10**9

    err = refused(write(tmp_path / "u.tapegrad", with_config(saved, huge_units)), "config.json",
                  r"needs more than the 132 bytes of weights stored in model.weights.safetensors")
    assert "8000000000" in str(err)

    def huge_input(c):
        c["build_input_shape"] = [None, 10**9]
        c["config"]["input_shape"] = [10**9]

    refused(write(tmp_path / "i.tapegrad", with_config(saved, huge_input)), "config.json",
            r"input_shape \[1000000000\] needs 8000000000 bytes for one float64 sample")


def test_deeply_nested_json_is_refused(saved, tmp_path):
    text = json.dumps(saved["config"])[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}"
    refused(write(tmp_path / "d.tapegrad", {**saved["files"], "config.json": text}), "config.json",
            "JSON nested 100001 levels deep, more than the 64")
    assert tg.saving.archive.json_depth('{"a": "[[[[", "b": [{"c": []}]}') == 4  # brackets in strings don't count


# -- content -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case, match", [
    ("unknown_regularizer", r"cannot rebuild the model \(ValueError: Unknown regularizer 'os.system'"),
    ("unknown_regularizer_class", r"cannot rebuild the model \(KeyError: 'os.system'\)"),
    ("base_layer", r"cannot rebuild the model"),
    ("object_dtype", r"config.config.dtype is 'object', expected a numeric dtype"),
    ("unknown_class", r"Unknown class 'os.system'"),
    ("not_a_dict", r"expected \"class_name\" \(a string\) and \"config\" \(an object\)"),
    ("version", r"format version 99, this tapegrad reads version 1"),
    ("bad_optimizer", r"cannot compile the model as saved"),
])
def test_tampered_configs(saved, tmp_path, case, match):
    def edit(c):
        layer = c["config"]["layers"][0]
        if case == "unknown_regularizer":
            layer["config"]["kernel_regularizer"] = "os.system"
        elif case == "unknown_regularizer_class":
            layer["config"]["kernel_regularizer"] = {"class_name": "os.system", "config": {}}
        elif case == "base_layer":
            layer["class_name"] = "Layer"
        elif case == "object_dtype":
            c["config"]["dtype"] = "object"
        elif case == "unknown_class":
            c["class_name"] = "os.system"
        elif case == "not_a_dict":
            c["config"] = [1, 2]
        elif case == "version":
            c["version"] = 99
        elif case == "bad_optimizer":
            c["compile_config"]["optimizer"] = {"class_name": "Adam", "config": {"learning_rate": "abc"}}

    refused(write(tmp_path / f"{case}.tapegrad", with_config(saved, edit)), "config.json", match)


def test_stored_dtype_or_shape_differing_from_the_model(saved, tmp_path):
    stored = safetensors_numpy.load(saved["files"]["model.weights.safetensors"])
    as_int = safetensors_numpy.save({k: v.astype(np.int32) for k, v in stored.items()})
    refused(write(tmp_path / "i.tapegrad", {**saved["files"], "model.weights.safetensors": as_int}),
            "model.weights.safetensors", r"weight '0000/kernel' has dtype I32 \(int32\) in the file but float32")
    reshaped = safetensors_numpy.save({**stored, "0000/kernel": np.zeros((3, 8), "float32")})
    refused(write(tmp_path / "s.tapegrad", {**saved["files"], "model.weights.safetensors": reshaped}),
            "model.weights.safetensors", r"weight '0000/kernel' has shape \(3, 8\) in the file but \(2, 8\)")
    opt = safetensors_numpy.load(saved["files"]["optimizer.safetensors"])
    bad_opt = safetensors_numpy.save({**opt, "0/momentum": opt["0/momentum"].astype(np.float64)})
    refused(write(tmp_path / "o.tapegrad", {**saved["files"], "optimizer.safetensors": bad_opt}),
            "optimizer.safetensors", r"state '0/momentum' is F64 of shape \(2, 8\), expected F32 of shape \(2, 8\)")


def test_entries_missing_renamed_duplicated_or_unknown(saved, tmp_path):
    files = saved["files"]
    refused(write(tmp_path / "a.tapegrad", {k: v for k, v in files.items() if k != "config.json"}), "config.json",
            "missing")
    renamed = {("model.weights.safetensorz" if k == "model.weights.safetensors" else k): v for k, v in files.items()}
    refused(write(tmp_path / "b.tapegrad", renamed), "model.weights.safetensorz", "unexpected entry")
    refused(write(tmp_path / "c.tapegrad", {**files, "evil.py": b"import os"}), "evil.py", "unexpected entry")
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(tmp_path / "d.tapegrad", "w") as zf:
            for name, data in list(files.items()) + [("config.json", files["config.json"])]:
                zf.writestr(name, data)
    refused(str(tmp_path / "d.tapegrad"), "config.json", "each once")


def test_every_single_bit_flip_loads_the_original_or_is_refused(saved, tmp_path):
    good = tmp_path / "m.tapegrad"
    write(good, saved["files"])
    data = good.read_bytes()
    path = str(tmp_path / "flipped.tapegrad")
    outcomes = {"loaded": 0, "refused": 0}
    for pos in range(0, len(data), max(1, len(data) // 400)):  # about 400 positions spread over the whole file
        flipped = bytearray(data)
        flipped[pos] ^= 1 << (pos % 8)
        with open(path, "wb") as f:
            f.write(flipped)
        try:
            model = tg.models.load_model(path)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        for a, b in zip(model.get_weights(), saved["weights"]):
            np.testing.assert_array_equal(a, b)
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 0, outcomes


def test_not_a_zip_a_folder_and_a_stored_entry(saved, tmp_path):
    (tmp_path / "text.tapegrad").write_text("hello")
    refused(str(tmp_path / "text.tapegrad"), None, r"not a valid .tapegrad file \(truncated or not a zip")
    (tmp_path / "dir.tapegrad").mkdir()
    refused(str(tmp_path / "dir.tapegrad"), None, "is a folder")
    model = tg.models.load_model(write(tmp_path / "stored.tapegrad", saved["files"], zipfile.ZIP_STORED))
    for a, b in zip(model.get_weights(), saved["weights"]):
        np.testing.assert_array_equal(a, b)


def test_load_weights_checks_dtype_and_header(tmp_path):
    m = tg.Sequential([tg.Input(shape=(2,)), tg.layers.Dense(3)])
    path = str(tmp_path / "w.weights.safetensors")
    safetensors_numpy.save_file({"0000/kernel": np.ones((2, 3), "int32"), "0001/bias": np.ones(3, "float32")}, path)
    before = m.get_weights()
    with pytest.raises(ModelFileError, match=r"weight '0000/kernel' has dtype I32 \(int32\) in the file but float32"):
        m.load_weights(path)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    with open(path, "r+b") as f:  # a header length far past the end of the file
        f.write(struct.pack("<Q", 2**60))
    with pytest.raises(ModelFileError, match="truncated or corrupt: the safetensors header declares"):
        m.load_weights(path)


# -- temporary files of killed saves --------------------------------------------------------------

KILLED_SAVE = textwrap.dedent("""
    import os, sys, time
    from tapegrad.saving.atomic import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"x" * 100000)
        print("writing", flush=True)
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), 9)
        time.sleep(60)
""")


def temporaries(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith(".tmp-"))


def test_killed_saves_leave_no_temporary_file_after_the_next_save_or_load(saved, tmp_path):
    script = tmp_path / "save.py"
    script.write_text(KILLED_SAVE)
    folder = tmp_path / "models"
    folder.mkdir()
    target = str(folder / "m.tapegrad")
    def killed_save():
        out = subprocess.run([sys.executable, str(script), target, "kill"], capture_output=True, text=True)
        assert out.returncode == -signal.SIGKILL and "writing" in out.stdout

    for _ in range(3):
        killed_save()
    assert len(temporaries(folder)) == 1  # each save removed the file the previous killed one left
    # a save in progress in another process keeps its temporary file
    busy = subprocess.Popen([sys.executable, str(script), str(folder / "other.tapegrad"), "sleep"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert busy.stdout.readline().strip() == "writing"
        killed_save()
        assert len(temporaries(folder)) == 2
        write(target, saved["files"])
        tg.models.load_model(target)  # a load removes the killed save's file, not the running one's
        left = temporaries(folder)
        assert len(left) == 1 and left[0].startswith(f".tmp-tg{busy.pid}-")
    finally:
        busy.kill()
        busy.wait()
    trained_model().save(target)  # the next save removes the one its killed writer left
    assert temporaries(folder) == []


def test_own_save_in_progress_is_kept_and_old_unnamed_temporaries_removed(tmp_path):
    from tapegrad.saving.atomic import atomic_path, remove_stale_temporaries

    legacy = tmp_path / ".tmp-abcd1234-m.tapegrad"  # the form written before temporaries named their process
    legacy.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(legacy, (old, old))
    unrelated = tmp_path / ".tmp-notes"
    unrelated.write_text("someone else's")
    with atomic_path(str(tmp_path / "m.tapegrad")) as tmp:
        assert not legacy.exists()
        assert remove_stale_temporaries(str(tmp_path)) == [] and os.path.exists(tmp)
        with open(tmp, "w") as f:
            f.write("done")
    assert unrelated.exists() and (tmp_path / "m.tapegrad").read_text() == "done"


def test_threads_saving_into_one_folder_never_remove_each_others_files(tmp_path):
    import threading

    model = trained_model()
    for i in range(4):
        model.save(str(tmp_path / f"m{i}.tapegrad"))
    errors = []

    def save(i):
        try:
            for j in range(8):
                model.save(str(tmp_path / f"m{i}.tapegrad"))
                tg.models.load_model(str(tmp_path / f"m{(i + j) % 4}.tapegrad"))
        except Exception as exc:  # collected and reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and temporaries(tmp_path) == []
