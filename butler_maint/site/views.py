"""View data for the site's pages: plain values computed from index entries and reports.

Nothing here writes or formats HTML; the templates do (with autoescaping), so every
value that comes from a report reaches the page escaped.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from butler_maint.evidence.diff import step_labels
from butler_maint.evidence.model import (
    FAILING,
    SEVERITIES,
    HostStats,
    PlaybookStep,
    Report,
    Result,
    Status,
)
from butler_maint.evidence.summary import explain, iter_results

RESULTS = ("pass", "fail", "error", "interrupted")
"""Overall run results, in the order the site lists them."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

HostChecks = list[list[str]]
"""One host's results in one run: ``[step label, check, status]`` rows."""


def file_stem(name: str) -> str:
    """A file name for ``name`` (run id, host): unchanged when already safe, else
    reduced to ``[A-Za-z0-9._-]`` plus a short digest of the original (no collisions)."""
    safe = _UNSAFE.sub("_", name).lstrip(".")
    if safe == name and safe:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[:80] or 'x'}-{digest}"


@dataclass(frozen=True)
class RunRow:
    """One run in the index table (from its index entry)."""

    id: str
    page: str
    kind: str
    name: str
    schedule: str
    trigger: str
    started: str
    date: str
    result: str
    dry_run: bool
    hosts: list[str]
    summary: dict[str, int]
    chain: str


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None else str(value)


def _counts(raw: object) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}


def run_row(entry: Mapping[str, Any], chain: str) -> RunRow:
    """The index-table row of an index entry."""
    run_id = _text(entry, "id")
    started = _text(entry, "started")
    hosts = entry.get("hosts")
    return RunRow(
        id=run_id,
        page=f"runs/{file_stem(run_id)}.html",
        kind=_text(entry, "kind"),
        name=_text(entry, "name"),
        schedule=_text(entry, "schedule"),
        trigger=_text(entry, "trigger"),
        started=started,
        date=started[:10],
        result=_text(entry, "result"),
        dry_run=bool(entry.get("dry_run")),
        hosts=[str(h) for h in hosts] if isinstance(hosts, list) else [],
        summary=_counts(entry.get("summary")),
        chain=chain,
    )


# -- one run ------------------------------------------------------------------------


@dataclass(frozen=True)
class HostResult:
    """A result on one host, with the step it belongs to."""

    step: str
    result: Result

    @property
    def failing(self) -> bool:
        """True for fail, error and unreachable."""
        return self.result.status in FAILING


@dataclass
class HostDetail:
    """Everything one run did on one host: results (failing first) and play recaps."""

    host: str
    page: str
    results: list[HostResult] = field(default_factory=list)
    recaps: list[tuple[str, HostStats]] = field(default_factory=list)

    @property
    def failing(self) -> int:
        """Number of failing results."""
        return sum(1 for r in self.results if r.failing)


def host_page(host: str) -> str:
    """Path of a host's page, relative to the site root."""
    return f"hosts/{file_stem(host)}.html"


def host_details(report: Report) -> list[HostDetail]:
    """Per-host detail of a run: hosts with failures first, then by name."""
    details: dict[str, HostDetail] = {}

    def detail(host: str) -> HostDetail:
        if host not in details:
            details[host] = HostDetail(host, host_page(host))
        return details[host]

    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        for result in step.results:
            detail(result.host).results.append(HostResult(label, result))
        if isinstance(step, PlaybookStep):
            for host, stats in step.hosts.items():
                detail(host).recaps.append((label, stats))
    for item in details.values():
        item.results.sort(key=lambda r: not r.failing)
    return sorted(details.values(), key=lambda d: (d.failing == 0, d.host))


def host_checks(report: Report) -> dict[str, HostChecks]:
    """Per host, the ``[step, check, status]`` of each result (kept in the manifest)."""
    checks: dict[str, HostChecks] = defaultdict(list)
    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        for result in step.results:
            checks[result.host].append([label, result.check, result.status.value])
        if isinstance(step, PlaybookStep):
            for host in step.hosts:
                checks.setdefault(host, [])
    return dict(checks)


@dataclass(frozen=True)
class FailureRow:
    """A failing result as the run page lists it: step number, result and why in words."""

    step: int
    result: Result
    why: str


def failure_rows(report: Report) -> list[FailureRow]:
    """The run's failing results (fail, error, unreachable), in report order."""
    return [
        FailureRow(n, r, explain(r)) for n, r in iter_results(report.steps) if r.status in FAILING
    ]


Tags = dict[str, Any]
"""What a run's results say about one host, for the filters: ``{"severity": the worst
severity among its failing results ("" when none), "controls": the controls checked}``."""


def _worst(severities: Iterable[str | None]) -> str:
    ranked = [SEVERITIES.index(s) for s in severities if s in SEVERITIES]
    return SEVERITIES[max(ranked)] if ranked else ""


