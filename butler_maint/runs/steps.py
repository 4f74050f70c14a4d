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
        """Run ``step`` on ``hosts``; bad input is an ``error`` on each host."""
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


def refused(playbook: str, hosts: list[HostInfo], why: str) -> PlaybookStep:
    """A playbook step that could not start: an ``error`` on each of its hosts."""
    results = [
        Result(host=h.name, check="(playbook)", status=Status.ERROR, message=why) for h in hosts
    ]
    return PlaybookStep(playbook=playbook, results=results)
