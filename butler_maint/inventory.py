"""Ansible inventories, read by ansible-core itself, turned into plain typed hosts.

Parsing (INI, YAML, ranges, directories), variable merging (group_vars/, host_vars/
through the ``host_group_vars`` vars plugin, precedence, vault) and host patterns are
ansible-core's own ``InventoryManager`` and ``VariableManager``: SSH checks see the
same hosts and vars as ansible-playbook does. This module is the boundary: ansible's
tagged/lazy values become plain Python, its warnings are captured rather than
printed, and its failures become :class:`InventoryError`.

ansible is imported lazily inside functions so ``butler-maint --help`` stays fast.

Vault: with a password file, inline ``!vault`` values and vault-encrypted vars files
are decrypted, and the names of the vars holding them are listed in
``HostInfo.secret_vars`` so that callers can redact them. Without one, an inventory
with inline ``!vault`` values still loads: each such value is an
:class:`UndecryptedSecret`, whose ``str()`` raises :class:`InventoryError`. A
vault-encrypted vars *file* cannot be read at all without the password, so loading
fails with an :class:`InventoryError` saying so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import locale
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from butler_maint.errors import InventoryError

# Vars that VariableManager adds for every host but which describe the controller, not
# the host (``groups`` alone is the whole inventory again, for every host).
_CONTROLLER_VARS = frozenset(
    {"ansible_facts", "ansible_config_file", "ansible_playbook_python", "ansible_version"}
    | {"groups", "omit", "playbook_dir"}
)
_TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
_FALSE = frozenset({"no", "off", "0", "false", "n", "f", ""})
_VARS_DIRS = ("group_vars", "host_vars")
_PLUGIN_KEY = re.compile(rb"(?m)^plugin[ \t]*:")
# Vars that reach a command line, an ssh_config or an environment on the controller
# (our executors, testinfra's ssh, ansible's ssh connection) or a shell on the host as
# code, not data: none of them may hold a control character (a newline in an ssh_config
# value starts a new option: ``ProxyCommand`` runs a command here). Argument lists
# (``ARGS_VARS``), split on whitespace by ansible, may hold tabs and newlines (a YAML
# block scalar) but no other control character.
CONNECTION_VARS = (
    *("ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port"),
    *("ansible_user", "ansible_ssh_user", "ansible_connection"),
    *("ansible_ssh_private_key_file", "ansible_private_key_file"),
    *("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args"),
    *("ansible_scp_extra_args", "ansible_sftp_extra_args", "ansible_ssh_executable"),
    *("ansible_control_path", "ansible_control_path_dir", "ansible_ssh_transfer_method"),
    *("ansible_become_user", "ansible_become_method", "ansible_become_exe"),
    *("ansible_become_flags", "ansible_shell_executable", "ansible_python_interpreter"),
)
ARGS_VARS = frozenset(
    {"ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args"}
    | {"ansible_scp_extra_args"}
    | {"ansible_sftp_extra_args", "ansible_become_flags"}
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_NOT_SPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class UndecryptedSecret:
    """A vault-encrypted value that could not be decrypted (no vault password given)."""

    var: str

    def __str__(self) -> str:
        raise InventoryError(
            f"variable '{self.var}' is vault-encrypted and no vault password file was given"
        )


@dataclass(frozen=True)
class HostInfo:
    """One inventory host with its merged vars, as Ansible sees them, as plain Python."""

    name: str
    vars: Mapping[str, Any] = field(hash=False)
    groups: tuple[str, ...] = ()  # Ansible's ``group_names``: sorted, without 'all'
    secret_vars: frozenset[str] = frozenset()

    @property
    def address(self) -> str:
        """The address to connect to: ``ansible_host``, else the inventory name."""
        return self._str("ansible_host", "ansible_ssh_host") or self.name

    @property
    def port(self) -> int:
        """``ansible_port`` as an int (INI and YAML may give a string), default 22."""
        raw = self._get("ansible_port", "ansible_ssh_port")
        if raw is None:
            return 22
        try:
            if isinstance(raw, bool):
                raise ValueError(raw)
            port = int(raw)
        except ValueError:
            raise InventoryError(
                f"host {self.name}: ansible_port {raw!r} is not a number"
            ) from None
        if not 0 < port < 65536:
            raise InventoryError(f"host {self.name}: ansible_port {port} is out of range")
        return port

    @property
    def user(self) -> str | None:
        """``ansible_user``, or None to let the executor choose."""
        return self._str("ansible_user", "ansible_ssh_user")

    @property
    def private_key_file(self) -> str | None:
        """``ansible_ssh_private_key_file`` (or ``ansible_private_key_file``), unexpanded."""
        return self._str("ansible_ssh_private_key_file", "ansible_private_key_file")

    @property
    def connection(self) -> str:
        """``"local"``, ``"ssh"`` (also for ``paramiko``/``smart``) or another plugin name."""
        value = self._str("ansible_connection") or "ssh"
        return "ssh" if value in {"paramiko", "smart", "ansible.builtin.ssh"} else value

    @property
    def become(self) -> bool:
        """``ansible_become`` read the way Ansible reads booleans."""
        raw = self._get("ansible_become")
        if isinstance(raw, bool) or raw is None:
            return bool(raw)
        if str(raw).strip().lower() in _TRUE | _FALSE:
            return str(raw).strip().lower() in _TRUE
        raise InventoryError(f"host {self.name}: ansible_become {raw!r} is not a boolean")

    @property
    def become_user(self) -> str | None:
        """``ansible_become_user``, or None (Ansible then uses root)."""
        return self._str("ansible_become_user")

    def _get(self, *names: str) -> Any:
        return next((self.vars[n] for n in names if self.vars.get(n) is not None), None)

    def _str(self, *names: str) -> str | None:
        value = self._get(*names)
        return None if value is None else str(value)


class Inventory:
    """Hosts and vars of one or more Ansible inventory sources."""

    def __init__(self, sources: tuple[Path, ...], manager: Any, hosts: list[HostInfo]) -> None:
        self._sources = sources
        self._manager = manager  # ansible's InventoryManager, for host patterns
        self._hosts = {h.name: h for h in hosts}

    @classmethod
    def load(
        cls,
        sources: Sequence[Path | str],
        *,
        vault_password_file: Path | None = None,
        vault_ids: Sequence[str] = (),
    ) -> Inventory:
        """Parse ``sources`` with ansible-core; raise InventoryError naming a bad source.

        Vault passwords: see :func:`vault_secrets`."""
        paths = tuple(Path(s) for s in sources)
        if not paths:
            raise InventoryError("no inventory given")
        for path in paths:
            if not path.exists():
                raise InventoryError(f"inventory {path} does not exist")
        _ensure_utf8_locale()
        files = _files(paths)
        if any(_is_plugin_config(f) for f in files):
            _init_collections()
        loader, vault = _loader(vault_password_file, vault_ids)
        manager = _parse(loader, paths)
        encrypted = {str(f.resolve()) for f in files if _is_encrypted(f)}
        plainer = _Plainer(vault, encrypted)
        return cls(paths, manager, _host_infos(loader, manager, plainer))

    @property
    def sources(self) -> tuple[Path, ...]:
        """The inventory sources, as given."""
        return self._sources

    def all_hosts(self) -> list[HostInfo]:
        """Every host, in the order ``ansible --list-hosts all`` gives."""
        return list(self._hosts.values())

    def select(self, pattern: str = "all", limit: str | None = None) -> list[HostInfo]:
        """Hosts matching an Ansible host pattern and ``--limit``, as ansible-playbook does."""
        from ansible.errors import AnsibleError

        try:
            with _captured_warnings():
                self._manager.subset(limit)
                try:
                    found = self._manager.get_hosts(pattern)
                finally:
                    self._manager.subset(None)
        except AnsibleError as ex:
            raise InventoryError(f"host pattern {pattern!r}: {_message(ex)}") from None
        # Ansible invents an implicit 'localhost' when asked for it; we never connect to it.
        hosts = [self._hosts[h.name] for h in found if h.name in self._hosts]
        if not hosts:
            where = ", ".join(str(s) for s in self._sources)
            with_limit = f" with limit {limit!r}" if limit is not None else ""
            raise InventoryError(f"host pattern {pattern!r}{with_limit} matches no host in {where}")
        return hosts

    def matches(self, pattern: str, limit: str | None = None) -> bool:
        """True when ``pattern`` (and ``limit``) select at least one host."""
        try:
            self.select(pattern, limit)
        except InventoryError:
            return False
        return True

    def files(self) -> list[Path]:
        """Every file the inventory is made of: sources and their group_vars/host_vars."""
        return _files(self._sources)

    def sha256(self) -> str:
        """Digest of every inventory file's relative path and content, in a stable order."""
        digest = hashlib.sha256()
        for index, source in enumerate(self._sources):
            base = _base_dir(source.absolute())
            for path in _files((source,)):
                name = f"{index}:{path.relative_to(base).as_posix()}"
                content = path.read_bytes()
                digest.update(f"{name}\0{len(content)}\0".encode())
                digest.update(content)
        return digest.hexdigest()


