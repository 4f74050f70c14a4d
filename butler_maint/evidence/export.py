"""``report export``: a report as JSON, JUnit XML (CI dashboards) or Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict

from butler_maint.evidence.canonical import to_document
from butler_maint.evidence.diff import step_labels
from butler_maint.evidence.model import FAILING, Report, Result, Status

FORMATS = ("json", "junit", "markdown")
_SKIPPED = {Status.SKIPPED, Status.NOT_RUN, Status.WAIVED, Status.PENDING}


def to_json(report: Report) -> str:
    """The report's on-disk document as indented JSON (its digest still checks)."""
    return json.dumps(to_document(report), indent=2, ensure_ascii=False) + "\n"


def _case(suite: ET.Element, label: str, result: Result) -> tuple[int, int, int]:
    case = ET.SubElement(
        suite, "testcase", classname=label, name=result.check, time=f"{result.ms / 1000:.3f}"
    )
    text = f"observed: {result.observed!r}; expected: {result.expected}"
    message = result.message or result.status.value
    if result.status is Status.FAIL:
        ET.SubElement(case, "failure", message=message, type="fail").text = text
        return 1, 0, 0
    if result.status in (Status.ERROR, Status.UNREACHABLE):
        ET.SubElement(case, "error", message=message, type=result.status.value).text = text
        return 0, 1, 0
    if result.status in _SKIPPED:
        ET.SubElement(case, "skipped", message=f"{result.status.value}: {result.message or ''}")
        return 0, 0, 1
    return 0, 0, 0


def to_junit(report: Report) -> str:
    """JUnit XML: one testsuite per host, one testcase per check or task."""
    by_host: dict[str, list[tuple[str, Result]]] = defaultdict(list)
    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        for result in step.results:
            by_host[result.host].append((label, result))
    root = ET.Element("testsuites", name=report.id)
    for host in sorted(by_host):
        suite = ET.SubElement(root, "testsuite", name=host, timestamp=report.started.isoformat())
        totals = [0, 0, 0]
        for label, result in by_host[host]:
            for i, n in enumerate(_case(suite, label, result)):
                totals[i] += n
        ms = sum(r.ms for _, r in by_host[host])
        suite.attrib.update(
            tests=str(len(by_host[host])),
            failures=str(totals[0]),
            errors=str(totals[1]),
            skipped=str(totals[2]),
            time=f"{ms / 1000:.3f}",
        )
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """A Markdown page: header, summary, failures, then every result per step."""
    counts = ", ".join(
        f"{s.value} {report.summary.count(s)}" for s in Status if report.summary.count(s)
    )
    lines = [
        f"# {report.kind.value} {report.name}: {report.result.value.upper()}",
        "",
        f"- id: `{report.id}`",
        f"- started: {report.started.isoformat()} ({report.duration_ms} ms)",
        f"- operator: {report.operator}; trigger: {report.trigger.by}",
        f"- results: {report.summary.total} ({counts or 'none'})",
        f"- digest: `{report.digest}`",
        "",
    ]
    if report.failures:
        lines += [
            "## Failures",
            "",
            "| step | host | check | status | message |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {f.step} | {_cell(f.host)} | {_cell(f.check)} | {f.status.value} "
            f"| {_cell(f.message)} |"
            for f in report.failures
        ]
        lines.append("")
    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        lines += [f"## {label}", "", "| host | check | status | observed | expected | ms |"]
        lines.append("|---|---|---|---|---|---|")
        lines += [
            f"| {_cell(r.host)} | {_cell(r.check)} | {r.status.value} | {_cell(r.observed)} "
            f"| {_cell(r.expected)} | {r.ms} |"
            for r in sorted(step.results, key=lambda r: (r.status not in FAILING, r.host, r.check))
        ]
        lines.append("")
    return "\n".join(lines)


def export(report: Report, fmt: str) -> str:
    """The report in format ``fmt`` (one of ``FORMATS``)."""
    return {"json": to_json, "junit": to_junit, "markdown": to_markdown}[fmt](report)
