"""Schedule logic: occurrences in time zones (DST rules), freeze periods, due status,
the calendar and its iCalendar export.

Pure except where a function reads files (``load_schedules``, ``schedule_freezes``,
``read_ics``, ``recent_runs``); none reads the clock: ``now`` is a parameter.
"""

from __future__ import annotations

from butler_maint.schedule.calendar import (
    Planned,
    Scheduled,
    freezes_in,
    ics_events,
    load_schedules,
    plan,
)
from butler_maint.schedule.due import DueStatus, LastRun, covered_occurrence, status
from butler_maint.schedule.freezes import (
    AnyFreeze,
    FreezePeriod,
    FreezeSeries,
    freeze_periods,
    frozen_by,
    frozen_during,
    schedule_freezes,
)
from butler_maint.schedule.history import recent_runs
from butler_maint.schedule.ics import read_ics, render_calendar
from butler_maint.schedule.occurrences import (
    Occurrence,
    local_instant,
    next_occurrence,
    occurrences,
    previous_occurrence,
)

__all__ = [
    "AnyFreeze",
    "DueStatus",
    "FreezePeriod",
    "FreezeSeries",
    "LastRun",
    "Occurrence",
    "Planned",
    "Scheduled",
    "covered_occurrence",
    "freeze_periods",
    "freezes_in",
    "frozen_by",
    "frozen_during",
    "ics_events",
    "load_schedules",
    "local_instant",
    "next_occurrence",
    "occurrences",
    "plan",
    "previous_occurrence",
    "read_ics",
    "recent_runs",
    "render_calendar",
    "schedule_freezes",
    "status",
]
