"""Test harness shared by tests and benchmarks: real sshd fleets (see sshd_fleet.py)."""
