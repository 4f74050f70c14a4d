"""Playbook steps inside a larger run (a window's steps, remediation playbooks): the
same path as `play` (plan, then ansible-runner), recorded in the run's ONE report.

Each call's step results go in the caller's report; the masked ansible-runner artifacts
of every call are kept in ``workdir`` and attached to that report when it is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from butler_maint.errors import ButlerError
from butler_maint.evidence import PlaybookStep, Result, Status
from butler_maint.inventory import HostInfo
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.playbooks import PlayRequest, make_plan, run_play
from butler_maint.playbooks.artifacts import KEEP_DIR
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop


class PlaybookSteps:
    """Runs playbook steps on some hosts for a run that records them in its own report."""

    def __init__(self, target: Target, workdir: Path) -> None:
        self.target, self.workdir = target, workdir
        self.attach: list[Path] = []
        self.errors: list[str] = []

    def __call__(
        self, step: PlaybookStepSpec, hosts: list[HostInfo], dry_run: bool, stop: Stop
    ) -> PlaybookStep:
        """Run ``step`` on ``hosts``; bad input is an ``error`` on each host. Hosts in
        network segments are sent to their workers first; the others run here."""
        remote = self.target.remote
        here, away = remote.split(hosts) if remote is not None else (hosts, {})
        if remote is None or not away:
            return self._here(step, hosts, dry_run, stop)
        inventory = self.target.inventory
        gathers = [remote.play(step, seg, on, dry_run, inventory) for seg, on in away.items()]
        parts = [self._here(step, here, dry_run, stop)] if here else []
        for gather in gathers:
            ran, error = gather(stop)
            parts.append(ran)
            if error:
                self.errors.append(error)
        return merged(step.playbook, parts, [h.name for h in hosts])

    def _here(
        self, step: PlaybookStepSpec, hosts: list[HostInfo], dry_run: bool, stop: Stop
    ) -> PlaybookStep:
        target = self.target
        play = PlayRequest(
            root=target.root, config=target.config, playbook=target.root / step.playbook,
            inventory=target.inventory, limit=",".join(h.name for h in hosts), check=dry_run,
            extra_vars=(json.dumps(step.vars),) if step.vars else (),
            accept_new_host_keys=target.accept_new_host_keys,
            vault_password_file=target.vault_password_file,
            vault_ids=target.vault_ids,
        )  # fmt: skip
        try:
            plan = make_plan(play)
        except ButlerError as exc:
            return refused(step.playbook, hosts, exc.render())
        keep = self.workdir / f"{KEEP_DIR}-{len(self.attach) + 1}"
        ran = run_play(play, plan, keep, stop)
        if keep.is_dir():
            self.attach.append(keep)
        if ran.error:
            self.errors.append(f"{step.playbook} on {play.limit}: {ran.error}")
        return ran.step


def merged(playbook: str, parts: list[PlaybookStep], order: list[str]) -> PlaybookStep:
    """One step from the parts run here and by the segments' workers, hosts in ``order``."""
    place = {name: index for index, name in enumerate(order)}
    results = sorted(
        (r for part in parts for r in part.results), key=lambda r: place.get(r.host, len(place))
    )
    failed = [p for p in parts if p.status not in (None, "successful")]
    return PlaybookStep(
        playbook=playbook,
        rc=next((p.rc for p in parts if p.rc), parts[0].rc),
        status=failed[0].status if failed else parts[0].status,
        check_mode=any(p.check_mode for p in parts),
        hosts={name: stats for part in parts for name, stats in part.hosts.items()},
        results=results,
    )


def refused(playbook: str, hosts: list[HostInfo], why: str) -> PlaybookStep:
    """A playbook step that could not start: an ``error`` on each of its hosts."""
    results = [
        Result(host=h.name, check="(playbook)", status=Status.ERROR, message=why) for h in hosts
    ]
    return PlaybookStep(playbook=playbook, results=results)
