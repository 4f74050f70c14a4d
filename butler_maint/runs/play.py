"""A playbook run recorded on its own: the `play` command.

The plan comes first (bad input stops here, exit 2, nothing recorded); the report then
holds the per-host recap and every task's result per host, with the run's masked
ansible-runner artifacts attached. A stopped run is recorded ``interrupted``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from butler_maint.evidence import Kind, PlaybookStep, Trigger, WrittenReport
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.playbooks import PlayRequest, PlayRun, make_plan, run_play
from butler_maint.playbooks.artifacts import KEEP_DIR
from butler_maint.playbooks.events import Update
from butler_maint.runs.record import Recording, RunMeta
from butler_maint.runs.stop import Stop


@dataclass(frozen=True)
class PlayOutcome:
    """A recorded playbook run."""

    run: PlayRun
    written: WrittenReport

    @property
    def step(self) -> PlaybookStep:
        """The recorded step (``run.step``)."""
        return self.run.step


def play_and_record(
    request: PlayRequest,
    stop: Stop,
    *,
    operator: str,
    trigger: Trigger | None = None,
    on_update: Callable[[Update], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    signer: SigningKey | None = None,
) -> PlayOutcome:
    """Run the playbook and write one evidence report with its artifacts, also when stopped."""
    plan = make_plan(request)
    used = [request.playbook, *plan.var_files]
    recording = Recording(
        request.root, request.config, request.inventory, used, len(plan.hosts), signer=signer
    )
    if on_start:
        on_start(len(plan.hosts))
    with tempfile.TemporaryDirectory(prefix="butler-keep-") as tmp:
        keep = Path(tmp) / KEEP_DIR
        run = run_play(request, plan, keep, stop, on_update=on_update)
        meta = RunMeta(
            Kind.PLAYBOOK, request.playbook.stem, operator, trigger or Trigger(), request.check
        )
        draft = recording.draft(
            meta, [run.step], interrupted=run.interrupted_by is not None, error=run.error,
            started=run.started, finished=run.finished,
        )  # fmt: skip
        written = recording.write(draft, attach=[keep])
    return PlayOutcome(run, written)
