"""Playbook runs: ansible-playbook through ansible-runner, recorded as evidence.

``run_play(request, make_plan(request), keep, cancel)`` runs one playbook and returns
its step; recording it is the run core's (``butler_maint.runs.play``). The modules
below each own one part:

- ``session``: the run as a whole, from the plan to the step;
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

from butler_maint.playbooks.plan import Plan, make_plan
from butler_maint.playbooks.session import Cancel, PlayRequest, PlayRun, run_play

__all__ = ["Cancel", "Plan", "PlayRequest", "PlayRun", "make_plan", "run_play"]
