"""Fuzzing: a valid model file, mutated (truncated, bits flipped, entries renamed, sizes lied
about), either loads with the original weights or raises ModelFileError, within a memory
bound; never any other exception."""

import os
import struct
import tempfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.saving import ModelFileError

pytest.importorskip("safetensors")
MEMORY_BOUND = 8 * 2**20  # Python allocations while loading; the valid file is 3 KB, its model 57 weights


def _valid_file():
    tg.random.set_seed(0)
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                           tg.layers.Dropout(0.1), tg.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), verbose=0)
    path = os.path.join(tempfile.mkdtemp(), "m.tapegrad")
    model.save(path)
    with open(path, "rb") as f:
        return f.read(), model.get_weights()


DATA, WEIGHTS = _valid_file()
NAMES = ("config.json", "model.weights.safetensors", "optimizer.safetensors")
# where the zip describes each entry: the offsets of the central directory's records and of the local headers
RECORDS = [i for i in range(len(DATA)) if DATA[i:i + 4] == b"PK\x01\x02"]
LOCALS = [i for i in range(len(DATA)) if DATA[i:i + 4] == b"PK\x03\x04"]
assert len(RECORDS) == len(LOCALS) == 3


def truncate(data, draw):
    return data[:draw(st.integers(0, max(0, len(data) - 1)))]


def flip_bits(data, draw):
    out = bytearray(data)
    for pos in draw(st.lists(st.integers(0, max(0, len(data) - 1)), min_size=1, max_size=8)) if data else []:
        out[pos] ^= 1 << draw(st.integers(0, 7))
    return bytes(out)


def rename_entry(data, draw):
    """Give an entry another name of the same length, in the central directory, its local header, or both."""
    out = bytearray(data)
    which = draw(st.sampled_from(NAMES))
    new = draw(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz._/"), min_size=len(which), max_size=len(which)))
    places = draw(st.sampled_from(["central", "local", "both"]))
    raw = which.encode()
    for records, name_at, place in ((RECORDS, 46, "central"), (LOCALS, 30, "local")):
        if places in (place, "both"):
            for i in records:
                if out[i + name_at:i + name_at + len(raw)] == raw:
                    out[i + name_at:i + name_at + len(raw)] = new.encode()
    return bytes(out)


def lie_about_sizes(data, draw):
    """Overwrite an entry's declared compressed or uncompressed size (in the central directory
    or the local header) with 0, 4 GiB, anything, or a value near the true one."""
    out = bytearray(data)
    index = draw(st.integers(0, len(RECORDS) - 1))
    field = draw(st.sampled_from([("central", 20), ("central", 24), ("local", 18), ("local", 22)]))
    base = (RECORDS if field[0] == "central" else LOCALS)[index]
    old = struct.unpack("<I", out[base + field[1]:base + field[1] + 4])[0]
    new = draw(st.one_of(st.just(0), st.just(2**32 - 1), st.integers(0, 2**32 - 1),
                         st.integers(max(0, old - 64), old + 64)))
    out[base + field[1]:base + field[1] + 4] = struct.pack("<I", new)
    return bytes(out)


MUTATIONS = {"truncate": truncate, "flip": flip_bits, "rename": rename_entry, "size": lie_about_sizes}
WORK = tempfile.mkdtemp()


def check_loads_original_or_refuses(data):
    path = os.path.join(WORK, "mutant.tapegrad")
    with open(path, "wb") as f:
        f.write(data)
    tracemalloc.start()
    try:
        model = tg.models.load_model(path)
    except ModelFileError:
        model = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"loading took {peak} bytes"
    if model is not None:
        for a, b in zip(model.get_weights(), WEIGHTS):
            np.testing.assert_array_equal(a, b)
    return model is not None


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3), st.data())
def test_mutated_model_file_loads_the_original_or_raises_model_file_error(kinds, data):
    mutated = DATA
    for kind in sorted(kinds, key=lambda k: k == "truncate"):  # the others find the zip's records where they were
        mutated = MUTATIONS[kind](mutated, data.draw)
    check_loads_original_or_refuses(mutated)


def test_the_unmutated_file_loads():
    assert check_loads_original_or_refuses(DATA)
