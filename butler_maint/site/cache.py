"""What one render keeps for the next, in ``.butler-cache/`` beside the manifest, so a
render after a new run costs that run, not the store: the scan of every report file
verify needs (``scans.json``) and the observations of every report the KPI section read
(``observations/<sha256>.json``).

Both are keyed on the sha256 of a report file's bytes (hashing is cheap next to parsing
YAML): a file edited, replaced or moved misses and is read again, so the verdict and the
KPIs are those of an uncached render. Both record the code that made them (the
renderer's fingerprint and the evidence and KPI packages' sources): after an upgrade
everything is read again. A full render (``--full``) reads no cache and writes both.
A cache that is missing, cut short or not of this code is a miss, never an error.
Whoever can write the site directory can edit its pages too: the cache adds no trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from butler_maint.evidence import fsutil
from butler_maint.evidence.scan import Scanned, scanned_from_json
from butler_maint.kpi import obscache
from butler_maint.kpi.history import Observation

CACHE_DIR = ".butler-cache"
SCANS = "scans.json"
OBSERVATIONS = "observations"


def code_fingerprint(renderer: str) -> str:
    """The renderer's fingerprint and the sources of the packages whose code decides a
    scan and the observations of a report (evidence, kpi)."""
    digest = hashlib.sha256(renderer.encode())
    for package in ("butler_maint.evidence", "butler_maint.kpi", "butler_maint.model"):
        folder = resources.files(package)
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.is_file() and item.name.endswith(".py"):
                digest.update(f"\0{package}/{item.name}\0".encode())
                digest.update(item.read_bytes())
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically, without an fsync (a cache lost is a miss)."""
    fsutil.make_dirs(path.parent)
    fsutil.replace_unsynced(path, data)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("ascii")


class SiteCache:
    """The cache of the site in ``out`` for the code ``code``."""

    def __init__(self, out: Path, code: str, *, use: bool) -> None:
        self.dir = out / CACHE_DIR
        self.code = code
        self.use = use
        self._scans_raw: bytes | None = None

    # -- scans --------------------------------------------------------------------------

    def scans(self) -> dict[str, Scanned]:
        """The scans kept by the last render, by path (empty when not to be used)."""
        if not self.use:
            return {}
        try:
            self._scans_raw = (self.dir / SCANS).read_bytes()
            data = json.loads(self._scans_raw)
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("code") != self.code:
            return {}
        found = {}
        for item in data.get("scans") or []:
            try:
                scan = scanned_from_json(item)
            except (ValueError, TypeError, KeyError):
                continue
            if scan.sha256 is not None:
                found[scan.rel] = scan
        return found

    def keep_scans(self, scans: Iterable[Scanned]) -> None:
        """Keep the scans of this render (files read by hash only), when they changed."""
        kept = [s.to_json() for s in scans if s.sha256 is not None]
        data = _dump({"code": self.code, "scans": kept})
        if data != self._scans_raw:
            _write(self.dir / SCANS, data)

    # -- observations ---------------------------------------------------------------------

    def observations(self, key: str) -> list[Observation] | None:
        """The observations kept for the report file of hash ``key``, or None."""
        if not self.use or not _is_sha256(key):
            return None
        data = _read_json(self.dir / OBSERVATIONS / f"{key}.json")
        if not isinstance(data, dict) or data.get("code") != self.code:
            return None
        try:
            return obscache.from_json(data)
        except (ValueError, TypeError, KeyError):
            return None

    def keep_observations(self, cache: obscache.ObservationCache) -> None:
        """Write the observations this render read from reports; remove those it did
        not use (reports gone, or out of the period for good)."""
        folder = self.dir / OBSERVATIONS
        for key in sorted(cache.added):
            data = {"code": self.code, **obscache.to_json(cache.used[key])}
            _write(folder / f"{key}.json", _dump(data))
        try:
            names = os.listdir(folder)
        except OSError:
            return
        keep = {f"{key}.json" for key in cache.used}
        for name in names:
            if name not in keep:
                (folder / name).unlink(missing_ok=True)


def _is_sha256(key: str) -> bool:
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)
