"""Content models: check catalog, checklists, schedules, config; errors with positions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from butler_maint.errors import ContentError
from butler_maint.model.checks import CHECK_TYPES, Check
from butler_maint.model.content import load_checklist, load_schedule
from butler_maint.model.schedule import parse_duration


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def checklist_error(tmp_path: Path, body: str) -> str:
    path = write(tmp_path, "web.yaml", "checklist: web\nchecks:\n" + body)
    with pytest.raises(ContentError) as info:
        load_checklist(path)
    return str(info.value)


EXAMPLES = {
    "disk": {"path": "/", "max_used_pct": 85},
    "inodes": {"max_used_pct": 80},
    "memory": {"min_available_mb": 512},
    "load": {"max_per_cpu": 1.5},
    "service": {"name": "ssh"},
    "process": {"name": "sshd"},
    "package": {"name": "openssl", "min_version": "3.0"},
    "file": {"path": "/etc/passwd", "mode": "0644", "max_age_hours": 24, "contains": "root"},
    "directory": {"path": "/srv", "mount_point": True},
    "mount": {"path": "/srv", "fstype": "ext4", "options": ["nodev"]},
    "port": {"port": 22},
    "certificate": {"host": "localhost", "port": 8443},
    "time": {"max_skew_s": 0.2},
    "sysctl": {"key": "vm.swappiness", "max": 10},
    "http": {"url": "http://127.0.0.1/healthz"},
    "reboot_required": {},
    "command": {"run": "true", "expect": {"rc": 0, "le": 3}},
    "user": {"name": "www-data", "uid": 33, "groups": ["www-data"], "shell": "/usr/sbin/nologin"},
    "group": {"name": "sudo", "gid": 27, "members": ["alice"]},
    "testinfra": "tests/infra/test_app.py",
    "manual": "Tapes rotated",
}


def test_every_catalog_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(CHECK_TYPES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_check_type_validates(kind: str) -> None:
    check = Check.model_validate({"id": f"c-{kind}", kind: EXAMPLES[kind]})
    assert check.kind == kind
    assert check.severity == "medium"
    assert check.spec == getattr(check, kind)


def test_a_check_needs_exactly_one_type() -> None:
    with pytest.raises(ValueError, match="exactly one type key"):
        Check.model_validate({"id": "x", "disk": {"max_used_pct": 1}, "port": {"port": 22}})
    with pytest.raises(ValueError, match="found none"):
        Check.model_validate({"id": "x"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  - id: u\n    user: {name: 33}\n",
            r"web.yaml:4:12: checks\[0\].user.name: '33' is a number, which getent looks up",
        ),
        (
            "  - id: g\n    group: {name: '0'}\n",
            r"checks\[0\].group.name: '0' is a number",
        ),
        (
            "  - id: u\n    user: {name: games, exists: false, uid: 5, shell: /bin/sh}\n",
            r"web.yaml:4:5: checks\[0\].user: exists: false takes no uid, shell",
        ),
        (
            "  - id: g\n    group: {name: games, exists: false, members: [x]}\n",
            r"checks\[0\].group: exists: false takes no members",
        ),
        ("  - id: u\n    user: {name: root, uid: lots}\n", r"user.uid: expected a number"),
    ],
)
def test_account_specs_refuse_what_getent_cannot_answer(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert re.search(expected, checklist_error(tmp_path, body))


def test_misspelled_field_names_its_position(tmp_path: Path) -> None:
    msg = checklist_error(tmp_path, "  - id: d\n    disk: {path: /, max_used_pcent: 85}\n")
    assert "web.yaml:4:21: checks[0].disk.max_used_pcent: unknown field" in msg


def test_wrong_type_names_field_and_expectation(tmp_path: Path) -> None:
    msg = checklist_error(tmp_path, "  - id: d\n    disk:\n      max_used_pct: lots\n")
    assert "web.yaml:5:7: checks[0].disk.max_used_pct: expected a number" in msg


def test_missing_required_field(tmp_path: Path) -> None:
    msg = checklist_error(tmp_path, "  - id: s\n    service: {running: true}\n")
    assert "web.yaml:4:5: checks[0].service.name: required field is missing" in msg


def test_yaml11_words_stay_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "web.yaml",
        "checklist: web\nchecks:\n  - id: v\n    package: {name: on, min_version: 1.10}\n"
        "  - id: s\n    sysctl: {key: kernel.x, value: no}\n"
        "  - id: f\n    file: {path: /x, mode: 0640}\n",
    )
    checks = load_checklist(path).model.checks
    assert checks[0].package is not None
    assert (checks[0].package.name, checks[0].package.min_version) == ("on", "1.10")
    assert checks[1].sysctl is not None and checks[1].sysctl.value == "no"
    assert checks[2].file is not None and checks[2].file.mode == "0640"


def test_booleans_still_parse_in_bool_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "web.yaml",
        "checklist: web\nchecks:\n  - id: s\n    service: {name: x, enabled: no}\n",
    )
    service = load_checklist(path).model.checks[0].service
    assert service is not None and service.enabled is False


def test_templates_are_accepted_in_number_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "web.yaml",
        "checklist: web\nvars: {pct: 85}\nchecks:\n"
        "  - id: d\n    disk: {max_used_pct: '{{ pct }}'}\n",
    )
    loaded = load_checklist(path)
    assert loaded.model.vars == {"pct": 85}
    disk = loaded.model.checks[0].disk
    assert disk is not None and disk.max_used_pct == "{{ pct }}"


def test_duplicate_check_ids(tmp_path: Path) -> None:
    msg = checklist_error(tmp_path, "  - {id: a, manual: x}\n  - {id: a, manual: y}\n")
    assert "web.yaml:4:6: checks[1].id: duplicate check id 'a'" in msg


def test_name_must_match_file(tmp_path: Path) -> None:
    path = write(tmp_path, "other.yaml", "checklist: web\nchecks: [{id: a, manual: x}]\n")
    with pytest.raises(ContentError, match=r"other.yaml:1:1: checklist: name 'web' must equal"):
        load_checklist(path)


def test_invalid_mode(tmp_path: Path) -> None:
    msg = checklist_error(tmp_path, "  - id: f\n    file: {path: /x, mode: rw-r--r--}\n")
    assert "checks[0].file.mode: expected an octal mode" in msg


SCHEDULE = """window: w
timezone: Europe/Berlin
every: "RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"
duration: 3h
serial: 25%
freeze:
  - {from: 2026-12-20, to: 2027-01-04, reason: year end}
