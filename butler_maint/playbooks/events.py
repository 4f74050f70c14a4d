"""ansible-runner events to typed results: one ``Result`` per task and host, and the recap.

Pure: :class:`PlayLog` folds the event dicts that ansible-runner hands its
``event_handler`` (the same dicts it writes to ``job_events/``); nothing here touches
processes or files, so recorded events make complete unit tests.

Mapping (ansible's own meaning, not the exit code: ``ignore_errors`` gives rc 0):

- ``runner_on_ok`` -> ``pass`` (observed ``ok`` or ``changed``);
- ``runner_on_failed`` -> ``fail``; with ``ignore_errors`` -> ``waived`` (``ignored``);
- a failure a ``rescue`` section caught -> ``waived`` (``rescued``): the event does not say
  so, the recap does; an unrescued failure ends the host's play, so a host's first
  ``rescued`` failures are the rescued ones;
- ``runner_on_unreachable`` -> ``unreachable`` (never ``fail``); ``ignore_unreachable``
  ones, counted by the recap as ``ignored``, -> ``waived`` the same way;
- ``runner_on_skipped`` -> ``skipped``;
- ``playbook_on_stats`` -> the per-host recap, exactly ansible's counters.

Loop items (``runner_item_on_*``) are details of their task's result and not counted.
Messages are cleaned (secrets masked) *before* they are truncated, so a cut never
leaves half a secret behind; ``no_log`` results are censored by ansible already and
only say so here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from butler_maint.evidence.model import HostStats, Result, Status

MESSAGE_MAX = 300
NO_LOG_NOTE = "output hidden (no_log)"
_WS = re.compile(r"\s+")
_STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}
_TASK_EVENTS = frozenset(
    {"runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"}
)
_MESSAGE_EVENTS = frozenset({"warning", "deprecated", "error", "system_warning"})


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class TaskStarted:
    """A task (or handler) started on the hosts still in play."""

    name: str
    play: str


@dataclass(frozen=True)
class Notice:
    """A warning or error ansible printed (already cleaned of secrets)."""

    kind: str
    text: str


Update = TaskStarted | Result | Notice
"""What :meth:`PlayLog.feed` reports to a live view."""


@dataclass
class PlayLog:
    """Folds runner events into per-task results and the recap, in arrival order."""

    clean: Callable[[str], str] = _same
    results: list[Result] = field(default_factory=list)
    stats: dict[str, HostStats] | None = None
    tasks: int = 0

    def feed(self, event: Mapping[str, Any]) -> Update | None:
        """Take one event; return what a live view may show, if anything."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind in _TASK_EVENTS:
            result = task_result(str(kind), data, event.get("stdout"), self.clean)
            self.results.append(result)
            return result
        if kind == "playbook_on_task_start":
            self.tasks += 1
            name = self.clean(str(data.get("name") or data.get("task") or "?"))
            return TaskStarted(name, self.clean(str(data.get("play") or "")))
        if kind == "playbook_on_stats":
            self.stats = stats_from(data)
        elif kind in _MESSAGE_EVENTS and event.get("stdout"):
            return Notice(str(kind), self.clean(str(event["stdout"]).strip()))
        return None

    def finish(self) -> tuple[dict[str, HostStats], list[Result]]:
        """The recap (ansible's, or tallied from results when it never came) and results."""
        if self.stats is None:
            return tally(self.results), list(self.results)
        return dict(self.stats), relabel(self.results, self.stats)


def task_result(
    kind: str,
    data: Mapping[str, Any],
    stdout: object = None,
    clean: Callable[[str], str] = _same,
) -> Result:
    """One evidence result from one ``runner_on_*`` event."""
    raw = data.get("res")
    res: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    status, observed = _verdict(kind, data, res, stdout)
    duration = data.get("duration")
    return Result(
        host=str(data.get("host") or "?"),
        check=clean(str(data.get("task") or "?")),
        status=status,
        observed=observed,
        ms=max(0, round(float(duration) * 1000)) if isinstance(duration, int | float) else 0,
        message=message(res, status, clean),
    )


