"""`user` and `group` checks over SSH on real sshd hosts, against the accounts Debian
ships (root, daemon, www-data, nobody) and the account the fleet logs in as."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore
from tests.integration.test_check_fleet import butler, content_repo

pytestmark = pytest.mark.integration

ME = pwd.getpwuid(os.geteuid())
MY_GROUP = grp.getgrgid(ME.pw_gid).gr_name

CHECKLIST = f"""checklist: probe
hosts: linux
checks:
  - id: me
    user: {{name: {ME.pw_name}, uid: {ME.pw_uid}, gid: {ME.pw_gid}, home: {ME.pw_dir},
           shell: {ME.pw_shell}, groups: [{MY_GROUP}]}}
  - id: daemon
    user: {{name: daemon, uid: 1, gid: 1, home: /usr/sbin, groups: [daemon]}}
  - id: www-data-wrong-uid
    user: {{name: www-data, uid: 48}}
  - id: root-not-in-daemon
    user: {{name: root, groups: [daemon]}}
  - id: ghost-absent
    user: {{name: nosuch-butler-user, exists: false}}
  - id: ghost
    user: {{name: nosuch-butler-user}}
  - id: nogroup
    group: {{name: nogroup, gid: 65534}}
  - id: my-group
    group: {{name: "{{{{ my_group }}}}", gid: {ME.pw_gid}}}
  - id: adm-members
    group: {{name: adm, members: [nosuch-butler-user]}}
  - id: no-ghost-group
    group: {{name: nosuch-butler-group, exists: false}}
vars: {{my_group: {MY_GROUP}}}
"""

EXPECTED = {
    "me": "pass",
    "daemon": "pass",
    "www-data-wrong-uid": "fail",
    "root-not-in-daemon": "fail",
    "ghost-absent": "pass",
    "ghost": "fail",
    "nogroup": "pass",
    "my-group": "pass",
    "adm-members": "fail",
    "no-ghost-group": "pass",
}


def test_user_and_group_checks_on_the_fleet(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet, CHECKLIST)
    done = butler(root, "check", "probe")
    assert done.returncode == 1, done.stderr
    results = EvidenceStore(root / "evidence").load("latest").steps[0].results
    assert {(r.host, r.check): r.status for r in results} == {
        (host, check): status for host in fleet.hosts for check, status in EXPECTED.items()
    }
    by = {r.check: r for r in results if r.host == sorted(fleet.hosts)[0]}
    assert by["www-data-wrong-uid"].observed == "uid 33"
    assert by["www-data-wrong-uid"].expected == "uid 48"
    assert by["root-not-in-daemon"].message == "user differs: groups root (not daemon)"
    assert by["ghost"].observed == "absent"
    assert by["daemon"].observed == "uid 1, gid 1, home /usr/sbin, groups daemon"


def test_imported_goss_file_runs_on_the_fleet(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """goss's own trusty example, imported unchanged: its www-data user and group hold
    on Debian; tinyproxy and apache2 are not there."""
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet)  # with the bundled linux-baseline beside it
    source = Path(__file__).resolve().parents[1] / "fixtures" / "goss" / "trusty-goss.yaml"
    output = root / "checklists" / "web.yaml"
    done = butler(root, "import", "goss", str(source), "-o", str(output), "--hosts", "linux")
    assert done.returncode == 1, done.stderr  # addr and gossfile are listed as not translated
    assert done.stderr.count("trusty-goss.yaml:") == 2
    checked = butler(root, "validate", "--no-syntax-check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = butler(root, "check", "web")
    assert done.returncode == 1, done.stderr
    results = EvidenceStore(root / "evidence").load("latest").steps[0].results
    status = {(r.host, r.check): r.status for r in results}
    assert set(status) == {
        (host, check)
        for host in fleet.hosts
        for check in (
            "service-tinyproxy",
            "user-www-data",
            "group-www-data",
            "process-apache2",
            "port-tcp-80-0.0.0.0",
        )
    }
    for host in fleet.hosts:
        assert status[(host, "user-www-data")] == "pass"
        assert status[(host, "group-www-data")] == "pass"
        assert status[(host, "process-apache2")] == "fail"
        assert status[(host, "service-tinyproxy")] in ("fail", "error")
