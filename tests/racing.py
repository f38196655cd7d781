"""Shared by the race tests: run one function from many threads at once, on PostgreSQL only.

SQLite has a single writer, so races are settled before they start; the tests that need real row locks
use ``postgres_only`` and run in CI with DATABASE_URL pointing at PostgreSQL.
"""

import threading

import pytest
from django.db import connection, connections

from chanlian.core.errors import ServiceError


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock races are tested on PostgreSQL (DATABASE_URL=postgres://…)")


def race(n, fn):
    """Start ``fn(i)`` in ``n`` threads behind one barrier; each result is ("ok", value),
    ("error", service error code) or ("crash", repr) — a crash is a bug the assertions will show."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = ("ok", fn(i))
        except ServiceError as exc:
            results[i] = ("error", exc.code)
        except Exception as exc:  # reported by the caller's assertions
            results[i] = ("crash", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
