"""Commit each report to git when ``evidence.git`` is on (the store is its own repo)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GITIGNORE = "index.jsonl\n.lock\n.tmp-*\nartifacts/\n"


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
    if (root / ".git").exists():
        return
    _git(root, "init", "-q")
    (root / ".gitignore").write_text(GITIGNORE)


def commit(root: Path, paths: list[str], message: str, operator: str) -> str | None:
    """Commit ``paths`` (store-relative); return None, or why it failed."""
    env = dict(os.environ)
    env.setdefault("GIT_AUTHOR_NAME", "butler-maint")
    env.setdefault("GIT_AUTHOR_EMAIL", operator)
    env.setdefault("GIT_COMMITTER_NAME", "butler-maint")
    env.setdefault("GIT_COMMITTER_EMAIL", operator)
    try:
        ensure_repo(root)
        extra = [".gitignore"] if (root / ".gitignore").exists() else []
        _git(root, "add", "--", *paths, *extra)
        _git(root, "commit", "-q", "--no-verify", "-m", message, "--", *paths, *extra, env=env)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None
