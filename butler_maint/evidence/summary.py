"""Derived parts of a report: summary counts, the failures list, the overall result.

Rules (documented in the README, "Evidence"):
- summary counts top-level results of every step per status (sub-results are details);
- overall: ``interrupted`` if the run was interrupted; else ``error`` if the run
  recorded an error, any result is ``error`` or ``unreachable``, or a playbook recap
  has unreachable hosts; else ``fail`` if any result is ``fail`` or a playbook recap
  has failed tasks; else ``pass``. ``skipped``, ``pending``, ``not_run`` and
  ``waived`` never fail a run on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from butler_maint.evidence.model import (
    FAILING,
    Failure,
    Overall,
    PlaybookStep,
    Report,
    ReportDraft,
    Result,
    Status,
    Step,
    Summary,
)
from butler_maint.model.status import Judged


def iter_results(steps: list[Step]) -> Iterator[tuple[int, Result]]:
    """Yield ``(step number, result)`` for every top-level result, steps 1-based."""
    for number, step in enumerate(steps, 1):
        for result in step.results:
            yield number, result


def summarize(steps: list[Step]) -> Summary:
    """Count top-level results per status."""
    counts = Counter(result.status for _, result in iter_results(steps))
    fields = {("passed" if s is Status.PASS else s.value): counts[s] for s in Status}
    return Summary(total=sum(counts.values()), **fields)


def explain(result: Judged) -> str:
    """Why a result is what it is, in words: its message, else observed vs expected."""
    if result.message:
        return result.message
    if result.observed is not None or result.expected:
        expected = f", expected {result.expected}" if result.expected else ""
        return f"observed {result.observed!r}{expected}"
    return str(result.status)


def describe(result: Result) -> str:
    """What a check is, in words: its title, ``[severity]`` and controls (schema 1.1);
    empty for a result that carries none of them (schema 1.0, playbook tasks)."""
    parts = [result.title or ""]
    if result.severity:
        parts.append(f"[{result.severity}]")
    if result.controls:
        parts.append(f"({', '.join(result.controls)})")
    return " ".join(p for p in parts if p)


def outline(report: Report, shown: int = 3) -> str:
    """One line on what went wrong in a run: its first failures (why each failed) and
    why it stopped early; empty when nothing did."""
    failing = [r for _, r in iter_results(report.steps) if r.status in FAILING]
    parts = []
    if failing:
        named = "; ".join(_named(r) for r in failing[:shown])
        more = f" (+{len(failing) - shown} more)" if len(failing) > shown else ""
        parts.append(f"{len(failing)} failing: {named}{more}")
    if report.stopped:
        parts.append(f"stopped: {report.stopped}")
    if report.error:
        parts.append(f"error: {report.error}")
    return "; ".join(parts)


def _named(result: Result) -> str:
    severity = f" [{result.severity}]" if result.severity else ""
    return f"{result.host} {result.check} {result.status}: {explain(result)}{severity}"


def failures(steps: list[Step]) -> list[Failure]:
    """The failing results (fail, error, unreachable), in report order."""
    return [
        Failure(step=n, host=r.host, check=r.check, status=r.status, message=r.message)
        for n, r in iter_results(steps)
        if r.status in FAILING
    ]


def _recap(steps: list[Step], field: str) -> bool:
    return any(
        getattr(stats, field) > 0
        for step in steps
        if isinstance(step, PlaybookStep)
        for stats in step.hosts.values()
    )


def overall(draft: ReportDraft, summary: Summary) -> Overall:
    """The overall result: interrupted > error > fail > pass."""
    if draft.interrupted:
        return Overall.INTERRUPTED
    if draft.error or summary.error or summary.unreachable or _recap(draft.steps, "unreachable"):
        return Overall.ERROR
    if summary.fail or _recap(draft.steps, "failed"):
        return Overall.FAIL
    return Overall.PASS
