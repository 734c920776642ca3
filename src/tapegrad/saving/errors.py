"""``ModelFileError``: the one error a malformed model or weights file raises."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A model or weights file that cannot be loaded: truncated, corrupted, tampered with,
    or asking for more than the stated limits. The message names the file, the entry
    inside it (for ``.tapegrad`` files) and what is wrong; ``path``, ``entry`` and
    ``problem`` hold them. A ``ValueError``, so ``except ValueError`` catches it too.

    Example:
        >>> import tapegrad as tg
        >>> err = tg.saving.ModelFileError("m.tapegrad", "config.json", "not valid JSON")
        >>> str(err)
        "model file 'm.tapegrad', entry 'config.json': not valid JSON"
        >>> isinstance(err, ValueError)
        True
    """

    def __init__(self, path, entry: str | None, problem: str) -> None:
        self.path, self.entry, self.problem = str(path), entry, problem
        where = f"model file {self.path!r}" + (f", entry {entry!r}" if entry else "")
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):  # keep the three arguments when the error crosses a process boundary
        return type(self), (self.path, self.entry, self.problem)
