"""The runs ``due`` looks at: evidence index entries, never the reports themselves.

Only the look-back is read (the index is bisected on its ``tmax``), so the cost does not
grow with the history. Nothing is written: a store whose index is missing or stale is
read from its reports, in memory (``report reindex`` rebuilds the file).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from butler_maint.evidence.index import IndexEntry, store_entries
from butler_maint.evidence.store import EvidenceStore
from butler_maint.schedule.due import DEFAULT_LOOKBACK


def recent_runs(
    store: EvidenceStore, now: datetime, lookback: timedelta = DEFAULT_LOOKBACK
) -> list[IndexEntry]:
    """Index entries of runs that finished at or after ``now - lookback``, in chain order."""
    return store_entries(store, since=now - lookback)
