"""Notifications with systems, against a real HTTP receiver on 127.0.0.1: run-due's
webhook carries the diagnosis by system, and a system's own rules reach its owner only
when the run failed on that system."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from butler_maint.cli import cli
from tests.fixtures.systems import write_shop
from tests.harness.http_server import QuietHandler, serving

GROUPS = {"db": ["db1"], "app": ["app1"], "web": ["web1"]}
CHECK = {"command": {"run": "test {{ healthy }} = yes"}}


@pytest.fixture
def receiver() -> Iterator[tuple[list[tuple[str, dict[str, Any]]], str]]:
    bodies: list[tuple[str, dict[str, Any]]] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            bodies.append((self.path, json.loads(body)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as port:
        yield bodies, f"http://127.0.0.1:{port}"


def test_run_due_sends_the_diagnosis_and_routes_to_the_failing_systems_owner(
    receiver: tuple[list[tuple[str, dict[str, Any]]], str], tmp_path: Path
) -> None:
    bodies, url = receiver
    host_vars = {
        "db1": {"ansible_connection": "local", "healthy": "no"},
        "app1": {"ansible_connection": "local", "healthy": "no"},
        "web1": {"ansible_connection": "local", "healthy": "yes"},
    }
    root = write_shop(tmp_path / "content", GROUPS, host_vars, CHECK)
    (root / "schedules" / "shop-patch.yaml").unlink()
    routine = {"routine": "shop-hourly", "timezone": "UTC", "every": "0 * * * *",
               "duration": "30m", "checklist": "shop-health",
               "notify": [{"on": "failure", "webhook": f"{url}/ops"}]}  # fmt: skip
    (root / "schedules" / "shop-hourly.yaml").write_text(yaml.safe_dump(routine))
    for name, path in (("shop-db", "/dba"), ("shop-web", "/web")):
        system = root / "systems" / f"{name}.yaml"
        doc = yaml.safe_load(system.read_text())
        doc["notify"] = [{"on": "failure", "webhook": f"{url}{path}"}]
        system.write_text(yaml.safe_dump(doc))
    assert (
        CliRunner().invoke(cli, ["-C", str(root), "validate", "--no-syntax-check"]).exit_code == 0
    )
    at = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=5, second=0, microsecond=0)
    result = CliRunner().invoke(cli, ["-C", str(root), "run-due", "--at", at.isoformat()])
    assert result.exit_code == 1, result.output
    paths = sorted(path for path, _ in bodies)
    assert paths == ["/dba", "/ops"]  # shop-web passed: its owner hears nothing
    ops = next(body for path, body in bodies if path == "/ops")
    assert ops["diagnosis"]["roots"] == ["shop-db"]
    assert ops["diagnosis"]["systems"]["shop-app"]["caused_by"] == ["shop-db"]
    dba = next(body for path, body in bodies if path == "/dba")
    assert dba["system"] == "shop-db" and dba["owner"] == "db-team"
    assert {f["host"] for f in dba["failures"]} == {"db1", "app1"}
