"""Window rules with a fake reach (no sshd, no ansible): batches, max_fail_percentage,
the window-end cutoff, stops, and which content files a window and `check` hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from butler_maint.checks.base import Verdict
from butler_maint.checks.testinfra import SubResult
from butler_maint.evidence import EvidenceStore, HostStats, PlaybookStep, Report, Result, Status
from butler_maint.executors import Execution, OutputLimits
from butler_maint.executors.local import run_local
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.config import load_config
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.runs.check import CheckRequest, run_check
from butler_maint.runs.checklist import Reach
from butler_maint.runs.occurrence import window_request
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop
from butler_maint.runs.window import run_window

NOW = datetime.now(UTC).replace(microsecond=0)
OPENS = (NOW.hour + 12) % 24  # never inside an occurrence: ad hoc runs get the full length

CHECKLIST = """checklist: health
hosts: linux
checks:
  - id: healthy
    command: {run: "test {{ healthy }} = yes"}
  - id: suite
    testinfra: tests/test_suite.py
"""


class FakeReach:
    """Runs the per-host script with the local ``sh`` (the judging is real); hosts named
    in ``down`` are unreachable; records which hosts were reached, in order."""

    def __init__(self, down: set[str] = frozenset(), stop_after: tuple[Stop, int] | None = None):
        self.down = down
        self.calls: list[str] = []
        self.stop_after = stop_after

    def execute(self, host: HostInfo, script: str, limits: OutputLimits) -> Execution:
        self.calls.append(host.name)
        if host.name in self.down:
            return Execution("unreachable", message="connection refused (fake)")
        done = run_local(script, deadline_s=10, limits=limits)
        if self.stop_after and len(self.calls) == self.stop_after[1]:
            self.stop_after[0].request(15)  # as a signal would, while this host finishes
        return done

    def testinfra(self, host: HostInfo, module: str) -> tuple[Verdict, list[SubResult]]:
        return Verdict("pass", "1 pass", "all tests pass"), [SubResult("test_ok", "pass")]

    def reach(self) -> Reach:
        return Reach(self.execute, self.testinfra)


def content(tmp_path: Path, hosts: int, unhealthy: set[str], **window: object) -> Path:
    root = tmp_path / "content"
    for sub in ("checklists", "schedules", "inventories", "tests", "waivers"):
        (root / sub).mkdir(parents=True)
    (root / "checklists" / "health.yaml").write_text(CHECKLIST)
    (root / "tests" / "test_suite.py").write_text("def test_ok():\n    pass\n")
    waiver = {"hosts": "nowhere", "check": "healthy", "reason": "none of these hosts",
              "ticket": "CHG-1", "approved_by": "cab", "expires": "2099-12-31"}  # fmt: skip
    (root / "waivers" / "none.yaml").write_text(yaml.safe_dump({"waivers": [waiver]}))
    doc: dict[str, object] = {
        "window": "patch", "timezone": "UTC", "every": f"0 {OPENS} * * *", "duration": "3h",
        "hosts": "linux", "steps": [{"checklist": "health"}],
    }  # fmt: skip
    doc.update(window)
    (root / "schedules" / "patch.yaml").write_text(yaml.safe_dump(doc))
    names = [f"h{i:02d}" for i in range(1, hosts + 1)]
    inventory = {
        "linux": {
            "hosts": {
                n: {"ansible_host": "127.0.0.1", "healthy": "no" if n in unhealthy else "yes"}
                for n in names
            }
        }
    }
    (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (root / "butler.yaml").write_text("inventory: inventories/hosts.yml\n")
    return root


def target(root: Path) -> Target:
    inventory = Inventory.load([root / "inventories" / "hosts.yml"])
    return Target(root, load_config(root), inventory, "op@test")


def run(root: Path, reach: FakeReach, stop: Stop | None = None, **kwargs: object) -> Report:
    request = window_request(target(root), "patch", now=NOW, occurrence=None)
    outcome = run_window(request, stop or Stop(), reach=reach.reach(), **kwargs)  # type: ignore[arg-type]
    return EvidenceStore(root / "evidence").load(outcome.written.id)


def statuses(report: Report, step: int = 0) -> dict[str, set[str]]:
    by_host: dict[str, set[str]] = {}
    for result in report.steps[step].results:
        by_host.setdefault(result.host, set()).add(str(result.status))
    return by_host


def test_batches_run_in_order_and_each_host_once(tmp_path: Path) -> None:
    root = content(tmp_path, 5, set(), serial="2")
    reach = FakeReach()
    batches: list[list[str]] = []
    report = run(root, reach, on_batch=lambda n, hosts: batches.append(hosts))
    assert batches == [["h01", "h02"], ["h03", "h04"], ["h05"]]
    assert sorted(reach.calls) == ["h01", "h02", "h03", "h04", "h05"]
    assert report.result == "pass"
    assert all(s == {"pass"} for s in statuses(report).values())


def test_max_fail_percentage_stops_later_batches(tmp_path: Path) -> None:
    root = content(tmp_path, 10, {"h02"}, serial="2", max_fail_percentage=20)
    reach = FakeReach(down={"h03", "h04"})
    report = run(root, reach)
    by_host = statuses(report)
    assert by_host["h02"] == {"fail", "pass"}  # the command failed, the testinfra suite passed
    assert by_host["h03"] == {"unreachable"}
    assert set(reach.calls) == {"h01", "h02", "h03", "h04"}
    not_run = [r for r in report.steps[0].results if r.status == Status.NOT_RUN]
    assert {r.host for r in not_run} == {"h05", "h06", "h07", "h08", "h09", "h10"}
    assert "max_fail_percentage 20 exceeded: 3 of 10 hosts failed (h02, h03, h04)" in (
        not_run[0].message or ""
    )


def test_threshold_is_strictly_above_the_percentage(tmp_path: Path) -> None:
    root = content(tmp_path, 10, {"h01", "h02"}, serial="2", max_fail_percentage=20)
    reach = FakeReach()
    run(root, reach)
    assert len(reach.calls) == 10  # 2 of 10 failed = 20 %: not above, every batch runs


def test_no_batch_starts_at_or_after_the_window_end(tmp_path: Path) -> None:
    root = content(tmp_path, 3, set(), serial="1")
    ticks = iter([NOW, NOW, NOW + timedelta(hours=3)])
    report = run(root, FakeReach(), clock=lambda: next(ticks, NOW + timedelta(hours=4)))
    by_host = statuses(report)
    assert by_host == {"h01": {"pass"}, "h02": {"not_run"}, "h03": {"not_run"}}
    message = next(r.message for r in report.steps[0].results if r.host == "h02")
    assert "the window ended at" in (message or "")


def test_a_stop_leaves_the_rest_not_run_and_marks_the_report(tmp_path: Path) -> None:
    root = content(tmp_path, 4, set(), serial="1", steps=[{"checklist": "health"}] * 2)
    stop = Stop()
    reach = FakeReach(stop_after=(stop, 3))  # stop asked while h02 runs the first step
    report = run(root, reach, stop)
    assert report.result == "interrupted"
    assert reach.calls == ["h01", "h01", "h02"]
    first, second = statuses(report, 0), statuses(report, 1)
    assert first["h02"] == {"pass"} and second["h02"] == {"not_run"}
    assert first["h03"] == first["h04"] == {"not_run"} == second["h04"]
    message = next(r.message for r in report.steps[1].results if r.host == "h03")
    assert message == "the run was interrupted by signal 15"


def test_playbook_steps_get_the_batch_and_their_failures_count(tmp_path: Path) -> None:
    steps = [{"checklist": "health"}, {"playbook": "playbooks/patch.yml"}]
    root = content(tmp_path, 4, set(), serial="2", max_fail_percentage=0, steps=steps)
    (root / "playbooks").mkdir()
    (root / "playbooks" / "patch.yml").write_text("- hosts: all\n  tasks: []\n")
    seen: list[list[str]] = []

    def play(step: PlaybookStepSpec, hosts: list[HostInfo], dry: bool, stop: Stop) -> PlaybookStep:
        seen.append([h.name for h in hosts])
        stats = {h.name: HostStats(ok=1, failed=int(h.name == "h01")) for h in hosts}
        results = [Result(host="h01", check="patch", status=Status.FAIL)]
        return PlaybookStep(playbook=step.playbook, hosts=stats, results=results)

    report = run(root, FakeReach(), play=play)
    assert seen == [["h01", "h02"]]  # h01 failed its playbook: 1 of 4 > 0 %
    assert statuses(report, 1)["h03"] == {"not_run"}
    assert "playbooks/patch.yml" in report.content.files


def test_window_steps_and_check_hash_the_same_content_files(tmp_path: Path) -> None:
    root = content(tmp_path, 2, set())
    window = run(root, FakeReach())
    outcome = run_check(CheckRequest(target(root), "health"), Stop(), reach=FakeReach().reach())
    assert outcome.written is not None
    check = EvidenceStore(root / "evidence").load(outcome.written.id)
    expected = {
        "checklists/health.yaml", "tests/test_suite.py", "waivers/none.yaml",
        "inventories/hosts.yml",
    }  # fmt: skip
    assert set(check.content.files) == expected
    assert set(window.content.files) == expected | {"schedules/patch.yaml"}
    assert check.inventory == window.inventory


@pytest.mark.parametrize("serial", ["1", "50%", None])
def test_every_host_is_reached_once_whatever_the_batch_size(
    tmp_path: Path, serial: str | None
) -> None:
    root = content(tmp_path, 4, set(), **({"serial": serial} if serial else {}))
    reach = FakeReach()
    run(root, reach)
    assert sorted(reach.calls) == ["h01", "h02", "h03", "h04"]


def _play_recorder(seen: list[list[str]]):  # type: ignore[no-untyped-def]
    def play(step: PlaybookStepSpec, hosts: list[HostInfo], dry: bool, stop: Stop) -> PlaybookStep:
        seen.append([h.name for h in hosts])
        stats = {h.name: HostStats(ok=1) for h in hosts}
        results = [Result(host=h.name, check="patch", status=Status.PASS) for h in hosts]
        return PlaybookStep(playbook=step.playbook, hosts=stats, results=results)

    return play


def _gated_repo(tmp_path: Path, gate: bool) -> Path:
    pre = {"checklist": "health", **({} if gate else {"gate": False})}
    steps = [pre, {"playbook": "playbooks/patch.yml"}, {"checklist": "health"}]
    root = content(tmp_path, 6, {"h02"}, serial="3", steps=steps)
    (root / "playbooks").mkdir()
    (root / "playbooks" / "patch.yml").write_text("- hosts: all\n  tasks: []\n")
    return root


def test_a_host_failing_a_pre_check_gets_no_later_step(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    report = run(_gated_repo(tmp_path, gate=True), FakeReach(), play=_play_recorder(seen))
    assert seen == [["h01", "h03"], ["h04", "h05", "h06"]]  # h02 gets no playbook task
    for step in (1, 2):
        [skipped] = [r for r in report.steps[step].results if r.host == "h02"]
        assert skipped.status == "not_run"
        assert skipped.message == (
            "not run: the host failed step 1 (checklist health): healthy fail"
        )
    assert statuses(report, 2)["h01"] == {"pass"}  # the others get their post-checks
    assert report.result == "fail"


def test_gate_false_makes_a_step_informational(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    report = run(_gated_repo(tmp_path, gate=False), FakeReach(), play=_play_recorder(seen))
    assert seen == [["h01", "h02", "h03"], ["h04", "h05", "h06"]]
    assert statuses(report, 2)["h02"] == {"fail", "pass"}  # post-check ran, still failing


class RebootingReach(FakeReach):
    """Hosts in ``down_for`` are unreachable for that many more connections."""

    def __init__(self, down_for: dict[str, int]):
        super().__init__()
        self.down_for = dict(down_for)

    def execute(self, host: HostInfo, script: str, limits: OutputLimits) -> Execution:
        if self.down_for.get(host.name, 0) > 0:
            self.down_for[host.name] -= 1
            self.calls.append(host.name)
            if self.stop_after and len(self.calls) == self.stop_after[1]:
                self.stop_after[0].request(15)
            return Execution("unreachable", message="connection refused (rebooting)")
        return super().execute(host, script, limits)


def test_a_step_with_retries_waits_for_hosts_coming_back(tmp_path: Path) -> None:
    steps = [{"checklist": "health", "retries": 5, "delay": "0s"}]
    root = content(tmp_path, 2, set(), steps=steps)
    reach = RebootingReach({"h01": 2})
    report = run(root, reach)
    by = {(r.host, r.check): r for r in report.steps[0].results}
    assert by[("h01", "healthy")].status == "pass" and by[("h01", "healthy")].attempts == 3
    assert by[("h02", "healthy")].status == "pass" and by[("h02", "healthy")].attempts is None
    assert reach.calls.count("h01") == 3


def test_retries_run_out_and_the_last_observation_stands(tmp_path: Path) -> None:
    steps = [{"checklist": "health", "retries": 2, "delay": 0}]
    root = content(tmp_path, 1, {"h01"}, steps=steps)
    report = run(root, FakeReach())
    healthy = next(r for r in report.steps[0].results if r.check == "healthy")
    assert healthy.status == "fail" and healthy.attempts == 3


def test_a_check_s_own_retries_win_over_the_step_s(tmp_path: Path) -> None:
    steps = [{"checklist": "health", "retries": 5, "delay": 0}]
    root = content(tmp_path, 1, set(), steps=steps)
    text = (root / "checklists" / "health.yaml").read_text()
    (root / "checklists" / "health.yaml").write_text(
        text.replace('test {{ healthy }} = yes"}', 'test {{ healthy }} = yes"}\n    retries: 0')
    )
    report = run(root, RebootingReach({"h01": 1}))
    healthy = next(r for r in report.steps[0].results if r.check == "healthy")
    assert healthy.status == "unreachable" and healthy.attempts is None


def test_a_stop_ends_the_wait_between_attempts(tmp_path: Path) -> None:
    steps = [{"checklist": "health", "retries": 3, "delay": "1h"}]
    root = content(tmp_path, 1, set(), steps=steps)
    stop = Stop()
    reach = RebootingReach({"h01": 5})
    reach.stop_after = (stop, 1)  # asked while the first attempt is out
    report = run(root, reach, stop)
    assert report.result == "interrupted"
    assert reach.calls == ["h01"]


def test_remediation_runs_on_exactly_the_failed_hosts_then_rechecks(tmp_path: Path) -> None:
    """A check with ``remediate:`` failing on 2 of 5 hosts: its playbook runs on those 2,
    the re-check passes there; the report links the re-check to the playbook step."""
    flags = tmp_path / "flags"
    flags.mkdir()
    steps = [{"checklist": "fixable", "remediate": True}]
    root = content(tmp_path, 5, set(), steps=steps)
    (root / "checklists" / "fixable.yaml").write_text(
        "checklist: fixable\nhosts: linux\nchecks:\n"
        "  - id: flagged\n"
        f'    command: {{run: "test -f {flags}/{{{{ inventory_hostname }}}}"}}\n'
        "    remediate: {playbook: playbooks/fix.yml, vars: {why: test}}\n"
    )
    (root / "playbooks").mkdir()
    (root / "playbooks" / "fix.yml").write_text("- hosts: all\n  tasks: []\n")
    for name in ("h01", "h03", "h05"):
        (flags / name).touch()
    fixed: list[list[str]] = []

    def play(step: PlaybookStepSpec, hosts: list[HostInfo], dry: bool, stop: Stop) -> PlaybookStep:
        assert step.playbook == "playbooks/fix.yml" and step.vars == {"why": "test"}
        fixed.append([h.name for h in hosts])
        for h in hosts:
            (flags / h.name).touch()
        stats = {h.name: HostStats(ok=1, changed=1) for h in hosts}
        return PlaybookStep(playbook=step.playbook, hosts=stats)

    report = run(root, FakeReach(), play=play)
    assert fixed == [["h02", "h04"]]
    assert report.result == "pass"
    results = {r.host: r for r in report.steps[0].results}
    assert results["h01"].remediation is None
    link = results["h02"].remediation
    assert link is not None and link.step == 2 and link.playbook == "playbooks/fix.yml"
    assert link.before.status == "fail" and results["h02"].status == "pass"
    remediation = report.steps[1]
    assert isinstance(remediation, PlaybookStep)
    assert remediation.remediates == ["fixable/flagged"] and set(remediation.hosts) == {
        "h02",
        "h04",
    }
