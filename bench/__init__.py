"""Benchmarks: `make bench` runs them all (see docs/PERFORMANCE.md)."""
