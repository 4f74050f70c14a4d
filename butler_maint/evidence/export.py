"""``report export``: a report as JSON, JUnit XML (CI dashboards) or Markdown.

Text in a report comes from hosts and inventories, so each format escapes it for its
medium: ``visible`` shows control characters as ``\\x1b``-style escapes (the terminal
does the same, see ``butler_maint.cli.render``), JUnit XML never holds a character XML
1.0 forbids, and Markdown holds no raw HTML nor link or image syntax from a host.

``junit`` is the one JUnit writer: ``report export --format junit`` gives it a stored
report's steps, ``check --format junit`` the results it has just gathered.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from butler_maint.evidence.canonical import to_document
from butler_maint.evidence.diff import step_labels
from butler_maint.evidence.model import FAILING, Report, Status
from butler_maint.evidence.summary import explain, iter_results
from butler_maint.model.status import Judged

FORMATS = ("json", "junit", "markdown")
_SKIPPED = frozenset({Status.SKIPPED, Status.NOT_RUN, Status.WAIVED, Status.PENDING})
_ERRORS = frozenset({Status.ERROR, Status.UNREACHABLE})

_CONTROL = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f"  # C0 but tab, DEL, C1 (\x9b is a CSI on some terminals)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional overrides
    "\u2028\u2029\ud800-\udfff\ufffe\uffff]"  # line separators, lone surrogates, non-chars
)
_CONTROL_KEEP_NEWLINE = re.compile(_CONTROL.pattern.replace("\x0a", "\x0b", 1))
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with control, bidi and non-characters shown as escapes (``\\x1b``).

    Tabs stay; newlines stay only with ``newlines`` (a ``\\r\\n`` then becomes ``\\n``).
    """
    if newlines:
        return _CONTROL_KEEP_NEWLINE.sub(_escape, text.replace("\r\n", "\n"))
    return _CONTROL.sub(_escape, text)


def to_json(report: Report) -> str:
    """The report's on-disk document as indented JSON (its digest still checks)."""
    return json.dumps(to_document(report), indent=2, ensure_ascii=False) + "\n"


# -- JUnit XML ---------------------------------------------------------------------------


def _x(value: object) -> str:
    """Text for XML: characters XML 1.0 forbids (and other controls) as visible escapes."""
    return visible("" if value is None else str(value), newlines=True)


def _described(result: Judged) -> tuple[str | None, str | None, list[str]]:
    """Title, severity and controls of a result that carries them (schema 1.1 evidence;
    a check's fresh result and a playbook task carry none)."""
    title, severity, controls = (
        getattr(result, k, None) for k in ("title", "severity", "controls")
    )
    return (
        title if isinstance(title, str) else None,
        severity if isinstance(severity, str) else None,
        [str(c) for c in controls] if isinstance(controls, list) else [],
    )


def _properties(severity: str | None, controls: list[str]) -> ET.Element:
    """Severity and controls as ``<properties>`` (one ``control`` property each)."""
    props = ET.Element("properties")
    pairs = ([("severity", severity)] if severity else []) + [("control", c) for c in controls]
    for name, value in pairs:
        ET.SubElement(props, "property", name=name, value=_x(value))
    return props


def _case(suite: ET.Element, label: str, result: Judged) -> str:
    """Add one testcase; return what it counts as: failures, errors, skipped or tests.

    A case that did not pass carries its check's severity and controls as
    ``<properties>`` after its verdict (a passing case stays an empty element)."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_x(f"{label}.{result.host}"),
        name=_x(result.check),
        time=f"{result.ms / 1000:.3f}",
    )
    title, severity, controls = _described(result)
    counted = _verdict(case, result, title)
    if counted != "tests" and (severity or controls):
        case.append(_properties(severity, controls))
    return counted


def _verdict(case: ET.Element, result: Judged, title: str | None) -> str:
    """Add the failure, error or skipped element; the title leads a failure's message."""
    status = Status(result.status)
    message = _x(f"{title}: {explain(result)}" if title else (result.message or status.value))
    seen = (result.observed, result.expected) != (None, None)
    detail = _x(f"observed: {result.observed!r}; expected: {result.expected}") if seen else None
    if status is Status.FAIL:
        ET.SubElement(case, "failure", message=message, type=status.value).text = detail
        return "failures"
    if status in _ERRORS:
        ET.SubElement(case, "error", message=message, type=status.value).text = detail
        return "errors"
    if status in _SKIPPED:
        text = f"{status.value}: {result.message}" if result.message else status.value
        ET.SubElement(case, "skipped", message=_x(text))
        return "skipped"
    return "tests"


