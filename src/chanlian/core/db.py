"""Database helpers shared by the apps."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def unprepared(using: str = DEFAULT_DB_ALIAS):
    """Statements in this block are planned for their parameters every time, never prepared.

    On PostgreSQL the connection prepares a statement the Nth time it runs it (settings.py,
    ``CHANLIAN_DB_PREPARE_THRESHOLD``); after five executions PostgreSQL may then use one *generic* plan for
    every parameter value. That suits the platform's writes (a voucher move: the server's CPU 1.63 →
    1.08 ms per call) but not a search whose best plan depends on the words searched: at 1 M listings
    the matching search API took p50 71 ms prepared against 61 ms unprepared (bench/matching.py,
    docs/benchmarks.md "Matching"). Elsewhere, or with preparation off, this does nothing."""
    connection = connections[using]
    raw = connection.connection if connection.vendor == "postgresql" else None
    if raw is None or getattr(raw, "prepare_threshold", None) is None:
        yield
        return
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold
