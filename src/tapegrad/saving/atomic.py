"""Atomic file writes: write a temporary file beside the target, then rename it into place.

The temporary file is named ``.tmp-tg<pid>-<random>-<target name>``, so that a save
killed before it could remove its temporary file (``kill -9``, a power cut) leaves
one that the next save or load in that folder recognizes as abandoned, because the
process that wrote it is gone, and removes (``remove_stale_temporaries``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from typing import Iterator

_PREFIX = ".tmp-tg"
# Ours: ".tmp-tg<pid>-<mkstemp's 8 characters>-<name>"; before pids were recorded: ".tmp-<8 characters>-<name>".
_OURS = re.compile(r"^\.tmp-tg(\d+)-[a-z0-9_]{8}-.+$")
_LEGACY = re.compile(r"^\.tmp-[a-z0-9_]{8}-.+\.(tapegrad|safetensors|json|md|csv|png)$")
_STARTED = time.time()  # this process has written nothing before this module was imported
_LIVE: set[str] = set()  # names of the temporary files this process is writing now (threads may save at once)
_LIVE_LOCK = threading.Lock()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's live process, or we cannot tell: keep its file
        return True
    return True


def remove_stale_temporaries(folder: str) -> list[str]:
    """Remove the temporary files that killed saves left in ``folder``; returns their paths.

    A file is abandoned when the process named in it is no longer running, or is this
    process but no save of ours is writing it; a file of the older unnamed form is
    abandoned when it is older than this process. Files being written by a running
    process are left alone, and nothing that is not a tapegrad temporary file is touched.

    Example:
        >>> import tempfile, tapegrad as tg
        >>> tg.saving.atomic.remove_stale_temporaries(tempfile.mkdtemp())
        []
    """
    removed = []
    folder = os.path.abspath(folder or ".")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    me = os.getpid()
    for entry in entries:
        if not entry.name.startswith(".tmp-"):
            continue
        m = _OURS.match(entry.name)
        if m:
            pid = int(m.group(1))
            with _LIVE_LOCK:
                live = entry.name in _LIVE
            stale = (pid == me and not live) or (pid != me and not _alive(pid))
        elif _LEGACY.match(entry.name):
            try:
                stale = entry.stat(follow_symlinks=False).st_mtime < _STARTED
            except OSError:
                continue
        else:
            continue
        if stale and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.remove(entry.path)
                removed.append(entry.path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``.

    A crash or Ctrl-C before the end leaves the previous file untouched and removes
    the temporary one; a killed process leaves it for the next save or load in the
    folder to remove (see ``remove_stale_temporaries``).

    Example:
        >>> import os, tempfile, tapegrad as tg
        >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with tg.saving.atomic.atomic_path(target) as tmp:
        ...     with open(tmp, "w") as f:
        ...         _ = f.write("hello")
        >>> open(target).read()
        'hello'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(folder)
    with _LIVE_LOCK:  # created and registered at once, so that another thread's clean-up never sees it unregistered
        fd, tmp = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-", suffix="-" + os.path.basename(path),
                                   dir=folder)
        _LIVE.add(os.path.basename(tmp))
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes private files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(os.path.basename(tmp))