_COUNTS = ("tests", "failures", "errors", "skipped")


def junit(
    name: str,
    steps: Iterable[tuple[str, Sequence[Judged]]],
    *,
    started: datetime | None = None,
) -> str:
    """JUnit XML: one testsuite per host, one testcase per check or task.

    ``steps`` are (step label, results) pairs; a testcase's classname is
    ``<label>.<host>``, so a check met in two steps of a window stays two cases.
    """
    by_host: dict[str, list[tuple[str, Judged]]] = defaultdict(list)
    for label, results in steps:
        for result in results:
            by_host[result.host].append((label, result))
    root = ET.Element("testsuites", name=_x(name))
    totals = dict.fromkeys(_COUNTS, 0)
    for host in sorted(by_host):
        suite = ET.SubElement(root, "testsuite", name=_x(host))
        if started is not None:
            suite.set("timestamp", started.isoformat())
        counts = dict.fromkeys(_COUNTS, 0)
        for label, result in by_host[host]:
            counts[_case(suite, label, result)] += 1
        counts["tests"] = len(by_host[host])
        ms = sum(r.ms for _, r in by_host[host])
        suite.attrib.update({k: str(v) for k, v in counts.items()}, time=f"{ms / 1000:.3f}")
        totals = {k: totals[k] + counts[k] for k in _COUNTS}
    root.attrib.update({k: str(v) for k, v in totals.items()})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def to_junit(report: Report) -> str:
    """The report as JUnit XML (named after its id, one testsuite per host)."""
    labels = step_labels(report.steps)
    steps = [(label, step.results) for label, step in zip(labels, report.steps, strict=True)]
    return junit(report.id, steps, started=report.started)


# -- Markdown ----------------------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_\[\]()!~|])|(?i:(?<=www)(\.))|(:)(?=//)")
"""Inline Markdown syntax: backslash-escaped, so host text makes no link, image, code
span, emphasis or autolink (``http://``, ``www.``); ``<`` ``>`` ``&`` are HTML-escaped."""


def _md(value: object) -> str:
    """Host or report text for a Markdown line or table cell: inert and on one line."""
    text = html.escape(visible("" if value is None else str(value)), quote=False)
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), text)


markdown_text = _md
"""Host or report text made inert for Markdown (other Markdown documents use it too)."""


def to_markdown(report: Report) -> str:
    """A Markdown page: header, summary, failures, then every result per step."""
    counts = ", ".join(
        f"{s.value} {report.summary.count(s)}" for s in Status if report.summary.count(s)
    )
    lines = [
        f"# {report.kind.value} {_md(report.name)}: {report.result.value.upper()}",
        "",
        f"- id: `{report.id}`",  # store ids are [A-Za-z0-9._-] (evidence.layout)
        f"- started: {report.started.isoformat()} ({report.duration_ms} ms)",
        f"- operator: {_md(report.operator)}; trigger: {report.trigger.by}",
        f"- results: {report.summary.total} ({counts or 'none'})",
        f"- digest: `{report.digest}`",
        "",
    ]
    if report.failures:
        lines += [
            "## Failures",
            "",
            "| step | host | check | status | message | title | severity | controls |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {_md(r.host)} | {_md(r.check)} | {r.status.value} | {_md(explain(r))} "
            f"| {_md(r.title)} | {r.severity or ''} | {_md(', '.join(r.controls or []))} |"
            for n, r in iter_results(report.steps)
            if r.status in FAILING
        ]
        lines.append("")
    for label, step in zip(step_labels(report.steps), report.steps, strict=True):
        lines += [f"## {_md(label)}", "", "| host | check | status | observed | expected | ms |"]
        lines.append("|---|---|---|---|---|---|")
        lines += [
            f"| {_md(r.host)} | {_md(r.check)} | {r.status.value} | {_md(r.observed)} "
            f"| {_md(r.expected)} | {r.ms} |"
            for r in sorted(step.results, key=lambda r: (r.status not in FAILING, r.host, r.check))
        ]
        lines.append("")
    return "\n".join(lines)


def export(report: Report, fmt: str) -> str:
    """The report in format ``fmt`` (one of ``FORMATS``)."""
    return {"json": to_json, "junit": to_junit, "markdown": to_markdown}[fmt](report)
