"""Allow `python -m butler_maint`."""

from butler_maint.cli import main

main()
