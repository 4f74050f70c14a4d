"""Statuses, summary counts, the failures list and the overall result rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from butler_maint.evidence import (
    ChecklistStep,
    HostStats,
    Overall,
    PlaybookStep,
    Report,
    ReportDraft,
    Result,
    Status,
    overall,
    summarize,
)
from butler_maint.evidence.summary import failures
from tests.fixtures.evidence.factory import T0, draft, window_draft


def _with(*statuses: Status, **extra: object) -> ReportDraft:
    steps = [
        ChecklistStep(
            checklist="c",
            results=[Result(host=f"h{i}", check="x", status=s) for i, s in enumerate(statuses)],
        )
    ]
    return draft(steps=steps, **extra)


@pytest.mark.parametrize(
    ("statuses", "extra", "expected"),
    [
        ((Status.PASS, Status.SKIPPED, Status.WAIVED, Status.PENDING, Status.NOT_RUN), {}, "pass"),
        ((), {}, "pass"),
        ((Status.PASS, Status.FAIL), {}, "fail"),
        ((Status.FAIL, Status.UNREACHABLE), {}, "error"),
        ((Status.FAIL, Status.ERROR), {}, "error"),
        ((Status.PASS,), {"error": "runner crashed"}, "error"),
        ((Status.ERROR,), {"interrupted": True}, "interrupted"),
    ],
)
def test_overall_result(
    statuses: tuple[Status, ...], extra: dict[str, object], expected: str
) -> None:
    d = _with(*statuses, **extra)
    assert overall(d, summarize(d.steps)) == Overall(expected)


def test_playbook_recap_counts_toward_overall() -> None:
    step = PlaybookStep(playbook="p.yml", hosts={"a": HostStats(ok=1, failed=1)})
    d = draft(steps=[step])
    assert overall(d, summarize(d.steps)) is Overall.FAIL
    step = PlaybookStep(playbook="p.yml", hosts={"a": HostStats(unreachable=1)})
    d = draft(steps=[step])
    assert overall(d, summarize(d.steps)) is Overall.ERROR


def test_summary_counts_every_status_and_unreachable_is_not_fail() -> None:
    d = _with(Status.PASS, Status.PASS, Status.UNREACHABLE, Status.WAIVED)
    s = summarize(d.steps)
    assert (s.total, s.passed, s.fail, s.unreachable, s.waived) == (4, 2, 0, 1, 1)
    assert s.model_dump(by_alias=True)["pass"] == 2


def test_failures_name_step_host_and_check() -> None:
    found = failures(window_draft().steps)
    assert {(f.step, f.host, f.check) for f in found} >= {(2, "web01", "apt upgrade")}
    assert all(f.status in (Status.FAIL, Status.ERROR, Status.UNREACHABLE) for f in found)


def test_times_must_be_aware_and_are_kept_in_utc_ms() -> None:
    with pytest.raises(ValidationError):
        draft(started=datetime(2026, 1, 1), finished=datetime(2026, 1, 1))
    local = T0.astimezone().replace(microsecond=123456)
    d = draft(started=local, finished=local + timedelta(seconds=1))
    assert d.started.utcoffset() == timedelta(0)
    assert d.model_dump(mode="json")["started"].endswith(".123Z")


def test_observed_rejects_non_finite_numbers() -> None:
    with pytest.raises(ValidationError):
        Result(host="a", check="b", status=Status.PASS, observed=float("nan"))


def test_schema_names_versions_one_and_two() -> None:
    schema = Report.model_json_schema()
    assert schema["properties"]["butler_report"]["enum"] == [1, 2]
    assert schema["properties"]["butler_report"]["default"] == 2
    assert "digest" in schema["required"]
    assert set(Status) == {
        "pass", "fail", "error", "skipped", "unreachable", "pending", "not_run", "waived"
    }  # fmt: skip
