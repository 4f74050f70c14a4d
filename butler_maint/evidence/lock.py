"""Lock files of the store (``.lock`` for writers, ``.run-due.lock`` for run-due).

A lock is an ``flock`` on a regular file: the kernel releases it when its holder dies,
even by ``kill -9``. The file is opened without following a symbolic link, must be a
regular file with a single link (a planted link or hard link is refused, its target
untouched), is created with an explicit mode whatever the umask, and holds the pid of
the process holding the lock, so a refused caller can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from butler_maint.evidence import fsutil
from butler_maint.evidence.errors import EvidenceError

LOCK_MODE = fsutil.FILE_MODE


@contextlib.contextmanager
def hold_lock(path: Path, *, wait: bool = False, busy: str = "the lock is held") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block, its pid written in the file.

    Without ``wait``, a lock held elsewhere raises ``CannotRunError`` (exit 3) at once:
    ``<busy> (pid N; lock PATH)``. The parent directory is created if missing.
    """
    fsutil.make_dirs(path.parent)
    fd = _open(path)
    try:
        _acquire(fd, path, wait, busy)
        _write_pid(fd, path)
        yield
    finally:
        os.close(fd)  # releases the flock


def _open(path: Path) -> int:
    """Open (or create) the lock file: a regular file with one link, never a link."""
    fd = fsutil.open_file(path, os.O_RDWR | os.O_CREAT, LOCK_MODE, action="open lock file")
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != LOCK_MODE:
            with contextlib.suppress(PermissionError):  # not ours: leave its mode alone
                os.fchmod(fd, LOCK_MODE)
    except OSError as exc:
        os.close(fd)
        raise EvidenceError.from_os("open lock file", path, exc) from None
    return fd


def _acquire(fd: int, path: Path, wait: bool, busy: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        raise EvidenceError(f"{busy} (pid {holder}; lock {path})") from None
    except OSError as exc:
        raise EvidenceError.from_os("lock", path, exc) from None


def _holder(fd: int) -> str:
    """The pid the holder wrote, or ``unknown``."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _write_pid(fd: int, path: Path) -> None:
    data = f"{os.getpid()}\n".encode("ascii")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError as exc:
        raise EvidenceError.from_os("write", path, exc) from None
