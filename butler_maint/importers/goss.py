"""``import goss``: a goss file (goss.yaml) translated into a butler-maint checklist.

The goss file is read by the one strict YAML reader (safe, duplicate keys refused,
``path:line:col`` on errors); a file still holding goss's Go templates is refused with
the hint to ``goss render`` it first. Each resource goes to its translator
(``goss_resources``); goss's ``skip: true`` becomes ``when: "false"`` and ``title``
the check's title. Every key that could not be translated, in whole or in part, is a
``Note`` (``file:line: key: why``), listed at the head of the checklist as comments and
again above the checks it concerns. The text is validated as a checklist before it is
returned: an import never yields a file ``validate`` would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from butler_maint.errors import ContentError, Location
from butler_maint.importers.goss_entry import Body, Entry, Note
from butler_maint.importers.goss_resources import TRANSLATORS, UNSUPPORTED
from butler_maint.model.base import is_template, validate_doc
from butler_maint.model.checklist import NAME, Checklist
from butler_maint.model.checks import CHECK_ID
from butler_maint.model.yamldoc import YamlDoc, parse_text, read_text

_ID_LEN = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_GO_TEMPLATE = re.compile(r"{{-?\s*(range|if|end|with|define|template|\.|\$)")


@dataclass(frozen=True)
class Translated:
    """One check of the checklist and the notes of the goss entry it came from."""

    check: Body
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class GossImport:
    """The checklist text, its checks, and every note taken."""

    text: str
    checks: tuple[Translated, ...]
    notes: tuple[Note, ...]


def import_goss(
    source: Path, name: str, hosts: str = "all", shown: str | None = None
) -> GossImport:
    """Translate the goss file ``source`` into checklist ``name`` for ``hosts``."""
    label = shown or str(source)
    doc = _read(source, label)
    notes: list[Note] = []
    checks: list[Translated] = []
    ids: set[str] = set()
    for kind, resources in doc.data.items():
        for entry in _entries(doc, label, kind, resources, notes):
            drafts = TRANSLATORS[entry.kind](entry)
            common = _common(entry)
            notes += entry.notes
            for draft in drafts:
                body = {"id": _unique_id(draft.id, ids), **common, **draft.body}
                own = tuple(sorted(entry.notes, key=lambda n: n.line))
                checks.append(Translated(body, own))
    notes.sort(key=lambda n: n.line)
    if not checks:
        problems = "; ".join(str(n) for n in notes[:5]) or "it is empty"
        raise ContentError.at(Location(label, 1, 1), f"nothing to translate: {problems}")
    text = _emit(name, hosts, label, checks, notes)
    _validate(text, name)
    return GossImport(text, tuple(checks), tuple(notes))


def _read(source: Path, label: str) -> YamlDoc:
    text = read_text(source)
    try:
        doc = parse_text(text, Path(label))
    except ContentError as exc:
        if _GO_TEMPLATE.search(text):
            raise ContentError.at(
                Location(label, 1, 1),
                "holds goss templates ({{ ... }}): render it first "
                "(`goss --vars VARS render > rendered.yaml`) and import that",
            ) from exc
        raise
    if not isinstance(doc.data, dict):
        raise ContentError.at(doc.where(()), "expected a goss file: a mapping of resource types")
    return doc


def _entries(doc: YamlDoc, label: str, kind: str, resources: Any, notes: list[Note]) -> list[Entry]:
    line = doc.where((kind,)).line
    if kind not in TRANSLATORS:
        why = UNSUPPORTED.get(kind, "not a goss resource type butler-maint knows; left out")
        notes.append(Note(label, line, kind, why))
        return []
    if not isinstance(resources, dict):
        notes.append(Note(label, line, kind, "expected a mapping of resources; left out"))
        return []
    entries = []
    for key, attrs in resources.items():
        entry = Entry(doc, label, kind, str(key), attrs if isinstance(attrs, dict) else {})
        if attrs is not None and not isinstance(attrs, dict):
            entry.note("expected a mapping of attributes; left out")
        elif is_template(entry.key):
            entry.note("holds a goss template ({{ }}): render the file with `goss render` first")
        else:
            entries.append(entry)
            continue
        notes += entry.notes
    return entries


def _common(entry: Entry) -> Body:
    """The check fields of goss's common attributes: ``title`` and ``skip``."""
    body: Body = {}
    title = entry.text("title")
    if title:
        body["title"] = title
    if entry.flag("skip"):
        body["when"] = "false"
    if entry.given("meta"):
        entry.note("free-form metadata has no place in a check; left out", "meta")
    return body


def _unique_id(hint: str, ids: set[str]) -> str:
    base = _UNSAFE.sub("-", hint.replace("/", "-"))
    base = re.sub("-{2,}", "-", base).strip("-._")[:_ID_LEN] or "goss"
    candidate, n = base, 1
    while candidate in ids or not re.match(CHECK_ID, candidate):
        n += 1
        suffix = f"-{n}"
        candidate = base[: _ID_LEN - len(suffix)] + suffix
    ids.add(candidate)
    return candidate


def _comment(text: str) -> str:
    """One YAML comment line (no line break can end it early)."""
    return "# " + " ".join(text.split())


def _emit(name: str, hosts: str, label: str, checks: list[Translated], notes: list[Note]) -> str:
    head = [
        _comment(f"Imported from the goss file {label} by `butler-maint import goss`."),
        _comment("Review it before use: goss and butler-maint differ where the notes say."),
    ]
    if notes:
        head.append(_comment(f"Not translated, or only in part ({len(notes)}):"))
        head += [_comment(f"  {note}") for note in notes]
    document = {"checklist": name, "title": f"Imported from {Path(label).name}", "hosts": hosts}
    lines = [*head, _dump(document).rstrip("\n"), "checks:"]
    shown: set[tuple[Note, ...]] = set()
    for item in checks:
        if item.notes and item.notes not in shown:
            shown.add(item.notes)
            lines += [_indent(_comment(str(note))) for note in item.notes]
        lines += [_indent(line) for line in _dump([item.check]).rstrip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def _indent(line: str) -> str:
    return "  " + line


def _dump(data: object) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )


def _validate(text: str, name: str) -> None:
    """Refuse to hand out a checklist the loader would refuse (a translator's bug)."""
    if not re.match(NAME, name):
        raise ContentError.at(
            Location(f"{name}.yaml"),
            f"checklist name {name!r}: expected letters, digits, '_', '.' or '-' "
            "(at most 64, starting with a letter or digit)",
        )
    validate_doc(Checklist, parse_text(text, Path(f"{name}.yaml")))


__all__ = ["GossImport", "Note", "import_goss"]
