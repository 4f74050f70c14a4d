"""Run a checklist on its hosts: plan (render per host) -> execute (one script per host,
hosts in parallel) -> judge (pure) -> plain results for the evidence store.

Vars precedence: checklist ``vars`` < inventory vars (group_vars, host_vars) < ``-e``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from butler_maint.checks.base import CheckType, Raw, Status, Verdict
from butler_maint.checks.script import Framed, build_script, new_token, parse_output
from butler_maint.checks.testinfra import SubResult
from butler_maint.executors import Execution, OutputLimits, Segment
from butler_maint.inventory import HostInfo
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check, Spec
from butler_maint.redact import Redactor
from butler_maint.templating import TemplateProblem, evaluate, render_data, resolving, templates_in

Executor = Callable[[HostInfo, str, OutputLimits], Execution]
Attest = Callable[[HostInfo, Check], Verdict]
Registry = Mapping[str, CheckType]
Testinfra = Callable[[HostInfo, str], tuple[Verdict, list[SubResult]]]


@dataclass(frozen=True)
class CheckResult:
    """One (host, check) outcome, redacted, ready for the evidence report."""

    host: str
    check: str
    status: Status
    observed: Any = None
    expected: str | None = None
    ms: int = 0
    message: str = ""
    kind: str = ""
    sub: tuple[SubResult, ...] = ()
    cut: Segment | None = None  # the check's output, when it was too long to keep whole
    attempts: int = 1  # how many times the check ran (``retries``)
    worker: str | None = None  # the segment's worker that ran it (None: this process)
    redelivered_from: tuple[str, ...] = ()  # workers that took its shard before and stopped


@dataclass(frozen=True)
class HostRun:
    """All results of one host plus how it was reached."""

    host: str
    results: list[CheckResult]
    host_key: str | None = None
    reached: bool = True
    new_host_key: bool = False  # ``host_key`` was unknown and trusted (--accept-new-host-keys)

    def with_results(self, results: list[CheckResult]) -> HostRun:
        """The same host run with other results (e.g. waived)."""
        return replace(self, results=results)


@dataclass
class Planned:
    """A host's checks after rendering: what to send, and what is already decided."""

    host: HostInfo
    send: list[tuple[Check, Spec]] = field(default_factory=list)
    modules: list[tuple[Check, str]] = field(default_factory=list)
    decided: dict[str, Verdict] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def host_vars(checklist: Checklist, host: HostInfo, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The variables templates of ``checklist`` see on ``host``."""
    return {**checklist.vars, **host.vars, **extra}


def plan_host(
    checklist: Checklist, host: HostInfo, extra: Mapping[str, Any], attest: Attest
) -> Planned:
    """Render every check for ``host``; ``when`` false -> skipped; manual -> attest.

    A template that cannot render is the check's ``error`` here; runs refuse to start
    on such templates first (``checks.preflight``), so this is the last line."""
    variables = resolving(host_vars(checklist, host, extra))
    planned = Planned(host)
    for check in checklist.checks:
        planned.kinds[check.id] = check.kind
        try:
            if check.when and not evaluate(check.when, variables):
                planned.decided[check.id] = Verdict(Status.SKIPPED, message=f"when: {check.when}")
                continue
            spec = render_spec(check, variables)
        except (TemplateProblem, ValidationError, ValueError) as exc:
            planned.decided[check.id] = Verdict(Status.ERROR, message=_short(exc))
            continue
        if check.manual is not None:
            planned.decided[check.id] = attest(host, check)
        elif isinstance(spec, str) and check.testinfra is not None:
            planned.modules.append((check, spec))
        else:
            planned.send.append((check, spec))
    return planned


def render_spec(check: Check, variables: Mapping[str, Any]) -> Spec:
    """The check's spec with every template rendered and values typed again."""
    spec = check.spec
    if isinstance(spec, str):
        rendered: str = render_data(spec, variables)
        return rendered
    data = spec.model_dump(exclude_none=True)
    if not any(True for _ in templates_in(data)):
        return spec  # nothing to render: the validated spec as loaded
    return type(spec).model_validate(render_data(data, variables))


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"after rendering, {where}: {first['msg']}"
    return str(exc)


@dataclass(frozen=True)
class Context:
    """What executing a planned host needs besides the plan."""

    executor: Executor
    redactor: Redactor
    registry: Registry
    testinfra: Testinfra | None = None
    stop: threading.Event | None = None  # ends the wait between a check's attempts


RETRY_ON = frozenset({Status.FAIL, Status.ERROR, Status.UNREACHABLE})
"""Statuses a check with ``retries`` runs again on (a host coming back from a reboot)."""


def execute_host(planned: Planned, ctx: Context) -> HostRun:
    """Send one script to the host, parse and judge every check, then run testinfra.

    Checks with ``retries`` that failed, errored or found the host unreachable run again
    (only they, in one script) after their ``delay``, until they pass or run out of
    attempts; a stop ends the waiting. Each result records its number of attempts."""
    host = planned.host
    verdicts: dict[str, tuple[Verdict, int]] = {k: (v, 0) for k, v in planned.decided.items()}
    attempts: dict[str, int] = {}
    cuts: dict[str, Segment | None] = {}
    execution: Execution | None = None
    pending, attempt = planned.send, 1
    while pending:
        token = new_token()
        fragments = [(c.id, ctx.registry[c.kind].fragment(spec)) for c, spec in pending]
        limits = OutputLimits(frame_marker=f"{token} ".encode())
        execution = ctx.executor(host, build_script(fragments, token), limits)
        verdicts.update(_judge_all(pending, execution, token, ctx.registry))
        for check, _ in pending:
            attempts[check.id] = attempt
            cuts[check.id] = execution.segment_after(f"{token} B {check.id}".encode())
        pending = [
            (c, spec)
            for c, spec in pending
            if c.retries >= attempt and verdicts[c.id][0].status in RETRY_ON
        ]
        if pending and _stopped_while_waiting(ctx.stop, max(c.delay for c, _ in pending)):
            break
        attempt += 1
    subs: dict[str, list[SubResult]] = {}
    for check, module in planned.modules:
        verdicts[check.id], subs[check.id] = _testinfra(ctx, host, module, execution)
    results = [
        _result(host.name, check_id, verdict, ms, planned.kinds[check_id], ctx.redactor)
        for check_id, (verdict, ms) in verdicts.items()
    ]
    results = [_with_subs(r, subs.get(r.check, []), ctx.redactor) for r in results]
    results = [
        replace(r, cut=cuts.get(r.check), attempts=attempts.get(r.check, 1)) for r in results
    ]
    reached = execution is None or execution.status != "unreachable"
    key, new = (execution.host_key, execution.new_host_key) if execution else (None, False)
    return HostRun(host.name, results, key, reached, new)


def _stopped_while_waiting(stop: threading.Event | None, delay_s: float) -> bool:
    """Wait ``delay_s`` before the next attempt; True when a stop came meanwhile."""
    if stop is None:
        time.sleep(delay_s)
        return False
    return stop.wait(delay_s)


def _with_subs(result: CheckResult, subs: list[SubResult], redactor: Redactor) -> CheckResult:
    if not subs:
        return result
    return replace(result, sub=tuple(replace(s, message=redactor.text(s.message)) for s in subs))


def _testinfra(
    ctx: Context, host: HostInfo, module: str, execution: Execution | None
) -> tuple[tuple[Verdict, int], list[SubResult]]:
    if execution is not None and execution.status != "ok":
        status: Status = Status.UNREACHABLE if execution.status == "unreachable" else Status.ERROR
        return (Verdict(status, message=execution.message), 0), []
    if ctx.testinfra is None:
        return (Verdict(Status.ERROR, message="no testinfra runner configured"), 0), []
    started = time.monotonic()
    verdict, subs = ctx.testinfra(host, module)
    return (verdict, int((time.monotonic() - started) * 1000)), subs


def _judge_all(
    send: list[tuple[Check, Spec]], execution: Execution, token: str, registry: Registry
) -> dict[str, tuple[Verdict, int]]:
    if execution.status != "ok":
        status: Status = Status.UNREACHABLE if execution.status == "unreachable" else Status.ERROR
        return {c.id: (Verdict(status, message=execution.message), 0) for c, _ in send}
    framed, complete = parse_output(execution.stdout, token)
    found: dict[str, Framed] = {f.check_id: f for f in framed}
    out: dict[str, tuple[Verdict, int]] = {}
    for check, spec in send:
        frame = found.get(check.id)
        if frame is None:
            why = _script_died(execution, complete)
            out[check.id] = (Verdict(Status.ERROR, message=why), 0)
            continue
        out[check.id] = (_safe_judge(registry[check.kind].judge, spec, frame.raw), frame.ms)
    return out


def _safe_judge(judge: Callable[[Any, Raw], Verdict], spec: Spec, raw: Raw) -> Verdict:
    try:
        return judge(spec, raw)
    except Exception as exc:  # a judge bug must cost one result, not the run
        return Verdict(
            Status.ERROR, message=f"could not judge the output: {type(exc).__name__}: {exc}"
        )


def _script_died(execution: Execution, complete: bool) -> str:
    detail = execution.stderr.decode("utf-8", "replace").strip().splitlines()
    tail = f": {detail[-1][:200]}" if detail else ""
    return f"the check script stopped before this check (exit {execution.rc}){tail}"


def _result(  # noqa: PLR0917 - a plain record builder
    host: str, check_id: str, verdict: Verdict, ms: int, kind: str, redactor: Redactor
) -> CheckResult:
    return CheckResult(
        host=host,
        check=check_id,
        status=verdict.status,
        observed=redactor.value(check_id, verdict.observed),
        expected=None if verdict.expected is None else redactor.text(verdict.expected),
        ms=ms,
        message=redactor.text(verdict.message),
        kind=kind,
    )


STOP_POLL_S = 0.1  # how often a waiting run looks at its stop
STOP_GRACE_S = 5.0
"""After a stop, how long the hosts still running get to end their scripts (the
executors kill them on the host within about a second) before the run moves on."""


def not_run(checklist: Checklist, host: str, message: str) -> HostRun:
    """Every check of ``checklist`` on ``host`` recorded ``not_run`` with ``message``."""
    results = [
        CheckResult(host, c.id, Status.NOT_RUN, message=message, kind=c.kind)
        for c in checklist.checks
    ]
    return HostRun(host, results)


def run_checklist(
    checklist: Checklist,
    hosts: list[HostInfo],
    *,
    ctx: Context,
    attest: Attest,
    forks: int = 20,
    extra_vars: Mapping[str, Any] | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
    on_host_done: Callable[[HostRun], None] | None = None,
) -> list[HostRun]:
    """Run ``checklist`` on ``hosts``, at most ``forks`` at a time; results in host order.

    Every host is planned first (manual items are attested then, before any progress
    display starts); ``on_start(n)`` is called when execution begins. Once ``stop`` is
    set the run stops waiting: hosts not finished are recorded ``not_run`` (the executors
    see the same ``stop`` and end their hosts' scripts).
    """
    extra = extra_vars or {}
    plans = [plan_host(checklist, host, extra, attest) for host in hosts]  # asks manual items
    if on_start:
        on_start(len(plans))
    done: dict[str, HostRun] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(plans))))
    waiting: set[Future[HostRun]] = {pool.submit(execute_host, plan, ctx) for plan in plans}
    while waiting and not (stop is not None and stop.is_set()):
        finished, waiting = wait(waiting, timeout=STOP_POLL_S, return_when=FIRST_COMPLETED)
        for future in finished:
            run = future.result()
            done[run.host] = run
            if on_host_done:
                on_host_done(run)
    if waiting:  # stopped: let the executors end their hosts' scripts, within the grace
        pool.shutdown(wait=False, cancel_futures=True)
        wait(waiting, timeout=STOP_GRACE_S)
    pool.shutdown(wait=not waiting)
    message = "not run: the run was interrupted before this host finished"
    return _in_order(
        checklist, [done.get(h.name) or not_run(checklist, h.name, message) for h in hosts]
    )


def _in_order(checklist: Checklist, runs: list[HostRun]) -> list[HostRun]:
    """Each host's results in checklist order."""
    order = {c.id: i for i, c in enumerate(checklist.checks)}
    return [r.with_results(sorted(r.results, key=lambda x: order[x.check])) for r in runs]
