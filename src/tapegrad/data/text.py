"""Character-level text for sequence models: songs from an ABC file, a vocabulary, batches.

What the course's music lab does by hand: split the ABC file into songs, map each
character to an index and back, and cut random windows of the joined text into
(input, next-character target) pairs.

Example:
    >>> vocab = CharVocabulary("abcab")
    >>> vocab.encode("cab").tolist(), vocab.decode([0, 1])
    ([2, 0, 1], 'ab')
"""

from __future__ import annotations

import os
import re

import numpy as np

from .. import random as _random


def extract_songs(text: str) -> list[str]:
    """The songs of an ABC-notation text: the blocks separated by blank lines (the lab's
    ``extract_song_snippet``), each stripped of surrounding whitespace.

    Example:
        >>> extract_songs("X:1\\nT:A\\nabc\\n\\nX:2\\nT:B\\ncde\\n")
        ['X:1\\nT:A\\nabc', 'X:2\\nT:B\\ncde']
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_songs: expected a str, received {type(text).__name__}")
    return [block.strip() for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if block.strip()]


def load_songs(path) -> list[str]:
    """The songs of an ABC file (UTF-8), as ``extract_songs`` splits them.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "two.abc")
        >>> _ = open(path, "w").write("X:1\\nabc\\n\\nX:2\\ncde\\n")
        >>> len(load_songs(path))
        2
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_songs: no ABC file at {path!r}")
    with open(path, encoding="utf-8") as f:
        return extract_songs(f.read())


class CharVocabulary:
    """The sorted set of characters of a text, with ``char2idx`` and ``idx2char`` as in the lab.

    Args:
        text: the text whose characters make the vocabulary (e.g. all songs joined).

    Attributes: ``chars`` (sorted list), ``char2idx`` (dict), ``idx2char`` (NumPy array of
    characters, so ``idx2char[ids]`` works on arrays of ids).

    Example:
        >>> vocab = CharVocabulary("hello")
        >>> len(vocab), vocab.chars
        (4, ['e', 'h', 'l', 'o'])
        >>> vocab.decode(vocab.encode("hole"))
        'hole'
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharVocabulary: expected a non-empty str, received {text!r:.40}")
        self.chars = sorted(set(text))
        self.char2idx = {c: i for i, c in enumerate(self.chars)}
        self.idx2char = np.array(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The indices of ``text``'s characters, an int64 array (the lab's ``vectorize_string``)."""
        unknown = sorted(set(text) - set(self.char2idx))
        if unknown:
            raise ValueError(f"CharVocabulary.encode: characters not in the vocabulary: {unknown[:10]!r}")
        return np.fromiter((self.char2idx[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """The text of a sequence of indices."""
        arr = np.asarray(ids.numpy() if hasattr(ids, "numpy") else ids).astype(np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self.chars)):
            raise ValueError(f"CharVocabulary.decode: indices must be in [0, {len(self.chars)}), "
                             f"received {int(arr.min() if arr.min() < 0 else arr.max())}")
        return "".join(self.idx2char[arr])


def char_batch(ids, seq_length: int, batch_size: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random windows of ``ids`` (the lab's ``get_batch``): inputs
    ``ids[i : i + seq_length]`` and targets shifted by one, ``ids[i + 1 : i + seq_length + 1]``.

    Args:
        ids: a 1-d array of character indices (``CharVocabulary.encode`` of the text).
        seq_length: the length of each window.
        batch_size: how many windows.
        seed: a seed for these draws alone; otherwise the global generator (``tg.random``).

    Returns:
        ``(x, y)``, two int64 arrays of shape (batch_size, seq_length).

    Example:
        >>> x, y = char_batch(np.arange(20), seq_length=5, batch_size=2, seed=0)
        >>> x.shape, bool((y == x + 1).all())
        ((2, 5), True)
    """
    ids = np.asarray(ids).reshape(-1)
    for name, value in (("seq_length", seq_length), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"char_batch: {name} must be a positive integer, received {value!r}")
    if ids.size < seq_length + 1:
        raise ValueError(f"char_batch: the text has {ids.size} characters, fewer than seq_length + 1 = "
                         f"{seq_length + 1}")
    starts = _random.generator(seed).integers(0, ids.size - seq_length, size=batch_size)
    window = starts[:, None] + np.arange(seq_length)[None, :]
    return ids[window].astype(np.int64), ids[window + 1].astype(np.int64)


__all__ = ["CharVocabulary", "char_batch", "extract_songs", "load_songs"]
