"""Benchmarks behind `skeleton-steering bench ...`; each prints a table, then one JSON line."""
