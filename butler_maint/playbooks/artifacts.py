"""What is kept of an ansible-runner run, masked, and what is never kept.

While the run goes, :class:`EventSink` appends every runner event as one masked JSON
line to ``job_events.jsonl`` and its display text to ``stdout.txt`` in the run's keep
directory (created 0700, files 0600). The runner itself writes no per-event files and no
stdout file (the event handler returns False; ``suppress_output_file``): one write per
event instead of ansible-runner's three (temp file, rename, stdout copy).

After the run, :func:`finish_keep_dir` adds ansible-runner's ``rc`` and ``status``; the
evidence store copies the keep directory into ``artifacts/<report id>/ansible-runner/``
(dirs 0700, files 0600) and prunes the artifacts of older runs beyond
``evidence.keep_artifacts``. Everything else of the runner's private data dir is
deleted with it: ``artifacts/<id>/command`` (the whole environment), ``env/``
(passwords, ssh key: we never write them, ``suppress_env_files``), the callback's
partial event files (unmasked), the fact cache and ansible's local temp files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from butler_maint.redact import Redactor

KEEP_DIR = "ansible-runner"
EVENTS_FILE = "job_events.jsonl"
STDOUT_FILE = "stdout.txt"
_RUNNER_FILES = ("rc", "status")
_TAIL_LINES = 8


def _private_file(path: Path) -> IO[str]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", errors="replace")


class EventSink:
    """Appends masked events and display text to the keep directory."""

    def __init__(self, directory: Path, redactor: Redactor) -> None:
        directory.mkdir(mode=0o700, parents=False, exist_ok=False)
        self.directory = directory
        self._redact = redactor.text
        self._events = _private_file(directory / EVENTS_FILE)
        self._stdout = _private_file(directory / STDOUT_FILE)
        self._tail: list[str] = []

    def write(self, event: Mapping[str, Any]) -> None:
        """Keep one event (masked) and its display text."""
        line = json.dumps(event, ensure_ascii=False, default=str, separators=(",", ":"))
        self._events.write(self._redact(line) + "\n")
        text = event.get("stdout")
        if isinstance(text, str) and text:
            shown = self._redact(text.replace("\r\n", "\n"))
            self._stdout.write(shown + "\n")
            if event.get("event") not in ("runner_on_start",):
                self._tail = (self._tail + shown.strip().splitlines())[-_TAIL_LINES:]

    def tail(self) -> str:
        """The last lines of ansible's output (masked), for an error message."""
        return "\n".join(line for line in self._tail if line.strip())

    def close(self) -> None:
        """Flush and close the files."""
        self._events.close()
        self._stdout.close()


def finish_keep_dir(keep: Path, runner_artifacts: Path) -> None:
    """Add ansible-runner's ``rc`` and ``status`` files to the keep directory."""
    for name in _RUNNER_FILES:
        source = runner_artifacts / name
        if source.is_file():
            with _private_file(keep / name) as out:
                out.write(source.read_text(encoding="utf-8", errors="replace"))


def remove_tree(path: Path) -> None:
    """Delete a run directory, whatever is in it (best effort, never raises)."""
    shutil.rmtree(path, ignore_errors=True)
