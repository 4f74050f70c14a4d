"""Flapping checks: a host+check whose outcome changed at least ``min_changes`` times in
the period. Outcomes are ``pass`` or failing (fail, error, unreachable); skipped,
pending, not-run and waived results are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from butler_maint.evidence.model import Status
from butler_maint.kpi.history import JUDGED, Observation, by_key

MIN_CHANGES = 3


@dataclass(frozen=True)
class Flap:
    """A host+check and how often its outcome changed."""

    host: str
    check: str
    changes: int
    runs: int
    """Judged results in the period."""


def changes(group: Sequence[Observation]) -> int:
    """How many times the outcome (pass / not pass) changed along ``group``."""
    outcomes = [o.status is Status.PASS for o in group if o.status in JUDGED]
    return sum(a != b for a, b in pairwise(outcomes))


def flapping(obs: Sequence[Observation], min_changes: int = MIN_CHANGES) -> list[Flap]:
    """Host+checks of time-ordered ``obs`` that changed ``min_changes`` times or more,
    most changes first."""
    found = [
        Flap(host, check, n, sum(o.status in JUDGED for o in group))
        for (host, check), group in by_key(obs).items()
        if (n := changes(group)) >= min_changes
    ]
    return sorted(found, key=lambda f: (-f.changes, f.host, f.check))
