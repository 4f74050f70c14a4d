"""`butler-maint check` through jump hosts, against real sshd in network namespaces.

The targets are reachable only through the jump host (tests/harness/bastion.py): via
ProxyJump in the inventory's ssh args (the jump host authenticates with an ssh-agent
key, as OpenSSH would give it no ``-i``), via an ssh_config file (``ssh.config_file``),
and through two hops. Host keys are verified on every hop, a wrong jump host key is
refused, the usual ControlMaster/ControlPersist args are accepted, and an option that
cannot be honoured stops the run (exit 2) naming the host and the variable. ``testinfra:``
modules (OpenSSH, through the ssh_config butler-maint writes) take the same route.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.evidence import EvidenceStore
from tests.harness.bastion import Bastion, Server
from tests.harness.sshd_fleet import _write_key

pytestmark = pytest.mark.integration

BUTLER = str(Path(sys.executable).parent / "butler-maint")
PERSIST = "-o ControlMaster=auto -o ControlPersist=60s"

CHECKLIST = """\
checklist: where
hosts: all
checks:
  - id: where
    command:
      run: "ip -o -4 addr show; id -un"
      expect: {stdout: "inet {{ expect_addr }}/"}
"""


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("ssh-agent") is None:
        return "iproute2 and openssh-client are needed"
    return None


@pytest.fixture(scope="module")
def bastion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bastion]:
    if reason := _usable():
        pytest.skip(reason)
    with Bastion(tmp_path_factory.mktemp("bastion")) as topology:
        yield topology


@pytest.fixture(scope="module")
def agent(bastion: Bastion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ssh-agent holding the client key; its socket path."""
    sock = str(tmp_path_factory.mktemp("agent") / "agent.sock")
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": sock}
        subprocess.run(
            ["ssh-add", str(bastion.client_key)], env=env, check=True, capture_output=True
        )
        yield sock
    finally:
        proc.kill()
        proc.wait(timeout=10)


def fingerprint(server: Server) -> str:
    blob = base64.b64decode(server.host_key_pub.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def project(
    tmp_path: Path,
    bastion: Bastion,
    hosts: dict[str, dict[str, Any]],
    *,
    known_hosts: Path | None = None,
    **ssh: Any,
) -> Path:
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "checklists" / "where.yaml").write_text(CHECKLIST)
    (root / "inventories").mkdir()
    document = {"all": {"hosts": hosts}}
    (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump(document))
    known = known_hosts or bastion.known_hosts(tmp_path / "known_hosts")
    settings = {
        "known_hosts": str(known), "system_known_hosts": False, "connect_timeout": 3, **ssh
    }  # fmt: skip
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/hosts.yml", "ssh": settings})
    )
    return root