def host_tags(report: Report) -> dict[str, Tags]:
    """Per host, the worst failing severity and the controls its results checked."""
    results: dict[str, list[Result]] = defaultdict(list)
    for _, result in iter_results(report.steps):
        results[result.host].append(result)
    return {
        host: {
            "severity": _worst(r.severity for r in items if r.status in FAILING),
            "controls": sorted({c for r in items for c in r.controls or []}),
        }
        for host, items in results.items()
    }


def merge_tags(tags: Iterable[Tags]) -> Tags:
    """Tags of several hosts together (a run's, on the index)."""
    items = list(tags)
    return {
        "severity": _worst(str(t.get("severity") or "") for t in items),
        "controls": sorted({str(c) for t in items for c in t.get("controls") or []}),
    }


def status_counts(report: Report) -> list[tuple[str, int]]:
    """Non-zero result counts of a run, in status order."""
    return [(s.value, report.summary.count(s)) for s in Status if report.summary.count(s)]


# -- one host -----------------------------------------------------------------------


@dataclass(frozen=True)
class HostRun:
    """One run that included a host, as the host's page lists it."""

    row: RunRow
    counts: dict[str, int]
    statuses: dict[str, str]
    tags: Tags = field(default_factory=dict)


@dataclass(frozen=True)
class HostHistory:
    """A host's page: its runs (newest first) and a check x run status matrix."""

    host: str
    page: str
    runs: list[HostRun]
    checks: list[str]
    matrix_runs: list[HostRun]

    @property
    def controls(self) -> list[str]:
        """Every control the host's runs checked (the control filter's choices)."""
        return sorted({str(c) for run in self.runs for c in run.tags.get("controls") or []})

    def classes(self, run: HostRun) -> str:
        """CSS classes the page's filters select a run by: ``s-<severity>`` for every
        severity up to its worst failing one, ``c-<n>`` for each control it checked
        (``n`` indexes ``controls``: no report text reaches the style sheet)."""
        worst = str(run.tags.get("severity") or "")
        upto = SEVERITIES[: SEVERITIES.index(worst) + 1] if worst in SEVERITIES else ()
        numbers = {c: n for n, c in enumerate(self.controls)}
        checked = [numbers[str(c)] for c in run.tags.get("controls") or [] if str(c) in numbers]
        return " ".join([f"s-{s}" for s in upto] + [f"c-{n}" for n in sorted(checked)])


MATRIX_RUNS = 30
"""Runs shown as columns of a host's check matrix (the most recent)."""


def _check_key(step: str, check: str, many_steps: bool) -> str:
    return f"{step} / {check}" if many_steps else check


def host_histories(
    rows: Sequence[RunRow],
    checks: Mapping[str, Mapping[str, HostChecks]],
    tags: Mapping[str, Mapping[str, Tags]] | None = None,
) -> list[HostHistory]:
    """Every host's history from the run rows (chain order), per-run host checks and
    per-run host tags (severity, controls)."""
    runs: dict[str, list[HostRun]] = defaultdict(list)
    for row in rows:
        per_host = checks.get(row.id, {})
        for host in sorted(set(row.hosts) | set(per_host)):
            items = per_host.get(host, [])
            many = len({step for step, _, _ in items}) > 1
            statuses = {_check_key(s, c, many): st for s, c, st in items}
            counts = Counter(st for _, _, st in items)
            found = (tags or {}).get(row.id, {}).get(host) or {}
            runs[host].append(HostRun(row, dict(counts), statuses, dict(found)))
    histories = []
    for host in sorted(runs):
        newest = list(reversed(runs[host]))
        matrix = newest[:MATRIX_RUNS]
        names = sorted({name for run in matrix for name in run.statuses})
        histories.append(HostHistory(host, host_page(host), newest, names, matrix))
    return histories


# -- KPIs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """Runs per overall result for one day or one schedule."""

    label: str
    counts: dict[str, int]
    last: str = ""

    @property
    def total(self) -> int:
        """Number of runs."""
        return sum(self.counts.values())

    @property
    def rate(self) -> float | None:
        """Share of runs that passed (None without runs)."""
        return self.counts.get("pass", 0) / self.total if self.total else None


def _tallies(pairs: Iterable[tuple[str, RunRow]]) -> list[Tally]:
    grouped: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, str] = {}
    for label, row in pairs:
        grouped[label][row.result] += 1
        last[label] = max(last.get(label, ""), row.started)
    return [Tally(label, dict(grouped[label]), last[label]) for label in sorted(grouped)]


def per_day(rows: Iterable[RunRow]) -> list[Tally]:
    """Runs per UTC day (dry runs left out), oldest first."""
    return _tallies((row.date, row) for row in rows if not row.dry_run and row.date)


def schedule_label(row: RunRow) -> str:
    """The schedule a run counts under: its schedule, else ``(unscheduled) <kind> <name>``."""
    return row.schedule or f"(unscheduled) {row.kind} {row.name}"


def per_schedule(rows: Iterable[RunRow]) -> list[Tally]:
    """Runs per schedule (dry runs left out), by name."""
    return _tallies((schedule_label(row), row) for row in rows if not row.dry_run)
