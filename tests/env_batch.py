"""Batch size of the session-wide environment fixtures (tests/conftest.py).

A module of its own: test modules cannot import it from `conftest`, since the cluster tests'
conftest.py is imported under that same module name."""

BATCH = 4
