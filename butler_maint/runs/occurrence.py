"""Which occurrence an operator's ``window run`` is for, and until when it may start batches."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from butler_maint.errors import ButlerError
from butler_maint.evidence import Trigger
from butler_maint.runs.request import Target
from butler_maint.runs.window import Rerun, WindowRequest
from butler_maint.schedule.calendar import Scheduled, load_schedules
from butler_maint.schedule.occurrences import Occurrence, occurrences, previous_occurrence


def find_window(root: Path, name: str) -> Scheduled:
    """The window schedule called ``name``."""
    for scheduled in load_schedules(root):
        if scheduled.schedule.name == name:
            if scheduled.schedule.window is None:
                raise ButlerError(f"{name} is a routine, not a window: use `butler-maint check`")
            return scheduled
    raise ButlerError(f"no window named {name!r} in {root / 'schedules'}")


def window_request(
    target: Target,
    name: str,
    *,
    now: datetime,
    occurrence: datetime | None,
    dry_run: bool = False,
    override_reason: str | None = None,
    limit: str | None = None,
    rerun: Rerun | None = None,
) -> WindowRequest:
    """An operator's run now: for ``occurrence`` if named, else the open one, if any.

    Inside the occurrence's window the run ends with it; outside (early, late or ad hoc)
    it gets the window's full duration from now.
    """
    scheduled = find_window(target.root, name)
    schedule = scheduled.schedule
    if occurrence is not None:
        around = occurrences(schedule, occurrence, occurrence + schedule.length)
        if not around or around[0].at != occurrence:
            raise ButlerError(f"{occurrence.isoformat()} is not an occurrence of window {name}")
        current: Occurrence | None = around[0]
    else:
        current = previous_occurrence(schedule, now)
        if current is not None and now >= current.end:
            current = None
    inside = current is not None and current.at <= now < current.end
    end = current.end if inside and current is not None else now + schedule.length
    at = current.at if current is not None else None
    return WindowRequest(
        target=target, scheduled=scheduled,
        trigger=Trigger(by="operator", schedule=name, occurrence=at),
        start=now, end=end, occurrence=at, dry_run=dry_run,
        override_reason=override_reason, limit=limit, rerun=rerun,
    )  # fmt: skip


def rerun_request(target: Target, name: str, report_id: str) -> Rerun:
    """What ``window run NAME --rerun-failed REPORT`` runs again (ButlerError when the
    report is not a run of this window, or had nothing that failed)."""
    from butler_maint.evidence import EvidenceStore
    from butler_maint.runs.window import rerun_of

    report = EvidenceStore.for_project(target.root, target.config.evidence).load(report_id)
    if report.name != name:
        raise ButlerError(f"report {report.id} is a run of {report.name}, not of window {name}")
    rerun = rerun_of(report)
    if not rerun.hosts:
        raise ButlerError(f"report {report.id} has no host that failed or was not run")
    return rerun
