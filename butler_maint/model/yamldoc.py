"""The one YAML reader of butler-maint: safe, strict, and aware of where every value is.

Rules (see the README, "Content files"):
- only the core tags; any other tag (``!!python/object``, ``!vault``...) is an error;
- duplicate keys in a mapping are an error (merge keys ``<<`` may be overridden);
- plain scalars stay text until a model field asks for a type: ``no``, ``on`` or
  ``1.10`` in a string field arrive as the string written, never as a bool or float;
  free-form values (``vars``) resolve plain scalars by YAML 1.2 core rules;
- a document whose aliases expand past ``MAX_NODES`` nodes is rejected at once
  (billion laughs) without ever being expanded in memory;
- nesting deeper than ``MAX_DEPTH`` levels is an error, found while composing (before
  Python's recursion limit could be reached);
- a control character (other than tab and line breaks) written in the file, and a NUL
  or a lone surrogate written as an escape (``"\\0"``, ``"\\ud800"``), are errors: no
  host command, path or pattern can carry them (a shell drops a NUL).
Every node's position is kept by its path, so errors name ``path:line:col``; every
failure of the reader is a ``ContentError`` with one, never a library exception.

``parse_text``/``parse_file`` read content files for the models. ``parse_data``/
``load_data`` read any other small YAML file the same safe, strict way and return
plain data (optionally YAML 1.1 scalars, as Ansible reads them, and application tags
such as ``!vault`` kept as ``Tagged``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from butler_maint.errors import ContentError, Location

MAX_NODES = 100_000
MAX_WRITTEN = 20_000
"""Most values (nodes) a file may hold as written, before aliases expand."""
MAX_DEPTH = 64
MAX_BYTES = 256 << 10
"""Largest content file (256 KiB, far more than any checklist needs): reading one costs
well under a second."""

YamlPath = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_DEC = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+)")
_INF = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf")}
_PLAIN_TYPES = {_TAG + t for t in ("bool", "int", "float", "timestamp")}
_CONTROL = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UNCARRIED = re.compile("[\x00\ud800-\udfff]")
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


class PlainStr(str):
    """The text of a plain (unquoted) scalar; models give it a type field by field."""

    __slots__ = ()


def resolve_plain(text: str) -> Any:
    """Resolve a plain scalar the YAML 1.2 core way (``yes`` and ``0644`` stay strings)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    try:
        if _DEC.fullmatch(text):
            return int(text)
        if _OCT.fullmatch(text):
            return int(text[2:], 8)
        if _HEX.fullmatch(text):
            return int(text[2:], 16)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return str(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in _INF:
        return _INF[text.lower()]
    return str(text)


def resolve_tree(value: Any) -> Any:
    """Resolve every plain scalar inside a free-form value (lists and mappings)."""
    if isinstance(value, PlainStr):
        return resolve_plain(value)
    if isinstance(value, Tagged):
        return Tagged(value.tag, resolve_tree(value.value))
    if isinstance(value, list):
        return [resolve_tree(v) for v in value]
    if isinstance(value, Mapping):
        return {k: resolve_tree(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class YamlDoc:
    """A parsed document: plain data plus the position of every node by its path."""

    source: Path
    data: Any
    marks: dict[YamlPath, tuple[int, int]] = field(repr=False)

    def where(self, path: YamlPath) -> Location:
        """Locate ``path``, or the closest enclosing node that has a position."""
        for cut in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:cut]))
            if mark is not None:
                return Location(self.source, mark[0], mark[1])
        return Location(self.source, 1, 1)


@dataclass(frozen=True)
class Tagged:
    """A node with an application tag (``!vault``, ``!unsafe``...), kept as written."""

    tag: str
    value: Any


@dataclass(frozen=True)
class _Options:
    """How ``_Builder`` types scalars: YAML 1.1 (as Ansible) and application tags."""

    yaml11: bool = False
    keep_tags: bool = False


