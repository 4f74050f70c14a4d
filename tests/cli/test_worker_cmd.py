"""``butler-maint worker``'s refusals before it starts: no broker configured, a segment
name that cannot be a queue, a broker nobody answers at (its exit codes)."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from butler_maint.cli import cli


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns


def test_without_a_broker_a_worker_says_what_to_configure(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["-C", str(tmp_path), "worker", "--segment", "dmz"])
    assert done.exit_code == 2
    assert "no broker: configured" in done.output and "redis://HOST:6379/0" in done.output


def test_a_segment_name_must_be_a_queue_name(tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text("broker: {url: 'redis://127.0.0.1:1/0'}\n")
    done = CliRunner().invoke(cli, ["-C", str(tmp_path), "worker", "--segment", "DMZ zone"])
    assert done.exit_code == 2 and "--segment 'DMZ zone'" in done.output


def test_a_broker_nobody_answers_at_is_exit_3_without_the_password(tmp_path: Path) -> None:
    port = closed_port()
    (tmp_path / "butler.yaml").write_text(
        f"broker: {{url: 'redis://127.0.0.1:{port}/0', password_env: WK_TEST_PW}}\n"
    )
    done = CliRunner(env={"WK_TEST_PW": "hunter2-not-shown"}).invoke(
        cli, ["-C", str(tmp_path), "worker", "--segment", "dmz"]
    )
    assert done.exit_code == 3
    assert f"broker redis://:***@127.0.0.1:{port}/0 is unreachable" in done.output
    assert "the worker did not start" in done.output and "hunter2" not in done.output
