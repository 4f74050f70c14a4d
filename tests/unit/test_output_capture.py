"""Executors keep a bounded part of a script's output, and count and hash all of it.

The streams here are real: the per-host check script run by ``sh``, fed to a
:class:`Capture` in chunks cut at arbitrary places (the network cuts them anywhere).
"""

from __future__ import annotations

import hashlib
import random
import subprocess

import pytest

from butler_maint.checks.script import build_script, new_token, parse_output
from butler_maint.executors import FRAME_BYTES, FRAME_LINE_MAX, Capture, OutputLimits

SPLITS = [1, 2, 3, 5, 17, 64, 4096, 65536]


def framed_output(fragments: list[tuple[str, str]]) -> tuple[bytes, str]:
    token = new_token()
    script = build_script(fragments, token)
    done = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, check=True)
    return done.stdout, token


def fed(stream: bytes, limits: OutputLimits, seed: int) -> Capture:
    """``stream`` through a Capture, in chunks of random sizes."""
    rng = random.Random(seed)
    capture = Capture(limits)
    at = 0
    while at < len(stream):
        size = rng.choice(SPLITS)
        capture.feed(stream[at : at + size])
        at += size
    capture.finish()
    return capture


FRAGMENTS = [
    ("hello", "echo hello"),
    ("quiet", "true"),
    ("no-newline", "printf 'no newline'"),
    ("blank-lines", "echo; echo; echo"),
    ("chatty", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2"),
    ("after", "echo after; exit 3"),
]


def marker(token: str) -> bytes:
    return (token + " ").encode()


@pytest.mark.parametrize("seed", range(20))
def test_below_the_caps_the_stream_is_kept_byte_for_byte(seed: int) -> None:
    stream, token = framed_output(FRAGMENTS)
    capture = fed(stream, OutputLimits(frame_marker=marker(token)), seed)
    assert capture.kept == stream
    assert capture.cut == ()
    assert capture.size == len(stream)
    assert capture.sha256 == hashlib.sha256(stream).hexdigest()


@pytest.mark.parametrize("seed", range(20))
def test_a_chatty_check_is_cut_and_the_others_keep_their_output(seed: int) -> None:
    stream, token = framed_output(FRAGMENTS)
    full = {f.check_id: f.raw for f in parse_output(stream, token)[0]}
    limits = OutputLimits(keep_bytes=64 * 1024, segment_bytes=500, frame_marker=marker(token))
    capture = fed(stream, limits, seed)
    kept, complete = parse_output(capture.kept, token)
    assert complete
    assert [f.check_id for f in kept] == [check_id for check_id, _ in FRAGMENTS]
    for frame in kept:
        whole = full[frame.check_id]
        assert (frame.raw.rc, frame.raw.stderr) == (whole.rc, whole.stderr)
        if frame.check_id == "chatty":
            assert len(frame.raw.stdout) == 500
            assert whole.stdout.startswith(frame.raw.stdout)
        else:
            assert frame.raw.stdout == whole.stdout
    (cut,) = capture.cut
    chatty = full["chatty"].stdout.encode()
    assert cut.after == f"{token} B chatty".encode()
    assert (cut.size, cut.kept) == (len(chatty), 500)
    assert cut.sha256 == hashlib.sha256(chatty).hexdigest()
    assert capture.size == len(stream)
    assert capture.sha256 == hashlib.sha256(stream).hexdigest()


def test_past_the_stream_cap_later_checks_keep_their_frames() -> None:
    """Their output is counted and hashed, not kept; their exit status still arrives."""
    stream, token = framed_output(FRAGMENTS)
    limits = OutputLimits(keep_bytes=100, segment_bytes=100, frame_marker=marker(token))
    capture = fed(stream, limits, 0)
    kept, complete = parse_output(capture.kept, token)
    assert complete
    assert [(f.check_id, f.raw.rc) for f in kept][-1] == ("after", 3)
    after = next(s for s in capture.cut if s.after == f"{token} B after".encode())
    assert (after.size, after.kept) == (len(b"after\n"), 0)
    assert after.sha256 == hashlib.sha256(b"after\n").hexdigest()
    assert len(capture.kept) <= 100 + FRAME_BYTES


def test_without_a_marker_the_head_is_kept() -> None:
    stream = b"x" * 10_000
    capture = fed(stream, OutputLimits(keep_bytes=1000), 0)
    assert capture.kept == stream[:1000]
    (cut,) = capture.cut
    assert (cut.after, cut.size, cut.kept) == (b"", 10_000, 1000)
    assert cut.sha256 == capture.sha256 == hashlib.sha256(stream).hexdigest()


def test_a_long_line_starting_with_the_marker_is_output() -> None:
    token = new_token()
    line = (token + " B " + "y" * (FRAME_LINE_MAX + 10)).encode()
    stream = b"before\n" + line + b"\nafter\n"
    capture = fed(stream, OutputLimits(frame_marker=marker(token)), 3)
    assert capture.kept == stream
    assert capture.cut == ()


def test_forged_frame_lines_cannot_grow_memory() -> None:
    """Frame lines are kept past the caps, but only up to their own budget."""
    token = new_token()
    lines = (f"{token} B x\n".encode()) * (2 * FRAME_BYTES // 20)
    capture = Capture(OutputLimits(keep_bytes=1000, segment_bytes=100, frame_marker=marker(token)))
    for at in range(0, len(lines), 65536):
        capture.feed(lines[at : at + 65536])
    capture.finish()
    assert capture.size == len(lines)
    assert len(capture.kept) <= 1000 + FRAME_BYTES
