"""Executors: run one script on one host and return plain bytes. Thin on purpose.

Library errors (paramiko, sockets, subprocess) are mapped here to an ``Execution``
whose ``status`` is ``ok``, ``unreachable`` or ``error``; nothing above this package
sees a library exception.

Output is bounded: an executor keeps at most ``OutputLimits.keep_bytes`` of each stream
in memory and only counts and hashes the rest (a check printing 200 MB costs the
controller a few MB, not gigabytes). With a ``frame_marker`` (the check script's frame
token) the lines starting with it are always kept, and the stretch of stdout between two
such lines (one check's output) keeps at most ``segment_bytes``: one chatty check never
costs the others their output, and each cut stretch is recorded with its full size and
sha256 (:class:`Segment`).

Stopping: ``run_ssh`` and ``run_local`` take ``stop``, a ``threading.Event`` another
thread may set; the executor then kills the script's process group on the host and
returns an ``Execution`` with ``stopped`` set.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

KEEP_BYTES = 4 * 2**20
"""Bytes of each stream (stdout, stderr) kept in memory; the rest is counted and hashed."""
SEGMENT_BYTES = 2**20
"""Bytes kept of each stretch of stdout between two frame lines (one check's output)."""
FRAME_BYTES = 2**20
"""Bytes of frame lines kept beyond ``keep_bytes`` (a few dozen bytes per check)."""
FRAME_LINE_MAX = 4096
"""A longer line starting with the marker is output, not a frame line."""
STOP_POLL_S = 0.05
"""How often a blocking phase (connecting) looks at its stop event."""


@dataclass(frozen=True)
class OutputLimits:
    """How much of a script's output is kept in memory."""

    keep_bytes: int = KEEP_BYTES
    segment_bytes: int = SEGMENT_BYTES
    frame_marker: bytes | None = None  # stdout lines starting with it are frame lines


@dataclass(frozen=True)
class Segment:
    """A stretch of stdout between two frame lines that was not kept whole."""

    after: bytes  # the frame line before it (no newline); b"" for the start of stdout
    size: int  # its full size in bytes
    kept: int  # how many of its first bytes ``Execution.stdout`` holds
    sha256: str  # hex sha256 of all of it


@dataclass(frozen=True)
class Execution:
    """What running a script on a host gave.

    ``stdout`` and ``stderr`` hold what was kept (everything, unless ``truncated``);
    the sizes and hex sha256 digests are those of the whole streams. ``cut`` lists the
    stretches of stdout kept only in part; ``stopped`` says the run was stopped.
    """

    status: Literal["ok", "unreachable", "error"]
    stdout: bytes = b""
    stderr: bytes = b""
    rc: int | None = None
    message: str = ""
    host_key: str | None = None  # "SSH-ED25519 SHA256:..." of the key that was verified
    new_host_key: bool = False  # ``host_key`` was unknown and trusted (--accept-new-host-keys)
    stopped: bool = False
    stdout_size: int = 0
    stdout_sha256: str = ""
    stderr_size: int = 0
    stderr_sha256: str = ""
    cut: tuple[Segment, ...] = ()

    @property
    def truncated(self) -> bool:
        """True when part of stdout or stderr was counted and hashed but not kept."""
        return self.stdout_size > len(self.stdout) or self.stderr_size > len(self.stderr)

    def segment_after(self, frame_line: bytes) -> Segment | None:
        """The cut stretch of stdout right after ``frame_line``, if it was cut."""
        return next((s for s in self.cut if s.after == frame_line), None)


@dataclass(frozen=True)
class Become:
    """How the script runs as another user on the host (Ansible's become)."""

    method: str = "sudo"  # sudo | su | doas
    user: str | None = None  # None: root
    password: str | None = field(default=None, repr=False)
    exe: str | None = None
    flags: str | None = None


def _as_become(become: bool | Become | None) -> Become | None:
    if become is True:
        return Become()
    return become or None


def become_shell(become: bool | Become | None) -> str:
    """The shell command on the host that reads the script on stdin, as ``become`` says.

    With a sudo password, the first line on stdin is the password: read by ``sh``
    itself (``read`` takes one line and leaves the script), given to ``sudo -S -v``
    through a builtin ``printf`` (never on a command line), and the script then runs
    under ``sudo -n`` from the same shell, so sudo's timestamp for that parent counts."""
    chosen = _as_become(become)
    if chosen is None:
        return "sh -s"
    flags = " ".join(shlex.quote(f) for f in shlex.split(chosen.flags or ""))
    flags = f" {flags}" if flags else ""
    exe = shlex.quote(chosen.exe or chosen.method)
    if chosen.method == "su":
        return f"{exe}{flags} {shlex.quote(chosen.user or 'root')} -c 'sh -s'"
    user = f" -u {shlex.quote(chosen.user)}" if chosen.user else ""
    run = f"{exe} -n{flags}{user} sh -s"
    if chosen.method == "doas":
        return run
    if chosen.password is None:
        return run
    inner = f'IFS= read -r p; printf "%s\\n" "$p" | {exe} -S -p "" -v 2>/dev/null; unset p; {run}'
    return f"sh -c {shlex.quote(inner)}"


def stdin_prefix(become: bool | Become | None) -> bytes:
    """What is sent before the script: the sudo password line, when there is one."""
    chosen = _as_become(become)
    if chosen is None or chosen.password is None:
        return b""
    return chosen.password.encode() + b"\n"


def remote_command(deadline_s: float, become: bool | Become | None) -> str:
    """The command that reads the script on stdin, killed by the host at the deadline.

    Its first line of output is its own pid: sshd makes it a session (and process
    group) leader, GNU timeout keeps that group, so it names the process group of the
    whole script, which a stop kills."""
    shell = become_shell(become)
    limit = max(1, int(deadline_s))
    return (
        "echo $$; "
        f"if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL {limit} {shell}; "
        f"else exec {shell}; fi"
    )


def kill_group_command(pgid: int, become: bool | Become | None) -> str:
    """The shell command that kills process group ``pgid`` (as root too with ``become``)."""
    kill = f"kill -KILL -- -{int(pgid)}"
    chosen = _as_become(become)
    if chosen is None or chosen.method == "su":
        return kill
    exe = shlex.quote(chosen.exe or chosen.method)
    return f"{exe} -n {kill} 2>/dev/null || {kill}"


@contextlib.contextmanager
def when_stopped(stop: threading.Event | None, action: Callable[[], None]) -> Iterator[None]:
    """While the block runs, call ``action`` once (from a helper thread) if ``stop`` is set.

    For phases that block in a library call (connecting): ``action`` interrupts them,
    e.g. by shutting the socket down. Never called once the block has ended."""
    if stop is None:
        yield
        return
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(STOP_POLL_S):
                with lock:
                    if not done.is_set():
                        action()
                return

    # Not joined: it ends within one poll interval, and joining would cost every host that.
    threading.Thread(target=watch, name="butler-stop-watch", daemon=True).start()
    try:
        yield
    finally:
        with lock:
            done.set()


class Capture:
    """One output stream as it arrives: a bounded part kept, all of it counted and hashed.

    Without a marker the first ``keep_bytes`` are kept. With one, stdout is read as
    frame lines (lines starting with the marker) and the stretches between them: every
    frame line is kept (preceded by its newline), each stretch keeps at most
    ``segment_bytes`` (all stretches together ``keep_bytes``). When nothing is cut, what
    is kept is the stream itself, byte for byte.
    """

    def __init__(self, limits: OutputLimits, *, framed: bool = True) -> None:
        marker = limits.frame_marker if framed else None
        self._marker = marker
        self._sep = b"\n" + marker if marker else b""
        self._room = limits.keep_bytes
        self._segment_max = limits.segment_bytes if marker else limits.keep_bytes
        self._frame_room = FRAME_BYTES
        self._kept = bytearray()
        self._whole = hashlib.sha256()
        self.size = 0
        self._cut: list[Segment] = []
        self._seg_after = b""
        self._seg_size = 0
        self._seg_kept = 0
        self._seg_hash: hashlib._Hash | None = None  # started when the first byte is dropped
        # Scanner state: bytes held back that may begin a frame line's separator; whether
        # their first newline is virtual (already emitted, or the start of the stream).
        self._carry = b"\n" if marker else b""
        self._carry_virtual = bool(marker)
        self._line: bytearray | None = None  # a frame line being read
        self._line_sep = False  # whether a real newline preceded it

    # -- feeding -----------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the stream."""
        if not chunk:
            return
        self.size += len(chunk)
        self._whole.update(chunk)
        if self._marker is None:
            self._content(chunk)
            return
        data = self._carry + chunk
        virtual = 0 if self._carry_virtual else -1  # index of a newline that is no content
        self._carry, self._carry_virtual = b"", False
        pos = 0
        while pos < len(data):
            if self._line is not None:
                pos, virtual = self._read_frame_line(data, pos)
                continue
            pos = self._read_content(data, pos, virtual)

    def _read_frame_line(self, data: bytes, pos: int) -> tuple[int, int]:
        """Continue a frame line; return where to go on and the newline that ended it."""
        assert self._line is not None
        newline = data.find(b"\n", pos)
        end = len(data) if newline == -1 else newline
        self._line += data[pos:end]
        if len(self._line) > FRAME_LINE_MAX:  # too long for a frame line: it is output
            self._content((b"\n" if self._line_sep else b"") + bytes(self._line))
            self._line = None
            return end, -1
        if newline == -1:
            return end, -1
        self._frame(bytes(self._line), self._line_sep)
        self._line = None
        return newline, newline  # that newline ended the frame line: no content, no separator

    def _read_content(self, data: bytes, pos: int, virtual: int) -> int:
        """Output up to the next frame line (held back if it may start in the next chunk)."""
        found = data.find(self._sep, pos)
        if found == -1:
            tail = data.rfind(b"\n", max(pos, len(data) - len(self._sep) + 1))
            if tail != -1 and self._sep.startswith(data[tail:]):
                self._content(_without(data, pos, tail, virtual))
                self._carry, self._carry_virtual = data[tail:], tail == virtual
            else:
                self._content(_without(data, pos, len(data), virtual))
            return len(data)
        self._content(_without(data, pos, found, virtual))
        self._line, self._line_sep = bytearray(), found != virtual
        return found + 1

    def _content(self, data: bytes) -> None:
        if not data:
            return
        take = min(len(data), self._room, self._segment_max - self._seg_kept)
        if take < len(data) and self._seg_hash is None:  # first byte dropped: hash from here
            self._seg_hash = hashlib.sha256(self._kept[len(self._kept) - self._seg_kept :])
        if take:
            self._kept += data[:take]
            self._room -= take
            self._seg_kept += take
        self._seg_size += len(data)
        if self._seg_hash is not None:
            self._seg_hash.update(data)

    def _frame(self, line: bytes, separated: bool) -> None:
        self._close_segment()
        text = (b"\n" if separated else b"") + line + b"\n"
        if len(text) <= self._frame_room:
            self._kept += text
            self._frame_room -= len(text)
        self._open_segment(line)

    def _open_segment(self, after: bytes) -> None:
        self._seg_after = after
        self._seg_size = 0
        self._seg_kept = 0
        self._seg_hash = None

    def _close_segment(self) -> None:
        if self._seg_hash is not None:
            digest = self._seg_hash.hexdigest()
            self._cut.append(Segment(self._seg_after, self._seg_size, self._seg_kept, digest))

    # -- results -----------------------------------------------------------------------

    def finish(self) -> None:
        """The stream ended: what was held back is output."""
        if self._line is not None:
            self._content((b"\n" if self._line_sep else b"") + bytes(self._line))
            self._line = None
        self._content(self._carry[1:] if self._carry_virtual else self._carry)
        self._carry = b""
        self._close_segment()
        self._open_segment(b"")

    @property
    def kept(self) -> bytes:
        """What was kept of the stream."""
        return bytes(self._kept)

    @property
    def sha256(self) -> str:
        """Hex sha256 of the whole stream so far."""
        return self._whole.hexdigest()

    @property
    def cut(self) -> tuple[Segment, ...]:
        """The stretches kept only in part (complete once ``finish`` was called)."""
        return tuple(self._cut)


def _without(data: bytes, start: int, end: int, virtual: int) -> bytes:
    """``data[start:end]`` without the virtual newline at ``virtual``, if it is there."""
    return data[start + 1 : end] if start == virtual and start < end else data[start:end]


@dataclass
class Streams:
    """stdout and stderr of one script as they arrive."""

    out: Capture
    err: Capture

    @classmethod
    def open(cls, limits: OutputLimits | None) -> Streams:
        """Empty captures for ``limits`` (defaults when None)."""
        chosen = limits or OutputLimits()
        return cls(Capture(chosen), Capture(chosen, framed=False))

    def execution(
        self,
        status: Literal["ok", "unreachable", "error"],
        rc: int | None = None,
        message: str = "",
        *,
        stopped: bool = False,
    ) -> Execution:
        """The ``Execution`` holding what these streams gave."""
        self.out.finish()
        self.err.finish()
        return Execution(
            status,
            self.out.kept,
            self.err.kept,
            rc,
            message,
            stopped=stopped,
            stdout_size=self.out.size,
            stdout_sha256=self.out.sha256,
            stderr_size=self.err.size,
            stderr_sha256=self.err.sha256,
            cut=self.out.cut,
        )
