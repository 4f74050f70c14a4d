"""Bounded fuzzing of what reads content: the loader, the recurrence parser, the template
checker. Every input loads, or fails with a ContentError (TemplateProblem for a template
alone) whose problems name ``path:line:col``, within 1 s (the per-example deadline).

A fixed budget of derandomized examples keeps CI deterministic; the longer run before a
release is ``benchmarks/fuzz_content.py``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butler_maint.checks.base import Verdict
from butler_maint.checks.runner import plan_host
from butler_maint.cli import cli
from butler_maint.errors import ContentError
from butler_maint.inventory import HostInfo
from butler_maint.model.checks import Check
from butler_maint.model.content import load_checklist, load_schedule
from butler_maint.model.status import Status
from butler_maint.schedule.occurrences import next_occurrence, occurrences, previous_occurrence
from butler_maint.templating import TemplateProblem, render, variables_used
from butler_maint.validate import validate_repo

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "butler_maint" / "starter"
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
HOST = HostInfo("web01", {"disk_max_pct": 85, "n": 3}, ("linux",))

FUZZ = settings(
    max_examples=150,
    deadline=1000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _seeds() -> list[tuple[str, str]]:
    """``(relative path, text)`` of the content files of the repo and of the starter."""
    found = [("butler.yaml", (REPO / "butler.yaml").read_text())]
    for base in (REPO, STARTER):
        for folder in ("checklists", "schedules", "waivers"):
            for path in sorted((base / folder).glob("*.yaml")):
                found.append((f"{folder}/{path.name}", path.read_text()))
    return found


SEEDS = _seeds()
TOKENS = [
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\ufeff",
    '"\\0"',
    '"\\ud800"',
    "{{ 9 ** (9 ** 9) }}",
    "{{ n | bool }}",
    "{{ 1 / 0 }}",
    "{{ 'a' * 999999999 }}",
    "{{ n +",
    "RRULE:FREQ=SECONDLY",
    "RRULE:FREQ=MINUTELY;INTERVAL=0",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "0 0 30 2 *",
    "99999999999999999999h",
    "Z" * 300,
    "[" * 600,
    "{a: " * 100,
    "&a [*a]",
    "*nope",
    "!!python/object:os.system",
    "!vault x",
    "!!int " + "9" * 5000,
    ": :",
    "- - ",
    "\t",
    "'",
    '"',
    "|",
    "~",
    "1e999",
    "2026-02-30",
]
EDITS = st.tuples(
    st.sampled_from(["insert", "delete", "replace-value"]),
    st.floats(0, 1),
    st.sampled_from(TOKENS) | st.text(max_size=8),
)


def _edit(text: str, edit: tuple[str, float, str]) -> str:
    kind, where, token = edit
    at = int(where * len(text))
    if kind == "insert":
        return text[:at] + token + text[at:]
    if kind == "delete":
        return text[:at] + text[at + len(token) + 1 :]
    lines = text.splitlines(keepends=True) or [""]
    i = min(int(where * len(lines)), len(lines) - 1)
    key, colon, _ = lines[i].partition(": ")
    lines[i] = f"{key}{colon or ': '}{token}\n"
    return "".join(lines)


@contextmanager
def _repo(rel: str, text: str) -> Iterator[Path]:
    """A content repo holding the starter's files, with ``rel`` written as ``text``."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        root = Path(tmp) / "content"
        shutil.copytree(STARTER, root)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8", errors="surrogatepass")
        yield root


def _attest(host: HostInfo, check: Check) -> Verdict:
    return Verdict(Status.PENDING)


def _run(root: Path, path: Path) -> None:
    """What ``check`` and ``due`` do with a file that loaded."""
    if path.parent.name == "checklists":
        with suppress(ContentError):
            plan_host(load_checklist(path).model, HOST, {}, _attest)
    if path.parent.name == "schedules":
        try:
            schedule = load_schedule(path).model
        except ContentError:
            return
        occurrences(schedule, NOW - timedelta(days=1), NOW + timedelta(days=1))
        next_occurrence(schedule, NOW)
        previous_occurrence(schedule, NOW)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(EDITS, min_size=1, max_size=3))
def test_mutated_content_loads_or_names_line_and_column(
    seed: tuple[str, str], edits: list[tuple[str, float, str]]
) -> None:
    rel, text = seed
    for edit in edits:
        text = _edit(text, edit)
    with _repo(rel, text) as root:
        path = root / rel
        report = validate_repo(root, syntax_check=False)
        for problem in report.problems:
            if Path(problem.where.path) == path:
                assert problem.where.line >= 1, str(problem)
        _run(root, path)


