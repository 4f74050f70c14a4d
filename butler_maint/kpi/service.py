"""Service levels per system and per vendor: each figure against its target.

A *scope* is one system, or one vendor (the union of its systems). Its figures over a
period ``[start, end)``:

- **pass rate**: passed / judged results of its checks (``rates``), target
  ``service_levels.pass_rate`` (%);
- **availability**: judged results that were neither error nor unreachable (no target);
- **on time**: occurrences of its schedules run inside their window (``sla``), target
  ``service_levels.on_time`` (%);
- **MTTR**: mean time from a check's first ``fail`` to its next ``pass``, for
  remediations done in the period, target ``service_levels.mttr``;
- **maintenance gap**: the longest time in the period without a run of its schedules
  (from the last run before the period, else its start, to the end), target
  ``service_levels.maintenance_every``.

Each is ``met``, ``at risk`` (met, with ``AT_RISK`` or more of the error budget used:
for a rate the budget is 100 % - target, for a duration the target itself), ``missed``,
``no data`` or ``no target``. A vendor's target is the strictest of its systems'.

Pure: observations, index entries and schedules in, figures out; nothing reads the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from butler_maint.evidence.index import IndexEntry
from butler_maint.evidence.model import Status
from butler_maint.kpi.history import FAILED, Observation, failing_now
from butler_maint.kpi.mttr import availability, mean_time_to_remediate, remediations
from butler_maint.kpi.rates import pass_rate
from butler_maint.kpi.sla import outcomes, summarize_sla
from butler_maint.model.schedule import parse_duration
from butler_maint.schedule.calendar import Scheduled
from butler_maint.systems.members import Systems, system_schedules

State = Literal["met", "at risk", "missed", "no data", "no target"]
AT_RISK = 0.8
"""Share of the error budget whose use makes a met figure "at risk"."""
Value = float | timedelta | None


@dataclass(frozen=True)
class Figure:
    """One service-level figure of a scope: its value, target, state, the previous
    period's value, and what it is made of."""

    name: str
    value: Value
    target: Value
    state: State
    detail: str = ""
    previous: Value = None


@dataclass(frozen=True)
class Checked:
    """What was checked in the period: checklists, hosts, runs, results."""

    checklists: list[str]
    hosts: list[str]
    runs: int
    results: int


@dataclass(frozen=True)
class Scope:
    """A system or a vendor, with what it takes in: systems, hosts, schedules, targets."""

    kind: Literal["system", "vendor"]
    name: str
    systems: list[str]
    owners: list[str]
    vendors: list[str]
    schedules: list[str]
    pass_rate: float | None = None
    on_time: float | None = None
    mttr: timedelta | None = None
    maintenance_every: timedelta | None = None
    title: str | None = None


@dataclass(frozen=True)
class ScopeFigures:
    """A scope's figures over a period, and the rest of its service report."""

    scope: Scope
    checked: Checked
    figures: list[Figure]
    incidents: int
    """Failures caught: a host+check turning to ``fail`` in the period."""
    open_failures: list[Observation]
    """Host+checks failing at the end of the period."""
    waived: int
    """Results the period recorded ``waived``."""
    maintenance_runs: int = 0
    runs_by_schedule: dict[str, int] = field(default_factory=dict)

    def figure(self, name: str) -> Figure:
        """The figure called ``name``."""
        return next(f for f in self.figures if f.name == name)


def judge_rate(value: float | None, target_pct: float | None) -> State:
    """The state of a rate (0..1) against a target in %."""
    if target_pct is None:
        return "no target"
    if value is None:
        return "no data"
    target = target_pct / 100
    if value < target:
        return "missed"
    budget = 1 - target
    return "at risk" if budget > 0 and (1 - value) >= AT_RISK * budget else "met"


def judge_duration(value: timedelta | None, target: timedelta | None) -> State:
    """The state of a duration that must stay at or below ``target``."""
    if target is None:
        return "no target"
    if value is None:
        return "no data"
    if value > target:
        return "missed"
    return "at risk" if value >= target * AT_RISK else "met"


def _duration(text: str | None) -> timedelta | None:
    return parse_duration(text) if text else None


def system_scope(name: str, systems: Systems, scheduled: Sequence[Scheduled]) -> Scope:
    """The scope of one system."""
    system = systems.systems[name]
    levels = system.service_levels
    return Scope(
        kind="system", name=name, systems=[name], title=system.title,
        owners=[system.owner] if system.owner else [],
        vendors=[system.vendor] if system.vendor else [],
        schedules=system_schedules(system, [s.schedule for s in scheduled]),
        pass_rate=levels.pass_rate, on_time=levels.on_time,
        mttr=_duration(levels.mttr), maintenance_every=_duration(levels.maintenance_every),
    )  # fmt: skip


def _highest(values: Sequence[float | None]) -> float | None:
    return max((v for v in values if v is not None), default=None)


def _lowest(values: Sequence[timedelta | None]) -> timedelta | None:
    return min((v for v in values if v is not None), default=None)


def vendor_scope(vendor: str, systems: Systems, scheduled: Sequence[Scheduled]) -> Scope:
    """The scope of a vendor: the union of its systems, their strictest targets."""
    parts = [system_scope(n, systems, scheduled) for n in vendor_systems(systems, vendor)]
    return Scope(
        kind="vendor", name=vendor, systems=[p.name for p in parts],
        owners=sorted({o for p in parts for o in p.owners}), vendors=[vendor],
        schedules=sorted({s for p in parts for s in p.schedules}),
        pass_rate=_highest([p.pass_rate for p in parts]),
        on_time=_highest([p.on_time for p in parts]),
        mttr=_lowest([p.mttr for p in parts]),
        maintenance_every=_lowest([p.maintenance_every for p in parts]),
    )  # fmt: skip


