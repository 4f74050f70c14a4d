"""Sandboxed templating: strict undefined, no escape from the sandbox, variable listing."""

from __future__ import annotations

import pytest

from butler_maint.model.checks import Check
from butler_maint.templating import (
    TemplateProblem,
    condition_variables,
    evaluate,
    render,
    render_data,
    templates_in,
    variables_used,
)


def test_render_with_vars() -> None:
    assert render("{{ pct + 5 }}", {"pct": 80}) == "85"


def test_undefined_is_an_error() -> None:
    with pytest.raises(TemplateProblem, match="'nope' is undefined"):
        render("{{ nope }}", {})


def test_sandbox_blocks_attribute_escape() -> None:
    with pytest.raises(TemplateProblem):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_syntax_error() -> None:
    with pytest.raises(TemplateProblem, match="does not compile"):
        variables_used("{{ a + }}")


def test_variables_used_ignores_locals() -> None:
    assert variables_used("{% set x = 1 %}{{ x + y }}{% for i in items %}{{ i }}{% endfor %}") == {
        "y",
        "items",
    }


def test_conditions() -> None:
    assert condition_variables("inventory_hostname != 'db01' and big") == {
        "inventory_hostname",
        "big",
    }
    assert evaluate("size > 3", {"size": 4}) is True
    assert evaluate("'web' in group_names", {"group_names": ["db"]}) is False


def test_templates_in_a_check() -> None:
    check = Check.model_validate(
        {"id": "c", "command": {"run": "echo {{ who }}", "expect": {"le": "{{ n }}"}}}
    )
    found = dict(templates_in(check.spec))
    assert found == {("run",): "echo {{ who }}", ("expect", "le"): "{{ n }}"}


def test_render_data_leaves_plain_values() -> None:
    data = {"a": "{{ x }}", "b": [1, "{{ x }}!"], "c": "plain"}
    assert render_data(data, {"x": "hi"}) == {"a": "hi", "b": [1, "hi!"], "c": "plain"}
