"""``butler-maint worker``: run the shards of one network segment (see ``workers``)."""

from __future__ import annotations

from pathlib import Path

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.options import accept_new_host_keys_option, vault_password_file_option
from butler_maint.errors import ButlerError

WORKER_HELP = """Start it inside the segment, in a clone of the content repository at the
commit the controllers run (a worker refuses shards of other content), e.g. from systemd:

\b
    BUTLER_BROKER_PASSWORD=... butler-maint -C /srv/maintenance worker --segment dmz

It connects out to the broker of butler.yaml (--broker: the same broker at the address
this segment reaches it by) and runs the checklist jobs the controllers send to the
segment's hosts (inventory var butler_segment), one at a time. SIGTERM or Ctrl-C: it
finishes the shard it runs, then exits 0. Exit 2: no broker configured or bad options;
3: the broker cannot be reached at start."""


@cli.command("worker", epilog=WORKER_HELP)
@click.option("--segment", required=True, help="The network segment whose queue it serves.")
@click.option("--name", help="How reports name this worker (default SEGMENT@HOSTNAME.PID).")
@click.option(
    "--broker",
    "broker_url",
    help="Broker URL as reached from here (default: broker.url of butler.yaml); the "
    "password still comes from broker.password_env/password_file.",
)
@accept_new_host_keys_option
@vault_password_file_option
@pass_app
def worker_cmd(
    app: App,
    segment: str,
    name: str | None,
    broker_url: str | None,
    accept_new_host_keys: bool,
    vault_password_file: Path | None,
) -> None:
    """Serve one network segment: run the shards controllers send to its queue."""
    from butler_maint.workers.broker import broker_for
    from butler_maint.workers.segments import SEGMENT_NAME
    from butler_maint.workers.worker import WorkerSetup, default_name, start_worker

    settings = app.config.broker
    if settings is None:
        raise ButlerError(
            f"{app.root / 'butler.yaml'}: no broker: configured; a worker needs "
            "`broker: {url: redis://HOST:6379/0}` (see README, running workers)"
        )
    if not SEGMENT_NAME.match(segment):
        raise ButlerError(f"--segment {segment!r}: expected lower-case letters, digits, '-' or '_'")
    broker = broker_for(settings, app.root, broker_url)
    broker.ping("the worker did not start")
    setup = WorkerSetup(
        name or default_name(segment), segment, app.root, broker,
        app.vault(vault_password_file), accept_new_host_keys,
    )  # fmt: skip
    click.echo(
        f"worker {setup.name}: segment {segment}, queue {broker.queue(segment)} on {broker.shown}",
        err=True,
    )
    start_worker(setup, on_ready=lambda: click.echo(f"worker {setup.name}: ready", err=True))
