"""Errors of the evidence store, in the project's one error tree."""

from __future__ import annotations

from pathlib import Path

from butler_maint.errors import ButlerError, CannotRunError, ExitCode


class EvidenceError(CannotRunError):
    """The evidence store cannot be written or read (full disk, permissions, lock...)."""

    exit_code = ExitCode.CANNOT_RUN

    @classmethod
    def from_os(cls, action: str, path: Path, exc: OSError) -> EvidenceError:
        """Build an error naming the path and the operating system's reason."""
        reason = exc.strerror or str(exc)
        return cls(f"cannot {action} {path}: {reason}")


class ReportNotFound(ButlerError):
    """No report has the id asked for."""

    exit_code = ExitCode.USAGE


class ReportFormatError(ButlerError):
    """A report file is not a report this version can read."""

    exit_code = ExitCode.FAILED
