"""Loading content files into models, keeping each file's node positions.

``load_*`` return a ``Loaded`` (model + parsed document) so later checks (templates,
cross-references) can still point at ``path:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from butler_maint.errors import ContentError, Problem
from butler_maint.model.base import validate_doc
from butler_maint.model.checklist import Checklist
from butler_maint.model.schedule import FreezeFile, Schedule
from butler_maint.model.system import System
from butler_maint.model.yamldoc import YamlDoc, YamlPath, parse_file

M = TypeVar("M", bound=BaseModel)
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated model with the document it came from."""

    model: M
    doc: YamlDoc

    def where(self, path: YamlPath) -> str:
        """``path:line:col`` of a node of this file."""
        return str(self.doc.where(path))


def load_model(model: type[M], path: Path) -> Loaded[M]:
    """Parse ``path`` and validate it as ``model``; raise ContentError on any problem."""
    doc = parse_file(path)
    if doc.data is None:
        raise ContentError.at(doc.where(()), f"empty file: expected a {model.__name__} mapping")
    return Loaded(validate_doc(model, doc), doc)


def load_checklist(path: Path) -> Loaded[Checklist]:
    """Load a checklist; check ids must be unique and the name must match the file."""
    loaded = load_model(Checklist, path)
    problems = _name_matches(loaded, loaded.model.checklist, ("checklist",))
    seen: set[str] = set()
    for i, check in enumerate(loaded.model.checks):
        if check.id in seen:
            where = loaded.doc.where(("checks", i, "id"))
            problems.append(Problem(where, f"checks[{i}].id: duplicate check id {check.id!r}"))
        seen.add(check.id)
    if problems:
        raise ContentError(problems)
    return loaded


def load_schedule(path: Path) -> Loaded[Schedule]:
    """Load a routine schedule or a maintenance window."""
    loaded = load_model(Schedule, path)
    key = "routine" if loaded.model.routine else "window"
    problems = _name_matches(loaded, loaded.model.name, (key,))
    if problems:
        raise ContentError(problems)
    return loaded


def load_system(path: Path) -> Loaded[System]:
    """Load a system; its name must match the file name."""
    loaded = load_model(System, path)
    problems = _name_matches(loaded, loaded.model.system, ("system",))
    if problems:
        raise ContentError(problems)
    return loaded


def load_freeze_file(path: Path) -> Loaded[FreezeFile]:
    """Load a shared freeze file."""
    return load_model(FreezeFile, path)


def checklist_path(root: Path, name: str) -> Path:
    """The file of checklist ``name`` in the repo at ``root`` (``.yaml`` or ``.yml``)."""
    for suffix in YAML_SUFFIXES:
        candidate = root / "checklists" / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return root / "checklists" / f"{name}.yaml"


def content_files(directory: Path) -> list[Path]:
    """The YAML files directly in ``directory``, sorted; none if it does not exist."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())


def _name_matches(loaded: Loaded[M], name: str, path: YamlPath) -> list[Problem]:
    stem = loaded.doc.source.stem
    if name == stem:
        return []
    msg = (
        f"{path[0]}: name {name!r} must equal the file name {stem!r} (it is how it is referred to)"
    )
    return [Problem(loaded.doc.where(path), msg)]
