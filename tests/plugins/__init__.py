"""Pytest plugins shared by Parley's test suites (stdlib + pytest only)."""
