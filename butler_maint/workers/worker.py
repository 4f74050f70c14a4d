"""``butler-maint worker --segment NAME``: a Celery worker inside a network segment.

It connects out to the broker (nothing connects to it), takes shards from the queue
``<namespace>.<segment>`` only, one at a time (prefetch 1, the ``solo`` pool: killing the
process kills the shard too), and acknowledges a shard only after it ran. Per shard:

1. a shard of another namespace, one the controller withdrew, or one a live worker
   already runs (it came back to the queue late) is dropped;
2. the delivery is counted and the worker named (``Outcome.deliveries``/``before``), and
   a heartbeat thread keeps the shard's owner key and its place among the unacknowledged
   messages fresh until it is done;
3. the worker's own content must be the one the controller recorded, else it refuses;
4. the checklist runs on the shard's hosts through the same run core as ``check``; a
   playbook shard runs through the same playbook steps as a window's, unless it was
   taken before (its worker stopped mid-playbook): then it is refused, never run twice.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from butler_maint.errors import ButlerError
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.config import load_config
from butler_maint.model.content import load_checklist
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.runs.checklist import Attestation, ChecklistJob, real_reach, run_checklist_job
from butler_maint.runs.request import Target
from butler_maint.runs.steps import PlaybookSteps
from butler_maint.runs.stop import Stop
from butler_maint.workers.broker import PLAY_TASK, TASK, Broker, celery_app
from butler_maint.workers.content import difference, recorded, recorded_play
from butler_maint.workers.shard import (
    Outcome,
    PlayOutcome,
    PlayShard,
    Shard,
    ShardCheck,
    to_wire,
)

KEY_TTL_S = 86400


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker is: its name, segment, content root and broker."""

    name: str
    segment: str
    root: Path
    broker: Broker
    vault_password_file: Path | None = None
    accept_new_host_keys: bool = False


def default_name(segment: str) -> str:
    """``<segment>@<hostname>.<pid>``: unique enough to tell workers apart in a report."""
    import os

    return f"{segment}@{socket.gethostname()}.{os.getpid()}"


def run_shard(setup: WorkerSetup, data: Any, delivery_tag: str | None) -> dict[str, Any] | None:
    """Run one checklist shard (the task's body); None: dropped (see the module doc)."""
    shard = Shard.model_validate(data)

    def run(deliveries: int, before: list[str]) -> Outcome:
        outcome = _execute(setup, shard)
        return outcome.model_copy(update={"deliveries": deliveries, "before": before})

    return _claimed(setup, (shard.id, shard.namespace, shard.segment), delivery_tag, run)


def run_play_shard(
    setup: WorkerSetup, data: Any, delivery_tag: str | None
) -> dict[str, Any] | None:
    """Run one playbook shard, never a second time: a shard taken before is refused."""
    shard = PlayShard.model_validate(data)

    def run(deliveries: int, before: list[str]) -> PlayOutcome:
        if deliveries > 1:
            why = (
                f"the shard was taken before by {', '.join(before) or 'another worker'}, which "
                "stopped while running it: not run again (a playbook step never runs twice on "
                "a host unasked); look at the hosts, then run the step again"
            )
            return PlayOutcome(worker=setup.name, deliveries=deliveries, before=before, refused=why)
        outcome = _play(setup, shard)
        return outcome.model_copy(update={"deliveries": deliveries, "before": before})

    return _claimed(setup, (shard.id, shard.namespace, shard.segment), delivery_tag, run)


def _claimed(
    setup: WorkerSetup, shard: tuple[str, str, str], delivery_tag: str | None,
    run: Callable[[int, list[str]], BaseModel],
) -> dict[str, Any] | None:  # fmt: skip
    """Claim the shard (id, namespace, segment), count the delivery, run it with a heartbeat."""
    shard_id, namespace, segment = shard
    if namespace != setup.broker.namespace or segment != setup.segment:
        return None
    client = setup.broker.redis()
    key = setup.broker.key
    if client.exists(key("shard", shard_id, "withdrawn")):
        return None
    holder = client.get(key("shard", shard_id, "owner"))
    if holder is not None and holder.decode() != setup.name:
        return None  # its worker is alive and runs it: this is a late copy
    deliveries = int(client.incr(key("shard", shard_id, "deliveries")))
    client.expire(key("shard", shard_id, "deliveries"), KEY_TTL_S)
    before = [b.decode() for b in client.lrange(key("shard", shard_id, "workers"), 0, -1)]
    client.rpush(key("shard", shard_id, "workers"), setup.name)
    client.expire(key("shard", shard_id, "workers"), KEY_TTL_S)
    with _heartbeat(setup, client, shard_id, delivery_tag):
        answer = run(deliveries, before)
    return answer.model_dump(mode="json")


