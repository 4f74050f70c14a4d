"""What every command receives: the content repository and its configuration."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import click

from butler_maint.model.config import ProjectConfig, load_config

if TYPE_CHECKING:
    from butler_maint.evidence import WrittenReport
    from butler_maint.evidence.sshsig import SigningKey
    from butler_maint.evidence.trust import TrustPolicy
    from butler_maint.inventory import Inventory
    from butler_maint.runs.request import Target

_MARKERS = ("butler.yaml", "checklists", "schedules")


@dataclass
class App:
    """The content repository a command works on (passed, never global)."""

    root: Path
    _config: ProjectConfig | None = field(default=None, repr=False)

    @classmethod
    def locate(cls, project_dir: str | None) -> App:
        """Use ``project_dir``, else the nearest parent holding a marker, else cwd."""
        if project_dir:
            return cls(Path(project_dir).resolve())
        cwd = Path.cwd().resolve()
        for candidate in (cwd, *cwd.parents):
            if any((candidate / marker).exists() for marker in _MARKERS):
                return cls(candidate)
        return cls(cwd)

    @cached_property
    def config(self) -> ProjectConfig:
        """The project configuration (``butler.yaml``; defaults when absent)."""
        return load_config(self.root)

    def path(self, relative: str | Path) -> Path:
        """Resolve a path from the configuration against the repository root."""
        return self.root / relative

    def vault(self, given: Path | None) -> Path | None:
        """The vault password file: ``--vault-password-file``, else ``butler.yaml``'s."""
        configured = self.config.vault_password_file
        return given or (self.path(configured) if configured else None)

    def inventory(
        self,
        given: Path | None,
        vault_password_file: Path | None = None,
        vault_ids: tuple[str, ...] = (),
    ) -> Inventory:
        """The inventory given with ``-i``, else the configured one, parsed by ansible-core."""
        from butler_maint.inventory import Inventory  # ansible: imported when needed

        return Inventory.load(
            [given or self.path(self.config.inventory)],
            vault_password_file=self.vault(vault_password_file),
            vault_ids=vault_ids,
        )

    def target(
        self,
        inventory: Path | None,
        operator: str | None,
        *,
        vault_password_file: Path | None = None,
        vault_ids: tuple[str, ...] = (),
        accept_new_host_keys: bool = False,
    ) -> Target:
        """What a run is given: this repository, its inventory, and who runs it."""
        from butler_maint.runs.request import Target

        who, signer = self.identity(operator)
        target = Target(
            root=self.root,
            config=self.config,
            inventory=self.inventory(inventory, vault_password_file, vault_ids),
            operator=who,
            accept_new_host_keys=accept_new_host_keys,
            vault_password_file=self.vault(vault_password_file),
            vault_ids=vault_ids,
            signer=signer,
        )
        return self._with_workers(target) if self.config.broker is not None else target

    def _with_workers(self, target: Target) -> Target:
        """The target with the workers of network segments and run-due's claims."""
        from dataclasses import replace

        from butler_maint.workers.broker import broker_for
        from butler_maint.workers.claims import BrokerClaims
        from butler_maint.workers.controller import Workers

        assert self.config.broker is not None
        broker = broker_for(self.config.broker, self.root)
        claims = BrokerClaims(broker, f"{target.operator} pid {os.getpid()}")
        return replace(target, remote=Workers(broker), claims=claims)

    def identity(
        self, declared: str | None, role: str = "operator"
    ) -> tuple[str, SigningKey | None]:
        """Who acts in ``role`` and the key that signs for them (``runs.identity``): with
        signing on, the key's principal (``declared`` may not differ)."""
        from butler_maint.runs.identity import resolve, signing_key

        signer = signing_key(self.root, self.config, role)
        option = "--operator" if role == "operator" else "--by"
        return resolve(declared, signer, option), signer

    def trust(self) -> TrustPolicy:
        """The signing and anchoring policy ``report verify`` applies."""
        from butler_maint.runs.identity import trust_policy

        return trust_policy(self.root, self.config)


def is_interactive() -> bool:
    """Whether an operator can answer questions (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def echo_written_notes(written: WrittenReport) -> None:
    """What the operator must know about a written report besides where it is."""
    if written.settled:
        click.echo(
            f"note: report {written.settled}, left on disk by an interrupted earlier write, "
            "was chained before this one",
            err=True,
        )
    if written.git_error:
        click.echo(f"warning: evidence git commit failed: {written.git_error}", err=True)


def exit_interrupted(command: str, signum: int, detail: str = "") -> None:
    """Say so and exit 128 + ``signum`` at once: the report is written, and a host still
    answering (its script being ended) must not hold the operator's terminal or cron."""
    click.echo(f"{command}: interrupted by signal {signum}{detail}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


pass_app = click.make_pass_decorator(App)
