"""post_entry / reverse_entry / open_account: the bookkeeping rules, each refusal with its code and
nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chanlian.core.errors import Conflict, InvalidInput
from chanlian.core.models import AuditEntry
from chanlian.core.money import Money
from chanlian.ledger.models import Account, JournalEntry, JournalLine
from chanlian.ledger.services import open_account, post_entry, reverse_entry

pytestmark = pytest.mark.django_db
D = Decimal


def deposit(books, amount="100.00", **kw):
    return post_entry(
        books.operator,
        cluster=books.tea,
        kind="escrow.deposit",
        lines=[(books.bank, D(amount)), (books.b_escrow, -D(amount))],
        **kw,
    )


def refused(books, code, **kw):
    entries, lines, audits = (
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        AuditEntry.objects.count(),
    )
    with pytest.raises((InvalidInput, Conflict)) as exc:
        post_entry(
            books.operator, cluster=kw.pop("cluster", books.tea), kind=kw.pop("kind", "test.entry"), **kw
        )
    assert exc.value.code == code, exc.value.as_dict()
    assert (JournalEntry.objects.count(), JournalLine.objects.count(), AuditEntry.objects.count()) == (
        entries,
        lines,
        audits,
    )
    return exc.value


def test_balanced_entry_is_posted_with_its_lines_and_audited(books):
    entry = deposit(books, "18000.00", reference="order:1", memo="买方付款")
    assert entry.pk and entry.cluster == books.tea and entry.posted_by == books.operator
    assert sorted(entry.lines.values_list("account_id", "amount")) == sorted(
        [(books.bank.pk, D("18000.00")), (books.b_escrow.pk, D("-18000.00"))]
    )
    assert set(entry.lines.values_list("cluster_id", flat=True)) == {books.tea.pk}
    audit = AuditEntry.objects.get(action="ledger.post_entry", object_id=str(entry.pk))
    assert audit.cluster_id == books.tea.pk
    assert audit.data["after"]["lines"] == [[books.bank.pk, "18000.00"], [books.b_escrow.pk, "-18000.00"]]


def test_amounts_may_be_int_str_or_money(books):
    entry = post_entry(
        None,
        cluster=books.tea,
        kind="escrow.deposit",
        lines=[(books.bank, 5), (books.b_escrow, "-2.50"), (books.b_escrow, Money(D("-2.50")))],
    )
    assert entry.posted_by is None
    assert sorted(entry.lines.values_list("amount", flat=True)) == [D("-2.50"), D("-2.50"), D("5.00")]


def test_unbalanced_entry_refused(books):
    exc = refused(books, "unbalanced_entry", lines=[(books.bank, D("100.00")), (books.b_escrow, D("-99.99"))])
    assert "0.01" in str(exc.detail)


def test_single_line_refused_as_unbalanced(books):
    refused(books, "unbalanced_entry", lines=[(books.bank, D("100.00"))])


@pytest.mark.parametrize("lines", [[], None])
def test_empty_entry_refused(books, lines):
    refused(books, "empty_entry", lines=lines)


def test_zero_line_refused(books):
    refused(books, "zero_line", lines=[(books.bank, D("0.00")), (books.b_escrow, D("0"))])


@pytest.mark.parametrize("amount", ["0.001", D("100.005"), "1e-3"])
def test_more_than_two_decimals_refused(books, amount):
    refused(books, "too_many_decimals", lines=[(books.bank, amount), (books.b_escrow, D("-0.01"))])


def test_trailing_zeros_beyond_fen_are_fine(books):
    entry = post_entry(
        None, cluster=books.tea, kind="t.x", lines=[(books.bank, D("1.2000")), (books.b_escrow, D("-1.20"))]
    )
    assert entry.lines.count() == 2


@pytest.mark.parametrize("amount", [1.5, "abc", D("NaN"), D("Infinity"), True, None])
def test_bad_amounts_refused(books, amount):
    refused(books, "invalid_amount", lines=[(books.bank, amount), (books.b_escrow, D("-1.50"))])


def test_too_large_amount_refused(books):
    refused(books, "amount_too_large", lines=[(books.bank, D("1e18")), (books.b_escrow, -D("1e18"))])


def test_account_of_another_cluster_refused(books):
    refused(books, "foreign_account", lines=[(books.bank, D("10.00")), (books.o_cash, D("-10.00"))])
    refused(
        books,
        "foreign_account",
        cluster=books.steel,
        lines=[(books.steel_bank, D("10.00")), (books.b_escrow, D("-10.00"))],
    )


def test_currency_mismatch_refused(books):
    usd_bank = open_account(books.tea, "bank_clearing", currency="USD")
    refused(books, "currency_mismatch", lines=[(usd_bank, D("10.00")), (books.b_escrow, D("-10.00"))])
    refused(
        books,
        "currency_mismatch",
        lines=[(books.bank, Money(D("10.00"), "USD")), (books.b_escrow, D("-10.00"))],
    )


@pytest.mark.parametrize("kind", ["", "Escrow.Deposit", "escrow deposit", "escrow..x", "x" * 65, ".x"])
def test_bad_kind_refused(books, kind):
    refused(books, "invalid_kind", kind=kind, lines=[(books.bank, D("1.00")), (books.b_escrow, D("-1.00"))])


@pytest.mark.parametrize("line", [("not an account", D("1")), (None, D("1")), "oops", (1, 2, 3)])
def test_malformed_lines_refused(books, line):
    refused(books, "invalid_line", lines=[line, (books.b_escrow, D("-1.00"))])


def test_too_long_memo_refused(books):
    refused(books, "too_long", memo="备" * 501, lines=[(books.bank, D("1.00")), (books.b_escrow, D("-1.00"))])


def test_future_or_naive_posted_at_refused(books):
    from datetime import datetime, timedelta

    from django.utils import timezone

    lines = [(books.bank, D("1.00")), (books.b_escrow, D("-1.00"))]
    refused(books, "invalid_posted_at", lines=lines, posted_at=timezone.now() + timedelta(days=1))
    refused(books, "invalid_posted_at", lines=lines, posted_at=datetime(2026, 1, 1))
    past = timezone.now() - timedelta(days=200)
    assert deposit(books, posted_at=past).posted_at == past


def test_same_idempotency_key_returns_the_first_entry(books):
    first = deposit(books, "50.00", idempotency_key="pay-order-7")
    again = deposit(books, "50.00", idempotency_key="pay-order-7", memo="a retry may differ in memo")
    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1 and JournalLine.objects.count() == 2
    assert AuditEntry.objects.filter(action="ledger.post_entry").count() == 1


def test_same_key_with_other_lines_is_a_conflict(books):
    deposit(books, "50.00", idempotency_key="pay-order-7")
    exc = refused(
        books,
        "idempotency_key_reused",
        kind="escrow.deposit",
        idempotency_key="pay-order-7",
        lines=[(books.bank, D("51.00")), (books.b_escrow, D("-51.00"))],
    )
    assert exc.status == 409
    refused(
        books,
        "idempotency_key_reused",
        kind="escrow.refund",
        idempotency_key="pay-order-7",
        lines=[(books.bank, D("50.00")), (books.b_escrow, D("-50.00"))],
    )


def test_idempotency_keys_are_per_cluster(books):
    deposit(books, idempotency_key="k1")
    other = post_entry(
        None,
        cluster=books.steel,
        kind="escrow.deposit",
        idempotency_key="k1",
        lines=[(books.steel_bank, D("1.00")), (books.o_cash, D("-1.00"))],
    )
    assert other.cluster == books.steel and JournalEntry.objects.count() == 2


@pytest.mark.parametrize("key", ["", "k" * 129, "has space", "中文"])
def test_bad_idempotency_key_refused(books, key):
    refused(
        books,
        "invalid_idempotency_key",
        idempotency_key=key,
        lines=[(books.bank, D("1.00")), (books.b_escrow, D("-1.00"))],
    )


def test_reversal_mirrors_the_original(books):
    entry = post_entry(
        books.operator,
        cluster=books.tea,
        kind="escrow.release",
        reference="order:9",
        lines=[(books.b_escrow, D("100.00")), (books.s_cash, D("-99.50")), (books.fees, D("-0.50"))],
    )
    reversal = reverse_entry(books.operator, entry, "released by mistake")
    assert reversal.reverses == entry and reversal.kind == entry.kind and reversal.reference == "order:9"
    assert sorted(reversal.lines.values_list("account_id", "amount")) == sorted(
        (a, -amount) for a, amount in entry.lines.values_list("account_id", "amount")
    )
    entry.refresh_from_db()
    assert entry.reversed_by == reversal
    assert AuditEntry.objects.filter(action="ledger.reverse_entry", object_id=str(reversal.pk)).exists()


def test_reversing_twice_is_refused(books):
    entry = deposit(books)
    reverse_entry(books.operator, entry, "wrong amount")
    with pytest.raises(Conflict) as exc:
        reverse_entry(books.operator, entry, "again")
    assert exc.value.code == "already_reversed"
    assert JournalEntry.objects.count() == 2


def test_a_reversal_cannot_be_reversed(books):
    reversal = reverse_entry(books.operator, deposit(books), "wrong amount")
    with pytest.raises(Conflict) as exc:
        reverse_entry(books.operator, reversal, "undo the undo")
    assert exc.value.code == "cannot_reverse_a_reversal"


def test_reversal_needs_a_reason(books):
    with pytest.raises(InvalidInput) as exc:
        reverse_entry(books.operator, deposit(books), "  ")
    assert exc.value.code == "memo_required"


def test_open_account_is_idempotent_and_names_the_owner(books, world):
    supplier = world.enterprises["supplier"]
    again = open_account(books.tea, "cash", supplier)
    assert again.pk == books.s_cash.pk
    assert open_account(books.tea, "bank_clearing").pk == books.bank.pk
    assert books.s_cash.name == f"{supplier.name} 平台现金"
    assert books.bank.name == f"{books.tea.name} 资金监管银行账户"
    assert Account.objects.filter(cluster=books.tea, code="bank_clearing").count() == 1


@pytest.mark.parametrize(
    ("code", "with_enterprise", "error"),
    [
        ("nope", False, "unknown_account_code"),
        ("cash", False, "account_needs_enterprise"),
        ("fee_income", True, "cluster_account"),
    ],
)
def test_open_account_refusals(books, world, code, with_enterprise, error):
    enterprise = world.enterprises["supplier"] if with_enterprise else None
    with pytest.raises(InvalidInput) as exc:
        open_account(books.tea, code, enterprise)
    assert exc.value.code == error


def test_open_account_refuses_bad_currency(books):
    with pytest.raises(InvalidInput) as exc:
        open_account(books.tea, "bank_clearing", currency="rmb")
    assert exc.value.code == "invalid_currency"


def test_database_refuses_an_account_whose_code_does_not_fit_its_owner(books, world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            cluster=books.tea, enterprise=world.enterprises["buyer"], code="fee_income", name="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(cluster=books.tea, code="bank_clearing", name="duplicate")
