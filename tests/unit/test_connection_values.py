"""Inventory values never become options or commands on the controller.

The inventory refuses connection values with control characters (and addresses or users
starting with '-') when it loads; the ssh_config written for testinfra quotes every
value and refuses what cannot be quoted; the ssh arguments given to ansible quote the
known_hosts paths. The written ssh_config is read back by the real ``ssh -G``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.errors import ButlerError, ExitCode, InventoryError
from butler_maint.executors.ssh import SshOptions
from butler_maint.executors.testinfra import UnsafeConfigValue, config_value, ssh_config
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.playbooks.connection import ssh_args

PROXY = "127.0.0.1\n  ProxyCommand sh -c 'touch /tmp/never'"


def inventory(tmp_path: Path, **host_vars: Any) -> Path:
    path = tmp_path / "hosts.yml"
    document = {"all": {"hosts": {"web01": {"ansible_host": "127.0.0.1", **host_vars}}}}
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("ansible_host", PROXY),
        ("ansible_ssh_host", "10.0.0.1\rProxyCommand x"),
        ("ansible_user", "root\n  ProxyCommand sh -c 'touch /tmp/never'"),
        ("ansible_ssh_user", "root\x00"),
        ("ansible_ssh_private_key_file", "/k\n  ProxyCommand sh -c 'touch /tmp/never'"),
        ("ansible_private_key_file", "/k\tx"),
        ("ansible_port", "22\n  ProxyCommand x"),
        ("ansible_become_user", "postgres\nx"),
        ("ansible_connection", "ssh\n"),
        ("ansible_ssh_common_args", "-o Foo=bar\x1b[2J"),
    ],
)
def test_control_characters_in_connection_values_are_refused(
    tmp_path: Path, var: str, value: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        Inventory.load([inventory(tmp_path, **{var: value})])
    message = str(caught.value)
    assert message.startswith(f"host web01: {var} ")
    assert "expected a value without control characters" in message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("ansible_host", "-oProxyCommand=touch /tmp/never", "a host name or IP address"),
        ("ansible_user", "-oProxyCommand=touch /tmp/never", "a user name"),
    ],
)
def test_addresses_and_users_starting_with_a_dash_are_refused(
    tmp_path: Path, var: str, value: str, expected: str
) -> None:
    with pytest.raises(InventoryError, match=f"host web01: {var} .* starts with '-': expected"):
        Inventory.load([inventory(tmp_path, **{var: value})])
    with pytest.raises(InventoryError, match=expected):
        Inventory.load([inventory(tmp_path, **{var: value})])


def test_a_host_name_used_as_address_is_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"-oProxyCommand=x": {}}}}))
    with pytest.raises(InventoryError, match=r"the inventory host name .* starts with '-'"):
        Inventory.load([path])


def test_ordinary_values_still_load(tmp_path: Path) -> None:
    """IPv6 with a zone, templates, argument lists from YAML block scalars, local hosts."""
    path = tmp_path / "hosts.yml"
    hosts = {
        "v6": {"ansible_host": "fe80::1%eth0", "ansible_user": "deploy"},
        "templated": {"ansible_host": "{{ inventory_hostname }}.example.internal"},
        "jumped": {"ansible_ssh_common_args": "-o ProxyJump=bastion\n-o Compression=yes\n"},
        "local": {"ansible_connection": "local"},
    }
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    loaded = {h.name: h for h in Inventory.load([path]).all_hosts()}
    assert loaded["v6"].address == "fe80::1%eth0"
    assert loaded["jumped"].vars["ansible_ssh_common_args"].count("\n") == 2
    assert loaded["local"].connection == "local"


def test_validate_reports_the_host_and_the_var(tmp_path: Path) -> None:
    """The content validator loads every inventory, so it refuses the value too."""
    from butler_maint.validate import validate_repo

    (tmp_path / "inventories").mkdir()
    (tmp_path / "butler.yaml").write_text("inventory: inventories/hosts.yml\n")
    inventory(tmp_path / "inventories", ansible_host=PROXY)
    problems = [str(p) for p in validate_repo(tmp_path).problems]
    assert any(
        "inventories/hosts.yml" in p and "host web01: ansible_host" in p and "newline" in p
        for p in problems
    ), problems


# -- the ssh_config written for testinfra -----------------------------------------------


def options(tmp_path: Path) -> SshOptions:
    return SshOptions(project_known_hosts=tmp_path / "known hosts", trusted_known_hosts=())


@pytest.mark.parametrize(
    "host_vars",
    [
        {"ansible_host": PROXY},
        {"ansible_user": "root\n  ProxyCommand sh -c 'touch /tmp/never'"},
        {"ansible_ssh_private_key_file": "/k\n  ProxyCommand sh -c 'touch /tmp/never'"},
        {"ansible_host": '127.0.0.1" ProxyCommand "x'},
        {"ansible_user": "a\\\\b"},
        {"ansible_ssh_private_key_file": "${HOME}/key"},
        {"ansible_user": "%h"},
    ],
)
def test_ssh_config_refuses_what_it_cannot_quote(tmp_path: Path, host_vars: Any) -> None:
    """Even a HostInfo that never went through the inventory cannot inject an option."""
    host = HostInfo("web01", {"ansible_host": "127.0.0.1", **host_vars})
    with pytest.raises(UnsafeConfigValue, match=r"cannot write .* into an ssh_config: it contains"):
        ssh_config(host, options(tmp_path), tmp_path)


def test_config_value_quotes_and_escapes_tokens() -> None:
    assert config_value("HostName", "fe80::1%eth0") == '"fe80::1%%eth0"'
    assert config_value("User", "svc deploy") == '"svc deploy"'
    with pytest.raises(UnsafeConfigValue, match="empty"):
        config_value("User", "")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
def test_ssh_reads_back_exactly_the_values_written(tmp_path: Path) -> None:
    """Spaces and '%' survive quoting; the fixed options come before any inventory value."""
    work = tmp_path / "control dir"
    work.mkdir()
    host = HostInfo(
        "web01",
        {
            "ansible_host": "fe80::1%lo",
            "ansible_port": 2222,
            "ansible_user": "svc deploy",
            "ansible_ssh_private_key_file": str(tmp_path / "my keys" / "id%1"),
        },
    )
    config = tmp_path / "ssh_config"
    text = ssh_config(host, options(tmp_path), work)
    config.write_text(text)
    lines = text.splitlines()
    assert lines.index("  ProxyCommand none") < lines.index('  HostName "fe80::1%%lo"')
    done = subprocess.run(
        ["ssh", "-G", "-F", str(config), "butler-target"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    seen = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert seen["hostname"] == "fe80::1%lo"
    assert seen["port"] == "2222"
    assert seen["user"] == "svc deploy"
    assert seen["userknownhostsfile"] == str(tmp_path / "known hosts")
    assert seen["identityfile"].replace("%%", "%") == str(tmp_path / "my keys" / "id%1")
    assert seen["controlpath"].startswith(str(work) + "/")
    assert "proxycommand" not in seen


# -- ssh arguments for ansible -----------------------------------------------------------


def test_ssh_args_refuse_a_known_hosts_path_that_would_end_the_value(tmp_path: Path) -> None:
    bad = SshOptions(project_known_hosts=tmp_path / 'k" -oProxyCommand="x', trusted_known_hosts=())
    with pytest.raises(ButlerError, match=r"known_hosts path .* cannot be passed to ssh"):
        ssh_args(bad, None)
    good = SshOptions(project_known_hosts=tmp_path / "with space", trusted_known_hosts=())
    assert f'UserKnownHostsFile="{tmp_path}/with space"' in ssh_args(good, None)


def test_the_ssh_config_of_a_play_sets_host_keys_for_jump_hosts_and_includes_theirs(
    tmp_path: Path,
) -> None:
    """OpenSSH gives a ProxyJump hop ``-F`` but none of the ``-o`` options: the file
    itself carries the project's host-key policy; read back by the real ``ssh -G``."""
    from butler_maint.playbooks.connection import jump_config_text

    theirs = tmp_path / "their config"
    theirs.write_text("Host jumpy\n  HostName 10.9.9.9\n  User hopper\n")
    options = SshOptions(
        project_known_hosts=tmp_path / "known hosts", trusted_known_hosts=(),
        ssh_config=(theirs,),
    )  # fmt: skip
    config = tmp_path / "play_config"
    config.write_text(jump_config_text(options))
    args = ssh_args(options, None, config)
    assert args.startswith(f"-F {config}")
    if shutil.which("ssh") is None:
        pytest.skip("ssh is missing")
    done = subprocess.run(
        ["ssh", "-G", "-F", str(config), "jumpy"], capture_output=True, text=True, check=True
    )
    seen = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert (seen["hostname"], seen["user"]) == ("10.9.9.9", "hopper")
    assert seen["userknownhostsfile"] == str(tmp_path / "known hosts")
    assert seen["globalknownhostsfile"] == "/dev/null"
    assert seen["stricthostkeychecking"] == "true"
