"""Schema 2 digests are over the RFC 8785 form; schema 1 reports keep the form they
were written with, and a store holding both verifies."""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct
from pathlib import Path

import rfc8785

from butler_maint.evidence import EvidenceStore, Result, Status, verify_store
from butler_maint.evidence.canonical import canonical_json, compute_digest, jcs
from butler_maint.evidence.layout import HEAD_FILE
from butler_maint.evidence.yamlio import Reader, render
from tests.fixtures.evidence.factory import draft
from tests.harness.jcs import canonical


def test_jcs_writes_numbers_as_ecmascript_does() -> None:
    doc = {"b": 1.0, "a": 1e-07, "c": [1e21, 1e20, 0.52], "d": "é\u2028\x01"}
    expected = '{"a":1e-7,"b":1,"c":[1e+21,100000000000000000000,0.52],"d":"é\u2028\\u0001"}'
    assert jcs(doc) == expected.encode()
    assert canonical_json(doc) != jcs(doc)  # what schema 1 wrote: 1.0, 1e-07
    assert jcs(doc) == canonical(doc).encode()


def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    doc = {"\ue000": 1, "\U0001f600": 2}  # U+1F600 is D83D DE00 in UTF-16: before U+E000
    assert list(json.loads(jcs(doc))) == ["\U0001f600", "\ue000"]


def test_digest_rule_follows_the_schema_version() -> None:
    body = {"butler_report": 2, "x": 1.0, "signature": "not digested"}
    assert (
        compute_digest(body) == "sha256:" + hashlib.sha256(b'{"butler_report":2,"x":1}').hexdigest()
    )
    v1 = {"butler_report": 1, "x": 1.0}
    assert compute_digest(v1) == "sha256:" + hashlib.sha256(canonical_json(v1)).hexdigest()


def _as_schema_1(store: EvidenceStore, path: Path) -> None:
    """Rewrite the store's only report as schema 1 wrote it (and its head)."""
    doc = Reader().load(path.read_bytes())
    doc["butler_report"] = 1
    doc.pop("identity")
    doc["digest"] = compute_digest(doc)
    path.write_text(render(doc))
    head = json.loads((store.root / HEAD_FILE).read_text())
    (store.root / HEAD_FILE).write_text(json.dumps({**head, "digest": doc["digest"]}))
    store.rebuild_index()


def test_a_schema_1_store_goes_on_with_schema_2_reports(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    first = store.write(draft(0))
    _as_schema_1(store, first.path)
    second = store.write(draft(1))
    docs = [Reader().load(w.path.read_bytes()) for w in (first, second)]
    assert [d["butler_report"] for d in docs] == [1, 2]
    assert docs[1]["previous"] == docs[0]["digest"]
    assert docs[1]["identity"] == "declared"
    verdict = verify_store(tmp_path)
    assert verdict.ok and verdict.chained == 2, verdict.problems
    first.path.write_text(first.path.read_text().replace("web00", "web99", 1))
    assert verify_store(tmp_path).problems[0].kind == "edited"


def test_integers_beyond_json_precision_are_kept_as_text(tmp_path: Path) -> None:
    big = 2**64 + 1
    d = draft(0)
    step = d.steps[0].model_copy(update={"results": [
        Result(host="h", check="c", status=Status.PASS, observed=big)]})  # fmt: skip
    written = EvidenceStore(tmp_path).write(d.model_copy(update={"steps": [step]}))
    doc = Reader().load(written.path.read_bytes())
    assert doc["steps"][0]["results"][0]["observed"] == str(big)
    assert verify_store(tmp_path).ok


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1) if rng.random() < 0.2 else rng.randint(-99, 99)
    if kind == 2:
        raw = struct.unpack("d", rng.randbytes(8))[0]
        return raw if math.isfinite(raw) else rng.choice([1.0, 1e-7, 1e21, 0.5])
    if kind in (3, 4):
        alphabet = 'ab"\\\n\x01\x7fé\u2028\ue000\U0001f600 1.5e3:,{}'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind in (5, 6):
        return {str(_value(rng, 3)): _value(rng, depth + 1) for _ in range(rng.randrange(5))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_the_fast_path_agrees_with_rfc8785_and_the_independent_implementation() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        doc = {"v": _value(rng), "w": _value(rng)}
        assert jcs(doc) == rfc8785.dumps(doc) == canonical(doc).encode(), doc
