"""Tamper evidence: every edit, deletion, swap and insertion is found and named."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore, WrittenReport, verify_store
from tests.fixtures.evidence.factory import draft


@pytest.fixture
def chain(tmp_path: Path) -> list[WrittenReport]:
    store = EvidenceStore(tmp_path)
    return [store.write(draft(n)) for n in range(6)]


def _rel(w: WrittenReport, root: Path) -> str:
    return str(w.path.relative_to(root))


def _first(root: Path) -> tuple[str, str]:
    verdict = verify_store(root)
    assert not verdict.ok
    return verdict.problems[0].path, verdict.problems[0].kind


def test_untouched_store_verifies(tmp_path: Path, chain: list[WrittenReport]) -> None:
    verdict = verify_store(tmp_path)
    assert verdict.ok and verdict.reports == verdict.chained == 6
    assert verdict.head == chain[-1].digest


def test_empty_store_verifies(tmp_path: Path) -> None:
    assert verify_store(tmp_path / "nothing").ok


@pytest.mark.parametrize("seed", range(40))
def test_any_one_byte_edit_is_named(tmp_path: Path, chain: list[WrittenReport], seed: int) -> None:
    rng = random.Random(seed)
    victim = chain[rng.randrange(len(chain))]
    data = bytearray(victim.path.read_bytes())
    pos = rng.randrange(len(data))
    data[pos] = rng.choice([b for b in range(256) if b != data[pos]])
    victim.path.write_bytes(bytes(data))
    assert _first(tmp_path) == (_rel(victim, tmp_path), _first(tmp_path)[1])
    assert _first(tmp_path)[1] in {"edited", "unreadable", "reordered"}


def test_whitespace_only_edit_is_found(tmp_path: Path, chain: list[WrittenReport]) -> None:
    victim = chain[2]
    text = victim.path.read_text().replace("}, {", "},  {", 1).replace(", ", ",\t", 1)
    victim.path.write_text(text)
    assert _first(tmp_path) == (_rel(victim, tmp_path), "edited")


def test_semantic_edit_is_found(tmp_path: Path, chain: list[WrittenReport]) -> None:
    victim = chain[1]
    victim.path.write_text(victim.path.read_text().replace("status: fail", "status: pass", 1))
    assert _first(tmp_path) == (_rel(victim, tmp_path), "edited")


@pytest.mark.parametrize("index", [0, 3])
def test_deleted_report_is_named_by_its_successor(
    tmp_path: Path, chain: list[WrittenReport], index: int
) -> None:
    chain[index].path.unlink()
    assert _first(tmp_path) == (_rel(chain[index + 1], tmp_path), "missing")


def test_deleted_last_report_is_found_by_the_head(
    tmp_path: Path, chain: list[WrittenReport]
) -> None:
    chain[-1].path.unlink()
    assert _first(tmp_path) == (_rel(chain[-1], tmp_path), "missing")


def test_swapped_reports_are_named(tmp_path: Path, chain: list[WrittenReport]) -> None:
    a, b = chain[1].path, chain[4].path
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    verdict = verify_store(tmp_path)
    assert {(p.path, p.kind) for p in verdict.problems} == {
        (_rel(chain[1], tmp_path), "reordered"),
        (_rel(chain[4], tmp_path), "reordered"),
    }
    assert verdict.problems[0].path == _rel(chain[1], tmp_path)


def test_copied_report_is_inserted(tmp_path: Path, chain: list[WrittenReport]) -> None:
    copy = chain[2].path.with_name("20261129T010402Z-linux-baseline-9.yaml")
    shutil.copy(chain[2].path, copy)
    kinds = {(p.path, p.kind) for p in verify_store(tmp_path).problems}
    assert (str(copy.relative_to(tmp_path)), "inserted") in kinds


def test_forged_fork_is_inserted(tmp_path: Path, chain: list[WrittenReport]) -> None:
    """A report written by a second store on a copy of the history: same predecessor."""
    clone = tmp_path.parent / "clone"
    shutil.copytree(tmp_path, clone)
    chain[-1].path.unlink()
    (tmp_path / ".head").write_text((clone / ".head").read_text())
    forged = EvidenceStore(clone).write(draft(30, name="forged"))
    target = tmp_path / forged.path.relative_to(clone)
    shutil.copy(forged.path, target)
    chain_copy = clone / chain[-1].path.relative_to(tmp_path)
    shutil.copy(chain_copy, chain[-1].path)
    verdict = verify_store(tmp_path)
    assert [(p.path, p.kind) for p in verdict.problems] == [
        (str(target.relative_to(tmp_path)), "inserted")
    ]


def test_report_after_the_head_is_inserted(tmp_path: Path, chain: list[WrittenReport]) -> None:
    head = (tmp_path / ".head").read_text()
    EvidenceStore(tmp_path).write(draft(40))
    (tmp_path / ".head").write_text(head)
    assert _first(tmp_path)[1] == "inserted"


def test_head_count_rewrite_is_found(tmp_path: Path, chain: list[WrittenReport]) -> None:
    head = json.loads((tmp_path / ".head").read_text())
    head["count"] = 3
    (tmp_path / ".head").write_text(json.dumps(head))
    assert _first(tmp_path) == (".head", "edited")


def test_parallel_scan_agrees(tmp_path: Path, chain: list[WrittenReport]) -> None:
    from butler_maint.evidence import scan

    chain[2].path.write_text(chain[2].path.read_text().replace("web01", "web99", 1))
    sequential = verify_store(tmp_path, jobs=1)
    old = scan.PARALLEL_FROM
    scan.PARALLEL_FROM = 1
    try:
        parallel = verify_store(tmp_path, jobs=2)
    finally:
        scan.PARALLEL_FROM = old
    assert parallel.problems == sequential.problems and parallel.problems
