"""A window's playbook step on one batch of hosts, through the same path as ``play``.

Each batch's playbook run is also recorded as a playbook report of its own (with its
masked ansible-runner artifacts attached); the window's report carries the step's
per-host recap and task results. SIGHUP/SIGINT/SIGTERM during the playbook cancel
ansible as ``play`` does, then stop the window.
"""

from __future__ import annotations

import json
from pathlib import Path

from butler_maint.evidence import PlaybookStep, Trigger
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.playbooks import PlayRequest, cancel_on_signals, play_and_record
from butler_maint.windows.run import PlaybookRunner


def playbook_runner(
    root: Path,
    config: ProjectConfig,
    inventory: Inventory,
    operator: str,
    trigger: Trigger,
    *,
    accept_new_host_keys: bool = False,
) -> PlaybookRunner:
    """Runs a window's playbook steps on the batch given, in check mode for a dry run."""

    def run(
        step: PlaybookStepSpec, hosts: list[HostInfo], dry_run: bool
    ) -> tuple[PlaybookStep, int | None]:
        request = PlayRequest(
            root=root, config=config, playbook=root / step.playbook, inventory=inventory,
            limit=",".join(h.name for h in hosts), check=dry_run,
            extra_vars=(json.dumps(step.vars),) if step.vars else (),
            operator=operator, accept_new_host_keys=accept_new_host_keys,
            trigger=Trigger(by=trigger.by),  # the window's report is the one for the schedule
        )  # fmt: skip
        with cancel_on_signals() as cancel:
            outcome = play_and_record(request, cancel=cancel)
        return outcome.step, outcome.interrupted_by

    return run
