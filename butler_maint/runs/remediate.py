"""Remediation: a failing check's own playbook (``remediate:``) runs on exactly the hosts
that failed the check, then the check runs there again. The re-check's result takes the
place of the failure, carrying what was found before and the step that recorded the
playbook run; that playbook step lists the checks it remediates. Both are in the run's
one report, linked both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from butler_maint.evidence import PlaybookStep, Result, Status
from butler_maint.evidence.model import Before, Remediation
from butler_maint.inventory import HostInfo
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec

Play = Callable[[PlaybookStepSpec, list[HostInfo]], PlaybookStep]
"""Runs a remediation playbook on some hosts (dry run and stop bound by the caller)."""
Recheck = Callable[[Checklist, list[HostInfo]], list[Result]]
"""Runs a checklist (the remediated check alone) on some hosts again."""


@dataclass
class Remediations:
    """The remediation playbook steps of a run, numbered after the run's own steps; a
    window's batches add to the same step per check."""

    first_step: int
    steps: list[PlaybookStep] = field(default_factory=list)

    def add(self, label: str, ran: PlaybookStep) -> int:
        """Record ``ran`` as remediating ``label``; return its 1-based step number."""
        for index, step in enumerate(self.steps):
            if step.remediates == [label]:
                self.steps[index] = step.model_copy(
                    update={
                        "hosts": {**step.hosts, **ran.hosts},
                        "results": [*step.results, *ran.results],
                    }
                )
                return self.first_step + index
        self.steps.append(ran.model_copy(update={"remediates": [label]}))
        return self.first_step + len(self.steps) - 1


def remediate(
    checklist: Checklist,
    hosts: list[HostInfo],
    results: list[Result],
    *,
    play: Play,
    recheck: Recheck,
    remediations: Remediations,
) -> list[Result]:
    """``results`` with each remediable ``fail`` remediated and checked again."""
    by_name = {h.name: h for h in hosts}
    out = list(results)
    for check in checklist.checks:
        failed = [
            by_name[r.host]
            for r in out
            if r.check == check.id and r.status == Status.FAIL and r.host in by_name
        ]
        if check.remediate is None or not failed:
            continue
        spec = PlaybookStepSpec(playbook=check.remediate.playbook, vars=check.remediate.vars)
        number = remediations.add(f"{checklist.checklist}/{check.id}", play(spec, failed))
        again = {r.host: r for r in recheck(_only(checklist, check), failed) if r.check == check.id}
        out = [
            _rechecked(r, again[r.host], spec.playbook, number)
            if r.check == check.id and r.host in again
            else r
            for r in out
        ]
    return out


def _only(checklist: Checklist, check: Check) -> Checklist:
    return checklist.model_copy(update={"checks": [check]})


def _rechecked(before: Result, after: Result, playbook: str, step: int) -> Result:
    found = Before(
        status=before.status, observed=before.observed, expected=before.expected,
        message=before.message,
    )  # fmt: skip
    link = Remediation(playbook=playbook, step=step, before=found)
    return after.model_copy(update={"remediation": link})
