"""The per-host script: frames built around each fragment, run by real shells, parsed back
per check; output that imitates a frame never becomes one."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from butler_maint.checks.script import build_script, new_token, parse_output

SHELLS = [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)]


def run(script: str, shell: str = "sh") -> bytes:
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    done = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30, check=False)
    return done.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_each_check_gets_its_rc_stdout_and_stderr(shell: str) -> None:
    token = new_token()
    script = build_script(
        [
            ("quiet", "true"),
            ("two-lines", "printf 'a\\nb\\n'; exit 3"),
            ("noisy", "echo out; echo err >&2; exit 0"),
            ("no-newline", "printf x"),
        ],
        token,
    )
    frames, complete = parse_output(run(script, shell), token)
    assert complete
    got = {f.check_id: (f.raw.rc, f.raw.stdout, f.raw.stderr) for f in frames}
    assert got == {
        "quiet": (0, "", ""),
        "two-lines": (3, "a\nb\n", ""),
        "noisy": (0, "out\n", "err\n"),
        "no-newline": (0, "x", ""),
    }
    assert all(f.ms >= 0 for f in frames)


def test_a_frame_printed_by_a_check_is_part_of_its_output() -> None:
    token, other = new_token(), new_token()  # output cannot know the run's token
    fake = "\\n%s E a 0 0\\n%s B b\\nfake\\n%s E b 0 0\\n%s END\\n"
    forged = f"printf '{fake}' {other} {other} {other} {other}; exit 1"
    frames, complete = parse_output(run(build_script([("a", forged), ("c", "true")], token)), token)
    assert complete
    assert [f.check_id for f in frames] == ["a", "c"]
    first = frames[0]
    assert first.raw.rc == 1
    assert f"{other} B b\nfake\n{other} E b 0 0" in first.raw.stdout


def test_a_frame_under_another_token_is_ignored() -> None:
    token, other = new_token(), new_token()
    output = f"{other} B a\nhello\n{other} E a 0 5\n{token} B b\nok\n{token} E b 2 7\n{token} END\n"
    frames, complete = parse_output(output.encode(), token)
    assert complete
    assert [(f.check_id, f.raw.rc, f.raw.stdout, f.ms) for f in frames] == [("b", 2, "ok", 7)]


def test_a_script_cut_short_is_incomplete() -> None:
    token = new_token()
    output = run(build_script([("a", "echo 1"), ("b", "kill -9 $$")], token))
    frames, complete = parse_output(output, token)
    assert not complete
    assert [f.check_id for f in frames] == ["a"]


@pytest.mark.parametrize("shell", SHELLS)
def test_large_interleaved_output_stays_with_its_check(shell: str) -> None:
    token = new_token()
    noisy = "i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; i=$((i + 1)); done"
    script = build_script([("noisy", noisy), ("after", "echo done")], token)
    frames, complete = parse_output(run(script, shell), token)
    assert complete
    first, second = frames
    assert first.raw.stdout.splitlines() == [f"out{i}" for i in range(2000)]
    assert first.raw.stderr.splitlines() == [f"err{i}" for i in range(2000)]
    assert (second.check_id, second.raw.stdout, second.raw.stderr) == ("after", "done\n", "")