def vendor_systems(systems: Systems, vendor: str) -> list[str]:
    """The systems ``vendor`` services, by name."""
    return sorted(n for n, s in systems.systems.items() if s.vendor == vendor)


def vendors(systems: Systems) -> list[str]:
    """Every vendor named by a system."""
    return sorted({s.vendor for s in systems.systems.values() if s.vendor})


def in_scope(obs: Sequence[Observation], scope: Scope, systems: Systems) -> list[Observation]:
    """The observations of ``scope``'s systems (each once)."""
    wanted = set(scope.systems)
    return [o for o in obs if wanted & set(systems.of(o.host, o.step))]


@dataclass(frozen=True)
class ServiceData:
    """What service figures are computed from: the systems, the observations and index
    entries of the runs (time-ordered; they may reach before the period) and the
    schedules."""

    systems: Systems
    obs: Sequence[Observation]
    entries: Sequence[IndexEntry]
    scheduled: Sequence[Scheduled]


@dataclass(frozen=True)
class Period:
    """``[start, end)``; ``end`` is the period's end or, for the current one, now."""

    start: datetime
    end: datetime


def scope_figures(scope: Scope, data: ServiceData, period: Period) -> ScopeFigures:
    """``scope``'s figures over ``period`` (evidence after its end is ignored)."""
    entries, scheduled = data.entries, data.scheduled
    mine = in_scope([o for o in data.obs if o.at < period.end], scope, data.systems)
    inside = [o for o in mine if o.at >= period.start]
    rate, avail = pass_rate(inside), availability(inside)
    fixed = [r for r in remediations(mine) if period.start <= r.fixed_at < period.end]
    mttr = mean_time_to_remediate(fixed)
    on_time, on_detail = _on_time(scope, entries, scheduled, period)
    gap, runs = _gap(scope, entries, period)
    figures = [
        Figure("pass rate", rate.rate, _pct(scope.pass_rate),
               judge_rate(rate.rate, scope.pass_rate),
               f"{rate.passed} of {rate.judged} results passed"),
        Figure("availability", avail.rate, None, "no target" if avail.judged else "no data",
               f"{avail.errors} error, {avail.unreachable} unreachable of {avail.judged}"),
        Figure("on time", on_time, _pct(scope.on_time),
               judge_rate(on_time, scope.on_time), on_detail),
        Figure("MTTR", mttr, scope.mttr, judge_duration(mttr, scope.mttr),
               f"{len(fixed)} remediated"),
        Figure("maintenance gap", gap, scope.maintenance_every,
               judge_duration(gap, scope.maintenance_every),
               f"{sum(runs.values())} maintenance runs"),
    ]  # fmt: skip
    return ScopeFigures(
        scope=scope,
        checked=Checked(
            checklists=sorted({o.step for o in inside}),
            hosts=sorted({o.host for o in inside}),
            runs=len({o.report for o in inside}),
            results=len(inside),
        ),
        figures=figures,
        incidents=_incidents(mine, period),
        open_failures=failing_now(mine),
        waived=sum(o.status is Status.WAIVED for o in inside),
        maintenance_runs=sum(runs.values()),
        runs_by_schedule=runs,
    )


def _pct(value: float | None) -> float | None:
    return value / 100 if value is not None else None


def _on_time(
    scope: Scope, entries: Sequence[IndexEntry], scheduled: Sequence[Scheduled], period: Period
) -> tuple[float | None, str]:
    """On-time share of the scope's schedules' occurrences in the period."""
    on_time = due = 0
    first = min((e.started for e in entries if e.started is not None), default=period.end)
    start = max(period.start, first)  # before the evidence begins, nothing is known
    for s in scheduled:
        if s.schedule.name not in scope.schedules:
            continue
        found = outcomes(s.schedule, entries, start, period.end, s.freezes)
        sla = summarize_sla(s.schedule, found)
        on_time, due = on_time + sla.on_time, due + sla.due
    detail = f"{on_time} of {due} occurrences on time"
    return (on_time / due if due else None), detail


def _gap(
    scope: Scope, entries: Sequence[IndexEntry], period: Period
) -> tuple[timedelta | None, dict[str, int]]:
    """The longest time in the period without a (non-dry) run of the scope's schedules,
    and the runs per schedule in the period; None when it has no schedules."""
    if not scope.schedules:
        return None, {}
    times = sorted(
        e.started
        for e in entries
        if e.started is not None
        and not e.dry_run
        and e.schedule in scope.schedules
        and e.started < period.end
    )
    before = [t for t in times if t < period.start]
    inside = [t for t in times if t >= period.start]
    marks = [before[-1] if before else period.start, *inside, period.end]
    runs: dict[str, int] = {}
    for e in entries:
        started, name = e.started, e.schedule
        if started is None or e.dry_run or name not in scope.schedules or name is None:
            continue
        if period.start <= started < period.end:
            runs[name] = runs.get(name, 0) + 1
    gap = max(b - a for a, b in itertools.pairwise(marks))
    return gap, runs


def _incidents(obs: Sequence[Observation], period: Period) -> int:
    """Host+checks that turned to ``fail`` in the period (a first fail, or a fail after
    a result that was not one)."""
    last: dict[tuple[str, str], Status] = {}
    count = 0
    for o in obs:
        before = last.get(o.key)
        if o.status in FAILED and before not in FAILED and o.at >= period.start:
            count += 1
        last[o.key] = o.status
    return count
