"""The report YAML writer and strict reader: exact round trips, strict rejection."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from butler_maint.evidence.errors import ReportFormatError
from butler_maint.evidence.yamlio import Reader, render, scalar

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.sampled_from(["yes", "No", "on", "null", "~", "1.0", "0x1f", "1:20", "2026-01-01", "<<"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_text, _values, min_size=1, max_size=6))
def test_round_trip_is_exact(doc: dict[str, Any]) -> None:
    text = render(doc)
    assert Reader().load(text.encode()) == doc
    assert yaml.safe_load(text) == doc  # any YAML reader sees the same values
    assert render(Reader().load(text.encode())) == text


@pytest.mark.parametrize(
    "value", ["yes", "NO", "null", "~", "", "12", "1.5", "1e3", "2026-01-01", "a: b", "#x", "<<"]
)
def test_ambiguous_strings_are_quoted(value: str) -> None:
    assert scalar(value).startswith('"')
    assert yaml.safe_load(f"k: {scalar(value)}") == {"k": value}


def test_plain_strings_stay_plain() -> None:
    assert scalar("web01.example.com") == "web01.example.com"
    assert scalar(1e20) == "1.0e+20"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: &x 1\nb: *x\n", "anchors"),
        ("a: !!str 1\n", "tags"),
        ("a: 1\na: 2\n", "duplicate key"),
        ("a: 2026-01-01\n", "unsupported value"),
        ("a: .inf\n", "unsupported value"),
        ("a: 1\n---\nb: 2\n", "more than one"),
        ("a: [1\n", "not valid YAML"),
        ("? [a]\n: 1\n", "keys must be strings"),
        ("<<: {a: 1}\n", "unsupported value"),
    ],
)
def test_reader_rejects_what_the_writer_never_writes(text: str, why: str) -> None:
    with pytest.raises(ReportFormatError, match=why):
        Reader().load(text.encode())


def test_reader_rejects_invalid_utf8() -> None:
    with pytest.raises(ReportFormatError):
        Reader().load(b"a: \xff\xfe\n")
