"""The store: layout, safe names, permissions, never-overwrite, chain, artifacts, index."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
from pathlib import Path

import pytest

from butler_maint.evidence import (
    ChecklistStep,
    EvidenceError,
    EvidenceStore,
    Output,
    Result,
    Status,
    verify_store,
)
from butler_maint.evidence.canonical import compute_digest
from butler_maint.evidence.index import INDEX_FILE, read_entries
from butler_maint.evidence.layout import safe_name
from butler_maint.evidence.yamlio import Reader
from tests.fixtures.evidence.factory import T0, draft


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_by_date_and_chain(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    first = store.write(draft(0))
    second = store.write(draft(1))
    assert first.path == tmp_path / "ev/2026/11/29/20261129T010002Z-linux-baseline.yaml"
    doc1 = Reader().load(first.path.read_bytes())
    doc2 = Reader().load(second.path.read_bytes())
    assert doc1["previous"] is None
    assert doc2["previous"] == first.digest == doc1["digest"] == compute_digest(doc1)
    head = store.head()
    assert head is not None and (head.digest, head.count) == (second.digest, 2)
    assert [e["id"] for e in read_entries(store.index_path)] == [first.id, second.id]


def test_report_is_human_friendly(tmp_path: Path) -> None:
    text = EvidenceStore(tmp_path).write(draft(0)).path.read_text()
    keys = [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert keys[:6] == ["butler_report", "id", "kind", "name", "result", "summary"]
    assert keys.index("failures") < keys.index("steps") and keys[-2:] == ["previous", "digest"]
    assert "  - {step: 1, host: web00, check: check-0, status: fail" in text


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o022])
def test_permissions_ignore_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        d = draft(0, steps=[_big_output_step()])
        written = EvidenceStore(tmp_path / "ev").write(d)
    finally:
        os.umask(old)
    assert _mode(written.path) == 0o640
    for directory in (written.path.parent, written.path.parent.parent, tmp_path / "ev"):
        assert _mode(directory) == 0o750
    artifacts = tmp_path / "ev/artifacts" / written.id
    assert _mode(artifacts) == 0o700
    assert {_mode(p) for p in artifacts.iterdir()} == {0o600}
    assert _mode(tmp_path / "ev" / INDEX_FILE) == 0o640


def test_ids_unique_within_one_second(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    ids = [store.write(draft(started=T0)).id for _ in range(3)]
    assert ids == [
        "20261129T010002Z-linux-baseline",
        "20261129T010002Z-linux-baseline-2",
        "20261129T010002Z-linux-baseline-3",
    ]
    assert verify_store(tmp_path).ok


@pytest.mark.parametrize(
    "name", ["../../x", "/abs", "..", "../..", "a/../../b", "", ".hidden", "ä b\\c\x00", "x" * 300]
)
def test_hostile_names_stay_inside_the_store(tmp_path: Path, name: str) -> None:
    root = tmp_path / "ev"
    written = EvidenceStore(root).write(draft(0, name=name))
    assert written.path.resolve().is_relative_to(root.resolve())
    assert written.path.parent == root / "2026/11/29"
    assert not written.path.name.startswith(".")
    assert len(written.path.name) < 100
    assert safe_name(name) in written.id


def test_never_overwrites_an_existing_report(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    first = store.write(draft(0))
    before = first.path.read_bytes()
    second = store.write(draft(0))
    assert second.path != first.path and first.path.read_bytes() == before


def test_long_output_goes_to_artifacts(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, inline_max=100)
    written = store.write(draft(0, steps=[_big_output_step()]))
    report = store.load(written.id)
    output = report.steps[0].results[0].output
    assert output is not None and output.truncated and output.bytes == 5000
    assert len(output.text.encode()) <= 100
    assert report.artifacts == f"artifacts/{written.id}"
    full = tmp_path / report.artifacts / f"{output.sha256.removeprefix('sha256:')}.txt"  # type: ignore[union-attr]
    assert full.read_text() == "line\n" * 1000
    assert verify_store(tmp_path).ok


def test_keep_artifacts_prunes_old_runs(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, inline_max=10, keep_artifacts=2)
    ids = [store.write(draft(n, steps=[_big_output_step()])).id for n in range(4)]
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == ids[2:]


def test_surrogates_in_output_are_replaced(tmp_path: Path) -> None:
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    step = ChecklistStep(
        checklist="c", results=[Result(host="a", check="b", status=Status.PASS, message=bad)]
    )
    written = EvidenceStore(tmp_path).write(draft(0, steps=[step]))
    assert "caf\ufffd" in written.path.read_text()
    assert verify_store(tmp_path).ok


def test_pending_write_is_settled_by_next_writer(tmp_path: Path) -> None:
    """A writer killed after the report reached disk but before .head moved."""
    store = EvidenceStore(tmp_path)
    store.write(draft(0))
    head_before = (tmp_path / ".head").read_bytes()
    index_before = (tmp_path / INDEX_FILE).read_bytes()
    second = store.write(draft(1))
    head = json.loads(head_before)
    head["pending"] = str(second.path.relative_to(tmp_path))
    (tmp_path / ".head").write_text(json.dumps(head))
    (tmp_path / INDEX_FILE).write_bytes(index_before)
    assert verify_store(tmp_path).ok
    third = store.write(draft(2))
    assert verify_store(tmp_path).ok
    assert [e["id"] for e in read_entries(store.index_path)][-2:] == [second.id, third.id]


def test_missing_head_with_reports_refuses_to_write(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    store.write(draft(0))
    (tmp_path / ".head").unlink()
    with pytest.raises(EvidenceError, match="reindex"):
        store.write(draft(1))
    assert not verify_store(tmp_path).ok
    store.reindex()
    store.write(draft(1))
    assert verify_store(tmp_path).ok


def _writer(root: str, offset: int) -> None:
    store = EvidenceStore(Path(root))
    for n in range(15):
        store.write(draft(offset + n, started=T0))


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k * 100)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    verdict = verify_store(tmp_path)
    assert verdict.ok, verdict.problems
    assert verdict.chained == 45


def test_git_commits_each_report(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev", git=True)
    written = [store.write(draft(n)) for n in range(2)]
    assert all(w.git_error is None for w in written)
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "ev"), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert log == [f"evidence: {w.id} (checklist linux-baseline: fail)" for w in reversed(written)]
    tracked = subprocess.run(
        ["git", "-C", str(tmp_path / "ev"), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert INDEX_FILE not in tracked and ".head" in tracked


def _big_output_step() -> ChecklistStep:
    result = Result(host="a", check="cmd", status=Status.PASS, output=Output(text="line\n" * 1000))
    return ChecklistStep(checklist="c", results=[result])
