"""Options several commands share, defined once so they read and behave the same."""

from __future__ import annotations

from pathlib import Path

import click

inventory_option = click.option(
    "-i",
    "--inventory",
    "inventory_path",
    type=click.Path(exists=True, path_type=Path),
    help="Inventory (default: `inventory` of butler.yaml).",
)
limit_option = click.option(
    "--limit", help="Further limit hosts (Ansible pattern, as ansible-playbook --limit)."
)
operator_option = click.option(
    "--operator", help="Who runs this (default user@host), recorded in the evidence."
)
accept_new_host_keys_option = click.option(
    "--accept-new-host-keys",
    is_flag=True,
    help="Trust unknown SSH host keys and add them to the project known_hosts. "
    "Changed keys are always rejected.",
)
vault_id_option = click.option(
    "--vault-id",
    "vault_ids",
    multiple=True,
    metavar="[LABEL@]FILE",
    help="A vault password file (or script) with its vault id, as ansible's --vault-id; "
    "repeatable. ansible.cfg's vault_identity_list and vault_password_file count too.",
)
vault_password_file_option = click.option(
    "--vault-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Vault password file for vault-encrypted inventory vars and playbooks (default: "
    "`vault_password_file` of butler.yaml); vault values are masked.",
)
