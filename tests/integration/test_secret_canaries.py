"""The canary matrix: one unique secret in every place a secret can come from, every
command that can print or record it, and not one byte of any canary anywhere.

Sources: (1) a vault-encrypted inventory var, (2) an environment variable read with
``{{ env('NAME') }}``, (3) the output of a check marked ``secret: true``, (4) an
``expect:`` built from a vault var (its ``expected`` too), (5) a ``no_log: true`` task,
(6) a webhook URL token (``?token=``) and (7) a webhook URL password (``user:pw@``).

Commands, all through the real CLI against a 2-host sshd fleet: ``check`` (every
``--format``), ``play``, ``window run`` (a checklist step and a playbook step),
``run-due`` (a routine due now whose webhooks go to a receiver on 127.0.0.1 answering
500 once then 200, and to a port refusing connections), ``validate``, ``due``,
``calendar``, ``report list/show/export/diff/verify/render`` and ``kpi``. Then the
evidence store (artifacts included), the site, the metrics file, every command's stdout
and stderr and every body the receiver got are searched, as bytes, for each canary.

``window run`` and ``run-due`` take no ``--vault-password-file`` and butler.yaml has no
vault setting; given an inventory holding inline ``!vault`` values, ``window run`` stops
with "variable 'vault_canary' is vault-encrypted and no vault password file was given"
(exit 2) although no step reads it. So they run with ``-i`` on a second inventory of the
same hosts without the vault vars, on a checklist and playbook reading none, and
canaries (1) and (4) go through ``check`` and ``play`` only.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.evidence import EvidenceStore
from tests.harness.http_server import QuietHandler, serving
from tests.harness.sshd_fleet import SshdFleet

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
BUTLER = str(BIN / "butler-maint")
TIMEOUT_S = 180
VAULT_PASSWORD = "canary matrix vault pass"
ENV_NAME = "BUTLER_CANARY_TOKEN"
VAULT_INVENTORY = "inventories/vault/fleet.yml"  # with group_vars holding the vault vars
PLAIN_INVENTORY = "inventories/plain/fleet.yml"  # the same hosts, no vault var

CANARIES = {
    "vault-var": "CNRY1-VAULTVAR-6b1f0e",
    "env-var": "CNRY2-ENVVAR-93c7d2",
    "secret-check-output": "CNRY3-SECRETOUT-5a8e41",
    "vault-expect": "CNRY4-VAULTEXPECT-0d2c77",
    "no-log-task": "CNRY5-NOLOG-e7f390",
    "webhook-token": "CNRY6-HOOKTOKEN-41ab9c",
    "webhook-password": "CNRY7-HOOKPASSWD-c25d18",
}
# The window opens 12 h from now and run-due acts 2 h from now: no ad hoc run falls in
# an occurrence of either schedule, whatever time the suite runs at.
OPENS = (datetime.now(UTC).hour + 12) % 24
DUE_AT = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=5, second=0, microsecond=0)

# Checks that read no vault var: the ones window run and run-due can run too.
PLAIN_CHECKS = f"""
  - id: env-match
    command:
      run: "echo {{{{ env('{ENV_NAME}') }}}}"
      expect: {{stdout: "{{{{ env('{ENV_NAME}') }}}}"}}
  - id: env-fail
    command:
      run: "echo {{{{ env('{ENV_NAME}') }}}} >&2; echo {{{{ env('{ENV_NAME}') }}}}; exit 3"
  - id: env-expect-miss
    command: {{run: "echo other", expect: {{stdout: "^{{{{ env('{ENV_NAME}') }}}}$"}}}}
  - id: secret-pass
    secret: true
    command: {{run: "cat {{{{ sandbox }}}}/secret.txt", expect: {{stdout: "^CNRY3"}}}}
  - id: secret-fail
    secret: true
    command:
      run: "cat {{{{ sandbox }}}}/secret.txt; cat {{{{ sandbox }}}}/secret.txt >&2; exit 4"
  - id: env-big
    command:
      run: "for i in $(seq 400); do echo line $i {{{{ env('{ENV_NAME}') }}}}; done; exit 1"
  - id: secret-big
    secret: true
    command: {{run: "for i in $(seq 400); do echo line $i; cat {{{{ sandbox }}}}/secret.txt; done"}}
  - id: secret-huge
    secret: true
    command:
      run: 'yes "x $(cat {{{{ sandbox }}}}/secret.txt)" | head -c 1100000; exit 1'
  - id: secret-file
    secret: true
    file: {{path: "{{{{ sandbox }}}}/secret.txt", contains: "^nothing-like-it"}}