steps:
  - checklist: base
  - playbook: playbooks/patch.yml
"""


def test_window_schedule(tmp_path: Path) -> None:
    schedule = load_schedule(write(tmp_path, "w.yaml", SCHEDULE)).model
    assert schedule.name == "w"
    assert schedule.length.total_seconds() == 3 * 3600
    assert str(schedule.freeze[0].start) == "2026-12-20"
    assert len(schedule.steps) == 2


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Europe/Berlin", "Mars/Olympus", "timezone: unknown time zone"),
        ('"RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"', "'61 * * * *'", "every: expected an RRULE"),
        ("3h", "3 hours", "duration: expected a duration"),
        ("25%", "a quarter", "serial: expected a host count"),
        ("2027-01-04", "2026-12-01", "'from' is after 'to'"),
    ],
)
def test_schedule_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(ContentError, match=expected):
        load_schedule(write(tmp_path, "w.yaml", SCHEDULE.replace(old, new)))


def test_routine_needs_a_checklist(tmp_path: Path) -> None:
    text = "routine: r\nevery: '0 6 * * *'\n"
    with pytest.raises(ContentError, match="a routine names one `checklist`"):
        load_schedule(write(tmp_path, "r.yaml", text))


@pytest.mark.parametrize(("text", "minutes"), [("3h", 180), ("90m", 90), ("1d 2h", 1560)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text).total_seconds() == minutes * 60
