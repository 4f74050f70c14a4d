"""Judging a testinfra module's run: its JUnit XML to one verdict and a sub-result per
test (the executor, ``executors.testinfra``, only runs pytest).

A test keeps its pytest id without the host part (``test_dirs[/etc/app]``: parametrized
tests stay distinct), and its whole assertion text (``assert False`` and the ``where``
lines that say what was false), up to ``MAX_MESSAGE`` characters. A module that fails
to import (a collection error) is one ``error`` sub-result holding the end of its
traceback. Messages are redacted by the checklist runner like every other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from xml.etree import ElementTree as ET

from butler_maint.checks.base import Status, Verdict
from butler_maint.executors.testinfra import ModuleRun

_PARAMS = re.compile(r"^(?P<name>[^\[]*)\[(?P<ids>.*)\]$", re.DOTALL)
MAX_MESSAGE = 2000
"""Longest message kept of one test (a traceback keeps its end: where it failed)."""


@dataclass(frozen=True)
class SubResult:
    """One test function of a testinfra module."""

    name: str
    status: Status
    message: str = ""


def judge_module(run: ModuleRun) -> tuple[Verdict, list[SubResult]]:
    """The verdict of a module run, and its tests."""
    if run.junit is None:
        return Verdict(Status.ERROR, message=run.problem or "pytest wrote no report"), []
    subs = parse_junit(run.junit, run.host_id)
    verdict = summarise(subs, run.rc)
    if run.note and verdict.expected:
        verdict = replace(verdict, expected=f"{verdict.expected} ({run.note})")
    return verdict, subs


def parse_junit(text: str, host_id: str = "") -> list[SubResult]:
    """Tests and their outcomes from pytest's JUnit XML (``host_id``: testinfra's id of
    the host, left out of each test's id)."""
    subs = []
    # Written by our own pytest child (no DTD); host output inside it is escaped text.
    for case in ET.fromstring(text).iter("testcase"):  # noqa: S314
        name = case_id(case.get("name", "?"), host_id)
        status = Status.PASS
        message = ""
        for tag, meaning in (
            ("failure", Status.FAIL), ("error", Status.ERROR), ("skipped", Status.SKIPPED)
        ):  # fmt: skip
            found = case.find(tag)
            if found is not None:
                status = meaning
                message = _message(found.get("message") or "", found.text or "")
                break
        subs.append(SubResult(name, status, message))
    return subs


def case_id(name: str, host_id: str) -> str:
    """``test_dirs[ssh://h-/etc]`` -> ``test_dirs[/etc]``; ``test_a[ssh://h]`` -> ``test_a``."""
    match = _PARAMS.match(name)
    if match is None:
        return name
    ids = match["ids"]
    if ids == host_id or (not host_id and "://" in ids and "-" not in ids):
        return match["name"]  # only the host: an unparametrized test
    if host_id and ids.startswith(f"{host_id}-"):
        ids = ids[len(host_id) + 1 :]
    elif host_id and ids.endswith(f"-{host_id}"):
        ids = ids[: -len(host_id) - 1]
    return f"{match['name']}[{ids}]"


def _message(message: str, detail: str) -> str:
    """The assertion text whole; for a collection error, the end of its traceback."""
    if message == "collection failure" and detail.strip():
        tail = detail.strip()[-(MAX_MESSAGE - len(message) - 4) :]
        return f"{message}: {tail}"
    return message.strip()[:MAX_MESSAGE]


def summarise(subs: list[SubResult], rc: int | None) -> Verdict:
    """One verdict for a module: fail beats error beats pass."""
    counts = {
        s: sum(1 for x in subs if x.status == s) for s in ("pass", "fail", "error", "skipped")
    }
    observed = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no tests"
    if not subs:
        return Verdict(Status.ERROR, observed, "all tests pass", f"no test ran (pytest exit {rc})")
    if counts["fail"]:
        first = next(s for s in subs if s.status == "fail")
        return Verdict(Status.FAIL, observed, "all tests pass", f"{first.name}: {first.message}")
    if counts["error"]:
        first = next(s for s in subs if s.status == "error")
        return Verdict(Status.ERROR, observed, "all tests pass", f"{first.name}: {first.message}")
    return Verdict(Status.PASS, observed, "all tests pass")
