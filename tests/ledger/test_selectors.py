"""Balances are sums of lines; the trial balance is one aggregate query whose totals are zero; a
statement's running balances step from the opening to the closing balance; verify_ledger finds damage."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.ledger import selectors
from chanlian.ledger.models import Account, JournalEntry, JournalLine
from chanlian.ledger.services import post_entry

pytestmark = pytest.mark.django_db
D = Decimal


def test_each_balance_is_the_sum_of_its_lines(books, month):
    for account in Account.objects.filter(cluster=books.tea):
        lines = sum(JournalLine.objects.filter(account=account).values_list("amount", flat=True), D("0"))
        assert selectors.balance(account) == lines == month.get(account.pk, D("0")), account.code


def test_sums_are_exact_where_floating_point_is_not(books):
    # 0.1 + 0.2 style amounts that a float SUM gets wrong on SQLite, and a total beyond 2**53 fen / 100
    for amount in ("0.10", "0.20", "0.03", "0.06"):
        post_entry(
            None, cluster=books.tea, kind="t.x", lines=[(books.bank, D(amount)), (books.fees, -D(amount))]
        )
    big = D("9999999999999.99")
    for _ in range(3):
        post_entry(None, cluster=books.tea, kind="t.big", lines=[(books.bank, big), (books.b_escrow, -big)])
    assert selectors.balance(books.fees) == D("-0.39")
    assert selectors.balance(books.bank) == D("0.39") + 3 * big
    assert selectors.verify_ledger().ok
    tb = selectors.trial_balance(books.tea)
    assert tb.balanced and tb.totals["CNY"].debit == D("0.39") + 3 * big


def test_balances_of_many_accounts_in_one_query(books, month):
    accounts = list(Account.objects.filter(cluster=books.tea))
    with CaptureQueriesContext(connection) as ctx:
        result = selectors.balances(accounts)
    assert len(ctx.captured_queries) == 1
    assert result == {a.pk: month.get(a.pk, D("0.00")) for a in accounts}
    assert selectors.balances([]) == {}


def test_balance_as_of_a_day(books):
    day1 = timezone.now() - timedelta(days=10)
    post_entry(
        None,
        cluster=books.tea,
        kind="escrow.deposit",
        posted_at=day1,
        lines=[(books.bank, D("10.00")), (books.b_escrow, D("-10.00"))],
    )
    post_entry(None, cluster=books.tea, kind="escrow.deposit", lines=[(books.bank, 5), (books.b_escrow, -5)])
    assert selectors.balance(books.bank) == D("15.00")
    assert selectors.balance(books.bank, as_of=timezone.localdate(day1)) == D("10.00")
    assert selectors.balance(books.bank, as_of=day1 - timedelta(seconds=1)) == D("0.00")
    assert selectors.balances([books.bank], as_of=timezone.localdate(day1)) == {books.bank.pk: D("10.00")}


def test_trial_balance_totals_zero_and_rows_equal_the_lines(books, month):
    with CaptureQueriesContext(connection) as ctx:
        tb = selectors.trial_balance(books.tea)
    assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
    assert tb.balanced
    totals = tb.totals["CNY"]
    assert totals.balance == 0 and totals.debit == totals.credit
    debits = sum(JournalLine.objects.filter(cluster=books.tea, amount__gt=0).values_list("amount", flat=True))
    assert totals.debit == debits
    assert len(tb.rows) == Account.objects.filter(cluster=books.tea).count()
    for row in tb.rows:
        assert row.balance == row.debit - row.credit == month.get(row.account.pk, D("0"))
        assert row.debit >= 0 and row.credit >= 0
    by_code = {(r.account.code, r.account.enterprise_id): r for r in tb.rows}
    assert by_code[("bank_clearing", None)].debit == D("30500.50")
    assert by_code[("bank_clearing", None)].credit == D("10012.00")
    assert by_code[("cash", books.s_cash.enterprise_id)].normal_balance == D("15074.50")
    # assets first, then liabilities …, expenses last
    types = [r.account.type for r in tb.rows]
    assert types.index("asset") < types.index("liability") < types.index("income") < types.index("expense")


def test_trial_balance_is_per_cluster_and_as_of(books, month):
    post_entry(
        None, cluster=books.steel, kind="escrow.deposit", lines=[(books.steel_bank, 7), (books.o_cash, -7)]
    )
    steel = selectors.trial_balance(books.steel)
    assert {r.account.pk for r in steel.rows} == {books.steel_bank.pk, books.o_cash.pk}
    assert steel.totals["CNY"].debit == D("7.00")
    before = selectors.trial_balance(books.tea, as_of=timezone.localdate() - timedelta(days=1))
    assert before.balanced and before.totals["CNY"].debit == 0
    assert all(r.balance == 0 for r in before.rows)


def test_trial_balance_of_empty_books(books):
    tb = selectors.trial_balance(books.tea)
    assert tb.balanced and all(r.debit == r.credit == 0 for r in tb.rows)


def _at(day_offset: int, hour: int = 10):
    day = timezone.localdate() - timedelta(days=day_offset)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour), timezone.get_current_timezone())


def test_statement_opening_running_and_closing_balances(books):
    amounts = [(40, "1000.00"), (20, "-300.00"), (20, "250.25"), (5, "-0.25"), (1, "99.00")]
    for offset, amount in amounts:
        post_entry(
            None,
            cluster=books.tea,
            kind="cash.move",
            posted_at=_at(offset),
            lines=[(books.s_cash, D(amount)), (books.bank, -D(amount))],
        )
    today = timezone.localdate()
    st = selectors.statement(books.s_cash, today - timedelta(days=20), today - timedelta(days=2))
    assert st.opening == D("1000.00")
    assert [line.amount for line in st.lines] == [D("-300.00"), D("250.25"), D("-0.25")]
    assert [line.balance for line in st.lines] == [D("700.00"), D("950.25"), D("950.00")]
    assert st.closing == D("950.00") == selectors.balance(books.s_cash, as_of=today - timedelta(days=2))
    assert st.debit_total == D("250.25") and st.credit_total == D("300.25")
    assert st.opening + st.debit_total - st.credit_total == st.closing
    # the whole history: opening zero, closing the balance
    full = selectors.statement(books.s_cash, today - timedelta(days=60), today)
    assert full.opening == 0 and full.closing == selectors.balance(books.s_cash) == D("1049.00")
    # the account's own reading: a liability's balance reads on the credit side
    assert full.normal(full.closing) == D("-1049.00")


def test_statement_days_are_local_days(books):
    tz = timezone.get_current_timezone()
    day = timezone.localdate() - timedelta(days=3)
    late = timezone.make_aware(datetime(day.year, day.month, day.day, 23, 59), tz)
    early_next = late + timedelta(minutes=2)
    for moment in (late, early_next):
        post_entry(
            None, cluster=books.tea, kind="t.x", posted_at=moment, lines=[(books.s_cash, 1), (books.bank, -1)]
        )
    st = selectors.statement(books.s_cash, day, day)
    assert len(st.lines) == 1 and st.lines[0].posted_at == late


def test_statement_refuses_an_inverted_range(books):
    from chanlian.core.errors import InvalidInput

    today = timezone.localdate()
    with pytest.raises(InvalidInput) as exc:
        selectors.statement(books.s_cash, today, today - timedelta(days=1))
    assert exc.value.code == "invalid_range"


def test_verify_ledger_passes_on_sound_books(books, month, capsys):
    result = selectors.verify_ledger()
    assert result.ok, result.problems
    assert result.entries == JournalEntry.objects.count() and result.lines == JournalLine.objects.count()
    assert selectors.verify_ledger(books.tea).ok
    call_command("ledger_verify")
    assert "ledger sound" in capsys.readouterr().out


def test_verify_ledger_names_damage_that_bypassed_the_services(books, month):
    # Inserts are all the database allows: an unbalanced entry, an empty one, a false reversal.
    bad = JournalEntry.objects.create(cluster=books.tea, kind="forged")
    JournalLine.objects.create(entry=bad, cluster=books.tea, account=books.bank, amount=D("5.00"))
    empty = JournalEntry.objects.create(cluster=books.tea, kind="forged.empty")
    original = JournalEntry.objects.filter(kind="escrow.deposit").first()
    fake = JournalEntry.objects.create(cluster=books.tea, kind="escrow.deposit", reverses=original)
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry=fake, cluster=books.tea, account=books.bank, amount=D("-1.00")),
            JournalLine(entry=fake, cluster=books.tea, account=books.b_escrow, amount=D("1.00")),
        ]
    )
    stray = JournalEntry.objects.create(cluster=books.tea, kind="forged.stray")
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry=stray, cluster=books.tea, account=books.o_cash, amount=D("2.00")),
            JournalLine(entry=stray, cluster=books.tea, account=books.bank, amount=D("-2.00")),
        ]
    )
    result = selectors.verify_ledger()
    text = "\n".join(result.problems)
    assert not result.ok
    assert f"entry #{bad.pk}: CNY lines sum to 5.00" in text
    assert f"entry #{empty.pk}: has no lines" in text
    assert f"entry #{fake.pk}: does not mirror entry #{original.pk}" in text
    assert f"entry #{stray.pk}: line" in text
    assert not selectors.trial_balance(books.tea).balanced
    with pytest.raises(CommandError, match="problem"):
        call_command("ledger_verify", "--json")
