"""Workers per network segment against the real things: redis-server as the broker,
``butler-maint worker`` processes inside network namespaces, real sshd hosts in each
segment reachable only from inside it, and the ``butler-maint`` CLI as the controller."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.model import Report, iso_z
from butler_maint.model.config import load_config
from tests.harness.segments import REDIS, Netns, Redis, Worker
from tests.harness.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(REDIS).exists(),
    reason="needs root (network namespaces) and redis-server (scripts/test.sh installs it)",
)

PASSWORD = "s3cret-broker-pw"
# Waits (at most 30 s) until the test opens the gate: a shard that runs until then.
GATE = "for i in $(seq 300); do [ -e {{ sandbox }}/go ] && break; sleep 0.1; done; "
BUTLER = str(Path(sys.executable).with_name("butler-maint"))
QUICK = {
    "checklist": "quick",
    "hosts": "all",
    "checks": [{"id": "echo", "command": {"run": "echo up", "expect": {"stdout": "up"}}}],
}
SLOW = {
    "checklist": "slow",
    "hosts": "all",
    "checks": [{"id": "gated", "command": {"run": GATE + "echo up", "expect": {"stdout": "up"}}}],
}


MARK = [{
    "hosts": "all", "gather_facts": False,
    "tasks": [{"name": "mark the host", "ansible.builtin.shell":
               GATE + "echo played >> {{ sandbox }}/played"}],
}]  # fmt: skip
OPENS = (datetime.now(UTC).hour + 12) % 24  # never inside an occurrence: ad hoc runs
PATCH = {
    "window": "patch", "timezone": "UTC", "every": f"0 {OPENS} * * *", "duration": "3h",
    "hosts": "all", "steps": [{"checklist": "quick"}, {"playbook": "playbooks/mark.yml"}],
}  # fmt: skip
SLOW_PATCH = {
    **PATCH, "window": "slowpatch",
    "steps": [{"playbook": "playbooks/mark.yml"}],
}  # fmt: skip


@dataclass
class Site:
    """A content repository whose hosts sit in two segments (a, b) and one here."""

    root: Path
    broker: Redis
    segments: dict[str, Netns]
    namespace: str
    logs: Path
    workers: list[Worker]
    sandboxes: dict[str, Path]
    runs: list[subprocess.Popen[str]] = field(default_factory=list)

    def open_gates(self) -> None:
        for box in self.sandboxes.values():
            (box / "go").touch()

    def played(self) -> dict[str, int]:
        """How many times the playbook ran its task on each host."""
        marks = {name: box / "played" for name, box in self.sandboxes.items()}
        return {n: len(m.read_text().splitlines()) if m.exists() else 0 for n, m in marks.items()}

    def worker(self, segment: str, name: str, root: Path | None = None) -> Worker:
        ns = self.segments[segment]
        started = Worker(
            root or self.root, ns, segment, name, broker_url=self.broker.url(ns.host_addr),
            env={"BUTLER_BROKER_PASSWORD": PASSWORD}, log=self.logs / f"{name}.log",
        )  # fmt: skip
        self.workers.append(started)
        started.wait_ready()  # a shard waits worker_timeout (4 s) only: start workers first
        return started

    def butler(self, *args: str, password: bool = True) -> subprocess.Popen[str]:
        env = {**os.environ, "BUTLER_BROKER_PASSWORD": PASSWORD if password else ""}
        proc = subprocess.Popen(
            [BUTLER, "-C", str(self.root), *args], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.runs.append(proc)
        return proc

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.butler(*args)
        out, err = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def report(self) -> Report:
        store = EvidenceStore.for_project(self.root, load_config(self.root).evidence)
        return store.load("latest")

    def redis(self) -> redis.Redis:
        return redis.Redis(port=self.broker.port, password=PASSWORD)

    def wait_owner(self, name: str | None = None) -> str:
        """The worker holding a shard (``name``'s, when given), once one holds one.
        Generous: workers start slowly on a loaded machine."""
        client = self.redis()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for key in client.keys(f"{self.namespace}:butler:shard:*:owner"):
                holder = client.get(key)
                if holder and (name is None or holder.decode() == name):
                    return str(holder.decode())
            time.sleep(0.05)
        raise AssertionError(f"no worker {name or ''} took a shard")

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()


def _fleet_inventory(fleets: dict[str | None, SshdFleet]) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    for segment, fleet in fleets.items():
        for name in fleet.hosts:
            extra = {"butler_segment": segment} if segment else {}
            python = {"ansible_python_interpreter": "/usr/bin/python3"}
            hosts[name] = {**fleet.host_vars(name), **python, **extra}
    return {"all": {"hosts": hosts}}


@pytest.fixture(scope="module")
def site(
    sshd_fleet_factory: FleetFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("workers")
    segments = {}
    fleets: dict[str | None, SshdFleet] = {}
    broker = None
    try:
        for index, name in enumerate(("a", "b")):
            segments[name] = Netns.create(index)
            fleets[name] = SshdFleet(
                base / f"fleet-{name}", 2, prefix=name, netns=segments[name].name
            )
        fleets[None] = sshd_fleet_factory(1, prefix="here")
        broker = Redis(base / "redis", PASSWORD, [ns.host_addr for ns in segments.values()])
        root = base / "repo"
        for sub in ("checklists", "inventories", "logs", "playbooks", "schedules"):
            (root / sub).mkdir(parents=True)
        namespace = f"t{os.getpid()}"
        config = {
            "inventory": "inventories/hosts.yml",
            "ssh": {"known_hosts": "known_hosts", "system_known_hosts": False},
            "broker": {
                "url": broker.url(), "namespace": namespace,
                "visibility_timeout": 2, "worker_timeout": 4,
            },
        }  # fmt: skip
        (root / "butler.yaml").write_text(yaml.safe_dump(config))
        (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump(_fleet_inventory(fleets)))
        (root / "known_hosts").write_text(
            "".join(f.known_hosts.read_text() for f in fleets.values())
        )
        (root / "playbooks" / "mark.yml").write_text(yaml.safe_dump(MARK, sort_keys=False))
        for window in (PATCH, SLOW_PATCH):
            (root / "schedules" / f"{window['window']}.yaml").write_text(yaml.safe_dump(window))
        for checklist in (QUICK, SLOW):
            (root / "checklists" / f"{checklist['checklist']}.yaml").write_text(
                yaml.safe_dump(checklist)
            )
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "."], check=True)
        subprocess.run(
            ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org",
             "commit", "-qm", "content"], check=True,
        )  # fmt: skip
        sandboxes = {n: h.sandbox for f in fleets.values() for n, h in f.hosts.items()}
        site = Site(root, broker, segments, namespace, root / "logs", [], sandboxes)
        yield site
        site.stop_workers()
    finally:
        if broker is not None:
            broker.stop()
        for segment, fleet in fleets.items():
            if segment is not None:
                fleet.close()
        for ns in segments.values():
            ns.delete()


@pytest.fixture
def clean(site: Site) -> Iterator[Site]:
    site.redis().flushall()
    for box in site.sandboxes.values():
        (box / "played").unlink(missing_ok=True)
        (box / "go").unlink(missing_ok=True)
    yield site
    site.stop_workers()
    for proc in site.runs:  # a test that failed early leaves its run behind: end it
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    site.runs.clear()


def _by_host(report: Report) -> dict[str, Any]:
    return {r.host: r for r in report.steps[0].results}  # type: ignore[union-attr]


def test_one_report_with_every_host_and_the_worker_of_each(clean: Site) -> None:
    clean.worker("a", "wa1")
    clean.worker("b", "wb1")
    done = clean.run("check", "quick")
    assert done.returncode == 0, done.stderr
    results = _by_host(clean.report())
    assert sorted(results) == ["a01", "a02", "b01", "b02", "here01"]
    assert {h: r.status for h, r in results.items()} == dict.fromkeys(results, "pass")
    assert results["a01"].worker == results["a02"].worker == "wa1"
    assert results["b01"].worker == results["b02"].worker == "wb1"
    assert results["here01"].worker is None  # run by the controller itself
    evidence = "".join(p.read_text() for p in (clean.root / "evidence").rglob("*.yaml"))
    assert PASSWORD not in evidence and PASSWORD not in done.stderr + done.stdout


def test_a_window_runs_checklist_and_playbook_steps_on_the_segments_workers(
    clean: Site,
) -> None:
    clean.worker("a", "wa1")
    clean.worker("b", "wb1")
    clean.open_gates()
    done = clean.run("window", "run", "patch")
    assert done.returncode == 0, done.stderr
    report = clean.report()
    checked, played = report.steps
    workers = {"a01": "wa1", "a02": "wa1", "b01": "wb1", "b02": "wb1", "here01": None}
    assert {r.host: r.worker for r in checked.results} == workers
    assert {r.host: r.worker for r in played.results} == workers
    assert {r.host: r.status for r in played.results} == dict.fromkeys(workers, "pass")
    assert sorted(played.hosts) == sorted(workers)  # type: ignore[union-attr]
    assert clean.played() == dict.fromkeys(workers, 1)


def test_a_playbook_shard_whose_worker_was_killed_is_never_run_twice(clean: Site) -> None:
    first = clean.worker("a", "wa1")
    clean.worker("b", "wb1")
    run = clean.butler("window", "run", "slowpatch")
    clean.wait_owner("wa1")
    clean.worker("a", "wa2").wait_ready()
    first.kill()
    clean.open_gates()
    _out, err = run.communicate(timeout=90)
    assert run.returncode == 1, err
    results = {r.host: r for r in clean.report().steps[0].results}
    for host in ("a01", "a02"):
        assert results[host].status == "error"
        assert results[host].worker == "wa2" and results[host].redelivered_from == ["wa1"]
        assert "taken before by wa1" in (results[host].message or "")
        assert "not run again" in (results[host].message or "")
    assert [results[h].status for h in ("b01", "b02", "here01")] == ["pass"] * 3
    assert max(clean.played().values()) == 1  # no host ran the task twice (so far: the
    # killed worker's ansible-playbook may still finish its one run on a01/a02)


def test_segment_hosts_are_unreachable_from_the_controller(clean: Site) -> None:
    """The premise: without its worker a segment's host cannot be reached from here."""
    inventory = yaml.safe_load((clean.root / "inventories" / "hosts.yml").read_text())
    port = inventory["all"]["hosts"]["a01"]["ansible_port"]
    probe = subprocess.run(
        ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True, check=False
    )
    assert probe.returncode != 0


def test_a_killed_worker_s_shard_is_taken_by_another_worker_of_its_segment(clean: Site) -> None:
    first = clean.worker("a", "wa1")
    clean.worker("b", "wb1")
    run = clean.butler("check", "slow")
    assert clean.wait_owner("wa1") == "wa1"
    clean.worker("a", "wa2").wait_ready()  # idle: wa1 took the segment's only shard
    first.kill()
    clean.open_gates()
    _out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    results = _by_host(clean.report())
    assert {h: r.status for h, r in results.items()} == dict.fromkeys(results, "pass")
    assert results["a01"].worker == "wa2"
    assert results["a01"].redelivered_from == ["wa1"]
    assert results["b01"].worker == "wb1" and results["b01"].redelivered_from is None


def test_without_another_worker_the_segment_s_hosts_are_error_and_the_rest_completes(
    clean: Site,
) -> None:
    first = clean.worker("a", "wa1")
    clean.worker("b", "wb1")
    run = clean.butler("check", "slow")
    clean.wait_owner("wa1")
    first.kill()
    clean.open_gates()
    _out, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    results = _by_host(clean.report())
    for host in ("a01", "a02"):
        assert results[host].status == "error"
        assert "worker wa1 of segment a stopped" in (results[host].message or "")
    assert [results[h].status for h in ("b01", "b02", "here01")] == ["pass"] * 3


def test_no_worker_for_a_segment_within_the_timeout(clean: Site) -> None:
    clean.worker("b", "wb1")
    done = clean.run("check", "quick")
    assert done.returncode == 1
    results = _by_host(clean.report())
    assert results["a01"].status == "error"
    assert "no worker of segment a took the shard within 4 s" in (results["a01"].message or "")
    assert [results[h].status for h in ("b01", "b02", "here01")] == ["pass"] * 3


def test_a_worker_with_other_content_refuses_the_shard(clean: Site, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(clean.root, other, ignore=shutil.ignore_patterns("evidence", "logs"))
    (other / "logs").mkdir()
    changed = {**QUICK, "checks": [{"id": "echo", "command": {"run": "echo other"}}]}
    (other / "checklists" / "quick.yaml").write_text(yaml.safe_dump(changed))
    clean.worker("a", "wa1")
    clean.worker("b", "wb-other", root=other)
    done = clean.run("check", "quick")
    assert done.returncode == 1
    results = _by_host(clean.report())
    message = results["b01"].message or ""
    assert results["b01"].status == "error"
    assert "worker wb-other of segment b refused the shard: content differs at " in message
    assert "checklists/quick.yaml" in message
    assert results["a01"].status == "pass"


def test_broker_down_is_a_clear_error_and_nothing_is_recorded(
    clean: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "down"
    shutil.copytree(clean.root, other, ignore=shutil.ignore_patterns("evidence", "logs", ".git"))
    config = yaml.safe_load((other / "butler.yaml").read_text())
    config["broker"]["url"] = f"redis://127.0.0.1:{clean.broker.port + 1}/0"  # nobody there
    (other / "butler.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("BUTLER_BROKER_PASSWORD", PASSWORD)
    done = CliRunner().invoke(cli, ["-C", str(other), "check", "quick"])
    assert done.exit_code == 3, done.output
    assert "broker redis://:***@127.0.0.1:" in done.output and "unreachable" in done.output
    assert PASSWORD not in done.output
    assert not (other / "evidence").exists() or not list((other / "evidence").rglob("*.yaml"))


def _controller(base: Path, name: str, broker_url: str, namespace: str) -> Path:
    """A controller's own clone of the content, with its own evidence, one broker."""
    root = base / name
    for sub in ("checklists", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    checklist = {"checklist": "health", "hosts": "all", "checks": [QUICK["checks"][0]]}
    (root / "checklists" / "health.yaml").write_text(yaml.safe_dump(checklist))
    routine = {"routine": "hourly", "timezone": "UTC", "every": "0 * * * *",
               "duration": "30m", "checklist": "health"}  # fmt: skip
    (root / "schedules" / "hourly.yaml").write_text(yaml.safe_dump(routine))
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}}
    (root / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    config = {"inventory": "inventories/local.yml",
              "broker": {"url": broker_url, "namespace": namespace}}  # fmt: skip
    (root / "butler.yaml").write_text(yaml.safe_dump(config))
    return root


def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _reports(root: Path) -> list[Path]:
    return (
        sorted((root / "evidence").rglob("*-health.yaml")) if (root / "evidence").exists() else []
    )


def test_two_run_due_controllers_run_each_occurrence_once(clean: Site, tmp_path: Path) -> None:
    roots = [_controller(tmp_path, n, clean.broker.url(), clean.namespace) for n in ("c1", "c2")]
    env = {**os.environ, "BUTLER_BROKER_PASSWORD": PASSWORD}
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    for at in (hour + timedelta(minutes=5), hour + timedelta(minutes=10)):  # twice each
        argv = ["run-due", "--at", at.isoformat()]
        calls = [_popen([BUTLER, "-C", str(root), *argv], env) for root in roots]
        for call in calls:
            _out, err = call.communicate(timeout=60)
            assert (call.returncode, err) == (0, "")
    ran = [len(_reports(root)) for root in roots]
    assert sorted(ran) == [0, 1]  # one controller ran the occurrence, once
    claim = clean.redis().get(f"{clean.namespace}:butler:occurrence:hourly:{iso_z(hour)}")
    assert claim is not None and claim.decode().startswith("done ")


def test_run_due_with_the_broker_down_runs_nothing(clean: Site, tmp_path: Path) -> None:
    down = f"redis://127.0.0.1:{clean.broker.port + 1}/0"
    root = _controller(tmp_path, "c3", down, clean.namespace)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    done = subprocess.run(
        [BUTLER, "-C", str(root), "run-due", "--at", (hour + timedelta(minutes=5)).isoformat()],
        env={**os.environ, "BUTLER_BROKER_PASSWORD": PASSWORD}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "hourly" in done.stderr and "refused" in done.stderr and "unreachable" in done.stderr
    assert PASSWORD not in done.stderr
    assert _reports(root) == []
