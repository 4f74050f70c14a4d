"""A new user's first hour: `init` gives a git repository whose commits run validate,
`.gitignore` keeps derived files out, and `validate` judges what a run would do."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli

pytestmark = pytest.mark.integration

IDENTITY = ["-c", "user.name=Ops", "-c", "user.email=ops@example.org"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *IDENTITY, "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo.parent)},
    )


@pytest.fixture
def content(tmp_path: Path) -> Path:
    target = tmp_path / "maintenance"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    return target


def test_init_makes_a_repository_with_a_pre_commit_hook(content: Path) -> None:
    assert (content / ".git").is_dir()
    hook = content / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)
    assert "butler_maint validate" in hook.read_text()


def test_a_commit_of_broken_content_is_refused_and_a_good_one_commits(content: Path) -> None:
    baseline = content / "checklists" / "baseline.yaml"
    good = baseline.read_text()
    baseline.write_text(good.replace("max_used_pct: 80", "max_used_pct: lots", 1))
    assert git(content, "add", ".").returncode == 0
    refused = git(content, "commit", "-m", "broken")
    assert refused.returncode != 0
    assert "checklists/baseline.yaml" in refused.stdout + refused.stderr
    assert git(content, "rev-parse", "--verify", "HEAD").returncode != 0  # nothing committed

    baseline.write_text(good.replace("max_used_pct: 80", "max_used_pct: 75", 1))
    assert git(content, "add", ".").returncode == 0
    done = git(content, "commit", "-m", "Starter content")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validate: ok" in done.stderr
    assert git(content, "status", "--porcelain").stdout == ""


def test_init_keeps_an_existing_hook(tmp_path: Path) -> None:
    target = tmp_path / "content"
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    hook = target / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    result = run("init", "--force", str(target))
    assert result.exit_code == 0, result.output
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert "kept the existing" in result.output


def test_rendered_site_and_evidence_are_ignored(content: Path) -> None:
    (content / "site").mkdir()
    (content / "site" / "index.html").write_text("<html></html>")
    (content / "evidence").mkdir()
    (content / "evidence" / "index.jsonl").write_text("{}\n")
    status = git(content, "status", "--porcelain", "--untracked-files=all").stdout
    assert "site/" not in status
    assert "evidence/" not in status
    assert git(content, "check-ignore", "-q", "site/index.html").returncode == 0


def test_the_next_hint_works_in_a_new_shell(content: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(content.parent / "other")])
    hint = next(line for line in result.stderr.splitlines() if line.startswith("next: "))
    command = hint.removeprefix("next: ")
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(content.parent)},
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "validate: ok" in done.stderr
    assert shlex.split(command)[0].endswith("butler-maint")


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_validate_honours_when_per_host(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "butler.yaml": "inventory: inventories/hosts.yml\n",
            "inventories/hosts.yml": (
                "all:\n  children:\n    web:\n      hosts:\n"
                "        web1: {ansible_connection: local, tls: true, cert_days: 21}\n"
                "        web2: {ansible_connection: local, tls: false}\n"
            ),
            "checklists/web.yaml": (
                "checklist: web\ntitle: Web\nowner: ops\nhosts: web\nchecks:\n"
                "  - id: cert\n    when: tls\n"
                "    command: {run: 'echo {{ cert_days }}', expect: {rc: 0}}\n"
            ),
        },
    )
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 0, result.output

    (root / "inventories/hosts.yml").write_text(
        (root / "inventories/hosts.yml").read_text().replace("tls: false", "tls: true")
    )
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert "undefined variable 'cert_days'" in result.output
    assert "web2" in result.output and "web1" not in result.output


def test_validate_reads_the_configured_inventory_once(tmp_path: Path) -> None:
    web = "all:\n  children:\n    web:\n      hosts:\n        {}: {{ansible_connection: local}}\n"
    root = _write(
        tmp_path,
        {
            "butler.yaml": "inventory: inventories/prod/hosts.yml\n",
            "inventories/prod/hosts.yml": web.format("p1"),
            "inventories/prod/host_vars/p1.yml": "port: 443\n",
            "inventories/lab.yml": web.format("lab1"),
            "checklists/web.yaml": (
                "checklist: web\ntitle: Web\nowner: ops\nhosts: web\nchecks:\n"
                "  - id: https\n    port: {port: '{{ port }}'}\n"
            ),
        },
    )
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 0, result.output  # lab1 lacks `port`, but runs use prod
    assert "(2 inventories," in result.output  # prod/ and lab.yml, prod not twice