"""
VAULT_CHECKS = """
  - id: vault-use
    command: {run: "echo token={{ vault_canary }}", expect: {stdout: "token=.*"}}
  - id: vault-use-fail
    command: {run: "echo token={{ vault_canary }}; echo {{ vault_canary }} >&2; exit 2"}
  - id: vault-expect-match
    command: {run: "echo {{ vault_expect }}", expect: {stdout: "{{ vault_expect }}"}}
  - id: vault-expect-miss
    command: {run: "echo other", expect: {stdout: "^{{ vault_expect }}$"}}
  - id: vault-big
    command: {run: "for i in $(seq 400); do echo line $i {{ vault_canary }}; done; exit 1"}
  - id: vault-huge  # past the 1 MiB kept of one check's output: the cut lands mid-canary
    command: {run: "yes 'x {{ vault_canary }}' | head -c 1100000; exit 1"}
  - id: vault-file-miss
    file: {path: "{{ sandbox }}/secret.txt", contains: "{{ vault_expect }}"}
"""
FULL_CHECKLIST = "checklist: canaries\nhosts: linux\nchecks:" + VAULT_CHECKS + PLAIN_CHECKS
PLAIN_CHECKLIST = "checklist: canaries-plain\nhosts: linux\nchecks:" + PLAIN_CHECKS

NO_LOG_TASKS = """
    - name: read a secret without logging it
      ansible.builtin.command: "cat {{ sandbox }}/nolog.txt"
      register: hidden
      changed_when: false
      no_log: true

    - name: fail without logging it
      ansible.builtin.shell: "cat {{ sandbox }}/nolog.txt; cat {{ sandbox }}/nolog.txt >&2; exit 5"
      no_log: true
      ignore_errors: true

    - name: print the secret past the 4 KiB output limit without logging it
      ansible.builtin.shell: "for i in $(seq 400); do cat {{ sandbox }}/nolog.txt; done; exit 1"
      changed_when: false
      ignore_errors: true
      no_log: true

    - name: pass the hidden value on without logging it
      ansible.builtin.copy:
        content: "{{ hidden.stdout }}\\n"
        dest: "{{ sandbox }}/nolog-copy.txt"
      no_log: true
"""
PLAY_PLAYBOOK = (
    """---
- name: Canaries
  hosts: linux
  gather_facts: false
  tasks:
    - name: use the vault values
      ansible.builtin.copy:
        content: "{{ vault_canary }} {{ vault_expect }}\\n"
        dest: "{{ sandbox }}/vault-used.txt"

    - name: print the vault value past the 4 KiB output limit
      ansible.builtin.shell: >-
        seq -f '%g {{ vault_canary }}' 400; seq -f '%g {{ vault_canary }}' 400 >&2; exit 1
      changed_when: false
      ignore_errors: true

    - name: fail with a vault value in the message
      ansible.builtin.fail:
        msg: "rejected {{ vault_canary }}"
      ignore_errors: true
"""
    + NO_LOG_TASKS
)
WINDOW_PLAYBOOK = (
    """---
- name: Canaries in a window
  hosts: linux
  gather_facts: false
  tasks:
"""
    + NO_LOG_TASKS
)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: 500 for the first POST, then 200."""

    statuses: list[int] = field(default_factory=lambda: [500])
    bodies: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Matrix:
    """Everything the runs produced, by where it was found."""

    root: Path
    fleet: SshdFleet
    receiver: Receiver
    outputs: dict[str, bytes] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, int]]:
    state = Receiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.bodies.append(body)
                state.paths.append(self.path)
                state.auth.append(self.headers.get("Authorization"))
                code = state.statuses.pop(0) if state.statuses else 200
                state.answered.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as port:
        yield state, port


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connecting is refused