def _play(setup: WorkerSetup, shard: PlayShard) -> PlayOutcome:
    """Check the content, then run the playbook on the shard's hosts (artifacts stay here)."""
    root = setup.root
    try:
        path = _inside(root, shard.playbook)
        inventory = Inventory.load(
            [_inside(root, s) for s in shard.inventory],
            vault_password_file=setup.vault_password_file,
        )
        why = difference(shard.content, recorded_play(root, path, inventory))
        if why is not None:
            return PlayOutcome(worker=setup.name, refused=why)
    except ButlerError as exc:
        return PlayOutcome(worker=setup.name, refused=exc.render())
    target = Target(
        root, load_config(root), inventory, setup.name, setup.accept_new_host_keys,
        setup.vault_password_file,
    )  # fmt: skip
    known = {h.name: h for h in inventory.all_hosts()}
    spec = PlaybookStepSpec(playbook=shard.playbook, vars=shard.vars)
    with tempfile.TemporaryDirectory(prefix="butler-worker-") as workdir:
        steps = PlaybookSteps(target, Path(workdir))
        hosts = [known[name] for name in shard.hosts if name in known]
        step = steps(spec, hosts, shard.check_mode, Stop())
    return PlayOutcome(
        worker=setup.name, step=step.model_dump(mode="json"), refused=None,
        errors=steps.errors,
    )  # fmt: skip


def _execute(setup: WorkerSetup, shard: Shard) -> Outcome:
    """Check the content, then run the checklist on the shard's hosts."""
    root = setup.root
    try:
        path = _inside(root, shard.checklist)
        checklist = load_checklist(path).model
        inventory = Inventory.load(
            [_inside(root, s) for s in shard.inventory],
            vault_password_file=setup.vault_password_file,
        )
        why = difference(shard.content, recorded(root, checklist, path, inventory))
        if why is not None:
            return Outcome(worker=setup.name, refused=why)
        checklist = _as_sent(checklist, shard.checks)
        known = {h.name: h for h in inventory.all_hosts()}
        hosts = [known[name] for name in shard.hosts if name in known]
    except ButlerError as exc:
        return Outcome(worker=setup.name, refused=exc.render())
    config = load_config(root)
    stop = Stop()
    options = ssh_options(config.ssh, root, setup.accept_new_host_keys)
    job = ChecklistJob(checklist, hosts, inventory, [], Attestation(setup.name), shard.forks, path)
    runs = run_checklist_job(job, real_reach(root, options, stop), stop)
    return Outcome(worker=setup.name, runs=[to_wire(r) for r in runs])


def _inside(root: Path, relative: str) -> Path:
    """A repo-relative path of the shard, which must stay inside the content root."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ButlerError(f"the shard names {relative!r}, outside the content repository")
    return path


def _as_sent(checklist: Checklist, checks: list[ShardCheck]) -> Checklist:
    """The worker's own checks, only those sent, with the retries and delay sent."""
    own = {c.id: c for c in checklist.checks}
    unknown = [c.id for c in checks if c.id not in own]
    if unknown:
        raise ButlerError(f"the checklist has no check {unknown[0]!r}")
    picked = [own[c.id].model_copy(update={"retries": c.retries, "delay": c.delay}) for c in checks]
    return checklist.model_copy(update={"checks": picked})


@contextlib.contextmanager
def _heartbeat(setup: WorkerSetup, client: Any, shard_id: str, tag: str | None) -> Iterator[None]:
    """Keep the shard's owner key alive, and its message from going back to the queue."""
    visibility = setup.broker.settings.visibility_timeout
    owner = setup.broker.key("shard", shard_id, "owner")
    index = f"{setup.broker.prefix}unacked_index"
    done = threading.Event()

    def beat() -> None:
        client.set(owner, setup.name, px=int(visibility * 1000))
        if tag is not None:
            client.zadd(index, {tag: time.time()}, xx=True)

    def loop() -> None:
        while not done.wait(visibility / 4):
            with contextlib.suppress(Exception):  # a broker hiccup: the next beat retries
                beat()

    beat()
    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        with contextlib.suppress(Exception):
            client.delete(owner)


def start_worker(setup: WorkerSetup, on_ready: Callable[[], None] | None = None) -> None:
    """Run the Celery worker until it is stopped (SIGTERM/SIGINT: warm shutdown);
    ``on_ready`` is called once it consumes its queue."""
    from celery.exceptions import Ignore
    from celery.signals import worker_ready

    app = celery_app(setup.broker)
    if on_ready is not None:
        worker_ready.connect(lambda **_: on_ready(), weak=False)

    @app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def shard(task: Any, data: Any) -> dict[str, Any]:
        properties = getattr(task.request, "properties", None) or {}
        answer = run_shard(setup, data, properties.get("delivery_tag"))
        if answer is None:
            raise Ignore()
        return answer

    @app.task(name=PLAY_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def play(task: Any, data: Any) -> dict[str, Any]:
        properties = getattr(task.request, "properties", None) or {}
        answer = run_play_shard(setup, data, properties.get("delivery_tag"))
        if answer is None:
            raise Ignore()
        return answer

    worker = app.Worker(
        hostname=f"{setup.name}", queues=[setup.broker.queue(setup.segment)], pool="solo",
        concurrency=1, prefetch_multiplier=1, without_mingle=True, without_gossip=True,
        without_heartbeat=True, loglevel="INFO", quiet=True,
    )  # fmt: skip
    worker.start()
    if worker.exitcode:
        raise ButlerError(f"the worker stopped with exit code {worker.exitcode}")
