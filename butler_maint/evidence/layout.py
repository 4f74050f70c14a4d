"""Where things live in the store, and safe names: nothing a run, window or host is
called can make a path that leaves the store."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from butler_maint.evidence.errors import ReportNotFound

HEAD_FILE = ".head"
LOCK_FILE = ".lock"
RUN_DUE_LOCK_FILE = ".run-due.lock"
ARTIFACTS_DIR = "artifacts"
APPROVALS_DIR = "approvals"
NAME_MAX = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ID = re.compile(r"(\d{4})(\d{2})(\d{2})T\d{6}Z-[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def safe_name(name: str) -> str:
    """A file-name-safe form of ``name``: ``../../x`` -> ``x``, ``/abs`` -> ``abs``."""
    text = _UNSAFE.sub("-", name).strip(".-_")
    text = re.sub(r"\.{2,}", ".", text)[:NAME_MAX].rstrip(".-_")
    return text or "run"


def make_id(started: datetime, name: str, attempt: int = 1) -> str:
    """A report id: ``YYYYMMDDTHHMMSSZ-<safe name>``, ``-N`` appended from attempt 2."""
    base = f"{started:%Y%m%dT%H%M%SZ}-{safe_name(name)}"
    return base if attempt == 1 else f"{base}-{attempt}"


def is_report_id(text: str) -> bool:
    """True when ``text`` has the shape of a report id."""
    return _ID.match(text) is not None


def rel_path(report_id: str) -> str:
    """The store-relative path of a report: ``YYYY/MM/DD/<id>.yaml``."""
    match = _ID.match(report_id)
    if match is None:
        raise ReportNotFound(f"not a report id: {report_id!r}")
    year, month, day = match.groups()
    return f"{year}/{month}/{day}/{report_id}.yaml"


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` (resolved) is inside ``root`` (resolved)."""
    return path.resolve().is_relative_to(root.resolve())
