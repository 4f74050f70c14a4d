"""``butler-maint validate``: every problem of a content repository, one per line.

Schemas, cross-references (schedules -> checklists, playbooks, freeze files; host
patterns -> inventory), templates (compile, only defined vars per targeted host, and
rendered per targeted host as a run renders them: ``checks.preflight``) and
playbooks (``ansible-playbook --syntax-check``). Problems are collected, never raised.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from butler_maint.checks.preflight import render_problems
from butler_maint.checks.runner import host_vars
from butler_maint.errors import ButlerError, ContentError, Location, Problem
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.base import dotted
from butler_maint.model.checklist import Checklist
from butler_maint.model.config import ProjectConfig, load_config
from butler_maint.model.content import (
    Loaded,
    content_files,
    load_checklist,
    load_freeze_file,
    load_model,
    load_schedule,
    load_system,
)
from butler_maint.model.schedule import ChecklistStep, PlaybookStep, Schedule
from butler_maint.schedule.ics import read_ics
from butler_maint.systems.graph import find_cycle
from butler_maint.systems.members import system_files
from butler_maint.systems.refs import system_refs, tier_refs
from butler_maint.templating import (
    MAGIC_VARS,
    TemplateProblem,
    checklist_templates,
    environment,
    evaluate,
)
from butler_maint.waivers import Waiver, WaiverFile, waiver_files

M = TypeVar("M", bound=BaseModel)
_ORIGIN = re.compile(r"^Origin: (?P<path>.+?):(?P<line>\d+):(?P<col>\d+)\s*$", re.MULTILINE)
_ERROR = re.compile(r"^\[ERROR\]: (?P<msg>.+)$", re.MULTILINE)
SYNTAX_CHECK_TIMEOUT = 120


@dataclass
class Report:
    """What validation found and what it looked at."""

    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, error: ButlerError, where: Path) -> None:
        """Record a raised error as problems."""
        if isinstance(error, ContentError):
            self.problems.extend(error.problems)
        else:
            self.problems.append(Problem(Location(where), error.render()))


@dataclass(frozen=True)
class Vault:
    """The vault passwords of a validation: a password file and ``--vault-id`` entries
    (ansible.cfg's vault settings are added where they are read)."""

    password_file: Path | None = None
    ids: tuple[str, ...] = ()

    def args(self) -> list[str]:
        """The same passwords for ansible-playbook's command line."""
        found = []
        if self.password_file is not None:
            found += ["--vault-password-file", str(self.password_file.absolute())]
        for vault_id in self.ids:
            found += ["--vault-id", vault_id]
        return found


def validate_repo(
    root: Path,
    *,
    syntax_check: bool = True,
    vault_password_file: Path | None = None,
    vault_ids: tuple[str, ...] = (),
) -> Report:
    """Validate the content repository at ``root`` (vault values decrypted with
    ``vault_password_file``, else ``butler.yaml``'s ``vault_password_file``, and
    ``vault_ids``)."""
    report = Report()
    config = _config(root, report)
    configured = root / config.vault_password_file if config.vault_password_file else None
    vault = Vault(vault_password_file or configured, vault_ids)
    inventories = _inventories(root, config, report, vault)
    _signers(root, config, report)
    checklists = _checklists(root, inventories, report)
    _freeze_files(root, report)
    schedules = _schedules(root, checklists, inventories, report)
    _systems(root, checklists, schedules, inventories, report)
    _waivers(root, checklists, inventories, report)
    playbooks = content_files(root / "playbooks")
    report.counts["playbooks"] = len(playbooks)
    if syntax_check:
        default = root / config.inventory
        report.problems.extend(syntax_check_playbooks(playbooks, default, vault))
    report.problems.sort(key=lambda p: (str(p.where.path), p.where.line, p.where.col))
    return report


def _signers(root: Path, config: ProjectConfig, report: Report) -> None:
    """With signing on, ``allowed_signers`` must read (a bad line named by file:line)."""
    from butler_maint.evidence.sshsig import AllowedSigners, SignersFileError

    if config.signing.mode == "off":
        return
    path = root / config.signing.allowed_signers
    try:
        AllowedSigners.load(path)
    except SignersFileError as exc:
        where = Location(exc.path or path, exc.line, 1 if exc.line else 0)
        why = str(exc).split(": ", 1)[1] if exc.line else str(exc).removeprefix(f"{path}: ")
        report.problems.append(Problem(where, why))


def _config(root: Path, report: Report) -> ProjectConfig:
    try:
        return load_config(root)
    except ContentError as exc:
        report.add(exc, root / "butler.yaml")
        return ProjectConfig()


@dataclass(frozen=True)
class Inventories:
    """The configured inventory and the other ones under ``inventories/``, each once.

    A host pattern is resolved in the configured inventory (the one runs use without
    ``-i``); only a pattern it does not match is looked up in the others (content run
    with ``-i inventories/OTHER``).
    """

    configured: Inventory | None
    others: tuple[Inventory, ...] = ()

    def __bool__(self) -> bool:
        return self.configured is not None or bool(self.others)

    def targeted(self, pattern: str) -> list[Inventory]:
        """The inventories a pattern is run against: the configured one when it matches."""
        if self.configured is not None and self.configured.matches(pattern):
            return [self.configured]
        return [inv for inv in self.others if inv.matches(pattern)]

    def sources(self) -> list[Path]:
        """Every loaded inventory source, the configured one first."""
        loaded = [self.configured] if self.configured is not None else []
        return [Path(s) for inv in (*loaded, *self.others) for s in inv.sources]


def _inventories(root: Path, config: ProjectConfig, report: Report, vault: Vault) -> Inventories:
    """Load the configured inventory, then every other one not inside or around it."""
    default = root / config.inventory
    others = [p for p in _inventory_sources(root / "inventories") if not _overlaps(p, default)]
    report.counts["inventories"] = 1 + len(others)
    return Inventories(_load(default, report, vault), tuple(_loaded(others, report, vault)))


def _loaded(sources: list[Path], report: Report, vault: Vault) -> Iterable[Inventory]:
    for source in sources:
        inventory = _load(source, report, vault)
        if inventory is not None:
            yield inventory


def _load(source: Path, report: Report, vault: Vault) -> Inventory | None:
    try:
        return Inventory.load(
            [source], vault_password_file=vault.password_file, vault_ids=vault.ids
        )
    except ButlerError as exc:
        report.add(exc, source)
        return None


def _overlaps(source: Path, default: Path) -> bool:
    """The same inventory: the same path, or one a directory holding the other."""
    a, b = source.resolve(), default.resolve()
    return a == b or a in b.parents or b in a.parents


def _inventory_sources(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    skip = {"group_vars", "host_vars"}
    return [
        p
        for p in sorted(directory.iterdir())
        if (p.is_dir() and p.name not in skip and not p.name.startswith("."))
        or p.suffix in (".yml", ".yaml", ".ini")
    ]


def _load_each(
    paths: Iterable[Path], loader: Callable[[Path], Loaded[M]], report: Report
) -> list[Loaded[M]]:
    """Load every file, recording the problems of those that do not load."""
    loaded = []
    for path in paths:
        try:
            loaded.append(loader(path))
        except ContentError as exc:
            report.add(exc, path)
    return loaded


def _checklists(
    root: Path, inventories: Inventories, report: Report
) -> dict[str, Loaded[Checklist]]:
    found = {
        loaded.model.checklist: loaded
        for loaded in _load_each(content_files(root / "checklists"), load_checklist, report)
    }
    for loaded in found.values():
        report.problems.extend(_checklist_refs(root, loaded, inventories))
    report.counts["checklists"] = len(found)
    return found


def _checklist_refs(
    root: Path, loaded: Loaded[Checklist], inventories: Inventories
) -> list[Problem]:
    checklist, doc = loaded.model, loaded.doc
    problems = _pattern_problems(doc.where(("hosts",)), checklist.hosts, inventories)
    hosts = [
        h for inv in inventories.targeted(checklist.hosts) for h in inv.select(checklist.hosts)
    ]
    defined = set(checklist.vars) | MAGIC_VARS | set(environment().globals)
    reported: set[tuple[str | int, ...]] = set()
    for path, reader, text in checklist_templates(checklist):
        label = dotted(path)
        try:
            used = reader(text)
        except TemplateProblem as exc:
            problems.append(Problem(doc.where(path), f"{label}: {exc}"))
            reported.add(path)
            continue
        if inventories and not hosts:
            continue  # the pattern matched nothing: reported once above
        applies = _hosts_running(checklist, path, hosts)
        if hosts and not applies:
            continue  # `when:` is false on every host: the template is never rendered
        for name in sorted(_undefined(used, defined, applies)):
            msg = f"{label}: template uses an undefined variable {name}"
            problems.append(Problem(doc.where(path), msg))
            reported.add(path)
    for found in render_problems(checklist, hosts, unavailable=False):
        if not any(_nested(found.path, p) or _nested(p, found.path) for p in reported):
            problems.append(Problem(doc.where(found.path), found.message))  # as `check` would
    for i, check in enumerate(checklist.checks):
        if check.testinfra and not (root / check.testinfra).is_file():
            msg = f"checks[{i}].testinfra: module {check.testinfra!r} does not exist"
            problems.append(Problem(doc.where(("checks", i, "testinfra")), msg))
    return problems


def _nested(path: tuple[str | int, ...], inside: tuple[str | int, ...]) -> bool:
    return path[: len(inside)] == inside


def _hosts_running(
    checklist: Checklist, path: tuple[str | int, ...], hosts: list[HostInfo]
) -> list[HostInfo]:
    """The hosts that render the template at ``path``: those where its check's ``when``
    is not false (a ``when`` that cannot be evaluated counts as true: its own line says why).
    """
    if path[0] != "checks" or path[2] == "when" or not isinstance(path[1], int):
        return hosts
    check = checklist.checks[path[1]]
    if not check.when:
        return hosts
    return [h for h in hosts if _when(check.when, host_vars(checklist, h, {}))]


def _when(expression: str, variables: Mapping[str, Any]) -> bool:
    try:
        return evaluate(expression, variables)
    except TemplateProblem:
        return True


def _undefined(used: set[str], defined: set[str], hosts: list[HostInfo]) -> Iterable[str]:
    for name in used - defined:
        lacking = [h.name for h in hosts if name not in h.vars]
        if not hosts:
            yield f"{name!r} (not in the checklist's vars)"
        elif lacking:
            more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            shown = ", ".join(lacking[:3]) + more
            yield f"{name!r} (not in the checklist's vars nor the vars of {shown})"


def _pattern_problems(where: Location, pattern: str, inventories: Inventories) -> list[Problem]:
    if not inventories or inventories.targeted(pattern):
        return []
    sources = ", ".join(_shown(s) for s in inventories.sources())
    return [Problem(where, f"hosts: pattern {pattern!r} matches no host in {sources}")]


def _shown(source: Path | str) -> str:
    path = Path(source)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _freeze_files(root: Path, report: Report) -> None:
    _load_each(content_files(root / "freezes"), load_freeze_file, report)


def _waivers(
    root: Path,
    checklists: dict[str, Loaded[Checklist]],
    inventories: Inventories,
    report: Report,
) -> None:
    """``waivers/*.yaml``: schema, and checklists, check ids and host patterns that exist."""
    count = 0
    for loaded in _load_each(waiver_files(root), partial(load_model, WaiverFile), report):
        count += len(loaded.model.waivers)
        for i, waiver in enumerate(loaded.model.waivers):
            report.problems.extend(_waiver_refs(loaded, i, waiver, checklists, inventories))
    report.counts["waivers"] = count


def _waiver_refs(
    loaded: Loaded[WaiverFile],
    i: int,
    waiver: Waiver,
    checklists: dict[str, Loaded[Checklist]],
    inventories: Inventories,
) -> list[Problem]:
    doc = loaded.doc
    problems = _pattern_problems(doc.where(("waivers", i, "hosts")), waiver.hosts, inventories)
    problems = [Problem(p.where, f"waivers[{i}].{p.message}") for p in problems]
    if waiver.checklist is not None and waiver.checklist not in checklists:
        known = ", ".join(sorted(checklists)) or "none"
        msg = f"waivers[{i}].checklist: no checklist named {waiver.checklist!r} (known: {known})"
        problems.append(Problem(doc.where(("waivers", i, "checklist")), msg))
        return problems
    names = [waiver.checklist] if waiver.checklist else sorted(checklists)
    ids = {c.id for name in names for c in checklists[name].model.checks}
    if waiver.check not in ids:
        where = f"checklist {waiver.checklist!r}" if waiver.checklist else "any checklist"
        msg = f"waivers[{i}].check: no check {waiver.check!r} in {where}"
        problems.append(Problem(doc.where(("waivers", i, "check")), msg))
    return problems


def _schedules(
    root: Path,
    checklists: dict[str, Loaded[Checklist]],
    inventories: Inventories,
    report: Report,
) -> dict[str, Loaded[Schedule]]:
    loaded = _load_each(content_files(root / "schedules"), load_schedule, report)
    for schedule in loaded:
        report.problems.extend(_schedule_refs(root, schedule, checklists, inventories))
    report.counts["schedules"] = len(loaded)
    return {s.model.name: s for s in loaded}


def _systems(
    root: Path,
    checklists: dict[str, Loaded[Checklist]],
    schedules: dict[str, Loaded[Schedule]],
    inventories: Inventories,
    report: Report,
) -> None:
    """``systems/*.yaml``: schema, references, host patterns, no dependency cycle; and
    the systems windows name in their ``tiers``."""
    loaded = _load_each(system_files(root), load_system, report)
    found = {s.model.system: s for s in loaded}
    for system in loaded:
        report.problems.extend(system_refs(system, found, checklists, schedules))
        where = system.doc.where(("hosts",))
        report.problems.extend(_pattern_problems(where, system.model.hosts, inventories))
    cycle = find_cycle({n: s.model.depends_on for n, s in found.items()})
    if cycle is not None:
        first = found[cycle[0]]
        msg = f"depends_on: dependency cycle {' -> '.join(cycle)}"
        report.problems.append(Problem(first.doc.where(("depends_on",)), msg))
    for schedule in schedules.values():
        report.problems.extend(tier_refs(schedule, found))
    if loaded:
        report.counts["systems"] = len(loaded)


def _schedule_refs(
    root: Path,
    loaded: Loaded[Schedule],
    checklists: dict[str, Loaded[Checklist]],
    inventories: Inventories,
) -> list[Problem]:
    schedule, doc = loaded.model, loaded.doc
    problems: list[Problem] = []
    wanted: list[tuple[tuple[str | int, ...], str]] = []
    if schedule.checklist:
        wanted.append((("checklist",), schedule.checklist))
    for i, step in enumerate(schedule.steps):
        if isinstance(step, ChecklistStep):
            wanted.append((("steps", i, "checklist"), step.checklist))
        elif isinstance(step, PlaybookStep) and not (root / step.playbook).is_file():
            msg = f"steps[{i}].playbook: {step.playbook!r} does not exist"
            problems.append(Problem(doc.where(("steps", i, "playbook")), msg))
    for path, name in wanted:
        if name not in checklists:
            known = ", ".join(sorted(checklists)) or "none"
            msg = f"{dotted(path)}: no checklist named {name!r} (known: {known})"
            problems.append(Problem(doc.where(path), msg))
    for i, ref in enumerate(schedule.freeze_files):
        if not (root / ref).is_file():
            msg = f"freeze_files[{i}]: {ref!r} does not exist"
            problems.append(Problem(doc.where(("freeze_files", i)), msg))
        elif ref.endswith(".ics"):
            try:
                read_ics(root / ref)
            except ContentError as exc:
                problems.extend(exc.problems)
    if schedule.hosts:
        problems.extend(_pattern_problems(doc.where(("hosts",)), schedule.hosts, inventories))
    return problems


def syntax_check_playbooks(
    playbooks: list[Path], inventory: Path | None, vault: Vault | None = None
) -> list[Problem]:
    """Run ``ansible-playbook --syntax-check`` on each playbook (a few at a time)."""
    if not playbooks:
        return []
    with ThreadPoolExecutor(max_workers=min(4, len(playbooks))) as pool:
        results = pool.map(lambda p: _syntax_check(p, inventory, vault), playbooks)
    return [problem for found in results for problem in found]


def ansible_command(name: str) -> str:
    """Path of an Ansible CLI installed beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _syntax_check(playbook: Path, inventory: Path | None, vault: Vault | None) -> list[Problem]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    command = [ansible_command("ansible-playbook"), "--syntax-check", str(playbook)]
    command += ["-i", str(inventory) if inventory else "localhost,"]
    if vault is not None:
        command += vault.args()
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=SYNTAX_CHECK_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Problem(Location(playbook), f"ansible-playbook --syntax-check failed: {exc}")]
    if done.returncode == 0:
        return []
    return [_syntax_problem(playbook, done.stdout + done.stderr)]


def _syntax_problem(playbook: Path, output: str) -> Problem:
    error, origin = _ERROR.search(output), _ORIGIN.search(output)
    message = error.group("msg") if error else (output.strip().splitlines() or ["failed"])[-1]
    if origin:
        where = Location(origin.group("path"), int(origin.group("line")), int(origin.group("col")))
    else:
        where = Location(playbook)
    return Problem(where, f"playbook: {message}")
