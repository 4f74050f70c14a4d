"""goss files translated into checklists: what each goss key becomes, what is listed
as not translated (file:line and why), and that the result always loads as a checklist.

The public fixtures are goss's own (tests/fixtures/goss/NOTICE says where from)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.errors import ContentError
from butler_maint.importers.goss import GossImport, import_goss
from butler_maint.importers.patterns import ere_literal, go_to_ere, parse_pattern
from butler_maint.model.content import load_checklist

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "goss"


def translate(tmp_path: Path, text: str, name: str = "probe") -> GossImport:
    source = tmp_path / "goss.yaml"
    source.write_text(text)
    return import_goss(source, name, shown="goss.yaml")


def checks(result: GossImport) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(result.text)
    return {c["id"]: c for c in data["checks"]}


def loads(tmp_path: Path, result: GossImport, name: str) -> None:
    """The text loads as checklist ``name`` with the strict content loader."""
    path = tmp_path / "checklists" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(result.text)
    load_checklist(path)


def test_goss_docs_file_imports_and_lists_what_it_leaves_out(tmp_path: Path) -> None:
    source = FIXTURES / "rendered_goss.yaml"
    result = import_goss(source, "goss-docs", shown="rendered_goss.yaml")
    loads(tmp_path, result, "goss-docs")
    common = ("id", "title", "when")
    kinds = {cid: next(k for k in c if k not in common) for cid, c in checks(result).items()}
    assert kinds == {
        "file-ect-password-static": "file",
        "file-ect-password-static-md5": "command",
        "file-ect-password-static-sha256": "command",
        "file-ect-password-static-sha512": "command",
        "file-ect-password-static-linked-to": "command",
        "file-etc-group": "file",
        "file-etc-passwd": "file",
        "package-httpd": "package",
        "package-kernel": "package",
        "port-tcp-22-1": "port",
        "service-sshd": "service",
        "user-nfsbody": "user",
        "user-nobody": "user",
        "user-sshd": "user",
        "group-nfsnobody": "group",
        "group-nobody": "group",
        "command-version": "command",
        "dns-localhost": "command",
        "process-chrome": "process",
        "sysctl-kernel.ostype": "sysctl",
        "mount-home": "mount",
        "mount-home-usage": "disk",
        "interface-eth0": "command",
        "interface-eth0-mtu": "command",
        "interface-eth0-addr": "command",
        "http-https-www.google.com": "http",
    }
    listed = [(n.line, n.key) for n in result.notes]
    assert listed == [
        (5, "file./ect/password/static.size"),
        (32, "package.httpd.versions"),
        (36, "package.kernel.versions"),
        (42, "addr.tcp"),
        (66, "user.nobody.uid"),
        (68, "user.nobody.groups"),
        (73, "user.sshd.meta"),
        (77, "user.sshd.uid"),
        (81, "user.sshd.home"),
        (98, "command.version.timeout"),
        (104, "dns.localhost.timeout"),
        (114, "mount./home.timeout"),
        (117, "mount./home.source"),
        (119, "mount./home.usage"),
        (128, "http.https://www.google.com"),
        (135, "matching"),
    ]
    lines = source.read_text().splitlines()
    for note in result.notes:  # each line holds the (last part of the) key it is about
        assert f"{note.key.split('.')[-1]}:" in lines[note.line - 1], note
    header = result.text.split("\nchecklist:")[0]
    for note in result.notes:
        assert f"# {' '.join(str(note).split())}" in header


def test_goss_docs_values(tmp_path: Path) -> None:
    found = checks(import_goss(FIXTURES / "rendered_goss.yaml", "d", shown="rendered_goss.yaml"))
    assert found["file-ect-password-static"]["file"] == {
        "path": "/ect/password/static",
        "mode": "0644",
        "owner": "root",
        "group": "root",
        "contains": "hrll",
    }
    assert found["user-nfsbody"]["user"] == {
        "name": "nfsbody",
        "uid": 65534,
        "gid": 65534,
        "groups": ["nfsnobody"],
        "home": "/var/lib/nfs",
        "shell": "/sbin/nologin",
    }
    assert found["user-sshd"] == {
        "id": "user-sshd",
        "title": "UID must be between 50-100, GID doesn't matter. home is flexible",
        "user": {"name": "sshd"},
    }
    assert found["service-sshd"]["service"] == {"name": "sshd", "running": True, "enabled": True}
    assert found["command-version"]["command"]["expect"] == {
        "rc": 0,
        "stdout": r"go version go1\.6 linux/amd64",
    }
    assert found["mount-home"]["mount"] == {"path": "/home", "fstype": "xfs", "options": ["rw"]}
    assert found["http-https-www.google.com"]["http"] == {
        "url": "https://www.google.com",
        "status": 200,
        "timeout_s": 1,
    }


def test_trusty_example_translates_accounts_exactly(tmp_path: Path) -> None:
    result = import_goss(FIXTURES / "trusty-goss.yaml", "web", shown="trusty-goss.yaml")
    loads(tmp_path, result, "web")
    found = checks(result)
    assert found["user-www-data"]["user"] == {
        "name": "www-data",
        "uid": 33,
        "gid": 33,
        "groups": ["www-data"],
        "home": "/var/www",
    }
    assert found["group-www-data"]["group"] == {"name": "www-data", "gid": 33}
    assert [n.key for n in result.notes] == ["addr.tcp://127.0.0.1:80", "gossfile"]


def test_skip_title_absent_and_negated_patterns(tmp_path: Path) -> None:
    result = translate(
        tmp_path,
        """\
