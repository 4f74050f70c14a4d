"""Schedules: routine checklist runs and maintenance windows, with freeze periods.

Occurrence arithmetic (RRULE/cron in a time zone, DST) lives in ``butler_maint.schedule``;
this module only says what a schedule file may contain and checks each value's form. A
recurrence must fire, at most once a minute (``MIN_GAP``), and within bounds that keep
every expansion short (``check_recurrence``).
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from butler_maint.model.base import Frozen, LocalPath, Number, Text, Vars
from butler_maint.model.checklist import Name
from butler_maint.model.checks import Delay, Retries
from butler_maint.model.notify import Notify

if TYPE_CHECKING:
    from dateutil.rrule import rrule, rruleset

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*$")
_SERIAL = re.compile(r"^(\d+)%?$")

MAX_DURATION = timedelta(days=366)
"""Longest ``duration`` of a window (longer ones are typos, and overflow date arithmetic)."""
RRULE_ANCHOR = datetime(2026, 1, 1)
"""DTSTART of an RRULE that names none (naive: a wall time in the schedule's zone)."""
MIN_GAP = timedelta(minutes=1)
"""The documented minimum: a schedule fires at most once a minute (cron's own grain)."""
MAX_COUNT = 10_000
"""Largest ``COUNT`` of an RRULE (a longer series names an ``UNTIL``)."""
FIRES_WITHIN_YEARS = 10
"""An RRULE must fire within this many years of its DTSTART."""
FREEZE_YEARS = (1900, 9998)
"""Years a freeze may name (its days are resolved to instants, which need a margin)."""
_MAX_CANDIDATES = 100_000  # bound on the work of the check above
_YEARLY, _MONTHLY, _WEEKLY, _DAILY, _HOURLY, _MINUTELY, _SECONDLY = range(7)


def parse_duration(text: str) -> timedelta:
    """Parse ``3h``, ``90m``, ``1d 2h``; raise ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"expected a duration such as '3h', '90m' or '1d 2h', got {text!r}")
    try:
        days, hours, minutes = (int(g or 0) for g in match.groups())
        length = timedelta(days=days, hours=hours, minutes=minutes)
    except (ValueError, OverflowError):
        length = MAX_DURATION * 2
    if not timedelta(minutes=1) <= length <= MAX_DURATION:
        raise ValueError(f"expected a duration from 1m to {MAX_DURATION.days}d, got {text!r}")
    return length


def is_rrule(every: str) -> bool:
    """True for an RRULE (``RRULE:...``/``DTSTART...``), False for a cron expression."""
    return every.lstrip().upper().startswith(("RRULE:", "DTSTART"))


def parse_rrule(text: str) -> rrule | rruleset:
    """dateutil's reading of an RRULE text, anchored at ``RRULE_ANCHOR``."""
    from dateutil.rrule import rrulestr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. an unknown TZID is a warning to dateutil
            return rrulestr(text, dtstart=RRULE_ANCHOR)
    # dateutil's parsers raise ValueError, but also TypeError, OverflowError or
    # IndexError on some malformed values: all of them mean "not an RRULE".
    except Exception as exc:
        raise ValueError(f"invalid RRULE: {exc or type(exc).__name__}") from None


def rule_parts(
    recurrence: rrule | rruleset,
) -> tuple[list[rrule], list[datetime], list[rrule], list[datetime]]:
    """``(rrules, rdates, exrules, exdates)`` of a parsed recurrence."""
    from dateutil.rrule import rruleset

    if not isinstance(recurrence, rruleset):
        return [recurrence], [], [], []
    state = vars(recurrence)  # dateutil keeps a set's parts only in these attributes
    return state["_rrule"], state["_rdate"], state["_exrule"], state["_exdate"]


def rule_fields(rule: rrule) -> dict[str, Any]:
    """A rule's effective values: ``_freq``, ``_interval``, ``_dtstart``, ``_count``,
    ``_until``, ``_byhour``... (dateutil offers no other way to read them)."""
    return dict(vars(rule))


def _seconds_of_minute(rule: rrule) -> set[int] | None:
    """The seconds of the minute ``rule`` can fire at; None for "any"."""
    fields = rule_fields(rule)
    if fields["_bysecond"] is not None:
        return set(fields["_bysecond"])
    if fields["_interval"] % 60 == 0:  # FREQ=SECONDLY stepping whole minutes
        return {fields["_dtstart"].second}
    return None


def _too_frequent(rules: list[rrule], dates: list[datetime]) -> str | None:
    """Why a recurrence could fire less than ``MIN_GAP`` apart, or None."""
    seconds: set[int] = {d.second for d in dates}
    for rule in rules:
        fields = rule_fields(rule)
        found = _seconds_of_minute(rule)
        lone_wide_step = fields["_freq"] == _SECONDLY and fields["_interval"] >= 60
        if found is None or len(found) > 1:
            if not (lone_wide_step and len(rules) + len(dates) == 1):
                return "it can fire more than once a minute (several seconds of a minute)"
            continue
        seconds |= found
    if len(seconds) > 1:
        return "its rules and dates fire at different seconds of a minute"
    return None


_PERIOD_DAYS = {_YEARLY: 366, _MONTHLY: 31, _WEEKLY: 7, _DAILY: 1, _HOURLY: 1 / 24}


def _check_interval(rule: rrule) -> None:
    """INTERVAL is 1 or more, and occurrences are at most ``FIRES_WITHIN_YEARS`` apart."""
    fields = rule_fields(rule)
    interval = fields["_interval"]
    if interval < 1:
        raise ValueError(f"INTERVAL={interval}: expected 1 or more")
    if interval * _PERIOD_DAYS.get(fields["_freq"], 1 / 1440) > 366 * FIRES_WITHIN_YEARS:
        raise ValueError(
            f"INTERVAL={interval}: occurrences more than {FIRES_WITHIN_YEARS} years apart; "
            "expected a rule that fires again within that time"
        )


def _day_filters(fields: dict[str, Any]) -> dict[str, Any]:
    """The day-level filters of a rule as keyword arguments of a YEARLY rule."""
    weekdays = list(fields["_byweekday"] or ()) + [wd for wd, _ in fields["_bynweekday"] or ()]
    days = {
        "bymonth": fields["_bymonth"],
        "byweekno": fields["_byweekno"],
        "byyearday": fields["_byyearday"],
        "bymonthday": tuple(fields["_bymonthday"]) + tuple(fields["_bynmonthday"]) or None,
        "byweekday": weekdays or None,
        "byeaster": fields["_byeaster"],
    }
    if all(days[k] is None for k in days if k != "bymonth"):
        days["bymonthday"] = range(1, 32)  # every day of the months allowed
    days["bymonth"] = days["bymonth"] or range(1, 13)
    return days


def _period(freq: int, wkst: int, moment: datetime) -> int:
    """Index of the FREQ period holding ``moment`` (consecutive periods differ by 1)."""
    day = moment.toordinal()
    by_freq = {
        _YEARLY: moment.year,
        _MONTHLY: moment.year * 12 + moment.month,
        _WEEKLY: (day - (moment.weekday() - wkst) % 7) // 7,
        _DAILY: day,
        _HOURLY: day * 24 + moment.hour,
        _MINUTELY: (day * 24 + moment.hour) * 60 + moment.minute,
    }
    return by_freq.get(freq, ((day * 24 + moment.hour) * 60 + moment.minute) * 60 + moment.second)


def _setpos_hits(bysetpos: Any, size: int) -> bool:
    return any(1 <= p <= size or -size <= p <= -1 for p in bysetpos)


def _fires(rule: rrule) -> bool:
    """Whether ``rule`` fires within ``FIRES_WITHIN_YEARS`` of its DTSTART.

    dateutil searches a rule that never fires up to the year 9999 (seconds of work per
    expansion), so this asks a YEARLY rule with the same day and time filters (one
    step per year) for the candidate times, and keeps those in the rule's INTERVAL
    phase and BYSETPOS, with bounded work.
    """
    from dateutil.rrule import YEARLY
    from dateutil.rrule import rrule as make_rrule

    fields = rule_fields(rule)
    start: datetime = fields["_dtstart"]
    freq, interval, wkst = fields["_freq"], fields["_interval"], fields["_wkst"]
    times = {
        "byhour": fields["_byhour"] or range(24),
        "byminute": fields["_byminute"] or range(60),
        "bysecond": fields["_bysecond"] or range(60),
    }
    filters: dict[str, Any] = {**_day_filters(fields), **times}
    candidates = make_rrule(YEARLY, dtstart=start, **filters)
    try:
        horizon = start + timedelta(days=366 * FIRES_WITHIN_YEARS)
    except OverflowError:  # a DTSTART within ten years of the year 9999
        horizon = datetime.max.replace(tzinfo=start.tzinfo)
    first, group, size = _period(freq, wkst, start), None, 0
    for seen, moment in enumerate(candidates):
        if moment > horizon or seen > _MAX_CANDIDATES:
            return False
        index = _period(freq, wkst, moment)
        if (index - first) % interval:
            continue
        if fields["_bysetpos"] is None:
            return True
        if index != group:
            if group is not None and _setpos_hits(fields["_bysetpos"], size):
                return True
            group, size = index, 0
        size += 1
    return group is not None and _setpos_hits(fields["_bysetpos"], size)


def check_rrule(text: str) -> str:
    """Accept an RRULE that fires, at most once a minute, within a bounded expansion."""
    recurrence = parse_rrule(text)
    rules, dates, exrules, _ = rule_parts(recurrence)
    for rule in [*rules, *exrules]:
        _check_interval(rule)
    reason = _too_frequent(rules, dates)
    if reason is not None:
        raise ValueError(
            f"{reason}; expected at most one occurrence a minute (FREQ=SECONDLY needs "
            "INTERVAL=60 or more, and a rule lists at most one BYSECOND)"
        )
    for rule in [*rules, *exrules]:
        count = rule_fields(rule)["_count"]
        if count is not None and count > MAX_COUNT:
            raise ValueError(f"COUNT={count}: expected at most {MAX_COUNT} (or use UNTIL)")
        try:
            fires = _fires(rule) and next(iter(rule), None) is not None
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid RRULE: {exc}") from None
        if not fires and (rule in exrules or not dates):
            raise ValueError(
                f"the rule never fires in the {FIRES_WITHIN_YEARS} years after its DTSTART "
                f"({rule_fields(rule)['_dtstart']:%Y-%m-%d}); expected a rule that fires "
                "(check BYMONTHDAY, BYSETPOS and INTERVAL against the calendar)"
            )
    return text


def check_cron(text: str) -> str:
    """Accept a five-field cron expression that fires."""
    from croniter import CroniterError, croniter

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(
            f"expected an RRULE ('RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2') or a five-field "
            f"cron expression ('0 2 * * 0'), got {text!r}"
        )
    try:
        croniter(text, RRULE_ANCHOR).get_next(datetime)
    except CroniterError:
        raise ValueError(f"the cron expression {text!r} never fires") from None
    return text


def check_recurrence(text: str) -> str:
    """Accept an RRULE (``RRULE:...``) or a five-field cron expression that fires, at
    most once a minute (``MIN_GAP``)."""
    return check_rrule(text) if is_rrule(text) else check_cron(text)


class Freeze(Frozen):
    """A period in which windows do not run (dates are inclusive, in the zone)."""

    start: date | datetime = Field(alias="from")
    end: date | datetime = Field(alias="to")
    reason: Text

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, value: date | datetime) -> date | datetime:
        if not FREEZE_YEARS[0] <= value.year <= FREEZE_YEARS[1]:
            first, last = FREEZE_YEARS
            raise ValueError(f"expected a date from {first}-01-01 to {last}-12-31, got {value}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        as_dt = [
            v if isinstance(v, datetime) else datetime(v.year, v.month, v.day)
            for v in (self.start, self.end)
        ]
        if as_dt[0].replace(tzinfo=None) > as_dt[1].replace(tzinfo=None):
            raise ValueError("'from' is after 'to'")
        return self


_WEEKDAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_NAMED_RULES = {
    "day": "FREQ=DAILY",
    "month-start": "FREQ=MONTHLY;BYMONTHDAY=1",
    "month-end": "FREQ=MONTHLY;BYMONTHDAY=-1",
    "quarter-end": "FREQ=MONTHLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1",
}
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_NAMING = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER")
FREEZE_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
"""A recurring freeze starts at most once a day: these FREQs, and one start time."""
EVERY_HELP = (
    "day, a weekday (monday), 'first|second|third|fourth|last WEEKDAY', month-start, "
    "month-end, quarter-end, year (with on: [MM-DD, ...]) or RRULE:FREQ=..."
)


def rule_params(body: str) -> dict[str, str]:
    """The ``NAME=value`` parts of an RRULE body, names upper-cased."""
    params: dict[str, str] = {}
    for part in body.strip().split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            params[name.strip().upper()] = value.strip()
    return params


def check_freeze_rule(body: str, start: datetime) -> None:
    """Accept an RRULE body for a freeze: FREQ DAILY to YEARLY, one start time a day,
    and a rule that fires (the bounds of ``check_rrule``; its UNTIL is not checked)."""
    params = rule_params(body)
    freq = params.get("FREQ", "").upper()
    if freq not in FREEZE_FREQS:
        raise ValueError(
            f"FREQ={freq or '(none)'}: a freeze recurs at most daily; expected FREQ="
            + ", ".join(FREEZE_FREQS)
        )
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if "," in params.get(name, ""):
            raise ValueError(f"{name}={params[name]}: a freeze starts at most once a day")
    without_until = ";".join(f"{k}={v}" for k, v in params.items() if k != "UNTIL")
    check_rrule(f"DTSTART:{start:%Y%m%dT%H%M%S}\nRRULE:{without_until}")


