"""The pure parts of playbook runs, without ansible running.

Events: a recorded ansible-runner event stream (``tests/fixtures/playbooks/events/``,
recorded from a real run on five sshd hosts and one closed port) folds into results and
a recap equal to ansible's own PLAY RECAP. Also: ssh arguments and the user's
ansible.cfg, ``-e`` checking, plays and their batched copy, secret masks.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from types import MappingProxyType

import pytest

from butler_maint.errors import ContentError
from butler_maint.evidence.model import HostStats, Status
from butler_maint.executors.ssh import SshOptions
from butler_maint.inventory import HostInfo
from butler_maint.playbooks import connection, plays
from butler_maint.playbooks.events import (
    MESSAGE_MAX,
    NO_LOG_NOTE,
    Notice,
    PlayLog,
    TaskStarted,
    message,
    relabel,
    stats_from,
    task_result,
)
from butler_maint.playbooks.extravars import extra_vars_args
from butler_maint.playbooks.secrets import variants
from butler_maint.redact import MASK, Redactor

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "playbooks" / "events"
RECAP_LINE = re.compile(r"^(\S+)\s+:\s+(.*)$")
RECAP_NAMES = {"failed": "failed", "unreachable": "unreachable"}


def recorded(name: str) -> list[dict[str, object]]:
    lines = (EVENTS / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def ansible_recap(name: str) -> dict[str, HostStats]:
    """Parse ansible's PLAY RECAP text (``host : ok=6 changed=3 ...``)."""
    recap = {}
    for line in (EVENTS / f"{name}.recap").read_text().splitlines():
        match = RECAP_LINE.match(line)
        if match and "=" in match.group(2):
            counts = dict(pair.split("=") for pair in match.group(2).split())
            recap[match.group(1)] = HostStats(**{k: int(v) for k, v in counts.items()})
    return recap


def folded(name: str) -> PlayLog:
    log = PlayLog()
    for event in recorded(name):
        log.feed(event)
    return log


# -- events -------------------------------------------------------------------


def test_recap_equals_ansibles_own() -> None:
    stats, _ = folded("mixed").finish()
    assert stats == ansible_recap("mixed")
    assert stats["host06"] == HostStats(unreachable=1)


def test_one_result_per_task_and_host_loop_items_not_counted() -> None:
    _, results = folded("mixed").finish()
    pairs = Counter((r.host, r.check) for r in results)
    assert set(pairs.values()) == {1}
    assert pairs[("host01", "loop")] == 1
    assert {h for h, task in pairs if task == "ok task"} == {f"host0{i}" for i in range(1, 7)}
    assert [r.check for r in results if r.host == "host06"] == ["ok task"]


def test_statuses_follow_ansibles_meaning() -> None:
    _, results = folded("mixed").finish()
    by = {(r.host, r.check): r for r in results}
    down = by[("host06", "ok task")]
    assert (down.status, down.observed) == (Status.UNREACHABLE, "unreachable")
    assert "Connection refused" in (down.message or "")
    assert by[("host03", "real failure")].status is Status.FAIL
    assert by[("host03", "real failure")].message == "non-zero return code; oops; rc=3"
    rescued = by[("host02", "fails in block")]
    assert (rescued.status, rescued.observed) == (Status.WAIVED, "rescued")
    ignored = by[("host01", "ignored failure")]
    assert (ignored.status, ignored.observed) == (Status.WAIVED, "ignored")
    assert by[("host01", "skipped task")].status is Status.SKIPPED
    assert by[("host01", "changed task")].observed == "changed"
    assert by[("host01", "ok task")].observed == "ok"
    assert all(r.ms >= 0 for r in results)
    assert by[("host03", "real failure")].ms > 0


def test_no_log_result_says_hidden_and_keeps_changed() -> None:
    _, results = folded("mixed").finish()
    secret = [r for r in results if r.check == "secret"]
    assert secret
    assert {r.message for r in secret} == {NO_LOG_NOTE}
    assert {r.observed for r in secret} == {"changed"}  # from the display line: res is censored


def test_only_failures_and_unreachables_fail_a_host() -> None:
    stats, results = folded("mixed").finish()
    failing = {r.host for r in results if r.status in (Status.FAIL, Status.UNREACHABLE)}
    assert failing == {h for h, s in stats.items() if s.failed or s.unreachable}


def test_feed_reports_task_starts_and_notices() -> None:
    log = PlayLog()
    updates = [log.feed(e) for e in recorded("mixed")]
    starts = [u.name for u in updates if isinstance(u, TaskStarted)]
    assert starts[:3] == ["ok task", "changed task", "skipped task"]
    assert log.tasks == len(starts)
    notice = log.feed({"event": "warning", "stdout": "[WARNING]: something\r\n"})
    assert notice == Notice("warning", "[WARNING]: something")


