"""KPIs on a fixture history with known answers, computed by hand in the comments.

The history is written through the real store (``EvidenceStore.write``), read back
through the index and ``EvidenceStore.load``, so the figures come from real reports.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from butler_maint.evidence import (
    ChecklistStep,
    EvidenceStore,
    Kind,
    Report,
    ReportDraft,
    Result,
    Status,
    Trigger,
)
from butler_maint.evidence.index import IndexEntry, read_entries
from butler_maint.kpi import (
    flapping,
    forecast_series,
    forecasts,
    last_runs,
    mean_time_to_remediate,
    numeric_value,
    observations,
    open_incidents,
    outcomes,
    overdue,
    parse_threshold,
    pass_rate,
    pass_rates,
    pending_items,
    remediations,
    render_metrics,
    sla,
    summarize_sla,
    write_metrics,
)
from butler_maint.kpi.forecast import Threshold
from butler_maint.model.schedule import Schedule
from butler_maint.schedule.freezes import INLINE, freeze_periods

P, F, U, PEND = Status.PASS, Status.FAIL, Status.UNREACHABLE, Status.PENDING
DISK = "<= 85 %"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAILY = Schedule.model_validate(
    {
        "routine": "daily-health",
        "owner": "platform-team",
        "every": "0 2 * * *",  # 02:00Z daily, window until 03:00Z
        "duration": "1h",
        "checklist": "linux-baseline",
        "missed": "run-once",
        "freeze": [{"from": "2026-03-05", "to": "2026-03-05", "reason": "audit"}],
    }
)
FREEZES = freeze_periods(DAILY.freeze, DAILY.timezone, INLINE)
START, NOW = utc(2026, 3, 1), utc(2026, 3, 7)


def run(
    store: EvidenceStore,
    started: datetime,
    occurrence: datetime,
    results: list[Result],
    *,
    dry_run: bool = False,
) -> str:
    draft = ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        trigger=Trigger(by="cron", schedule="daily-health", occurrence=occurrence),
        operator="cron@bastion",
        started=started,
        finished=started + timedelta(minutes=1),
        dry_run=dry_run,
        steps=[ChecklistStep(checklist="linux-baseline", results=results)],
    )
    return store.write(draft).id


def res(host: str, check: str, status: Status, observed: float | str | None = None) -> Result:
    expected = DISK if check == "disk-root" else None
    return Result(host=host, check=check, status=status, observed=observed, expected=expected)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    """Six days of a daily routine (occurrences 02:00Z, window 1h):

    ======  ===========  =======================================================  ========
    day     started      web01 disk-root / web01 ntp / web02 disk-root / other    coverage
    ======  ===========  =======================================================  ========
    Mar 1   02:05        pass 70 / pass / unreachable                             on time
    Mar 2   02:10        pass 72 / FAIL / pass 50                                 on time
    Mar 3   04:00        pass 74 / pass / FAIL 90                                 late
    Mar 4   02:05 (dry)  FAIL 99 / FAIL / FAIL  -- a dry run: ignored             missed
    Mar 5   --           --                                                       frozen
    Mar 6   02:01        pass 76 / FAIL / pass 50 / web01 backup-tape pending     on time
    ======  ===========  =======================================================  ========
    """
    s = EvidenceStore(tmp_path / "evidence")
    day = [utc(2026, 3, d, 2) for d in range(1, 7)]
    w1, w2 = "web01", "web02"
    run(s, day[0] + timedelta(minutes=5), day[0],
        [res(w1, "disk-root", P, 70), res(w1, "ntp", P), res(w2, "disk-root", U)])  # fmt: skip
    run(s, day[1] + timedelta(minutes=10), day[1],
        [res(w1, "disk-root", P, 72), res(w1, "ntp", F), res(w2, "disk-root", P, 50)])  # fmt: skip
    run(s, day[2] + timedelta(hours=2), day[2],
        [res(w1, "disk-root", P, 74), res(w1, "ntp", P), res(w2, "disk-root", F, 90)])  # fmt: skip
    run(s, day[3] + timedelta(minutes=5), day[3],
        [res(w1, "disk-root", F, 99), res(w1, "ntp", F), res(w2, "disk-root", F, 99)],
        dry_run=True)  # fmt: skip
    run(s, day[5] + timedelta(minutes=1), day[5],
        [res(w1, "disk-root", P, 76), res(w1, "ntp", F), res(w2, "disk-root", P, 50),
         res(w1, "backup-tape", PEND)])  # fmt: skip
    return s


def history(store: EvidenceStore) -> tuple[list[IndexEntry], list[Report]]:
    entries = list(read_entries(store.index_path, since="2026-03-01T00:00:00.000Z"))
    reports = [store.load(e.id) for e in entries if not e.dry_run]
    return entries, reports


def test_pass_rate_overall_and_by_host(store: EvidenceStore) -> None:
    obs = observations(history(store)[1])
    # 13 results in the 4 real runs (3 + 3 + 3 + 4); the pending one is not judged: 12.
    # Passed: Mar 1: 2, Mar 2: 2, Mar 3: 2, Mar 6: 2 -> 8 of 12 = 2/3.
    rate = pass_rate(obs)
    assert (rate.total, rate.judged, rate.passed, rate.other) == (13, 12, 8, 1)
    assert rate.rate == pytest.approx(2 / 3)
    # web01: 8 judged (2 a day), passed 2+1+2+1 = 6 -> 0.75; web02: U, P, F, P -> 2/4.
    rows = {r.group: r for r in pass_rates(obs, "host")}
    assert rows["web01"].rate == pytest.approx(0.75) and rows["web01"].judged == 8
    assert rows["web02"].rate == pytest.approx(0.5) and rows["web02"].judged == 4
    by_owner = pass_rates(obs, "owner", {"linux-baseline": "ops"})
    assert [(r.group, r.passed, r.judged) for r in by_owner] == [("ops", 8, 12)]
    by_schedule = pass_rates(obs, "schedule")
    assert [(r.group, r.passed) for r in by_schedule] == [("daily-health", 8)]


def test_sla_on_time_late_missed_frozen(store: EvidenceStore) -> None:
    entries = history(store)[0]
    # Occurrences Mar 1..6 02:00Z. On time: Mar 1, 2, 6 (started before 03:00Z). Late:
    # Mar 3 (04:00Z). Missed: Mar 4 (only a dry run). Frozen: Mar 5. Rate 3 / 5 = 0.6.
    found = outcomes(DAILY, entries, START, NOW, FREEZES)
    assert [o.outcome for o in found] == [
        "on_time",
        "on_time",
        "late",
        "missed",
        "frozen",
        "on_time",
    ]
    figures = sla(DAILY, entries, START, NOW, FREEZES)
    assert (figures.on_time, figures.late, figures.missed, figures.frozen) == (3, 1, 1, 1)
    assert figures.on_time_rate == pytest.approx(0.6)
    assert figures.owner == "platform-team"
    # An occurrence whose window is still open is neither missed nor counted.
    open_now = summarize_sla(DAILY, outcomes(DAILY, entries, START, utc(2026, 3, 7, 2, 30)))
    assert (open_now.open, open_now.missed, open_now.frozen) == (1, 2, 0)


def test_overdue_and_last_runs(store: EvidenceStore) -> None:
    entries = history(store)[0]
    # At Mar 8 04:00Z the Mar 7 and Mar 8 windows are over and nothing ran: overdue.
    (late,) = overdue([(DAILY, FREEZES)], entries, utc(2026, 3, 8, 4))
    assert late.state == "overdue" and late.missed_since == utc(2026, 3, 7, 2)
    assert overdue([(DAILY, FREEZES)], entries, utc(2026, 3, 6, 4)) == []
    (last,) = last_runs([DAILY], entries)
    assert last.started == utc(2026, 3, 6, 2, 1) and last.success is False


def test_mttr_open_incidents_flapping_pending(store: EvidenceStore) -> None:
    obs = observations(history(store)[1])
    # web01 ntp: fail Mar 2 02:10 -> pass Mar 3 04:00 = 25h50m = 93000 s.
    # web02 disk-root: fail Mar 3 04:00 -> pass Mar 6 02:01 = 70h01m = 252060 s.
    # (its Mar 1 "unreachable" opens no incident). Mean: 345060 / 2 = 172530 s.
    fixed = remediations(obs)
    assert [(r.host, r.check, r.duration.total_seconds()) for r in fixed] == [
        ("web01", "ntp", 93000.0),
        ("web02", "disk-root", 252060.0),
    ]
    assert mean_time_to_remediate(fixed) == timedelta(seconds=172530)
    assert mean_time_to_remediate([]) is None
    # web01 ntp failed again Mar 6 and has not passed since.
    (incident,) = open_incidents(obs)
    assert (incident.host, incident.check, incident.since) == (
        "web01",
        "ntp",
        utc(2026, 3, 6, 2, 1),
    )
    # web01 ntp: P F P F = 3 changes; web02 disk-root: U P F P = 3; web01 disk-root: 0.
    flaps = flapping(obs)
    assert [(f.host, f.check, f.changes, f.runs) for f in flaps] == [
        ("web01", "ntp", 3, 4),
        ("web02", "disk-root", 3, 4),
    ]
    assert flapping(obs, min_changes=4) == []
    assert [(p.host, p.check) for p in pending_items(obs)] == [("web01", "backup-tape")]


def test_forecast_on_history(tmp_path: Path) -> None:
    """Daily at 00:00Z from Mar 1: disk 60, 62, 64, 66 % (<= 85 %): +2 %/day, 85 at day
    12.5 = Mar 13 12:00Z. Certificate 45, 42, 39, 36 days left (>= 30 days): -3/day, 30
    at day 5 = Mar 6 00:00Z. Memory flat; inode only 2 points; swap falling (away)."""
    s = EvidenceStore(tmp_path / "evidence")
    disk, cert, swap = [60, 62, 64, 66], [45, 42, 39, 36], [50, 40, 30, 20]
    for k in range(4):
        at = utc(2026, 3, 1 + k)
        results = [
            Result(host="web01", check="disk-root", status=P, observed=disk[k], expected=DISK),
            Result(
                host="web01",
                check="tls",
                status=P,
                observed=f"{cert[k]} days left",
                expected=">= 30 days",
            ),
            Result(
                host="web01",
                check="mem",
                status=P,
                observed="40.0 % used, 900 MB available",
                expected="<= 90 % used, >= 500 MB available",
            ),
            Result(host="web01", check="swap", status=P, observed=swap[k], expected="<= 80 %"),
        ]
        if k >= 2:
            results.append(Result(host="web01", check="inode", status=P, observed=k * 10,
                                  expected="<= 90 %"))  # fmt: skip
        draft = ReportDraft(
            kind=Kind.CHECKLIST, name="linux-baseline", operator="op@h", started=at, finished=at,
            steps=[ChecklistStep(checklist="linux-baseline", results=results)],
        )  # fmt: skip
        s.write(draft)
    obs = observations(s.load(e.id) for e in read_entries(s.index_path))
    now = utc(2026, 3, 4, 12)
    found = {f.check: f for f in forecasts(obs, now)}
    assert set(found) == {"disk-root", "tls"}
    assert abs(found["disk-root"].crossing - utc(2026, 3, 13, 12)) < timedelta(days=1)
    assert found["disk-root"].slope_per_day == pytest.approx(2.0)
    assert abs(found["tls"].crossing - utc(2026, 3, 6)) < timedelta(days=1)
    assert found["disk-root"].describe(now) == "disk-root on web01 reaches 85 % in about 9 days"
    assert [f.check for f in forecasts(obs, now)] == ["tls", "disk-root"]  # soonest first
    assert [f.check for f in forecasts(obs, now, horizon=timedelta(days=3))] == ["tls"]


def test_forecast_helpers() -> None:
    assert parse_threshold("<= 85 %") == Threshold("<=", 85.0, "%")
    assert parse_threshold(">= 30 days") == Threshold(">=", 30.0, "days")
    assert parse_threshold("<= 90 % used, >= 500 MB available") == Threshold("<=", 90.0, "% used")
    assert parse_threshold("exists") is None and parse_threshold(None) is None
    assert numeric_value(91) == 91.0 and numeric_value(True) is None
    assert numeric_value("12 days left") == 12.0
    assert numeric_value("expired 3 days ago") == -3.0
    assert numeric_value("active, enabled") is None
    limit = Threshold("<=", 85.0, "%")
    series = [(utc(2026, 3, 1 + k), 70.0 + 2 * k) for k in range(3)]
    predicted = forecast_series(series, limit)
    assert predicted is not None and predicted[1] == utc(2026, 3, 8, 12)  # 70 + 2 * 7.5 = 85
    assert forecast_series(series[:2], limit) is None  # fewer than 3 points
    assert forecast_series([(t, 90.0) for t, _ in series], limit) is None  # already past
    assert forecast_series([(t, 70.0) for t, _ in series], limit) is None  # flat


def test_metrics_file(store: EvidenceStore, tmp_path: Path) -> None:
    entries, reports = history(store)
    obs = observations(reports)
    text = render_metrics(
        last_runs([DAILY], entries), obs, [sla(DAILY, entries, START, NOW, FREEZES)]
    )
    stamp = int(utc(2026, 3, 6, 2, 1).timestamp())
    assert (
        f'butler_schedule_last_run_timestamp_seconds{{schedule="daily-health"}} {stamp}\n' in text
    )
    assert 'butler_schedule_last_run_success{schedule="daily-health"} 0\n' in text
    # Latest results: web01 ntp fail (web01 disk-root, web02 disk-root pass; backup pending).
    assert 'butler_failing_checks{checklist="linux-baseline",host="web01"} 1\n' in text
    assert 'butler_schedule_on_time_ratio{schedule="daily-health"} 0.6\n' in text
    assert "# TYPE butler_failing_checks gauge\n" in text
    target = tmp_path / "butler.prom"
    write_metrics(target, text)
    write_metrics(target, text)
    assert target.read_text() == text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
