"""The broker over TLS (``rediss://``): a real redis-server speaking TLS only, its
certificate checked against the CA of ``broker.tls.ca_file``; a worker (here, no network
namespace: its host is this machine) runs a segment's shard through it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.errors import CannotRunError
from butler_maint.evidence import EvidenceStore
from butler_maint.model.config import load_config
from butler_maint.workers.broker import broker_for
from tests.harness.segments import REDIS, Redis, TlsFiles, Worker

pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason="needs redis-server")

PASSWORD = "tls-broker-pw"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Redis, TlsFiles]]:
    base = tmp_path_factory.mktemp("tls-broker")
    files = TlsFiles.make(base / "pki")
    broker = Redis(base / "redis", PASSWORD, [], tls=files)
    yield broker, files
    broker.stop()


def project(root: Path, url: str, ca: Path | None) -> Path:
    for sub in ("checklists", "inventories"):
        (root / sub).mkdir(parents=True)
    broker: dict[str, object] = {"url": url, "namespace": f"tls{os.getpid()}", "worker_timeout": 30}
    if ca is not None:
        broker["tls"] = {"ca_file": str(ca)}
    config = {"inventory": "inventories/hosts.yml", "broker": broker}
    (root / "butler.yaml").write_text(yaml.safe_dump(config))
    checks = [{"id": "echo", "command": {"run": "echo up", "expect": {"stdout": "up"}}}]
    (root / "checklists" / "quick.yaml").write_text(
        yaml.safe_dump({"checklist": "quick", "hosts": "all", "checks": checks})
    )
    hosts = {"seg01": {"ansible_connection": "local", "butler_segment": "t"}}
    (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return root


def test_a_shard_travels_over_tls_and_the_certificate_is_checked(
    tls_broker: tuple[Redis, TlsFiles], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, files = tls_broker
    assert broker.url().startswith("rediss://")
    root = project(tmp_path / "repo", broker.url(), files.ca)
    monkeypatch.setenv("BUTLER_BROKER_PASSWORD", PASSWORD)
    worker = Worker(
        root, None, "t", "wt1", broker_url=broker.url(),
        env={"BUTLER_BROKER_PASSWORD": PASSWORD}, log=tmp_path / "worker.log",
    )  # fmt: skip
    try:
        done = CliRunner().invoke(cli, ["-C", str(root), "check", "quick"])
    finally:
        worker.stop()
    assert done.exit_code == 0, done.output + (tmp_path / "worker.log").read_text()
    report = EvidenceStore.for_project(root, load_config(root).evidence).load("latest")
    (result,) = report.steps[0].results  # type: ignore[union-attr]
    assert (result.host, result.status, result.worker) == ("seg01", "pass", "wt1")


def test_a_broker_certificate_no_trusted_ca_signed_is_refused(
    tls_broker: tuple[Redis, TlsFiles], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, _files = tls_broker
    root = project(tmp_path / "repo", broker.url(), None)  # system CAs only
    monkeypatch.setenv("BUTLER_BROKER_PASSWORD", PASSWORD)
    settings = load_config(root).broker
    assert settings is not None
    with pytest.raises(CannotRunError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        broker_for(settings, root).ping()