@settings(FUZZ, max_examples=25)
@given(st.sampled_from([s for s in SEEDS if s[0].startswith("checklists/")]), EDITS)
def test_validate_exits_0_or_2_with_positions(
    seed: tuple[str, str], edit: tuple[str, float, str]
) -> None:
    rel, text = seed
    with _repo(rel, _edit(text, edit)) as root:
        result = CliRunner().invoke(
            cli, ["-C", str(root), "validate", "--no-syntax-check"], catch_exceptions=False
        )
    assert result.exit_code in (0, 2), result.output
    for line in result.stdout.splitlines():
        if line.startswith(rel):
            assert line[len(rel)] == ":" and line[len(rel) + 1].isdigit(), line


# -- recurrences -----------------------------------------------------------------

_NUMBERS = st.integers(-2, 70) | st.sampled_from([0, 366, 10**6, 10**20])
_LISTS = st.lists(_NUMBERS, min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs)))
_PARTS = st.one_of(
    st.builds("INTERVAL={}".format, _NUMBERS),
    st.builds("COUNT={}".format, _NUMBERS),
    st.builds("BYSECOND={}".format, _LISTS),
    st.builds("BYMINUTE={}".format, _LISTS),
    st.builds("BYHOUR={}".format, _LISTS),
    st.builds("BYMONTHDAY={}".format, _LISTS),
    st.builds("BYMONTH={}".format, _LISTS),
    st.builds("BYSETPOS={}".format, _LISTS),
    st.builds("BYYEARDAY={}".format, _LISTS),
    st.builds("BYWEEKNO={}".format, _LISTS),
    st.sampled_from(["BYDAY=MO", "BYDAY=TU,SU", "BYDAY=1MO", "BYDAY=-1FR", "BYDAY=53SA"]),
    st.sampled_from(["UNTIL=19990101T000000", "UNTIL=20270101T000000", "WKST=SU"]),
)
_FREQ = st.sampled_from(["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
_DTSTART = st.sampled_from(["", "DTSTART:19000101T000000\n", "DTSTART:20260315T023000\n"])
RRULES = st.builds(
    lambda start, freq, parts: f"{start}RRULE:FREQ={freq}" + "".join(f";{p}" for p in parts),
    _DTSTART,
    _FREQ,
    st.lists(_PARTS, max_size=4),
)
_CRON_FIELD = st.sampled_from(["*", "0", "5", "*/7", "1-3", "30", "31", "2", "L", "59", "0,30"])
CRONS = st.lists(_CRON_FIELD, min_size=4, max_size=6).map(" ".join)


@FUZZ
@given(RRULES | CRONS | st.text(max_size=20))
def test_any_recurrence_is_refused_with_a_position_or_expands(every: str) -> None:
    text = f"routine: r\nchecklist: baseline\nevery: {json.dumps(every)}\n"
    with _repo("schedules/r.yaml", text) as root:
        path = root / "schedules" / "r.yaml"
        try:
            schedule = load_schedule(path).model
        except ContentError as exc:
            assert all(p.where.line >= 1 for p in exc.problems), str(exc)
            return
    occurrences(schedule, NOW - timedelta(days=2), NOW + timedelta(days=2))
    next_occurrence(schedule, NOW)
    previous_occurrence(schedule, NOW)


# -- templates -------------------------------------------------------------------

_ATOMS = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["99", "9999", "99999999", "2.5", "'ab'", "''", "[1, 2]", "n", "s", "nope"]),
)
_FILTERS = st.sampled_from(
    [
        "int",
        "string",
        "length",
        "bool",
        "center(99999999)",
        "replace('', 'xyz')",
        "format(n)",
        "join(s)",
        "default(1)",
        "indent(n)",
        "round(2)",
    ]
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            "({} {} {})".format,
            inner,
            st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "~"]),
            inner,
        ),
        st.builds("({} | {})".format, inner, _FILTERS),
        st.builds("{}.ljust({})".format, inner, inner),
        st.builds("'{{:>{{}}}}'.format({}, {})".format, inner, inner),
        st.builds("[{}, {}]".format, inner, inner),
    )


EXPRESSIONS = st.recursive(_ATOMS, _extend, max_leaves=6)


@FUZZ
@given(EXPRESSIONS, st.integers(-5, 10**6), st.text(max_size=3))
def test_any_template_compiles_renders_or_is_a_template_problem(
    expression: str, n: int, s: str
) -> None:
    text = "{{ " + expression + " }}"
    with suppress(TemplateProblem):
        variables_used(text)
    with suppress(TemplateProblem):
        render(text, {"n": n, "s": s})
