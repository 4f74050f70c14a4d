"""Provenance of a run: who ran it, with which tool versions, on which content.

Everything here reads the environment; the rest of the evidence package does not.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

from butler_maint.evidence.model import Content, Inventory

TOOLS = {
    "butler_maint": "butler-maint",
    "ansible_core": "ansible-core",
    "ansible_runner": "ansible-runner",
    "paramiko": "paramiko",
}
_CHUNK = 1 << 20


def operator_identity(override: str | None = None) -> str:
    """``--operator`` when given, else ``user@host`` of this process."""
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def tool_versions() -> dict[str, str]:
    """Versions of butler-maint, Ansible, ansible-runner, paramiko and Python."""
    from importlib.metadata import PackageNotFoundError, version  # slow: off the start-up path

    found = {}
    for key, dist in TOOLS.items():
        try:
            found[key] = version(dist)
        except PackageNotFoundError:
            found[key] = "absent"
    found["python"] = platform.python_version()
    return found


def file_sha256(path: Path) -> str:
    """``sha256:HEX`` of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def content_provenance(root: Path, files: Iterable[Path], exclude: Iterable[str] = ()) -> Content:
    """Git commit and dirty flag of the content repo at ``root``, and every file's sha256.

    ``exclude`` lists repo-relative paths (e.g. the evidence dir) that do not make the
    content dirty.
    """
    commit = _git(root, "rev-parse", "--verify", "HEAD")
    dirty = None
    if commit is not None:
        specs = [".", *(f":(exclude){path}" for path in exclude)]
        status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", *specs)
        dirty = None if status is None else bool(status.strip())
    hashes = {_relative(root, path): file_sha256(path) for path in files}
    return Content(
        git_commit=commit.strip() if commit else None,
        dirty=dirty,
        files=dict(sorted(hashes.items())),
    )


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def inventory_provenance(root: Path, sources: Iterable[Path], host_count: int) -> Inventory:
    """Sources, host count and one sha256 over every inventory file (dirs walked, sorted)."""
    digest = hashlib.sha256()
    names = []
    for source in sources:
        names.append(_relative(root, source))
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            if path.exists():
                digest.update(f"{_relative(root, path)}\0{file_sha256(path)}\n".encode())
    return Inventory(sources=names, hosts=host_count, sha256=f"sha256:{digest.hexdigest()}")
