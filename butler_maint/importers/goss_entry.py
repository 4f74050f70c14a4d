"""One goss resource (``kind: {key: {attribute: value}}``) as the translators read it.

An ``Entry`` hands out its attributes typed (a flag, a text, a number, patterns) and
records a ``Note`` naming ``file:line`` and the goss key for every value it cannot
take: a matcher where a plain value is needed, a goss template, a wrong type. What a
translator never asks for is left over, and ``leftovers`` notes it too: no goss key is
dropped without a line saying so. Notes name keys, never values (a goss file may hold
passwords).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from butler_maint.importers.patterns import Pattern, parse_pattern
from butler_maint.model.base import is_template
from butler_maint.model.yamldoc import YamlDoc, resolve_tree

_TRUE = {True, "yes", "on", "y"}
_FALSE = {False, "no", "off", "n"}
_UNSET: tuple[object, ...] = (None, "", [], {})
COMMON = frozenset({"skip", "title", "meta"})
"""Attributes every goss resource may carry, handled by the importer itself."""


@dataclass(frozen=True)
class Note:
    """A goss key that was not translated (or only in part), and why."""

    file: str
    line: int
    key: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.why}"


Body = dict[str, Any]


@dataclass(frozen=True)
class Draft:
    """One check translated from an entry: an id suggestion and its type key + spec."""

    id: str
    body: Body


@dataclass
class Entry:
    """One goss resource, its attributes, and the notes taken while translating it."""

    doc: YamlDoc
    shown: str
    kind: str
    key: str
    attrs: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def note(self, why: str, attr: str | None = None) -> None:
        """Record that ``attr`` (or the whole entry) was not translated, and why."""
        path: tuple[str, ...] = (self.kind, self.key, *((attr,) if attr else ()))
        line = self.doc.where(path).line
        self.notes.append(Note(self.shown, line, ".".join(path), why))

    def value(self, attr: str) -> Any:
        """The attribute's value (scalars typed the YAML 1.2 way), marked as used."""
        self.used.add(attr)
        return resolve_tree(self.attrs.get(attr))

    def given(self, attr: str) -> bool:
        """Whether the attribute is there with a value that asks for something."""
        return self.attrs.get(attr) not in _UNSET

    def flag(self, attr: str) -> bool | None:
        """A true/false attribute; None when absent or not a flag (noted)."""
        value = self.value(attr)
        if value is None:
            return None
        lowered = value.lower() if isinstance(value, str) else value
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        self.note(self._shape(value, "true or false"), attr)
        return None

    def text(self, attr: str, default: str | None = None) -> str | None:
        """A plain text attribute; None when absent, a matcher or a template (noted)."""
        value = self.value(attr)
        if value is None:
            return default
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            if is_template(str(value)):
                self.note(_TEMPLATE, attr)
                return None
            return str(value)
        self.note(self._shape(value, "a plain value"), attr)
        return None

    def integer(self, attr: str) -> int | None:
        """A whole-number attribute; None when absent or anything else (noted)."""
        value = self.value(attr)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.note(self._shape(value, "a whole number"), attr)
        return None

    def texts(self, attr: str) -> list[str] | None:
        """A list of plain texts (one text counts as a list of one), or None (noted)."""
        value = self.value(attr)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in items):
            if any(is_template(str(v)) for v in items):
                self.note(_TEMPLATE, attr)
                return None
            return [str(v) for v in items]
        self.note(self._shape(value, "a list of plain values"), attr)
        return None

    def patterns(self, attr: str) -> list[Pattern] | None:
        """goss line patterns (a list, or one text); None when absent or a matcher."""
        items = self.texts(attr)
        if items is None:
            return None
        multi_line = [p for p in items if "\n" in p.strip("\n")]
        if multi_line:
            self.note("a pattern spanning several lines; checks match line by line", attr)
            return None
        return [parse_pattern(p.strip("\n")) for p in items]

    def leftovers(self, reasons: dict[str, str], default: str = "") -> None:
        """Note every attribute no translator used (defaults and empty values aside)."""
        for attr in self.attrs:
            if attr in self.used or attr in COMMON or not self.given(attr):
                continue
            if self.attrs[attr] is False or str(self.attrs[attr]).lower() == "false":
                continue
            why = reasons.get(attr) or default or "no butler-maint equivalent; left out"
            self.note(why, attr)
            self.used.add(attr)

    def _shape(self, value: object, wanted: str) -> str:
        if isinstance(value, dict):
            names = ", ".join(sorted(str(k) for k in value))
            return f"goss matcher ({names}) where butler-maint needs {wanted}; left out"
        if isinstance(value, list):
            return f"a list where butler-maint needs {wanted}; left out"
        return f"expected {wanted}; left out"


_TEMPLATE = "holds a goss template ({{ }}): render the file with `goss render` first; left out"
