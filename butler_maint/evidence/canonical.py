"""Canonical form and digest of a report.

digest = ``sha256:`` + hex sha256 of the report as JSON with sorted keys, no
whitespace, UTF-8 (``ensure_ascii`` off), without its ``digest`` key. The document
digested is exactly the mapping written to disk, so anyone can recompute it from the
YAML file (or a JSON export) with any JSON library that sorts keys the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from butler_maint.evidence.model import Report

DIGEST_PREFIX = "sha256:"


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of ``data``."""
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def compute_digest(document: Mapping[str, Any]) -> str:
    """The digest of a report document (its ``digest`` key, if any, left out)."""
    body = {key: value for key, value in document.items() if key != "digest"}
    return DIGEST_PREFIX + hashlib.sha256(canonical_json(body)).hexdigest()


def sha256_text(text: str) -> str:
    """``sha256:HEX`` of a text's UTF-8 bytes."""
    return DIGEST_PREFIX + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def to_document(report: Report) -> dict[str, Any]:
    """The mapping written to disk: JSON-compatible, unset optional fields left out."""
    data = report.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("digest", None)
    data["previous"] = report.previous  # kept even when null: the chain's first link
    data["digest"] = report.digest
    return data


def scrub(value: Any) -> Any:
    """``value`` with lone surrogates (undecodable bytes) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
