"""The evidence site renders incrementally: after a new report only the pages whose
inputs changed are written, and the result is byte for byte what a full render gives
(deleted and edited reports, a renderer change)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, WrittenReport, scan
from butler_maint.evidence.index import INDEX_FILE
from butler_maint.evidence.model import Report
from butler_maint.kpi import obscache
from butler_maint.site import cache, render, render_site
from tests.fixtures.evidence.factory import T0, draft

NOW = T0 + timedelta(days=1)


def _files(out: Path) -> dict[str, object]:
    """Every file's bytes; the manifest's content but for when each page was written."""
    found: dict[str, object] = {
        p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
    }
    manifest = json.loads(found.pop(render.MANIFEST))  # type: ignore[arg-type]
    manifest["pages"] = {page: entry[:2] for page, entry in manifest["pages"].items()}
    found[render.MANIFEST] = manifest
    return found


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    """Inode and mtime of every page: a rewritten page gets a new inode (atomic replace)."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*.html")
    }


def _assert_same_as_full(store: EvidenceStore, out: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    outcome = render_site(store.root, full, now=NOW, full=True)
    assert outcome.full
    assert _files(out) == _files(full)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    """Three runs of three hosts (web00-web02)."""
    found = EvidenceStore(tmp_path / "evidence")
    for n in range(3):
        found.write(draft(n))
    return found


def _second(store: EvidenceStore) -> tuple[str, Path]:
    """The second report's id and file."""
    report_id = sorted(p.stem for p in store.root.rglob("*.yaml"))[1]
    return report_id, store.path_of(report_id)


def _added(store: EvidenceStore) -> WrittenReport:
    """A fourth run, on two hosts only (web00, web01)."""
    return store.write(draft(10, hosts=2))


def test_a_new_report_rewrites_only_its_page_its_hosts_index_and_kpi(
    store: EvidenceStore, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    first = render_site(store.root, out, now=NOW)
    assert first.full and len(first.pages) == 3 + 3 + 2
    before = _stamps(out)
    added = _added(store)
    second = render_site(store.root, out, now=NOW)
    expected = {f"runs/{added.id}.html", "hosts/web00.html", "hosts/web01.html"}
    assert set(second.pages) == expected | {"index.html", "kpi.html"}
    assert second.written == [added.id] and second.kept == 3 and not second.full
    after = _stamps(out)
    changed = {page for page, stamp in after.items() if before.get(page) != stamp}
    assert changed == expected | {"index.html", "kpi.html"}
    assert after["hosts/web02.html"] == before["hosts/web02.html"]
    _assert_same_as_full(store, out, tmp_path)


def test_a_new_report_is_the_only_one_read(
    store: EvidenceStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify and the KPI section reuse what the last render read of the reports whose
    bytes hash the same (``.butler-cache``): only the new report is parsed."""
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    added = _added(store)
    parsed: list[str] = []
    scanned, loaded = scan.Scanner._scan, obscache.load_report_bytes

    def scan_spy(self: scan.Scanner, rel: str, data: bytes) -> scan.Scanned:
        parsed.append(f"verify {rel}")
        return scanned(self, rel, data)

    def load_spy(data: bytes, path: str) -> Report:
        parsed.append(f"kpi {Path(path).relative_to(store.root)}")
        return loaded(data, path)

    monkeypatch.setattr(scan.Scanner, "_scan", scan_spy)
    monkeypatch.setattr(obscache, "load_report_bytes", load_spy)
    outcome = render_site(store.root, out, now=NOW)
    rel = added.path.relative_to(store.root)
    assert outcome.chain_ok and parsed == [f"verify {rel}", f"kpi {rel}"]
    parsed.clear()
    render_site(store.root, out, now=NOW)
    assert parsed == []
    assert len(list((out / cache.CACHE_DIR / cache.OBSERVATIONS).iterdir())) == 4
    render_site(store.root, out, now=NOW, full=True)
    assert len(parsed) == 2 * 4  # a full render reads every report again
    _assert_same_as_full(store, out, tmp_path)


def test_nothing_new_writes_nothing(store: EvidenceStore, tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    before = _stamps(out)
    again = render_site(store.root, out, now=NOW)
    assert again.pages == [] and again.unchanged == 3 + 3 + 2
    assert _stamps(out) == before


def test_a_deleted_report_breaks_the_chain_and_every_page_says_so(
    store: EvidenceStore, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    added = _added(store)
    render_site(store.root, out, now=NOW)
    added.path.unlink()
    outcome = render_site(store.root, out, now=NOW)
    assert not outcome.chain_ok
    assert set(outcome.pages) == set(_stamps(out))  # the chain line changed everywhere
    for page in out.rglob("*.html"):
        assert "BROKEN" in page.read_text("utf-8"), page
    # The index still lists it: its page says so.
    assert "could not be read" in (out / f"runs/{added.id}.html").read_text("utf-8")
    _assert_same_as_full(store, out, tmp_path)
    # Gone from the index too (reports read one by one): its page goes.
    (store.root / INDEX_FILE).unlink()
    gone = render_site(store.root, out, now=NOW)
    assert gone.removed == 1 and not (out / f"runs/{added.id}.html").exists()
    assert set(gone.pages) == {"hosts/web00.html", "hosts/web01.html", "index.html", "kpi.html"}
    _assert_same_as_full(store, out, tmp_path)


def test_an_edited_report_is_rendered_again(store: EvidenceStore, tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    edited, path = _second(store)
    path.write_text(path.read_text("utf-8").replace("ops@bastion", "x@y", 1))
    outcome = render_site(store.root, out, now=NOW)
    assert edited in outcome.written and not outcome.chain_ok
    page = (out / f"runs/{edited}.html").read_text("utf-8")
    assert "x@y" in page and "BROKEN: edited" in page
    _assert_same_as_full(store, out, tmp_path)


def test_a_page_changed_since_it_was_written_is_rendered_again(
    store: EvidenceStore, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    (out / "hosts/web01.html").write_text("")  # as a crash may leave a new file
    (out / "hosts/web02.html").unlink()
    again = render_site(store.root, out, now=NOW)
    assert set(again.pages) == {"hosts/web01.html", "hosts/web02.html"}
    _assert_same_as_full(store, out, tmp_path)


def test_another_renderer_renders_every_page(
    store: EvidenceStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    render_site(store.root, out, now=NOW)
    before = render.fingerprint()
    monkeypatch.setattr(render, "__version__", "99.0")  # another butler-maint version
    assert render.fingerprint() != before
    outcome = render_site(store.root, out, now=NOW)
    assert outcome.full and set(outcome.pages) == set(_stamps(out))
    monkeypatch.setattr(render, "RENDER_VERSION", "0")  # templates changed shape
    assert render_site(store.root, out, now=NOW).full


def test_fingerprint_covers_the_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    original = render.fingerprint()
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        data = real_read(self)
        return data + b"<!-- changed -->" if self.name == "host.html" else data

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert render.fingerprint() != original


def test_render_command_full_flag(store: EvidenceStore, tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: evidence}\n")
    runner = CliRunner()
    first = runner.invoke(cli, ["-C", str(tmp_path), "report", "render"])
    assert first.exit_code == 0, first.output
    assert "3 run pages written" in first.stdout and "8 pages written" in first.stdout
    again = runner.invoke(cli, ["-C", str(tmp_path), "report", "render", "--full"])
    assert again.exit_code == 0, again.output
    assert "3 run pages written" in again.stdout
