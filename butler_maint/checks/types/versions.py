"""Debian-policy version comparison (``epoch:upstream-revision``), used for rpm too.

This is dpkg's ``verrevcmp``: digits compare numerically, letters sort before other
characters, and ``~`` sorts before anything, even the end of the string
(``1.0~rc1 < 1.0``). RPM's ``rpmvercmp`` agrees on the usual versions (dotted
numbers, ``el9``-style release tags, ``~`` pre-releases); it differs on exotic
cases such as ``^`` snapshots and letter-vs-digit segments, which is close enough for
a minimum-version check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Version:
    """A parsed version; ``epoch`` is None when none was written."""

    epoch: int | None
    upstream: str
    revision: str


def parse_version(text: str) -> Version:
    """Split ``[epoch:]upstream[-revision]``; rpm's ``(none):`` epoch reads as absent."""
    text = text.strip()
    epoch: int | None = None
    head, sep, rest = text.partition(":")
    if sep and (head.isdigit() or head == "(none)"):
        epoch = int(head) if head.isdigit() else None
        text = rest
    upstream, dash, revision = text.rpartition("-")
    if not dash:
        return Version(epoch, text, "")
    return Version(epoch, upstream, revision)


def _order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256 if char else 0


def _split_digits(text: str) -> tuple[str, str]:
    end = len(text) - len(text.lstrip("0123456789"))
    return text[:end], text[end:]


def _compare_part(a: str, b: str) -> int:
    """dpkg's ``verrevcmp`` on one part (upstream or revision)."""
    while a or b:
        while (a and not a[0].isdigit()) or (b and not b[0].isdigit()):
            diff = _order(a[:1]) - _order(b[:1])
            if diff:
                return diff
            a, b = a[1:], b[1:]
        (da, a), (db, b) = _split_digits(a), _split_digits(b)
        diff = int(da or "0") - int(db or "0")
        if diff:
            return diff
    return 0


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, equal to or after ``b``."""
    va, vb = parse_version(a), parse_version(b)
    diff = (va.epoch or 0) - (vb.epoch or 0)
    if diff:
        return _sign(diff)
    return _sign(_compare_part(va.upstream, vb.upstream)) or _sign(
        _compare_part(va.revision, vb.revision)
    )


def at_least(installed: str, minimum: str) -> bool:
    """``installed >= minimum``; a minimum without epoch ignores the installed epoch.

    ``min_version: "3.0"`` means "upstream 3.0 or later" to its author, also on RHEL
    where openssl is ``1:3.0.7-27.el9``; write ``"1:3.0"`` to compare epochs too.
    """
    if parse_version(minimum).epoch is None:
        inst = parse_version(installed)
        installed = f"{inst.upstream}-{inst.revision}" if inst.revision else inst.upstream
    return compare_versions(installed, minimum) >= 0