file:
  /etc/ssh/sshd_config:
    exists: true
    filetype: file
    contains:
    - "/^PermitRootLogin\\\\s+no/"
    - "!PasswordAuthentication yes"
    - "Port 22"
  /run/docker.sock:
    exists: true
    filetype: socket
  /tmp/goss/foobar:
    exists: false
    contains: [x]
user:
  games: {exists: false, uid: 5}
  backup: {exists: true, skip: true, title: Backup account}
process:
  telnetd: {running: false}
service:
  fstrim.timer: {enabled: true}
""",
    )
    loads(tmp_path, result, "probe")
    found = checks(result)
    assert found["file-etc-ssh-sshd_config"]["file"]["contains"] == "^PermitRootLogin[[:space:]]+no"
    assert found["file-etc-ssh-sshd_config-contains"]["file"]["contains"] == r"Port 22"
    assert found["file-etc-ssh-sshd_config-not-contains"]["command"] == {
        "run": "grep -Eq -e 'PasswordAuthentication yes' -- /etc/ssh/sshd_config",
        "expect": {"rc": 1},
    }
    assert found["file-run-docker.sock"]["command"]["run"] == "test -S /run/docker.sock"
    assert found["file-tmp-goss-foobar"]["file"] == {"path": "/tmp/goss/foobar", "exists": False}
    assert found["user-games"]["user"] == {"name": "games", "exists": False}
    assert found["user-backup"] == {
        "id": "user-backup",
        "title": "Backup account",
        "when": "false",
        "user": {"name": "backup"},
    }
    assert found["process-telnetd"]["process"] == {
        "name": "telnetd",
        "min_count": 0,
        "max_count": 0,
    }
    assert found["service-fstrim.timer"]["service"] == {
        "name": "fstrim.timer",
        "running": None,
        "enabled": True,
    }
    assert {(n.key, n.why.split(";")[0]) for n in result.notes} == {
        ("file./tmp/goss/foobar.contains", "nothing else is checked of what must not exist"),
        ("user.games.uid", "nothing else is checked of what must not exist"),
    }


def test_templates_are_never_passed_on_as_jinja(tmp_path: Path) -> None:
    result = translate(
        tmp_path,
        """\
http:
  https://ifconfig.me:
    status: 200
    body: '{{.Vars.Ip}}'
command:
  "echo {{ .Env.HOME }}": {exit-status: 0}
package:
  nginx: {installed: true}
""",
    )
    values = yaml.safe_dump(yaml.safe_load(result.text))
    assert "{{" not in values
    keys = [n.key for n in result.notes]
    assert "http.https://ifconfig.me.body" in keys
    assert "command.echo {{ .Env.HOME }}" in keys
    assert set(checks(result)) == {"http-https-ifconfig.me", "package-nginx"}


def test_unrendered_goss_templates_are_refused_with_the_fix(tmp_path: Path) -> None:
    text = 'file:\n{{range mkSlice "/etc/passwd"}}\n  {{.}}:\n    exists: true\n{{end}}\n'
    with pytest.raises(ContentError, match=r"goss.yaml:1:1: holds goss templates .*`goss --vars"):
        translate(tmp_path, text)


def test_bad_goss_files_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"goss.yaml:4:3: duplicate key 'nginx'"):
        translate(tmp_path, "package:\n  nginx: {installed: true}\n  curl: {}\n  nginx: {}\n")
    with pytest.raises(ContentError, match=r"expected a goss file"):
        translate(tmp_path, "- just\n- a list\n")
    with pytest.raises(ContentError, match=r"nothing to translate: goss.yaml:1: matching"):
        translate(tmp_path, "matching:\n  x: {content: 1, matches: 1}\n")
    with pytest.raises(ContentError, match=r"checklist name 'no good'"):
        translate(tmp_path, "package:\n  nginx: {installed: true}\n", name="no good")


def test_unknown_types_and_attributes_are_listed(tmp_path: Path) -> None:
    result = translate(
        tmp_path,
        """\
