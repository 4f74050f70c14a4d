"""Judging testinfra's JUnit XML: distinct parametrized ids, whole assertion texts, the
end of a collection error's traceback, and the note on a module's own hosts."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from butler_maint.checks.testinfra import MAX_MESSAGE, case_id, judge_module, parse_junit
from butler_maint.executors.testinfra import ModuleRun, module_environment, sets_testinfra_hosts

HOST = "ssh://butler-target"


def junit(*cases: str) -> str:
    return f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>"


def test_parametrized_ids_keep_their_parameters_without_the_host() -> None:
    assert case_id(f"test_dirs[{HOST}-/etc/app]", HOST) == "test_dirs[/etc/app]"
    assert case_id(f"test_dirs[/etc/app-{HOST}]", HOST) == "test_dirs[/etc/app]"
    assert case_id(f"test_user[{HOST}]", HOST) == "test_user"
    assert case_id("test_local[local-a-b]", "local") == "test_local[a-b]"
    assert case_id("test_plain", HOST) == "test_plain"


def test_whole_assertion_text_is_kept() -> None:
    message = "assert False\n +  where False = <file /etc/x>.is_directory"
    text = junit(
        f'<testcase name="test_d[{HOST}-/etc/x]"><failure message={quoteattr(message)}>tb'
        "</failure></testcase>",
        f'<testcase name="test_d[{HOST}-/etc/y]"/>',
    )
    subs = parse_junit(text, HOST)
    assert [(s.name, s.status, s.message) for s in subs] == [
        ("test_d[/etc/x]", "fail", message),
        ("test_d[/etc/y]", "pass", ""),
    ]
    long = "assert " + "x" * 5000
    (sub,) = parse_junit(junit(f'<testcase name="t"><failure message="{long}"/></testcase>'))
    assert len(sub.message) == MAX_MESSAGE and sub.message.startswith("assert xxx")


def test_a_collection_error_keeps_the_end_of_its_traceback() -> None:
    trace = "\n".join(f"frame {i}" for i in range(1000)) + "\nE   KeyError: 'MOLECULE_X'"
    case = (
        '<testcase classname="" name="test_mod"><error message="collection failure">'
        f"{trace}</error></testcase>"
    )
    verdict, subs = judge_module(ModuleRun(junit(case), 2, host_id=HOST))
    (sub,) = subs
    assert sub.status == "error" and sub.name == "test_mod"
    assert sub.message.startswith("collection failure: ")
    assert sub.message.endswith("E   KeyError: 'MOLECULE_X'")
    assert len(sub.message) <= MAX_MESSAGE
    assert verdict.status == "error" and "KeyError: 'MOLECULE_X'" in verdict.message


def test_the_note_on_module_hosts_is_in_the_expectation() -> None:
    note = "the module's testinfra_hosts is not used: run on web01, as selected"
    verdict, _ = judge_module(ModuleRun(junit('<testcase name="t"/>'), 0, host_id=HOST, note=note))
    assert verdict.status == "pass" and verdict.expected == f"all tests pass ({note})"


def test_module_level_testinfra_hosts_is_found_without_running_the_module(tmp_path: Path) -> None:
    module = tmp_path / "test_m.py"
    module.write_text("import os\ntestinfra_hosts = os.environ['X']\n")
    assert sets_testinfra_hosts(module)
    module.write_text("def test_a(host):\n    testinfra_hosts = 1\n")
    assert not sets_testinfra_hosts(module)
    module.write_text("testinfra_hosts: list[str] = ['a']\n")
    assert sets_testinfra_hosts(module)
    module.write_text("def (:\n")
    assert not sets_testinfra_hosts(module)


def test_module_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setenv("PATH", "/usr/bin")
    env = module_environment(tmp_path / "inv.yml")
    assert env["PATH"].split(":")[:2] == [str(Path(sys.executable).parent), "/usr/bin"]
    assert env["MOLECULE_INVENTORY_FILE"] == str(tmp_path / "inv.yml")
    monkeypatch.delenv("MOLECULE_INVENTORY_FILE", raising=False)
    assert "MOLECULE_INVENTORY_FILE" not in module_environment(None)
