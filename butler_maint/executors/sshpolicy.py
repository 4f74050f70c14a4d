"""The project's host-key policy as OpenSSH reads it, for every ``ssh`` we start.

Playbooks (ansible's ``ssh`` connection) and testinfra modules (testinfra's ``ssh``
backend) run the OpenSSH client, not our paramiko code. OpenSSH gives a ProxyJump hop
the ``-F`` file but none of the ``-o`` options, so the policy is written into that file
for every host (``Host *``): the project known_hosts first, ``StrictHostKeyChecking
yes`` (``accept-new`` with ``--accept-new-host-keys``); then the ssh_config files checks
read (``ssh.config_file``, else OpenSSH's own), included. ssh keeps the first value it
reads for an option, so whatever is written before this block wins over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from butler_maint.errors import ButlerError
from butler_maint.executors.ssh import SshOptions


def host_key_settings(options: SshOptions) -> tuple[list[Path], list[Path], str]:
    """The user and global known_hosts files, and the StrictHostKeyChecking value."""
    user_files = [options.project_known_hosts]
    global_files: list[Path] = []
    for path in options.trusted_known_hosts:
        (global_files if path.is_absolute() else user_files).append(path.expanduser())
    return user_files, global_files, "accept-new" if options.accept_new else "yes"


def policy_config_text(options: SshOptions, header: str) -> str:
    """A ``Host *`` block with the host-key policy, then ``Include`` of the user's
    ssh_config files; ``header`` is the comment on top."""
    user_files, global_files, strict = host_key_settings(options)
    lines = [
        f"# {header}",
        "Host *",
        f"  UserKnownHostsFile {ssh_paths(user_files)}",
        f"  GlobalKnownHostsFile {ssh_paths(global_files) if global_files else '/dev/null'}",
        f"  StrictHostKeyChecking {strict}",
    ]
    lines += [f'  Include "{ssh_path(str(p.expanduser()))}"' for p in options.ssh_config]
    return "\n".join(lines) + "\n"


def ssh_paths(paths: Iterable[Path | str]) -> str:
    """Paths for an ssh option value: double-quoted, ``%`` escaped (ssh expands tokens).

    A path that cannot be quoted that way (a control character, a double quote, a
    backslash, ``${``) is refused: it could end the option value early."""
    return " ".join('"' + ssh_path(str(p)).replace("%", "%%") + '"' for p in paths)


def ssh_path(path: str) -> str:
    """``path`` unchanged, or :class:`ButlerError` when it cannot be quoted safely."""
    unsafe = any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or any(
        text in path for text in ('"', "\\", "${")
    )
    if unsafe:
        raise ButlerError(
            f"known_hosts path {path!r} cannot be passed to ssh: expected a path without "
            "control characters, double quotes, backslashes or '${'"
        )
    return path
