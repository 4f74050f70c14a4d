"""Benchmark: butler-maint at 1,000 inventory hosts, beside the bare paramiko script and
ansible-playbook on the same hosts. Not a test.

    .venv/bin/python benchmarks/bench_scale.py [--hosts 1000] [--sshd 40] [--rounds 3]
        [--phases check window evidence site]

The inventory holds ``--hosts`` names, aliases spread over ``--sshd`` real sshd
processes on 127.0.0.1 (each alias has its own name, its sshd's port and host key), so
a 1,000-host run fits a small machine: the servers share its cores with the client.

Phases (every command runs as its own process, start-up included; peak RSS from
``wait4``):
- check: ``butler-maint check`` (10 checks, forks 20) against the bare paramiko script
  of ``bench_checks.py`` (one connection and one script per host, 20 threads), warmed
  up once, then ``--rounds`` interleaved rounds.
- window: ``butler-maint window run`` (pre-checks, a 3-task playbook, post-checks,
  serial 25 %) against its parts run one after the other on the same batches: per batch
  the paramiko script, ``ansible-playbook --limit BATCH``, the paramiko script again
  (same forks, same ssh arguments, fresh ssh masters). The parts' ansible-playbook
  total is the ansible-playbook every other figure is compared with. One round each by
  default (``--window-rounds``): at 1,000 hosts a round takes minutes.
- evidence: ``report write`` (the store API writing a copy of the latest 1,000-host
  report, in process), ``report show latest``, ``report verify`` and ``kpi`` over the
  reports the phases above wrote.
- site: ``report render --full``, ``report render`` with nothing new, and an
  incremental ``report render`` after each of two new runs per round: a ``check`` of
  every host (every host page lists it) and a 25-host ``check --limit``. Then once more
  in process, to print where the time goes (verify, run pages, host pages, index, KPI).

The hosts' shells start with an empty HOME (sshd ``SetEnv``), as in the other
benchmarks: a slow ``~/.bashrc`` would otherwise be most of what every method measures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_checks import CHECKS, ONE_COMMAND, PARAMIKO_SCRIPT
from bench_play import bare_env

from butler_maint.evidence import EvidenceStore, ReportDraft
from butler_maint.playbooks.runner import stop_strays
from butler_maint.site import render_site
from tests.harness.sshd_fleet import SshdFleet

BIN = Path(sys.executable).parent
FORKS = 20
PLAYBOOK = """\
- name: Three tasks on every host
  hosts: fleet
  gather_facts: false
  tasks:
    - name: kernel release
      ansible.builtin.command: uname -r
      changed_when: false
    - name: maintenance marker
      ansible.builtin.lineinfile:
        path: "{{ sandbox }}/{{ inventory_hostname }}.marker"
        line: maintained
        create: true
        mode: "0644"
    - name: marker present
      ansible.builtin.stat: {path: "{{ sandbox }}/{{ inventory_hostname }}.marker"}
