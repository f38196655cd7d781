"""Whatever sequence of balanced entries and reversals is posted, the trial balance sums to zero, debits
equal credits, and each account's balance is the sum of its lines (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chanlian.core.errors import Conflict
from chanlian.ledger import selectors
from chanlian.ledger.models import Account, JournalEntry, JournalLine
from chanlian.ledger.services import post_entry, reverse_entry

pytestmark = pytest.mark.django_db

fen = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n) / 100)
# an entry: 1–4 debits on distinct-or-not accounts, balanced by credits split over 1–3 accounts
entry = st.tuples(
    st.lists(st.tuples(st.integers(0, 8), fen), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 8), st.integers(1, 100)), min_size=1, max_size=3),
)
operation = st.one_of(
    st.tuples(st.just("post"), entry),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
)


def _lines(accounts, debits, credits):
    lines = [(accounts[i], amount) for i, amount in debits]
    total = sum(amount for _, amount in debits)
    weights = sum(w for _, w in credits)
    remaining = total
    for n, (i, w) in enumerate(credits):
        share = remaining if n == len(credits) - 1 else (total * w / weights).quantize(Decimal("0.01"))
        share = min(share, remaining)
        if share > 0:
            lines.append((accounts[i], -share))
            remaining -= share
    return lines


@settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_any_sequence_keeps_the_books_balanced(books, ops):
    accounts = [
        books.bank,
        books.fees,
        books.suspense,
        books.charges,
        books.s_cash,
        books.s_receivable,
        books.b_cash,
        books.b_escrow,
        books.b_payable,
    ]
    with transaction.atomic():
        posted: list = []
        for op, arg in ops:
            if op == "post":
                lines = _lines(accounts, *arg)
                posted.append(post_entry(None, cluster=books.tea, kind="prop.entry", lines=lines))
            elif posted:
                target = posted[arg % len(posted)]
                try:
                    posted.append(reverse_entry(None, target, "property test"))
                except Conflict as exc:
                    assert exc.code in ("already_reversed", "cannot_reverse_a_reversal")
                    assert JournalEntry.objects.filter(reverses=target).exists() or target.reverses_id

        tb = selectors.trial_balance(books.tea)
        assert tb.balanced
        assert sum((row.balance for row in tb.rows), Decimal("0")) == 0
        for row in tb.rows:
            # summed in Python, line by line: independent of any SQL aggregate
            lines_sum = sum(
                JournalLine.objects.filter(account=row.account).values_list("amount", flat=True), Decimal(0)
            )
            assert row.balance == lines_sum == selectors.balance(row.account)
        derived = selectors.balances(Account.objects.filter(cluster=books.tea))
        assert {r.account.pk: r.balance for r in tb.rows} == derived
        check = selectors.verify_ledger(books.tea)
        assert check.ok, check.problems
        transaction.set_rollback(True)
