"""Canonical form and digest of a report.

digest = ``sha256:`` + hex sha256 of the report's canonical JSON without its ``digest``
(and, from schema 2, its ``signature``) key. The canonical JSON depends on the schema:

- schema 2 (``butler_report: 2``): RFC 8785, the JSON Canonicalization Scheme (JCS):
  keys sorted by UTF-16 code units, no whitespace, numbers as ECMAScript writes them
  (``1`` for ``1.0``, ``1e-7``), UTF-8. Any JCS implementation recomputes it.
- schema 1: Python's ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``, kept so that stores written before schema 2 keep verifying.

The document digested is exactly the mapping written to disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import rfc8785

from butler_maint.evidence.model import Report

DIGEST_PREFIX = "sha256:"
JCS_FROM = 2
"""The first schema version whose digest is over the RFC 8785 form."""
UNDIGESTED = frozenset({"digest", "signature"})
"""Keys left out of a schema 2 report's digest (the signature signs the digest)."""
JCS_INT_MAX = 2**53 - 1
"""Integers beyond this are not exact in JSON numbers (RFC 8785 refuses them)."""


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The schema 1 canonical JSON bytes of ``data``."""
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRINGS = re.compile(_STRING)
_TOKENS = re.compile(f"({_STRING})|(-?[0-9][0-9.eE+-]*)")
_FRACTIONAL = re.compile(r"[0-9][.eE]")
_FLOATS = re.compile(r"-?[0-9]+(?:\.[0-9]+(?:e[+-]?[0-9]+)?|e[+-]?[0-9]+)")
_LONG = re.compile(r"[0-9]{16}")


def jcs(data: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON bytes of ``data`` (ValueError for what JCS cannot
    represent: lone surrogates, integers beyond 2**53 - 1, NaN).

    For the values reports hold, RFC 8785 is Python's sorted, compact JSON but for
    numbers with a fraction or exponent and for keys ordered by UTF-16 code units: the
    fast path writes the JSON in C, and when a number is written otherwise than
    ECMAScript writes it (``1.0``, ``1e-07``; ``0.52`` is the same) rewrites the
    numbers; text with characters beyond U+FFFF or numbers of 16 digits or more goes to
    ``rfc8785``.
    """
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    if len(text.encode("utf-16-le")) == 2 * len(text):
        skeleton = _STRINGS.sub("", text)
        if not _LONG.search(skeleton):
            if _FRACTIONAL.search(skeleton) and any(
                es_number(float(t)) != t for t in _FLOATS.findall(skeleton)
            ):  # Python wrote a number as ECMAScript would not (1.0, 1e-07)
                text = _TOKENS.sub(_number_token, text)
            return text.encode("utf-8")
    try:
        return rfc8785.dumps(data)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not representable in RFC 8785 JSON: {exc}") from None


def _number_token(match: re.Match[str]) -> str:
    token = match.group(2)
    if token is None or not any(c in token for c in ".eE"):
        return match.group()
    return es_number(float(token))


def es_number(value: float) -> str:
    """A float as ECMAScript's Number.prototype.toString writes it (RFC 8785 3.2.2.3),
    from Python's shortest round-trip digits."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    if len(digits) <= point <= 21:
        text = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        head = digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{head}e{point - 1:+d}"
    return sign + text


def digest_body(document: Mapping[str, Any]) -> bytes:
    """The bytes a report's digest is the sha256 of."""
    if _version(document) >= JCS_FROM:
        return jcs({k: v for k, v in document.items() if k not in UNDIGESTED})
    return canonical_json({k: v for k, v in document.items() if k != "digest"})


def compute_digest(document: Mapping[str, Any]) -> str:
    """The digest of a report document (its ``digest`` key, if any, left out)."""
    return DIGEST_PREFIX + hashlib.sha256(digest_body(document)).hexdigest()


def _version(document: Mapping[str, Any]) -> int:
    version = document.get("butler_report")
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def sha256_text(text: str) -> str:
    """``sha256:HEX`` of a text's UTF-8 bytes."""
    return DIGEST_PREFIX + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def to_document(report: Report) -> dict[str, Any]:
    """The mapping written to disk: JSON-compatible, unset optional fields left out;
    ``previous``, ``signature`` and ``digest`` last (in that order)."""
    data = report.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("digest", None)
    signature = data.pop("signature", None)
    data["previous"] = report.previous  # kept even when null: the chain's first link
    if signature is not None:
        data["signature"] = signature
    data["digest"] = report.digest
    return data


def scrub(value: Any) -> Any:
    """``value`` with lone surrogates (undecodable bytes) replaced by U+FFFD and integers
    that JSON numbers cannot hold exactly written as text."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > JCS_INT_MAX:
        return str(value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
