"""KPIs and SLA figures from the evidence history: pass rates, on-time / late / missed
maintenance, mean time to remediate, availability, checks failing now, flapping checks,
pending manual items, overdue schedules, threshold forecasts, per-control coverage (the
auditor's view) and a Prometheus textfile.

Pure functions over index entries (per schedule) and reports (per check); none reads
the clock: ``now`` is a parameter. ``assemble.kpis`` reads the store and computes every
figure of a period, for the ``kpi`` command and the site alike. Only
``metrics.write_metrics`` writes a file.
"""

from __future__ import annotations

from butler_maint.kpi.assemble import DEFAULT_PERIOD, KpiView, kpis, owners
from butler_maint.kpi.controls import ControlCoverage, CoveringCheck, HostStatus, control_coverage
from butler_maint.kpi.flapping import Flap, flapping
from butler_maint.kpi.forecast import (
    MIN_POINTS,
    MIN_R2,
    MIN_SPAN,
    Forecast,
    Shortfall,
    Threshold,
    forecast_series,
    forecasts,
    numeric_value,
    parse_threshold,
    shortfalls,
)
from butler_maint.kpi.history import (
    Observation,
    failing_now,
    is_failing,
    observations,
    pending_items,
    report_observations,
)
from butler_maint.kpi.metrics import LastRun, last_runs, render_metrics, write_metrics
from butler_maint.kpi.mttr import (
    Availability,
    Incident,
    Remediation,
    availability,
    mean_time_to_remediate,
    open_incidents,
    remediations,
)
from butler_maint.kpi.rates import GROUPS, GroupBy, PassRate, pass_rate, pass_rates
from butler_maint.kpi.sla import OccurrenceOutcome, Sla, outcomes, overdue, sla, summarize_sla

__all__ = [
    "DEFAULT_PERIOD",
    "GROUPS",
    "MIN_POINTS",
    "MIN_R2",
    "MIN_SPAN",
    "Availability",
    "ControlCoverage",
    "CoveringCheck",
    "Flap",
    "Forecast",
    "GroupBy",
    "HostStatus",
    "Incident",
    "KpiView",
    "LastRun",
    "Observation",
    "OccurrenceOutcome",
    "PassRate",
    "Remediation",
    "Shortfall",
    "Sla",
    "Threshold",
    "availability",
    "control_coverage",
    "failing_now",
    "flapping",
    "forecast_series",
    "forecasts",
    "is_failing",
    "kpis",
    "last_runs",
    "mean_time_to_remediate",
    "numeric_value",
    "observations",
    "open_incidents",
    "outcomes",
    "overdue",
    "owners",
    "parse_threshold",
    "pass_rate",
    "pass_rates",
    "pending_items",
    "remediations",
    "render_metrics",
    "report_observations",
    "shortfalls",
    "sla",
    "summarize_sla",
    "write_metrics",
]
