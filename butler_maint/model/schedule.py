"""Schedules: routine checklist runs and maintenance windows, with freeze periods.

Occurrence arithmetic (RRULE/cron in a time zone, DST) lives in ``butler_maint.schedule``;
this module only says what a schedule file may contain and checks each value's form.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from butler_maint.model.base import Frozen, Number, Text, Vars
from butler_maint.model.checklist import Name
from butler_maint.model.notify import Notify

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*$")
_SERIAL = re.compile(r"^(\d+)%?$")


def parse_duration(text: str) -> timedelta:
    """Parse ``3h``, ``90m``, ``1d 2h``; raise ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"expected a duration such as '3h', '90m' or '1d 2h', got {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def check_recurrence(text: str) -> str:
    """Accept an RRULE (``RRULE:...``) or a five-field cron expression."""
    if text.upper().startswith(("RRULE:", "DTSTART")):
        from dateutil.rrule import rrulestr

        try:
            rrulestr(text, dtstart=datetime(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid RRULE: {exc}") from None
        return text
    from croniter import croniter

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(
            f"expected an RRULE ('RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2') or a five-field "
            f"cron expression ('0 2 * * 0'), got {text!r}"
        )
    return text


class Freeze(Frozen):
    """A period in which windows do not run (dates are inclusive, in the zone)."""

    start: date | datetime = Field(alias="from")
    end: date | datetime = Field(alias="to")
    reason: Text

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        as_dt = [
            v if isinstance(v, datetime) else datetime(v.year, v.month, v.day)
            for v in (self.start, self.end)
        ]
        if as_dt[0].replace(tzinfo=None) > as_dt[1].replace(tzinfo=None):
            raise ValueError("'from' is after 'to'")
        return self


class FreezeFile(Frozen):
    """``freezes/NAME.yaml``: freeze periods shared by several schedules."""

    freezes: list[Freeze] = Field(min_length=1)
    title: Text | None = None


class ChecklistStep(Frozen):
    """A window step that runs a checklist."""

    checklist: Name
    title: Text | None = None
    gate: bool = Field(
        True,
        description="A host failing, erroring or unreachable in this step gets no later "
        "step of the window (recorded not_run with the reason); false: informational.",
    )


class PlaybookStep(Frozen):
    """A window step that runs a playbook."""

    playbook: Text = Field(description="Path from the repo root, e.g. playbooks/patch.yml.")
    title: Text | None = None
    vars: Vars


Step = ChecklistStep | PlaybookStep
Serial = Annotated[Text, Field(description="Batch size: a host count or a percentage.")]


class Schedule(Frozen):
    """``schedules/NAME.yaml``: a routine check (``routine``) or a window (``window``)."""

    routine: Name | None = Field(None, description="Name of a routine schedule.")
    window: Name | None = Field(None, description="Name of a maintenance window.")
    title: Text | None = None
    owner: Text | None = None
    timezone: Text = "UTC"
    every: Text = Field(description="RRULE:... or a cron expression, in `timezone`.")
    duration: Text = Field("1h", description="e.g. 3h; no new batch starts after the end.")
    hosts: Text | None = Field(None, description="Host pattern; default: the checklist's.")
    serial: Serial | None = None
    max_fail_percentage: Number | None = None
    missed: Literal["skip", "run-once"] = "run-once"
    requires_approval: bool = False
    checklist: Name | None = Field(None, description="What a routine runs.")
    steps: list[Step] = Field(default_factory=list, description="What a window runs, in order.")
    freeze: list[Freeze] = Field(default_factory=list)
    freeze_files: list[Text] = Field(default_factory=list, description="e.g. freezes/x.yaml")
    notify: list[Notify] = Field(default_factory=list, description="Webhooks, emails.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin, UTC)") from None
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        return check_recurrence(value)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str | None) -> str | None:
        if value is not None and not _SERIAL.match(value):
            raise ValueError(f"expected a host count or a percentage such as '25%', got {value!r}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Schedule:
        if (self.routine is None) == (self.window is None):
            raise ValueError("a schedule is either `routine: NAME` or `window: NAME`")
        if self.routine is not None and (self.checklist is None or self.steps):
            raise ValueError("a routine names one `checklist` and has no `steps`")
        if self.window is not None and (not self.steps or self.checklist is not None):
            raise ValueError("a window has `steps` (checklists and playbooks) and no `checklist`")
        return self

    @property
    def name(self) -> str:
        """The routine's or window's name."""
        return self.routine or self.window or ""

    @property
    def length(self) -> timedelta:
        """The window's duration."""
        return parse_duration(self.duration)
