"""Mutation fuzzer of the content loader (not a test; run it before a release).

Mutates the repository's own content files (``checklists/``, ``schedules/``,
``butler.yaml``, ``waivers/`` and the starter content of ``butler-maint init``) and
feeds each mutant to everything that reads content: ``validate`` (schemas, references,
templates), the occurrence expansion behind ``due``/``calendar``/``run-due``, and the
per-host rendering and script building of ``check``. Every mutant must load, or fail
with a ContentError whose problems in the mutated file name ``path:line:col``, within
``--limit`` seconds (1 s by default). Anything else is a finding: it is printed grouped
by kind (exception class and the line of butler-maint it came from), with the smallest
input seen for it, and the exit status is 1.

    .venv/bin/python benchmarks/fuzz_content.py [--minutes M | --examples N] [--seed S]

A mutant that runs past ``--timeout`` seconds is interrupted (SIGALRM) and reported
as a hang.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import yaml

from butler_maint.checks.base import Verdict
from butler_maint.checks.runner import plan_host
from butler_maint.checks.script import build_script
from butler_maint.checks.types import REGISTRY
from butler_maint.errors import ContentError
from butler_maint.inventory import HostInfo
from butler_maint.model.checks import Check
from butler_maint.model.content import content_files, load_checklist, load_schedule
from butler_maint.model.schedule import Schedule
from butler_maint.model.status import Status
from butler_maint.schedule.freezes import schedule_freezes
from butler_maint.schedule.occurrences import next_occurrence, occurrences, previous_occurrence
from butler_maint.validate import validate_repo

REPO = Path(__file__).resolve().parent.parent
STARTER = REPO / "butler_maint" / "starter"
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
HOST = HostInfo("web01", {"disk_max_pct": 85, "app_dir": "/srv/app", "n": 3}, ("linux",))

CHARS = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\ufeff", "\ue000", "é", "😀"]
TEMPLATES = [
    "{{ 9**(9**9) }}",
    "{{ 9**9**9**9 }}",
    "{{ 10**5000 }}",
    "{{ 2.0**99999 }}",
    "{{ 1/0 }}",
    "{{ 7 // 0 }}",
    "{{ 'a' * 999999999 }}",
    "{{ [1] * 999999999 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%0999999999d' | format(1) }}",
    "{{ 'x' | center(999999999) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ lipsum(99999999) }}",
    "{{ range(99999999) | list }}",
    "{{ n | bool }}",
    "{{ n is truthy }}",
    "{{ x | to_json }}",
    "{{ n + }}",
    "{% for i in x %}",
    "{{ env('HOME') }}",
    "{{ ''.__class__ }}",
    "{{ disk_max_pct }}",
    "{{ -9e999 }}",
    "{{ n }}{{ n }}",
    "{{ " + "(" * 400 + "n" + ")" * 400 + " }}",
    "{{ " + "[" * 400 + "]" * 400 + " }}",
    "{% if n %}" * 300,
    "{{ n.__class__ }}",
    "{{ n|int|string|length }}",
    "{{ (n * 99999999)|string * 99999 }}",
    "{% set a = 'x' * 99999 %}{{ a * 99999 }}",
    "{{ 'x' ~ 9**99999 }}",
    "{{ 10**4400 }}",
    "{{ (2**64)|float ** 99 }}",
    "{{ 'a' | indent(999999999) }}",
    "{{ 'a b' | wordwrap(0) }}",
    "{{ 'a' | truncate(-1) }}",
    "{{ range(0, 99999999999, 1) | length }}",
    "{{ 1 is divisibleby 0 }}",
    "{{ n | round(999999999) }}",
    "{{ 'a' | replace('', 'x' * 99999) }}",
    "{{ '%s' % n }}",
    "{{ n | abs | bool }}",
]
RECURRENCES = [
    "RRULE:FREQ=SECONDLY",
    "RRULE:FREQ=MINUTELY;INTERVAL=0",
    "RRULE:FREQ=HOURLY;INTERVAL=0",
    "RRULE:FREQ=MINUTELY;BYSECOND=0,30",
    "RRULE:FREQ=SECONDLY;INTERVAL=60",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=31",
    "RRULE:FREQ=WEEKLY;BYSETPOS=9;BYDAY=MO",
    "RRULE:FREQ=YEARLY;COUNT=0",
    "RRULE:FREQ=DAILY;UNTIL=19990101T000000",
    "RRULE:FREQ=DAILY;BYHOUR=99",
    "RRULE:FREQ=DAILY;WKST=XX",
    "RRULE:FREQ=MINUTELY;INTERVAL=99999999999999999999",
    "RRULE:FREQ=DAILY;COUNT=99999999999999999999",
    "DTSTART:19000101T000000\nRRULE:FREQ=MINUTELY",
    "DTSTART:99991231T235959\nRRULE:FREQ=DAILY",
    "DTSTART:00010101T000000\nRRULE:FREQ=DAILY",
    "DTSTART;TZID=Nowhere/Land:20260101T000000\nRRULE:FREQ=DAILY",
    "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY",
    "RRULE:FREQ=DAILY\nRRULE:FREQ=DAILY;BYSECOND=30",
    "RRULE:FREQ=DAILY\nRDATE:20260101T000030",
    "RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY",
    "RRULE:",
    "rrule:freq=daily",
    "* * * * *",
    "* * * * * *",
    "0 0 30 2 *",
    "0 0 31 4 *",
    "*/0 * * * *",
    "0 0 * * 8",
    "@reboot",
    "@hourly",
    "60 24 32 13 8",
    "0 2 * * SUN#6",
    "0 2 L * *",
    "0 2 1W * *",
    "0 0 29 2 1",
    "0 0 1 1 * 2099",
    "0-59/61 * * * *",
    "1-0 * * * *",
    "0 0 0 * *",
]
VALUES = [
    "999999999999d",
    "99999999999999999999h",
    "0m",
    "0%",
    "101%",
    "9" * 400,
    "-1",
    "1e999",
    "-.inf",
    ".nan",
    "0x",
    "0o8",
    "2026-02-30",
    "2026-01-01T25:00",
    "9999-12-31",
    "0001-01-01",
    "2026-01-01T00:00:00+25:00",
    "Not/AZone",
    "../../../etc/passwd",
    "freezes/../../x.ics",
    "~",
    "[]",
    "{}",
    "[[]]",
    "|",
    ">-",
    "'",
    '"',
    '"\\0"',
    '"\\x00"',
    '"\\u0000"',
    '"\\ud800"',
    '"\\U0010ffff"',
    '"\\e"',
    "!!python/object/apply:os.system [id]",
    "!vault |\n  abc",
    "!!binary AAAA",
    "!!timestamp 2026-13-45",
    "!!int x",
    "!!float x",
    "!!bool maybe",
    "!!null x",
    "!!str",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!map []",
    "!!seq {}",
    "!<tag:yaml.org,2002:int> 1",
    "&a 1",
    "*a",
    "*nope",
    "&a [*a]",
    "{<<: *a}",
    "<<: 1",
    "? [a]\n: b",
    "? {a: 1}",
    "%YAML 1.1\n---",
    "%TAG ! tag:x,2000:\n---",
    "---",
    "...",
    "--- a\n--- b",
    "- - -",
    "\t",
    "a: b: c",
    "[a, b",
    "{a: 1, a: 2}",
    "- id: x\n  manual: m",
    'contains: "\\0"',
]
CALENDAR = [
    "DTSTART:00010101T000000",
    "DTSTART;TZID=Etc/GMT-14:99991231T235959",
    "DTSTART;TZID=Nowhere/Land:20260101T000000",
    "DTSTART;VALUE=DATE:99991231",
    "DTEND;VALUE=DATE:2026",
    "DURATION:P99999999999D",
    "DURATION:-P1W",
    "DURATION:PT",
    "RRULE:FREQ=DAILY",
    "STATUS:CANCELLED",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "END:VCALENDAR",
    "SUMMARY:\\",
    " folded",
]
TOKENS = TEMPLATES + RECURRENCES + VALUES
GROUPS = {"checklists": TEMPLATES, "schedules": RECURRENCES, "freezes": CALENDAR}
ICS_REF = "[freezes/year-end.yaml, freezes/calendar.ics]"
FOLDER = ""


@dataclass(frozen=True)
class Seed:
    """A content file of a base repository, and its text."""

    base: Path
    rel: str
    text: str


@dataclass
class Finding:
    """One kind of failure: how often, and the smallest input that showed it."""

    count: int = 0
    example: str = ""
    rel: str = ""
    detail: str = ""


@dataclass
class Tally:
    """What a run found."""

    examples: int = 0
    findings: dict[str, Finding] = field(default_factory=dict)

    def add(self, kind: str, seed: Seed, text: str, detail: str) -> None:
        """Count one occurrence of ``kind``, keeping the smallest input."""
        found = self.findings.setdefault(kind, Finding())
        found.count += 1
        if not found.example or len(text) < len(found.example):
            found.example, found.rel, found.detail = text, seed.rel, detail


class Hang(Exception):
    """Raised by the alarm when one mutant runs past the timeout."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the body with ``Hang`` after ``seconds`` (Python code only)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- mutations -----------------------------------------------------------------


