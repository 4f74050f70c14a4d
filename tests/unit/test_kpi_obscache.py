"""KPIs with each report's observations kept from an earlier pass (the site's cache):
the same figures as reading every report, a new run read alone, an edited report read
again (and failing as without the cache)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from butler_maint.errors import ButlerError
from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.model import Status
from butler_maint.kpi import obscache
from butler_maint.kpi.assemble import DEFAULT_PERIOD, KpiView, kpis
from butler_maint.kpi.history import Observation
from butler_maint.kpi.obscache import ObservationCache
from tests.fixtures.evidence.factory import T0, draft, window_draft

NOW = T0 + timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    """Four checklist runs (one a dry run, one before the period) and a window."""
    found = EvidenceStore(tmp_path / "evidence")
    found.write(draft(0, started=T0 - timedelta(days=100)))
    for n in range(1, 3):
        found.write(draft(n, checks=5))
    found.write(draft(3, dry_run=True))
    found.write(window_draft(4))
    return found


def _view(store: EvidenceStore, cache: ObservationCache | None = None) -> KpiView:
    observe = cache.observe if cache else None
    return kpis(store, (), {}, NOW, NOW - DEFAULT_PERIOD, observe=observe)


def _through_json(cache: ObservationCache) -> dict[str, list[Observation]]:
    return {
        key: obscache.from_json(json.loads(json.dumps(obscache.to_json(obs))))
        for key, obs in cache.used.items()
    }


def test_cached_kpis_are_the_uncached_ones(store: EvidenceStore) -> None:
    plain = _view(store)
    first = ObservationCache(store)
    assert _view(store, first) == plain
    assert plain.reports == 3 and len(first.added) == 3  # the period's runs but the dry one
    second = ObservationCache(store, _through_json(first).get)
    assert _view(store, second) == plain
    assert not second.added


def test_a_new_run_is_the_only_report_read(store: EvidenceStore) -> None:
    first = ObservationCache(store)
    _view(store, first)
    store.write(draft(5, hosts=2))
    second = ObservationCache(store, _through_json(first).get)
    assert _view(store, second) == _view(store)
    assert len(second.added) == 1 and len(second.used) == 4


def test_an_edited_report_is_read_again(store: EvidenceStore) -> None:
    first = ObservationCache(store)
    before = _view(store, first)
    latest = sorted(store.root.rglob("*.yaml"))[-1]
    latest.write_text(latest.read_text().replace("status: pass", "status: fail", 1))
    plain = _view(store)
    assert plain != before
    again = ObservationCache(store, _through_json(first).get)
    assert _view(store, again) == plain
    assert len(again.added) == 1


def test_a_deleted_report_fails_as_without_the_cache(store: EvidenceStore) -> None:
    first = ObservationCache(store)
    _view(store, first)
    sorted(store.root.rglob("*.yaml"))[-1].unlink()
    with pytest.raises(ButlerError) as plain:
        _view(store)
    with pytest.raises(ButlerError) as cached:
        _view(store, ObservationCache(store, _through_json(first).get))
    assert str(cached.value) == str(plain.value)


def test_observations_round_trip_every_kind_of_value() -> None:
    at = datetime(2026, 11, 29, 1, 0, 2, 123000, tzinfo=UTC)
    values: list[bool | int | float | str | None] = [True, False, 0, 7, 1.0, 2.5e-7, "é\n", None]
    obs = [
        Observation(
            at=at, report="r1", host=f"h{n}", check="c", status=status, observed=value,
            expected="<= 85" if n % 2 else None, message=None if n % 3 else "m\nx",
            step="playbooks/p.yml", schedule="nightly" if n % 2 else None,
            title="Disk" if n else None, severity="high" if n else None,
            controls=("CIS 1.1", "ISO A.12") if n % 2 else (),
        )
        for n, (value, status) in enumerate(zip(values, list(Status) * 2, strict=False))
    ]  # fmt: skip
    again = obscache.from_json(json.loads(json.dumps(obscache.to_json(obs))))
    assert again == obs
    assert [type(o.observed) for o in again] == [type(o.observed) for o in obs]
    with pytest.raises(ValueError):
        obscache.from_json({"format": 0, "rows": []})
