"""The controller's side: send each segment's shard to its queue, gather what comes back.

A shard is waited for as long as some worker holds it (its heartbeat key is alive); when
no worker has held it for ``broker.worker_timeout`` seconds (none took it, or its worker
stopped and no other took it over), its hosts are recorded ``error`` with the reason
and the shard is withdrawn (a worker that takes it later drops it). A broker that is
down when a shard is sent stops the run (exit 3) before any host ran; one lost while
waiting makes that segment's hosts ``error``: nothing is ever recorded as passed that
no worker reported.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from butler_maint.checks.runner import CheckResult, HostRun
from butler_maint.errors import CannotRunError
from butler_maint.evidence import PlaybookStep, Result
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.content import checklist_path
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.model.status import Status
from butler_maint.runs.checklist import ChecklistJob, Gather, PlayGather
from butler_maint.runs.stop import Stop
from butler_maint.workers import segments
from butler_maint.workers.broker import PLAY_TASK, TASK, Broker, celery_app, shown
from butler_maint.workers.content import recorded, recorded_play, relative
from butler_maint.workers.shard import (
    Outcome,
    PlayOutcome,
    PlayShard,
    Shard,
    ShardCheck,
    from_wire,
)

POLL_S = 0.2
WITHDRAWN_TTL_S = 86400


def failed(checklist: Checklist, hosts: list[str], message: str) -> list[HostRun]:
    """Every check on ``hosts`` recorded ``error`` with ``message`` (reached: unknown)."""
    return [
        HostRun(
            host,
            [
                CheckResult(host, c.id, Status.ERROR, message=message, kind=c.kind)
                for c in checklist.checks
            ],
            reached=False,
        )
        for host in hosts
    ]


@dataclass
class Workers:
    """The workers of the network segments, behind one broker (a ``runs.checklist.Remote``)."""

    broker: Broker
    _app: Any = field(default=None, repr=False)

    @property
    def app(self) -> Any:
        """The Celery app, made on first use."""
        if self._app is None:
            self._app = celery_app(self.broker)
        return self._app

    def split(self, hosts: list[HostInfo]) -> tuple[list[HostInfo], dict[str, list[HostInfo]]]:
        """The hosts run here, and the others by segment (``butler_segment``)."""
        return segments.split(hosts)

    def shard(self, job: ChecklistJob, segment: str, hosts: list[HostInfo]) -> Shard:
        """The segment's shard of ``job``, with the content digest recorded here."""
        root = self.broker.root
        path = job.path or checklist_path(root, job.checklist.checklist)
        checks = [
            ShardCheck(id=c.id, retries=c.retries, delay=c.delay) for c in job.checklist.checks
        ]
        return Shard(
            id=uuid.uuid4().hex, namespace=self.broker.namespace, segment=segment,
            checklist=relative(root, path), checks=checks, hosts=[h.name for h in hosts],
            inventory=[relative(root, s) for s in job.inventory.sources], forks=job.forks,
            content=recorded(root, job.checklist, path, job.inventory),
        )  # fmt: skip

    def send(self, job: ChecklistJob, segment: str, hosts: list[HostInfo]) -> Gather:
        """Send the shard to the segment's queue; CannotRunError when the broker is down."""
        shard = self.shard(job, segment, hosts)
        self._send(TASK, shard)
        return lambda stop: self.gather(shard, job.checklist, stop)

    def play(
        self, step: PlaybookStepSpec, segment: str, hosts: list[HostInfo], dry_run: bool,
        inventory: Inventory,
    ) -> PlayGather:  # fmt: skip
        """Send a playbook step's shard to the segment's queue (CannotRunError: broker down)."""
        root = self.broker.root
        path = root / step.playbook
        shard = PlayShard(
            id=uuid.uuid4().hex, namespace=self.broker.namespace, segment=segment,
            playbook=relative(root, path), vars=dict(step.vars), check_mode=dry_run,
            hosts=[h.name for h in hosts], inventory=[relative(root, s) for s in inventory.sources],
            content=recorded_play(root, path, inventory),
        )  # fmt: skip
        self._send(PLAY_TASK, shard)
        return lambda stop: self.gather_play(shard, stop)

    def _send(self, task: str, shard: Shard | PlayShard) -> None:
        self.broker.ping()
        try:
            self.app.send_task(
                task, args=[shard.model_dump(mode="json")], queue=self.broker.queue(shard.segment),
                task_id=shard.id,
            )  # fmt: skip
        except Exception as exc:  # kombu's and redis' connection errors, whatever their class
            raise CannotRunError(
                f"broker {self.broker.shown}: could not send the shard of segment "
                f"{shard.segment}: {shown(str(exc))}"
            ) from None

    def gather_play(self, shard: PlayShard, stop: Stop) -> tuple[PlaybookStep, str | None]:
        """The playbook step as the worker recorded it, or its hosts ``error``."""
        try:
            value = self._wait(shard, stop)
            outcome = PlayOutcome.model_validate(value)
        except _Given as given:
            return _play_error(shard, given.message), None
        except ValidationError as exc:
            why = f"segment {shard.segment}: the worker's answer is not understood: {exc}"
            return _play_error(shard, why), None
        stamp = {"worker": outcome.worker, "redelivered_from": outcome.before or None}
        if outcome.refused is not None or outcome.step is None:
            why = (
                f"worker {outcome.worker} of segment {shard.segment} refused the playbook "
                f"shard: {outcome.refused}"
            )
            step = _play_error(shard, why)
        else:
            step = PlaybookStep.model_validate(outcome.step)
        results = [r.model_copy(update=stamp) for r in step.results]
        error = "; ".join(f"{outcome.worker}: {e}" for e in outcome.errors) or None
        return step.model_copy(update={"results": results}), error

    def gather(self, shard: Shard, checklist: Checklist, stop: Stop) -> list[HostRun]:
        """The shard's host runs, or its hosts ``error`` (``not_run`` when stopped)."""
        try:
            value = self._wait(shard, stop)
        except _Given as given:
            status_hosts = failed(checklist, shard.hosts, given.message)
            if given.stopped:
                return [_not_run(run) for run in status_hosts]
            return status_hosts
        return self._runs(shard, checklist, value)

    def _wait(self, shard: Shard | PlayShard, stop: Stop) -> Any:
        """The task's return value once a worker finished it; raises _Given otherwise."""
        import redis

        result = self.app.AsyncResult(shard.id)
        client = self.broker.redis()
        owner_key = self.broker.key("shard", shard.id, "owner")
        timeout = self.broker.settings.worker_timeout
        seen, owner = time.monotonic(), None
        try:
            while not result.ready():
                if stop.requested:
                    self._withdraw(client, shard)
                    raise _Given("not run: the run was interrupted while a worker ran it", True)
                holder = client.get(owner_key)
                if holder is not None:
                    owner, seen = holder.decode(), time.monotonic()
                elif time.monotonic() - seen > timeout:
                    self._withdraw(client, shard)
                    took = client.lrange(self.broker.key("shard", shard.id, "workers"), -1, -1)
                    raise _Given(self._why_not(shard, owner or _last(took), timeout))
                stop.event.wait(POLL_S)
            value = result.get(timeout=timeout, propagate=False)
            failure = result.failed()
            result.forget()
        except redis.RedisError as exc:
            raise _Given(
                f"broker {self.broker.shown} lost while segment {shard.segment}'s worker ran "
                f"the shard: {shown(str(exc))}"
            ) from None
        if failure:
            raise _Given(f"the worker of segment {shard.segment} failed: {shown(str(value))}")
        return value

    def _why_not(self, shard: Shard | PlayShard, owner: str | None, timeout: float) -> str:
        queue = self.broker.queue(shard.segment)
        if owner is None:
            return (
                f"no worker of segment {shard.segment} took the shard within {timeout:g} s "
                f"(queue {queue} on {self.broker.shown}): is `butler-maint worker --segment "
                f"{shard.segment}` running there?"
            )
        return (
            f"worker {owner} of segment {shard.segment} stopped while running the shard and no "
            f"other worker took it over within {timeout:g} s (queue {queue})"
        )

    def _withdraw(self, client: Any, shard: Shard | PlayShard) -> None:
        """A worker that takes the shard from now on drops it."""
        client.set(self.broker.key("shard", shard.id, "withdrawn"), b"1", ex=WITHDRAWN_TTL_S)

    def _runs(self, shard: Shard, checklist: Checklist, value: Any) -> list[HostRun]:
        try:
            outcome = Outcome.model_validate(value)
        except ValidationError as exc:
            detail = exc.errors()[0]["msg"]
            why = f"segment {shard.segment}: the worker's answer is not understood: {detail}"
            return failed(checklist, shard.hosts, why)
        if outcome.refused is not None:
            why = (
                f"worker {outcome.worker} of segment {shard.segment} refused the shard: "
                f"{outcome.refused}"
            )
            return failed(checklist, shard.hosts, why)
        runs = {r.host: from_wire(r, outcome.worker, outcome.before) for r in outcome.runs}
        missing = [h for h in shard.hosts if h not in runs]
        lost = failed(checklist, missing, f"worker {outcome.worker} returned nothing for this host")
        return [runs.get(h) or lost[missing.index(h)] for h in shard.hosts]


class _Given(Exception):
    """Waiting for a shard ended without the worker's answer."""

    def __init__(self, message: str, stopped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stopped = stopped


def _play_error(shard: PlayShard, why: str) -> PlaybookStep:
    results = [
        Result(host=h, check="(playbook)", status=Status.ERROR, message=why) for h in shard.hosts
    ]
    return PlaybookStep(playbook=shard.playbook, check_mode=shard.check_mode, results=results)


def _last(names: list[bytes]) -> str | None:
    return names[-1].decode() if names else None


def _not_run(run: HostRun) -> HostRun:
    return run.with_results(
        [
            CheckResult(r.host, r.check, Status.NOT_RUN, message=r.message, kind=r.kind)
            for r in run.results
        ]
    )
