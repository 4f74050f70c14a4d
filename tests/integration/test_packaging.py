"""The package as pip installs it: console script, starter files for `init`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from butler_maint import __version__

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_wheel_ships_the_starter_repository(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob(f"butler_maint-{__version__}-*.whl")  # one version, one place
    names = set(zipfile.ZipFile(wheel).namelist())
    starter = {n for n in names if n.startswith("butler_maint/starter/")}
    shipped = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "butler_maint/starter").rglob("*")
        if p.is_file()
    }
    assert starter == shipped
    assert "butler_maint/py.typed" in names
    templates = {p.name for p in (REPO / "butler_maint/site/templates").iterdir()}
    assert {n.rsplit("/", 1)[1] for n in names if "/site/templates/" in n} == templates
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "butler-maint = butler_maint.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_console_script_runs() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "butler-maint"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "validate" in done.stdout