def check(
    root: Path, agent: str | None = None, checklist: str = "where"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    if agent is not None:
        env["SSH_AUTH_SOCK"] = agent
    return subprocess.run(
        [BUTLER, "-C", str(root), "check", checklist],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def target(server: Server, bastion: Bastion, **extra: Any) -> dict[str, Any]:
    return {
        "ansible_host": server.address,
        "ansible_port": server.port,
        "ansible_user": bastion.user,
        "ansible_ssh_private_key_file": str(bastion.client_key),
        "expect_addr": bastion.inner.address,
        **extra,
    }


def results(root: Path) -> dict[str, Any]:
    report = EvidenceStore(root / "evidence").load("latest")
    return {
        "status": {r.host: str(r.status) for r in report.steps[0].results},
        "host_keys": dict(report.host_keys),
        "messages": {r.host: r.message or "" for r in report.steps[0].results},
    }


def test_the_targets_are_not_reachable_directly(tmp_path: Path, bastion: Bastion) -> None:
    root = project(tmp_path, bastion, {"inner": target(bastion.inner, bastion)})
    done = check(root)
    assert done.returncode == 1, done.stderr
    assert results(root)["status"] == {"inner": "error"}


def test_proxyjump_from_inventory_vars_with_controlpersist_args(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    args = f"-o ProxyJump={bastion.user}@{bastion.jump.address} {PERSIST}"
    hosts = {"inner": target(bastion.inner, bastion, ansible_ssh_common_args=args)}
    root = project(tmp_path, bastion, hosts)
    done = check(root, agent)
    assert done.returncode == 0, done.stdout + done.stderr
    found = results(root)
    assert found["status"] == {"inner": "pass"}
    assert found["host_keys"] == {"inner": f"ssh-ed25519 {fingerprint(bastion.inner)}"}


def test_proxyjump_from_an_ssh_config_file(tmp_path: Path, bastion: Bastion) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host inner-box\n  HostName {bastion.inner.address}\n  ProxyJump jumpbox\n\n"
        f"Host jumpbox\n  HostName {bastion.jump.address}\n  User {bastion.user}\n"
        f"  IdentityFile {bastion.client_key}\n"
    )
    host = target(bastion.inner, bastion, ansible_host="inner-box")
    del host["ansible_port"]
    root = project(tmp_path, bastion, {"inner": host}, config_file=str(config))
    done = check(root)  # no agent: the jump host's key comes from the ssh_config file
    assert done.returncode == 0, done.stdout + done.stderr
    found = results(root)
    assert found["status"] == {"inner": "pass"}
    assert found["host_keys"]["inner"].endswith(fingerprint(bastion.inner))


def test_two_hops_reach_a_server_on_the_inner_namespaces_loopback(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    jumps = f"{bastion.user}@{bastion.jump.address},{bastion.user}@{bastion.inner.address}"
    hosts = {"deep": target(bastion.deep, bastion, ansible_ssh_extra_args=f"-J {jumps}")}
    root = project(tmp_path, bastion, hosts)
    done = check(root, agent)
    assert done.returncode == 0, done.stdout + done.stderr
    found = results(root)
    assert found["status"] == {"deep": "pass"}
    assert found["host_keys"]["deep"].endswith(fingerprint(bastion.deep))


def test_a_wrong_jump_host_key_is_refused(tmp_path: Path, bastion: Bastion, agent: str) -> None:
    other = _write_key(tmp_path / "other_key", "impostor")
    known = bastion.known_hosts(tmp_path / "known_wrong", jump=other)
    args = f"-J {bastion.user}@{bastion.jump.address}"
    hosts = {"inner": target(bastion.inner, bastion, ansible_ssh_common_args=args)}
    root = project(tmp_path, bastion, hosts, known_hosts=known)
    done = check(root, agent)
    assert done.returncode == 1, done.stderr
    found = results(root)
    assert found["status"] == {"inner": "error"}
    message = found["messages"]["inner"]
    assert f"jump host {bastion.jump.address}:22" in message and "CHANGED" in message
    assert "inner" not in found["host_keys"]


def test_an_unknown_jump_host_key_is_refused(tmp_path: Path, bastion: Bastion, agent: str) -> None:
    known = tmp_path / "known_partial"
    known.write_text(bastion.inner.known_hosts_line())
    args = f"-o ProxyJump={bastion.user}@{bastion.jump.address}"
    hosts = {"inner": target(bastion.inner, bastion, ansible_ssh_common_args=args)}
    root = project(tmp_path, bastion, hosts, known_hosts=known)
    done = check(root, agent)
    assert done.returncode == 1, done.stderr
    message = results(root)["messages"]["inner"]
    assert message.startswith(f"jump host {bastion.jump.address}:22: unknown host key")


def test_an_option_that_cannot_be_honoured_stops_the_run_naming_host_and_var(
    tmp_path: Path, bastion: Bastion
) -> None:
    args = f"-J {bastion.jump.address} -o BindAddress=10.1.2.3"
    hosts = {
        "inner": target(bastion.inner, bastion, ansible_ssh_common_args=args),
        "fine": target(bastion.jump, bastion),
    }
    root = project(tmp_path, bastion, hosts)
    done = check(root)
    assert done.returncode == 2
    assert "host inner: ansible_ssh_common_args: bindaddress 10.1.2.3" in done.stderr
    assert not (root / "evidence").exists() or not list((root / "evidence").rglob("*.yaml"))


TESTINFRA_CHECKLIST = """\
checklist: where-ti
hosts: all
checks:
  - id: where-ti
    testinfra: tests/test_where.py
"""

MODULE = """\
def test_hostname_file(host):
    assert host.file("/etc/hostname").exists

def test_on_the_inner_host(host):
    assert "inet {address}/" in host.run("ip -o -4 addr show").stdout

def test_as_the_become_user(host):
    assert host.run("id -un").stdout.strip() == "{user}"
"""


def infra_project(
    tmp_path: Path, bastion: Bastion, host: dict[str, Any], user: str, **kwargs: Any
) -> Path:
    root = project(tmp_path, bastion, {"inner": host}, **kwargs)
    (root / "checklists" / "where-ti.yaml").write_text(TESTINFRA_CHECKLIST)
    (root / "tests").mkdir()
    module = MODULE.format(address=bastion.inner.address, user=user)
    (root / "tests" / "test_where.py").write_text(module)
    return root


def sub_results(root: Path) -> dict[str, str]:
    report = EvidenceStore(root / "evidence").load("latest")
    (result,) = report.steps[0].results
    return {s.check: str(s.status) for s in result.sub or []}


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is needed for become")
def test_a_testinfra_module_goes_through_the_jump_host_as_the_become_user(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    """ProxyJump from inventory vars (the jump host's key from ssh-agent), the project
    known_hosts on both hops, and ``ansible_become_user`` as testinfra's ``--sudo-user``."""
    args = f"-o ProxyJump={bastion.user}@{bastion.jump.address} {PERSIST}"
    become = {"ansible_become": True, "ansible_become_user": "nobody"}
    host = target(bastion.inner, bastion, ansible_ssh_common_args=args, **become)
    root = infra_project(tmp_path, bastion, host, "nobody")
    done = check(root, agent, "where-ti")
    assert done.returncode == 0, done.stdout + done.stderr
    assert results(root)["status"] == {"inner": "pass"}
    assert sub_results(root) == {
        "test_hostname_file": "pass",
        "test_on_the_inner_host": "pass",
        "test_as_the_become_user": "pass",
    }


def test_a_testinfra_module_through_an_ssh_config_file_and_two_hops(
    tmp_path: Path, bastion: Bastion
) -> None:
    """Each hop keeps its own user and key (from ssh_config, no agent); ``deep`` listens
    on the inner namespace's loopback, so only the second hop reaches it."""
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host deep-box\n  HostName 127.0.0.1\n  ProxyJump jumpbox,innerbox\n\n"
        f"Host jumpbox\n  HostName {bastion.jump.address}\n  User {bastion.user}\n"
        f"  IdentityFile {bastion.client_key}\n\n"
        f"Host innerbox\n  HostName {bastion.inner.address}\n  User {bastion.user}\n"
        f"  IdentityFile {bastion.client_key}\n"
    )
    host = target(bastion.deep, bastion, ansible_host="deep-box")
    root = infra_project(tmp_path, bastion, host, bastion.user, config_file=str(config))
    done = check(root, None, "where-ti")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sub_results(root)["test_on_the_inner_host"] == "pass"
    assert results(root)["status"] == {"inner": "pass"}


def test_a_wrong_jump_host_key_is_refused_for_testinfra_too(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    other = _write_key(tmp_path / "other_key", "impostor")
    known = bastion.known_hosts(tmp_path / "known_wrong", jump=other)
    before = known.read_text()
    args = f"-J {bastion.user}@{bastion.jump.address}"
    host = target(bastion.inner, bastion, ansible_ssh_common_args=args)
    root = infra_project(tmp_path, bastion, host, bastion.user, known_hosts=known)
    done = check(root, agent, "where-ti")
    assert done.returncode == 1, done.stdout + done.stderr
    found = results(root)
    assert found["status"] == {"inner": "error"}
    message = found["messages"]["inner"]
    assert f"through jump host {bastion.jump.address}:22 failed" in message, message
    assert "Host key verification failed" in message, message
    assert sub_results(root) == {}
    assert known.read_text() == before


def test_a_become_testinfra_cannot_follow_is_an_error_naming_the_variable(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    args = f"-J {bastion.user}@{bastion.jump.address}"
    become = {"ansible_become": True, "ansible_become_method": "su"}
    host = target(bastion.inner, bastion, ansible_ssh_common_args=args, **become)
    root = infra_project(tmp_path, bastion, host, "root")
    done = check(root, agent, "where-ti")
    assert done.returncode == 1, done.stdout + done.stderr
    message = results(root)["messages"]["inner"]
    assert "host inner: ansible_become_method 'su'" in message, message


PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command: ip -o -4 addr show
      register: where
      changed_when: false
    - ansible.builtin.assert:
        that: ["('inet ' ~ expect_addr ~ '/') in where.stdout"]
"""


def play(root: Path, agent: str) -> subprocess.CompletedProcess[str]:
    (root / "playbooks").mkdir(exist_ok=True)
    (root / "playbooks" / "where.yml").write_text(PLAYBOOK)
    env = {**os.environ, "SSH_AUTH_SOCK": agent}
    return subprocess.run(
        [BUTLER, "-C", str(root), "play", "where"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip


def test_a_playbook_goes_through_the_same_jump_host_with_the_project_known_hosts(
    tmp_path: Path, bastion: Bastion, agent: str
) -> None:
    """OpenSSH checks a ProxyJump hop's key with the ``-F`` file butler-maint writes,
    so the project known_hosts decides on every hop for playbooks too."""
    args = f"-o ProxyJump={bastion.user}@{bastion.jump.address} {PERSIST}"
    python = {"ansible_python_interpreter": "/usr/bin/python3"}
    hosts = {"inner": target(bastion.inner, bastion, ansible_ssh_common_args=args, **python)}
    root = project(tmp_path / "good", bastion, hosts)
    done = play(root, agent)
    assert done.returncode == 0, done.stdout + done.stderr
    other = _write_key(tmp_path / "other_key", "impostor")
    known = bastion.known_hosts(tmp_path / "known_wrong", jump=other)
    root = project(tmp_path / "wrong", bastion, hosts, known_hosts=known)
    refused = play(root, agent)
    assert refused.returncode == 1
    report = EvidenceStore(root / "evidence").load("latest")
    assert report.steps[0].hosts["inner"].unreachable == 1


def test_ssh_args_of_ansible_cfg_naming_an_ssh_config_file(
    tmp_path: Path, bastion: Bastion
) -> None:
    """The common repository layout: ansible.cfg's ``ssh_args = -F ssh.cfg ...``."""
    config = tmp_path / "ssh.cfg"
    config.write_text(
        f"Host 10.*\n  ProxyJump jumpbox\n  User {bastion.user}\n"
        f"  IdentityFile {bastion.client_key}\n"
        f"Host jumpbox\n  HostName {bastion.jump.address}\n  User {bastion.user}\n"
        f"  IdentityFile {bastion.client_key}\n  ProxyJump none\n"
    )
    host = target(bastion.inner, bastion)
    for var in ("ansible_user", "ansible_ssh_private_key_file", "ansible_port"):
        del host[var]
    root = project(tmp_path, bastion, {"inner": host})
    (root / "ansible.cfg").write_text(f"[ssh_connection]\nssh_args = -F {config} {PERSIST}\n")
    done = check(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert results(root)["host_keys"]["inner"].endswith(fingerprint(bastion.inner))


def test_address_family_is_followed(fleet) -> None:  # type: ignore[no-untyped-def]
    """``-4`` reaches the IPv4 loopback; ``-6`` finds no IPv6 address for 127.0.0.1."""
    from butler_maint.executors.route import route
    from butler_maint.executors.ssh import SshOptions, run_ssh
    from butler_maint.inventory import HostInfo

    name = next(iter(fleet.hosts))
    options = SshOptions(fleet.known_hosts, trusted_known_hosts=(), ssh_config=())
    for flag, status in (("-4", "ok"), ("-6", "unreachable")):
        host = HostInfo(name, {**fleet.host_vars(name), "ansible_ssh_common_args": flag})
        done = run_ssh(host, "echo reached", options, route=route(host))
        assert done.status == status, (flag, done.message)
