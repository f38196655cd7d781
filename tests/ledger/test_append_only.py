"""The journal is append-only: the ORM refuses to change or delete an entry or a line, and so does the
database itself (triggers), for raw SQL too — on whichever database the suite runs (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from chanlian.ledger.models import AppendOnly, JournalEntry, JournalLine
from chanlian.ledger.services import post_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(books):
    return post_entry(
        books.operator,
        cluster=books.tea,
        kind="escrow.deposit",
        lines=[(books.bank, Decimal("100.00")), (books.b_escrow, Decimal("-100.00"))],
    )


def test_orm_save_of_an_existing_entry_or_line_is_refused(entry):
    entry.memo = "edited"
    with pytest.raises(AppendOnly):
        entry.save()
    line = entry.lines.first()
    line.amount = Decimal("1.00")
    with pytest.raises(AppendOnly):
        line.save()
    entry.refresh_from_db()
    assert entry.memo == ""


def test_orm_delete_is_refused(entry):
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        entry.lines.first().delete()
    with pytest.raises(AppendOnly):
        JournalLine.objects.filter(entry=entry).delete()
    with pytest.raises(AppendOnly):
        JournalEntry.objects.all().delete()
    assert JournalLine.objects.filter(entry=entry).count() == 2


def test_orm_bulk_update_is_refused(entry):
    with pytest.raises(AppendOnly):
        JournalEntry.objects.filter(pk=entry.pk).update(memo="x")
    with pytest.raises(AppendOnly):
        JournalLine.objects.update(amount=Decimal("5.00"))
    with pytest.raises(AppendOnly):
        JournalEntry.objects.update(memo="x")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_journalline SET amount = amount + 1 WHERE entry_id = %s",
        "DELETE FROM ledger_journalline WHERE entry_id = %s",
        "UPDATE ledger_journalentry SET memo = 'edited' WHERE id = %s",
        "DELETE FROM ledger_journalentry WHERE id = %s",
    ],
)
def test_raw_sql_update_and_delete_are_refused_by_the_database(entry, sql):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [entry.pk])
    assert sorted(JournalLine.objects.filter(entry=entry).values_list("amount", flat=True)) == [
        Decimal("-100.00"),
        Decimal("100.00"),
    ]
    assert JournalEntry.objects.get(pk=entry.pk).memo == ""


def test_the_triggers_exist_on_this_database():
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid IN "
                "('ledger_journalentry'::regclass, 'ledger_journalline'::regclass) AND NOT tgisinternal"
            )
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger_%'")
        names = {row[0] for row in cur.fetchall()}
    assert len(names) == (2 if connection.vendor == "postgresql" else 4), names


def test_inserts_stay_allowed(books):
    # bulk loads (bench/ledger.py) insert directly: only changes are refused
    entry = JournalEntry.objects.create(cluster=books.tea, kind="bench.load")
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry=entry, cluster=books.tea, account=books.bank, amount=Decimal("1.00")),
            JournalLine(entry=entry, cluster=books.tea, account=books.fees, amount=Decimal("-1.00")),
        ]
    )
    assert entry.lines.count() == 2


def test_zero_amount_line_refused_by_a_check_constraint(books):
    entry = JournalEntry.objects.create(cluster=books.tea, kind="bench.load")
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalLine.objects.create(entry=entry, cluster=books.tea, account=books.bank, amount=Decimal("0"))


def test_an_entry_is_reversed_at_most_once_by_a_constraint(books, entry):
    JournalEntry.objects.create(cluster=books.tea, kind="escrow.deposit", reverses=entry)
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(cluster=books.tea, kind="escrow.deposit", reverses=entry)
