"""Anchors: the chain head recorded outside the store, so that a rewrite of the store
(every report re-chained, even re-signed with the operator's own key), a truncation or a
``.head`` rolled back is found by ``report verify``.

The witness file (``evidence.witness`` in ``butler.yaml``: a path outside the store that
the operator cannot rewrite, e.g. on another machine's mount, or a file made append-only
with ``chattr +a``) gets one JSON line per anchor, appended after every report written
and by ``report anchor``::

    {"anchored":"2026-11-29T01:03:00.000Z","count":42,"digest":"sha256:...","id":"..."}

``count`` is the chain's length at that head: verify checks that the chain's report
number ``count`` is still that report with that digest.

With ``evidence.git: true`` and ``evidence.anchor_remote: NAME``, each anchor is also a
git tag ``anchor/<count>/<hex digest>`` on the evidence commit of that head (signed by
the operator's key, ``git tag -s`` with ``gpg.format=ssh``, when signing is on), pushed
to that remote; verify reads the remote's ``refs/tags/anchor/*`` names. A remote that
refuses deletions (``receive.denyDeletes``) keeps them whatever the store's owner does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from butler_maint.evidence import fsutil
from butler_maint.evidence.errors import EvidenceError
from butler_maint.evidence.model import iso_z


@dataclass(frozen=True)
class Anchor:
    """One anchored head."""

    digest: str
    count: int
    id: str
    anchored: str
    line: int = 0


def anchor_line(digest: str, count: int, report_id: str, at: datetime) -> str:
    """The witness line for a head."""
    record = {"anchored": iso_z(at), "count": count, "digest": digest, "id": report_id}
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def append_anchor(witness: Path, digest: str, count: int, report_id: str, at: datetime) -> None:
    """Append one anchor to ``witness`` (created 0640 when missing; a link is refused)."""
    fsutil.make_dirs(witness.parent)
    fsutil.append_line(witness, anchor_line(digest, count, report_id, at))


def read_anchors(witness: Path) -> tuple[list[Anchor], list[str]]:
    """The anchors of ``witness`` and what is wrong with its lines (none if missing)."""
    try:
        raw = fsutil.read_file(witness)
    except FileNotFoundError:
        return [], []
    except (OSError, EvidenceError) as exc:
        return [], [f"cannot read the witness file: {exc}"]
    anchors, bad = [], []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        try:
            data = json.loads(line)
            anchors.append(
                Anchor(str(data["digest"]), int(data["count"]), str(data["id"]),
                       str(data["anchored"]), number)
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            bad.append(f"line {number} is not an anchor")
    return anchors, bad


TAG_PREFIX = "anchor/"


def tag_name(count: int, digest: str) -> str:
    """The git tag of an anchored head."""
    return f"{TAG_PREFIX}{count}/{digest.removeprefix('sha256:')}"


def tag_anchor(ref: str) -> Anchor | None:
    """The anchor a tag ref (``refs/tags/anchor/N/HEX``) names, or None."""
    parts = ref.removeprefix("refs/tags/").removesuffix("^{}").split("/")
    if len(parts) != 3 or f"{parts[0]}/" != TAG_PREFIX or not parts[1].isdigit():
        return None
    return Anchor("sha256:" + parts[2], int(parts[1]), "(tagged)", ref.removesuffix("^{}"))


def anchor_problem(anchor: Anchor, chain: Sequence[tuple[str, str | None]]) -> str | None:
    """Why ``anchor`` no longer holds for ``chain`` ((id, digest) oldest first), or None."""
    at = anchor.count - 1
    if 0 <= at < len(chain) and chain[at][1] == anchor.digest:
        return None
    where = f"line {anchor.line}: " if anchor.line else f"tag {anchor.anchored}: "
    where += f"head {anchor.id} ({anchor.digest[:19]}...) anchored as report {anchor.count}"
    if anchor.line:
        where += f" at {anchor.anchored}"
    same = [n for n, (rid, _) in enumerate(chain) if rid == anchor.id]
    if same:
        return f"{where} is not in the chain: report {anchor.id} was rewritten"
    if anchor.count > len(chain):
        return (
            f"{where} is not in the chain, which has {len(chain)} reports: truncated, or "
            ".head rolled back"
        )
    return f"{where} is not in the chain: the chain was rewritten"
