"""The ``--fail-on`` rule (``runs.verdict``): which failing results count at a threshold,
and when a whole report fails; plus ``DueRun.ok`` for a run failing below it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from butler_maint.evidence.model import (
    SEVERITIES,
    ChecklistStep,
    HostStats,
    Kind,
    Overall,
    PlaybookStep,
    Report,
    Result,
    Severity,
    Status,
    Step,
    Trigger,
)
from butler_maint.evidence.summary import summarize
from butler_maint.runs.due import DueRun
from butler_maint.runs.verdict import counts, report_fails, results_fail

WHEN = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def result(status: str, severity: Severity | None = "medium", check: str = "c") -> Result:
    return Result(host="web01", check=check, status=Status(status), severity=severity)


def report(steps: list[Step], outcome: Overall, error: str | None = None) -> Report:
    return Report(
        id="r1", kind=Kind.WINDOW, name="patch", result=outcome, summary=summarize(steps),
        error=error, trigger=Trigger(), operator="op", started=WHEN, finished=WHEN,
        duration_ms=0, steps=steps, previous=None, digest="0" * 64,
    )  # fmt: skip


@pytest.mark.parametrize("status", ["fail", "error", "unreachable"])
def test_a_failure_counts_at_or_below_its_severity_only(status: str) -> None:
    high = result(status, "high")
    assert [counts(high, s) for s in SEVERITIES] == [True, True, True, True, False]
    assert counts(high, None)


@pytest.mark.parametrize("status", ["pass", "skipped", "pending", "not_run", "waived"])
def test_what_is_not_a_failure_never_counts(status: str) -> None:
    assert not counts(result(status, "critical"), None)
    assert not counts(result(status, "critical"), "info")


def test_a_failure_without_severity_counts_at_any_threshold() -> None:
    task = result("fail", None)  # a playbook task, or a schema 1.0 report's result
    assert all(counts(task, s) for s in (None, *SEVERITIES))


def test_results_fail_at_critical_only_with_a_critical_failure() -> None:
    high = [result("fail", "high", "a"), result("pass", "critical", "b")]
    assert results_fail(high, None) and results_fail(high, "high")
    assert not results_fail(high, "critical")
    assert results_fail([*high, result("error", "critical", "c")], "critical")
    assert not results_fail([], None)


def test_a_report_fails_by_its_failing_results() -> None:
    steps: list[Step] = [ChecklistStep(checklist="x", results=[result("fail", "high")])]
    failed = report(steps, Overall.FAIL)
    assert report_fails(failed, None) and report_fails(failed, "high")
    assert not report_fails(failed, "critical")


def test_a_passing_report_never_fails() -> None:
    steps: list[Step] = [ChecklistStep(checklist="x", results=[result("pass")])]
    assert not report_fails(report(steps, Overall.PASS), None)


def test_run_errors_interruptions_and_playbook_failures_fail_at_any_threshold() -> None:
    low: list[Step] = [ChecklistStep(checklist="x", results=[result("fail", "low")])]
    assert report_fails(report(low, Overall.ERROR, error="inventory vanished"), "critical")
    assert report_fails(report(low, Overall.INTERRUPTED), "critical")
    recap = PlaybookStep(playbook="patch.yml", hosts={"web01": HostStats(failed=1)})
    assert report_fails(report([*low, recap], Overall.FAIL), "critical")
    task = PlaybookStep(playbook="patch.yml", results=[result("fail", None)])
    assert report_fails(report([*low, task], Overall.FAIL), "critical")


def test_a_due_run_failing_below_the_threshold_is_ok_and_keeps_its_result() -> None:
    below = DueRun("nightly", WHEN, "fail", "r1", below_threshold=True)
    assert below.ok and below.result == "fail"
    assert not DueRun("nightly", WHEN, "fail", "r1").ok
    assert DueRun("nightly", WHEN, "pass", "r1").ok
