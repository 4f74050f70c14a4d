"""Acceptance: writers killed with SIGKILL at random moments, and a full filesystem."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceError, EvidenceStore, verify_store
from butler_maint.evidence.fsutil import TMP_PREFIX
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.scan import report_files
from tests.fixtures.evidence.factory import draft

pytestmark = pytest.mark.integration

KILLS = 200
PER_STORE = 25  # a fresh store every 25 kills keeps each verify small


def _write_forever(root: str, seed: int) -> None:
    store = EvidenceStore(Path(root), inline_max=64)
    for n in range(10_000):
        store.write(draft(seed * 10_000 + n % 50, hosts=2, checks=3))


def _all_parse(root: Path) -> None:
    for rel in report_files(root):
        load_report_bytes((root / rel).read_bytes(), rel)


def _temps(root: Path) -> list[str]:
    return [
        str(Path(d) / f) for d, _, files in os.walk(root) for f in files if f.startswith(TMP_PREFIX)
    ]


def test_kill_9_at_random_moments_never_breaks_the_store(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    ctx = multiprocessing.get_context("fork")
    for kill in range(KILLS):
        root = tmp_path / f"store{kill // PER_STORE}"
        child = ctx.Process(target=_write_forever, args=(str(root), kill))
        child.start()
        time.sleep(rng.uniform(0, 0.030))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        verdict = verify_store(root)
        assert verdict.ok, (kill, verdict.problems)
        if kill % PER_STORE == PER_STORE - 1:
            _all_parse(root)
            EvidenceStore(root).write(draft(99))
            assert verify_store(root).ok
            assert _temps(root) == []
            assert verify_store(root).chained >= 1


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave: int) -> Path:
    """Fill the filesystem, leaving about ``leave`` bytes free."""
    filler = mount / "filler"
    st = os.statvfs(mount)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with filler.open("wb") as handle:
        try:
            handle.write(b"\0" * size)
            handle.flush()
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("leave", [0, 12 * 1024])
def test_full_filesystem_fails_clearly_and_keeps_earlier_reports(
    small_fs: Path, leave: int
) -> None:
    root = small_fs / "evidence"
    store = EvidenceStore(root)
    earlier = [store.write(draft(n)) for n in range(3)]
    before = {w.path: w.path.read_bytes() for w in earlier}
    filler = _fill(small_fs, leave)
    with pytest.raises(EvidenceError) as info:
        store.write(draft(10, hosts=40, checks=20))
    assert "No space left on device" in str(info.value) and str(root) in str(info.value)
    assert info.value.exit_code == 3
    assert {p: p.read_bytes() for p in before} == before
    assert verify_store(root).ok and verify_store(root).chained == 3
    assert _temps(root) == []
    filler.unlink()
    store.write(draft(11))
    assert verify_store(root).ok and verify_store(root).chained == 4


def test_full_filesystem_via_the_cli(small_fs: Path) -> None:
    (small_fs / "butler.yaml").write_text("evidence: {dir: evidence}\n")
    store = EvidenceStore(small_fs / "evidence")
    for n in range(3):
        store.write(draft(n))
    filler = _fill(small_fs, 0)
    result = CliRunner().invoke(cli, ["-C", str(small_fs), "report", "reindex"])
    assert result.exit_code == 3
    assert "No space left on device" in result.stderr and "evidence" in result.stderr
    result = CliRunner().invoke(cli, ["-C", str(small_fs), "report", "verify"])
    assert result.exit_code == 0, result.stdout
    filler.unlink()


def test_check_on_a_full_evidence_disk_shows_results_and_exits_3(
    small_fs: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from butler_maint.cli import cli
    from tests.cli.test_check_cli import CHECKLIST, LOCAL

    repo = tmp_path / "repo"
    for sub in ("inventories", "checklists", "app"):
        (repo / sub).mkdir(parents=True)
    (repo / "inventories" / "local.yml").write_text(LOCAL % (repo / "app"))
    (repo / "checklists" / "smoke.yaml").write_text(CHECKLIST)
    (repo / "butler.yaml").write_text(f"evidence: {{dir: {small_fs / 'evidence'}}}\n")
    first = CliRunner().invoke(cli, ["-C", str(repo), "check", "smoke"])
    assert first.exit_code == 1, first.output
    _fill(small_fs, 0)
    result = CliRunner().invoke(cli, ["-C", str(repo), "check", "smoke"])
    assert result.exit_code == 3
    assert "missing-file" in result.stdout  # the results are still shown
    assert "No space left on device" in result.stderr
    assert verify_store(small_fs / "evidence").ok
