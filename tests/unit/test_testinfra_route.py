"""The ssh_config a testinfra run writes follows the host's route, read back by ``ssh -G``.

Each jump host gets its own ``Host`` block chained by ``ProxyJump`` (its own user, port,
key), the project known_hosts and strict checking apply on every hop, a ProxyCommand is
written as ssh reads it, and become is testinfra's ``--sudo-user`` or an error naming
the host and the variable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from butler_maint.executors import Become
from butler_maint.executors.route import route
from butler_maint.executors.ssh import SshOptions
from butler_maint.executors.testinfra import (
    UnsafeConfigValue,
    UnsupportedBecome,
    become_args,
    ssh_config,
)
from butler_maint.inventory import HostInfo

needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")


def options(tmp_path: Path, **extra: Any) -> SshOptions:
    return SshOptions(
        project_known_hosts=tmp_path / "known hosts", trusted_known_hosts=(), ssh_config=(),
        **extra,
    )  # fmt: skip


def seen(tmp_path: Path, text: str, alias: str) -> dict[str, list[str]]:
    """What ``ssh -G`` makes of ``alias`` in the written config (every value of a key)."""
    config = tmp_path / "ssh_config"
    config.write_text(text)
    done = subprocess.run(
        ["ssh", "-G", "-F", str(config), alias],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key, []).append(value)
    return found


@needs_ssh
def test_each_jump_host_is_a_block_of_its_own_with_its_user_port_and_key(
    tmp_path: Path,
) -> None:
    host = HostInfo(
        "db1",
        {
            "ansible_host": "10.0.2.20",
            "ansible_user": "app",
            "ansible_ssh_private_key_file": "/keys/app",
            "ansible_ssh_common_args": "-J admin@10.0.0.1:2200,10.0.1.1 -o HostKeyAlias=db-one",
        },
    )
    text = ssh_config(host, options(tmp_path), tmp_path, route(host))
    target = seen(tmp_path, text, "butler-target")
    first = seen(tmp_path, text, "butler-hop-0")
    second = seen(tmp_path, text, "butler-hop-1")
    assert (target["hostname"], target["user"], target["port"]) == (["10.0.2.20"], ["app"], ["22"])
    assert target["proxyjump"] == ["butler-hop-1"]
    assert target["identityfile"] == ["/keys/app"]
    assert target["hostkeyalias"] == ["db-one"]
    assert (first["hostname"], first["user"], first["port"]) == (["10.0.0.1"], ["admin"], ["2200"])
    assert "proxyjump" not in first and "proxycommand" not in first
    assert second["hostname"] == ["10.0.1.1"] and second["proxyjump"] == ["butler-hop-0"]
    assert "hostkeyalias" not in first  # the target's -o options are not a jump host's
    for hop in (target, first, second):
        assert hop["userknownhostsfile"] == [str(tmp_path / "known hosts")]
        assert hop["stricthostkeychecking"] == ["true"]
        assert hop["batchmode"] == ["yes"]


@needs_ssh
def test_a_jump_host_keeps_strict_checking_with_accept_new_when_its_config_says_so(
    tmp_path: Path,
) -> None:
    """``--accept-new-host-keys`` is accept-new, unless a hop's StrictHostKeyChecking=yes."""
    user_config = tmp_path / "user_config"
    user_config.write_text("Host 10.0.0.1\n  StrictHostKeyChecking yes\n")
    from butler_maint.executors.sshconfig import read_ssh_config

    host = HostInfo("db1", {"ansible_host": "10.0.2.20", "ansible_ssh_extra_args": "-J 10.0.0.1"})
    chosen = route(host, read_ssh_config([user_config]))
    text = ssh_config(host, options(tmp_path, accept_new=True), tmp_path, chosen)
    assert seen(tmp_path, text, "butler-hop-0")["stricthostkeychecking"] == ["true"]
    assert seen(tmp_path, text, "butler-target")["stricthostkeychecking"] == ["accept-new"]


@needs_ssh
def test_a_proxy_command_is_written_as_ssh_reads_it(tmp_path: Path) -> None:
    host = HostInfo(
        "legacy",
        {
            "ansible_host": "10.0.3.5",
            "ansible_ssh_common_args": '-o ProxyCommand="nc -X connect -x proxy:3128 %h %p"',
        },
    )
    text = ssh_config(host, options(tmp_path), tmp_path, route(host))
    target = seen(tmp_path, text, "butler-target")
    assert target["proxycommand"] == ["nc -X connect -x proxy:3128 10.0.3.5 22"]
    assert "proxyjump" not in target


def test_a_jump_host_value_that_cannot_be_quoted_is_refused(tmp_path: Path) -> None:
    host = HostInfo("db1", {"ansible_host": "10.0.2.20", "ansible_ssh_extra_args": '-J "a\\"b@x"'})
    with pytest.raises(UnsafeConfigValue, match=r"cannot write User .* it contains"):
        ssh_config(host, options(tmp_path), tmp_path, route(host))


def test_become_is_sudo_user_or_an_error_naming_host_and_variable() -> None:
    host = HostInfo("web01", {})
    assert become_args(host, None) == []
    assert become_args(host, Become()) == ["--sudo"]
    assert become_args(host, Become(user="postgres")) == ["--sudo", "--sudo-user=postgres"]
    refused = {
        "ansible_become_method 'su'": Become(method="su"),
        "ansible_become_password": Become(password="secret"),
        "ansible_become_exe '/usr/local/bin/sudo'": Become(exe="/usr/local/bin/sudo"),
        "ansible_become_flags '-H'": Become(flags="-H"),
    }
    for var, become in refused.items():
        with pytest.raises(UnsupportedBecome, match=f"^host web01: {var}: ") as caught:
            become_args(host, become)
        assert "secret" not in str(caught.value)
