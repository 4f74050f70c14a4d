"""Verify with the scans of an earlier pass (the site's cache): a file whose bytes hash
the same is not parsed again, and the verdict is the one of verifying from the bytes,
for an intact store and after every kind of tampering."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore, WrittenReport, scan, verify_store
from butler_maint.evidence.scan import Scanned, scan_store, scanned_from_json
from butler_maint.evidence.verify import Verdict, verify_scans
from tests.fixtures.evidence.factory import draft


@pytest.fixture
def chain(tmp_path: Path) -> list[WrittenReport]:
    store = EvidenceStore(tmp_path)
    return [store.write(draft(n)) for n in range(6)]


def _known(root: Path) -> dict[str, Scanned]:
    """The scans of the store as it is now, through JSON as the site keeps them."""
    found = [scanned_from_json(json.loads(json.dumps(s.to_json()))) for s in scan_store(root)]
    return {s.rel: s for s in found}


def _cached(root: Path, known: dict[str, Scanned]) -> Verdict:
    return verify_scans(root, scan_store(root, known=known), None)


def _edit_a_byte(seed: int) -> Callable[[Path, list[WrittenReport]], None]:
    def edit(root: Path, chain: list[WrittenReport]) -> None:
        rng = random.Random(seed)
        victim = chain[rng.randrange(len(chain))].path
        data = bytearray(victim.read_bytes())
        pos = rng.randrange(len(data))
        data[pos] = rng.choice([b for b in range(256) if b != data[pos]])
        victim.write_bytes(bytes(data))

    return edit


def _whitespace(root: Path, chain: list[WrittenReport]) -> None:
    text = chain[2].path.read_text()
    chain[2].path.write_text(text.replace("}, {", "},  {", 1).replace(", ", ",\t", 1))


def _semantic(root: Path, chain: list[WrittenReport]) -> None:
    text = chain[1].path.read_text()
    chain[1].path.write_text(text.replace("status: fail", "status: pass", 1))


def _delete_middle(root: Path, chain: list[WrittenReport]) -> None:
    chain[3].path.unlink()


def _delete_last(root: Path, chain: list[WrittenReport]) -> None:
    chain[-1].path.unlink()


def _swap(root: Path, chain: list[WrittenReport]) -> None:
    a, b = chain[1].path, chain[4].path
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)


def _copy(root: Path, chain: list[WrittenReport]) -> None:
    shutil.copy(chain[2].path, chain[2].path.with_name("20261129T010402Z-linux-baseline-9.yaml"))


def _after_head(root: Path, chain: list[WrittenReport]) -> None:
    head = (root / ".head").read_text()
    EvidenceStore(root).write(draft(40))
    (root / ".head").write_text(head)


def _head_count(root: Path, chain: list[WrittenReport]) -> None:
    head = json.loads((root / ".head").read_text())
    head["count"] = 3
    (root / ".head").write_text(json.dumps(head))


def _index_line(root: Path, chain: list[WrittenReport]) -> None:
    index = root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    index.write_text("".join(lines[:2] + lines[3:]))


def _not_yaml(root: Path, chain: list[WrittenReport]) -> None:
    chain[0].path.write_bytes(b"\x00\xff not yaml: [")


TAMPERING = {
    **{f"byte-{seed}": _edit_a_byte(seed) for seed in range(12)},
    "whitespace": _whitespace,
    "semantic": _semantic,
    "delete-middle": _delete_middle,
    "delete-last": _delete_last,
    "swap": _swap,
    "copy": _copy,
    "after-head": _after_head,
    "head-count": _head_count,
    "index-line": _index_line,
    "not-yaml": _not_yaml,
}


def test_intact_store_cached_verdict_is_the_same(
    tmp_path: Path, chain: list[WrittenReport]
) -> None:
    known = _known(tmp_path)
    verdict = _cached(tmp_path, known)
    assert verdict.ok and verdict.chained == 6
    assert verdict == verify_store(tmp_path)


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampered_store_cached_verdict_is_the_same(
    tmp_path: Path, chain: list[WrittenReport], name: str
) -> None:
    known = _known(tmp_path)
    TAMPERING[name](tmp_path, chain)
    uncached = verify_store(tmp_path)
    assert not uncached.ok
    assert _cached(tmp_path, known) == uncached


def test_a_file_whose_bytes_hash_the_same_is_not_parsed(
    tmp_path: Path, chain: list[WrittenReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = _known(tmp_path)
    EvidenceStore(tmp_path).write(draft(7))
    parsed: list[str] = []
    original = scan.Scanner._scan

    def spy(self: scan.Scanner, rel: str, data: bytes) -> Scanned:
        parsed.append(rel)
        return original(self, rel, data)

    monkeypatch.setattr(scan.Scanner, "_scan", spy)
    verdict = _cached(tmp_path, known)
    assert verdict.ok and verdict.chained == 7
    assert len(parsed) == 1 and parsed[0] not in known


def test_a_scan_kept_for_other_bytes_is_not_used(
    tmp_path: Path, chain: list[WrittenReport]
) -> None:
    """An entry kept for other bytes (the file changed since) is not used, whatever it
    says: the file's bytes decide."""
    known = _known(tmp_path)
    rel = str(chain[1].path.relative_to(tmp_path))
    known[rel] = replace(known[rel], problem="edited: kept for other bytes", sha256="0" * 64)
    assert _cached(tmp_path, known) == verify_store(tmp_path)
    assert _cached(tmp_path, known).ok
    known[rel] = replace(known[rel], sha256=None)
    assert _cached(tmp_path, known).ok


def test_scan_json_round_trip(tmp_path: Path, chain: list[WrittenReport]) -> None:
    scans = scan_store(tmp_path)
    again = [scanned_from_json(json.loads(json.dumps(s.to_json()))) for s in scans]
    assert again == scans
    assert [s.sha256 for s in again] == [s.sha256 for s in scans]
    assert all(s.entry is not None and s.sha256 for s in again)
    with pytest.raises(ValueError):
        scanned_from_json({"rel": "x"})
