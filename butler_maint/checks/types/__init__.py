"""The catalog of executable check types: ``REGISTRY`` maps a type name to its
``CheckType`` (fragment + pure judge).

Every name of ``CHECK_TYPES`` is here except ``testinfra`` and ``manual``, which do
not run as shell fragments. The mapping is read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from butler_maint.checks.base import CheckType
from butler_maint.checks.types.accounts import GROUP, USER
from butler_maint.checks.types.clock import TIME
from butler_maint.checks.types.command import COMMAND
from butler_maint.checks.types.files import DIRECTORY, FILE, MOUNT
from butler_maint.checks.types.network import CERTIFICATE, HTTP, PORT
from butler_maint.checks.types.package import PACKAGE
from butler_maint.checks.types.resources import DISK, INODES, LOAD, MEMORY
from butler_maint.checks.types.system import PROCESS, REBOOT_REQUIRED, SERVICE, SYSCTL

NOT_FRAGMENTS = frozenset({"testinfra", "manual"})
"""Check types executed otherwise (testinfra modules, operator attestation)."""

REGISTRY: Mapping[str, CheckType] = MappingProxyType(
    {
        t.name: t
        for t in (
            *(DISK, INODES, MEMORY, LOAD, SERVICE, PROCESS, PACKAGE, REBOOT_REQUIRED),
            *(TIME, SYSCTL, FILE, DIRECTORY, MOUNT, PORT, CERTIFICATE, HTTP, COMMAND),
            *(USER, GROUP),
        )
    }
)
"""Check type name -> ``CheckType``; keys equal ``CHECK_TYPES`` minus ``NOT_FRAGMENTS``."""

__all__ = ["NOT_FRAGMENTS", "REGISTRY"]
