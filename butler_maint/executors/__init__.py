"""Executors: run one script on one host and return plain bytes. Thin on purpose.

Library errors (paramiko, sockets, subprocess) are mapped here to an ``Execution``
whose ``status`` is ``ok``, ``unreachable`` or ``error``; nothing above this package
sees a library exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Execution:
    """What running a script on a host gave."""

    status: Literal["ok", "unreachable", "error"]
    stdout: bytes = b""
    stderr: bytes = b""
    rc: int | None = None
    message: str = ""
    host_key: str | None = None  # "SSH-ED25519 SHA256:..." of the key that was verified


def remote_command(deadline_s: float, become: bool) -> str:
    """The command that reads the script on stdin, killed by the host at the deadline."""
    shell = "sudo -n sh -s" if become else "sh -s"
    limit = max(1, int(deadline_s))
    return (
        f"if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL {limit} {shell}; "
        f"else exec {shell}; fi"
    )
