"""Render the evidence store as a static HTML site (``butler-maint report render``).

The site works from ``file://`` with no network: CSS and the index's filter script are
inline, charts are inline SVG, and every page carries a Content-Security-Policy that
forbids loading anything (``default-src 'none'``; the script is allowed by its hash).

Layout of the output directory::

    index.html            every run, filterable by schedule, result, date and host
    kpi.html              pass rate per day, runs per schedule (+ KPIs, open waivers)
    runs/<id>.html        one page per run
    hosts/<host>.html     one page per host: its runs and a check x run matrix
    .butler-site.json     the manifest: what each run page was rendered from

Incremental: a run page is rendered only when it is missing or its key changed (the
report's digest, its chain status and the renderer version); index, host and KPI pages
are rendered every time. Every file is replaced atomically.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from butler_maint.errors import ButlerError
from butler_maint.evidence import fsutil
from butler_maint.evidence.index import IndexEntry, store_entries
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.model import SEVERITIES, Report, iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.evidence.verify import Verdict, verify_store
from butler_maint.kpi.monthly import service_report, show_target, show_value, trend
from butler_maint.kpi.service import AT_RISK
from butler_maint.site import extras
from butler_maint.site.charts import pass_rate_chart, stacked
from butler_maint.site.views import (
    RESULTS,
    HostChecks,
    RunRow,
    failure_rows,
    file_stem,
    host_checks,
    host_details,
    host_histories,
    host_tags,
    merge_tags,
    per_day,
    per_schedule,
    run_row,
    status_counts,
)
from butler_maint.systems.diagnose import diagnose, result_line, tree_rows
from butler_maint.systems.members import Systems

RENDER_VERSION = "2"
"""Bump when run pages change shape: every run page is rendered again."""

MANIFEST = ".butler-site.json"
RUNS_DIR = "runs"
HOSTS_DIR = "hosts"
SERVICE_DIR = "service"


@dataclass
class RenderOutcome:
    """What a render did."""

    out: Path
    runs: int = 0
    written: list[str] = field(default_factory=list)
    kept: int = 0
    removed: int = 0
    hosts: int = 0
    chain_ok: bool = True


@dataclass(frozen=True)
class Assets:
    """The inline script and the CSP that allows exactly it."""

    script: Markup
    csp: str


def _assets() -> Assets:
    text = resources.files("butler_maint.site").joinpath("templates/filters.js").read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; form-action 'none'; base-uri 'none'"
    )
    # The script is a packaged file, not report data: marked safe so it is not escaped.
    return Assets(Markup(text), csp)  # noqa: S704


def environment() -> Environment:
    """The Jinja environment: packaged templates, autoescaping on, strict undefined."""
    env = Environment(
        loader=PackageLoader("butler_maint.site", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["RESULTS"] = RESULTS
    env.globals["SEVERITIES"] = SEVERITIES
    return env


# -- reading the store -----------------------------------------------------------------


def chain_status(verdict: Verdict, rel: str) -> str:
    """What verify says about one report file."""
    for problem in verdict.problems:
        if problem.path == rel:
            return f"BROKEN: {problem.kind}: {problem.detail}"
    if rel in verdict.legacy:
        return "schema v0 report: not covered by the chain"
    return "verified: digest matches, linked to the report before it"


def chain_summary(verdict: Verdict) -> str:
    """One line on the whole store, as ``report verify`` prints it."""
    if verdict.ok:
        return f"chain intact: {verdict.reports} reports verified; head {verdict.head or 'none'}"
    first = verdict.problems[0]
    return (
        f"BROKEN: {len(verdict.problems)} problem(s); first: {first.path}: "
        f"{first.kind}: {first.detail}"
    )


def _load(root: Path, rel: str) -> Report:
    path = root / rel
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ButlerError(f"cannot read {path}: {exc.strerror or exc}") from None
    return load_report_bytes(data, str(path))


# -- the manifest ------------------------------------------------------------------------


def _read_manifest(out: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((out / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("renderer") != RENDER_VERSION:
        return {}
    runs = data.get("runs")
    return (
        {str(k): v for k, v in runs.items() if isinstance(v, dict)}
        if isinstance(runs, dict)
        else {}
    )


def _run_key(entry: IndexEntry, chain: str, systems: str = "") -> str:
    text = "\0".join([RENDER_VERSION, str(entry.digest), entry.path, chain, systems])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _write(path: Path, text: str) -> None:
    fsutil.make_dirs(path.parent)
    fsutil.replace_file(path, text.encode("utf-8", "surrogateescape"))


# -- rendering ---------------------------------------------------------------------------


@dataclass
class _Site:
    """State of one render."""

    root: Path
    out: Path
    env: Environment
    assets: Assets
    verdict: Verdict
    now: datetime
    old: dict[str, dict[str, Any]]
    systems: Systems = field(default_factory=Systems)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcome: RenderOutcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = RenderOutcome(self.out, chain_ok=self.verdict.ok)

    def page(self, template: str, depth: int, **values: Any) -> str:
        return self.env.get_template(template).render(
            base="../" * depth,
            script=self.assets.script,
            csp=self.assets.csp,
            chain=chain_summary(self.verdict),
            chain_ok=self.verdict.ok,
            **values,
        )

    def run_page(self, row: RunRow, entry: IndexEntry, digests: Mapping[str, RunRow]) -> None:
        rel = entry.path
        key = _run_key(entry, row.chain, _fingerprint(self.systems))
        old = self.old.get(row.id)
        if old and old.get("key") == key and (self.out / row.page).is_file():
            self.new[row.id] = old
            self.outcome.kept += 1
            return
        report: Report | None = None
        problem = None
        try:
            report = _load(self.root, rel)
        except ButlerError as exc:
            problem = str(exc)
        checks: dict[str, HostChecks] = host_checks(report) if report else {}
        previous = digests.get(report.previous or "") if report else None
        diagnosis = diagnose(report, self.systems) if report and self.systems else None
        html = self.page(
            "run.html",
            1,
            row=row,
            report=report,
            problem=problem,
            rel=rel,
            hosts=host_details(report) if report else [],
            failures=failure_rows(report) if report else [],
            counts=status_counts(report) if report else [],
            previous_row=previous,
            file_stem=file_stem,
            diagnosis=diagnosis or None,
            tree=tree_rows(diagnosis) if diagnosis else [],
            result_line=result_line,
        )
        _write(self.out / row.page, html)
        tags = host_tags(report) if report else {}
        self.new[row.id] = {"key": key, "page": row.page, "checks": checks, "tags": tags}
        self.outcome.written.append(row.id)


def _fingerprint(systems: Systems) -> str:
    """What a run page's diagnosis depends on: each system's hosts, checklists, deps."""
    if not systems:
        return ""
    parts = [
        [n, sorted(systems.hosts.get(n, ())), s.checklists, s.depends_on]
        for n, s in sorted(systems.systems.items())
    ]
    return hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _stale(directory: Path, keep: set[str]) -> Iterator[Path]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for item in entries:
        if item.name.endswith(".html") and item.name not in keep and item.is_file():
            yield Path(item.path)


def _remove_stale(out: Path, subdir: str, pages: set[str]) -> int:
    keep = {Path(p).name for p in pages}
    removed = 0
    for path in _stale(out / subdir, keep):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def render_site(
    store_root: Path,
    out: Path,
    *,
    project_root: Path | None = None,
    now: datetime | None = None,
    systems: Systems | None = None,
) -> RenderOutcome:
    """Render the site of the store at ``store_root`` into ``out`` (incrementally); with
    ``systems``, each run page diagnoses its failures by system."""
    fsutil.make_dirs(out)
    site = _Site(
        root=store_root,
        out=out,
        env=environment(),
        assets=_assets(),
        verdict=verify_store(store_root),
        now=(now or datetime.now(UTC)).astimezone(UTC),
        old=_read_manifest(out),
        systems=systems or Systems(),
    )
    store = EvidenceStore(store_root)
    entries = [e for e in store_entries(store) if e.id and e.path]
    rows = [run_row(e.to_json(), chain_status(site.verdict, e.path)) for e in entries]
    digests = {str(e.digest): r for e, r in zip(entries, rows, strict=True)}
    for entry, row in zip(entries, rows, strict=True):
        site.run_page(row, entry, digests)
    site.outcome.runs = len(rows)
    site.outcome.removed = _remove_stale(out, RUNS_DIR, {r.page for r in rows})
    _render_hosts(site, rows)
    _render_index(site, rows)
    service = _render_service(site, store, project_root)
    _render_kpi(site, store, rows, project_root, service)
    manifest = {"renderer": RENDER_VERSION, "generated": iso_z(site.now), "runs": site.new}
    _write(out / MANIFEST, json.dumps(manifest, separators=(",", ":"), ensure_ascii=False))
    return site.outcome


def _render_hosts(site: _Site, rows: list[RunRow]) -> None:
    checks = {run_id: data.get("checks") or {} for run_id, data in site.new.items()}
    histories = host_histories(rows, checks, _tags(site))
    for history in histories:
        _write(site.out / history.page, site.page("host.html", 1, history=history))
    site.outcome.hosts = len(histories)
    site.outcome.removed += _remove_stale(site.out, HOSTS_DIR, {h.page for h in histories})


def _tags(site: _Site) -> dict[str, dict[str, Any]]:
    """Per run, per host: the tags its page recorded (severity, controls)."""
    tags = {run_id: data.get("tags") for run_id, data in site.new.items()}
    return {run_id: t for run_id, t in tags.items() if isinstance(t, dict)}


def _render_index(site: _Site, rows: list[RunRow]) -> None:
    newest = list(reversed(rows))
    per_run = {run_id: merge_tags(t.values()) for run_id, t in _tags(site).items()}
    schedules = sorted({r.schedule for r in rows if r.schedule})
    hosts = sorted({h for r in rows for h in r.hosts})
    html = site.page(
        "index.html",
        0,
        rows=newest,
        schedules=schedules,
        hosts=hosts,
        host_pages={h: f"hosts/{file_stem(h)}.html" for h in hosts},
        tags=per_run,
        controls=sorted({c for t in per_run.values() for c in t["controls"]}),
        generated=iso_z(site.now),
    )
    _write(site.out / "index.html", html)


def _render_service(
    site: _Site, store: EvidenceStore, project_root: Path | None
) -> list[tuple[str, str]]:
    """The monthly service reports (``service/YYYY-MM.html``), per system and vendor,
    for the months of the last ``SERVICE_MONTHS`` with evidence; [(month, page)]."""
    months = extras.service_months(store, site.now) if site.systems and project_root else []
    data = extras.service_data(store, project_root, site.systems, months) if months else None
    if data is None:
        site.outcome.removed += _remove_stale(site.out, SERVICE_DIR, set())
        return []
    pages = [(month, f"{SERVICE_DIR}/{month}.html") for month in months]
    for month, page in pages:
        report = service_report(data, month, site.now)
        others = [(m, f"{m}.html") for m, _ in pages if m != month]
        html = site.page(
            "service.html", 1, report=report, months=others, at_risk=AT_RISK,
            show_value=show_value, show_target=show_target, trend=trend,
        )  # fmt: skip
        _write(site.out / page, html)
    site.outcome.removed += _remove_stale(site.out, SERVICE_DIR, {p for _, p in pages})
    return pages


def _render_kpi(
    site: _Site,
    store: EvidenceStore,
    rows: list[RunRow],
    project_root: Path | None,
    service: list[tuple[str, str]],
) -> None:
    days = per_day(rows)
    schedules = per_schedule(rows)
    html = site.page(
        "kpi.html",
        0,
        days=days,
        chart=pass_rate_chart(days),
        schedules=[(t, stacked(t)) for t in schedules],
        kpis=extras.kpi_section(store, site.now),
        waivers=extras.waiver_section(project_root, site.now),
        service=service,
        generated=iso_z(site.now),
    )
    _write(site.out / "kpi.html", html)
