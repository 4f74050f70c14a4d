"""The ssh_config files of a run, read once, and the routes of its hosts.

By default the files OpenSSH reads (``~/.ssh/config``, then ``/etc/ssh/ssh_config``);
``ssh.config_file`` in ``butler.yaml`` names one file instead (what ``ssh -F`` does),
``none`` reads none. ``Include`` lines are expanded here (paramiko's parser has no
``Include``): relative patterns are relative to ``~/.ssh`` (user files) or ``/etc/ssh``
(the system file), as OpenSSH resolves them. A file that cannot be read or parsed is an
:class:`InventoryError` naming it.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from butler_maint.errors import InventoryError
from butler_maint.executors._paramiko import paramiko
from butler_maint.executors.route import Route, route
from butler_maint.executors.ssh import DEFAULT_SSH_CONFIGS
from butler_maint.inventory import HostInfo

SYSTEM_CONFIG = DEFAULT_SSH_CONFIGS[1]
_MAX_DEPTH = 16  # OpenSSH's limit on nested Include


def read_ssh_config(paths: Sequence[Path]) -> paramiko.SSHConfig | None:
    """One ``SSHConfig`` of ``paths`` (missing files skipped), None when all are empty."""
    parts = []
    for path in paths:
        expanded = Path(os.path.expanduser(path))
        if expanded.is_file():
            # Lines before a file's first Host apply to every host: a Host * of its own,
            # so they do not join the previous file's last block.
            parts.append("Host *\n" + _expanded(expanded, _include_base(expanded), 0))
    text = "".join(parts)
    if not any(_meaningful(line) for line in text.splitlines()):
        return None
    try:
        return paramiko.SSHConfig.from_text(text)
    except (paramiko.ConfigParseError, ValueError) as exc:
        names = ", ".join(str(p) for p in paths)
        raise InventoryError(f"ssh_config ({names}): {exc}") from None


def _meaningful(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and stripped != "Host *"


def _include_base(path: Path) -> Path:
    return Path("/etc/ssh") if path == SYSTEM_CONFIG else Path(os.path.expanduser("~/.ssh"))


def _expanded(path: Path, base: Path, depth: int) -> str:
    """The text of ``path`` with its ``Include`` lines replaced by the files they name."""
    if depth > _MAX_DEPTH:
        raise InventoryError(f"ssh_config {path}: Include nested more than {_MAX_DEPTH} deep")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"ssh_config {path}: cannot read it: {exc}") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.replace("=", " ", 1).split()
        if not words or words[0].lower() != "include":
            out.append(line + "\n")
            continue
        if len(words) < 2:
            raise InventoryError(f"{path}:{number}: Include needs a file name")
        for pattern in words[1:]:
            full = os.path.expanduser(pattern)
            full = full if os.path.isabs(full) else str(base / full)
            for found in sorted(glob.glob(full)):
                out.append(_expanded(Path(found), base, depth + 1))
    return "".join(out)


class Routes:
    """The routes of one run's hosts: ssh_config files read once, each route built once."""

    def __init__(
        self,
        config_files: Sequence[Path] = DEFAULT_SSH_CONFIGS,
        ssh_args: tuple[str, str] | None = None,
    ) -> None:
        self._config = read_ssh_config(config_files)
        self._ssh_args = ssh_args  # ansible's ssh_args setting: (where, text)
        self._files: dict[str, Any] = {}
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()

    def __call__(self, host: HostInfo) -> Route:
        """The route to ``host``; raises RouteError (an InventoryError) naming host and var."""
        known = self._routes.get(host.name)
        if known is not None:
            return known
        found = route(host, self._config, self._load, self._ssh_args)
        with self._lock:
            self._routes[host.name] = found
        return found

    def _load(self, path: str) -> Any:
        with self._lock:
            if path not in self._files:
                if path != os.devnull and not Path(path).is_file():
                    raise InventoryError(f"ssh_config file {path} (given with -F) does not exist")
                self._files[path] = read_ssh_config([Path(path)])
            return self._files[path]
