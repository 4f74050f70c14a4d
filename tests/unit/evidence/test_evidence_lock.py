"""``hold_lock``: one holder at a time across processes, the holder's pid named, released
by the kernel when the holder dies, never through a link, modes whatever the umask."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from butler_maint.errors import CannotRunError
from butler_maint.evidence.lock import hold_lock

HOLDER = """
import sys
from pathlib import Path
from butler_maint.evidence.lock import hold_lock
with hold_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``tmp_path/.run-due.lock`` until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / ".run-due.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def test_busy_lock_names_the_holder_at_once(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    path = tmp_path / ".run-due.lock"
    with (
        pytest.raises(CannotRunError) as info,
        hold_lock(path, busy="another run-due is running"),
    ):
        pass
    assert str(info.value) == f"another run-due is running (pid {holder.pid}; lock {path})"
    assert info.value.exit_code == 3


def test_the_kernel_releases_a_killed_holder(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    with hold_lock(tmp_path / ".run-due.lock"):
        assert (tmp_path / ".run-due.lock").read_text() == f"{os.getpid()}\n"


def test_wait_blocks_until_the_holder_leaves(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    acquired = threading.Event()

    def wait_for_it() -> None:
        with hold_lock(tmp_path / ".run-due.lock", wait=True):
            acquired.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not acquired.wait(0.2)  # still held by the other process
    assert holder.stdin is not None
    holder.stdin.close()
    assert acquired.wait(60)
    waiter.join(60)


def test_created_with_an_explicit_mode_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".run-due.lock"
    old = os.umask(0)
    try:
        with hold_lock(path):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_old_world_writable_lock_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / ".run-due.lock"
    path.write_text("12345\n")
    path.chmod(0o666)
    with hold_lock(path):
        assert path.read_text() == f"{os.getpid()}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("dangling", [False, True])
def test_a_link_is_refused_and_its_target_untouched(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "target"
    if not dangling:
        target.write_text("precious\n")
    path = tmp_path / ".run-due.lock"
    path.symlink_to(target)
    with pytest.raises(CannotRunError) as info, hold_lock(path):
        pass
    assert str(path) in str(info.value) and "symbolic link" in str(info.value)
    if dangling:
        assert not target.exists()
    else:
        assert target.read_text() == "precious\n"


def test_a_hard_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("precious\n")
    path = tmp_path / ".run-due.lock"
    os.link(target, path)
    with pytest.raises(CannotRunError, match="hard links"), hold_lock(path):
        pass
    assert target.read_text() == "precious\n"


@pytest.mark.parametrize("make", [os.mkfifo, os.mkdir], ids=["fifo", "directory"])
def test_anything_but_a_regular_file_is_refused(tmp_path: Path, make: object) -> None:
    path = tmp_path / ".run-due.lock"
    make(path)  # type: ignore[operator]
    with pytest.raises(CannotRunError, match=str(path)), hold_lock(path):
        pass