class _Builder:
    """Turns a composed node graph into plain data, recording marks and size."""

    def __init__(self, source: Path, options: _Options = _Options()) -> None:
        self.source = source
        self.options = options
        self.marks: dict[YamlPath, tuple[int, int]] = {}
        self.count = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: Node, message: str) -> ContentError:
        mark = node.start_mark
        return ContentError.at(Location(self.source, mark.line + 1, mark.column + 1), message)

    def build(self, node: Node, path: YamlPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_NODES} nodes through aliases "
                "(alias bomb?); refusing to load it",
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(node, _too_deep())
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if self.options.keep_tags and node.tag.startswith("!"):
            return Tagged(node.tag, self.build(_untagged(node), path))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                raise self.fail(node, _unsupported(node.tag))
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        text: str = node.value
        if (bad := _UNCARRIED.search(text)) is not None:
            raise self.fail(node, _uncarried(bad.group()))
        if node.tag == _TAG + "null":
            return None
        if node.tag == _TAG + "str":
            return text
        if self.options.yaml11 and node.tag in _PLAIN_TYPES:
            return self.construct11(node)
        if node.style is None and node.tag in _PLAIN_TYPES:
            return PlainStr(text)  # typed later, by the field that receives it
        if node.tag in _PLAIN_TYPES - {_TAG + "timestamp"}:
            value = resolve_plain(text)
            if isinstance(value, str):
                raise self.fail(node, f"{text!r} is not a valid {node.tag[len(_TAG) :]}")
            return value
        raise self.fail(node, _unsupported(node.tag))

    def construct11(self, node: ScalarNode) -> Any:
        """A scalar typed the YAML 1.1 way (``yes`` is true, dates are dates)."""
        construct = self._constructor.yaml_constructors[node.tag]
        try:
            return construct(self._constructor, node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            kind = node.tag[len(_TAG) :]
            raise self.fail(node, f"{node.value!r} is not a valid {kind}") from None

    def mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise self.fail(node, _unsupported(node.tag))
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merged.update(self.merge(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain strings")
            if (bad := _UNCARRIED.search(key_node.value)) is not None:
                raise self.fail(key_node, _uncarried(bad.group()))
            key = str(key_node.value)
            if key in result:
                raise self.fail(key_node, f"duplicate key {key!r}")
            self.marks[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*path, key))
        return {**{k: v for k, v in merged.items() if k not in result}, **result}

    def merge(self, node: Node, path: YamlPath) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise self.fail(source, "a merge key (<<) needs a mapping or a list of mappings")
            merged.update(self.mapping(source, path))
        return merged


def _untagged(node: Node) -> Node:
    """``node`` with the core tag of its kind, for the value inside a ``Tagged``."""
    kind = {ScalarNode: "str", SequenceNode: "seq", MappingNode: "map"}[type(node)]
    return type(node)(_TAG + kind, node.value, node.start_mark, node.end_mark)


def _unsupported(tag: str) -> str:
    return f"unsupported tag {tag!r}: only plain YAML data is allowed"


def _too_deep() -> str:
    return f"nesting deeper than {MAX_DEPTH} levels (expected at most {MAX_DEPTH})"


def _uncarried(char: str) -> str:
    if char == "\0":
        return (
            "a NUL character (\\0) is not allowed: no host command, path or pattern can "
            "carry it (a shell drops it); expected text without it"
        )
    return f"a lone surrogate (\\u{ord(char):04x}) is not a character; expected valid Unicode text"


class _TooBig(Exception):
    """Raised by ``_Composer`` at the first node past ``MAX_DEPTH`` or ``MAX_WRITTEN``."""

    def __init__(self, mark: yaml.error.Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark


class _Composer(yaml.SafeLoader):
    """SafeLoader used only to compose nodes (construction is ours). Depth and size are
    limited as it goes: a deep document is an error, never a RecursionError, and a huge
    one stops early."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._written = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        self._written += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                raise _TooBig(self.peek_event().start_mark, _too_deep())  # type: ignore[no-untyped-call]
            if self._written > MAX_WRITTEN:
                message = f"more than {MAX_WRITTEN} values; expected a smaller file"
                raise _TooBig(self.peek_event().start_mark, message)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``, counting breaks as YAML does."""
    before = text[:offset]
    breaks = list(_BREAK.finditer(before))
    line_start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, offset - line_start + 1


def _refuse_control(text: str, source: Path) -> None:
    """A control character written in the file: an error naming where it is."""
    found = _CONTROL.search(text)
    if found is None:
        return
    line, col = _position(text, found.start())
    char = found.group()
    if char == "\0":
        message = "a NUL character is not allowed in a YAML file; expected text (a binary file?)"
    else:
        message = (
            f"the control character U+{ord(char):04X} is not allowed in a YAML file; expected "
            "text (tab and line breaks are the only control characters; write others as "
            'escapes in double quotes, "\\x1b")'
        )
    raise ContentError.at(Location(source, line, col), message)


def _compose(text: str, source: Path) -> Node | None:
    """The node graph of the one document in ``text``; ContentError on any problem."""
    _refuse_control(text, source)
    loader: _Composer | None = None
    try:
        loader = _Composer(text)
        return loader.get_single_node()
    except _TooBig as exc:
        where = Location(source, exc.mark.line + 1, exc.mark.column + 1)
        raise ContentError.at(where, str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 1, 1)
        raise ContentError.at(where, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        raise ContentError.at(Location(source, line, col), f"invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise ContentError.at(Location(source, 1, 1), f"invalid YAML: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth limit stops well before
        raise ContentError.at(Location(source, 1, 1), _too_deep()) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_size(size: int, source: Path) -> None:
    if size > MAX_BYTES:
        raise ContentError.at(
            Location(source, 1, 1),
            f"file larger than {MAX_BYTES >> 10} KiB; expected a smaller file",
        )


def parse_text(text: str, source: Path) -> YamlDoc:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    _check_size(len(text), source)
    node = _compose(text, source)
    if node is None:
        return YamlDoc(source, None, {})
    builder = _Builder(source)
    data = builder.build(node, ())
    return YamlDoc(source, data, builder.marks)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; ContentError (with line:col when it is the encoding)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError.at(Location(path), f"cannot read: {exc.strerror}") from None
    _check_size(len(data), path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ContentError.at(
            Location(path, line, col), f"not UTF-8 text: {exc.reason}; expected UTF-8"
        ) from None


def parse_file(path: Path) -> YamlDoc:
    """Read and parse a YAML file."""
    return parse_text(read_text(path), path)


def parse_data(text: str, source: Path, *, yaml11: bool = False, keep_tags: bool = False) -> Any:
    """Plain data of one small YAML document (None when empty), read as content is:
    safe, duplicate keys refused, every error a ContentError naming ``path:line:col``.

    Plain scalars resolve by YAML 1.2 core rules, or with ``yaml11`` the way PyYAML's
    SafeLoader and Ansible read them (``yes`` is true, dates are ``date``s).
    ``keep_tags`` keeps application tags (``!vault``) as ``Tagged`` instead of
    refusing them.
    """
    _check_size(len(text), source)
    node = _compose(text, source)
    if node is None:
        return None
    data = _Builder(source, _Options(yaml11=yaml11, keep_tags=keep_tags)).build(node, ())
    return data if yaml11 else resolve_tree(data)


def load_data(path: Path, *, yaml11: bool = False, keep_tags: bool = False) -> Any:
    """``parse_data`` of a file's text."""
    return parse_data(read_text(path), path, yaml11=yaml11, keep_tags=keep_tags)
