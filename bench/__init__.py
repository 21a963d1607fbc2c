"""Benchmarks run by hand against a real PostgreSQL; not part of the server or the tests."""
