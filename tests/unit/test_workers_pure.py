"""The pure parts of workers per segment: which host goes where, what travels, the
content comparison, the broker URL and password, and the run core's split between
hosts run here and hosts sent to a segment's workers (with a Remote of our own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from butler_maint.checks.runner import CheckResult, HostRun
from butler_maint.errors import ButlerError, ContentError, InventoryError
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.config import BrokerSettings, load_config
from butler_maint.model.status import Status
from butler_maint.runs.checklist import (
    Attestation,
    ChecklistJob,
    Gather,
    job_results,
    real_reach,
    run_checklist_job,
)
from butler_maint.runs.stop import Stop
from butler_maint.workers.broker import broker_for, shown
from butler_maint.workers.content import difference
from butler_maint.workers.segments import segment_of, split
from butler_maint.workers.shard import Content, from_wire, to_wire


def host(name: str, segment: str | None = None) -> HostInfo:
    extra = {"butler_segment": segment} if segment else {}
    return HostInfo(name, {"ansible_connection": "local", **extra})


def test_hosts_go_to_their_segment_and_the_others_stay_here() -> None:
    here, away = split([host("h1"), host("d1", "dmz"), host("p1", "pci"), host("d2", "dmz")])
    assert [h.name for h in here] == ["h1"]
    assert {s: [h.name for h in hs] for s, hs in away.items()} == {
        "dmz": ["d1", "d2"], "pci": ["p1"],
    }  # fmt: skip
    assert segment_of(HostInfo("x", {"butler_segment": ""})) is None


def test_a_segment_name_that_cannot_be_a_queue_name_is_refused() -> None:
    with pytest.raises(InventoryError, match="host x: butler_segment 'DMZ zone' is not a segment"):
        segment_of(HostInfo("x", {"butler_segment": "DMZ zone"}))


def test_content_differs_by_commit_or_by_any_file() -> None:
    mine = Content(git_commit="a" * 40, files={"checklists/web.yaml": "sha256:1"})
    assert difference(mine, mine) is None
    assert difference(mine, mine.model_copy(update={"git_commit": None})) is None  # no git there
    other = mine.model_copy(update={"git_commit": "b" * 40})
    assert "content commit differs: the controller recorded aaaaaaaaaaaa" in (
        difference(mine, other) or ""
    )
    changed = Content(git_commit=None, files={"checklists/web.yaml": "sha256:2"})
    assert difference(mine, changed) == (
        "content differs at checklists/web.yaml: the controller recorded sha256:1, this worker "
        "has sha256:2"
    )
    extra = Content(files={**mine.files, "waivers/x.yaml": "sha256:3"})
    assert "waivers/x.yaml: the controller recorded no such file" in (difference(mine, extra) or "")


def test_the_password_comes_from_the_environment_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BUTLER_BROKER_PASSWORD", "p@ss:w/rd")
    broker = broker_for(BrokerSettings(url="redis://10.0.0.1:6380/0"), tmp_path)
    assert broker.url == "redis://:p%40ss%3Aw%2Frd@10.0.0.1:6380/0"
    assert broker.shown == "redis://:***@10.0.0.1:6380/0"
    assert (
        shown("Error connecting to redis://u:pw@h:1/0") == "Error connecting to redis://u:***@h:1/0"
    )
    assert broker.queue("dmz") == "butler.dmz"
    assert broker.ssl_options() is None


def test_a_password_file_and_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUTLER_BROKER_PASSWORD", raising=False)
    (tmp_path / "broker.pw").write_text("from-file\n")
    settings = BrokerSettings.model_validate({
        "url": "rediss://broker:6380/0", "password_file": "broker.pw",
        "tls": {"ca_file": "ca.pem"},
    })  # fmt: skip
    broker = broker_for(settings, tmp_path, "rediss://10.1.1.1:6380/0")
    assert broker.url == "rediss://:from-file@10.1.1.1:6380/0"
    tls = broker.ssl_options() or {}
    assert tls["ssl_ca_certs"] == str(tmp_path / "ca.pem") and tls["ssl_cert_reqs"] == 2
    with pytest.raises(ButlerError, match=r"broker\.password_file"):
        broker_for(settings.model_copy(update={"password_file": "nope"}), tmp_path)


def test_broker_settings_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text("broker:\n  url: http://x\n  namespace: Bad Name\n")
    with pytest.raises(ContentError) as caught:
        load_config(tmp_path)
    text = caught.value.render()
    assert "butler.yaml:2:" in text and "broker.url" in text
    assert "butler.yaml:3:" in text and "broker.namespace" in text


def test_host_runs_travel_as_plain_data_and_say_who_ran_them() -> None:
    run = HostRun(
        "d1",
        [CheckResult("d1", "disk", Status.FAIL, observed={"pct": 91}, expected="<= 85", ms=3,
                     message="full", kind="disk", attempts=2)],
        host_key="SHA256:x",
    )  # fmt: skip
    wire = to_wire(run).model_dump(mode="json")
    back = from_wire(type(to_wire(run)).model_validate(wire), "dmz@w2", ["dmz@w1"])
    (result,) = back.results
    assert (result.status, result.observed, result.attempts) == (Status.FAIL, {"pct": 91}, 2)
    assert (result.worker, result.redelivered_from, back.host_key) == (
        "dmz@w2", ("dmz@w1",), "SHA256:x",
    )  # fmt: skip


class FakeRemote:
    """Runs a segment's hosts by answering for them: pass, from worker ``<segment>-w``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []

    def split(self, hosts: list[HostInfo]) -> tuple[list[HostInfo], dict[str, list[HostInfo]]]:
        return split(hosts)

    def send(self, job: ChecklistJob, segment: str, hosts: list[HostInfo]) -> Gather:
        self.sent.append((segment, [h.name for h in hosts]))

        def gather(stop: Stop) -> list[HostRun]:
            return [
                HostRun(h.name, [CheckResult(h.name, c.id, Status.PASS, worker=f"{segment}-w")
                                 for c in job.checklist.checks])
                for h in hosts
            ]  # fmt: skip

        return gather


