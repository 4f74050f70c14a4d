"""The ``package`` check: dpkg-query on Debian/Ubuntu, rpm on the RHEL family.

The fragment prints ``tool=dpkg`` or ``tool=rpm`` and one ``pkg=`` line per installed
instance (``${Status}|${Version}`` for dpkg, ``%{EPOCH}:%{VERSION}-%{RELEASE}`` for
rpm; multi-arch packages and kernels give several). The highest installed version is
judged, with the dpkg comparison of :mod:`.versions` for both families.
"""

from __future__ import annotations

import functools

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import HEAD, failed, has, kv, kv_all, missing, tool_missing
from butler_maint.checks.types.versions import at_least, compare_versions, parse_version
from butler_maint.model.checks import PackageSpec

_NOT_FOUND_RC = 1  # dpkg-query and rpm -q both exit 1 for an unknown package

_DPKG = "dpkg-query -W -f='pkg=${Status}|${Version}\\n' -- \"$n\""
_RPM = "rpm -q --qf 'pkg=%{EPOCH}:%{VERSION}-%{RELEASE}\\n' -- \"$n\""


def package_fragment(spec: PackageSpec) -> str:
    """Query the package manager that owns this host (dpkg preferred on Debian)."""
    return (
        f"{HEAD}n={q(spec.name)}\n"
        f"if [ -f /etc/debian_version ] && {has('dpkg-query')}; then t=dpkg\n"
        f"elif {has('rpm')}; then t=rpm\n"
        f"elif {has('dpkg-query')}; then t=dpkg\n"
        f"else {missing('dpkg-query', 'rpm')}\nfi\n"
        'echo "tool=$t"\n'
        f'if [ "$t" = dpkg ]; then {_DPKG}; else {_RPM}; fi\n'
    )


def _installed(tool: str, stdout: str) -> list[str] | None:
    """Installed versions, or None when the output makes no sense."""
    versions: list[str] = []
    for line in kv_all(stdout, "pkg"):
        if tool == "rpm":
            versions.append(_rpm_display(line))
            continue
        status, sep, version = line.partition("|")
        if not sep:
            return None
        if status.split()[-1:] == ["installed"]:
            versions.append(version)
    return versions


def _rpm_display(version: str) -> str:
    """``(none):3.0.7-27.el9`` -> ``3.0.7-27.el9``; a real epoch is kept."""
    return version.removeprefix("(none):")


def _expected(spec: PackageSpec) -> str:
    if not spec.installed:
        return "not installed"
    return f">= {spec.min_version}" if spec.min_version else "installed"


def package_judge(spec: PackageSpec, raw: Raw) -> Verdict:
    """Installed or not, and the highest installed version against ``min_version``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    tool = kv(raw.stdout).get("tool", "")
    if tool not in ("dpkg", "rpm"):
        return error("could not parse the package query output")
    if raw.rc not in (0, _NOT_FOUND_RC):
        return failed("dpkg-query" if tool == "dpkg" else "rpm -q", raw)
    versions = _installed(tool, raw.stdout)
    if versions is None:
        return error(f"could not parse the {tool} output")
    expected = _expected(spec)
    if not versions:
        return verdict(not spec.installed, "not installed", expected)
    newest = max(versions, key=functools.cmp_to_key(compare_versions))
    if not spec.installed:
        return verdict(False, newest, expected)
    if spec.min_version is None:
        return verdict(True, newest, expected)
    if not parse_version(spec.min_version).upstream:
        return error(f"could not parse min_version {spec.min_version!r}")
    return verdict(at_least(newest, spec.min_version), newest, expected)


PACKAGE = CheckType("package", package_fragment, package_judge)
