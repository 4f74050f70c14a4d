"""Run a script on this machine (``ansible_connection=local``) without SSH.

The script runs in a session of its own; its whole process group is killed at the
deadline or when ``stop`` is set. Output is read as it comes, within ``OutputLimits``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from typing import IO

from butler_maint.executors import (
    STOP_POLL_S,
    Become,
    Execution,
    OutputLimits,
    Streams,
    become_shell,
    kill_group_command,
    stdin_prefix,
)

_READ = 2**20


def run_local(
    script: str,
    *,
    deadline_s: float,
    become: bool | Become | None = False,
    stop: threading.Event | None = None,
    limits: OutputLimits | None = None,
) -> Execution:
    """Run ``script`` with ``sh -s``; kill its whole process group at the deadline or stop."""
    if stop is not None and stop.is_set():
        return Execution("error", message="stopped before the check script started", stopped=True)
    chosen = _local_become(become)
    sudo = chosen is not None
    command = ["sh", "-c", become_shell(chosen)] if chosen is not None else ["sh", "-s"]
    script = stdin_prefix(chosen).decode() + script
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return Execution("error", message=f"cannot start sh: {exc.strerror}")
    streams = Streams.open(limits)
    try:
        ended = _pump(proc, script.encode(), streams, time.monotonic() + deadline_s, stop)
        if ended == "done":
            return streams.execution("ok", proc.wait())
        _kill_group(proc.pid, sudo)
        proc.wait()
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    if ended == "stopped":
        message = "stopped: the check script was killed"
        return streams.execution("error", None, message, stopped=True)
    return streams.execution("error", None, f"no answer within {deadline_s:g} s; script killed")


def _pump(
    proc: subprocess.Popen[bytes],
    script: bytes,
    streams: Streams,
    deadline: float,
    stop: threading.Event | None,
) -> str:
    """Feed the script, read both streams; "done", "stopped" or "deadline"."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    sinks = {proc.stdout.fileno(): streams.out, proc.stderr.fileno(): streams.err}
    pending = memoryview(script)
    with selectors.DefaultSelector() as selector:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(pipe.fileno(), False)
        selector.register(proc.stdin, selectors.EVENT_WRITE)
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        if not pending:
            _close(selector, proc.stdin)
        while selector.get_map():
            if stop is not None and stop.is_set():
                return "stopped"
            left = deadline - time.monotonic()
            if left <= 0:
                return "deadline"
            for key, _ in selector.select(min(STOP_POLL_S, left)):
                if key.fileobj is proc.stdin:
                    pending = _write(selector, proc.stdin, pending)
                    continue
                chunk = os.read(key.fd, _READ)
                if chunk:
                    sinks[key.fd].feed(chunk)
                else:
                    selector.unregister(key.fileobj)
    return _reap(proc, deadline, stop)


def _write(selector: selectors.BaseSelector, stdin: IO[bytes], pending: memoryview) -> memoryview:
    """Write what the pipe takes; close it once the script is sent (or sh is gone)."""
    try:
        pending = pending[os.write(stdin.fileno(), pending) :]
    except BlockingIOError:
        return pending
    except OSError:  # sh exited without reading it all (BrokenPipe)
        pending = pending[len(pending) :]
    if not pending:
        _close(selector, stdin)
    return pending


def _close(selector: selectors.BaseSelector, stdin: IO[bytes]) -> None:
    selector.unregister(stdin)
    with contextlib.suppress(OSError):
        stdin.close()


def _reap(proc: subprocess.Popen[bytes], deadline: float, stop: threading.Event | None) -> str:
    """Both streams are closed: wait for sh itself, looking at the stop and the deadline."""
    while True:
        try:
            proc.wait(timeout=STOP_POLL_S)
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                return "stopped"
            if time.monotonic() >= deadline:
                return "deadline"
            continue
        return "done"


def _local_become(become: bool | Become | None) -> Become | None:
    """What to become here: nothing when already root and root is the target user."""
    chosen = Become() if become is True else (become or None)
    if chosen is None or (os.geteuid() == 0 and chosen.user in {None, "root"}):
        return None
    return chosen


def _kill_group(pgid: int, sudo: bool) -> None:
    """Kill the script's process group; through ``sudo`` for what runs as root."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if sudo:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["sh", "-c", kill_group_command(pgid, True)],
                capture_output=True,
                timeout=5,
                check=False,
            )
