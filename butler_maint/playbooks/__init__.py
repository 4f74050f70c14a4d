"""Playbook runs: ansible-playbook through ansible-runner, recorded as evidence.

``play_and_record(PlayRequest(...))`` is the entry point (the `play` command and
maintenance windows use it); the modules below it each own one part:

- ``session``: the run as a whole, from hosts to the written report;
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
from butler_maint.playbooks.session import PlayOutcome, PlayRequest, play_and_record

__all__ = ["Cancel", "PlayOutcome", "PlayRequest", "cancel_on_signals", "play_and_record"]
