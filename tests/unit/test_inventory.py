"""Inventories are read by ansible-core: hosts, vars, patterns, errors, vault, digests."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from butler_maint.errors import ExitCode, InventoryError
from butler_maint.inventory import HostInfo, Inventory, UndecryptedSecret, yaml_before_auto

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "inventories"
INI = FIXTURES / "ini" / "hosts.ini"
YAML = FIXTURES / "yaml" / "hosts.yml"
WEB = [f"web{i}.example.internal" for i in ("01", "02", "03", "a", "b")]


@pytest.fixture(scope="module")
def ini() -> Inventory:
    return Inventory.load([INI])


@pytest.fixture
def ini_copy(tmp_path: Path) -> Path:
    """A writable copy of the INI fixture with its group_vars/ and host_vars/."""
    shutil.copytree(FIXTURES / "ini", tmp_path / "inv")
    return tmp_path / "inv" / "hosts.ini"


def host(inventory: Inventory, name: str) -> HostInfo:
    return next(h for h in inventory.all_hosts() if h.name == name)


def names(hosts: list[HostInfo]) -> list[str]:
    return [h.name for h in hosts]


# -- parsing ---------------------------------------------------------------------------


def test_ini_hosts_ranges_and_children_groups(ini: Inventory) -> None:
    assert names(ini.all_hosts()) == [
        "localhost",
        "standalone.example.internal",
        *WEB,
        "db01",
        "db02",
    ]
    assert names(ini.select("linux")) == [*WEB, "db01", "db02"]
    assert host(ini, "web02.example.internal").groups == ("linux", "web")
    assert host(ini, "standalone.example.internal").groups == ("control",)


def test_yaml_nested_children_and_range() -> None:
    inventory = Inventory.load([str(YAML)])
    assert names(inventory.all_hosts()) == [
        "app1.example.internal",
        "app2.example.internal",
        "cache01",
    ]
    cache = host(inventory, "cache01")
    assert cache.groups == ("cache", "linux")
    assert (cache.address, cache.user, cache.private_key_file) == (
        "192.0.2.31",
        "redis",
        "~/.ssh/cache_ed25519",
    )
    assert cache.vars["cache_max_mem_pct"] == 70  # group_vars/ next to a YAML inventory
    assert cache.vars["disk_max_pct"] == 85  # all: vars:


def test_group_vars_and_host_vars_next_to_the_inventory_apply(ini: Inventory) -> None:
    web, db01, db02 = (host(ini, n) for n in ("web01.example.internal", "db01", "db02"))
    assert (web.vars["disk_max_pct"], db01.vars["disk_max_pct"]) == (90, 85)  # web.yml wins
    assert web.vars["app_port"] == 8443 and "app_port" not in db01.vars
    assert db01.vars["backup_path"] == "/srv/backup/primary"  # host_vars/ beats group_vars/
    assert db02.vars["backup_path"] == "/srv/backup"  # group_vars/db/main.yml (a directory)
    assert web.vars["ntp_max_skew_s"] == 0.5  # [linux:vars]


def test_group_vars_of_the_working_directory_do_not_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("disk_max_pct: 1\n")
    monkeypatch.chdir(tmp_path)
    assert host(Inventory.load([INI]), "db02").vars["disk_max_pct"] == 85


def test_vars_are_plain_python_and_templates_stay_text(ini: Inventory) -> None:
    db01 = host(ini, "db01")
    assert type(db01.vars["tuning"]) is dict
    assert type(db01.vars["tuning"]["extensions"]) is list
    assert type(db01.vars["tuning"]["extensions"][0]) is str
    assert type(db01.vars["tuning"]["shared_buffers_mb"]) is int
    assert type(db01.vars["ntp_max_skew_s"]) is float
    assert type(db01.vars["backup_checked_on"]) is dt.date
    assert db01.vars["motd"] == "{{ inventory_hostname }} is managed by butler-maint"
    assert db01.vars["group_names"] == ["db", "linux"]
    assert "groups" not in db01.vars and "playbook_dir" not in db01.vars  # controller vars
    with pytest.raises(TypeError):
        db01.vars["x"] = 1  # type: ignore[index]


def test_a_reload_sees_vars_files_added_since(ini_copy: Path) -> None:
    assert "extra" not in host(Inventory.load([ini_copy]), "db02").vars
    (ini_copy.parent / "host_vars" / "db02.yml").write_text("extra: 1\n")
    assert host(Inventory.load([ini_copy]), "db02").vars["extra"] == 1


def test_several_sources_merge() -> None:
    inventory = Inventory.load([INI, YAML])
    assert inventory.sources == (INI, YAML)
    assert names(inventory.select("linux:&cache")) == ["cache01"]
    assert len(inventory.all_hosts()) == 12


# -- connection settings ---------------------------------------------------------------


def test_port_is_an_int_whatever_the_inventory_says(ini: Inventory) -> None:
    assert host(ini, "db01").port == 2201
    assert host(ini, "db02").port == 22
    assert host(ini, "weba.example.internal").port == 2222  # ansible_port="2222" in INI
    app = host(Inventory.load([YAML]), "app1.example.internal")
    assert app.vars["ansible_port"] == "2022" and app.port == 2022  # a string in YAML


@pytest.mark.parametrize("value", ["ssh", True, "70000"])
def test_a_bad_port_is_an_inventory_error(value: object) -> None:
    bad = HostInfo("h1", {"ansible_port": value})
    with pytest.raises(InventoryError, match="host h1: ansible_port"):
        _ = bad.port


def test_connection_and_become(ini: Inventory) -> None:
    local, web = host(ini, "localhost"), host(ini, "web01.example.internal")
    assert (local.connection, local.become, local.become_user) == ("local", True, "postgres")
    assert (web.connection, web.become, web.become_user) == ("ssh", False, None)
    assert (web.address, web.user) == ("web01.example.internal", "maint")
    assert HostInfo("h", {"ansible_connection": "paramiko"}).connection == "ssh"
    assert HostInfo("h", {"ansible_become": "False"}).become is False
    with pytest.raises(InventoryError, match="ansible_become 'maybe'"):
        _ = HostInfo("h", {"ansible_become": "maybe"}).become


# -- host patterns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "limit", "expected"),
    [
        ("all", None, ["localhost", "standalone.example.internal", *WEB, "db01", "db02"]),
        ("db:control", None, ["db01", "db02", "localhost", "standalone.example.internal"]),
        ("db,web01.example.internal", None, ["db01", "db02", "web01.example.internal"]),
        ("linux:&db", None, ["db01", "db02"]),
        ("linux:!web", None, ["db01", "db02"]),
        ("web*.example.internal:!web0*", None, WEB[3:]),
        ("~web0[12]\\.example", None, WEB[:2]),
        ("web[0:1]", None, WEB[:2]),
        ("web[-1]", None, WEB[-1:]),
        ("db0[1:2]", None, []),  # a subscript applies to a group or host name, not a range
        ("linux", "db*", ["db01", "db02"]),
        ("linux", "all:!web", ["db01", "db02"]),
        ("all", "web:&control", []),
        ("web:nothing", None, WEB),  # Ansible ignores the part that matches nothing
    ],
)
def test_patterns_follow_ansible(
    ini: Inventory, pattern: str, limit: str | None, expected: list[str]
) -> None:
    if expected:
        assert names(ini.select(pattern, limit)) == expected
        assert ini.matches(pattern, limit)
    else:
        with pytest.raises(InventoryError):
            ini.select(pattern, limit)
        assert not ini.matches(pattern, limit)


def test_a_limit_does_not_stick(ini: Inventory) -> None:
    assert names(ini.select("db", "db01")) == ["db01"]
    assert names(ini.select("db")) == ["db01", "db02"]


def test_limit_from_a_file(ini: Inventory, tmp_path: Path) -> None:
    (tmp_path / "retry").write_text("db02\nweb01.example.internal\n")
    assert names(ini.select("linux", f"@{tmp_path / 'retry'}")) == [
        "web01.example.internal",
        "db02",
    ]
    with pytest.raises(InventoryError, match="Unable to find limit file"):
        ini.select("all", f"@{tmp_path / 'missing'}")


def test_a_pattern_matching_no_host_is_a_clear_error(ini: Inventory) -> None:
    with pytest.raises(InventoryError) as caught:
        ini.select("xyz")
    assert str(caught.value) == f"host pattern 'xyz' matches no host in {INI}"
    assert caught.value.exit_code == ExitCode.USAGE
    with pytest.raises(InventoryError, match=r"'web' with limit 'db\*' matches no host in "):
        ini.select("web", "db*")


def test_implicit_localhost_is_never_selected() -> None:
    inventory = Inventory.load([YAML])
    with pytest.raises(InventoryError, match="'localhost' matches no host"):
        inventory.select("localhost")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("pattern", "limit"),
    [("db:web:&linux:!web0[2]", "all:!db02"), ("~^(web|db)0[13]", None), ("all", "db*:control")],
)
def test_selection_equals_ansible_list_hosts(ini: Inventory, pattern: str, limit: str) -> None:
    command = [str(Path(sys.executable).parent / "ansible"), "-i", str(INI), pattern]
    command += ["--list-hosts", *(["--limit", limit] if limit else [])]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert names(ini.select(pattern, limit)) == [line.strip() for line in listed.splitlines()[1:]]


# -- errors ----------------------------------------------------------------------------


def test_a_missing_inventory_is_named() -> None:
    with pytest.raises(InventoryError, match=r"inventory .*nope\.ini does not exist"):
        Inventory.load([INI, FIXTURES / "nope.ini"])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("bad.yml", r"'yaml' plugin: YAML parsing failed: .* \(at .*bad\.yml:\d+:\d+\)"),
        ("bad.ini", r"'ini' plugin: Failed to parse inventory: "),
        (".", r"failed to parse inventory source .*bad\.(ini|yml)"),  # a directory
    ],
)
def test_an_unparseable_inventory_is_an_error_naming_it(
    source: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "broken" / source
    with pytest.raises(InventoryError, match=f"cannot parse inventory {path}: .*{reason}"):
        Inventory.load([path])
    assert capsys.readouterr() == ("", "")  # ansible's own warnings were not printed


def test_plugin_configuration_files_still_reach_the_auto_plugin(tmp_path: Path) -> None:
    """``yaml`` is tried first and refuses a ``plugin:`` file, which ``auto`` then runs."""
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "01-hosts.yml").write_text(
        "all:\n  hosts:\n    a1: {role: web}\n    a2: {role: db}\n    a3: {role: web}\n"
    )
    (inv / "02-constructed.yml").write_text(
        "plugin: ansible.builtin.constructed\nstrict: true\nkeyed_groups:\n"
        "  - key: role\n    prefix: role\n"
    )
    inventory = Inventory.load([inv])
    assert names(inventory.select("role_web")) == ["a1", "a3"]
    assert host(inventory, "a2").groups == ("role_db",)


def test_collections_are_set_up_only_for_plugin_configurations(tmp_path: Path) -> None:
    """Setting them up costs start-up; a plain inventory does without (own process)."""
    code = textwrap.dedent(
        """
        import sys
        from butler_maint.inventory import Inventory
        from ansible.utils.collection_loader import AnsibleCollectionConfig as C
        Inventory.load([sys.argv[1]])
        print(C.collection_finder is not None)
        """
    )
    plugin = tmp_path / "constructed.yml"
    plugin.write_text("plugin: ansible.builtin.constructed\n")
    seen = [
        subprocess.run(
            [sys.executable, "-c", code, str(source)],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()
        for source in (YAML, INI, plugin)
    ]  # fmt: skip
    assert seen == ["False", "False", "True"]


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [
        (
            ["host_list", "script", "auto", "yaml", "ini", "toml"],
            ["host_list", "script", "yaml", "auto", "ini", "toml"],
        ),
        (
            ["ansible.builtin.auto", "ansible.builtin.yaml"],
            ["ansible.builtin.yaml", "ansible.builtin.auto"],
        ),
        (["yaml", "auto"], ["yaml", "auto"]),
        (["auto", "ini"], ["auto", "ini"]),
        (["ini"], ["ini"]),
    ],
)
def test_yaml_is_tried_before_auto(enabled: list[str], expected: list[str]) -> None:
    assert yaml_before_auto(enabled) == expected


def test_a_bad_vars_file_is_an_error(ini_copy: Path) -> None:
    (ini_copy.parent / "host_vars" / "db02.yml").write_text("a: [\n")
    with pytest.raises(InventoryError, match="cannot read vars of host db02: "):
        Inventory.load([ini_copy])


def test_ansible_warnings_are_not_printed(
    ini_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ini_copy.parent / "host_vars" / "db02.yml").write_text("when: reserved\n")
    assert host(Inventory.load([ini_copy]), "db02").vars["when"] == "reserved"
    assert capsys.readouterr() == ("", "")


# -- provenance ------------------------------------------------------------------------


def test_files_are_the_inventory_and_its_vars_files(ini: Inventory) -> None:
    relative = [p.relative_to(FIXTURES / "ini").as_posix() for p in ini.files()]
    assert relative == [
        "group_vars/all.yml",
        "group_vars/db/main.yml",
        "group_vars/web.yml",
        "host_vars/db01.yml",
        "hosts.ini",
    ]


def test_sha256_is_stable_and_follows_every_file(ini_copy: Path, tmp_path: Path) -> None:
    digest = Inventory.load([INI]).sha256()
    assert len(digest) == 64 and Inventory.load([ini_copy]).sha256() == digest  # elsewhere
    (ini_copy.parent / "group_vars" / "web.yml").write_text("app_port: 8444\n")
    changed = Inventory.load([ini_copy]).sha256()
    assert changed != digest
    (ini_copy.parent / "group_vars" / "web.yml").rename(ini_copy.parent / "group_vars" / "w.yml")
    assert Inventory.load([ini_copy]).sha256() not in {digest, changed}  # names count too


# -- vault -----------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


def encrypt(plaintext: str, password: str = PASSWORD) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(password.encode())
    return str(VaultLib([("default", secret)]).encrypt(plaintext, secret).decode())


@pytest.fixture
def vaulted(ini_copy: Path) -> Path:
    """db01 has an inline !vault var; the db group a vault-encrypted vars file."""
    ciphertext = textwrap.indent(encrypt("hunter2"), "  ")
    with (ini_copy.parent / "host_vars" / "db01.yml").open("a") as handle:
        handle.write(f"db_password: !vault |\n{ciphertext}\n")
    vault_file = ini_copy.parent / "group_vars" / "db" / "vault.yml"
    vault_file.write_text(encrypt("db_admin_password: topsecret\nreplication_port: 5433\n"))
    (ini_copy.parent / "vault-pass").write_text(PASSWORD + "\n")
    return ini_copy


def test_vault_values_decrypt_and_are_named_secret(vaulted: Path) -> None:
    inventory = Inventory.load([vaulted], vault_password_file=vaulted.parent / "vault-pass")
    db01, db02 = host(inventory, "db01"), host(inventory, "db02")
    assert db01.vars["db_password"] == "hunter2" and type(db01.vars["db_password"]) is str
    assert db01.vars["db_admin_password"] == "topsecret"
    assert db01.vars["replication_port"] == 5433
    assert db01.secret_vars == {"db_password", "db_admin_password", "replication_port"}
    assert db02.secret_vars == {"db_admin_password", "replication_port"}
    assert host(inventory, "web01.example.internal").secret_vars == set()


def test_without_a_password_inline_vault_values_load_but_cannot_be_read(ini_copy: Path) -> None:
    ciphertext = textwrap.indent(encrypt("hunter2"), "  ")
    with (ini_copy.parent / "host_vars" / "db01.yml").open("a") as handle:
        handle.write(f"db_password: !vault |\n{ciphertext}\n")
    db01 = host(Inventory.load([ini_copy]), "db01")
    assert db01.vars["db_password"] == UndecryptedSecret("db_password")
    assert db01.secret_vars == {"db_password"}
    with pytest.raises(InventoryError, match="'db_password' is vault-encrypted and no vault"):
        str(db01.vars["db_password"])


def test_without_a_password_an_encrypted_vars_file_is_an_error(vaulted: Path) -> None:
    with pytest.raises(InventoryError, match=r"db01: .*vault password.*group_vars/db/vault\.yml"):
        Inventory.load([vaulted])


def test_a_wrong_vault_password_is_an_error(vaulted: Path, tmp_path: Path) -> None:
    (tmp_path / "wrong").write_text("wrong\n")
    with pytest.raises(InventoryError, match="db01"):
        Inventory.load([vaulted], vault_password_file=tmp_path / "wrong")
    with pytest.raises(InventoryError, match=r"vault password file: .*not found"):
        Inventory.load([vaulted], vault_password_file=tmp_path / "missing")


# -- the repository's own inventories --------------------------------------------------


def test_local_inventory_is_localhost_without_ssh() -> None:
    (local,) = Inventory.load([ROOT / "inventories" / "local.yml"]).select("linux")
    assert (local.name, local.connection) == ("localhost", "local")
    assert local.groups == ("linux", "local")


@pytest.mark.parametrize("source", ["hosts.ini", "."])
def test_example_inventory_loads(source: str) -> None:
    inventory = Inventory.load([ROOT / "inventories" / "example" / source])
    assert len(inventory.select("web")) == 4
    assert inventory.select("db") and inventory.matches("linux:!web")
    for each in inventory.all_hosts():
        assert {"disk_max_pct", "ntp_max_skew_s"} <= set(each.vars)
        assert each.connection == "ssh" and each.address.startswith(("192.0.2.", "web"))
    assert {h.vars["app_port"] for h in inventory.select("web")} == {8443}
