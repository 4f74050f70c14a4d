"""The report's YAML: a deterministic writer and a strict, fast reader.

The writer emits one fixed layout (2-space block style; scalar-only mappings and lists
as one flow line; strings plain only when they cannot be read back as anything else,
otherwise double-quoted with escapes). ``render(load(text)) == text`` for every report
written, which lets ``verify`` detect any byte changed in a file.

The reader walks libyaml's parse events (the C parser; the node graph and the
Python constructor are what make ``yaml.safe_load`` slow) and accepts only what the
writer can produce: one document, no tags, anchors, aliases, merge keys, duplicate keys
or timestamps; plain scalars resolve by PyYAML's safe rules.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml import events

from butler_maint.evidence.errors import ReportFormatError

FLOW_MAX = 200
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/@]*\Z")
_WORDS = {
    *(w for base in ("yes", "no", "true", "false", "on", "off", "null")
      for w in (base, base.capitalize(), base.upper())),
}  # fmt: skip
_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]')
_NAMED = {"\n": "\\n", "\t": "\\t", '"': '\\"', "\\": "\\\\"}
_Parser = getattr(yaml, "CBaseLoader", None)  # libyaml parser; events only


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def scalar(value: Any) -> str:
    """Render one scalar so that the reader returns exactly ``value``."""
    if isinstance(value, str):
        if _PLAIN.match(value) and value not in _WORDS:
            return value
        return '"' + _ESCAPE.sub(_escape, value) + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"cannot render {type(value).__name__} in a report")


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("reports hold finite numbers only")
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)  # PyYAML reads "1e+20" as a string
    return text


class Renderer:
    """Renders report documents; remembers rendered strings (hosts, checks repeat)."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def render(self, document: dict[str, Any]) -> str:
        """Render a report document (a mapping of JSON-like values) as YAML text."""
        out: list[str] = []
        self._mapping(document, 0, out)
        return "\n".join(out) + "\n"

    def scalar(self, value: Any) -> str:
        """``scalar(value)``, memoised for strings."""
        if type(value) is str:
            try:
                return self._strings[value]
            except KeyError:
                text = self._strings[value] = scalar(value)
                return text
        return scalar(value)

    def _flow(self, value: Any) -> str | None:
        """One-line form of a mapping or list of scalars, or None when it would not fit."""
        s = self.scalar
        if isinstance(value, dict):
            if any(isinstance(v, (dict, list)) for v in value.values()):
                return None
            text = "{" + ", ".join([f"{s(k)}: {s(v)}" for k, v in value.items()]) + "}"
        else:
            if any(isinstance(v, (dict, list)) for v in value):
                return None
            text = "[" + ", ".join([s(v) for v in value]) + "]"
        return text if len(text) <= FLOW_MAX or not value else None

    def _node(self, value: Any, indent: int, prefix: str, out: list[str]) -> None:
        """Append ``prefix`` followed by ``value`` (nested blocks at ``indent``)."""
        if not isinstance(value, (dict, list)):
            out.append(f"{prefix} {self.scalar(value)}")
            return
        flow = self._flow(value)
        if flow is not None:
            out.append(f"{prefix} {flow}" if prefix else flow)
            return
        if prefix:
            out.append(prefix)
        if isinstance(value, dict):
            self._mapping(value, indent, out)
        else:
            self._sequence(value, indent, out)

    def _mapping(self, value: dict[str, Any], indent: int, out: list[str]) -> None:
        pad = " " * indent
        for key, item in value.items():
            self._node(item, indent + 2, f"{pad}{self.scalar(key)}:", out)

    def _sequence(self, value: list[Any], indent: int, out: list[str]) -> None:
        pad = " " * indent
        for item in value:
            flow = self._flow(item) if isinstance(item, (dict, list)) else None
            if flow is not None:
                out.append(f"{pad}- {flow}")
            elif isinstance(item, dict):
                start = len(out)
                self._mapping(item, indent + 2, out)
                out[start] = f"{pad}- {out[start][indent + 2 :]}"
            else:
                self._node(item, indent + 2, f"{pad}-", out)