def _verdict(
    kind: str, data: Mapping[str, Any], res: Mapping[str, Any], stdout: object
) -> tuple[Status, str]:
    if kind == "runner_on_ok":
        changed = bool(res.get("changed")) or str(stdout or "").startswith("changed:")
        return Status.PASS, "changed" if changed else "ok"
    if kind == "runner_on_failed":
        if data.get("ignore_errors"):
            return Status.WAIVED, "ignored"
        return Status.FAIL, "failed"
    if kind == "runner_on_unreachable":
        return Status.UNREACHABLE, "unreachable"
    return Status.SKIPPED, "skipped"


def message(
    res: Mapping[str, Any], status: Status, clean: Callable[[str], str] = _same
) -> str | None:
    """A one-line, cleaned, truncated message for a task result (None when it has none)."""
    if "censored" in res or res.get("_ansible_no_log"):
        return NO_LOG_NOTE
    parts = [_text(res.get("msg"))]
    if status is not Status.PASS:
        parts += [_tail(res.get("stderr")), _tail(res.get("module_stderr"))]
        rc = res.get("rc")
        if isinstance(rc, int) and rc != 0 and not isinstance(rc, bool):
            parts.append(f"rc={rc}")
    if status is Status.SKIPPED and not parts[0]:
        parts[0] = _text(res.get("skip_reason"))
    text = "; ".join(dict.fromkeys(p for p in parts if p))
    return truncate(clean(text)) if text else None


def _text(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return _WS.sub(" ", value).strip()
    return json.dumps(value, ensure_ascii=False, default=str)


def _tail(value: object, lines: int = 3) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    return _WS.sub(" ", " ".join(value.strip().splitlines()[-lines:])).strip()


def truncate(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` cut to ``limit`` characters, ``...`` marking a cut."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def stats_from(data: Mapping[str, Any]) -> dict[str, HostStats]:
    """Per-host recap from ``playbook_on_stats`` event data, hosts in name order."""
    counters = {ours: data.get(theirs) or {} for theirs, ours in _STATS_KEYS.items()}
    tables = [*counters.values(), data.get("processed") or {}]
    hosts = {str(host) for table in tables for host in table}
    return {
        host: HostStats(**{name: int(table.get(host, 0)) for name, table in counters.items()})
        for host in sorted(hosts)
    }


def relabel(results: Iterable[Result], stats: Mapping[str, HostStats]) -> list[Result]:
    """Mark rescued failures and ignored unreachables as ``waived``, using the recap."""
    out = list(results)
    for host, recap in stats.items():
        _waive_first(out, host, "failed", recap.rescued, "rescued")
        unreachable = sum(1 for r in out if r.host == host and r.observed == "unreachable")
        _waive_first(out, host, "unreachable", unreachable - recap.unreachable, "ignored")
    return out


def _waive_first(results: list[Result], host: str, observed: str, count: int, why: str) -> None:
    for index, result in enumerate(results):
        if count <= 0:
            return
        if result.host == host and result.observed == observed:
            results[index] = result.model_copy(update={"status": Status.WAIVED, "observed": why})
            count -= 1


def tally(results: Iterable[Result]) -> dict[str, HostStats]:
    """A recap counted from results, for runs that ended before ansible printed its own."""
    counts: dict[str, Counter[str]] = {}
    for result in results:
        count = counts.setdefault(result.host, Counter())
        if result.status is Status.PASS or result.observed == "ignored":
            count["ok"] += 1
        count["changed"] += result.observed == "changed"
        count["failed"] += result.status is Status.FAIL
        count["unreachable"] += result.status is Status.UNREACHABLE
        count["skipped"] += result.status is Status.SKIPPED
        count["ignored"] += result.observed == "ignored"
    return {host: HostStats(**count) for host, count in sorted(counts.items())}
