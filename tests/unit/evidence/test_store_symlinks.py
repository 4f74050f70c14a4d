"""Nothing is followed out of the store: a symbolic link planted at any path the store
writes is refused with an error naming it (exit 3), and its target is left untouched.
Files and directories get explicit modes, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
from datetime import timedelta
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
from butler_maint.evidence.layout import make_id, rel_path
from tests.fixtures.evidence.factory import T0, draft
from tests.fixtures.evidence.snapshot import snapshot

NEXT_ID = make_id(T0, "linux-baseline")  # the id draft(0) gets in an empty store


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the store, holding one file."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "precious").write_text("keep me\n")
    return place


def _big_step() -> ChecklistStep:
    result = Result(host="a", check="cmd", status=Status.PASS, output=Output(text="x\n" * 4000))
    return ChecklistStep(checklist="c", results=[result])


def _written_store(root: Path) -> EvidenceStore:
    store = EvidenceStore(root, inline_max=100)
    store.write(draft(0, steps=[_big_step()]))
    return store


def _plant(root: Path, rel: str, target: Path) -> Path:
    link = root / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():
        os.rename(link, link.with_name(link.name + ".moved"))
    elif link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(target)
    return link


FILE_LINKS = [".lock", "index.jsonl", ".head"]
DIR_LINKS = ["artifacts", "2026", "2026/11", "2026/11/29"]


@pytest.mark.parametrize("rel", FILE_LINKS)
def test_write_refuses_a_linked_store_file(tmp_path: Path, outside: Path, rel: str) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    link = _plant(root, rel, outside / "precious")
    before = snapshot(outside)
    with pytest.raises(EvidenceError) as info:
        store.write(draft(1))
    assert str(link) in str(info.value) and "symbolic link" in str(info.value)
    assert info.value.exit_code == 3
    assert snapshot(outside) == before
    assert len(list(root.glob("2026/11/29/*.yaml"))) == 1  # nothing written


@pytest.mark.parametrize("rel", FILE_LINKS)
def test_a_dangling_link_is_not_created_through(tmp_path: Path, outside: Path, rel: str) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    _plant(root, rel, outside / "created")
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.write(draft(1))
    assert not (outside / "created").exists()


@pytest.mark.parametrize("rel", DIR_LINKS)
def test_write_refuses_a_linked_store_directory(tmp_path: Path, outside: Path, rel: str) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    link = _plant(root, rel, outside)
    before = snapshot(outside)
    with pytest.raises(EvidenceError) as info:
        store.write(draft(1, steps=[_big_step()]))
    assert str(link) in str(info.value) and info.value.exit_code == 3
    assert snapshot(outside) == before


def test_linked_artifacts_directory_of_the_next_run(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    (root / "artifacts").mkdir(parents=True)
    (root / "artifacts" / NEXT_ID).symlink_to(outside)
    with pytest.raises(EvidenceError, match="symbolic link"):
        EvidenceStore(root, inline_max=100).write(draft(0, steps=[_big_step()]))
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]


def test_attachments_never_land_outside(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    source = tmp_path / "runner"
    (source / "job_events").mkdir(parents=True)
    (source / "job_events" / "1.json").write_text("{}")
    (source / "stdout.txt").write_text("ok\n")
    _written_store(root)
    _plant(root, "artifacts", outside)
    before = snapshot(outside)
    with pytest.raises(EvidenceError, match="symbolic link"):
        EvidenceStore(root).write(draft(1), attach=[source])
    assert snapshot(outside) == before


def test_attachments_are_private(tmp_path: Path) -> None:
    source = tmp_path / "runner"
    (source / "job_events").mkdir(parents=True)
    (source / "job_events" / "1.json").write_text("{}")
    written = EvidenceStore(tmp_path / "ev").write(draft(0), attach=[source])
    copied = tmp_path / "ev/artifacts" / written.id / "runner"
    assert (copied / "job_events" / "1.json").read_text() == "{}"
    modes = {stat.S_IMODE(p.lstat().st_mode) for p in [copied, *copied.rglob("*")]}
    assert modes == {0o700, 0o600}


def test_linked_report_path_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    _plant(
        root, rel_path(make_id(T0 + timedelta(minutes=1), "linux-baseline")), outside / "precious"
    )
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.write(draft(1))
    assert (outside / "precious").read_text() == "keep me\n"


def test_pruning_never_removes_through_links(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = EvidenceStore(root, inline_max=100, keep_artifacts=1)
    store.write(draft(0, steps=[_big_step()]))
    (root / "artifacts" / "00000000T000000Z-old").symlink_to(outside)
    store.write(draft(1, steps=[_big_step()]))
    store.write(draft(2, steps=[_big_step()]))
    assert (outside / "precious").read_text() == "keep me\n"
    assert len([p for p in (root / "artifacts").iterdir() if not p.is_symlink()]) == 1


def test_temp_cleanup_never_removes_through_links(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    (outside / ".tmp-victim").write_text("x")
    (root / ".tmp-planted").symlink_to(outside / ".tmp-victim")
    store.write(draft(1))
    store.reindex()
    assert (outside / ".tmp-victim").read_text() == "x"


def test_reindex_refuses_a_linked_index(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    _plant(root, "index.jsonl", outside / "precious")
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.reindex()
    assert (outside / "precious").read_text() == "keep me\n"


def test_reading_does_not_follow_a_linked_head(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    (outside / "head").write_bytes((root / ".head").read_bytes())
    _plant(root, ".head", outside / "head")
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.head()


def test_reading_does_not_follow_a_linked_report(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    report = root / rel_path(NEXT_ID)
    (outside / "report").write_bytes(report.read_bytes())
    _plant(root, rel_path(NEXT_ID), outside / "report")
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.load(NEXT_ID)


def test_approvals_directory_link_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    store = _written_store(root)
    _plant(root, "approvals", outside)
    with pytest.raises(EvidenceError, match="symbolic link"):
        store.create("approvals/weekly/20261129T010000Z.yaml", b"by: someone\n")
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]
    (root / "approvals").unlink()
    path = store.create("approvals/weekly/20261129T010000Z.yaml", b"by: someone\n")
    assert store.read("approvals/weekly/20261129T010000Z.yaml") == b"by: someone\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with pytest.raises(FileExistsError):
        store.create("approvals/weekly/20261129T010000Z.yaml", b"by: someone else\n")


def test_git_files_planted_as_links_are_not_followed(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / ".gitignore").symlink_to(outside / "precious")
    written = EvidenceStore(root, git=True).write(draft(0))
    assert written.git_error is None
    assert (outside / "precious").read_text() == "keep me\n"
    other = tmp_path / "ev2"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(outside / "repo")], check=True)
    (other / ".git").symlink_to(outside / "repo" / ".git")
    written = EvidenceStore(other, git=True).write(draft(0))
    assert written.git_error is not None and "symbolic link" in written.git_error
    log = subprocess.run(
        ["git", "-C", str(outside / "repo"), "log", "--oneline"], capture_output=True, check=False
    )
    assert log.stdout == b""


def test_nothing_is_world_writable_under_umask_0(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = EvidenceStore(tmp_path / "ev", inline_max=100)
        store.write(draft(0, steps=[_big_step()]))
        store.write(draft(1))
        store.reindex()
    finally:
        os.umask(old)
    modes = {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.lstat().st_mode)
        for p in (tmp_path / "ev").rglob("*")
    }
    assert modes[os.path.join("ev", ".lock")] == 0o640
    assert all(not mode & 0o002 for mode in modes.values()), modes
    assert verify_store(tmp_path / "ev").ok


def test_verify_names_a_linked_head_without_following_it(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "ev"
    _written_store(root)
    (outside / "head").write_bytes((root / ".head").read_bytes())
    _plant(root, ".head", outside / "head")
    problems = verify_store(root).problems
    assert [(p.path, p.kind) for p in problems] == [(".head", "unreadable")]
    assert "symbolic link" in problems[0].detail