def render(document: dict[str, Any]) -> str:
    """Render a report document as YAML text (see ``Renderer``)."""
    return Renderer().render(document)


class Reader:
    """Strict reader of report YAML; keeps a cache of plain scalars across files."""

    def __init__(self) -> None:
        self._plain: dict[str, Any] = {}
        self._resolver = yaml.resolver.Resolver()
        self._constructor = yaml.constructor.SafeConstructor()

    def load(self, data: bytes | str) -> Any:
        """Parse one YAML document, or raise ReportFormatError saying why not."""
        if _Parser is None:  # pragma: no cover - PyYAML built without libyaml
            return self._load_events(yaml.BaseLoader(data))
        return self._load_events(_Parser(data))

    def _load_events(self, parser: Any) -> Any:
        try:
            return _Builder(self).run(parser)
        except yaml.YAMLError as exc:
            raise ReportFormatError(f"not valid YAML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ReportFormatError(f"not UTF-8 text: {exc}") from None
        finally:
            parser.dispose()

    def plain(self, text: str, line: int) -> Any:
        """The value of a plain scalar, by PyYAML's safe resolution rules."""
        try:
            return self._plain[text]
        except KeyError:
            pass
        resolve = self._resolver.resolve
        tag = resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        node = yaml.ScalarNode(tag, text)
        value = self._construct(node, line)
        self._plain[text] = value
        return value

    def _construct(self, node: yaml.ScalarNode, line: int) -> Any:
        kind = node.tag.rsplit(":", 1)[-1]
        if kind == "str":
            return node.value
        if kind == "null":
            return None
        if kind == "bool":
            return self._constructor.construct_yaml_bool(node)
        if kind == "int":
            return self._constructor.construct_yaml_int(node)
        if kind == "float":
            value = self._constructor.construct_yaml_float(node)
            if math.isfinite(value):
                return value
        raise ReportFormatError(f"line {line}: unsupported value {node.value!r}")


class _Builder:
    """Builds Python values from parse events (one document, no tags or aliases).

    One flat loop: this is the hot path of ``report verify``.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def run(self, parser: Any) -> Any:
        get, plain = parser.get_event, self.reader.plain
        stack: list[Any] = []
        keys: list[Any] = []
        root: Any = None
        documents = 0
        while True:
            event = get()
            kind = type(event)
            if kind is _SCALAR or kind is _MAP_START or kind is _SEQ_START:
                if event.anchor is not None or event.tag is not None:
                    raise ReportFormatError(
                        f"line {_line(event)}: tags and anchors are not allowed"
                    )
                if kind is _SCALAR:
                    value = event.value if event.style else plain(event.value, _line(event))
                else:
                    value = {} if kind is _MAP_START else []
                if not stack:
                    root = value
                elif type(top := stack[-1]) is list:
                    top.append(value)
                elif (key := keys[-1]) is _NO_KEY:
                    keys[-1] = _key(top, value, event)
                else:
                    top[key] = value
                    keys[-1] = _NO_KEY
                if kind is not _SCALAR:
                    stack.append(value)
                    keys.append(_NO_KEY)
            elif kind is _MAP_END or kind is _SEQ_END:
                stack.pop()
                keys.pop()
            elif kind is events.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise ReportFormatError("more than one YAML document")
            elif kind is events.StreamEndEvent:
                return root
            elif kind is events.AliasEvent:
                raise ReportFormatError(f"line {_line(event)}: aliases are not allowed")


def _key(top: dict[str, Any], key: Any, event: Any) -> str:
    if not isinstance(key, str):
        raise ReportFormatError(f"line {_line(event)}: keys must be strings")
    if key in top:
        raise ReportFormatError(f"line {_line(event)}: duplicate key {key!r}")
    return key


_SCALAR, _MAP_START, _SEQ_START = (
    events.ScalarEvent,
    events.MappingStartEvent,
    events.SequenceStartEvent,
)
_MAP_END, _SEQ_END = events.MappingEndEvent, events.SequenceEndEvent
_NO_KEY = object()


def _line(event: Any) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0