def _encrypt(name: str, value: str, password_file: Path) -> str:
    return subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file",
         str(password_file), value, "--name", name],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def _content(base: Path, fleet: SshdFleet, port: int) -> tuple[Path, Path]:
    """The content repo and the vault password file."""
    root = base / "content"
    for sub in ("checklists", "schedules", "playbooks", "inventories/vault/group_vars"):
        (root / sub).mkdir(parents=True)
    password = base / "vault-pass"
    password.write_text(VAULT_PASSWORD + "\n")
    python = {name: {"ansible_python_interpreter": "/usr/bin/python3"} for name in fleet.hosts}
    fleet.write_inventory(root / VAULT_INVENTORY, group="linux", extra_vars=python)
    (root / PLAIN_INVENTORY).parent.mkdir()
    fleet.write_inventory(root / PLAIN_INVENTORY, group="linux", extra_vars=python)
    (root / "inventories" / "vault" / "group_vars" / "linux.yml").write_text(
        _encrypt("vault_canary", CANARIES["vault-var"], password)
        + _encrypt("vault_expect", CANARIES["vault-expect"], password)
    )
    (root / "checklists" / "canaries.yaml").write_text(FULL_CHECKLIST)
    (root / "checklists" / "canaries-plain.yaml").write_text(PLAIN_CHECKLIST)
    (root / "playbooks" / "canaries.yml").write_text(PLAY_PLAYBOOK)
    (root / "playbooks" / "canaries-window.yml").write_text(WINDOW_PLAYBOOK)
    window = {
        "window": "canary-window", "timezone": "UTC", "every": f"0 {OPENS} * * *",
        "duration": "3h", "hosts": "linux",
        "steps": [{"checklist": "canaries-plain", "gate": False},
                  {"playbook": "playbooks/canaries-window.yml"}],
    }  # fmt: skip
    token, secret = CANARIES["webhook-token"], CANARIES["webhook-password"]
    routine = {
        "routine": "canary-routine", "timezone": "UTC", "every": "0 * * * *",
        "duration": "30m", "checklist": "canaries-plain",
        "notify": [
            {"on": "always", "webhook": f"http://127.0.0.1:{port}/hook?token={token}&room=ops"},
            {"on": "failure", "webhook": f"http://alice:{secret}@127.0.0.1:{port}/hook"},
            {"on": "always", "tries": 2, "timeout_s": 5,
             "webhook": f"http://alice:{secret}@127.0.0.1:{_closed_port()}/hook?token={token}"},
        ],
    }  # fmt: skip
    (root / "schedules" / "canary-window.yaml").write_text(yaml.safe_dump(window))
    (root / "schedules" / "canary-routine.yaml").write_text(yaml.safe_dump(routine))
    settings = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": VAULT_INVENTORY, "ssh": settings})
    )
    for host in fleet.hosts.values():
        (host.sandbox / "secret.txt").write_text(CANARIES["secret-check-output"] + "\n")
        (host.sandbox / "nolog.txt").write_text(CANARIES["no-log-task"] + "\n")
    return root, password


@pytest.fixture(scope="module")
def matrix(
    sshd_fleet_factory: Any,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: tuple[Receiver, int],
) -> Matrix:
    """Every command run once; what they printed and wrote, collected as bytes."""
    state, port = receiver
    fleet = sshd_fleet_factory(2)
    base = tmp_path_factory.mktemp("canaries")
    root, password = _content(base, fleet, port)
    tmp = base / "tmp"
    tmp.mkdir()
    env = {**os.environ, ENV_NAME: CANARIES["env-var"], "TMPDIR": str(tmp), "LC_ALL": "C.UTF-8"}
    found = Matrix(root, fleet, state)

    def butler(label: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [BUTLER, "-C", str(root), *args], capture_output=True, timeout=TIMEOUT_S,
            env=env, check=False,
        )  # fmt: skip
        found.outputs[f"{label} stdout"] = done.stdout
        found.outputs[f"{label} stderr"] = done.stderr
        found.codes[label] = done.returncode
        return done

    vault = ("--vault-password-file", str(password))
    for fmt in ("text", "json", "yaml", "junit"):
        butler(f"check --format {fmt}", "check", "canaries", "--format", fmt, *vault)
    butler("play", "play", "canaries", *vault)
    plain = ("-i", str(root / PLAIN_INVENTORY))  # -i is read from the working directory
    butler("window run", "window", "run", "canary-window", *plain)
    butler("run-due", "run-due", "--at", DUE_AT.isoformat(), *plain)
    butler("validate", "validate")
    butler("due", "due", "--format", "json")
    butler("calendar", "calendar", "--days", "2", "--format", "json")
    listed = butler("report list", "report", "list", "--format", "json")
    ids = [entry["id"] for entry in json.loads(listed.stdout)]
    for report_id in [*ids, "latest"]:
        butler(f"report show {report_id}", "report", "show", report_id)
        for fmt in ("json", "junit", "markdown"):
            butler(f"report export {report_id} {fmt}", "report", "export", report_id,
                   "--format", fmt)  # fmt: skip
    for older, newer in itertools.pairwise(ids):
        butler(f"report diff {older} {newer}", "report", "diff", older, newer)
    butler("report verify", "report", "verify")
    site = base / "site"
    butler("report render", "report", "render", "--out", str(site))
    metrics = base / "metrics.prom"
    for fmt in ("text", "json", "csv"):
        butler(f"kpi {fmt}", "kpi", "--format", fmt, "--forecast", "--metrics-file", str(metrics))
    # Every file the runs could write: evidence (artifacts included), site, metrics,
    # TMPDIR leftovers, and the content repo except the schedules (which hold the
    # webhook URLs as written).
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_relative_to(root / "schedules"):
            found.files[str(path.relative_to(base))] = path.read_bytes()
    for number, body in enumerate(state.bodies):
        found.files[f"webhook body {number}"] = body
    return found


