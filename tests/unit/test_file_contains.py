"""The ``file`` (and ``http``) check's ``contains``: matched on the host by ``grep -E``,
which cannot receive a NUL (the shell drops it, and ``grep -e ''`` matches everything).
Such a pattern, and an empty one, is refused where it is written, and again after a
template rendered it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from butler_maint.checks.base import Raw
from butler_maint.checks.types import REGISTRY
from butler_maint.errors import ContentError
from butler_maint.model.checks import Check, FileSpec, HttpSpec
from butler_maint.model.content import load_checklist

CHECKLIST = "checklist: c\nchecks:\n  - id: f\n    file: {{path: /etc/motd, contains: {value}}}\n"


def test_file_contains_nul_is_refused_where_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CHECKLIST.format(value='"\\u0000"'))
    with pytest.raises(ContentError, match=r"c\.yaml:4:39: a NUL character \(\\0\)"):
        load_checklist(path)


def test_file_contains_empty_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CHECKLIST.format(value='""'))
    with pytest.raises(ContentError, match=r"c\.yaml:4:29: checks\[0\]\.file\.contains: an empty"):
        load_checklist(path)


@pytest.mark.parametrize("spec", [FileSpec, HttpSpec])
@pytest.mark.parametrize("pattern", ["\x00", "^root\x00", ""])
def test_a_pattern_grep_cannot_carry_is_refused_after_rendering(
    spec: type[FileSpec | HttpSpec], pattern: str
) -> None:
    """A template may render to a NUL: the spec is validated again after rendering."""
    key = "path" if spec is FileSpec else "url"
    with pytest.raises(ValidationError, match=r"NUL character|empty pattern"):
        spec.model_validate({key: "/x", "contains": pattern})


@pytest.mark.parametrize(("pattern", "status"), [("^root:", "pass"), ("^nobody-here:", "fail")])
def test_an_accepted_pattern_is_judged_on_the_host(
    pattern: str, status: str, tmp_path: Path
) -> None:
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0::/root:/bin/sh\n")
    spec = Check.model_validate({"id": "f", "file": {"path": str(target), "contains": pattern}})
    fragment = REGISTRY["file"].fragment(spec.spec)
    assert "\0" not in fragment
    done = subprocess.run(["sh", "-c", fragment], capture_output=True, text=True, check=False)
    verdict = REGISTRY["file"].judge(spec.spec, Raw(done.returncode, done.stdout, done.stderr))
    assert verdict.status == status, verdict
