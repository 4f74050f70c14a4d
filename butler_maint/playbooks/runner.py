"""Run ansible-playbook through ansible-runner's Python API: cancellable, leaving nothing.

ansible-runner starts ansible-playbook under pexpect in a new session and calls our
``event_handler`` for every event. Cancelling: SIGHUP/SIGINT/SIGTERM only set the
run's stop (``runs.stop``); the runner polls it as ``cancel_callback`` every ``POLL_S`` and
then SIGKILLs ansible-playbook's process group (its forks and their ssh clients).
What escapes that group — OpenSSH ControlPersist masters detach into their own
session, ``async`` tasks on local connections daemonise — carries the run's marker in
its environment (``BUTLER_PLAY_RUN``), and :func:`stop_strays` ends it by that marker
after every run, cancelled or not, so no master lingers for its ControlPersist time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from butler_maint.errors import CannotRunError

MARKER_VAR = "BUTLER_PLAY_RUN"
POLL_S = 0.2
STOP_WAIT_S = 3.0
_PROC = Path("/proc")


@dataclass(frozen=True)
class RunSpec:
    """One ansible-playbook invocation."""

    playbook: Path
    inventories: tuple[Path, ...]
    cwd: Path  # the content repo: its ansible.cfg applies, as for ansible-playbook there
    args: tuple[str, ...]
    env: Mapping[str, str]
    forks: int
    limit: str | None = None


@dataclass(frozen=True)
class RunnerExit:
    """How ansible-runner ended: ``successful``, ``failed``, ``canceled`` or ``timeout``."""

    status: str
    rc: int | None
    artifacts: Path


def ansible_bin_dir() -> Path | None:
    """The directory of the ansible-playbook installed with this Python, if there is one."""
    here = Path(sys.executable).parent
    return here if (here / "ansible-playbook").is_file() else None


def run_playbook(
    spec: RunSpec,
    private_dir: Path,
    handler: Callable[[dict[str, Any]], bool],
    cancel: Callable[[], bool],
) -> RunnerExit:
    """Run ``spec`` with ansible-runner in ``private_dir``; return how it ended.

    ansible-runner's own failures (it could not start or follow ansible-playbook) are
    mapped to CannotRunError; ansible-playbook's failures are data (status, rc, events).
    """
    from ansible_runner.exceptions import AnsibleRunnerException, ConfigurationError

    private_dir.mkdir(mode=0o700)
    _write_settings(private_dir)
    try:
        runner = _run(spec, private_dir, handler, cancel)
    except (AnsibleRunnerException, ConfigurationError, ValueError, OSError) as ex:
        raise CannotRunError(f"ansible-runner failed: {type(ex).__name__}: {ex}") from None
    rc = runner.rc if isinstance(runner.rc, int) else None
    return RunnerExit(str(runner.status), rc, Path(runner.config.artifact_dir))


def _run(
    spec: RunSpec,
    private_dir: Path,
    handler: Callable[[dict[str, Any]], bool],
    cancel: Callable[[], bool],
) -> Any:
    import ansible_runner

    return ansible_runner.run(
        private_data_dir=str(private_dir),
        ident="run",
        playbook=str(spec.playbook),
        inventory=[str(p) for p in spec.inventories],
        project_dir=str(spec.cwd),
        envvars=dict(spec.env),
        cmdline=shlex.join(spec.args) if spec.args else None,
        limit=spec.limit,
        forks=spec.forks,
        event_handler=handler,
        cancel_callback=cancel,
        quiet=True,
        suppress_env_files=True,
        fact_cache_type="memory",
    )


def _write_settings(private_dir: Path) -> None:
    """Runner settings go in ``env/settings``: given as ``settings=`` they are dropped
    when that file is missing (ansible-runner 2.4 resets them in ``prepare_env``)."""
    env = private_dir / "env"
    env.mkdir(mode=0o700)
    settings = {"suppress_output_file": True, "pexpect_timeout": POLL_S}
    (env / "settings").write_text(json.dumps(settings), encoding="utf-8")


def stop_strays(marker: str, paths: Sequence[Path] = (), wait_s: float = STOP_WAIT_S) -> list[int]:
    """End the run's leftover processes (see :func:`marked_processes`); return their pids."""
    pids = marked_processes(marker, paths)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [pid for pid in left if _alive(pid)]
    _signal(left, signal.SIGKILL)
    return pids


def marked_processes(marker: str, paths: Sequence[Path] = ()) -> list[int]:
    """Live processes (not this one) of a run: ``BUTLER_PLAY_RUN=marker`` in their
    environment, or one of ``paths`` in their command line. OpenSSH's ControlPersist
    masters need the latter: their process title (``ssh: <ControlPath> [mux]``)
    overwrites the memory /proc shows as their environment."""
    needle = f"{MARKER_VAR}={marker}".encode()
    names = [str(p).encode() for p in paths]
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") or any(name in cmdline for name in names):
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X")


def _signal(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