def test_interrupted_run_is_tallied_from_results() -> None:
    events = [e for e in recorded("mixed") if e["event"] != "playbook_on_stats"]
    log = PlayLog()
    for event in events:
        log.feed(event)
    stats, results = log.finish()
    assert stats["host06"].unreachable == 1
    assert stats["host03"].failed == 1
    assert stats["host01"].skipped == ansible_recap("mixed")["host01"].skipped
    assert stats["host02"].failed == 1  # without ansible's recap a rescue is not known
    assert len(results) == len([e for e in events if str(e["event"]).startswith("runner_on_")])


def test_ignored_unreachable_is_waived_by_the_recap() -> None:
    down = {"host": "h1", "task": "probe", "res": {"msg": "no route"}}
    first = task_result("runner_on_unreachable", down)
    second = task_result("runner_on_unreachable", {**down, "task": "later"})
    out = relabel([first, second], {"h1": HostStats(ok=1, unreachable=1, ignored=1)})
    assert [(r.check, r.status) for r in out] == [
        ("probe", Status.WAIVED),
        ("later", Status.UNREACHABLE),
    ]


def test_stats_from_partial_tables() -> None:
    data = {"ok": {"a": 2}, "dark": {"b": 1}, "processed": {"a": 1, "b": 1, "c": 1}}
    assert stats_from(data) == {
        "a": HostStats(ok=2),
        "b": HostStats(unreachable=1),
        "c": HostStats(),
    }


def test_secret_masked_before_truncation() -> None:
    secret = "TOPSECRET-VALUE-42"
    redactor = Redactor()
    redactor.add([secret])
    text = "x" * (MESSAGE_MAX - 8) + secret
    shown = message({"msg": text}, Status.FAIL, redactor.text)
    assert shown is not None
    assert len(shown) <= MESSAGE_MAX
    assert "TOPSEC" not in shown
    assert "SECRET-VALUE" not in shown


def test_message_collapses_and_combines() -> None:
    res = {"msg": "failed\n  badly", "stderr": "a\nb\nc\nd", "rc": 2}
    assert message(res, Status.FAIL) == "failed badly; b c d; rc=2"
    assert message({"msg": {"k": 1}}, Status.PASS) == '{"k": 1}'
    assert message({}, Status.PASS) is None
    assert message({"censored": "..."}, Status.FAIL) == NO_LOG_NOTE


# -- connection settings ----------------------------------------------------------


def options(tmp_path: Path, **kw: object) -> SshOptions:
    return SshOptions(project_known_hosts=tmp_path / "known hosts", **kw)  # type: ignore[arg-type]


def split(args: str) -> list[str]:
    import shlex

    return shlex.split(args)


def test_ssh_args_put_host_key_options_first(tmp_path: Path) -> None:
    trusted = (Path("/etc/ssh/ssh_known_hosts"), Path("~/.ssh/known_hosts"))
    args = split(
        connection.ssh_args(
            options(tmp_path, trusted_known_hosts=trusted), "-o StrictHostKeyChecking=no -C"
        )
    )
    home = str(Path("~/.ssh/known_hosts").expanduser())
    assert args[:6] == [
        "-o", f'UserKnownHostsFile="{tmp_path}/known hosts" "{home}"',
        "-o", 'GlobalKnownHostsFile="/etc/ssh/ssh_known_hosts"',
        "-o", "StrictHostKeyChecking=yes",
    ]  # fmt: skip
    assert args[-3:] == ["-o", "StrictHostKeyChecking=no", "-C"]  # theirs, after: ignored by ssh
    assert "ControlPersist=60s" not in args  # the user chose their own ssh_args


def test_ssh_args_defaults_and_accept_new(tmp_path: Path) -> None:
    args = split(
        connection.ssh_args(options(tmp_path, trusted_known_hosts=(), accept_new=True), None)
    )
    assert "GlobalKnownHostsFile=/dev/null" in args
    assert "StrictHostKeyChecking=accept-new" in args
    assert args[-4:] == list(connection.PERSIST)


def test_user_cfg_host_key_checking_off_is_overridden_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = False\npipelining = False\n"
        "[ssh_connection]\nssh_args = -o ControlPersist=5m\n"
    )
    tmp_path.chmod(0o755)
    user = connection.read_user_settings(tmp_path, {})
    assert user.cfg == tmp_path / "ansible.cfg"
    assert user.host_key_checking is False
    conn = connection.connection_env(options(tmp_path), user, tmp_path, tmp_path / "cp")
    assert conn.env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "ANSIBLE_PIPELINING" not in conn.env  # the user's choice stands
    assert split(conn.env["ANSIBLE_SSH_ARGS"])[-2:] == ["-o", "ControlPersist=5m"]
    assert any("host_key_checking" in w and "overridden" in w for w in conn.warnings)


def test_environment_beats_cfg_and_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    tmp_path.chmod(0o755)
    env = {"ANSIBLE_HOST_KEY_CHECKING": "yes", "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")}
    user = connection.read_user_settings(Path("/nonexistent"), env)
    assert user.host_key_checking is True
    conn = connection.connection_env(options(tmp_path), user, tmp_path, tmp_path / "cp")
    assert conn.warnings == ()
    assert conn.env["ANSIBLE_PIPELINING"] == "True"
    assert conn.env["ANSIBLE_SSH_CONTROL_PATH_DIR"] == str(tmp_path / "cp")
    assert conn.env["LC_ALL"] == "C.UTF-8"


