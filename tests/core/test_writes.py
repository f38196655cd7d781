"""``core.writes.Writes``: a service's writes sent as one statement on PostgreSQL, one by one elsewhere —
the same rows either way. In one statement PostgreSQL does not say which of two updates of one row wins,
so the updates of a row are merged, and the audit head moves once, to the last entry."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chanlian.core import audit
from chanlian.core.models import AuditEntry
from chanlian.core.writes import Writes

pytestmark = pytest.mark.django_db


def test_two_entries_and_two_updates_of_one_row_in_one_batch(world):
    user = world.users["supplier"]
    before = AuditEntry.objects.count()
    with transaction.atomic():
        head = audit.lock_head()
        w = Writes(head)
        w.update(get_user_model(), user.pk, first_name="祥", last_name="旧")
        w.audit(user, "test.first", user, after={"n": 1})
        w.update(get_user_model(), user.pk, last_name="华")
        w.audit(user, "test.second", user, after={"n": 2})
        with CaptureQueriesContext(connection) as q:
            w.send()
    fused = connection.vendor == "postgresql"
    assert w.fused is fused
    assert len(q.captured_queries) == (1 if fused else 0)  # elsewhere each write ran when called
    row = get_user_model().objects.get(pk=user.pk)
    assert (row.first_name, row.last_name) == ("祥", "华")  # merged, the later field wins
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert [e.action for e in entries] == ["test.first", "test.second"]
    assert entries[0].chain == entries[1].chain and entries[1].seq == entries[0].seq + 1
    assert entries[1].prev_hash == entries[0].hash
    result = audit.verify()
    assert result.ok, result
    assert result.heads[entries[1].chain] == (entries[1].seq, entries[1].hash)  # the head moved once, last


def test_nothing_collected_sends_nothing(world):
    with transaction.atomic():
        w = Writes(audit.lock_head())
        with CaptureQueriesContext(connection) as q:
            w.send()
    assert q.captured_queries == []
