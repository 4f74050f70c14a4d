"""``-e`` values, checked before the run and turned into ansible-playbook arguments.

Accepted as ansible-playbook accepts them: ``key=value`` pairs (shell-style quoting
inside, ``k="a b"``), a YAML/JSON mapping (``{"k": 1}``), or ``@file`` (YAML/JSON, may be
vault-encrypted), relative to the current directory. A bad value is a ContentError
(exit 2) before anything runs, not a failed run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from butler_maint.errors import ContentError, Location
from butler_maint.playbooks.plays import load_yaml_text
from butler_maint.playbooks.secrets import VAULT_HEADER


def extra_vars_args(values: Sequence[str], cwd: Path) -> tuple[list[str], list[Path]]:
    """``-e`` arguments for ansible-playbook and the files they name."""
    args: list[str] = []
    files: list[Path] = []
    for value in values:
        if value.startswith("@"):
            path = _vars_file(value[1:], cwd)
            files.append(path)
            args += ["-e", f"@{path}"]
        else:
            _check_inline(value)
            args += ["-e", value]
    return args, files


def _vars_file(name: str, cwd: Path) -> Path:
    path = (cwd / Path(name).expanduser()).absolute()
    where = Location(f"-e @{name}")
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise ContentError.at(where, f"cannot read extra vars file: {ex.strerror}") from None
    if data.startswith(VAULT_HEADER):
        return path  # ansible decrypts it with the vault password
    try:
        document = load_yaml_text(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as ex:
        raise ContentError.at(where, f"not valid YAML: {ex}") from None
    if not isinstance(document, dict):
        raise ContentError.at(where, "extra vars must be a mapping of names to values")
    return path


def _check_inline(value: str) -> None:
    where = Location(f"-e {value!r}")
    text = value.strip()
    if text.startswith(("{", "[")):
        try:
            document = load_yaml_text(text)
        except ValueError as ex:
            raise ContentError.at(where, f"not valid YAML/JSON: {ex}") from None
        if not isinstance(document, dict):
            raise ContentError.at(where, "extra vars must be a mapping of names to values")
        return
    from ansible.errors import AnsibleError
    from ansible.parsing.splitter import parse_kv

    try:
        pairs = parse_kv(text)
    except AnsibleError as ex:
        raise ContentError.at(where, str(getattr(ex, "message", ex))) from None
    if not pairs or "_raw_params" in pairs:
        raise ContentError.at(where, "expected key=value pairs, {mapping} or @file")
    bad = [k for k in pairs if not str(k).isidentifier()]
    if bad:
        raise ContentError.at(where, f"not a variable name: {bad[0]!r}")
