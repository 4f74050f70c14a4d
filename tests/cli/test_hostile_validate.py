"""Hostile content through the commands a user and a pre-commit hook run: each problem is
one ``path:line:col: message`` line and the exit code is 2, never a traceback (exit 1)
nor a hang."""

from __future__ import annotations

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


HOSTILE = {
    "nul-byte": ("checklists/x.yaml", "checklist: x\x00\n", "checklists/x.yaml:1:13: a NUL"),
    "control-byte": ("butler.yaml", "forks: 2\x01\n", "butler.yaml:1:9: the control character"),
    "deep": (
        "checklists/x.yaml",
        "checklist: x\nchecks: " + "[" * 600 + "]" * 600 + "\n",
        "checklists/x.yaml:2:73: nesting deeper than 64 levels",
    ),
    "ansible-filter": (
        "checklists/x.yaml",
        'checklist: x\nchecks:\n  - id: a\n    when: "big | ip"\n    manual: m\n',
        "checklists/x.yaml:4:5: checks[0].when: template does not compile: No filter named 'ip'",
    ),
    "huge-power": (
        "checklists/x.yaml",
        'checklist: x\nchecks:\n  - id: a\n    load: {max_per_cpu: "{{ 9**(9**9) }}"}\n',
        "checklists/x.yaml:4:12: checks[0].load.max_per_cpu: 9 ** 387420489 has more than",
    ),
    "file-contains-nul": (
        "checklists/x.yaml",
        'checklist: x\nchecks:\n  - id: a\n    file: {path: /etc/motd, contains: "\\0"}\n',
        "checklists/x.yaml:4:39: a NUL character (\\0) is not allowed",
    ),
    "secondly": (
        "schedules/x.yaml",
        'routine: x\nchecklist: baseline\nevery: "RRULE:FREQ=SECONDLY"\n',
        "schedules/x.yaml:3:1: every: it can fire more than once a minute",
    ),
    "interval-0": (
        "schedules/x.yaml",
        'routine: x\nchecklist: baseline\nevery: "RRULE:FREQ=MINUTELY;INTERVAL=0"\n',
        "schedules/x.yaml:3:1: every: INTERVAL=0: expected 1 or more",
    ),
    "never-fires": (
        "schedules/x.yaml",
        "routine: x\nchecklist: baseline\nevery: '0 0 30 2 *'\n",
        "schedules/x.yaml:3:1: every: the cron expression '0 0 30 2 *' never fires",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validate_names_the_place_and_exits_2(starter: Path, case: str) -> None:
    rel, text, expected = HOSTILE[case]
    (starter / rel).write_text(text)
    result = run("-C", str(starter), "validate", "--no-syntax-check")
    assert result.exit_code == 2, result.output
    assert expected in result.stdout


@pytest.mark.parametrize("case", ["secondly", "interval-0", "never-fires"])
@pytest.mark.parametrize("command", [["due"], ["calendar"], ["run-due"]])
def test_schedule_commands_refuse_with_the_place(
    starter: Path, case: str, command: list[str]
) -> None:
    rel, text, expected = HOSTILE[case]
    (starter / rel).write_text(text)
    result = run("-C", str(starter), *command)
    assert result.exit_code == 2, result.output
    assert f"butler-maint: error: {starter / expected.split(':', 1)[0]}:" in result.stderr
    assert expected.split(": ", 1)[1] in result.stderr


def test_check_refuses_a_checklist_it_cannot_read(starter: Path) -> None:
    rel, text, expected = HOSTILE["file-contains-nul"]
    (starter / rel).write_text(text)
    result = run("-C", str(starter), "check", "x")
    assert result.exit_code == 2, result.output
    assert expected.split(": ", 1)[1] in result.stderr


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("huge-power", "9 ** 387420489 has more than 4096 bits"),
        ("ansible-filter", "No filter named 'ip'"),
    ],
)
def test_check_refuses_a_template_past_the_bounds_as_validate_does(
    starter: Path, case: str, message: str
) -> None:
    """validate refuses these (exit 2); so does a run that was not validated, at the same
    file:line, before anything runs (no report), never a hang."""
    rel, text, _ = HOSTILE[case]
    (starter / rel).write_text(text.replace("checks:", "hosts: localhost\nchecks:"))
    validated = run("-C", str(starter), "validate", "--no-syntax-check")
    result = run("-C", str(starter), "check", "x")
    assert validated.exit_code == result.exit_code == 2, result.output
    where = validated.stdout.split(f"{rel}:", 1)[1].split(": ", 1)[0]  # line:col
    assert f"{rel}:{where}: checks[0]." in result.stderr
    assert message in result.stderr and "(on host localhost)" in result.stderr
    assert not (starter / "evidence").exists() or not any((starter / "evidence").rglob("*.yaml"))
