"""Shared fixtures: real sshd fleets on 127.0.0.1 (see tests/harness/fleet.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness.fleet import SSHD, SshdFleet

FleetFactory = Callable[[int], SshdFleet]


@pytest.fixture(scope="session")
def sshd_fleet_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetFactory]:
    """Start fleets of N real sshd hosts; every one is stopped at the end of the session."""
    if not SSHD.exists():
        if os.geteuid() == 0:
            pytest.fail(f"{SSHD} is missing: run the test command (bash scripts/test.sh)")
        pytest.skip(f"{SSHD} is missing; install it: sudo apt-get install -y openssh-server")
    fleets: list[SshdFleet] = []

    def make(count: int) -> SshdFleet:
        fleet = SshdFleet(tmp_path_factory.mktemp("fleet"), count)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close()


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    """A directory for a test's own fleet (one the test closes itself)."""
    return tmp_path / "fleet"
