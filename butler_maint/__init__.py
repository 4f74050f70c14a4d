"""butler-maint: preventive maintenance as code."""

# The one place the version is written (pyproject.toml reads it from here); a constant,
# so starting the CLI does not scan the installed distributions to learn it.
__version__ = "0.1.0"