def _spot(rng: random.Random, text: str) -> int:
    return rng.randrange(len(text) + 1)


def _insert_char(rng: random.Random, text: str) -> str:
    at = _spot(rng, text)
    return text[:at] + rng.choice(CHARS) + text[at:]


def _delete(rng: random.Random, text: str) -> str:
    at = _spot(rng, text)
    return text[:at] + text[at + rng.randint(1, 40) :]


def _duplicate(rng: random.Random, text: str) -> str:
    at, to = sorted((_spot(rng, text), _spot(rng, text)))
    return text[:to] + text[at:to] + text[to:]


def _token(rng: random.Random) -> str:
    """A token, from the group that matters most to the file half of the time."""
    return rng.choice(GROUPS.get(FOLDER, TOKENS) if rng.random() < 0.5 else TOKENS)


def _token_value(rng: random.Random, text: str) -> str:
    """Replace what follows a ``key:`` or ``- `` on one line by a token."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return _token(rng)
    i = rng.randrange(len(lines))
    line = lines[i]
    cut = line.find(": ") + 2 if ": " in line else line.find("- ") + 2
    token = _token(rng)
    if "\n" in token:  # a block scalar keeps a multi-line token in one value
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        token = "|\n" + "".join(indent + part + "\n" for part in token.split("\n"))
    elif rng.random() < 0.5 and not token.startswith(("!", "&", "*", "'", '"')):
        token = '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if cut <= 1:
        cut = len(line) - len(line.lstrip())
    lines[i] = line[:cut] + token + ("\n" if not token.endswith("\n") else "")
    return "".join(lines)


def _leaves(data: object, path: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _token_leaf(rng: random.Random, text: str) -> str:
    """Parse the file, replace one scalar by a token, write it back (keeps the file valid
    YAML, so the token reaches the models, templates and recurrences)."""
    try:
        data = yaml.safe_load(text)
        paths = list(_leaves(data))
        if not paths or not paths[0]:
            return _token_value(rng, text)
        *parents, last = rng.choice(paths)
        holder = data
        for part in parents:
            holder = holder[part]
        holder[last] = _token(rng)
        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    except Exception:  # a mutant PyYAML itself cannot read or write: mutate its text
        return _token_value(rng, text)


def _token_anywhere(rng: random.Random, text: str) -> str:
    at = _spot(rng, text)
    return text[:at] + _token(rng) + text[at:]


def _swap_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return text
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def _nest(rng: random.Random, text: str) -> str:
    """Replace a value by a deeply nested one (flow sequences, mappings or blocks)."""
    depth = rng.choice([60, 65, 100, 500, 1000, 3000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}"), ("- ", "")])
    if closer:
        deep = opener * depth + closer * depth
    else:
        deep = "\n" + "".join("  " * d + "- \n" for d in range(depth))
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if ": " in line]
    if not keyed:
        return text + "x: " + deep + "\n"
    i = rng.choice(keyed)
    lines[i] = lines[i][: lines[i].index(": ") + 2] + deep + "\n"
    return "".join(lines)


def _reindent(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = rng.randrange(len(lines))
    lines[i] = " " * rng.randint(0, 9) + lines[i].lstrip(" ")
    return "".join(lines)


MUTATIONS: list[Callable[[random.Random, str], str]] = [
    _insert_char,
    _delete,
    _duplicate,
    _token_value,
    _token_leaf,
    _token_leaf,
    _token_leaf,
    _token_anywhere,
    _swap_lines,
    _nest,
    _reindent,
]


def mutate(rng: random.Random, text: str, folder: str = "") -> str:
    """Apply one to four random mutations (``folder`` favours the tokens it reads)."""
    global FOLDER  # noqa: PLW0603 - the mutators' context, set once per mutant
    FOLDER = folder
    for _ in range(rng.randint(1, 4)):
        text = rng.choice(MUTATIONS)(rng, text)
    return text


# -- what reads content --------------------------------------------------------


def _attest(host: HostInfo, check: Check) -> Verdict:
    return Verdict(Status.PENDING)


def _run_checklist(path: Path) -> None:
    """What ``check`` does before it reaches a host: render per host, build the script."""
    checklist = load_checklist(path).model
    planned = plan_host(checklist, HOST, {}, _attest)
    build_script([(c.id, REGISTRY[c.kind].fragment(spec)) for c, spec in planned.send], "t0k")


def _run_schedule(root: Path, schedule: Schedule) -> None:
    """What ``due``, ``calendar`` and ``run-due`` do with a schedule that loaded."""
    occurrences(schedule, NOW - timedelta(days=2), NOW + timedelta(days=2))
    next_occurrence(schedule, NOW)
    previous_occurrence(schedule, NOW)
    with suppress(ContentError):
        schedule_freezes(root, schedule)


def exercise(root: Path, path: Path) -> list[str]:
    """Everything that reads ``path``; returns problems of ``path`` lacking a position."""
    report = validate_repo(root, syntax_check=False)
    unplaced = [str(p) for p in report.problems if Path(p.where.path) == path and not p.where.line]
    if path.parent.name == "checklists":
        with suppress(ContentError):
            _run_checklist(path)
    for schedule_path in content_files(root / "schedules"):
        try:
            schedule = load_schedule(schedule_path).model
        except ContentError:
            continue
        _run_schedule(root, schedule)
    return unplaced


def _origin(exc: BaseException) -> str:
    """``Class at file:line`` of the innermost butler-maint frame of a traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "butler_maint" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {where}"


