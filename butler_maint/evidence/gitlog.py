"""Commit each report to git when ``evidence.git`` is on (the store is its own repo).

A ``.git`` or ``.gitignore`` planted in the store as a symbolic link is never followed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from butler_maint.evidence import fsutil
from butler_maint.evidence.errors import EvidenceError

GITIGNORE = "index.jsonl\n.lock\n.run-due.lock\n.tmp-*\nartifacts/\n"


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"git {args[0]} failed")
    return done.stdout


def ensure_repo(root: Path) -> None:
    """Make ``root`` a git repository (with a .gitignore for derived files) if not one."""
    dot_git = root / ".git"
    if dot_git.is_symlink():
        raise RuntimeError(f"refusing to follow symbolic link {dot_git}")
    if dot_git.exists():
        return
    _git(root, "init", "-q")
    with contextlib.suppress(FileExistsError):  # the operator's own, or a link: left alone
        fsutil.create_file(root / ".gitignore", GITIGNORE.encode(), root=root)


def commit(root: Path, paths: list[str], message: str, operator: str) -> str | None:
    """Commit ``paths`` (store-relative); return None, or why it failed."""
    env = dict(os.environ)
    env.setdefault("GIT_AUTHOR_NAME", "butler-maint")
    env.setdefault("GIT_AUTHOR_EMAIL", operator)
    env.setdefault("GIT_COMMITTER_NAME", "butler-maint")
    env.setdefault("GIT_COMMITTER_EMAIL", operator)
    try:
        ensure_repo(root)
        extra = [".gitignore"] if (root / ".gitignore").is_file() else []
        _git(root, "add", "--", *paths, *extra)
        _git(root, "commit", "-q", "--no-verify", "-m", message, "--", *paths, *extra, env=env)
    except (OSError, RuntimeError, subprocess.SubprocessError, EvidenceError) as exc:
        return str(exc)
    return None
