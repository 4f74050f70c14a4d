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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from butler_maint.inventory import Inventory, UndecryptedSecret, vault_secrets
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
    vault_ids: Sequence[str] = (),
) -> Redactor:
    """A redactor knowing every secret of the run (see the module docstring).

    ``trees`` are searched for vault values (``exclude``: directories skipped, such as
    the evidence store when the playbook sits at the repository root).
    """
    values: list[str] = []
    for host in inventory.all_hosts():
        values += leaves([host.vars[name] for name in host.secret_vars if name in host.vars])
    secrets = _secrets(vault_password_file, vault_ids)
    if secrets:
        values += _passwords(secrets)
        vault = _vault(secrets)
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


def _secrets(password_file: Path | None, vault_ids: Sequence[str]) -> list[tuple[str, Any]]:
    """The run's vault secrets, as the inventory resolves them (ansible.cfg's too)."""
    from ansible.parsing.dataloader import DataLoader

    return vault_secrets(DataLoader(), password_file, vault_ids)


def _passwords(secrets: list[tuple[str, Any]]) -> list[str]:
    """The vault passwords themselves (also those a script printed)."""
    found = []
    for _label, secret in secrets:
        raw = getattr(secret, "bytes", None)
        if isinstance(raw, bytes) and raw.strip():
            found.append(raw.decode("utf-8", "replace").strip())
    return found


def _vault(secrets: list[tuple[str, Any]]) -> Any:
    """ansible's VaultLib holding the run's vault secrets."""
    from ansible.parsing.vault import VaultLib

    return VaultLib(secrets)


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
