"""Playbook runs: ansible-playbook through ansible-runner, recorded as evidence.

``play_and_record(PlayRequest(...))`` is the entry point of the `play` command;
``run_play`` runs without recording (a window records the step in its own report).
The modules below each own one part:

- ``session``: the run as a whole, from the plan to the step and the written report;
- ``plan``: what is checked and decided before ansible starts (exit 2 on bad input);
- ``runner``: ansible-runner invocation, cancellation, stray-process cleanup;
- ``connection``: ssh arguments and environment, the user's ansible.cfg, host keys;
- ``events``: runner events to typed results and the per-host recap (pure);
- ``secrets``: what must never be shown, and its masks;
- ``artifacts``: what is kept of a run (masked) and what is deleted;
- ``plays``: reading plays, ``serial``/``max_fail_percentage`` on a copy;
- ``extravars``: ``-e`` values checked before the run.
"""

from __future__ import annotations

from butler_maint.playbooks.runner import Cancel, cancel_on_signals
from butler_maint.playbooks.session import (
    PlayOutcome,
    PlayRequest,
    PlayRun,
    draft_report,
    play_and_record,
    run_play,
)

__all__ = [
    "Cancel",
    "PlayOutcome",
    "PlayRequest",
    "PlayRun",
    "cancel_on_signals",
    "draft_report",
    "play_and_record",
    "run_play",
]
