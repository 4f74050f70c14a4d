"""SSH connection options of a run, from ``butler.yaml``: the one place checks,
testinfra modules and playbooks get their host-key policy and timeouts from."""

from __future__ import annotations

from pathlib import Path

from butler_maint.executors.ssh import DEFAULT_SSH_CONFIGS, SYSTEM_KNOWN_HOSTS, SshOptions
from butler_maint.model.config import SshSettings


def ssh_options(settings: SshSettings, root: Path, accept_new: bool) -> SshOptions:
    """SshOptions from ``butler.yaml`` (paths relative to the repository root)."""
    return SshOptions(
        project_known_hosts=root / settings.known_hosts,
        trusted_known_hosts=SYSTEM_KNOWN_HOSTS if settings.system_known_hosts else (),
        accept_new=accept_new,
        connect_timeout=settings.connect_timeout,
        banner_timeout=settings.banner_timeout,
        auth_timeout=settings.auth_timeout,
        command_timeout=settings.command_timeout,
        keepalive=settings.keepalive,
        ssh_config=ssh_config_files(settings.config_file, root),
    )


def ssh_config_files(setting: str | None, root: Path) -> tuple[Path, ...]:
    """The ssh_config files of ``ssh.config_file``: OpenSSH's when unset, none for 'none'."""
    if setting is None:
        return DEFAULT_SSH_CONFIGS
    if setting.strip().lower() == "none":
        return ()
    return (root / Path(setting).expanduser(),)