def test_cfg_in_world_writable_dir_is_ignored_as_ansible_does(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    tmp_path.chmod(0o777)
    assert connection.find_ansible_cfg(tmp_path, {}) != tmp_path / "ansible.cfg"


def host(name: str, **hostvars: object) -> HostInfo:
    return HostInfo(name, MappingProxyType(dict(hostvars)))


def test_hosts_replacing_our_ssh_args_or_using_paramiko_are_refused() -> None:
    hosts = [
        host("a", ansible_ssh_args="-o StrictHostKeyChecking=no"),
        host("b", ansible_connection="paramiko"),
        host("c", ansible_ssh_common_args="-o ProxyJump=bastion"),
    ]
    problems = connection.refusals(hosts)
    assert len(problems) == 2
    assert problems[0].startswith("a: ansible_ssh_args")
    assert problems[1].startswith("b: the paramiko connection")


def test_inventory_that_disables_checking_is_warned_about() -> None:
    hosts = [
        host("a", ansible_host_key_checking="false"),
        host("b", ansible_ssh_extra_args="-o UserKnownHostsFile=/dev/null"),
    ]
    warnings = connection.host_warnings(hosts)
    assert warnings[0].startswith("a: host key checking disabled")
    assert warnings[1].startswith("b: host-key options")


# -- extra vars, plays, secrets ------------------------------------------------------


def test_extra_vars_accepted_and_files_made_absolute(tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("a: 1\n")
    args, files = extra_vars_args(["x=1 y='a b'", '{"k": [1]}', "@vars.yml"], tmp_path)
    assert args == ["-e", "x=1 y='a b'", "-e", '{"k": [1]}', "-e", f"@{tmp_path / 'vars.yml'}"]
    assert files == [tmp_path / "vars.yml"]


@pytest.mark.parametrize("value", ["novalue", "1bad=2", "{unclosed", "[1, 2]", "@missing.yml"])
def test_bad_extra_vars_are_bad_input(tmp_path: Path, value: str) -> None:
    with pytest.raises(ContentError):
        extra_vars_args([value], tmp_path)


PLAYBOOK = """\
- name: one
  hosts: web:&prod
  vars:
    token: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      6162
    raw: !unsafe "{{ not a template }}"
    flag: yes
  tasks: []
- name: two
  hosts: ["db", "cache"]
- name: three
  hosts: "{{ target }}"
- ansible.builtin.import_playbook: other.yml
"""


def test_host_patterns_and_batched_copy_keep_tags(tmp_path: Path) -> None:
    original = tmp_path / "site.yml"
    original.write_text(PLAYBOOK)
    entries = plays.load_plays(original)
    assert plays.host_patterns(entries) == ["web:&prod", "db,cache", "all"]
    assert plays.imports(entries)
    copy = plays.write_copy(original, plays.batched(entries, "25%", 10))
    assert copy.parent == original.parent
    assert copy.name.startswith(plays.COPY_PREFIX)
    assert copy.stat().st_mode & 0o777 == 0o600
    again = plays.load_plays(copy)
    assert [p.get("serial") for p in again] == ["25%", "25%", "25%", None]
    assert again[0]["max_fail_percentage"] == 10
    assert again[0]["vars"]["token"] == plays.Tagged("!vault", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    assert again[0]["vars"]["raw"] == plays.Tagged("!unsafe", "{{ not a template }}")
    assert again[0]["vars"]["flag"] is True
    assert again[3] == {"ansible.builtin.import_playbook": "other.yml"}


@pytest.mark.parametrize("text", ["- !!python/object:os.system {}\n", "hosts: all\n", "- [\n"])
def test_not_a_playbook_is_bad_input(tmp_path: Path, text: str) -> None:
    (tmp_path / "p.yml").write_text(text)
    with pytest.raises(ContentError):
        plays.load_plays(tmp_path / "p.yml")


@pytest.mark.parametrize(("value", "ok"), [("2", 2), (3, 3), ("25%", "25%"), ("0", None),
                                           ("150%", None), ("x", None)])  # fmt: skip
def test_serial_values(value: str | int, ok: int | str | None) -> None:
    if ok is None:
        with pytest.raises(ValueError):
            plays.check_serial(value)
    else:
        assert plays.check_serial(value) == ok


def test_secret_variants_cover_json_and_lines() -> None:
    secret = 'pa"ss\nwörd-line-two\n'
    forms = variants(secret)
    redactor = Redactor()
    redactor.add(forms)
    shown = json.dumps({"msg": secret}) + json.dumps({"msg": secret}, ensure_ascii=False)
    assert "ss" not in redactor.text(shown).replace(MASK, "")
    assert redactor.text("wörd-line-two") == MASK


def test_undecryptable_vault_values_are_not_secrets_to_mask() -> None:
    from butler_maint.inventory import UndecryptedSecret
    from butler_maint.playbooks.secrets import leaves

    assert leaves([{"a": UndecryptedSecret("a"), "b": ["x", 3, None, True]}]) == ["x", "3"]
