"""Run a script on this machine (``ansible_connection=local``) without SSH."""

from __future__ import annotations

import os
import signal
import subprocess

from butler_maint.executors import Execution


def run_local(script: str, *, deadline_s: float, become: bool = False) -> Execution:
    """Run ``script`` with ``sh -s``; kill its whole process group at the deadline."""
    command = ["sudo", "-n", "sh", "-s"] if become and os.geteuid() != 0 else ["sh", "-s"]
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
    try:
        out, err = proc.communicate(script.encode(), timeout=deadline_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Execution(
            "error", out, err, None, f"no answer within {deadline_s:g} s; script killed"
        )
    return Execution("ok", out, err, proc.returncode)
