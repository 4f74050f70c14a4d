"""The YAML reader: safe tags, duplicate keys, alias bombs, YAML 1.1 surprises, marks."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from butler_maint.errors import ContentError
from butler_maint.model.yamldoc import PlainStr, parse_text, resolve_plain, resolve_tree

SRC = Path("doc.yaml")

BILLION_LAUGHS = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)


def error_of(text: str) -> str:
    with pytest.raises(ContentError) as info:
        parse_text(text, SRC)
    return str(info.value)


def test_plain_scalars_keep_their_text() -> None:
    data = parse_text("a: no\nb: on\nc: 1.10\nd: 0644\ne: 'quoted'\n", SRC).data
    assert data == {"a": "no", "b": "on", "c": "1.10", "d": "0644", "e": "quoted"}
    assert isinstance(data["a"], PlainStr)
    assert not isinstance(data["e"], PlainStr)


def test_nulls_are_none() -> None:
    assert parse_text("a:\nb: ~\nc: null\n", SRC).data == {"a": None, "b": None, "c": None}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("12", 12),
        ("-3", -3),
        ("0x1f", 31),
        ("0o17", 15),
        ("1.10", 1.1),
        ("1e3", 1000.0),
        ("no", "no"),
        ("on", "on"),
        ("0644", "0644"),
        ("yes", "yes"),
        ("-.inf", float("-inf")),
    ],
)
def test_free_values_resolve_by_yaml_12(text: str, value: object) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


def test_resolve_tree_recurses() -> None:
    data = parse_text("v: {n: 3, l: [no, 2.5], s: '4'}\n", SRC).data
    assert resolve_tree(data["v"]) == {"n": 3, "l": ["no", 2.5], "s": "4"}


def test_duplicate_key_names_its_line() -> None:
    assert error_of("checks:\n  - id: a\n    id: b\n") == "doc.yaml:3:5: duplicate key 'id'"


def test_python_tag_is_rejected() -> None:
    msg = error_of("x: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    assert msg.startswith("doc.yaml:1:4: unsupported tag")
    assert "python/object/apply:os.system" in msg


def test_custom_tag_is_rejected() -> None:
    assert "unsupported tag '!vault'" in error_of("x: !vault abc\n")


def test_explicit_core_tags() -> None:
    assert parse_text("a: !!str 1.10\nb: !!int '7'\n", SRC).data == {"a": "1.10", "b": 7}
    assert "not a valid int" in error_of("a: !!int 'x'\n")


def test_syntax_error_has_position() -> None:
    assert error_of("a: [1, 2\nb: 3\n").startswith("doc.yaml:2:")


def test_alias_bomb_is_rejected_without_expanding_it() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    msg = error_of(BILLION_LAUGHS)
    assert "alias bomb" in msg
    assert msg.startswith("doc.yaml:")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_merge_keys_and_override() -> None:
    doc = parse_text("base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n", SRC)
    assert doc.data["c"] == {"x": "1", "y": "3"}


def test_marks_point_at_keys_and_items() -> None:
    doc = parse_text("checks:\n  - id: a\n    disk: {path: /}\n", SRC)
    assert str(doc.where(("checks", 0, "disk", "path"))) == "doc.yaml:3:12"
    assert str(doc.where(("checks", 0, "nope", "deeper"))) == "doc.yaml:2:5"


def test_empty_document_is_none() -> None:
    assert parse_text("# only a comment\n", SRC).data is None


def test_non_utf8_file(tmp_path: Path) -> None:
    from butler_maint.model.yamldoc import parse_file

    bad = tmp_path / "x.yaml"
    bad.write_bytes(b"a: \xff\n")
    with pytest.raises(ContentError, match="not UTF-8"):
        parse_file(bad)
