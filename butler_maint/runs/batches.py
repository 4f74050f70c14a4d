"""Pure rules of a window run: batch sizes (``serial``) and the failure threshold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def batch_size(serial: str | None, total: int) -> int:
    """Hosts per batch: all without ``serial``, a count (``2``), or a share (``25%``)."""
    if total == 0:
        return 0
    if not serial:
        return total
    if serial.endswith("%"):
        return max(1, math.floor(total * int(serial[:-1]) / 100))
    return max(1, min(total, int(serial)))


def batches(items: Sequence[T], serial: str | None) -> list[list[T]]:
    """``items`` cut into consecutive batches of ``batch_size``."""
    size = batch_size(serial, len(items))
    return [list(items[i : i + size]) for i in range(0, len(items), size)] if size else []


def exceeded(failed: int, total: int, max_fail_percentage: float | None) -> bool:
    """Ansible's rule: stop when the failed share is strictly above the percentage."""
    if max_fail_percentage is None or total == 0:
        return False
    return failed * 100 > max_fail_percentage * total
