"""Benchmarks: each prints a short summary, then one JSON line with its figures."""