def one(seed: Seed, root: Path, text: str, tally: Tally, *, limit: float, timeout: float) -> None:
    """Write the mutant in place of the seed, run everything on it, record findings."""
    path = root / seed.rel
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.monotonic()
    try:
        with deadline(timeout):
            unplaced = exercise(root, path)
    except Hang:
        tally.add(f"hang (> {timeout:g} s)", seed, text, "")
        return
    except Exception as exc:
        tally.add(_origin(exc), seed, text, "".join(traceback.format_exception(exc)[-3:]))
        return
    finally:
        path.write_text(seed.text, encoding="utf-8")
    spent = time.monotonic() - started
    if spent > limit:
        tally.add(f"slow (> {limit:g} s)", seed, text, f"{spent:.1f} s")
    for problem in unplaced:
        tally.add("problem without line:col", seed, text, problem)


# -- driver --------------------------------------------------------------------


def _base(into: Path, source: Path, parts: list[str]) -> Path:
    into.mkdir(parents=True)
    for part in parts:
        if (source / part).is_dir():
            shutil.copytree(source / part, into / part)
        elif (source / part).is_file():
            shutil.copy2(source / part, into / part)
    return into


def seeds(workdir: Path) -> list[Seed]:
    """The content files of the repository and of the starter, each in its own copy."""
    parts = ["butler.yaml", "checklists", "schedules", "waivers", "freezes", "inventories"]
    repo = _base(workdir / "repo", REPO, [*parts, "playbooks"])
    starter = _base(workdir / "starter", STARTER, [*parts, "playbooks"])
    shutil.copy2(REPO / "tests" / "fixtures" / "freezes.ics", repo / "freezes" / "calendar.ics")
    patching = repo / "schedules" / "weekly-patching.yaml"
    text = patching.read_text(encoding="utf-8")
    patching.write_text(text.replace("[freezes/year-end.yaml]", ICS_REF), encoding="utf-8")
    found: list[Seed] = [Seed(repo, "freezes/calendar.ics", _read(repo / "freezes/calendar.ics"))]
    for base in (repo, starter):
        files = [base / "butler.yaml"]
        for folder in ("checklists", "schedules", "waivers", "freezes"):
            files += content_files(base / folder)
        for path in files:
            if path.is_file():
                found.append(Seed(base, str(path.relative_to(base)), _read(path)))
    return found


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def report(tally: Tally, spent: float) -> int:
    """Print the findings; 1 when there are any."""
    print(f"{tally.examples} mutants in {spent:.0f} s, {len(tally.findings)} kind(s) of finding")
    for kind, found in sorted(tally.findings.items(), key=lambda kv: -kv[1].count):
        print(f"\n== {kind}: {found.count}x, smallest in {found.rel}:")
        print("\n".join("   | " + line for line in found.example[:1500].splitlines()))
        if found.detail:
            print("   " + found.detail.strip().replace("\n", "\n   ")[:1500])
    return 1 if tally.findings else 0


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer for ``--minutes`` or ``--examples``; exit 1 on any finding."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="Run for this long.")
    parser.add_argument("--examples", type=int, default=None, help="Run this many mutants.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (runs repeat).")
    parser.add_argument("--limit", type=float, default=1.0, help="Slow above (seconds).")
    parser.add_argument("--timeout", type=float, default=10.0, help="A hang above (seconds).")
    args = parser.parse_args(argv)
    if args.minutes is None and args.examples is None:
        args.examples = 2000
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.monotonic()
    stop = started + args.minutes * 60 if args.minutes is not None else float("inf")
    with tempfile.TemporaryDirectory(prefix="butler-fuzz-") as tmp:
        corpus = seeds(Path(tmp))
        while time.monotonic() < stop and (args.examples is None or tally.examples < args.examples):
            seed = rng.choice(corpus)
            text = mutate(rng, seed.text, Path(seed.rel).parent.name)
            one(seed, seed.base, text, tally, limit=args.limit, timeout=args.timeout)
            tally.examples += 1
    return report(tally, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
