"""Benchmark: the controller's peak memory when a check prints a lot. Not a test.

    .venv/bin/python benchmarks/big_output.py [--mb 200] [--modes cli ssh local]

A check prints ``--mb`` megabytes (``yes ... | head -c``) and a second check prints
``ok`` after it, on one loopback sshd host. Each mode runs as its own process, whose
peak RSS is read from ``wait4`` when it exits:

- ``cli``: ``butler-maint check`` on a content repository with that checklist (the
  report's statuses of both checks are printed too);
- ``ssh``: ``run_ssh`` with the checklist's framed script, alone;
- ``local``: ``run_local`` with the same script.

For the executor modes it also prints what the executor recorded: bytes kept, the full
size and whether the sha256 of the big check's output matches one computed here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness.sshd_fleet import SshdFleet

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LINE = b"0123456789012345678901234567890123456789\n"

EXECUTOR = """
import json, sys
from pathlib import Path
from butler_maint.checks.script import build_script, new_token, parse_output
from butler_maint.inventory import HostInfo
import butler_maint.executors as ex
from butler_maint.executors.local import run_local
from butler_maint.executors.ssh import SshOptions, run_ssh

mode, size, host_vars, known = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
token = new_token()
big = "yes 0123456789012345678901234567890123456789 | head -c %d" % size
script = build_script([("big", big), ("after", "echo ok")], token)
extra = {}
if hasattr(ex, "OutputLimits"):
    extra["limits"] = ex.OutputLimits(frame_marker=(token + " ").encode())
if mode == "ssh":
    host = HostInfo("bench", host_vars)
    options = SshOptions(Path(known), trusted_known_hosts=(), command_timeout=600)
    result = run_ssh(host, script, options, **extra)
else:
    result = run_local(script, deadline_s=600, **extra)
frames, complete = parse_output(result.stdout, token)
cut = result.segment_after(f"{token} B big".encode()) if hasattr(result, "cut") else None
print(json.dumps({
    "status": result.status,
    "kept": len(result.stdout),
    "size": getattr(result, "stdout_size", len(result.stdout)),
    "big_size": cut.size if cut else None,
    "big_sha256": cut.sha256 if cut else None,
    "frames": {f.check_id: [f.raw.rc, f.raw.stdout[:12]] for f in frames},
    "complete": complete,
}))
"""


def expected_sha256(size: int) -> str:
    """sha256 of the first ``size`` bytes of ``yes 0123...``."""
    digest = hashlib.sha256()
    block = LINE * (2**20 // len(LINE))
    left = size
    while left > 0:
        part = block[: min(left, len(block))]
        digest.update(part)
        left -= len(part)
    return digest.hexdigest()


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[int, int, str, float]:
    """Run ``command``; its exit status, peak RSS in KiB, stdout and wall seconds."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return proc.returncode, usage.ru_maxrss, text, time.monotonic() - started


def content_repo(work: Path, fleet: SshdFleet, size: int) -> Path:
    """A content repository running the big check and the one after it."""
    root = work / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "inventories").mkdir()
    fleet.write_inventory(root / "inventories" / "fleet.yml", group="linux")
    checks = [
        {"id": "big", "command": {"run": f"yes {LINE.decode().strip()} | head -c {size}"}},
        {"id": "after", "command": {"run": "echo ok"}},
    ]
    (root / "checklists" / "big.yaml").write_text(
        yaml.safe_dump({"checklist": "big", "hosts": "linux", "checks": checks})
    )
    ssh = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    ssh["command_timeout"] = 600
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/fleet.yml", "ssh": ssh})
    )
    return root


def run_cli(work: Path, fleet: SshdFleet, size: int) -> None:
    root = content_repo(work, fleet, size)
    command = [str(BIN / "butler-maint"), "-C", str(root), "check", "big", "--format", "json"]
    rc, rss, _, wall = measured(command)
    statuses = "?"
    reports = sorted((root / "evidence").rglob("*-big.yaml"))
    if reports:
        report = yaml.safe_load(reports[-1].read_text())
        results = report["steps"][0]["results"]
        statuses = ", ".join(
            f"{r['check']}={r['status']}"
            + (f" (output {r['output'].get('bytes')} B)" if r.get("output") else "")
            for r in results
        )
    print(f"cli    peak RSS {rss / 1024:7.1f} MB  exit {rc}  {wall:5.1f} s  {statuses}")


def run_executor(mode: str, fleet: SshdFleet, size: int) -> None:
    name = next(iter(fleet.hosts))
    host_vars = json.dumps(fleet.host_vars(name))
    command = [sys.executable, "-c", EXECUTOR, mode, str(size), host_vars, str(fleet.known_hosts)]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    rc, rss, out, wall = measured(command, env)
    try:
        facts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"{mode:6} peak RSS {rss / 1024:7.1f} MB  exit {rc}  {wall:5.1f} s  (no result)")
        return
    sha_ok = facts["big_sha256"] == expected_sha256(size) if facts["big_sha256"] else None
    print(
        f"{mode:6} peak RSS {rss / 1024:7.1f} MB  exit {rc}  {wall:5.1f} s  "
        f"{facts['status']}, kept {facts['kept']} of {facts['size']} B, big check "
        f"{facts['big_size']} B sha256 {'matches' if sha_ok else sha_ok}, "
        f"frames {facts['frames']}, complete {facts['complete']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--modes", nargs="+", default=["cli", "ssh", "local"])
    args = parser.parse_args()
    size = args.mb * 10**6
    with tempfile.TemporaryDirectory(prefix="butler-big-") as tmp:
        work = Path(tmp)
        with SshdFleet(work / "fleet", 1, extra_config=[f"SetEnv HOME={work}"]) as fleet:
            print(f"one check printing {args.mb} MB, then one printing 'ok'")
            for mode in args.modes:
                if mode == "cli":
                    run_cli(work, fleet, size)
                else:
                    run_executor(mode, fleet, size)


if __name__ == "__main__":
    main()
