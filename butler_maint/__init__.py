"""butler-maint: preventive maintenance as code."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("butler-maint")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
