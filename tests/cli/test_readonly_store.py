"""Reading commands write nothing: ``kpi``, ``due``, ``report list``, ``report show`` and
``report verify`` on a read-only copy of a store, with its index current, missing or
stale. ``chmod -R a-w`` stops a normal user; as root it does not, so every test also
compares a snapshot of the store (paths, modes, mtimes, contents) before and after."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from tests.fixtures.evidence.projects import hourly_routine_project, last_hour
from tests.fixtures.evidence.snapshot import snapshot

HOUR = last_hour()
"""The last run's occurrence: the runs are 3, 2 and 1 days before it."""


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with three runs of an hourly routine, written through the store."""
    root = tmp_path_factory.mktemp("original")
    hourly_routine_project(root)
    return root


def _set_writable(root: Path, writable: bool) -> None:
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        os.chmod(path, (mode | stat.S_IWUSR) if writable else (mode & ~bits))


@pytest.fixture(params=["current", "missing", "stale"])
def index_state(request: pytest.FixtureRequest) -> str:
    """The index of the copy: current, missing, or stale (its last line lost: the head
    names a report the index does not hold)."""
    return str(request.param)


@pytest.fixture
def project(index_state: str, original: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of ``original`` whose store is read-only, its index in ``index_state``."""
    root = tmp_path / "project"
    shutil.copytree(original, root, symlinks=True)
    index = root / "audit/index.jsonl"
    if index_state == "missing":
        index.unlink()
    elif index_state == "stale":
        lines = index.read_bytes().splitlines(keepends=True)
        index.write_bytes(b"".join(lines[:-1]))
    _set_writable(root / "audit", False)
    try:
        yield root
    finally:
        _set_writable(root / "audit", True)


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), *args])
    return result.exit_code, result.stdout + result.stderr


def test_reading_commands_write_nothing(project: Path, index_state: str) -> None:
    before = snapshot(project / "audit")
    at = (HOUR + timedelta(minutes=30)).isoformat()
    commands = [
        ["kpi", "--since", "10d", "--format", "json"],
        ["due", "--at", at, "--format", "json"],
        ["report", "list"],
        ["report", "list", "--format", "json", "--host", "web01"],
        ["report", "show", "latest"],
    ]
    for args in commands:
        code, out = invoke(project, *args)
        assert code == 0, (args, out)
    code, out = invoke(project, "report", "verify")
    if index_state == "current":
        assert code == 0, out
    else:  # the reports are intact; verify may still name the index
        assert code in (0, 1) and "Traceback" not in out, out
    assert snapshot(project / "audit") == before


def test_a_missing_or_stale_index_reads_as_the_reports_say(project: Path, original: Path) -> None:
    """What the readers show does not depend on the index being current."""
    at = (HOUR + timedelta(minutes=30)).isoformat()
    for args in (
        ["report", "list"],
        ["report", "list", "--format", "json", "--since", "36h"],
        ["due", "--at", at, "--format", "json"],
    ):
        assert invoke(project, *args) == invoke(original, *args), args
    code, out = invoke(project, "kpi", "--since", "10d", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["runs"] == 3 and doc["remediations"] == 1
    assert doc["pass_rate"]["pass"] == 5 and doc["pass_rate"]["fail"] == 1
    (row,) = doc["sla"]
    assert (row["schedule"], row["on_time"], row["late"]) == ("daily-health", 3, 0)