"""


@dataclass
class Timing:
    """Wall seconds and peak RSS (KiB) of the runs of one method."""

    seconds: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float | None:
        return max(self.rss) / 1024 if self.rss else None


@dataclass
class Bench:
    """The fleet, the content repository and every timing taken."""

    work: Path
    fleet: SshdFleet
    hosts: dict[str, int]
    """Inventory name -> sshd port."""
    times: dict[str, Timing] = field(default_factory=dict)
    breakdown: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.work / "content"

    def record(self, name: str, seconds: float, rss: int | None = None) -> None:
        timing = self.times.setdefault(name, Timing())
        timing.seconds.append(seconds)
        if rss:
            timing.rss.append(rss)
        peak = f", peak RSS {rss / 1024:.0f} MB" if rss else ""
        print(f"  {name}: {seconds:.2f} s{peak}", flush=True)


# -- setup ---------------------------------------------------------------------------------


def aliases(fleet: SshdFleet, count: int) -> dict[str, dict[str, Any]]:
    """``count`` inventory hosts over the fleet's sshd, round robin."""
    real = list(fleet.hosts)
    width = len(str(count))
    found = {}
    for n in range(count):
        host = real[n % len(real)]
        found[f"node{n + 1:0{width}d}"] = {
            **fleet.host_vars(host),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    return found


def write_content(root: Path, fleet: SshdFleet, count: int) -> dict[str, int]:
    """Checklist, playbook, window, inventory and butler.yaml; return name -> port."""
    for sub in ("checklists", "playbooks", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    checks = [{"id": name, **cast(dict[str, object], spec)} for name, _, spec in CHECKS]
    doc = {"checklist": "bench", "hosts": "fleet", "checks": checks}
    (root / "checklists" / "bench.yaml").write_text(yaml.safe_dump(doc))
    (root / "playbooks" / "bench.yml").write_text(PLAYBOOK)
    opens = (datetime.now(UTC).hour + 12) % 24  # an ad hoc run is never in an occurrence
    window = {
        "window": "bench", "timezone": "UTC", "every": f"0 {opens} * * *", "duration": "3h",
        "hosts": "fleet", "serial": "25%",
        "steps": [{"checklist": "bench"}, {"playbook": "playbooks/bench.yml"},
                  {"checklist": "bench"}],
    }  # fmt: skip
    (root / "schedules" / "bench.yaml").write_text(yaml.safe_dump(window, sort_keys=False))
    hosts = aliases(fleet, count)
    inventory = {"all": {"children": {"fleet": {"hosts": hosts}}}}
    (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    settings = {
        "inventory": "inventories/hosts.yml",
        "forks": FORKS,
        "ssh": {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False},
    }
    (root / "butler.yaml").write_text(yaml.safe_dump(settings))
    return {name: int(v["ansible_port"]) for name, v in hosts.items()}


# -- methods -------------------------------------------------------------------------------


def run(argv: Sequence[str], env: dict[str, str] | None = None, ok: Sequence[int] = (0,)) -> int:
    """Run a command to the end; return its peak RSS in KiB (``wait4``)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {code}: {err.decode()[-1500:]}")
    return int(usage.ru_maxrss)


def timed(bench: Bench, name: str, method: Callable[[], int | None]) -> None:
    started = time.perf_counter()
    rss = method()
    bench.record(name, time.perf_counter() - started, rss)


def butler(bench: Bench, *args: str, ok: Sequence[int] = (0,)) -> int:
    return run([str(BIN / "butler-maint"), "-C", str(bench.root), *args], ok=ok)


def paramiko_script(bench: Bench, names: Sequence[str]) -> int:
    """The bare paramiko script on ``names`` (their ports; aliases repeat ports)."""
    script = bench.work / "paramiko_script.py"
    if not script.exists():
        script.write_text(PARAMIKO_SCRIPT)
    fleet = bench.fleet
    ports = [bench.hosts[n] for n in names]
    args = [ports, fleet.user, str(fleet.client_key), str(fleet.known_hosts), ONE_COMMAND]
    return run([sys.executable, str(script), json.dumps(args)])


def ansible_playbook(bench: Bench, names: Sequence[str]) -> int:
    """Bare ansible-playbook on ``names``, with the environment butler-maint gives it."""
    marker = secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="bench-bare-", dir=bench.work) as tmp:
        env = bare_env(bench.fleet, Path(tmp), marker)
        limit = Path(tmp) / "limit"
        limit.write_text("\n".join(names) + "\n")
        argv = [
            str(BIN / "ansible-playbook"), "-i", str(bench.root / "inventories" / "hosts.yml"),
            "--forks", str(FORKS), "--limit", f"@{limit}",
            str(bench.root / "playbooks" / "bench.yml"),
        ]  # fmt: skip
        try:
            return run(argv, env)
        finally:
            stop_strays(marker, [Path(tmp)])


def window_parts(bench: Bench) -> int:
    """What the window does, by its parts: per 25 % batch, checks, playbook, checks.
    Records the parts' own totals too (the playbook's is the ansible-playbook column)."""
    names = list(bench.hosts)
    size = -(-len(names) // 4)
    peak, spent = 0, {"script": 0.0, "playbook": 0.0}
    for start in range(0, len(names), size):
        batch = names[start : start + size]
        for part, method in (
            ("script", paramiko_script), ("playbook", ansible_playbook), ("script", paramiko_script)
        ):  # fmt: skip
            began = time.perf_counter()
            peak = max(peak, method(bench, batch))
            spent[part] += time.perf_counter() - began
    bench.record(PLAYBOOK_PART, spent["playbook"])
    bench.record("  of which paramiko script, 8 runs", spent["script"])
    return peak


# -- phases --------------------------------------------------------------------------------


def phase_check(bench: Bench, rounds: int) -> None:
    print(f"check: warm-up; {load()}", flush=True)
    paramiko_script(bench, list(bench.hosts))
    butler(bench, "check", "bench", "--format", "json")
    for n in range(rounds):
        print(f"check: round {n + 1}", flush=True)
        pair = [
            ("paramiko script (check)", lambda: paramiko_script(bench, list(bench.hosts))),
            ("butler-maint check", lambda: butler(bench, "check", "bench", "--format", "json")),
        ]
        for name, method in pair if n % 2 else reversed(pair):
            timed(bench, name, method)


def phase_window(bench: Bench, rounds: int) -> None:
    for n in range(rounds):
        print(f"window: round {n + 1}; {load()}", flush=True)
        pair = [
            ("window parts (script + ansible-playbook + script)", lambda: window_parts(bench)),
            ("butler-maint window run", lambda: butler(bench, "window", "run", "bench")),
        ]
        for name, method in pair if n % 2 else reversed(pair):
            timed(bench, name, method)


def _draft_of_latest(store: EvidenceStore) -> ReportDraft:
    report = store.load("latest")
    fields = {k: getattr(report, k) for k in ReportDraft.model_fields if hasattr(report, k)}
    return ReportDraft(**fields)


def phase_evidence(bench: Bench, rounds: int) -> None:
    store = EvidenceStore(bench.root / "evidence")
    draft = _draft_of_latest(store)
    size = store.path_of("latest").stat().st_size
    print(f"evidence: latest report {size / 1e6:.2f} MB", flush=True)
    for n in range(rounds):
        print(f"evidence: round {n + 1}; {load()}", flush=True)
        copy = EvidenceStore(bench.work / f"write-{n}" / "evidence")
        started = time.perf_counter()
        copy.write(draft)
        bench.record("report write (store API)", time.perf_counter() - started)
        timed(bench, "report show latest", lambda: butler(bench, "report", "show", "latest"))
        timed(bench, "report verify", lambda: butler(bench, "report", "verify"))
        timed(bench, "kpi", lambda: butler(bench, "kpi"))


def phase_site(bench: Bench, rounds: int) -> None:
    site = bench.work / "site"
    every = f"site render after a {len(bench.hosts):,}-host run"

    def render(*extra: str) -> int:
        return butler(bench, "report", "render", "--out", str(site), *extra)

    def new_run(count: int) -> None:
        names = ",".join(list(bench.hosts)[:count])
        butler(bench, "check", "bench", "--format", "json", "--limit", names)

    reports = len(list((bench.root / "evidence").rglob("*.yaml")))
    print(f"site: {reports} reports", flush=True)
    render()  # warm-up
    for n in range(rounds):
        print(f"site: round {n + 1}; {load()}", flush=True)
        timed(bench, "site render, full", lambda: render("--full"))
        timed(bench, "site render, nothing new", render)
        new_run(len(bench.hosts))
        timed(bench, every, render)
        new_run(25)
        timed(bench, "site render after a 25-host run", render)
    print("site: where the time goes (in process, start-up excluded)", flush=True)
    for count in (len(bench.hosts), 25):
        new_run(count)
        outcome = render_site(bench.root / "evidence", site, project_root=bench.root)
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in outcome.seconds.items())
        print(f"  after a {count}-host run: {len(outcome.pages)} pages written; {parts}")
        bench.breakdown.append(
            f"after a {count}-host run: {len(outcome.pages)} pages written; {parts}"
        )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (1 min), {five:.1f} (5 min)"


# -- the table -----------------------------------------------------------------------------

PLAYBOOK_PART = "  of which ansible-playbook, 4 runs"
TARGETS = {
    "butler-maint check": "<= 1.0x paramiko script, < 150 MB",
    "butler-maint window run": "<= 1.10x its parts",
    "report write (store API)": "< 1 s",
    "site render after a 1,000-host run": "< 1 s",
    "site render after a 25-host run": "< 1 s",
}


def table(bench: Bench, count: int, sshd: int) -> None:
    script = bench.times.get("paramiko script (check)")
    book = bench.times.get(PLAYBOOK_PART)
    print(f"\n{count} inventory hosts over {sshd} sshd; medians of each method's rounds")
    print("| what | runs | s | / paramiko script | / ansible-playbook | peak RSS | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, timing in bench.times.items():
        s = timing.median
        by_script = f"{s / script.median:.2f}x" if script else ""
        by_book = f"{s / book.median:.2f}x" if book else ""
        rss = f"{timing.peak_mb:.0f} MB" if timing.peak_mb else ""
        target = TARGETS.get(name, "")
        print(
            f"| {name} | {len(timing.seconds)} | {s:.2f} | {by_script} | {by_book} | {rss} "
            f"| {target} |"
        )
    ours = bench.times.get("butler-maint window run")
    parts = bench.times.get("window parts (script + ansible-playbook + script)")
    if ours and parts:
        print(
            f"window overhead over its parts: {(ours.median / parts.median - 1) * 100:+.1f} % "
            "(target <= 10 %)"
        )
    check = bench.times.get("butler-maint check")
    if check and script:
        print(f"check / paramiko script: {check.median / script.median:.2f}x (target <= 1.0x)")
    for line in bench.breakdown:
        print(f"site render {line}")
    print(f"at the end: {load()} on {os.cpu_count()} CPUs")


@contextmanager
def bench_fleet(count: int, sshd: int) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        home = work / "remote-home"
        (home / ".ansible" / "tmp").mkdir(parents=True, mode=0o700)
        with SshdFleet(work / "fleet", sshd, extra_config=[f"SetEnv HOME={home}"]) as fleet:
            hosts = write_content(work / "content", fleet, count)
            yield Bench(work, fleet, hosts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000, help="inventory hosts")
    parser.add_argument("--sshd", type=int, default=40, help="sshd processes behind them")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window-rounds", type=int, default=1)
    phases = ["check", "window", "evidence", "site"]
    parser.add_argument("--phases", nargs="+", choices=phases, default=phases)
    args = parser.parse_args()
    # As on an installed system: every Python tool may read and write its .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    began = time.perf_counter()
    print(f"start: {load()} on {os.cpu_count()} CPUs", flush=True)
    with bench_fleet(args.hosts, args.sshd) as bench:
        if "check" in args.phases:
            phase_check(bench, args.rounds)
        if "window" in args.phases:
            phase_window(bench, args.window_rounds)
        if not (bench.root / "evidence").is_dir():  # the later phases read reports
            butler(bench, "check", "bench", "--format", "json")
        if "evidence" in args.phases:
            phase_evidence(bench, args.rounds)
        if "site" in args.phases:
            phase_site(bench, args.rounds)
        table(bench, args.hosts, args.sshd)
    print(f"benchmark wall time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
