"""``butler-maint init``: write a starter content repository that validates clean.

Besides the starter files, a new repository gets ``git init`` (when git is installed)
and a ``.git/hooks/pre-commit`` script that runs ``butler-maint validate`` with this
very Python, so a commit of broken content is refused and evidence has a commit to
name from the first run.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from importlib.resources import as_file, files
from pathlib import Path

from butler_maint.errors import ButlerError

# Starter files ship as package data; "dot-" names become dotfiles when written.
_DOT_PREFIX = "dot-"
HOOK = """#!/bin/sh
# Written by `butler-maint init`: refuse a commit whose content does not validate.
exec {python} -m butler_maint validate
"""


def scaffold(directory: Path, *, force: bool = False) -> list[Path]:
    """Copy the starter repository into ``directory``; never overwrite a file."""
    if directory.exists() and any(directory.iterdir()) and not force:
        raise ButlerError(f"{directory} is not empty (use --force to add the starter files)")
    written: list[Path] = []
    with as_file(files("butler_maint") / "starter") as starter:
        for source in sorted(p for p in starter.rglob("*") if p.is_file()):
            relative = source.relative_to(starter)
            name = relative.name.removeprefix(_DOT_PREFIX)
            target = (
                directory
                / relative.parent
                / ("." + name if relative.name.startswith(_DOT_PREFIX) else name)
            )
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            written.append(target)
    return written


def git_init(directory: Path) -> str:
    """``git init`` in ``directory`` (unless it has a ``.git``) and write the hook.

    Returns one line saying what was done, or the command to run when git is missing.
    """
    git = shutil.which("git")
    if git is None:
        return "git not found: no repository, no pre-commit hook (install git, rerun with --force)"
    git_dir = directory / ".git"
    if not git_dir.exists():
        command = [git, "init", "-q", str(directory)]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            return f"git init failed, no pre-commit hook installed: {done.stderr.strip()}"
    if not git_dir.is_dir():
        return f"{git_dir} is not a directory: no pre-commit hook installed"
    hook = git_dir / "hooks" / "pre-commit"
    if hook.exists():
        return f"kept the existing {hook}"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(HOOK.format(python=shlex.quote(sys.executable)))
    hook.chmod(0o755)
    return f"installed {hook} (runs butler-maint validate before every commit)"