def test_the_run_core_sends_segments_runs_the_rest_here_and_keeps_the_host_order(
    tmp_path: Path,
) -> None:
    checklist = Checklist.model_validate({
        "checklist": "c", "hosts": "all",
        "checks": [{"id": "echo", "command": {"run": "echo ok", "expect": {"stdout": "ok"}}}],
    })  # fmt: skip
    hosts = [host("d1", "dmz"), host("h1"), host("p1", "pci"), host("d2", "dmz")]
    inventory = Inventory((), None, hosts)
    remote, stop, started = FakeRemote(), Stop(), []
    job = ChecklistJob(checklist, hosts, inventory, [], Attestation("op"))
    reach = real_reach(
        tmp_path, ssh_options(load_config(tmp_path).ssh, tmp_path, False), stop, remote=remote
    )
    runs = run_checklist_job(job, reach, stop, on_start=started.append)
    assert remote.sent == [("dmz", ["d1", "d2"]), ("pci", ["p1"])]
    assert [r.host for r in runs] == ["d1", "h1", "p1", "d2"] and started == [4]
    results = {r.host: r for r in job_results(job, runs)}
    assert {h: r.worker for h, r in results.items()} == {
        "d1": "dmz-w", "h1": None, "p1": "pci-w", "d2": "dmz-w",
    }  # fmt: skip
    assert results["h1"].status == Status.PASS  # really run here, by sh


def test_a_playbook_step_run_here_and_by_workers_is_one_step_in_host_order() -> None:
    from butler_maint.evidence import PlaybookStep, Result
    from butler_maint.evidence.model import HostStats
    from butler_maint.runs.steps import merged

    here = PlaybookStep(
        playbook="playbooks/p.yml", rc=0, status="successful", hosts={"h1": HostStats(ok=1)},
        results=[Result(host="h1", check="t", status=Status.PASS)],
    )  # fmt: skip
    away = PlaybookStep(
        playbook="playbooks/p.yml", rc=2, status="failed",
        hosts={"d1": HostStats(failed=1)},
        results=[Result(host="d1", check="t", status=Status.FAIL, worker="dmz-w")],
    )  # fmt: skip
    step = merged("playbooks/p.yml", [here, away], ["d1", "h1"])
    assert [r.host for r in step.results] == ["d1", "h1"]
    assert (step.rc, step.status, sorted(step.hosts)) == (2, "failed", ["d1", "h1"])
    assert step.results[0].worker == "dmz-w"
