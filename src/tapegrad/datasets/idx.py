"""Reading IDX files (the format of MNIST and Fashion-MNIST), gzipped or not.

An IDX file starts with two zero bytes, a type byte, a byte giving the number of
dimensions, then one big-endian uint32 per dimension, then the data in row-major
order (big-endian for multi-byte types).

Example:
    >>> import gzip, os, struct, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([1, 2, 3]))
    >>> read(path).tolist()
    [1, 2, 3]
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """The file is not a valid IDX file (wrong magic, truncated, or sizes that do not add up)."""


def _bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise IDXError(f"{path}: cannot decompress ({exc}); the file is truncated or not gzip") from None


def read(path, expected_magic: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (native byte order)."""
    path = os.fspath(path)
    buf = _bytes(path)
    if len(buf) < 4:
        raise IDXError(f"{path}: {len(buf)} bytes is too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", buf[:4])
    magic = struct.unpack(">I", buf[:4])[0]
    if zero != 0 or dtype_code not in DTYPES or ndim == 0:
        raise IDXError(f"{path}: not an IDX file (magic number {magic:#010x})")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{path}: magic number {magic} where {expected_magic} was expected "
                       f"({'images' if expected_magic == 2051 else 'labels'} file)")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = DTYPES[dtype_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    actual = len(buf) - header
    if actual != expected:
        raise IDXError(f"{path}: the header says shape {shape} ({expected} bytes of data) but the file has "
                       f"{actual} bytes of data: truncated or wrong file")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write(path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``), atomically."""
    from ..saving.atomic import atomic_path

    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    code = codes.get(array.dtype)
    if code is None:
        raise ValueError(f"idx.write: unsupported dtype {array.dtype}")
    data = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(DTYPES[code]).tobytes()
    with atomic_path(os.fspath(path)) as tmp:
        opener = gzip.open if os.fspath(path).endswith(".gz") else open
        with opener(tmp, "wb") as f:
            f.write(data)
