"""``butler-maint report``: list, show, diff, verify, reindex, export and render run evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.render import term
from butler_maint.errors import ButlerError
from butler_maint.evidence.diff import diff_reports, render_diff, step_labels
from butler_maint.evidence.export import FORMATS, export
from butler_maint.evidence.index import Filter, parse_when, select
from butler_maint.evidence.model import (
    FAILING,
    Kind,
    Overall,
    Report,
    Result,
    Status,
    Step,
    Tier,
)
from butler_maint.evidence.store import EvidenceStore
from butler_maint.evidence.summary import describe, explain, iter_results
from butler_maint.evidence.verify import verify_store


def _store(app: App) -> EvidenceStore:
    return EvidenceStore.for_project(app.root, app.config.evidence)


def _when(value: str | None, param: str, *, end: bool = False) -> datetime | None:
    """The time an option names, in UTC, to the millisecond (as reports record times)."""
    if value is None:
        return None
    try:
        moment = parse_when(value, datetime.now(UTC), end_of_day=end)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


@cli.group("report")
def report() -> None:
    """Run evidence: list, show, diff, verify, export, render."""


def _summary(summary: dict[str, Any]) -> str:
    parts = [f"{k} {v}" for k, v in summary.items() if k != "total" and v]
    return f"{summary.get('total', 0)} results" + (f" ({', '.join(parts)})" if parts else "")


@report.command("list")
@click.option("--since", help="Started at or after: YYYY-MM-DD, ISO time, or 7d / 12h ago.")
@click.option("--until", help="Started at or before: YYYY-MM-DD (whole day), ISO time, 7d.")
@click.option("--kind", type=click.Choice([k.value for k in Kind]))
@click.option("--result", type=click.Choice([r.value for r in Overall]))
@click.option("--host", help="Only runs that included this host.")
@click.option("--name", help="Only runs of this checklist, playbook or window.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_app
def list_cmd(
    app: App,
    since: str | None,
    until: str | None,
    kind: str | None,
    result: str | None,
    host: str | None,
    name: str | None,
    fmt: str,
) -> None:
    """List runs from the index (oldest first)."""
    flt = Filter(
        since=_when(since, "--since"),
        until=_when(until, "--until", end=True),
        kind=Kind(kind) if kind else None,
        result=Overall(result) if result else None,
        host=host,
        name=name,
    )
    entries = select(_store(app), flt)
    if fmt == "json":
        click.echo(json.dumps([e.to_json() for e in entries], indent=2, ensure_ascii=False))
        return
    for e in entries:
        dry = " dry-run" if e.dry_run else ""
        click.echo(
            term(
                f"{e.id}  {e.kind!s:<9} {str(e.result).upper():<11} "
                f"{_summary(e.summary.model_dump(by_alias=True))}{dry}"
            )
        )


def _line(result: Result) -> str:
    text = f"{result.host}  {result.check}  {result.status.value}"
    if result.observed is not None or result.expected is not None:
        text += f"  observed={result.observed!r} expected={result.expected}"
    if result.message:
        text += f"  {result.message}"
    if result.output is not None and result.output.truncated:
        text += f"  [output truncated, full text {result.output.sha256}]"
    if describe(result):
        text += f"  -- {describe(result)}"
    return text


def _attested(result: Result) -> list[str]:
    """A manual item's attestation: statement, answer, by whom, when, the comment."""
    a = result.attested
    if a is None:
        return []
    comment = f": {a.comment}" if a.comment else ""
    return [
        f"    attested {a.answer!r} to {a.statement!r} by {a.by} at {a.at.isoformat()}{comment}"
    ]


def _failure(number: int, result: Result) -> list[str]:
    """A failure: where and why, then what the check is (title, severity, controls)."""
    what = describe(result)
    head = f"  [{number}] {result.host}  {result.check}  {result.status.value}  {explain(result)}"
    return [head, *([f"      {what}"] if what else [])]


def _step_head(label: str, step: Step) -> str:
    return f"{label}  ({step.title})" if step.title else label


def tier_line(number: int, tier: Tier) -> str:
    """A tier of a window in dependency order: systems, result, when, hosts, why."""
    systems = ", ".join(tier.systems) or "hosts in no system"
    when = ""
    if tier.started and tier.finished:
        when = f"  {tier.started.isoformat()} .. {tier.finished.isoformat()}"
    why = f"  -- {tier.reason}" if tier.reason and tier.result != "not_run" else ""
    return f"tier {number} ({systems}): {tier.result}{when}  hosts {', '.join(tier.hosts)}{why}"


def _identity(report: Report) -> str:
    """How the operator is known, when the report says (schema 2)."""
    if report.signer is not None:
        return f" (signed, {report.signer.key})"
    return f" ({report.identity})" if report.identity else ""


def _four_eyes(report: Report) -> list[str]:
    """The approval a run had, or the decision an approval entry records."""
    found = []
    if report.approval is not None:
        a = report.approval
        key = f", {a.key}" if a.key else ""
        entry = f", entry {a.report}" if a.report else ""
        note = f": {a.note}" if a.note else ""
        found.append(f"approved by {a.by}{key}{entry}{note}")
    if report.decision is not None:
        d = report.decision
        note = f": {d.note}" if d.note else ""
        found.append(f"decision: {d.action} {d.window} at {d.occurrence.isoformat()}{note}")
    return found


