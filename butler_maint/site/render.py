"""Render the evidence store as a static HTML site (``butler-maint report render``).

The site works from ``file://`` with no network: CSS and the index's filter script are
inline, charts are inline SVG, and every page carries a Content-Security-Policy that
forbids loading anything (``default-src 'none'``; the script is allowed by its hash).

Layout of the output directory::

    index.html            every run, filterable by schedule, result, date and host
    kpi.html              pass rate per day, runs per schedule (+ KPIs, open waivers)
    runs/<id>.html        one page per run
    hosts/<host>.html     one page per host: its runs and a check x run matrix
    .butler-site.json     the manifest: each page's key (a digest of its inputs)
    .butler-cache/        what was read of each report, by file hash (``site.cache``)

Incremental: the manifest maps every page to a key, a digest of what the page is
rendered from. A run page's key is the report's digest, path and chain status and the
run before it; a host page's key is the keys of the runs it lists. A page is rendered
only when it is missing or its key changed; the index and KPI pages, which say when
they were generated, are rendered every time and written only when their bytes
changed. Pages of runs and hosts no longer in the store are removed. The manifest is
valid only for the same renderer: ``RENDER_VERSION``, the butler-maint version and a
digest of this package's code and templates; any change there renders every page.
Run and host pages say whether the chain is intact, not the store-wide count and head
(that is on the index and KPI pages): so a new report leaves them as they are, and an
incremental render gives the same bytes as a full one. When the chain is broken, the
problem is part of every page's key, and every page says so. Every file is replaced
atomically; pages without an fsync each (the site can be rendered again), the manifest,
written last, with one. The manifest records each page's size and mtime as written: a
page changed since (edited by hand, left short by a crash) is rendered again.
Verify and the KPI section parse only the reports whose bytes the cache has not seen.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from butler_maint import __version__
from butler_maint.errors import ButlerError
from butler_maint.evidence import fsutil
from butler_maint.evidence.index import IndexEntry, store_entries
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.model import SEVERITIES, Report, iso_z
from butler_maint.evidence.scan import scan_store
from butler_maint.evidence.store import EvidenceStore
from butler_maint.evidence.verify import Verdict, verify_scans
from butler_maint.kpi.monthly import service_report, show_target, show_value, trend
from butler_maint.kpi.obscache import ObservationCache
from butler_maint.kpi.service import AT_RISK
from butler_maint.site import extras
from butler_maint.site.cache import SiteCache, code_fingerprint
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

RENDER_VERSION = "3"
"""Bump when pages change shape: every page is rendered again (a change to this
package's files does that too, through :func:`fingerprint`)."""

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
    """Ids of the runs whose page was rendered."""
    kept: int = 0
    """Run pages left as they were."""
    removed: int = 0
    hosts: int = 0
    chain_ok: bool = True
    pages: list[str] = field(default_factory=list)
    """Every page written (site-relative paths), in the order written: the render log."""
    unchanged: int = 0
    """Pages (of every kind) left as they were."""
    full: bool = False
    """True when no manifest of this renderer was there: every page was rendered."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Where the time went: verify, run pages, host pages, index, kpi (for benchmarks)."""


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


def page_banner(verdict: Verdict) -> str:
    """The chain line of run and host pages: nothing that changes with every new report
    while the chain is intact; the store-wide summary (first problem) when broken."""
    if verdict.ok:
        return "chain intact: every report verified when this site was rendered"
    return chain_summary(verdict)


def _load(root: Path, rel: str) -> Report:
    path = root / rel
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ButlerError(f"cannot read {path}: {exc.strerror or exc}") from None
    return load_report_bytes(data, str(path))


# -- the manifest ------------------------------------------------------------------------


def fingerprint() -> str:
    """A digest of the renderer: its version, butler-maint's version, and the bytes of
    every file of this package (code and templates). A manifest written by another
    renderer is ignored, so every page is rendered again."""
    digest = hashlib.sha256(f"{RENDER_VERSION}\0{__version__}".encode())
    package = resources.files("butler_maint.site")
    for folder in (package, package.joinpath("templates")):
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.is_file() and item.name.endswith((".py", ".html", ".css", ".js")):
                digest.update(f"\0{item.name}\0".encode())
                digest.update(item.read_bytes())
    return digest.hexdigest()


@dataclass
class Manifest:
    """What the last render left: per run its key and the host data its page gave; per
    page ``[key, size, mtime_ns]`` as written (a page changed since is rendered again)."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, list[Any]] = field(default_factory=dict)


def _read_manifest(out: Path, renderer: str) -> Manifest | None:
    """The manifest in ``out``, or None when missing, unreadable or another renderer's."""
    try:
        data = json.loads((out / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("renderer") != RENDER_VERSION:
        return None
    if data.get("fingerprint") != renderer:
        return None
    runs, pages = data.get("runs"), data.get("pages")
    if not isinstance(runs, dict) or not isinstance(pages, dict):
        return None
    return Manifest(
        {str(k): v for k, v in runs.items() if isinstance(v, dict)},
        {str(k): v for k, v in pages.items() if isinstance(v, list) and len(v) == 3},
    )


def _key(*parts: object) -> str:
    text = json.dumps(parts, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _run_key(
    entry: IndexEntry, row: RunRow, previous: RunRow | None, banner: str, systems: str
) -> str:
    """What a run page is rendered from: the report (digest, path), the index row but
    for its host list (the report has them), the run before it, the chain line, the
    systems its diagnosis uses."""
    fields = {k: v for k, v in vars(row).items() if k != "hosts"}
    before = [previous.id, previous.page] if previous else None
    return _key("run", str(entry.digest), entry.path, fields, before, banner, systems)


def _write_page(path: Path, data: bytes) -> os.stat_result:
    """Replace ``path`` atomically without an fsync: the site can be rendered again.
    What was written is recorded in the manifest (size, mtime); a page a crash left
    short is rendered again."""
    return fsutil.replace_unsynced(path, data)


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
    old: Manifest
    systems: Systems = field(default_factory=Systems)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(default_factory=dict)
    made: set[Path] = field(default_factory=set)
    outcome: RenderOutcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = RenderOutcome(self.out, chain_ok=self.verdict.ok)
        self.banner = page_banner(self.verdict)

    def page(self, template: str, depth: int, *, store_wide: bool, **values: Any) -> str:
        return self.env.get_template(template).render(
            base="../" * depth,
            script=self.assets.script,
            csp=self.assets.csp,
            chain=chain_summary(self.verdict) if store_wide else self.banner,
            chain_ok=self.verdict.ok,
            **values,
        )

    def current(self, page: str, key: str) -> bool:
        """True when ``page`` was rendered from ``key`` and is as written then: kept."""
        old = self.old.pages.get(page)
        if not old or old[0] != key:
            return False
        try:
            found = (self.out / page).stat()
        except OSError:
            return False
        if [found.st_size, found.st_mtime_ns] != old[1:] or not stat.S_ISREG(found.st_mode):
            return False
        self.keys[page] = old
        self.outcome.unchanged += 1
        return True

    def write(self, page: str, text: str, key: str) -> None:
        path = self.out / page
        if path.parent not in self.made:
            fsutil.make_dirs(path.parent)
            self.made.add(path.parent)
        written = _write_page(path, text.encode("utf-8", "surrogateescape"))
        self.keys[page] = [key, written.st_size, written.st_mtime_ns]
        self.outcome.pages.append(page)

    def write_if_changed(self, page: str, text: str) -> None:
        """Write a page rendered every time only when its bytes changed (always in a
        full render): its key is the digest of its bytes."""
        key = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        if self.outcome.full or not self.current(page, key):
            self.write(page, text, key)

    def run_page(self, row: RunRow, entry: IndexEntry, digests: Mapping[str, RunRow]) -> None:
        rel = entry.path
        old = self.old.runs.get(row.id)
        previous = digests.get(str(old.get("previous"))) if old else None
        key = _run_key(entry, row, previous, self.banner, _fingerprint(self.systems))
        if old and old.get("key") == key and self.current(row.page, key):
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
        key = _run_key(entry, row, previous, self.banner, _fingerprint(self.systems))
        diagnosis = diagnose(report, self.systems) if report and self.systems else None
        html = self.page(
            "run.html",
            1,
            store_wide=False,
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
        self.write(row.page, html, key)
        tags = host_tags(report) if report else {}
        self.new[row.id] = {
            "key": key,
            "page": row.page,
            "previous": report.previous if report else None,
            "checks": checks,
            "tags": tags,
        }
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
    full: bool = False,
    systems: Systems | None = None,
) -> RenderOutcome:
    """Render the site of the store at ``store_root`` into ``out``: incrementally, or
    every page with ``full`` (the output is the same); with ``systems``, each run page
    diagnoses its failures by system."""
    fsutil.make_dirs(out)
    renderer = fingerprint()
    old = None if full else _read_manifest(out, renderer)
    clock = time.perf_counter()
    cache = SiteCache(out, code_fingerprint(renderer), use=not full)
    scans = scan_store(store_root, known=cache.scans())
    verdict = verify_scans(store_root, scans, None)
    cache.keep_scans(scans)
    site = _Site(
        root=store_root,
        out=out,
        env=environment(),
        assets=_assets(),
        verdict=verdict,
        now=(now or datetime.now(UTC)).astimezone(UTC),
        old=old or Manifest(),
        systems=systems or Systems(),
    )
    site.outcome.full = old is None
    seconds = site.outcome.seconds
    seconds["verify"], clock = time.perf_counter() - clock, time.perf_counter()
    store = EvidenceStore(store_root)
    entries = [e for e in store_entries(store) if e.id and e.path]
    rows = [run_row(e.to_json(), chain_status(site.verdict, e.path)) for e in entries]
    digests = {str(e.digest): r for e, r in zip(entries, rows, strict=True)}
    for entry, row in zip(entries, rows, strict=True):
        site.run_page(row, entry, digests)
    site.outcome.runs = len(rows)
    site.outcome.removed = _remove_stale(out, RUNS_DIR, {r.page for r in rows})
    seconds["runs"], clock = time.perf_counter() - clock, time.perf_counter()
    _render_hosts(site, rows)
    seconds["hosts"], clock = time.perf_counter() - clock, time.perf_counter()
    _render_index(site, rows)
    seconds["index"], clock = time.perf_counter() - clock, time.perf_counter()
    service = _render_service(site, store, project_root)
    observed = ObservationCache(store, cache.observations)
    _render_kpi(site, store, rows, project_root, service, observed=observed)
    cache.keep_observations(observed)
    seconds["kpi"] = time.perf_counter() - clock
    manifest = {
        "renderer": RENDER_VERSION,
        "fingerprint": renderer,
        "generated": iso_z(site.now),
        "runs": site.new,
        "pages": site.keys,
    }
    text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    fsutil.replace_file(out / MANIFEST, text.encode("utf-8", "surrogateescape"))
    return site.outcome


def _render_hosts(site: _Site, rows: list[RunRow]) -> None:
    checks = {run_id: data.get("checks") or {} for run_id, data in site.new.items()}
    histories = host_histories(rows, checks, _tags(site))
    runs = {run_id: str(data.get("key")) for run_id, data in site.new.items()}
    for history in histories:
        # A run's key covers its page's inputs, and so the host data taken from it.
        key = _key("host", history.host, [runs.get(r.row.id) for r in history.runs], site.banner)
        if not site.current(history.page, key):
            html = site.page("host.html", 1, store_wide=False, history=history)
            site.write(history.page, html, key)
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
        store_wide=True,
        rows=newest,
        schedules=schedules,
        hosts=hosts,
        host_pages={h: f"hosts/{file_stem(h)}.html" for h in hosts},
        tags=per_run,
        controls=sorted({c for t in per_run.values() for c in t["controls"]}),
        generated=iso_z(site.now),
    )
    site.write_if_changed("index.html", html)


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
            "service.html", 1, store_wide=False, report=report, months=others, at_risk=AT_RISK,
            show_value=show_value, show_target=show_target, trend=trend,
        )  # fmt: skip
        site.write_if_changed(page, html)
    site.outcome.removed += _remove_stale(site.out, SERVICE_DIR, {p for _, p in pages})
    return pages


def _render_kpi(
    site: _Site,
    store: EvidenceStore,
    rows: list[RunRow],
    project_root: Path | None,
    service: list[tuple[str, str]],
    *,
    observed: ObservationCache,
) -> None:
    days = per_day(rows)
    schedules = per_schedule(rows)
    html = site.page(
        "kpi.html",
        0,
        store_wide=True,
        days=days,
        chart=pass_rate_chart(days),
        schedules=[(t, stacked(t)) for t in schedules],
        kpis=extras.kpi_section(store, site.now, observed.observe),
        waivers=extras.waiver_section(project_root, site.now),
        service=service,
        generated=iso_z(site.now),
    )
    site.write_if_changed("kpi.html", html)
