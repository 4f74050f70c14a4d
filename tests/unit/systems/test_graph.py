"""The dependency graph: cycles are named, tiers follow depends_on."""

from __future__ import annotations

from butler_maint.systems.graph import find_cycle, tiers, upstream

SHOP = {"db": [], "app": ["db"], "web": ["app"], "cache": [], "api": ["db", "cache"]}


def test_no_cycle_in_a_tree_and_tiers_put_dependencies_first() -> None:
    assert find_cycle(SHOP) is None
    assert tiers(SHOP, SHOP) == [["cache", "db"], ["api", "app"], ["web"]]
    assert tiers(SHOP, ["web", "db"]) == [["db"], ["web"]]
    assert tiers(SHOP, SHOP, dependents_first=True)[0] == ["web"]


def test_a_cycle_is_named_from_its_first_system_back_to_it() -> None:
    graph = {**SHOP, "db": ["web"]}
    assert find_cycle(graph) == ["db", "web", "app", "db"]  # found walking from "api"
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_unknown_dependencies_are_ignored_and_upstream_is_transitive() -> None:
    assert find_cycle({"a": ["ghost"]}) is None
    assert upstream(SHOP, "web") == {"app", "db"}
    assert upstream(SHOP, "db") == set()
