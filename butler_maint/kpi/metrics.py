"""A Prometheus textfile-collector file (node_exporter ``--collector.textfile``):

- ``butler_schedule_last_run_timestamp_seconds{schedule}``: start of the latest
  (non-dry) run of each schedule;
- ``butler_schedule_last_run_success{schedule}``: 1 when that run passed, else 0;
- ``butler_failing_checks{checklist,host}``: host+checks failing now
  (``history.failing_now``: latest result in the period fail, error or unreachable;
  waived never), the same ones ``kpi`` and the site list;
- ``butler_schedule_on_time_ratio{schedule}``: the SLA figure, when something was due.

``render_metrics`` is pure; ``write_metrics`` replaces the file atomically (temp file in
the same directory, fsync, rename), so the collector never reads half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from butler_maint.evidence.index import IndexEntry
from butler_maint.evidence.model import Overall
from butler_maint.kpi.history import Observation, failing_now
from butler_maint.kpi.sla import Sla
from butler_maint.model.schedule import Schedule
from butler_maint.schedule.due import belongs


@dataclass(frozen=True)
class LastRun:
    """The latest run of a schedule."""

    schedule: str
    id: str
    started: datetime
    result: Overall | None

    @property
    def success(self) -> bool:
        """True when the run passed."""
        return self.result is Overall.PASS


def last_runs(schedules: Sequence[Schedule], entries: Sequence[IndexEntry]) -> list[LastRun]:
    """The latest-started run of each schedule among index ``entries`` (none: left out)."""
    found: list[LastRun] = []
    for schedule in schedules:
        runs = [(t, e) for e in entries if belongs(schedule, e) and (t := e.started) is not None]
        if runs:
            started, entry = max(runs, key=lambda r: r[0])
            found.append(LastRun(schedule.name, entry.id, started, entry.result))
    return found


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    """A sample value: ``1772762460``, ``0.6`` (never the exponent form of ``:g``)."""
    return str(int(value)) if value.is_integer() else repr(value)


def _family(name: str, help_text: str, samples: Sequence[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)
    return lines


def render_metrics(
    runs: Sequence[LastRun], obs: Sequence[Observation], slas: Sequence[Sla] = ()
) -> str:
    """The exposition text (ends with a newline)."""
    failing = Counter((o.step, o.host) for o in failing_now(obs))
    lines = [
        *_family(
            "butler_schedule_last_run_timestamp_seconds",
            "Start of the latest run of the schedule (Unix time).",
            [(_labels(schedule=r.schedule), float(int(r.started.timestamp()))) for r in runs],
        ),
        *_family(
            "butler_schedule_last_run_success",
            "1 when the latest run of the schedule passed, else 0.",
            [(_labels(schedule=r.schedule), float(r.success)) for r in runs],
        ),
        *_family(
            "butler_failing_checks",
            "Checks whose latest result is fail, error or unreachable (waived never).",
            [(_labels(checklist=c, host=h), float(n)) for (c, h), n in sorted(failing.items())],
        ),
        *_family(
            "butler_schedule_on_time_ratio",
            "Share of due occurrences run inside their window in the period.",
            [
                (_labels(schedule=s.schedule), s.on_time_rate)
                for s in slas
                if s.on_time_rate is not None
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (mode 0644); OSError on failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
