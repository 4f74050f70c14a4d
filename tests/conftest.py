"""Root fixtures: fleets of real OpenSSH sshd hosts on 127.0.0.1 (tests/harness/sshd_fleet.py).

Only the fleet fixtures live here; each suite keeps its other fixtures in its own
``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.sshd_fleet import SSHD, FleetFactory, SshdFleet


def _require_sshd() -> None:
    """Skip without sshd only when we could not install it; as root its absence is an error."""
    if os.access(SSHD, os.X_OK):
        return
    if os.geteuid() == 0:
        pytest.fail(f"{SSHD} is missing: the test command (bash scripts/test.sh) installs it")
    pytest.skip(f"{SSHD} is missing; install it: sudo apt-get install -y openssh-server")


@pytest.fixture(scope="session")
def sshd_fleet_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetFactory]:
    """``make(n, **options)`` starts an n-host fleet; every fleet is closed at session end.

    A test may close its fleet early (``close()`` is idempotent).
    """
    _require_sshd()
    fleets: list[SshdFleet] = []

    def make(count: int, **options: Any) -> SshdFleet:
        fleet = SshdFleet(tmp_path_factory.mktemp("fleet"), count, **options)
        fleets.append(fleet)
        return fleet

    try:
        yield make
    finally:
        for fleet in fleets:
            fleet.close()


@pytest.fixture
def fleet(sshd_fleet_factory: FleetFactory) -> Iterator[SshdFleet]:
    """Three fresh hosts for one test (stop or pause them freely); closed after the test."""
    three = sshd_fleet_factory(3)
    yield three
    three.close()