def test_the_matrix_ran_and_used_every_secret(matrix: Matrix) -> None:
    """The canaries were really used: checks judged them, tasks ran, webhooks got them."""
    for fmt in ("text", "json", "yaml", "junit"):
        label = f"check --format {fmt}"
        assert matrix.codes[label] == 1, matrix.outputs[f"{label} stderr"]
    assert matrix.codes["play"] == 0, matrix.outputs["play stderr"]
    assert matrix.codes["window run"] == 1, matrix.outputs["window run stderr"]
    assert matrix.codes["run-due"] == 1, matrix.outputs["run-due stderr"]
    for label, code in matrix.codes.items():
        if label.startswith("report") and not label.startswith("report verify"):
            assert code == 0, (label, matrix.outputs[f"{label} stderr"])
    assert matrix.codes["report verify"] == 0
    assert matrix.codes["report render"] == 0

    store = EvidenceStore(matrix.root / "evidence")
    entries = [store.load(e["id"]) for e in json.loads(matrix.outputs["report list stdout"])]
    checks = [r for r in entries if r.kind == "checklist" and r.name == "canaries"]
    assert len(checks) == 4 and {r.name for r in entries if r.kind == "playbook"} >= {"canaries"}
    statuses = {(r.check, r.status) for r in checks[0].steps[0].results}
    for check, status in [
        ("vault-use", "pass"), ("vault-use-fail", "fail"), ("vault-expect-match", "pass"),
        ("vault-expect-miss", "fail"), ("vault-file-miss", "fail"), ("env-match", "pass"),
        ("env-fail", "fail"), ("env-expect-miss", "fail"), ("secret-pass", "pass"),
        ("secret-fail", "fail"), ("secret-file", "fail"),
    ]:  # fmt: skip
        assert (check, status) in statuses
    cut = [r for r in checks[0].steps[0].results if r.check in ("vault-huge", "secret-huge")]
    assert len(cut) == 4 and all(r.output and r.output.truncated for r in cut), cut
    [window] = [r for r in entries if r.kind == "window"]
    assert {r.status for r in window.steps[0].results if r.check == "secret-pass"} == {"pass"}
    assert set(window.steps[1].hosts) == set(matrix.fleet.hosts)
    [routine] = [r for r in entries if r.trigger.by == "cron"]
    assert routine.trigger.schedule == "canary-routine"
    for host in matrix.fleet.hosts.values():
        used = (host.sandbox / "vault-used.txt").read_text()
        assert used == f"{CANARIES['vault-var']} {CANARIES['vault-expect']}\n"
        assert (host.sandbox / "nolog-copy.txt").read_text() == CANARIES["no-log-task"] + "\n"

    # run-due: the first POST got 500 and was retried; the refused target is reported
    token, secret = CANARIES["webhook-token"], CANARIES["webhook-password"]
    assert matrix.receiver.answered[0] == 500 and matrix.receiver.answered.count(200) == 2
    assert f"/hook?token={token}&room=ops" in matrix.receiver.paths
    basic = "Basic " + base64.b64encode(f"alice:{secret}".encode()).decode()
    assert basic in matrix.receiver.auth
    stderr = matrix.outputs["run-due stderr"].decode(errors="replace")
    assert "run-due: notify: canary-routine: could not deliver to webhook" in stderr, stderr
    # the secrets were masked, not dropped: the mask shows where they were
    assert b"token=********" in matrix.outputs["check --format text stdout"]
    assert any(path.startswith("content/evidence/artifacts/") for path in matrix.files)


def _needles(name: str) -> list[bytes]:
    """The canary, and its first and last two thirds (a value cut by a truncation)."""
    canary = CANARIES[name]
    third = len(canary) // 3
    needles = [canary, canary[: 2 * third], canary[third:]]
    if name == "webhook-password":  # as HTTP Basic auth sends it
        needles.append(base64.b64encode(f"alice:{canary}".encode()).decode())
    return [needle.encode() for needle in needles]


def _hits(name: str, sources: dict[str, bytes]) -> list[str]:
    shown = []
    for where, data in sources.items():
        for needle in _needles(name):
            at = data.find(needle)
            if at >= 0:
                context = data[max(0, at - 120) : at + len(needle) + 60]
                shown.append(f"{where}: {needle.decode()!r} {data.count(needle)}x: {context!r}")
    return shown


@pytest.mark.parametrize("name", sorted(CANARIES))
def test_canary_appears_nowhere(matrix: Matrix, name: str) -> None:
    hits = _hits(name, {**matrix.outputs, **matrix.files})
    assert hits == [], f"canary {name} leaked:\n" + "\n".join(hits)
