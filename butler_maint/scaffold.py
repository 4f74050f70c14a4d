"""``butler-maint init``: write a starter content repository that validates clean."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from butler_maint.errors import ButlerError

# Starter files ship as package data; "dot-" names become dotfiles when written.
_DOT_PREFIX = "dot-"


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
