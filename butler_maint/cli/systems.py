"""The repository's systems as commands read them (``report show``, ``diagnose``,
``report render``, the service reports): loaded with their hosts in the inventory."""

from __future__ import annotations

from pathlib import Path

from butler_maint.cli.context import App
from butler_maint.errors import ButlerError
from butler_maint.evidence.model import Report
from butler_maint.systems.members import Systems


def project_systems(app: App, inventory: Path | None = None, vault: Path | None = None) -> Systems:
    """The repository's systems with their hosts (none when there is no ``systems/``)."""
    from butler_maint.systems.members import project_systems as load
    from butler_maint.systems.members import system_files

    if not system_files(app.root):
        return Systems()
    return load(app.root, app.inventory(inventory, vault))


def diagnosis_section(app: App, report: Report) -> list[str]:
    """``report show``'s diagnosis lines: empty without systems or failures; one line
    saying why when the systems or the inventory cannot be read."""
    from butler_maint.systems.diagnose import diagnose, diagnosis_lines

    try:
        systems = project_systems(app)
    except ButlerError as exc:
        return [f"diagnosis: unavailable ({exc.render().splitlines()[0]})"]
    if not systems:
        return []
    found = diagnose(report, systems)
    return diagnosis_lines(found) if found else []