package:
  nginx: {installed: true, arch: amd64}
kernel-module:
  ip_tables: {loaded: true}
port:
  "tcp:http": {listening: true}
dns:
  "MX:example.org": {resolvable: true, server: 127.0.0.53}
  localhost: {resolvable: true, server: 127.0.0.53}
  "::1": {resolvable: true}
file:
  /tmp: {exists: true, mode: "1777"}
""",
    )
    assert [(n.line, n.key) for n in result.notes] == [
        (2, "package.nginx.arch"),
        (3, "kernel-module"),
        (6, "port.tcp:http"),
        (8, "dns.MX:example.org"),
        (9, "dns.localhost"),
        (12, "file./tmp"),
    ]
    assert "checked as a regular file" in result.notes[-1].why
    assert checks(result)["file-tmp"]["file"] == {"path": "/tmp", "mode": "1777"}
    assert checks(result)["dns-1"]["command"] == {
        "run": "getent ahosts -- ::1",
        "expect": {"rc": 0},
    }


HOSTILE = "$(touch SENTINEL)'\"; touch SENTINEL #"


def test_hostile_values_reach_the_shell_quoted(tmp_path: Path) -> None:
    """Every command the importer writes, run by sh: no value escapes its quotes."""
    goss = {
        "file": {
            f"/tmp/{HOSTILE}": {
                "exists": True,
                "md5": "7c9bb14b3bf178e82c00c2a4398c93cd",
                "linked-to": HOSTILE,
                "contains": [f"!{HOSTILE}"],
            },
            f"/x/{HOSTILE}": {"exists": True, "filetype": "pipe"},
        },
        "dns": {HOSTILE: {"resolvable": True, "addrs": [HOSTILE]}},
        "interface": {HOSTILE: {"exists": True, "mtu": 1500, "addrs": [HOSTILE]}},
        "mount": {HOSTILE: {"exists": False}},
    }
    result = translate(tmp_path, yaml.safe_dump(goss))
    runs = [c["command"]["run"] for c in checks(result).values() if "command" in c]
    assert len(runs) == 9
    tools = {run.split()[0] for run in runs} - {"test"}
    assert tools == {"md5sum", "readlink", "grep", "getent", "cat", "ip", "mountpoint"}
    stubs = tmp_path / "bin"  # no resolver asked, no file read: only the quoting is tested
    stubs.mkdir()
    for tool in tools:
        (stubs / tool).write_text("#!/bin/sh\nexit 0\n")
        (stubs / tool).chmod(0o755)
    (stubs / "touch").symlink_to(shutil.which("touch") or "/usr/bin/touch")
    for run in runs:
        done = subprocess.run(
            ["/bin/sh", "-c", run], cwd=tmp_path, env={"PATH": str(stubs)},
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 1), (run, done)
    assert not (tmp_path / "SENTINEL").exists()


@pytest.mark.parametrize(
    ("go", "ere"),
    [
        (r"^\d{2}$", "^[0-9]{2}$"),
        (r"\s+no\S", "[[:space:]]+no[^[:space:]]"),
        (r"a\.b", r"a\.b"),
        (r"[\d]", None),
        (r"\bword\b", None),
        (r"(?i)abc", None),
        (r"[]a]", "[]a]"),
        (r"[^]a]x", "[^]a]x"),
        (r"[abc", None),
    ],
)
def test_go_regex_to_ere(go: str, ere: str | None) -> None:
    assert go_to_ere(go) == ere


def test_patterns_and_literals() -> None:
    assert parse_pattern("!/a+/").negated and parse_pattern("!/a+/").regex
    assert parse_pattern("\\!bang").body == "!bang"
    assert not parse_pattern("\\!bang").negated
    text = "a.b*c (x) [y] {z} | ^$ \\ + ?"
    assert re.fullmatch(ere_literal(text), text)
    done = subprocess.run(
        ["grep", "-Ec", "-e", ere_literal(text)],
        input=f"{text}\naXb*c\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "1"
