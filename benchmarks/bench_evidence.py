"""Benchmark of the evidence store (not a test).

Writes N realistic reports (5 hosts x 10 checks, some failures, messages and a long
output now and then) through the real store API, then times ``report verify`` and
``report list --since`` (index) at 1,000 reports and at N.

    .venv/bin/python benchmarks/bench_evidence.py [--reports N] [--dir DIR]

The store goes to /dev/shm when it exists (fsync is free there: this measures the
code, not the disk).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import (
    ChecklistStep,
    EvidenceStore,
    Kind,
    Output,
    ReportDraft,
    Result,
    Status,
    Trigger,
)
from butler_maint.evidence.provenance import tool_versions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECKS = [
    "disk-root",
    "disk-var",
    "inodes",
    "sshd",
    "ntp",
    "load",
    "memory",
    "tls",
    "backup",
    "reboot",
]


def _result(rng: random.Random, host: str, check: str) -> Result:
    status = rng.choices(list(Status)[:5], weights=[90, 5, 1, 3, 1])[0]
    output = Output(text="x" * 6000) if rng.random() < 0.01 else None
    return Result(
        host=host,
        check=check,
        status=status,
        observed=rng.randint(1, 99) if check.startswith("disk") else "active",
        expected="<= 85" if check.startswith("disk") else "active",
        ms=rng.randint(1, 400),
        message=None if status is Status.PASS else f"{check} on {host}: threshold exceeded",
        output=output,
    )


def make_draft(rng: random.Random, n: int) -> ReportDraft:
    """Report n: a 5 host x 10 check checklist run, 10 minutes after the one before."""
    started = T0 + timedelta(minutes=10 * n)
    hosts = [f"web{h:02d}.prod.example.com" for h in range(5)]
    results = [_result(rng, host, check) for host in hosts for check in CHECKS]
    return ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        trigger=Trigger(by="cron", schedule="hourly-baseline", occurrence=started),
        operator="cron@bastion",
        started=started,
        finished=started + timedelta(seconds=rng.randint(1, 30)),
        tools=tool_versions(),
        host_keys={h: "SHA256:" + "A" * 43 for h in hosts},
        steps=[ChecklistStep(checklist="linux-baseline", results=results)],
    )


def _timed(project: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["-C", str(project), "report", *args])
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"report {' '.join(args)} failed: {result.output}")
    return elapsed, result.stdout


def _measure(project: Path, count: int, rows: list[str]) -> None:
    verify, out = _timed(project, "verify")
    assert out.startswith(f"OK: {count} reports"), out
    since = (T0 + timedelta(minutes=10 * count) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    listed, out = _timed(project, "list", "--since", since)
    rows.append(
        f"{count:>8} {verify:>10.2f} s {verify / count * 1e3:>8.3f} ms "
        f"{listed * 1e3:>10.1f} ms {len(out.splitlines()):>8}"
    )


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    # As on an installed system: every Python tool may read and write its .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = args.dir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    project = Path(tempfile.mkdtemp(prefix="bench-evidence-", dir=base))
    store = EvidenceStore(project / "evidence", keep_artifacts=20)
    rng = random.Random(42)
    rows = [f"{'reports':>8} {'verify':>12} {'per report':>11} {'list --since':>13} {'listed':>8}"]
    checkpoints = sorted({min(1000, args.reports), args.reports})
    write_time, written = 0.0, 0
    try:
        for target in checkpoints:
            while written < target:
                draft = make_draft(rng, written)
                start = time.perf_counter()
                store.write(draft)
                write_time += time.perf_counter() - start
                written += 1
            _measure(project, written, rows)
        size = sum(p.stat().st_size for p in (project / "evidence").rglob("*.yaml"))
        print(f"store: {project / 'evidence'}  ({size / written / 1024:.1f} KiB per report)")
        print(f"write: {write_time / written * 1e3:.2f} ms per report (store API, incl. fsync)")
        print("\n".join(rows))
    finally:
        shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()
