"""Which hosts are run by a segment's worker: the inventory var ``butler_segment``."""

from __future__ import annotations

import re

from butler_maint.errors import InventoryError
from butler_maint.inventory import HostInfo

SEGMENT_VAR = "butler_segment"
SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def segment_of(host: HostInfo) -> str | None:
    """The host's segment, or None: the host is run by this process."""
    value = host.vars.get(SEGMENT_VAR)
    if value is None or value == "":
        return None
    name = str(value)
    if not SEGMENT_NAME.match(name):
        raise InventoryError(
            f"host {host.name}: {SEGMENT_VAR} {name!r} is not a segment name "
            "(expected lower-case letters, digits, '-' or '_', at most 40)"
        )
    return name


def split(hosts: list[HostInfo]) -> tuple[list[HostInfo], dict[str, list[HostInfo]]]:
    """The hosts run here, and the others by segment (segments in name order)."""
    here: list[HostInfo] = []
    away: dict[str, list[HostInfo]] = {}
    for host in hosts:
        segment = segment_of(host)
        if segment is None:
            here.append(host)
        else:
            away.setdefault(segment, []).append(host)
    return here, dict(sorted(away.items()))
