"""``--fail-on``: whether a run's failures fail the command, at the caller's threshold.

The evidence says what happened (a report's result and statuses never change); the
threshold is the caller's policy, applied here alone. A failing result (fail, error,
unreachable) counts when its severity is at or above the threshold, or when it has no
severity (playbook tasks, schema 1.0 reports): nothing says it is minor. Without a
threshold every failing result counts, as before ``--fail-on`` existed.
"""

from __future__ import annotations

from collections.abc import Iterable

from butler_maint.evidence.model import (
    FAILING,
    SEVERITIES,
    Overall,
    PlaybookStep,
    Report,
    Result,
    Severity,
)
from butler_maint.evidence.summary import iter_results


def counts(result: Result, fail_on: Severity | None) -> bool:
    """Whether ``result`` is a failure at threshold ``fail_on`` (None: any failure)."""
    if result.status not in FAILING:
        return False
    if fail_on is None or result.severity is None:
        return True
    return SEVERITIES.index(result.severity) >= SEVERITIES.index(fail_on)


def results_fail(results: Iterable[Result], fail_on: Severity | None) -> bool:
    """Whether any of ``results`` is a failure at threshold ``fail_on``."""
    return any(counts(r, fail_on) for r in results)


def report_fails(report: Report, fail_on: Severity | None) -> bool:
    """Whether a report that did not pass fails at ``fail_on``: a run error, an
    interruption or a playbook recap's failed or unreachable hosts always do (no
    severity says they are minor); otherwise its failing results decide."""
    if report.result is Overall.PASS:
        return False
    if fail_on is None or report.error or report.result is Overall.INTERRUPTED:
        return True
    if _recap_failed(report):
        return True
    return results_fail((r for _, r in iter_results(report.steps)), fail_on)


def _recap_failed(report: Report) -> bool:
    return any(
        stats.failed or stats.unreachable
        for step in report.steps
        if isinstance(step, PlaybookStep)
        for stats in step.hosts.values()
    )
