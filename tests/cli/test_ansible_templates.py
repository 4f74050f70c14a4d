"""Ansible-style templates through `validate` and `check` on the local host: nested vars
reach the host rendered, Ansible's filters and tests work, and a template that cannot
render is the same file:line problem (exit 2) for both commands, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    assert run("init", str(target)).exit_code == 0
    return target


NESTED = """\
checklist: nested
hosts: localhost
vars:
  base: /tmp
  p: "{{ base }}/x"
  words: "{{ ['a', 'b'] }}"
  strict: "{{ 'yes' | bool }}"
checks:
  - id: echo
    when: "strict and p is match('/tmp') and (words | length) == 2"
    command:
      run: "echo {{ p }} {{ words | join('-') }} {{ {'k': p} | to_json | quote }}"
      expect: {stdout: '^/tmp/x a-b \\{"k": "/tmp/x"\\}$'}
  - id: ternary
    command:
      run: "echo {{ (words | length > 1) | ternary('many', 'one') }}"
      expect: {stdout: "^many$"}
"""


def test_nested_vars_and_filters_reach_the_host_rendered(starter: Path) -> None:
    (starter / "checklists" / "nested.yaml").write_text(NESTED)
    validated = run("-C", str(starter), "validate", "--no-syntax-check")
    assert validated.exit_code == 0, validated.output
    result = run("-C", str(starter), "check", "nested", "--format", "json")
    assert result.exit_code == 0, result.output
    results = {r["check"]: r for r in json.loads(result.stdout)}
    assert results["echo"]["status"] == "pass", results["echo"]
    assert results["ternary"]["status"] == "pass", results["ternary"]


LOOP = """\
checklist: loop
hosts: localhost
vars:
  a: "{{ b }}/x"
  b: "{{ a }}/y"
checks:
  - id: uses-a
    command: {run: "echo {{ a }}"}
"""


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (LOOP, "checklists/loop.yaml:4:3", "vars.a: recursive loop in variables: a -> b -> a"),
        (
            LOOP,
            "checklists/loop.yaml:8:15",
            "checks[0].command.run: cannot render 'echo {{ a }}': recursive loop in "
            "variables: a -> b -> a",
        ),
        (
            LOOP.replace("{{ b }}/x", "maybe").replace("echo {{ a }}", "echo {{ a | bool }}"),
            "checklists/loop.yaml:8:15",
            "checks[0].command.run: cannot render 'echo {{ a | bool }}': "
            "The `bool` filter coerced invalid value 'maybe'",
        ),
        (
            LOOP.replace("{{ b }}/x", "'12'").replace(
                'command: {run: "echo {{ a }}"}', 'disk: {path: /, max_used_pct: "{{ a }}x"}'
            ),
            "checklists/loop.yaml:8:21",
            "checks[0].disk.max_used_pct: after rendering: expected a number",
        ),
    ],
)
def test_a_template_that_cannot_render_is_exit_2_for_validate_and_check(
    starter: Path, text: str, where: str, message: str
) -> None:
    (starter / "checklists" / "loop.yaml").write_text(text)
    validated = run("-C", str(starter), "validate", "--no-syntax-check")
    checked = run("-C", str(starter), "check", "loop")
    assert validated.exit_code == checked.exit_code == 2, checked.output
    assert f"{where}: {message}" in validated.stdout
    assert f"{where}: {message}" in checked.stderr
    assert "(on host localhost)" in checked.stderr
    assert checked.stdout == ""  # no result line: nothing ran
    assert not list(starter.glob("evidence/**/*.yaml"))


def test_validate_cannot_judge_a_missing_environment_variable_but_check_refuses(
    starter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUTLER_TEMPLATE_TOKEN", raising=False)
    (starter / "checklists" / "tok.yaml").write_text(
        "checklist: tok\nhosts: localhost\nvars:\n"
        "  token: \"{{ env('BUTLER_TEMPLATE_TOKEN') }}\"\n"
        "checks:\n  - id: t\n    command: {run: \"test -n '{{ token }}'\"}\n"
    )
    assert run("-C", str(starter), "validate", "--no-syntax-check").exit_code == 0
    checked = run("-C", str(starter), "check", "tok")
    assert checked.exit_code == 2
    assert "environment variable BUTLER_TEMPLATE_TOKEN is not set" in checked.stderr
    monkeypatch.setenv("BUTLER_TEMPLATE_TOKEN", "s3cret")
    assert run("-C", str(starter), "check", "tok").exit_code == 0


def test_a_window_refuses_a_checklist_step_that_cannot_render(starter: Path) -> None:
    """The starter's patching window runs the baseline first: with a loop in it, nothing
    of the window runs (no playbook, no report) and the problem is the same line."""
    baseline = starter / "checklists" / "baseline.yaml"
    baseline.write_text(LOOP.replace("checklist: loop", "checklist: baseline"))
    ran = run("-C", str(starter), "window", "run", "patching")
    assert ran.exit_code == 2, ran.output
    assert "checklists/baseline.yaml:8:15: checks[0].command.run: cannot render" in ran.stderr
    assert not list(starter.glob("evidence/**/*.yaml"))
