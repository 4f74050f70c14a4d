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


def _env(operator: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_AUTHOR_NAME", "butler-maint")
    env.setdefault("GIT_AUTHOR_EMAIL", operator)
    env.setdefault("GIT_COMMITTER_NAME", "butler-maint")
    env.setdefault("GIT_COMMITTER_EMAIL", operator)
    return env


def commit(root: Path, paths: list[str], message: str, operator: str) -> str | None:
    """Commit ``paths`` (store-relative); return None, or why it failed."""
    env = _env(operator)
    try:
        ensure_repo(root)
        extra = [".gitignore"] if (root / ".gitignore").is_file() else []
        _git(root, "add", "--", *paths, *extra)
        _git(root, "commit", "-q", "--no-verify", "-m", message, "--", *paths, *extra, env=env)
    except (OSError, RuntimeError, subprocess.SubprocessError, EvidenceError) as exc:
        return str(exc)
    return None


def push_tag(
    root: Path, remote: str, tag: str, message: str, *, operator: str, key: Path | None
) -> str | None:
    """Tag the store's HEAD commit ``tag`` (signed with the SSH ``key`` when given) and
    push the tag to ``remote``; return None, or why it failed."""
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    try:
        _git(root, *signing, "tag", "-s" if key else "-a", "-m", message, "--", tag, "HEAD",
             env=_env(operator))  # fmt: skip
        _git(root, "push", "-q", remote, f"refs/tags/{tag}")
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return f"anchor tag {tag} to {remote}: {exc}"
    return None


def remote_tags(root: Path, remote: str, pattern: str) -> list[str]:
    """The tag refs of ``remote`` matching ``pattern``; RuntimeError when unreadable."""
    try:
        out = _git(root, "ls-remote", "--tags", "--refs", remote, pattern)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(str(exc)) from None
    return [line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line]