def _show(report: Report, diagnosis: list[str] | None = None) -> list[str]:
    s = report.summary
    counts = ", ".join(f"{st.value} {s.count(st)}" for st in Status if s.count(st))
    trigger = report.trigger.by + (f" {report.trigger.schedule}" if report.trigger.schedule else "")
    lines = [
        f"{report.id}  {report.kind.value} {report.name}  {report.result.value.upper()}"
        + ("  (dry run)" if report.dry_run else ""),
        f"started {report.started.isoformat()}  duration {report.duration_ms} ms  "
        f"operator {report.operator}{_identity(report)}  trigger {trigger}",
        f"results {s.total}: {counts or 'none'}",
        f"digest {report.digest}",
    ]
    if report.error:
        lines.append(f"error: {report.error}")
    if report.stopped:
        lines.append(f"stopped: {report.stopped}")
    if report.rerun_of:
        lines.append(f"re-run of {report.rerun_of} (its failed and not-run hosts)")
    for number, tier in enumerate(report.tiers or [], 1):
        lines.append(tier_line(number, tier))
    lines += _four_eyes(report)
    for number, batch in enumerate(report.batches or [], 1):
        lines.append(f"batch {number}: {', '.join(batch)}")
    labels = step_labels(report.steps)
    failing = [(n, r) for n, r in iter_results(report.steps) if r.status in FAILING]
    if failing:
        lines += ["", f"FAILURES ({len(failing)})"]
        lines += [line for n, r in failing for line in _failure(n, r)]
    if diagnosis:
        lines += ["", *diagnosis]
    for label, step in zip(labels, report.steps, strict=True):
        lines += ["", _step_head(label, step)]
        for r in sorted(step.results, key=lambda r: r.status not in FAILING):
            lines += [f"  {_line(r)}", *_attested(r)]
    return [term(line) for line in lines]  # one line each: host text cannot add or erase one


@report.command("show")
@click.argument("report_id", metavar="ID")
@pass_app
def show_cmd(app: App, report_id: str) -> None:
    """Show a report (ID or 'latest'): summary, failures first, then every result."""
    from butler_maint.cli.systems import diagnosis_section

    loaded = _store(app).load(report_id)
    click.echo("\n".join(_show(loaded, diagnosis_section(app, loaded))))


@report.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@pass_app
def diff_cmd(app: App, a: str, b: str) -> None:
    """What changed from report A to report B (IDs or 'latest')."""
    store = _store(app)
    text = render_diff(diff_reports(store.load(a), store.load(b)))
    click.echo(term(text, multiline=True), nl=False)


@report.command("verify")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Processes to use.")
@click.pass_context
@pass_app
def verify_cmd(app: App, ctx: click.Context, jobs: int | None) -> None:
    """Check every report's digest, the hash chain, the signatures (butler.yaml's
    signing) and the heads anchored in the witness file; exit 1 if anything is wrong."""
    store = _store(app)
    verdict = verify_store(store.root, jobs, app.trust())
    for rel in verdict.legacy:
        click.echo(f"note: {store.root / rel}: schema v0 report, not covered by the chain")
    if verdict.ok:
        signed = f" ({verdict.signed} signed)" if verdict.signed else ""
        anchored = "" if verdict.anchors is None else f", {verdict.anchors} anchored heads hold"
        click.echo(
            f"OK: {verdict.reports} reports verified{signed}, chain intact{anchored}; "
            f"head {verdict.head or 'none'}"
        )
        return
    first = verdict.problems[0]
    click.echo(f"BROKEN: first bad report: {store.root / first.path}: {first.kind}: {first.detail}")
    for problem in verdict.problems[1:]:
        click.echo(f"  also: {store.root / problem.path}: {problem.kind}: {problem.detail}")
    ctx.exit(1)


@report.command("anchor")
@pass_app
def anchor_cmd(app: App) -> None:
    """Record the chain head outside the store: in the witness file (evidence.witness)
    and, with evidence.git and anchor_remote, as a tag pushed to that remote (signed by
    the operator's key when signing is on)."""
    _, signer = app.identity(None)
    head = _store(app).anchor(signer)
    click.echo(f"anchored: {head.id} ({head.digest}), report {head.count} of the chain")


@report.command("reindex")
@pass_app
def reindex_cmd(app: App) -> None:
    """Rebuild the index from the reports themselves."""
    count = _store(app).reindex()
    click.echo(f"indexed {count} reports")


@report.command("export")
@click.argument("report_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_app
def export_cmd(app: App, report_id: str, fmt: str, output: Path | None) -> None:
    """Export a report as JSON, JUnit XML or Markdown."""
    text = export(_store(app).load(report_id), fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@report.command("render")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: site/ in the repository root).",
)
@click.option("--full", is_flag=True, help="Render every page, not only the changed ones.")
@pass_app
def render_cmd(app: App, out: Path | None, full: bool) -> None:
    """Render the evidence as a static HTML site, viewable from file:// (incremental)."""
    from butler_maint.site import render_site

    store = _store(app)
    target = (out if out is not None else app.root / "site").absolute()
    if target.resolve().is_relative_to(store.root.resolve()):
        raise click.BadParameter("must not be inside the evidence store", param_hint="--out")
    from butler_maint.cli.systems import project_systems

    try:
        systems = project_systems(app)
    except ButlerError as exc:
        click.echo(f"warning: no diagnosis by system: {exc.render().splitlines()[0]}", err=True)
        systems = None
    outcome = render_site(store.root, target, project_root=app.root, full=full, systems=systems)
    click.echo(
        f"rendered {outcome.runs} runs ({len(outcome.written)} run pages written, "
        f"{outcome.kept} unchanged, {outcome.removed} removed), {outcome.hosts} hosts; "
        f"{len(outcome.pages)} pages written, {outcome.unchanged} unchanged: "
        f"{target / 'index.html'}"
    )
    if not outcome.chain_ok:
        click.echo("warning: the evidence chain is broken: run `butler-maint report verify`")
