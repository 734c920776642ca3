"""Shared loader of the four-file MNIST-style image sets."""

from __future__ import annotations

import os

import numpy as np

from .idx import read

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _find(folder: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    return None


def load(name: str, path, published: str):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, as Keras returns them."""
    folder = path if path is not None else os.environ.get("TAPEGRAD_DATA")
    if folder is None:
        raise FileNotFoundError(f"{name}.load_data: pass the folder holding the IDX files, e.g. "
                                f"load_data('data/{name}'), or set TAPEGRAD_DATA")
    folder = os.fspath(folder)
    if os.environ.get("TAPEGRAD_DATA") and path is None and os.path.isdir(os.path.join(folder, name.replace("_", "-"))):
        folder = os.path.join(folder, name.replace("_", "-"))
    paths = [_find(folder, f) for f in FILES]
    if any(p is None for p in paths):
        missing = [f + "[.gz]" for f, p in zip(FILES, paths) if p is None]
        raise FileNotFoundError(f"{name}.load_data: {folder!r} lacks {', '.join(missing)}. The four files are "
                                f"published at {published}; tapegrad does not download them.")
    x_train, y_train = read(paths[0], 2051), read(paths[1], 2049)
    x_test, y_test = read(paths[2], 2051), read(paths[3], 2049)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{name}.load_data: {split} images {x.shape} and labels {y.shape} do not match")
    return (x_train, y_train.astype(np.uint8)), (x_test, y_test.astype(np.uint8))