class _Plainer:
    """Turns ansible's tagged values into plain Python and notes vault-sourced ones."""

    def __init__(self, vault: Any, encrypted_files: set[str]) -> None:
        from ansible.module_utils._internal._datatag import AnsibleTagHelper
        from ansible.parsing.vault import VaultHelper

        self._vault = vault
        self._encrypted_files = encrypted_files  # resolved paths, as in ansible's Origin tags
        self._ciphertext = VaultHelper.get_ciphertext
        self._tags = AnsibleTagHelper.tags
        self.secret = False  # whether the last convert() met a vaulted value

    def convert(self, var: str, value: Any) -> Any:
        """Return ``value`` as plain Python; set ``self.secret`` if vault was involved."""
        self.secret = False
        return self._plain(var, value)

    def _plain(self, var: str, value: Any) -> Any:
        # A value read from a vault-encrypted file is an ordinary value whose Origin tag
        # names that file; an inline !vault value is an EncryptedString (ansible 2.19).
        if self._encrypted_files and self._origin(value) in self._encrypted_files:
            self.secret = True
        if (ciphertext := self._ciphertext(value, with_tags=False)) is not None:
            self.secret = True
            return self._decrypt(var, ciphertext)
        return _plain_scalar(value) if _is_scalar(value) else self._plain_container(var, value)

    def _plain_container(self, var: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {self._plain(var, k): self._plain(var, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._plain(var, v) for v in value]
        raise InventoryError(f"variable '{var}' has a value of unexpected type {type(value)}")

    def _decrypt(self, var: str, ciphertext: str) -> str | UndecryptedSecret:
        from ansible.errors import AnsibleError

        if self._vault is None:
            return UndecryptedSecret(var)
        try:
            return bytes(self._vault.decrypt(ciphertext)).decode("utf-8")
        except AnsibleError as ex:
            raise InventoryError(f"cannot decrypt variable '{var}': {_message(ex)}") from None

    def vault_hint(self) -> str:
        """Why vars may be unreadable: vault-encrypted files and no password file."""
        if self._vault is not None or not self._encrypted_files:
            return ""
        names = ", ".join(sorted(self._encrypted_files))
        return f" (vault-encrypted, and no vault password file was given: {names})"

    def _origin(self, value: Any) -> str | None:
        paths = (getattr(t, "path", None) for t in self._tags(value))
        return next((str(p) for p in paths if p), None)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | dt.date | dt.time)


def _plain_scalar(value: Any) -> Any:
    """Return an untagged copy of a str/int/float/bool/None/date value."""
    if value is None or isinstance(value, bool):
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    for moment in (dt.datetime, dt.date, dt.time):
        if isinstance(value, moment):
            return moment.fromisoformat(value.isoformat())
    raise TypeError(type(value))  # pragma: no cover - _is_scalar lists the same types


def _ensure_utf8_locale() -> None:
    """Ask for a UTF-8 locale before ansible runs.

    ansible-core's command-line tools (the ansible-playbook that ansible-runner starts
    inherits our environment) exit with "Ansible requires the locale encoding to be
    UTF-8" otherwise.
    """
    if locale.getpreferredencoding(False).lower().replace("-", "") != "utf8":
        os.environ["LC_ALL"] = "C.UTF-8"


def vault_secrets(
    loader: Any, password_file: Path | None, vault_ids: Sequence[str] = ()
) -> list[tuple[str, Any]]:
    """The vault secrets ansible-playbook would use, in its order.

    ansible.cfg's ``vault_identity_list`` (or ``ANSIBLE_VAULT_IDENTITY_LIST``), then each
    ``--vault-id [LABEL@]FILE``, then the password file (``--vault-password-file``, else
    butler.yaml's) and ansible.cfg's ``vault_password_file`` (or
    ``ANSIBLE_VAULT_PASSWORD_FILE``) under the default label. A FILE that is executable
    is run and prints the password (ansible's vault client scripts). ``prompt`` is
    refused: nobody answers a prompt in cron."""
    from ansible import constants
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import get_file_vault_secret

    slugs = [*(constants.DEFAULT_VAULT_IDENTITY_LIST or ()), *vault_ids]
    files = [str(password_file)] if password_file is not None else []
    if constants.DEFAULT_VAULT_PASSWORD_FILE:
        files.append(str(constants.DEFAULT_VAULT_PASSWORD_FILE))
    from_files = {f"{constants.DEFAULT_VAULT_IDENTITY}@{f}" for f in files}
    slugs += [f"{constants.DEFAULT_VAULT_IDENTITY}@{f}" for f in files]
    secrets: list[tuple[str, Any]] = []
    for slug in dict.fromkeys(slugs):
        label, at, source = slug.partition("@")
        label, source = (label, source) if at else (constants.DEFAULT_VAULT_IDENTITY, slug)
        if source in {"prompt", "prompt_ask_vault_pass"}:
            raise InventoryError(
                f"vault id {slug!r}: butler-maint does not prompt for vault passwords "
                "(cron cannot answer); give a password file or script: LABEL@FILE"
            )
        try:
            secret = get_file_vault_secret(filename=source, vault_id=label, loader=loader)
            secret.load()
        except AnsibleError as ex:
            what = "vault password file" if slug in from_files else f"vault id {slug}"
            raise InventoryError(f"{what}: {_message(ex)}") from None
        secrets.append((label, secret))
    return secrets


def _loader(vault_password_file: Path | None, vault_ids: Sequence[str]) -> tuple[Any, Any]:
    """Return ansible's DataLoader, with the vault secrets of :func:`vault_secrets`."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib

    loader = DataLoader()
    secrets = vault_secrets(loader, vault_password_file, vault_ids)
    if not secrets:
        return loader, None
    loader.set_vault_secrets(secrets)
    # Our own VaultLib: ansible's EncryptedString decrypts through a process-wide
    # context that can be initialised only once, which would tie a process to one vault.
    return loader, VaultLib(secrets)


def _is_plugin_config(path: Path) -> bool:
    """Whether ``path`` looks like an inventory plugin configuration (a YAML file with
    a top-level ``plugin:`` key), which may name a collection plugin."""
    if path.suffix not in {".yml", ".yaml"}:
        return False
    try:
        return _PLUGIN_KEY.search(path.read_bytes()) is not None
    except OSError:
        return False  # ansible reports the unreadable file itself


def _init_collections() -> None:
    """Let ansible import collection plugins (``plugin: ansible.builtin.constructed``,
    ``amazon.aws.aws_ec2``), as its command-line tools do; once per process. Only for
    inventories with plugin configurations: the collection finder reads ansible's
    routing metadata (~50 ms) before the next ansible import."""
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()


def _parse(loader: Any, paths: tuple[Path, ...]) -> Any:
    """Parse every source with InventoryManager, turning "could not parse" into an error."""
    from ansible import constants
    from ansible.inventory.manager import InventoryManager
    from ansible.utils.vars import combine_vars
    from ansible.vars.plugins import get_vars_from_inventory_sources

    _forget_vars_files()
    sources = [str(p.absolute()) for p in paths]
    manager = InventoryManager(loader, sources=sources, parse=False)
    # By default ansible only warns when no plugin can parse a source, and goes on
    # with fewer hosts; this makes it raise, naming the file (also inside directories).
    saved = constants.INVENTORY_ANY_UNPARSED_IS_FAILED, constants.INVENTORY_ENABLED
    constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True
    constants.INVENTORY_ENABLED = yaml_before_auto(saved[1])
    try:
        for path, source in zip(paths, sources, strict=True):
            _parse_source(manager, path, source)
    finally:
        constants.INVENTORY_ANY_UNPARSED_IS_FAILED, constants.INVENTORY_ENABLED = saved
    # What InventoryManager.parse_sources does once all sources are parsed.
    manager.reconcile_inventory()
    with _captured_warnings():
        for entity in [*manager.groups.values(), *manager.hosts.values()]:
            extra = get_vars_from_inventory_sources(loader, sources, [entity], "inventory")
            entity.vars = combine_vars(entity.vars, extra)
    return manager


def yaml_before_auto(enabled: Sequence[str]) -> list[str]:
    """The enabled inventory plugins, with ``yaml`` tried before ``auto``.

    ``auto`` reads every .yml source only to find no ``plugin:`` key in a plain YAML
    inventory, which ``yaml`` then reads again (each read also deep-copies the parse):
    half of the parsing time of a large inventory. ``yaml`` refuses a file that has a
    ``plugin:`` key, so plugin configuration files still reach ``auto``.
    """
    names = list(enabled)
    short = [name.removeprefix("ansible.builtin.") for name in names]
    if "auto" in short and "yaml" in short and short.index("auto") < short.index("yaml"):
        names.insert(short.index("auto"), names.pop(short.index("yaml")))
    return names


def _forget_vars_files() -> None:
    """Empty host_group_vars' process-wide caches, so each load sees the files as they are.

    The plugin remembers which group_vars/host_vars files exist, and which directories
    do not, for the life of the process: made for one ansible-playbook run, stale for a
    process that loads inventories again after they changed.
    """
    from ansible.plugins.vars import host_group_vars

    for cache in (host_group_vars.CANONICAL_PATHS, host_group_vars.FOUND, host_group_vars.NAK):
        cache.clear()


def _parse_source(manager: Any, path: Path, source: str) -> None:
    """Parse one source; raise InventoryError with the reasons ansible would print."""
    from ansible.errors import AnsibleError

    failure = None
    with _captured_warnings() as warnings:
        try:
            manager.parse_source(source)
        except AnsibleError as ex:
            failure = ex
    if failure is not None:
        reasons = "; ".join(dict.fromkeys(warnings))
        # In a directory, say which file failed ("...failed to parse inventory source F").
        detail = f"{_message(failure)}: " if path.is_dir() or not reasons else ""
        raise InventoryError(f"cannot parse inventory {path}: {detail}{reasons}".rstrip(": "))


def _host_infos(loader: Any, manager: Any, plainer: _Plainer) -> list[HostInfo]:
    """Merge each host's vars with VariableManager (group_vars/host_vars included)."""
    from ansible.errors import AnsibleError
    from ansible.vars.manager import VariableManager

    variables = VariableManager(loader=loader, inventory=manager)
    # Otherwise group_vars/ of the working directory count, as if next to a playbook.
    variables.safe_basedir = False
    hosts = []
    for host in manager.get_hosts("all"):
        try:
            with _captured_warnings():
                merged = variables.get_vars(host=host, include_hostvars=False)
        except AnsibleError as ex:
            hint = plainer.vault_hint()
            raise InventoryError(
                f"cannot read vars of host {host.name}: {_message(ex)}{hint}"
            ) from ex
        info = _host_info(str(host.name), merged, plainer)
        check_connection(info)
        hosts.append(info)
    return hosts


def check_connection(host: HostInfo) -> None:
    """Refuse connection values that could turn into options or commands on the controller.

    Raises InventoryError naming the host, the variable and what was expected. Values
    still vault-encrypted (no password given) are checked when they are read."""
    for name in CONNECTION_VARS:
        value = host.vars.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            _no_control(host, name, str(value))
    if host.vars.get("ansible_connection") != "local":
        var, address = _first(host, "ansible_host", "ansible_ssh_host")
        if not address:
            var, address = "the inventory host name (the address without ansible_host)", host.name
        if isinstance(address, str):
            _no_control(host, var, address)
            _no_dash(host, var, address, "a host name or IP address")
    var, user = _first(host, "ansible_user", "ansible_ssh_user")
    if isinstance(user, str):
        _no_dash(host, var, user, "a user name")
    if not isinstance(_first(host, "ansible_port", "ansible_ssh_port")[1], UndecryptedSecret):
        _ = host.port  # a port that is not a number in range raises here, at load


def _first(host: HostInfo, *names: str) -> tuple[str, Any]:
    """The first of ``names`` set on ``host`` and its value (as ``HostInfo`` reads them)."""
    return next(((n, host.vars[n]) for n in names if host.vars.get(n) is not None), ("", None))


def _no_control(host: HostInfo, var: str, value: str) -> None:
    found = (_CONTROL_NOT_SPACE if var in ARGS_VARS else _CONTROL).search(value)
    if found is None:
        return
    char = found.group()
    what = "a newline" if char in "\r\n" else f"the control character {char!r}"
    raise InventoryError(
        f"host {host.name}: {var} {_shown(host, var, value)} contains {what}: expected a "
        "value without control characters (it reaches ssh options and command lines)"
    )


def _no_dash(host: HostInfo, var: str, value: str, expected: str) -> None:
    if value.startswith("-"):
        raise InventoryError(
            f"host {host.name}: {var} {_shown(host, var, value)} starts with '-': expected "
            f"{expected} (a leading '-' would be read as a command-line option)"
        )


def _shown(host: HostInfo, var: str, value: str) -> str:
    """The value for an error message, unless it came from vault."""
    if var in host.secret_vars:
        return "(vault-encrypted value)"
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _host_info(name: str, merged: Mapping[str, Any], plainer: _Plainer) -> HostInfo:
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in merged.items():
        if key in _CONTROLLER_VARS:
            continue
        values[str(key)] = plainer.convert(str(key), value)
        if plainer.secret:
            secret.add(str(key))
    groups = tuple(str(g) for g in values.get("group_names", ()))
    return HostInfo(name, MappingProxyType(values), groups, frozenset(secret))


@contextlib.contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """Capture what ansible would print as warnings, yielding them as one-line texts."""
    from ansible._internal._display_utils import DeferredWarningContext

    texts: list[str] = []
    with DeferredWarningContext(variables={}) as context:
        try:
            yield texts
        finally:
            texts.extend(_event_text(w.event) for w in context.get_warnings())


def _event_text(event: Any) -> str:
    """One line for an ansible event and the chain of its causes, with where it happened."""
    parts: list[str] = []
    where = ""
    while event is not None:
        line = str(event.msg or "").strip().split("\n")[0].rstrip(".")
        if line and line not in parts:
            parts.append(line)
        context = str(getattr(event, "formatted_source_context", None) or "")
        if not where and context.startswith("Origin: /"):
            where = f" (at {context.split(chr(10), maxsplit=1)[0].removeprefix('Origin: ')})"
        chain = getattr(event, "chain", None)
        event = chain.event if chain is not None else None
    return ": ".join(parts) + where


def _message(ex: Exception) -> str:
    """An ansible exception's message without its traceback or source excerpt."""
    return str(getattr(ex, "message", None) or ex).strip()


def _base_dir(source: Path) -> Path:
    """The directory where ansible looks for group_vars/ and host_vars/ of a source."""
    return source if source.is_dir() else source.parent


def _files(sources: Sequence[Path]) -> list[Path]:
    """The regular files of the sources and of their group_vars/host_vars, sorted."""
    found: set[Path] = set()
    for given in sources:
        source = given.absolute()
        if source.is_file():
            found.add(source)
        trees = [source] if source.is_dir() else []
        trees += [_base_dir(source) / d for d in _VARS_DIRS]
        for tree in trees:
            found.update(p for p in tree.rglob("*") if p.is_file() and not _hidden(p, tree))
    return sorted(found)


def _hidden(path: Path, tree: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(tree).parts)


def _is_encrypted(path: Path) -> bool:
    from ansible.parsing.vault import is_encrypted_file

    with path.open("rb") as handle:
        return bool(is_encrypted_file(handle))
