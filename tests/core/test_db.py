"""``core.db.unprepared``: PostgreSQL plans the block's statements for their parameters (nothing prepared),
and the connection's threshold is back afterwards, also when the block raises."""

import pytest
from django.db import connection

from chanlian.core.db import unprepared

pytestmark = pytest.mark.django_db
SQL = "SELECT count(*) FROM core_audithead WHERE id > %s"


def _prepared() -> int:
    """How many times this connection holds ``SQL`` prepared."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%core_audithead WHERE id > $1%"],
        )
        return cur.fetchone()[0]


def _run(times: int) -> None:
    for i in range(times):
        with connection.cursor() as cur:
            cur.execute(SQL, [i])


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_block_prepares_nothing_and_the_threshold_comes_back():
    connection.ensure_connection()
    raw = connection.connection
    assert raw.prepare_threshold is not None  # settings.py: prepared after N runs
    threshold = raw.prepare_threshold
    with unprepared():
        assert raw.prepare_threshold is None
        _run(threshold + 2)
    assert _prepared() == 0
    assert raw.prepare_threshold == threshold
    with pytest.raises(ZeroDivisionError), unprepared():
        1 / 0
    assert raw.prepare_threshold == threshold
    # outside the block the same statement is prepared after the threshold
    _run(threshold + 2)
    assert _prepared() == 1


def test_elsewhere_it_changes_nothing():
    with unprepared(), connection.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
