"""Systems in the evidence site, opened in headless Chromium: the monthly service
report per system and vendor (figures against targets, the previous month's value),
and a run page's diagnosis with the database at the root."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from butler_maint.evidence import ChecklistStep, EvidenceStore, Kind, ReportDraft, Result, Status
from butler_maint.inventory import Inventory
from butler_maint.site import render_site
from butler_maint.systems.members import project_systems
from tests.fixtures.systems_history import months, write_history
from tests.integration.test_site import BROWSER_OWN, Listener, _dump_dom

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy():  # type: ignore[no-untyped-def]
    listener = Listener()
    yield listener
    listener.close()


def _all_failing(store: EvidenceStore) -> str:
    at = datetime.now(UTC) - timedelta(minutes=1)
    results = [Result(host=h, check="up", status=Status.FAIL, message=f"{h} is down")
               for h in ("db1", "app1", "web1")]  # fmt: skip
    step = ChecklistStep(checklist="shop-health", results=results)
    draft = ReportDraft(kind=Kind.CHECKLIST, name="shop-health", operator="ops@bastion",
                        started=at, finished=at + timedelta(seconds=2), steps=[step])  # fmt: skip
    return store.write(draft).id


def text_of(dom: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_service_report_and_diagnosis_render_in_chromium(proxy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = write_history(tmp_path / "shop")
    store = EvidenceStore(root / "evidence")
    failing = _all_failing(store)
    systems = project_systems(root, Inventory.load([root / "inventories" / "hosts.yml"]))
    out = tmp_path / "site"
    render_site(store.root, out, project_root=root, systems=systems)
    a, b, current = months()

    kpi = _dump_dom((out / "kpi.html").as_uri(), tmp_path, proxy)
    assert f'href="service/{b:%Y-%m}.html"' in kpi

    page = _dump_dom((out / "service" / f"{b:%Y-%m}.html").as_uri(), tmp_path, proxy)
    assert f"Service report {b:%Y-%m}" in page and f"previous month {a:%Y-%m}" in page
    sections = re.findall(r'data-kind="(\w+)" data-name="([^"]+)"', page)
    assert sections == [("system", "shop-app"), ("system", "shop-db"), ("system", "shop-web"),
                        ("vendor", "Acme DB"), ("vendor", "Shopware GmbH")]  # fmt: skip
    web = page.split('data-name="shop-web"')[1].split("</section>")[0]
    assert '<tr class="figure state-missed" data-figure="maintenance gap">' in web
    gap = text_of(web.split('data-figure="maintenance gap">')[1].split("</tr>")[0])
    ran = (current - b).days - 8
    expected = f"maintenance gap 9d 0h <= 8d 0h missed 1d 0h +8d 0h {ran} maintenance runs"
    assert gap.strip() == expected
    db = page.split('data-name="shop-db"')[1].split("</section>")[0]
    mttr = text_of(db.split('data-figure="MTTR"')[1].split("</tr>")[0])
    assert "no data" in mttr and "2d 0h" in mttr  # none this month; 2 days the month before
    assert "web1 up fail" in text_of(web)

    run = _dump_dom((out / "runs" / f"{failing}.html").as_uri(), tmp_path, proxy)
    tree = run.split('id="diagnosis"')[1].split("</section>")[0]
    rows = re.findall(r'data-system="([^"]+)" data-depth="(\d)"', tree)
    assert rows == [("shop-db", "0"), ("shop-app", "1"), ("shop-web", "2")]
    assert "probably caused by shop-db" in tree and "probably caused by shop-app" in tree
    failures = run.split('id="failures"')[1].split("</section>")[0]
    assert all(f"{h} is down" in failures for h in ("db1", "app1", "web1"))  # all still there
    from_pages = [r for r in proxy.requests if not any(own in r for own in BROWSER_OWN)]
    assert from_pages == []
