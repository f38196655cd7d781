"""Flushing — the test runner between transactional tests, or an administrator's ``flush`` — empties the
journal on both databases (PostgreSQL TRUNCATEs; on SQLite the ledger's ``flush`` lifts the append-only
triggers for it) and leaves the triggers in place afterwards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from chanlian.ledger.models import JournalEntry, JournalLine
from chanlian.ledger.services import open_account, post_entry
from tests.personas import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def _post(world):
    tea = world.clusters["tea"]
    bank, escrow = open_account(tea, "bank_clearing"), open_account(tea, "escrow", world.enterprises["buyer"])
    return post_entry(None, cluster=tea, kind="escrow.deposit", lines=[(bank, Decimal("9.00")), (escrow, -9)])


def test_entries_left_behind_are_flushed_after_a_transactional_test():
    # the teardown of this test flushes the database with these rows in it: it must not fail
    _post(build_world())
    assert JournalLine.objects.count() == 2


def test_flush_empties_the_journal_and_keeps_the_triggers():
    _post(build_world())
    call_command("flush", interactive=False, verbosity=0)
    assert not JournalEntry.objects.exists() and not JournalLine.objects.exists()
    from chanlian.regions.loader import load_regions

    load_regions()
    entry = _post(build_world())
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM ledger_journalline WHERE entry_id = %s", [entry.pk])
    assert JournalLine.objects.filter(entry=entry).count() == 2
