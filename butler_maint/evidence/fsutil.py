"""Durable file operations for the store: atomic create-or-fail, atomic replace, fsync
of directories, permissions set explicitly (never left to the umask), and nothing
followed out of the store.

With ``root`` (the store's root), every directory from the root down to a file is
opened one component at a time without following a symbolic link, and so is the file:
a link planted in the store (``artifacts -> /elsewhere``, ``.lock -> /etc/x``) is
refused with an ``EvidenceError`` naming it, and its target is never touched. The root
itself may be a link: it is configuration, not store content. Without ``root`` the
file's directory is taken as given and only the file itself is not followed. A file
written in place (appended to, locked) must also be a regular file with one link.

Every OSError leaves as an ``EvidenceError`` naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from butler_maint.evidence.errors import EvidenceError

FILE_MODE = 0o640
DIR_MODE = 0o750
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TMP_PREFIX = ".tmp-"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO never hangs us


def refusal(path: Path, exc: OSError, action: str) -> EvidenceError:
    """The error for ``exc`` met at ``path``: a symbolic link is named as one."""
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(path)):
        return EvidenceError(
            f"refusing to follow symbolic link {path}: the evidence store holds only its "
            "own files and directories (remove the link)"
        )
    return EvidenceError.from_os(action, path, exc)


# -- directories --------------------------------------------------------------------------


def open_dir(
    root: Path, rel: str | PurePosixPath = "", *, create: bool = False, mode: int = DIR_MODE
) -> int:
    """A descriptor of the directory ``root/rel``, no component of ``rel`` followed.

    With ``create``, missing directories are made with ``mode`` (and their parent
    fsynced); without, a missing one raises FileNotFoundError.
    """
    try:
        fd = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise EvidenceError.from_os("open directory", root, exc) from None
    path = root
    try:
        for part in PurePosixPath(rel).parts:
            if part in ("/", ".."):
                raise EvidenceError(f"{root / rel} would leave the store {root}")
            path = path / part
            child = _child_dir(fd, part, path, create, mode)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _child_dir(fd: int, name: str, path: Path, create: bool, mode: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        raise refusal(path, exc, "open directory") from None
    try:
        os.mkdir(name, mode, dir_fd=fd)
        made = True
    except FileExistsError:
        made = False  # another writer made it first
    except OSError as exc:
        raise EvidenceError.from_os("create directory", path, exc) from None
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise refusal(path, exc, "open directory") from None
    try:
        if made:
            os.fchmod(child, mode)
            os.fsync(fd)
    except OSError as exc:
        os.close(child)
        raise EvidenceError.from_os("create directory", path, exc) from None
    return child


@contextlib.contextmanager
def directory(
    root: Path, rel: str | PurePosixPath = "", *, create: bool = False, mode: int = DIR_MODE
) -> Iterator[int]:
    """``open_dir`` for the block."""
    fd = open_dir(root, rel, create=create, mode=mode)
    try:
        yield fd
    finally:
        os.close(fd)


def _split(path: Path, root: Path | None) -> tuple[Path, PurePosixPath, str]:
    """(base, directory relative to base, file name) of ``path``."""
    if root is None:
        return path.parent, PurePosixPath(), path.name
    try:
        rel = PurePosixPath(path.relative_to(root))
    except ValueError:
        raise EvidenceError(f"{path} is outside the store {root}") from None
    return root, rel.parent, rel.name


def make_dirs(path: Path, mode: int = DIR_MODE, *, root: Path | None = None) -> None:
    """Create ``path`` and missing parents with ``mode``; fsync each new entry's parent.

    With ``root``, the part of ``path`` below ``root`` is walked without following links.
    """
    if root is not None:
        make_dirs(root)
        base, rel, name = _split(path, root)
        os.close(open_dir(base, rel / name if name else rel, create=True, mode=mode))
        return
    missing = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for created in reversed(missing):
        try:
            os.mkdir(created, mode)
            os.chmod(created, mode)
            fsync_dir(created.parent)
        except FileExistsError:
            continue
        except OSError as exc:
            raise EvidenceError.from_os("create directory", created, exc) from None


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_entry(path: Path, *, root: Path, want: int = stat.S_IFREG) -> bool:
    """True when ``path`` exists as a ``want`` (file or directory), False when absent;
    a link or anything else is refused, nothing followed on the way."""
    base, rel, name = _split(path, root)
    try:
        with directory(base, rel) as fd:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise refusal(path, exc, "inspect") from None
    if stat.S_ISLNK(info.st_mode):
        raise refusal(path, OSError(errno.ELOOP, os.strerror(errno.ELOOP)), "inspect")
    if stat.S_IFMT(info.st_mode) != want:
        kind = "directory" if want == stat.S_IFDIR else "regular file"
        raise EvidenceError(f"refusing to use {path}: not a {kind}")
    return True


# -- files --------------------------------------------------------------------------------


def open_file(
    path: Path,
    flags: int,
    mode: int = FILE_MODE,
    *,
    root: Path | None = None,
    action: str = "open",
) -> int:
    """Open ``path`` without following a link; it must be a regular file, and one link
    only when opened for writing (a hard link's other name is not ours to change).

    FileNotFoundError when it is missing and ``flags`` do not create it.
    """
    base, rel, name = _split(path, root)
    with directory(base, rel) as dfd:
        try:
            fd = os.open(name, flags | _FILE_FLAGS, mode, dir_fd=dfd)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise refusal(path, exc, action) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EvidenceError(f"refusing to use {path}: not a regular file")
        if flags & (os.O_WRONLY | os.O_RDWR) and info.st_nlink != 1:
            raise EvidenceError(
                f"refusing to write {path}: it has {info.st_nlink} hard links "
                "(another name outside the store may share it)"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path: Path, *, root: Path | None = None) -> bytes:
    """The bytes of ``path``, nothing followed; FileNotFoundError when missing."""
    fd = open_file(path, os.O_RDONLY, root=root, action="read")
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as exc:
        raise EvidenceError.from_os("read", path, exc) from None
    finally:
        os.close(fd)


def _write_temp(dfd: int, data: bytes, mode: int) -> str:
    """Write ``data`` to a new temp file in directory ``dfd``, fsynced, with ``mode``."""
    tmp = f"{TMP_PREFIX}{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, mode, dir_fd=dfd)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp, dfd)
        raise
    os.close(fd)
    return tmp


def create_file(
    path: Path, data: bytes, mode: int = FILE_MODE, *, root: Path | None = None
) -> None:
    """Atomically create ``path`` holding ``data``; FileExistsError if it exists (a link
    included: it is left alone).

    Temp file in the same directory, fsync, hard link to the final name (which fails
    rather than overwrite), remove the temp name, fsync the directory.
    """
    base, rel, name = _split(path, root)
    with _mapped("write", path), directory(base, rel) as dfd:
        tmp = _write_temp(dfd, data, mode)
        try:
            os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        finally:
            _unlink_quietly(tmp, dfd)
        os.fsync(dfd)


def replace_file(
    path: Path, data: bytes, mode: int = FILE_MODE, *, root: Path | None = None
) -> None:
    """Atomically replace ``path`` with ``data`` (temp file, fsync, rename, fsync dir);
    a link at ``path`` is refused, not replaced."""
    base, rel, name = _split(path, root)
    with _mapped("write", path), directory(base, rel) as dfd:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
                raise refusal(path, OSError(errno.ELOOP, os.strerror(errno.ELOOP)), "write")
        tmp = _write_temp(dfd, data, mode)
        try:
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            _unlink_quietly(tmp, dfd)
            raise
        os.fsync(dfd)


def replace_unsynced(path: Path, data: bytes, mode: int = FILE_MODE) -> os.stat_result:
    """Atomically replace ``path`` with ``data`` (a temp file renamed over it), without an
    fsync: for files that can be made again (site pages, caches), where 1,000 fsyncs
    would cost seconds on a disk. Returns the new file's stat."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path.stat()


def append_line(path: Path, line: str, *, root: Path | None = None) -> None:
    """Append one line with a single write, then fsync (the index's only update)."""
    data = line.encode("utf-8") + b"\n"
    with _mapped("append to", path):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = open_file(path, flags, FILE_MODE, root=root, action="append to")
        try:
            os.fchmod(fd, FILE_MODE)
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # short write
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _mapped(action: str, path: Path) -> Iterator[None]:
    """OSError -> EvidenceError naming ``path`` (FileExistsError passes: callers want it)."""
    try:
        yield
    except FileExistsError:
        raise
    except OSError as exc:
        raise refusal(path, exc, action) from None


# -- cleaning -----------------------------------------------------------------------------


def remove_temps(directory_path: Path, *, root: Path | None = None) -> int:
    """Remove temp files a killed writer left in a directory; return how many."""
    base, rel = (directory_path, PurePosixPath())
    if root is not None:
        base, parent, name = _split(directory_path, root)
        rel = parent / name if name else parent
    try:
        fd = open_dir(base, rel)
    except FileNotFoundError:
        return 0
    try:
        return _remove_temps_at(fd)
    finally:
        os.close(fd)


def remove_all_temps(root: Path) -> int:
    """Remove temp files from every directory of the store (links not followed)."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for _, _, _, fd in os.fwalk(root, follow_symlinks=False):
            removed += _remove_temps_at(fd)
    return removed


def _remove_temps_at(fd: int) -> int:
    removed = 0
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX) and entry.is_file(follow_symlinks=False):
                _unlink_quietly(entry.name, fd)
                removed += 1
    return removed


def remove_tree(path: Path, *, root: Path) -> None:
    """Remove the directory tree ``path`` of the store, if there; a link on the way or at
    ``path`` is not followed (nothing outside the store is removed)."""
    base, rel, name = _split(path, root)
    try:
        with directory(base, rel) as dfd:
            shutil.rmtree(name, ignore_errors=True, dir_fd=dfd)
    except FileNotFoundError:
        return


def subdirectories(path: Path, *, root: Path) -> list[str]:
    """Names of the real directories (not links) in the store directory ``path``."""
    base, parent, name = _split(path, root)
    try:
        with directory(base, parent / name) as fd, os.scandir(fd) as entries:
            return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _unlink_quietly(name: str | Path, dir_fd: int | None = None) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)


# -- copying in ---------------------------------------------------------------------------


def copy_in(source: Path, target: Path, *, root: Path, dir_mode: int, file_mode: int) -> None:
    """Copy a file or tree from outside into the store at ``target`` with the given
    modes; nothing in the store is followed (the source is ours and read as is)."""
    base, rel, name = _split(target, root)
    with _mapped("copy artifact", source), directory(base, rel) as dfd:
        _copy_entry(source, dfd, name, target, (dir_mode, file_mode))


def _copy_entry(source: Path, dfd: int, name: str, target: Path, modes: tuple[int, int]) -> None:
    dir_mode, file_mode = modes
    if not source.is_dir():
        _copy_file(source, dfd, name, target, file_mode)
        return
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, dir_mode, dir_fd=dfd)
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=dfd)
    except OSError as exc:
        raise refusal(target, exc, "copy artifact to") from None
    try:
        os.fchmod(child, dir_mode)
        for entry in sorted(source.iterdir()):
            _copy_entry(entry, child, entry.name, target / entry.name, modes)
    finally:
        os.close(child)


def _copy_file(source: Path, dfd: int, name: str, target: Path, mode: int) -> None:
    with open(source, "rb") as src:
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | _FILE_FLAGS, mode, dir_fd=dfd)
        except OSError as exc:
            raise refusal(target, exc, "copy artifact to") from None
        with os.fdopen(fd, "wb") as dst:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise EvidenceError(f"refusing to write {target}: not a plain file of the store")
            os.ftruncate(fd, 0)
            os.fchmod(fd, mode)
            shutil.copyfileobj(src, dst)
