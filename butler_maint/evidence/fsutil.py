"""Durable file operations for the store: atomic create-or-fail, atomic replace, fsync
of directories, permissions set explicitly (never left to the umask).

Every OSError leaves as an ``EvidenceError`` naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from butler_maint.evidence.errors import EvidenceError

FILE_MODE = 0o640
DIR_MODE = 0o750
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TMP_PREFIX = ".tmp-"


def make_dirs(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` and missing parents with ``mode``; fsync each new entry's parent."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
            os.chmod(directory, mode)
            fsync_dir(directory.parent)
        except FileExistsError:
            continue
        except OSError as exc:
            raise EvidenceError.from_os("create directory", directory, exc) from None


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(directory: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a new temp file in ``directory``, fsynced, with ``mode``."""
    tmp = directory / f"{TMP_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def create_file(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Atomically create ``path`` holding ``data``; FileExistsError if it exists.

    Temp file in the same directory, fsync, hard link to the final name (which fails
    rather than overwrite), remove the temp name, fsync the directory.
    """
    try:
        tmp = _write_temp(path.parent, data, mode)
    except OSError as exc:
        raise EvidenceError.from_os("write", path, exc) from None
    try:
        os.link(tmp, path)
    except FileExistsError:
        _unlink_quietly(tmp)
        raise
    except OSError as exc:
        _unlink_quietly(tmp)
        raise EvidenceError.from_os("write", path, exc) from None
    _unlink_quietly(tmp)
    try:
        fsync_dir(path.parent)
    except OSError as exc:
        raise EvidenceError.from_os("flush", path.parent, exc) from None


def replace_file(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` with ``data`` (temp file, fsync, rename, fsync dir)."""
    try:
        tmp = _write_temp(path.parent, data, mode)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        fsync_dir(path.parent)
    except OSError as exc:
        raise EvidenceError.from_os("write", path, exc) from None


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write, then fsync (the index's only update)."""
    data = line.encode("utf-8") + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            if os.write(fd, data) != len(data):
                raise OSError(28, os.strerror(28))  # short write: treat as a full disk
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise EvidenceError.from_os("append to", path, exc) from None


def remove_temps(directory: Path) -> int:
    """Remove temp files a killed writer left in ``directory``; return how many."""
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            if entry.name.startswith(TMP_PREFIX) and entry.is_file(follow_symlinks=False):
                _unlink_quietly(Path(entry.path))
                removed += 1
    return removed


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the block."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise EvidenceError.from_os("open lock file", path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
