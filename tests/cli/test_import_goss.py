"""`butler-maint import goss` as a user runs it: the file written, the notes on stderr,
the exit codes, --force, and `validate` accepting the result in a content repository."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "goss"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    assert run("init", str(target)).exit_code == 0
    return target


def test_public_goss_file_imports_into_a_repo_that_validates(starter: Path) -> None:
    output = starter / "checklists" / "goss-docs.yaml"
    done = run("import", "goss", str(FIXTURES / "rendered_goss.yaml"), "-o", str(output))
    assert done.exit_code == 1, done.output  # written, with keys not translated
    notes = [line for line in done.stderr.splitlines() if "rendered_goss.yaml:" in line]
    assert len(notes) == 16
    assert notes[0].endswith(
        "rendered_goss.yaml:5: file./ect/password/static.size: "
        "butler-maint checks min_size_bytes, not an exact size; left out"
    )
    assert "26 checks written to" in done.stderr
    text = output.read_text()
    assert text.count("\n# ") + 1 >= 16 + 2  # the notes as comments, after two header lines
    assert yaml.safe_load(text)["checklist"] == "goss-docs"
    checked = run("-C", str(starter), "validate", "--no-syntax-check")
    assert checked.exit_code == 0, checked.output
    assert "checklists" in checked.stderr


def test_nothing_left_out_exits_zero_and_prints_without_output(tmp_path: Path) -> None:
    source = tmp_path / "goss.yaml"
    source.write_text("user:\n  root: {exists: true, uid: 0}\ngroup:\n  root: {gid: 0}\n")
    done = run("import", "goss", str(source))
    assert done.exit_code == 0, done.output
    data = yaml.safe_load(done.stdout)
    assert data["checklist"] == "goss"
    assert [c["id"] for c in data["checks"]] == ["user-root", "group-root"]
    assert "2 checks written; 0 keys not translated" in done.stderr


def test_an_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    output = tmp_path / "checklists" / "web.yaml"
    output.parent.mkdir()
    output.write_text("mine\n")
    source = FIXTURES / "trusty-goss.yaml"
    done = run("import", "goss", str(source), "-o", str(output))
    assert done.exit_code == 2
    assert f"{output}: exists; pass --force to overwrite it" in done.stderr
    assert output.read_text() == "mine\n"
    done = run("import", "goss", str(source), "-o", str(output), "--force", "--hosts", "web")
    assert done.exit_code == 1
    assert yaml.safe_load(output.read_text())["hosts"] == "web"
    assert [p.name for p in output.parent.iterdir()] == ["web.yaml"]  # no temporary left


def test_bad_input_exits_two_naming_the_place(tmp_path: Path) -> None:
    source = tmp_path / "goss.yaml"
    source.write_text("package:\n  nginx: {installed: true\n")
    done = run("import", "goss", str(source))
    assert done.exit_code == 2
    assert f"{source}:3:1:" in done.stderr
    source.write_text("package:\n  nginx: {installed: true}\n")
    done = run("import", "goss", str(source), "-o", str(tmp_path / "a.yaml"), "--name", "b")
    assert done.exit_code == 2
    assert "--name 'b' must equal the output file name 'a'" in done.stderr
    assert not (tmp_path / "a.yaml").exists()
