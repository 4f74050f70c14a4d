"""`check` on a real terminal (a pty): manual items are attested, a progress bar shows."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore
from tests.cli.test_check_cli import CHECKLIST, LOCAL

pytestmark = pytest.mark.integration
BUTLER = str(Path(sys.executable).parent / "butler-maint")


def read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen.extend(chunk)
    assert needle in seen, bytes(seen[-600:]).decode(errors="replace")


def test_operator_attests_a_manual_item_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "checklists").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(LOCAL % (tmp_path / "app"))
    (tmp_path / "checklists" / "smoke.yaml").write_text(CHECKLIST)
    controller, terminal = os.openpty()
    proc = subprocess.Popen(
        [BUTLER, "-C", str(tmp_path), "check", "smoke", "--operator", "alice@ops"],
        stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    seen = bytearray()
    try:
        read_until(controller, b"Tapes rotated", seen)
        read_until(controller, b"[y/N]", seen)
        os.write(controller, b"y\n")
        read_until(controller, b"comment", seen)
        os.write(controller, b"rotated to the vault\n")
        read_until(controller, b"evidence:", seen)
        assert proc.wait(timeout=60) == 1  # the checklist has one failing check
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    report = EvidenceStore(tmp_path / "evidence").load("latest")
    tapes = next(r for r in report.steps[0].results if r.check == "tapes")
    assert tapes.status == "pass"
    assert tapes.observed == "yes"
    assert "attested yes by alice@ops" in (tapes.message or "")
    assert "rotated to the vault" in (tapes.message or "")
    assert report.operator == "alice@ops"
