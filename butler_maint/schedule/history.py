"""The runs ``due`` looks at: evidence index entries, never the reports themselves.

Only the look-back is read (the index is bisected on its ``tmax``), so the cost does not
grow with the history. A store whose index is missing is reindexed first, as
``report list`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from butler_maint.evidence.index import read_entries
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.schedule.due import DEFAULT_LOOKBACK


def recent_runs(
    store: EvidenceStore, now: datetime, lookback: timedelta = DEFAULT_LOOKBACK
) -> list[dict[str, Any]]:
    """Index entries of runs that finished at or after ``now - lookback``, in chain order."""
    if not store.index_path.exists() and store.head() is not None:
        store.reindex()
    return list(read_entries(store.index_path, since=iso_z(now - lookback)))
