"""``core.db.unprepared``: PostgreSQL plans the block's statements for their parameters (nothing prepared),
and the connection's threshold is back afterwards, also when the block raises."""

import pytest
from django.db import connection

from chanlian.core.db import unprepared

pytestmark = pytest.mark.django_db


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_block_prepares_nothing_and_the_threshold_comes_back():
    connection.ensure_connection()
    raw = connection.connection
    assert raw.prepare_threshold is not None  # settings.py: prepared after N runs
    sql = "SELECT count(*) FROM core_audithead WHERE id > %s"
    with unprepared():
        assert raw.prepare_threshold is None
        for i in range(raw.prepare_threshold or 8):
            with connection.cursor() as cur:
                cur.execute(sql, [i])
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%core_audithead WHERE id > $1%"],
        )
        assert cur.fetchone()[0] == 0
    threshold = raw.prepare_threshold
    assert threshold is not None
    with pytest.raises(ZeroDivisionError), unprepared():
        1 / 0
    assert raw.prepare_threshold == threshold
    # outside the block the same statement is prepared after the threshold
    for i in range(threshold + 2):
        with connection.cursor() as cur:
            cur.execute(sql, [i])
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%core_audithead WHERE id > $1%"],
        )
        assert cur.fetchone()[0] == 1


def test_elsewhere_it_changes_nothing():
    with unprepared(), connection.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
