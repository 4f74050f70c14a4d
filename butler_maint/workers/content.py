"""The content a shard runs: recorded by the controller, checked by the worker.

The digest is the one provenance rule of every report (``runs.record``): the sha256 of
each file the checklist step reads (the checklist, its testinfra modules, the waivers)
and of the inventory's files, plus the git commit of the content repository. A worker
computes the same over its own tree and refuses a shard whose content differs: it never
runs a checklist other than the one the report will name.
"""

from __future__ import annotations

from pathlib import Path

from butler_maint.errors import ContentError, Location
from butler_maint.evidence.provenance import content_provenance
from butler_maint.inventory import Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.runs.record import checklist_files
from butler_maint.workers.shard import Content


def relative(root: Path, path: Path) -> str:
    """``path`` relative to the content root; content outside it cannot travel."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ContentError.at(
            Location(str(path)),
            f"is outside the content repository {root}: a worker cannot check it against "
            "its own content (keep checklists and inventories in the repository)",
        ) from None


def recorded(root: Path, checklist: Checklist, path: Path, inventory: Inventory) -> Content:
    """The content digest of a checklist job, as the controller records it."""
    files = [*checklist_files(root, checklist, path), *inventory.files()]
    for file in files:
        relative(root, file)
    found = content_provenance(root, files)
    return Content(git_commit=found.git_commit, files=found.files)


def recorded_play(root: Path, playbook: Path, inventory: Inventory) -> Content:
    """The content digest of a playbook step: the playbook, the inventory, the commit."""
    files = [playbook, *inventory.files()]
    for file in files:
        relative(root, file)
    found = content_provenance(root, files)
    return Content(git_commit=found.git_commit, files=found.files)


def difference(expected: Content, own: Content) -> str | None:
    """Why this worker's content is not the controller's, or None when it is."""
    if expected.git_commit and own.git_commit and expected.git_commit != own.git_commit:
        return (
            f"content commit differs: the controller recorded {expected.git_commit[:12]}, "
            f"this worker has {own.git_commit[:12]}"
        )
    for name in sorted(set(expected.files) | set(own.files)):
        want, have = expected.files.get(name), own.files.get(name)
        if want != have:
            return (
                f"content differs at {name}: the controller recorded {want or 'no such file'}, "
                f"this worker has {have or 'no such file'}"
            )
    return None
