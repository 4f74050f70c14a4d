"""Which templates of a checklist cannot render, on which hosts (no host contacted)."""

from __future__ import annotations

import pytest

from butler_maint.checks.preflight import render_problems
from butler_maint.inventory import HostInfo
from butler_maint.model.checklist import Checklist


def checklist(**fields: object) -> Checklist:
    return Checklist.model_validate({"checklist": "c", "hosts": "all", **fields})


def hosts(count: int, **values: object) -> list[HostInfo]:
    return [HostInfo(f"h{i}", {"inventory_hostname": f"h{i}", **values}) for i in range(count)]


def test_a_problem_names_its_template_and_hosts() -> None:
    found = render_problems(
        checklist(checks=[{"id": "a", "command": {"run": "echo {{ p }}"}}], vars={"p": "{{ q }}"}),
        hosts(5),
    )
    assert [(f.path, f.message) for f in found] == [
        (
            ("vars", "p"),
            "vars.p: variable p: 'q' is undefined (on hosts h0, h1, h2 and 2 more)",
        ),
        (
            ("checks", 0, "command", "run"),
            "checks[0].command.run: cannot render 'echo {{ p }}': variable p: 'q' is undefined "
            "(on hosts h0, h1, h2 and 2 more)",
        ),
    ]


def test_only_hosts_where_it_fails_and_where_when_holds() -> None:
    spec = {"id": "a", "when": "big | bool", "disk": {"path": "/", "max_used_pct": "{{ pct }}"}}
    many = [*hosts(2, big="yes", pct="lots"), HostInfo("ok", {"big": "yes", "pct": 80})]
    many.append(HostInfo("skipped", {"big": "no", "pct": "lots"}))
    (found,) = render_problems(checklist(checks=[spec]), many)
    assert found.path == ("checks", 0, "disk", "max_used_pct")
    assert found.hosts == ["h0", "h1"]
    assert "after rendering: expected a number" in found.message


def test_a_when_that_cannot_evaluate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUTLER_PREFLIGHT_X", raising=False)
    spec = {"id": "a", "when": "env('BUTLER_PREFLIGHT_X') == 'y'", "manual": "m"}
    (found,) = render_problems(checklist(checks=[spec]), hosts(1))
    assert found.path == ("checks", 0, "when") and found.hosts == ["h0"]
    assert render_problems(checklist(checks=[spec]), hosts(1), unavailable=False) == []
