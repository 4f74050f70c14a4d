"""The one YAML reader of butler-maint: safe, strict, and aware of where every value is.

Rules (see the README, "Content files"):
- only the core tags; any other tag (``!!python/object``, ``!vault``...) is an error;
- duplicate keys in a mapping are an error (merge keys ``<<`` may be overridden);
- plain scalars stay text until a model field asks for a type: ``no``, ``on`` or
  ``1.10`` in a string field arrive as the string written, never as a bool or float;
  free-form values (``vars``) resolve plain scalars by YAML 1.2 core rules;
- a document whose aliases expand past ``MAX_NODES`` nodes is rejected at once
  (billion laughs) without ever being expanded in memory.
Every node's position is kept by its path, so errors name ``path:line:col``.
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
MAX_DEPTH = 64
MAX_BYTES = 16 * 1024 * 1024

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


class PlainStr(str):
    """The text of a plain (unquoted) scalar; models give it a type field by field."""

    __slots__ = ()


def resolve_plain(text: str) -> Any:
    """Resolve a plain scalar the YAML 1.2 core way (``yes`` and ``0644`` stay strings)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _DEC.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in _INF:
        return _INF[text.lower()]
    return str(text)


def resolve_tree(value: Any) -> Any:
    """Resolve every plain scalar inside a free-form value (lists and mappings)."""
    if isinstance(value, PlainStr):
        return resolve_plain(value)
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


class _Builder:
    """Turns a composed node graph into plain data, recording marks and size."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.marks: dict[YamlPath, tuple[int, int]] = {}
        self.count = 0

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
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                raise self.fail(node, f"unsupported tag {node.tag!r}: only plain YAML is allowed")
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        text: str = node.value
        if node.tag == _TAG + "null":
            return None
        if node.tag == _TAG + "str":
            return text
        if node.style is None and node.tag in _PLAIN_TYPES:
            return PlainStr(text)  # typed later, by the field that receives it
        if node.tag in _PLAIN_TYPES - {_TAG + "timestamp"}:
            value = resolve_plain(text)
            if isinstance(value, str):
                raise self.fail(node, f"{text!r} is not a valid {node.tag[len(_TAG) :]}")
            return value
        raise self.fail(node, f"unsupported tag {node.tag!r}: only plain YAML data is allowed")

    def mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise self.fail(node, f"unsupported tag {node.tag!r}: only plain YAML is allowed")
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merged.update(self.merge(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain strings")
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


class _Composer(yaml.SafeLoader):
    """SafeLoader used only to compose nodes; construction is ours."""


def parse_text(text: str, source: Path) -> YamlDoc:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    if len(text) > MAX_BYTES:
        raise ContentError.at(Location(source), f"file larger than {MAX_BYTES} bytes")
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        raise ContentError.at(where, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ContentError.at(Location(source), f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None:
        return YamlDoc(source, None, {})
    builder = _Builder(source)
    data = builder.build(node, ())
    return YamlDoc(source, data, builder.marks)


def parse_file(path: Path) -> YamlDoc:
    """Read and parse a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError.at(Location(path), f"not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise ContentError.at(Location(path), f"cannot read: {exc.strerror}") from None
    return parse_text(text, path)
