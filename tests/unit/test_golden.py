"""Golden files: ``tests/golden/<type>/<case>.yaml`` = spec + captured output -> verdict.

Each file holds ``{spec, rc, stdout, stderr?, expect: {status, observed, expected?}}``;
one loop turns every file into a test case of the type's pure judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.checks.base import Raw
from butler_maint.checks.types import NOT_FRAGMENTS, REGISTRY
from butler_maint.checks.types.versions import at_least, compare_versions
from butler_maint.model.checks import CHECK_TYPES, Check

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(GOLDEN.glob("*/*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: expected a mapping"
    return data


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    kind, case = path.parent.name, _load(path)
    spec = Check.model_validate({"id": "g", kind: case["spec"]}).spec
    raw = Raw(case["rc"], case.get("stdout", ""), case.get("stderr", ""))
    got = REGISTRY[kind].judge(spec, raw)
    want = case["expect"]
    assert got.status == want["status"], got
    assert got.observed == want.get("observed"), got
    if "expected" in want:
        assert got.expected == want["expected"], got


def test_registry_names() -> None:
    assert set(REGISTRY) == set(CHECK_TYPES) - NOT_FRAGMENTS
    assert all(name == check_type.name for name, check_type in REGISTRY.items())


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_type_has_golden_files(kind: str) -> None:
    statuses = {_load(p)["expect"]["status"] for p in (GOLDEN / kind).glob("*.yaml")}
    assert {"pass", "fail", "error"} <= statuses, f"{kind}: golden statuses {statuses}"


def test_no_stray_golden_directories() -> None:
    assert {p.name for p in GOLDEN.iterdir() if p.is_dir()} <= set(REGISTRY)


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        ("1.0~rc1", "1.0", -1),
        ("1.0~~", "1.0~", -1),
        ("1.0", "1.0-0", 0),
        ("1.0a", "1.0", 1),
        ("1.0.0", "1.0", 1),
        ("1.0+b1", "1.0", 1),
        ("1.2.10", "1.2.9", 1),
        ("1:1.0", "2.0", 1),
        ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
        ("3.0.11-1~deb12u2", "3.0.11-1", -1),
        ("5.14.0-427.13.1.el9_4", "5.14.0-362.8.1.el9_3", 1),
        ("(none):0.17-85.el9", "0.17-85.el9", 0),
        ("1.10", "1.9", 1),
    ],
)
def test_version_order(a: str, b: str, sign: int) -> None:
    assert compare_versions(a, b) == sign
    assert compare_versions(b, a) == -sign


def test_minimum_without_epoch_ignores_the_installed_epoch() -> None:
    assert at_least("1:3.0.7-27.el9", "3.0")
    assert not at_least("1:3.0.7-27.el9", "3.2")
    assert not at_least("1:3.0.7-27.el9", "2:1.0")
    assert at_least("1:3.0.7-27.el9", "1:3.0.7")
