"""Hostile content files: every problem is a ContentError naming ``path:line:col`` and
what was expected, never a library exception (a traceback, exit 1 instead of 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from butler_maint.errors import ContentError
from butler_maint.model.checks import Check
from butler_maint.model.config import load_config
from butler_maint.model.yamldoc import (
    MAX_DEPTH,
    Tagged,
    load_data,
    parse_data,
    parse_file,
    parse_text,
)

SRC = Path("doc.yaml")
LOCATED = re.compile(r"^doc\.yaml:\d+:\d+: ")


def error_of(text: str) -> str:
    with pytest.raises(ContentError) as info:
        parse_text(text, SRC)
    message = str(info.value)
    assert LOCATED.match(message), message
    return message


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("a: b\x00\n", "1:5", "a NUL character"),
        ("a: 1\nb: \x01\n", "2:4", "U+0001"),
        ("a: 1\r\nb: x\x1b\n", "2:5", "U+001B"),
        ("a: 1\rb: \x7f\n", "2:4", "U+007F"),
        ("a: [1,\n  \x08]\n", "2:3", "U+0008"),
    ],
)
def test_a_control_character_in_the_file_is_located(text: str, where: str, what: str) -> None:
    message = error_of(text)
    assert message.startswith(f"doc.yaml:{where}: ")
    assert what in message
    assert "expected text" in message


def test_tab_and_line_breaks_are_fine() -> None:
    assert parse_text("a: '1\t'\r\nb: |\n  \tx\rc: 2\n", SRC).data == {
        "a": "1\t",
        "b": "\tx\n",
        "c": "2",
    }


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 600 + "]" * 600 + "\n",
        "a: " + "{b: " * 600 + "}" * 600 + "\n",
        "a:\n" + "".join("  " * d + "- \n" for d in range(1, 300)),
        "a: " + "[" * 5000 + "\n",
    ],
    ids=["flow-seq", "flow-map", "block", "unclosed"],
)
def test_deep_nesting_is_an_error_not_a_recursion_error(text: str) -> None:
    assert f"nesting deeper than {MAX_DEPTH} levels" in error_of(text)


def test_nesting_up_to_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1
    data = parse_text("a: " + "[" * depth + "]" * depth + "\n", SRC).data
    assert isinstance(data["a"], list)


def test_a_file_too_large_or_with_too_many_values() -> None:
    assert "more than 20000 values" in error_of("a: [" + "1, " * 30_000 + "]\n")
    assert error_of("a: '" + "x" * (300 << 10) + "'\n").startswith(
        "doc.yaml:1:1: file larger than 256 KiB"
    )


def test_a_recursive_alias_is_an_error() -> None:
    assert "nesting deeper" in error_of("a: &x [*x]\n")


@pytest.mark.parametrize("escape", ["\\0", "\\x00", "\\u0000", "a\\0b"])
def test_a_nul_escape_is_refused(escape: str) -> None:
    assert "NUL character (\\0) is not allowed" in error_of(f'a: "{escape}"\n')


def test_a_nul_escape_in_a_key_is_refused() -> None:
    assert "NUL character" in error_of('"a\\0": 1\n')


def test_a_lone_surrogate_is_refused() -> None:
    assert "lone surrogate (\\ud800)" in error_of('a: "\\ud800"\n')


def test_an_oversized_explicit_int_is_text_or_an_error() -> None:
    digits = "9" * 5000
    assert parse_text(f"a: !!int {digits}\n", SRC).data == {"a": digits}
    assert "not a valid int" in error_of(f"a: !!int '{digits}'\n")


def test_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_bytes(b"a: 1\nbb: \xff\n")
    with pytest.raises(ContentError, match=r"x\.yaml:2:5: not UTF-8 text"):
        parse_file(bad)


# -- plain data for other readers ------------------------------------------------


def test_parse_data_is_plain_and_strict() -> None:
    assert parse_data("a: yes\nb: [1, 0x10, 1.5]\nc: 2026-01-01\n", SRC) == {
        "a": "yes",
        "b": [1, 16, 1.5],
        "c": "2026-01-01",
    }
    assert parse_data("# nothing\n", SRC) is None
    with pytest.raises(ContentError, match=r"^doc\.yaml:2:1: duplicate key 'a'"):
        parse_data("a: 1\na: 2\n", SRC)
    with pytest.raises(ContentError, match="unsupported tag '!vault'"):
        parse_data("a: !vault x\n", SRC)


def test_parse_data_yaml11_and_application_tags() -> None:
    data = parse_data(
        "a: yes\nb: 2026-01-01\nc: !vault |\n  $ANSIBLE_VAULT;1.1\nd: !unsafe '{{ x }}'\n",
        SRC,
        yaml11=True,
        keep_tags=True,
    )
    assert data["a"] is True
    assert str(data["b"]) == "2026-01-01"
    assert data["c"] == Tagged("!vault", "$ANSIBLE_VAULT;1.1\n")
    assert data["d"] == Tagged("!unsafe", "{{ x }}")
    with pytest.raises(ContentError, match="unsupported tag"):
        parse_data("a: !!python/name:os.system x\n", SRC, keep_tags=True)


def test_load_data_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "approval.yaml"
    path.write_text("by: alice\nat: 2026-11-28T10:00:00Z\n")
    assert load_data(path) == {"by": "alice", "at": "2026-11-28T10:00:00Z"}
    path.write_bytes(b"by: \x00\n")
    with pytest.raises(ContentError, match=r"approval\.yaml:1:5: a NUL character"):
        load_data(path)


# -- content files ---------------------------------------------------------------


def test_a_control_character_in_butler_yaml(tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text("forks: 20\ninventory: x\x02\n")
    with pytest.raises(ContentError, match=r"butler\.yaml:2:13: the control character U\+0002"):
        load_config(tmp_path)


def test_a_path_the_filesystem_cannot_hold(tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text(f"inventory: {'x' * 300}.yml\n")
    with pytest.raises(ContentError, match=r"butler\.yaml:1:1: inventory: expected a file path"):
        load_config(tmp_path)


def test_nul_is_refused_in_every_text_field() -> None:
    with pytest.raises(ValidationError, match="NUL character"):
        Check.model_validate({"id": "c", "command": {"run": "echo a\x00b"}})
