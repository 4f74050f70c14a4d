"""The connection plan of a host: inventory vars, ssh args and ssh_config, as OpenSSH
would combine them for ansible-playbook; what cannot be honoured is an error naming the
host and the variable."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pytest

from butler_maint.errors import ExitCode
from butler_maint.executors import Become, become_shell, kill_group_command, stdin_prefix
from butler_maint.executors._paramiko import paramiko
from butler_maint.executors.route import Hop, Route, RouteError, parse_args, route
from butler_maint.executors.sshconfig import Routes, read_ssh_config
from butler_maint.inventory import HostInfo

CONFIG = """\
Host bastion
    HostName 10.9.0.1
    User jumper
    Port 2201
    IdentityFile ~/.ssh/bastion_key

Host inner
    HostName 10.9.1.1
    ProxyJump bastion

Host db-*
    ProxyJump bastion
    User dbadmin
    UserKnownHostsFile /srv/known_db

Host *.via-command
    ProxyCommand ssh -W %h:%p -q gate@10.9.0.1
"""


def host(name: str = "web01", **values: Any) -> HostInfo:
    return HostInfo(name, values)


def config(text: str = CONFIG) -> paramiko.SSHConfig:
    return paramiko.SSHConfig.from_text(text)


def test_a_plain_host_is_reached_directly_with_its_inventory_values() -> None:
    found = route(
        host(
            ansible_host="192.0.2.5",
            ansible_port="2222",
            ansible_user="ops",
            ansible_ssh_private_key_file="/keys/ops",
        )
    )
    assert found.direct
    assert found.target == Hop(
        name="192.0.2.5", address="192.0.2.5", port=2222, user="ops", identity_files=("/keys/ops",)
    )
    assert found.target.key_name == "[192.0.2.5]:2222"
    assert found.become is None and found.password is None


def test_proxyjump_in_common_args_with_user_and_port() -> None:
    found = route(
        host(ansible_host="10.0.0.7", ansible_ssh_common_args="-o ProxyJump=jump@192.0.2.1:2022")
    )
    jump, target = found.hops
    assert (jump.address, jump.port, jump.user) == ("192.0.2.1", 2022, "jump")
    assert (target.address, target.port) == ("10.0.0.7", 22)
    assert not found.direct


def test_dash_j_with_two_hops_in_order() -> None:
    found = route(host(ansible_host="10.0.0.7", ansible_ssh_extra_args="-J a@h1,h2:2200"))
    assert [(h.user, h.address, h.port) for h in found.hops] == [
        ("a", "h1", 22),
        (None, "h2", 2200),
        (None, "10.0.0.7", 22),
    ]


def test_k3s_style_proxycommand_is_quoted_and_expanded() -> None:
    args = '-o ProxyCommand="ssh -W %h:%p -q admin@bastion.example" -o ControlMaster=auto'
    found = route(host("master1", ansible_host="10.1.0.10", ansible_ssh_common_args=args))
    assert found.proxy_command == "ssh -W 10.1.0.10:22 -q admin@bastion.example"
    assert found.hops == (found.target,)


def test_inventory_values_win_over_args_and_args_over_ssh_config() -> None:
    found = route(
        host(
            "db-1",
            ansible_port=2300,
            ansible_ssh_common_args="-p 2400 -o User=fromargs",
        ),
        config(),
    )
    assert (found.target.port, found.target.user) == (2300, "fromargs")
    assert found.target.known_hosts == ("/srv/known_db",)
    jump = found.hops[0]
    assert (jump.address, jump.port, jump.user) == ("10.9.0.1", 2201, "jumper")
    assert jump.identity_files == (str(Path("~/.ssh/bastion_key").expanduser()),)


def test_ssh_config_hostname_and_a_jump_hosts_own_proxyjump_make_two_hops() -> None:
    text = CONFIG + "\nHost target\n    HostName 10.9.2.2\n    ProxyJump inner\n"
    found = route(host("t", ansible_host="target"), config(text))
    assert [h.address for h in found.hops] == ["10.9.0.1", "10.9.1.1", "10.9.2.2"]
    assert found.target.name == "target"


def test_a_proxyjump_loop_in_ssh_config_ends() -> None:
    text = "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost t\n  ProxyJump a\n"
    found = route(host("t"), config(text))
    assert [h.address for h in found.hops][-1] == "t"
    assert len(found.hops) <= 4


def test_proxycommand_from_ssh_config_uses_the_winning_port() -> None:
    found = route(host("app.via-command", ansible_port=2022), config())
    assert found.proxy_command == "ssh -W app.via-command:2022 -q gate@10.9.0.1"


def test_whichever_of_proxyjump_and_proxycommand_comes_first_wins() -> None:
    first_jump = "-J j1 -o ProxyCommand='nc %h %p'"
    found = route(host(ansible_ssh_common_args=first_jump))
    assert found.proxy_command is None and len(found.hops) == 2
    first_command = "-o ProxyCommand='nc %h %p' -J j1"
    found = route(host(ansible_ssh_common_args=first_command))
    assert found.proxy_command == "nc web01 22" and len(found.hops) == 1


def test_plumbing_options_are_accepted() -> None:
    args = (
        "-C -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/tmp/cp-%h "
        "-o ServerAliveInterval=30 -o Compression=yes -o ForwardAgent=yes -q"
    )
    assert route(host(ansible_ssh_common_args=args)).direct


@pytest.mark.parametrize(
    ("var", "args", "named"),
    [
        ("ansible_ssh_common_args", "-o BindAddress=10.0.0.1", "bindaddress"),
        ("ansible_ssh_extra_args", "-b 10.0.0.1", "BindAddress"),
        ("ansible_ssh_common_args", "-o KnownHostsCommand=/bin/true", "knownhostscommand"),
        ("ansible_ssh_common_args", "-o VerifyHostKeyDNS=yes", "verifyhostkeydns"),
        ("ansible_ssh_common_args", "-o CertificateFile=~/.ssh/c.pub", "certificatefile"),
        ("ansible_ssh_common_args", "-o CanonicalizeHostname=yes", "canonicalizehostname"),
        ("ansible_ssh_common_args", "-o IdentityAgent=/run/other.sock", "IdentityAgent"),
        ("ansible_ssh_common_args", "-o NoSuchOption=1", "nosuchoption"),
        ("ansible_ssh_common_args", "-o AddressFamily=ipx", "addressfamily ipx"),
        ("ansible_ssh_extra_args", "-Z", "-Z"),
        ("ansible_ssh_common_args", "bastion", "not an ssh option"),
    ],
)
def test_an_unhonourable_option_names_the_host_and_the_variable(
    var: str, args: str, named: str
) -> None:
    with pytest.raises(RouteError) as caught:
        route(host("web07", **{var: args}))
    message = str(caught.value)
    assert message.startswith(f"host web07: {var}: ")
    assert named in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_an_unhonourable_option_in_ssh_config_names_the_file() -> None:
    with pytest.raises(RouteError, match=r"^host web01: ssh_config: .*bindaddress"):
        route(host(), config("Host web*\n  BindAddress 10.0.0.2\n"))


def test_weakening_host_key_checking_is_not_applied() -> None:
    args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    target = route(host(ansible_ssh_common_args=args)).target
    assert target.strict is False and target.known_hosts == ("/dev/null",)
    stricter = route(host(ansible_ssh_common_args="-o StrictHostKeyChecking=yes")).target
    assert stricter.strict is True


def test_host_key_alias_names_the_known_hosts_entry() -> None:
    target = route(host(ansible_port=2222, ansible_ssh_common_args="-o HostKeyAlias=web")).target
    assert target.key_name == "web"


def test_tokens_expand_with_the_final_values() -> None:
    args = "-o IdentityFile=/keys/%r@%h -o ProxyCommand='connect %%h %h:%p'"
    found = route(host(ansible_host="10.2.0.1", ansible_user="ops", ansible_ssh_common_args=args))
    assert found.target.identity_files == ("/keys/ops@10.2.0.1",)
    assert found.proxy_command == "connect %h 10.2.0.1:22"
    default_user = route(host(ansible_ssh_common_args="-o ProxyCommand='x %r'")).proxy_command
    assert default_user == f"x {getpass.getuser()}"


@pytest.mark.parametrize("spec", ["@h", "-oProxyCommand=x", "u@", "u@:22"])
def test_a_malformed_jump_spec_is_refused(spec: str) -> None:
    with pytest.raises(RouteError, match="expected \\[user@\\]host\\[:port\\]"):
        route(host(ansible_ssh_common_args=f"-o ProxyJump={spec}"))


def test_bad_port_in_args_is_refused() -> None:
    with pytest.raises(RouteError, match="ansible_ssh_common_args: port 'x'"):
        route(host(ansible_ssh_common_args="-p x"))


def test_other_connection_plugins_are_refused() -> None:
    with pytest.raises(RouteError, match="ansible_connection 'docker'"):
        route(host(ansible_connection="docker"))
    assert route(host(ansible_connection="paramiko")).direct


def test_parse_args_keeps_quoted_values_whole() -> None:
    options = parse_args("h", "v", "-o 'ProxyCommand ssh -W %h:%p gw' -oPort=2 -l me")
    assert [(o.key, o.value) for o in options] == [
        ("proxycommand", "ssh -W %h:%p gw"),
        ("port", "2"),
        ("user", "me"),
    ]


def test_dash_f_reads_that_file_instead(tmp_path: Path) -> None:
    file = tmp_path / "cfg"
    file.write_text("Host web01\n  HostName 10.3.0.3\n  Port 2203\n")
    routes = Routes(())
    found = routes(host(ansible_ssh_common_args=f"-F {file}"))
    assert (found.target.address, found.target.port) == ("10.3.0.3", 2203)
    with pytest.raises(RouteError, match="-F"):
        route(host(ansible_ssh_common_args=f"-F {file}"))


def test_read_ssh_config_follows_include_and_keeps_files_apart(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-jump.conf").write_text("Host app\n  ProxyJump gw\n")
    main = tmp_path / "config"
    main.write_text(f"Include {tmp_path}/conf.d/*.conf\nHost app\n  User appuser\n")
    second = tmp_path / "second"
    second.write_text("Port 2999\n")
    parsed = read_ssh_config([main, second])
    assert parsed is not None
    found = route(host("app"), parsed)
    assert [h.address for h in found.hops] == ["gw", "app"]
    assert (found.target.user, found.target.port) == ("appuser", 2999)
    assert read_ssh_config([tmp_path / "missing"]) is None


def test_become_with_user_method_and_vault_password() -> None:
    found = route(
        host(ansible_become=True, ansible_become_user="postgres", ansible_become_password="s3")
    )
    assert found.become == Become("sudo", "postgres", "s3")
    assert "s3" not in repr(found)
    with pytest.raises(RouteError, match="ansible_become_method 'pbrun'"):
        route(host(ansible_become=True, ansible_become_method="pbrun"))
    with pytest.raises(RouteError, match="become password with ansible_become_method su"):
        route(host(ansible_become="yes", ansible_become_method="su", ansible_become_pass="x"))


def test_become_shell_commands() -> None:
    assert become_shell(None) == "sh -s"
    assert become_shell(True) == "sudo -n sh -s"
    assert become_shell(Become(user="app user")) == "sudo -n -u 'app user' sh -s"
    assert become_shell(Become("doas", "www")) == "doas -n -u www sh -s"
    assert become_shell(Become("su", "pg", flags="-l")) == "su -l pg -c 'sh -s'"
    with_password = become_shell(Become(user="pg", password="pw"))
    assert "pw" not in with_password and "sudo -S" in with_password
    assert stdin_prefix(Become(password="pw")) == b"pw\n"
    assert stdin_prefix(Become()) == b""
    assert kill_group_command(7, Become("doas")).startswith("doas -n kill -KILL -- -7")
    assert kill_group_command(7, Become("su")) == "kill -KILL -- -7"


def test_route_is_a_plain_value() -> None:
    one = Route((Hop("a", "a"),))
    assert one.direct and one.target.shown == "a:22"


def test_a_local_host_has_only_its_become() -> None:
    found = route(
        host(ansible_connection="local", ansible_ssh_common_args="-o Bogus=1",
             ansible_become=True, ansible_become_user="pg")
    )  # fmt: skip
    assert found.direct and found.become == Become("sudo", "pg")


def test_ansible_cfg_ssh_args_come_first_unless_the_host_replaces_them() -> None:
    cfg = ("ssh_args in ansible.cfg", "-o ProxyJump=gate -o User=cfguser")
    found = route(host(ansible_user="ops"), None, None, cfg)
    assert [h.address for h in found.hops] == ["gate", "web01"]
    assert found.target.user == "cfguser"  # first on ssh's command line, as in Ansible
    replaced = route(host(ansible_ssh_args="-C"), None, None, cfg)
    assert replaced.direct
    with pytest.raises(RouteError, match=r"^host web01: ssh_args in ansible\.cfg: .*bindaddress"):
        route(host(), None, None, ("ssh_args in ansible.cfg", "-o BindAddress=1.2.3.4"))


def test_address_family_and_option_values_with_spaces_and_equals() -> None:
    import socket

    found = route(host(ansible_ssh_common_args="-4 -o 'ProxyCommand ssh -o Foo=bar -W %h:%p gw'"))
    assert found.target.family == socket.AF_INET
    assert found.proxy_command == "ssh -o Foo=bar -W web01:22 gw"
    from_config = route(host(), config("Host web01\n  AddressFamily inet6\n"))
    assert from_config.target.family == socket.AF_INET6


def test_match_exec_in_ssh_config_is_an_error_naming_it() -> None:
    text = 'Match exec "test -e /nonexistent"\n  User x\n'
    with pytest.raises(RouteError, match="Match exec"):
        route(host(), config(text))
