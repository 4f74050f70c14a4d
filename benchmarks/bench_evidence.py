"""Benchmark of the evidence store (not a test).

Writes N realistic reports (5 hosts x 10 checks, some failures, messages and a long
output now and then) through the real store API into two stores, one unsigned
(``signing: off``) and one signed (``signing: required``, an ed25519 key listed in
``allowed_signers``, every head anchored in a witness file), then times ``report
verify`` and ``report list --since`` (index) of both at 1,000 reports and at N, and
prints the signed/unsigned ratio. The signed store's reports are signed in-process
(the SSHSIG format ``ssh-keygen -Y sign`` writes, built with ``cryptography``) so that
writing 10,000 of them does not start 10,000 ``ssh-keygen`` processes; verify checks
them exactly as it checks those ssh-keygen made.

    .venv/bin/python benchmarks/bench_evidence.py [--reports N] [--dir DIR]

The store goes to /dev/shm when it exists (fsync is free there: this measures the
code, not the disk).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

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
from butler_maint.evidence.sshsig import SigningKey

SIGNED_CONFIG = """signing: {mode: required}
evidence: {witness: witness/heads.jsonl}
"""


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class InProcessKey(SigningKey):
    """An ed25519 key that signs in this process, in the SSHSIG format."""

    private: Ed25519PrivateKey | None = None

    @classmethod
    def generate(cls, principal: str) -> InProcessKey:
        """A new key for ``principal``."""
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        blob = _string(b"ssh-ed25519") + _string(raw)
        return cls(Path("(in process)"), blob, principal, private)

    @property
    def line(self) -> str:
        """The ``allowed_signers`` line of the key."""
        return f"{self.principal} ssh-ed25519 {base64.b64encode(self.public).decode()}"

    def sign(self, message: bytes, namespace: str) -> str:
        """The base64 SSHSIG blob of ``message`` in ``namespace``."""
        assert self.private is not None
        digest = hashlib.sha512(message).digest()
        preamble = b"SSHSIG" + _string(namespace.encode()) + _string(b"")
        signed = preamble + _string(b"sha512") + _string(digest)
        signature = _string(b"ssh-ed25519") + _string(self.private.sign(signed))
        blob = (
            b"SSHSIG" + (1).to_bytes(4, "big") + _string(self.public)
            + _string(namespace.encode()) + _string(b"") + _string(b"sha512")
            + _string(signature)
        )  # fmt: skip
        return base64.b64encode(blob).decode()


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


def _observed(rng: random.Random, check: str) -> int | float | str:
    """What a check of that name observes: a percentage, a load average, a state."""
    if check.startswith("disk"):
        return rng.randint(1, 99)
    if check == "load":
        return round(rng.random() * 4, 2)  # a number RFC 8785 writes its own way
    return "active"


def _result(rng: random.Random, host: str, check: str) -> Result:
    status = rng.choices(list(Status)[:5], weights=[90, 5, 1, 3, 1])[0]
    output = Output(text="x" * 6000) if rng.random() < 0.01 else None
    return Result(
        host=host,
        check=check,
        status=status,
        observed=_observed(rng, check),
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


def _measure(label: str, project: Path, count: int, rows: list[str]) -> float:
    verify, out = _timed(project, "verify")
    assert out.startswith(f"OK: {count} reports"), out
    since = (T0 + timedelta(minutes=10 * count) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    listed, out = _timed(project, "list", "--since", since)
    rows.append(
        f"{label:<9}{count:>8} {verify:>10.2f} s {verify / count * 1e3:>8.3f} ms "
        f"{listed * 1e3:>10.1f} ms {len(out.splitlines()):>8}"
    )
    return verify


@dataclass
class _Bench:
    """One store being filled: its project, signer, time spent writing."""

    label: str
    project: Path
    signer: InProcessKey | None
    store: EvidenceStore
    rng: random.Random
    write_time: float = 0.0
    written: int = 0

    def fill(self, target: int) -> None:
        while self.written < target:
            draft = make_draft(self.rng, self.written)
            start = time.perf_counter()
            self.store.write(draft, signer=self.signer)
            self.write_time += time.perf_counter() - start
            self.written += 1


def _bench(label: str, base: Path | None, signed: bool) -> _Bench:
    project = Path(tempfile.mkdtemp(prefix=f"bench-evidence-{label}-", dir=base))
    signer = None
    witness = None
    if signed:
        signer = InProcessKey.generate("cron@bastion")
        (project / "allowed_signers").write_text(signer.line + "\n")
        (project / "butler.yaml").write_text(SIGNED_CONFIG)
        witness = project / "witness" / "heads.jsonl"
    store = EvidenceStore(project / "evidence", keep_artifacts=20, witness=witness)
    return _Bench(label, project, signer, store, random.Random(42))


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    # As on an installed system: every Python tool may read and write its .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = args.dir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    benches = [_bench("unsigned", base, False), _bench("signed", base, True)]
    head = f"{'store':<9}{'reports':>8} {'verify':>12} {'per report':>11} {'list --since':>13}"
    rows = [f"{head} {'listed':>8}"]
    checkpoints = sorted({min(1000, args.reports), args.reports})
    try:
        for target in checkpoints:
            times = []
            for bench in benches:
                bench.fill(target)
                times.append(_measure(bench.label, bench.project, target, rows))
            rows.append(f"{'':<9}{target:>8} signed / unsigned verify: {times[1] / times[0]:.2f}x")
        for bench in benches:
            store = bench.project / "evidence"
            size = sum(p.stat().st_size for p in store.rglob("*.yaml"))
            print(
                f"{bench.label}: {size / bench.written / 1024:.1f} KiB per report, write "
                f"{bench.write_time / bench.written * 1e3:.2f} ms per report (store API, fsync)"
            )
        print("\n".join(rows))
    finally:
        for bench in benches:
            shutil.rmtree(bench.project, ignore_errors=True)


if __name__ == "__main__":
    main()
