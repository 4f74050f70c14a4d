"""Waivers: failures auditors accepted, for a while (InSpec's waivers).

``waivers/*.yaml`` hold entries such as::

    waivers:
      - hosts: db                    # Ansible host pattern, resolved with the inventory
        check: reboot-pending        # check id
        checklist: linux-baseline    # optional: only in this checklist
        reason: Kernel update waits for the Q3 database failover test
        ticket: CHG-4711
        approved_by: jane.doe (CISO)
        expires: 2027-03-31          # last day the waiver applies (inclusive, UTC)

Rules:

- ``hosts`` is an Ansible host pattern (``db``, ``web:&prod``, ``db01*``) matched with the
  run's inventory, the same way a checklist's ``hosts`` is;
- only a ``fail`` is waived: an ``error`` or ``unreachable`` means the check produced no
  verdict, and waiving it would hide a broken check; ``pass``, ``skipped`` and the rest
  are left alone;
- a waiver is live until the end of its ``expires`` day (UTC); after that the check is a
  ``fail`` again;
- a waived result keeps its observed and expected values; its message names the waiver:
  ``waived by waivers/db.yaml#2 (CHG-4711, until 2027-03-31): reason`` (``#N`` is the
  1-based position of the entry in its file), followed by the check's own message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from pydantic import Field

from butler_maint.errors import ButlerError, ContentError, Problem
from butler_maint.evidence.model import Status
from butler_maint.model.base import Frozen, Text
from butler_maint.model.checklist import Name
from butler_maint.model.content import content_files, load_model
from butler_maint.model.status import Judged

WAIVERS_DIR = "waivers"
EXPIRY_WARNING_DAYS = 14


class Waiver(Frozen):
    """One accepted exception: a check failing on some hosts, until a date."""

    hosts: Text = Field(description="Ansible host pattern, matched with the inventory.")
    check: Text = Field(description="Check id.")
    checklist: Name | None = Field(None, description="Only in this checklist (default: any).")
    reason: Text
    ticket: Text
    approved_by: Text
    expires: date = Field(description="Last day the waiver applies (inclusive, UTC).")


class WaiverFile(Frozen):
    """``waivers/NAME.yaml``: a list of waivers."""

    waivers: list[Waiver] = Field(min_length=1)
    title: Text | None = None


@dataclass(frozen=True)
class LoadedWaiver:
    """A waiver with where it comes from (``reference``: ``waivers/db.yaml#2``)."""

    waiver: Waiver
    reference: str
    where: str
    """``path:line:col`` of the entry."""

    def live(self, now: datetime) -> bool:
        """True while the waiver applies: up to the end of its ``expires`` day (UTC)."""
        return now.astimezone(UTC).date() <= self.waiver.expires

    def days_left(self, now: datetime) -> int:
        """Whole days from ``now``'s UTC date to the expiry day (0: expires today)."""
        return (self.waiver.expires - now.astimezone(UTC).date()).days

    def covers(self, checklist: str | None, check: str) -> bool:
        """True when the waiver names ``check`` (in ``checklist``, if it names one)."""
        wanted = self.waiver.checklist
        return self.waiver.check == check and (wanted is None or wanted == checklist)

    def text(self) -> str:
        """The message a waived result carries."""
        w = self.waiver
        return f"waived by {self.reference} ({w.ticket}, until {w.expires.isoformat()}): {w.reason}"


def waiver_files(root: Path) -> list[Path]:
    """The waiver files of the repository at ``root`` (sorted; none without ``waivers/``)."""
    return content_files(root / WAIVERS_DIR)


def load_waiver_file(path: Path, root: Path) -> list[LoadedWaiver]:
    """Load one waiver file; raise ContentError (``path:line:col``) on any problem."""
    loaded = load_model(WaiverFile, path)
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return [
        LoadedWaiver(w, f"{shown}#{i + 1}", loaded.where(("waivers", i)))
        for i, w in enumerate(loaded.model.waivers)
    ]


def load_waivers(root: Path) -> list[LoadedWaiver]:
    """Every waiver of the repository at ``root``, expired ones included, in file order.

    Raise ContentError listing the problems of every bad file (a run must not silently
    ignore a broken waiver file, nor silently waive with it).
    """
    found: list[LoadedWaiver] = []
    problems: list[Problem] = []
    for path in waiver_files(root):
        try:
            found.extend(load_waiver_file(path, root))
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    return found


def live_waivers(waivers: Iterable[LoadedWaiver], now: datetime) -> list[LoadedWaiver]:
    """The waivers that still apply at ``now`` (what the site lists as open)."""
    return [w for w in waivers if w.live(now)]


def expiring(
    waivers: Iterable[LoadedWaiver], now: datetime, days: int = EXPIRY_WARNING_DAYS
) -> list[LoadedWaiver]:
    """Live waivers whose expiry day is within ``days`` days of ``now``, soonest first."""
    soon = [w for w in waivers if w.live(now) and w.days_left(now) <= days]
    return sorted(soon, key=lambda w: (w.waiver.expires, w.reference))


def expiry_warning(waiver: LoadedWaiver, now: datetime) -> str:
    """One warning line about a waiver that expires soon."""
    left = waiver.days_left(now)
    when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
    w = waiver.waiver
    return (
        f"warning: waiver {waiver.reference} ({w.ticket}: {w.check} on {w.hosts}) "
        f"expires {when} ({w.expires.isoformat()})"
    )


# -- applying waivers -------------------------------------------------------------------


R = TypeVar("R", bound=Judged)

HostMatcher = Callable[[str, str], bool]
"""``match(pattern, host)``: whether ``host`` is selected by the host ``pattern``."""


class _Selects(Protocol):
    def select(self, pattern: str = "all", limit: str | None = None) -> Sequence[object]: ...


def inventory_matcher(inventory: _Selects) -> HostMatcher:
    """Match Ansible host patterns with ``inventory`` (each pattern resolved once)."""
    cache: dict[str, frozenset[str]] = {}

    def match(pattern: str, host: str) -> bool:
        if pattern not in cache:
            try:
                names = {str(getattr(h, "name", h)) for h in inventory.select(pattern)}
            except ButlerError:
                names = set()  # matches no host: validate reports it
            cache[pattern] = frozenset(names)
        return host in cache[pattern]

    return match


def _waive(result: R, waiver: LoadedWaiver) -> R:
    message = waiver.text() + (f"; check said: {result.message}" if result.message else "")
    update = {"status": Status.WAIVED, "message": message}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        # a runner CheckResult: its status Literal predates ``waived``; the value is the
        # evidence Status.WAIVED, which ``to_result`` reads back.
        return dataclasses.replace(result, **update)
    copy: R = result.model_copy(update=update)  # type: ignore[attr-defined]
    return copy


def waiver_for(
    result: Judged,
    waivers: Sequence[LoadedWaiver],
    now: datetime,
    match: HostMatcher,
    checklist: str | None = None,
) -> LoadedWaiver | None:
    """The first live waiver covering a failing ``result``, if any."""
    if result.status != Status.FAIL:
        return None
    for waiver in waivers:
        if (
            waiver.live(now)
            and waiver.covers(checklist, result.check)
            and match(waiver.waiver.hosts, result.host)
        ):
            return waiver
    return None


def apply_waivers(
    results: Sequence[R],
    waivers: Sequence[LoadedWaiver],
    now: datetime,
    match: HostMatcher,
    checklist: str | None = None,
) -> list[R]:
    """``results`` with each ``fail`` covered by a live waiver turned ``waived``."""
    out: list[R] = []
    for result in results:
        waiver = waiver_for(result, waivers, now, match, checklist)
        out.append(result if waiver is None else _waive(result, waiver))
    return out


def fnmatch_matcher() -> HostMatcher:
    """Match shell-style patterns on host names only (no inventory: tests, tools)."""
    from fnmatch import fnmatchcase

    return lambda pattern, host: any(fnmatchcase(host, p) for p in pattern.split(":"))


class _HostResults(Protocol):
    """A host's results (the runner's ``HostRun``)."""

    @property
    def results(self) -> Sequence[Any]: ...

    def with_results(self, results: list[Any]) -> Self:
        """The same host run with other results."""


H = TypeVar("H", bound=_HostResults)


def waive_runs(
    runs: Sequence[H],
    waivers: Sequence[LoadedWaiver],
    now: datetime,
    match: HostMatcher,
    checklist: str | None = None,
) -> list[H]:
    """Host runs of a checklist with their covered failures turned ``waived``."""
    if not waivers:
        return list(runs)
    return [
        run.with_results(apply_waivers(run.results, waivers, now, match, checklist)) for run in runs
    ]
