"""Judging a testinfra module's run: its JUnit XML to one verdict and a sub-result per
test function (the executor, ``executors.testinfra``, only runs pytest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from butler_maint.checks.base import Status, Verdict
from butler_maint.executors.testinfra import ModuleRun

_PARAM = re.compile(r"\[[^\]]*\]$")


@dataclass(frozen=True)
class SubResult:
    """One test function of a testinfra module."""

    name: str
    status: Status
    message: str = ""


def judge_module(run: ModuleRun) -> tuple[Verdict, list[SubResult]]:
    """The verdict of a module run, and its test functions."""
    if run.junit is None:
        return Verdict(Status.ERROR, message=run.problem or "pytest wrote no report"), []
    subs = parse_junit(run.junit)
    return summarise(subs, run.rc), subs


def parse_junit(text: str) -> list[SubResult]:
    """Test functions and their outcomes from pytest's JUnit XML."""
    subs = []
    # Written by our own pytest child (no DTD); host output inside it is escaped text.
    for case in ET.fromstring(text).iter("testcase"):  # noqa: S314
        name = _PARAM.sub("", case.get("name", "?"))
        status = Status.PASS
        message = ""
        for tag, meaning in (
            ("failure", Status.FAIL), ("error", Status.ERROR), ("skipped", Status.SKIPPED)
        ):  # fmt: skip
            found = case.find(tag)
            if found is not None:
                status = meaning
                message = (
                    (found.get("message") or "").splitlines()[0][:300]
                    if found.get("message")
                    else ""
                )
                break
        subs.append(SubResult(name, status, message))
    return subs


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
