"""The secrets of a playbook run, gathered before it starts so nothing kept can show them.

Secrets are: the vault-encrypted inventory vars of every host (``HostInfo.secret_vars``);
the vault-encrypted files and inline ``!vault`` values in the playbook's directory tree
and the content repo's ``roles/`` (vars files, playbook-side group_vars/host_vars, role
defaults), decrypted with the run's vault password file; and that password itself.

Each is masked as written and as it appears inside a JSON string (escaped quotes,
newlines, non-ASCII), since job events and ansible's own output print values as JSON;
the lines of a multi-line secret (a key, a certificate) are masked one by one too.
Ansible censors ``no_log`` results itself; those never reach us to be masked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from butler_maint.errors import InventoryError
from butler_maint.inventory import Inventory, UndecryptedSecret
from butler_maint.playbooks.plays import Tagged, load_yaml_text
from butler_maint.redact import Redactor

VAULT_HEADER = b"$ANSIBLE_VAULT;"
MAX_FILES = 5000
MAX_BYTES = 1 << 20
_MIN_LINE = 8  # shorter lines of a multi-line secret would mask ordinary words


def run_redactor(
    inventory: Inventory,
    trees: Iterable[Path],
    vault_password_file: Path | None,
    exclude: Iterable[Path] = (),
) -> Redactor:
    """A redactor knowing every secret of the run (see the module docstring).

    ``trees`` are searched for vault values (``exclude``: directories skipped, such as
    the evidence store when the playbook sits at the repository root).
    """
    values: list[str] = []
    for host in inventory.all_hosts():
        values += leaves([host.vars[name] for name in host.secret_vars if name in host.vars])
    if vault_password_file is not None:
        values += _password(vault_password_file)
        vault = _vault(vault_password_file)
        for path in _files(trees, {p.resolve() for p in exclude}):
            values += _vaulted_values(path, vault)
    redactor = Redactor()
    redactor.add(variant for value in values for variant in variants(value))
    return redactor


def variants(secret: str) -> list[str]:
    """A secret as written, as inside JSON strings, and its long lines."""
    forms = {secret, secret.replace("\n", "\r\n")}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    if "\n" in secret.strip():
        forms |= {line.strip() for line in secret.splitlines() if len(line.strip()) >= _MIN_LINE}
    return sorted(forms)


def leaves(values: Iterable[Any]) -> list[str]:
    """Every scalar inside ``values`` (nested mappings and lists walked), as text."""
    out: list[str] = []
    for value in values:
        if isinstance(value, dict):
            out += leaves(value.values())
        elif isinstance(value, list | tuple):
            out += leaves(value)
        elif isinstance(value, Tagged):
            out += leaves([value.value])
        elif isinstance(value, UndecryptedSecret):
            continue  # without the password nobody can show it, ansible included
        elif value is not None and not isinstance(value, bool):
            out.append(str(value))
    return out


def _password(path: Path) -> list[str]:
    """The vault password, unless the file is a script that prints it."""
    if os.access(path, os.X_OK):
        return []
    try:
        return [path.read_text(encoding="utf-8").strip()]
    except (OSError, UnicodeDecodeError):
        return []


def _vault(password_file: Path) -> Any:
    """ansible's VaultLib holding the password of ``password_file``."""
    from ansible import constants
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib, get_file_vault_secret

    try:
        secret = get_file_vault_secret(filename=str(password_file), loader=DataLoader())
        secret.load()
    except AnsibleError as ex:
        raise InventoryError(f"vault password file: {getattr(ex, 'message', ex)}") from None
    return VaultLib([(constants.DEFAULT_VAULT_IDENTITY, secret)])


def _files(trees: Iterable[Path], exclude: set[Path]) -> Iterator[Path]:
    """Regular, non-hidden files of the trees, at most MAX_FILES of them."""
    count = 0
    for tree in trees:
        if not tree.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(tree):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".") and (Path(dirpath) / d).resolve() not in exclude
            )
            for name in sorted(filenames):
                if count >= MAX_FILES:
                    return
                path = Path(dirpath) / name
                if not name.startswith(".") and path.is_file():
                    count += 1
                    yield path


def _vaulted_values(path: Path, vault: Any) -> list[str]:
    """Decrypted values of a vault-encrypted file, or of the inline ``!vault`` values in it."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    if data.startswith(VAULT_HEADER):
        return _decrypted_document(_decrypt(vault, data))
    if b"!vault" not in data:
        return []
    try:
        document = load_yaml_text(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []
    return [
        text
        for ciphertext in _inline_vaults(document)
        for text in _decrypted_document(_decrypt(vault, ciphertext.encode()))
    ]


def _decrypt(vault: Any, ciphertext: bytes) -> str:
    from ansible.errors import AnsibleError

    try:
        return bytes(vault.decrypt(ciphertext)).decode("utf-8", "replace")
    except AnsibleError:
        return ""  # another vault id's secret: ansible cannot decrypt it either


def _decrypted_document(text: str) -> list[str]:
    """Leaves of a decrypted YAML document, or the whole text when it is not YAML data."""
    if not text.strip():
        return []
    try:
        document = load_yaml_text(text)
    except ValueError:
        document = None
    if isinstance(document, dict | list):
        return leaves([document])
    return [text.strip()]


def _inline_vaults(node: Any) -> Iterator[str]:
    if isinstance(node, Tagged):
        if node.tag == "!vault" and isinstance(node.value, str):
            yield node.value
        return
    if isinstance(node, dict):
        for value in node.values():
            yield from _inline_vaults(value)
    elif isinstance(node, list):
        for value in node:
            yield from _inline_vaults(value)
