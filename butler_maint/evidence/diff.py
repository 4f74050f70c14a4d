"""``report diff A B``: what changed between two runs.

Results are matched by (step, host, check); a step is named ``checklist: NAME`` or
``playbook: PATH`` (``#2`` when the same one appears twice in a window).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from butler_maint.evidence.model import ChecklistStep, Observed, Report, Result, Step

Key = tuple[str, str, str]


@dataclass
class ReportDiff:
    """Differences from report ``a`` to report ``b``."""

    a: str
    b: str
    status: list[tuple[Key, str, str]] = field(default_factory=list)
    drift: list[tuple[Key, Observed, Observed]] = field(default_factory=list)
    new_hosts: list[str] = field(default_factory=list)
    removed_hosts: list[str] = field(default_factory=list)
    new_checks: list[str] = field(default_factory=list)
    removed_checks: list[str] = field(default_factory=list)
    new_results: list[Key] = field(default_factory=list)
    removed_results: list[Key] = field(default_factory=list)
    described: dict[Key, str] = field(default_factory=dict)
    """For each status change: the check's title and severity, as report B has them."""

    @property
    def empty(self) -> bool:
        """True when the runs have the same results and observed values."""
        return not (self.status or self.drift or self.new_results or self.removed_results)


def step_labels(steps: list[Step]) -> list[str]:
    """A label per step, unique within the report."""
    seen: Counter[str] = Counter()
    labels = []
    for step in steps:
        base = (
            f"checklist: {step.checklist}"
            if isinstance(step, ChecklistStep)
            else f"playbook: {step.playbook}"
        )
        seen[base] += 1
        labels.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return labels


def keyed_results(report: Report) -> dict[Key, Result]:
    """Top-level results of ``report`` by (step label, host, check)."""
    out: dict[Key, Result] = {}
    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        for result in step.results:
            out[(label, result.host, result.check)] = result
    return out


def diff_reports(a: Report, b: Report) -> ReportDiff:
    """Status changes, new/removed hosts and checks, and drift in observed values."""
    old, new = keyed_results(a), keyed_results(b)
    diff = ReportDiff(a.id, b.id)
    for key in sorted(old.keys() & new.keys()):
        before, after = old[key], new[key]
        if before.status != after.status:
            diff.status.append((key, before.status.value, after.status.value))
            diff.described[key] = _described(after) or _described(before)
        elif before.observed != after.observed:
            diff.drift.append((key, before.observed, after.observed))
    diff.new_results = sorted(new.keys() - old.keys())
    diff.removed_results = sorted(old.keys() - new.keys())
    hosts_a, hosts_b = {k[1] for k in old}, {k[1] for k in new}
    checks_a, checks_b = {k[2] for k in old}, {k[2] for k in new}
    diff.new_hosts, diff.removed_hosts = sorted(hosts_b - hosts_a), sorted(hosts_a - hosts_b)
    diff.new_checks, diff.removed_checks = sorted(checks_b - checks_a), sorted(checks_a - checks_b)
    return diff


def _described(result: Result) -> str:
    severity = f"[{result.severity}]" if result.severity else ""
    return " ".join(part for part in (result.title or "", severity) if part)


def _key(key: Key) -> str:
    return f"{key[1]} {key[2]} [{key[0]}]"


def _change(diff: ReportDiff, key: Key, a: str, b: str) -> str:
    what = diff.described.get(key)
    return f"status  {_key(key)}: {a} -> {b}" + (f"  ({what})" if what else "")


def render_diff(diff: ReportDiff) -> str:
    """The diff as text, most important first."""
    lines = [f"--- {diff.a}", f"+++ {diff.b}"]
    lines += [_change(diff, k, a, b) for k, a, b in diff.status]
    lines += [f"host    + {h}" for h in diff.new_hosts]
    lines += [f"host    - {h}" for h in diff.removed_hosts]
    lines += [f"check   + {c}" for c in diff.new_checks]
    lines += [f"check   - {c}" for c in diff.removed_checks]
    lines += [f"drift   {_key(k)}: {a!r} -> {b!r}" for k, a, b in diff.drift]
    lines += [f"result  + {_key(k)}" for k in diff.new_results]
    lines += [f"result  - {_key(k)}" for k in diff.removed_results]
    if diff.empty:
        lines.append("no differences in results")
    return "\n".join(lines) + "\n"