def _month_day(text: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(text.strip())
    month, day = (int(g) for g in match.groups()) if match else (0, 0)
    try:
        date(2024, month, day)  # a leap year: 02-29 is a day (it fires in leap years)
    except ValueError:
        raise ValueError(f"on: expected month-day dates such as '12-25', got {text!r}") from None
    return month, day


def freeze_rule_bodies(every: str, on: list[str]) -> list[str]:
    """The RRULE bodies (``FREQ=...``) that ``every`` (and ``on``) name."""
    words = " ".join(every.lower().split())
    if words.startswith("rrule:"):
        return [every.strip()[len("RRULE:") :]]
    if words == "year":
        if not on:
            raise ValueError("every: year needs on: [MM-DD, ...] (the days of each year)")
        return [f"FREQ=YEARLY;BYMONTH={m};BYMONTHDAY={d}" for m, d in map(_month_day, on)]
    if on:
        raise ValueError("on: is only for every: year")
    if words in _NAMED_RULES:
        return [_NAMED_RULES[words]]
    if words in _WEEKDAYS:
        return [f"FREQ=WEEKLY;BYDAY={_WEEKDAYS[words]}"]
    ordinal, _, weekday = words.partition(" ")
    if ordinal in _ORDINALS and weekday in _WEEKDAYS:
        return [f"FREQ=MONTHLY;BYDAY={_ORDINALS[ordinal]}{_WEEKDAYS[weekday]}"]
    raise ValueError(f"every: expected {EVERY_HELP}; got {every!r}")


class RecurringFreeze(Frozen):
    """A freeze that comes back: ``every`` names the days it starts on (in the schedule's
    zone), ``at`` the local time it starts (default 00:00), ``duration`` how long it lasts
    on the local clock (default 1d: the whole day)."""

    every: Text = Field(description=f"When it starts: {EVERY_HELP}.")
    on: list[Text] = Field(
        default_factory=list, description="With every: year, the days: ['12-25', '01-01']."
    )
    at: Text | None = Field(None, description="Local start time, HH:MM (default 00:00).")
    duration: Text = Field(
        "1d", description="How long, on the local clock: 1d is the whole day; 2d, 12h, 1d 6h."
    )
    first: date | None = Field(
        None, alias="from", description="First day it applies (default: always)."
    )
    until: date | None = Field(None, description="Last day it may start (default: for ever).")
    skip: list[date] = Field(
        default_factory=list, alias="except", description="Start days it does not apply on."
    )
    reason: Text

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _CLOCK.match(value.strip()):
            raise ValueError(f"expected a local time HH:MM such as '18:00', got {value!r}")
        return value

    @field_validator("duration")
    @classmethod
    def _length(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("first", "until", "skip")
    @classmethod
    def _years(cls, value: date | list[date] | None) -> date | list[date] | None:
        for day in value if isinstance(value, list) else [value] if value else []:
            if not FREEZE_YEARS[0] <= day.year <= FREEZE_YEARS[1]:
                first, last = FREEZE_YEARS
                raise ValueError(f"expected a date from {first}-01-01 to {last}-12-31, got {day}")
        return value

    @model_validator(mode="after")
    def _rules(self) -> RecurringFreeze:
        if self.first and self.until and self.first > self.until:
            raise ValueError("'from' is after 'until'")
        for body in freeze_rule_bodies(self.every, self.on):
            params = rule_params(body)
            check_freeze_rule(body, datetime.combine(self.first or RRULE_ANCHOR, self.start_time))
            for name in ("DTSTART", "UNTIL", "BYHOUR", "BYMINUTE", "BYSECOND"):
                if name in params or body.upper().startswith(name):
                    raise ValueError(
                        f"every: {name} is not for a freeze rule; use from:, until: and at:"
                    )
            if self.first is None and (
                "COUNT" in params
                or params.get("INTERVAL", "1") != "1"
                or (params.get("FREQ", "").upper() != "DAILY" and not set(params) & {*_DAY_NAMING})
            ):
                raise ValueError(
                    "every: a rule with COUNT or INTERVAL, or without BYDAY/BYMONTHDAY, "
                    "counts from a day: add from: YYYY-MM-DD"
                )
        return self

    @property
    def start_time(self) -> time:
        """The local time each occurrence starts."""
        if self.at is None:
            return time()
        hour, minute = self.at.strip().split(":")
        return time(int(hour), int(minute))

    @property
    def length(self) -> timedelta:
        """The duration, on the local clock."""
        return parse_duration(self.duration)


def _freeze_kind(value: Any) -> str:
    if isinstance(value, RecurringFreeze) or (isinstance(value, dict) and "every" in value):
        return "recurring"
    return "once"


AnyFreezeSpec = Annotated[
    Annotated[Freeze, Tag("once")] | Annotated[RecurringFreeze, Tag("recurring")],
    Discriminator(_freeze_kind),
]
"""A freeze in a schedule or freeze file: once (``from``/``to``) or recurring (``every``)."""


class FreezeFile(Frozen):
    """``freezes/NAME.yaml``: freeze periods shared by several schedules."""

    freezes: list[AnyFreezeSpec] = Field(min_length=1)
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
    retries: Retries | None = Field(
        None, description="Default retries of the step's checks (e.g. after a reboot)."
    )
    delay: Delay | None = Field(None, description="Default delay between those attempts.")
    remediate: bool = Field(
        False,
        description="Run the remediation playbook of each check that failed (on exactly "
        "the hosts that failed it), then check those hosts again.",
    )


class PlaybookStep(Frozen):
    """A window step that runs a playbook."""

    playbook: LocalPath = Field(description="Path from the repo root, e.g. playbooks/patch.yml.")
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
    remediate: bool = Field(
        False,
        description="A routine run by run-due may run its checks' remediation playbooks "
        "(never from cron unless the schedule says so).",
    )
    steps: list[Step] = Field(default_factory=list, description="What a window runs, in order.")
    freeze: list[AnyFreezeSpec] = Field(default_factory=list)
    freeze_files: list[LocalPath] = Field(default_factory=list, description="e.g. freezes/x.yaml")
    notify: list[Notify] = Field(default_factory=list, description="Webhooks, emails.")
    order: Literal["dependencies"] | None = Field(
        None,
        description="A window's hosts in tiers of systems (systems/*.yaml), in dependency "
        "order; a tier starts only when the tier before it passed its gating checks.",
    )
    tiers: list[Name | list[Name]] = Field(
        default_factory=list,
        description="An explicit order of tiers: system names, or lists of them, first "
        "tier first (instead of `order: dependencies`).",
    )
    stop: Literal["dependents-first", "dependents-last"] = Field(
        "dependents-last",
        description="With `order: dependencies`: dependents-last patches a system after "
        "those it depends on (db, app, web); dependents-first before them (web, app, db).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
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
        if (self.order or self.tiers) and self.window is None:
            raise ValueError("`order` and `tiers` are for windows")
        if self.order and self.tiers:
            raise ValueError("a window has `order: dependencies` or explicit `tiers`, not both")
        return self

    @property
    def tier_names(self) -> list[list[str]]:
        """The explicit ``tiers``, each a list of system names."""
        return [[t] if isinstance(t, str) else list(t) for t in self.tiers]

    @property
    def name(self) -> str:
        """The routine's or window's name."""
        return self.routine or self.window or ""

    @property
    def length(self) -> timedelta:
        """The window's duration."""
        return parse_duration(self.duration)
