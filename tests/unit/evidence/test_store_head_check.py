"""A write checks ``.head`` and the chain tip it names before writing anything: a broken
head refuses the write (exit 3) with the store left as it was, so no report is written
by a run that then fails, and none is chained later without anyone being told."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceError, EvidenceStore, WrittenReport, verify_store
from butler_maint.evidence.index import INDEX_FILE
from tests.fixtures.evidence.factory import draft
from tests.fixtures.evidence.snapshot import snapshot

Edit = Callable[[dict[str, Any], list[WrittenReport]], object]


def _set(**values: object) -> Edit:
    return lambda head, _: head.update(values)


def _older_tip(head: dict[str, Any], written: list[WrittenReport]) -> None:
    first = written[0]
    head.update(digest=first.digest, id=first.id, count=1)
    head["path"] = str(first.path.relative_to(first.path.parents[3]))


def _mixed_tip(head: dict[str, Any], written: list[WrittenReport]) -> None:
    head["digest"] = written[0].digest  # id and path still name the second report


BROKEN: dict[str, Edit] = {
    "count-is-text": _set(count="2"),
    "tmax-is-a-number": _set(tmax=5),
    "unknown-field": _set(extra=1),
    "digest-of-no-report": _set(digest="sha256:" + "0" * 64),
    "id-of-no-report": _set(
        id="20261129T230000Z-ghost", path="2026/11/29/20261129T230000Z-ghost.yaml"
    ),
    "path-elsewhere": _set(path="2026/11/29/x.yaml"),
    "pending-outside": _set(pending="../../outside/x.yaml"),
    "digest-without-id": _set(id=None, path=None),
    "older-tip": _older_tip,
    "digest-of-another-report": _mixed_tip,
}


@pytest.fixture
def store(tmp_path: Path) -> tuple[EvidenceStore, list[WrittenReport]]:
    store = EvidenceStore(tmp_path / "ev")
    return store, [store.write(draft(0)), store.write(draft(1))]


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_head_refuses_the_write_with_nothing_written(
    store: tuple[EvidenceStore, list[WrittenReport]], name: str
) -> None:
    evidence, written = store
    head_path = evidence.root / ".head"
    head = json.loads(head_path.read_bytes())
    BROKEN[name](head, written)
    head_path.write_text(json.dumps(head))
    before = snapshot(evidence.root, skip=frozenset({".lock"}))
    with pytest.raises(EvidenceError) as info:
        evidence.write(draft(2))
    assert str(head_path) in str(info.value) and info.value.exit_code == 3
    assert snapshot(evidence.root, skip=frozenset({".lock"})) == before
    with pytest.raises(EvidenceError):  # and the next write does not chain anything either
        evidence.write(draft(3))
    assert snapshot(evidence.root, skip=frozenset({".lock"})) == before


@pytest.mark.parametrize("text", ["{nope", "[]", '"head"', "null"])
def test_garbage_head_refuses_the_write(
    store: tuple[EvidenceStore, list[WrittenReport]], text: str
) -> None:
    evidence, _ = store
    (evidence.root / ".head").write_text(text)
    before = snapshot(evidence.root, skip=frozenset({".lock"}))
    with pytest.raises(EvidenceError, match=r"\.head"):
        evidence.write(draft(2))
    assert snapshot(evidence.root, skip=frozenset({".lock"})) == before


def test_older_tip_without_an_index_is_still_found(
    store: tuple[EvidenceStore, list[WrittenReport]],
) -> None:
    evidence, written = store
    head_path = evidence.root / ".head"
    head = json.loads(head_path.read_bytes())
    _older_tip(head, written)
    head_path.write_text(json.dumps(head))
    (evidence.root / INDEX_FILE).unlink()
    with pytest.raises(EvidenceError, match="follows it"):
        evidence.write(draft(2))
    assert len(list(evidence.root.glob("2026/11/29/*.yaml"))) == 2


def test_a_sound_store_still_writes_and_verifies(
    store: tuple[EvidenceStore, list[WrittenReport]],
) -> None:
    evidence, _ = store
    (evidence.root / INDEX_FILE).unlink()  # a stale index is rebuilt, as before
    evidence.write(draft(2))
    assert verify_store(evidence.root).ok
    assert verify_store(evidence.root).chained == 3


def test_a_report_left_by_an_interrupted_write_is_named_when_chained(
    store: tuple[EvidenceStore, list[WrittenReport]],
) -> None:
    """The run whose write was interrupted failed; the write that chains its report says so."""
    evidence, _ = store
    head_path = evidence.root / ".head"
    head_before = head_path.read_bytes()
    index_before = (evidence.root / INDEX_FILE).read_bytes()
    third = evidence.write(draft(2))
    head = json.loads(head_before)
    head["pending"] = str(third.path.relative_to(evidence.root))
    head_path.write_text(json.dumps(head))
    (evidence.root / INDEX_FILE).write_bytes(index_before)
    fourth = evidence.write(draft(3))
    assert fourth.settled == third.id
    assert evidence.write(draft(4)).settled is None
    assert verify_store(evidence.root).ok


CHECKLIST = """checklist: smoke
hosts: linux
checks:
  - id: tmp
    directory: {path: /tmp}
"""
LOCAL = "all: {children: {linux: {hosts: {localhost: {ansible_connection: local}}}}}\n"


def test_check_exits_3_on_a_broken_head_and_writes_no_report(tmp_path: Path) -> None:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "checklists").mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(LOCAL)
    (tmp_path / "checklists" / "smoke.yaml").write_text(CHECKLIST)
    (tmp_path / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    first = CliRunner().invoke(cli, ["-C", str(tmp_path), "check", "smoke"])
    assert first.exit_code == 0, first.output
    root = tmp_path / "evidence"
    head = json.loads((root / ".head").read_bytes())
    head["digest"] = "sha256:" + "0" * 64
    (root / ".head").write_text(json.dumps(head))
    before = snapshot(root, skip=frozenset({".lock"}))
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "check", "smoke"])
    assert result.exit_code == 3
    assert ".head" in result.stderr and "nothing was written" in result.stderr
    assert snapshot(root, skip=frozenset({".lock"})) == before
