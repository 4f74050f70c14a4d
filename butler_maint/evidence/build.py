"""From a draft to a report: long outputs moved to artifacts, summary, failures,
overall result, chain fields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from butler_maint.evidence.model import (
    SCHEMA_MINOR,
    Output,
    Report,
    ReportDraft,
    Result,
    Signer,
    Step,
)
from butler_maint.evidence.summary import failures, overall, summarize

INLINE_MAX = 4096
"""Outputs longer than this (UTF-8 bytes) keep only their head in the report."""


@dataclass
class Spill:
    """Full texts of truncated outputs, by hex sha256: written to the run's artifacts."""

    limit: int = INLINE_MAX
    texts: dict[str, bytes] = field(default_factory=dict)

    def output(self, output: Output) -> Output:
        """``output``, truncated to ``limit`` bytes with the full text kept aside."""
        if output.truncated:
            return output
        raw = output.text.encode("utf-8", "replace")
        if len(raw) <= self.limit:
            return output
        digest = hashlib.sha256(raw).hexdigest()
        self.texts[digest] = raw
        head = raw[: self.limit].decode("utf-8", "ignore")
        return Output(text=head, truncated=True, bytes=len(raw), sha256=f"sha256:{digest}")

    def result(self, result: Result) -> Result:
        """``result`` with its own and its sub-results' outputs truncated."""
        if result.output is None and not result.sub:
            return result
        update: dict[str, object] = {}
        if result.output is not None:
            update["output"] = self.output(result.output)
        if result.sub:
            update["sub"] = [self.result(sub) for sub in result.sub]
        return result.model_copy(update=update)

    def steps(self, steps: list[Step]) -> list[Step]:
        """``steps`` with every long output truncated."""
        return [
            step.model_copy(update={"results": [self.result(r) for r in step.results]})
            if any(r.output is not None or r.sub for r in step.results)
            else step
            for step in steps
        ]


def finalize(
    draft: ReportDraft,
    *,
    report_id: str,
    steps: list[Step],
    previous: str | None,
    artifacts: str | None,
    signer: Signer | None = None,
) -> Report:
    """The report for ``draft`` (digest left empty: the store computes it); with a
    ``signer``, the operator is the signer's principal (``identity: signed``)."""
    summary = summarize(steps)
    elapsed = draft.finished - draft.started
    return Report(
        schema_minor=SCHEMA_MINOR,
        id=report_id,
        kind=draft.kind,
        name=draft.name,
        result=overall(draft, summary),
        summary=summary,
        failures=failures(steps),
        error=draft.error,
        dry_run=draft.dry_run,
        trigger=draft.trigger,
        operator=signer.principal if signer else draft.operator,
        identity="signed" if signer else "declared",
        signer=signer,
        started=draft.started,
        finished=draft.finished,
        duration_ms=max(0, round(elapsed.total_seconds() * 1000)),
        override=draft.override,
        approval=draft.approval,
        rerun_of=draft.rerun_of,
        stopped=draft.stopped,
        batches=draft.batches,
        tiers=draft.tiers,
        tools=draft.tools,
        content=draft.content,
        inventory=draft.inventory,
        host_keys=draft.host_keys,
        steps=steps,
        decision=draft.decision,
        artifacts=artifacts,
        previous=previous,
        digest="",
    )
