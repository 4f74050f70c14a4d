"""Maintenance windows and scheduled runs: `window run`, `window approve`, `run-due`."""
