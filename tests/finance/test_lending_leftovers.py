"""Lending leftovers of session 10: the daily ``chanlian finance expire`` job, the platform fee at maturity
never driving the creditor's cash below zero, ``pay_voucher`` in a constant number of queries whatever the
number of parts, and a vouchered order refused by the trade payment paths (``receivable_vouchered``)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.core.errors import ServiceError
from chanlian.finance import lending, services
from chanlian.finance.models import FinancedAsset, FinancingApplication, Voucher, VoucherEvent
from chanlian.ledger.models import JournalEntry
from chanlian.ledger.selectors import trial_balance
from chanlian.ledger.services import open_account
from chanlian.trade.models import BankLine, Order, Payment
from chanlian.trade.services import payments
from tests.finance.helpers import confirmed_voucher, invoiced_order, registered
from tests.finance.test_lending_steps import approved, disbursed, later, lending_world
from tests.trade.order_steps import bal, operator_of

pytestmark = pytest.mark.django_db
D = Decimal


def _pay(order, voucher, amount="36000.00", ref="BK1", operator=None):
    return lending.pay_voucher(
        operator or operator_of(order),
        voucher.pk,
        amount=amount,
        bank_reference=ref,
        received_on=timezone.localdate(),
    )


# ------------------------------------------------------------------------------------------- (a) the job


def test_finance_expire_command_expires_matured_approvals_once(world):
    lw = lending_world(world)
    app = approved(lw)
    out = StringIO()
    call_command("finance", "expire", stdout=out)  # not matured yet: nothing
    assert "Expired 0" in out.getvalue()
    assert FinancingApplication.objects.get(pk=app.pk).status == "approved"
    with later(30):
        out = StringIO()
        call_command("finance", "expire", stdout=out)
        assert "Expired 1" in out.getvalue()
        app.refresh_from_db()
        assert app.status == "expired"
        assert not FinancedAsset.objects.filter(claimed_by=app.number).exists()  # the claim is released
        assert list(app.events.values_list("to_status", flat=True))[-1] == "expired"
        out = StringIO()
        call_command("finance", "expire", stdout=out)  # twice the same day: nothing more
        assert "Expired 0" in out.getvalue()


def test_finance_expire_as_of_and_refusals(world):
    lw = lending_world(world)
    app = approved(lw)
    day = lw.part.maturity_date
    with pytest.raises(CommandError):
        call_command("finance", "expire", "--as-of", "2026-13-40")
    with pytest.raises(CommandError):  # a future day would expire assets that have not matured
        call_command("finance", "expire", "--as-of", day.isoformat())
    assert FinancingApplication.objects.get(pk=app.pk).status == "approved"
    with later(40):
        call_command("finance", "expire", "--as-of", (day - timezone.timedelta(days=1)).isoformat())
        assert FinancingApplication.objects.get(pk=app.pk).status == "approved"  # matures after that day
        call_command("finance", "expire", "--as-of", day.isoformat(), stdout=StringIO())
        assert FinancingApplication.objects.get(pk=app.pk).status == "expired"


# ------------------------------------------------------------------------------------------- (b) the fee


def test_fee_at_maturity_never_makes_the_creditor_cash_negative(world):
    """The supplier passed its whole voucher on (one part discounted by the tier-2's lender): at maturity
    it is paid nothing, so the fee is not charged — before the fix its cash went to −fee."""
    lw = lending_world(world)
    u = world.users
    supplier = world.enterprises["supplier"]
    services.transfer_voucher(u["supplier"], lw.rest.pk, to_enterprise=lw.rival.pk)
    services.accept_voucher_transfer(u["rival"], lw.rest.pk)
    app = disbursed(lw)
    order = Order.objects.get(pk=lw.root.receivable.order_id)
    with later(31):
        paid = _pay(order, lw.root)
    order.refresh_from_db()
    assert order.fee_amount and order.fee_amount > 0
    assert bal(order, "cash", supplier) == 0  # not −fee
    assert bal(order, "cash", lw.rival) == D("24000.00") + app.net  # the kept part + the net proceeds
    assert bal(order, "cash", lw.lender) == D("12000.00")
    assert bal(order, "fee_income") == 0
    assert bal(order, "receivable", supplier) == 0 and bal(order, "receivable", lw.lender) == 0
    assert trial_balance(order.cluster).balanced
    entry = JournalEntry.objects.get(pk=paid.entry_id)
    accounts = {
        (line.account.code, line.account.enterprise_id) for line in entry.lines.select_related("account")
    }
    assert ("fee_income", None) not in accounts and ("cash", supplier.pk) not in accounts
    from chanlian.core.models import AuditEntry

    after = AuditEntry.objects.filter(action="voucher.paid").order_by("-id").first().data["after"]
    assert D(str(after["fee"])) == 0 and D(str(after["fee_uncollected"])) == order.fee_amount


def test_fee_charged_from_what_the_creditor_has_and_no_more(world):
    """The creditor keeps a part smaller than the fee and has a little cash: the fee takes both, no more."""
    u = world.users
    supplier, buyer = world.enterprises["supplier"], world.enterprises["buyer"]
    root = confirmed_voucher(world)
    order = Order.objects.get(pk=root.receivable.order_id)
    fee = order.fee_amount or payments._orders.fee_for(order, root.amount)
    assert fee > D("2.00")
    from tests.finance.helpers import tier2

    rival = tier2(world)
    _small, rest = services.split_voucher(
        u["supplier"], root.pk, amounts=["1.00", str(root.amount - D("1.00"))]
    )
    services.transfer_voucher(u["supplier"], rest.pk, to_enterprise=rival.pk)
    services.accept_voucher_transfer(u["rival"], rest.pk)
    # 0.50 of cash on the platform (an opening balance brought in by the operator: equity → cash)
    from chanlian.ledger.services import post_entry

    post_entry(
        u["operator"],
        cluster=order.cluster,
        kind="opening.balance",
        lines=[
            (open_account(order.cluster, "equity"), D("0.50")),
            (open_account(order.cluster, "cash", supplier), D("-0.50")),
        ],
        reference="test",
    )
    with later(31):
        _pay(order, root)
    assert bal(order, "cash", supplier) == 0  # 1.00 paid + 0.50 held − 1.50 of the fee
    assert bal(order, "fee_income") == D("1.50")
    assert bal(order, "cash", rival) == root.amount - D("1.00")
    assert bal(order, "payable", buyer) == 0
    assert trial_balance(order.cluster).balanced


def test_fee_charged_whole_when_the_creditor_keeps_enough(world):
    root = confirmed_voucher(world)
    order = Order.objects.get(pk=root.receivable.order_id)
    with later(31):
        _pay(order, root)
    order.refresh_from_db()
    assert bal(order, "cash", world.enterprises["supplier"]) == root.amount - order.fee_amount
    assert bal(order, "fee_income") == order.fee_amount > 0


# ------------------------------------------------------------------------------------------- (c) queries


def _split_among(world, root, n, rival):
    """Split ``root`` into ``n`` parts; every other part passed to ``rival`` (accepted)."""
    u = world.users
    each = (root.amount / n).quantize(D("0.01"))
    amounts = [each] * (n - 1) + [root.amount - each * (n - 1)]
    parts = services.split_voucher(u["supplier"], root.pk, amounts=[str(a) for a in amounts])
    for part in sorted(parts, key=lambda p: p.pk)[1::2]:
        services.transfer_voucher(u["supplier"], part.pk, to_enterprise=rival.pk)
        services.accept_voucher_transfer(u["rival"], part.pk)
    return parts


def test_pay_voucher_queries_do_not_grow_with_the_parts(world, django_assert_max_num_queries):
    from tests.finance.helpers import tier2

    rival = tier2(world)
    small = confirmed_voucher(world, invoiced_order(world))
    big = confirmed_voucher(world, invoiced_order(world))
    _split_among(world, small, 2, rival)
    _split_among(world, big, 24, rival)
    order_small = Order.objects.get(pk=small.receivable.order_id)
    order_big = Order.objects.get(pk=big.receivable.order_id)
    cluster = order_small.cluster
    for code, ent in (
        ("cash", world.enterprises["supplier"]),
        ("cash", rival),
        ("fee_income", None),
        ("bank_clearing", None),
    ):
        open_account(cluster, code, ent)
    operator = operator_of(order_small)
    with later(31):
        with CaptureQueriesContext(connection) as two:
            _pay(order_small, small, amount=str(small.amount), ref="BKS", operator=operator)
        # 24 parts (12 holders' lines) in no more statements than 2 parts
        with django_assert_max_num_queries(len(two.captured_queries)):
            _pay(order_big, big, amount=str(big.amount), ref="BKB", operator=operator)
    parts = Voucher.objects.filter(root=big).exclude(pk=big.pk)
    assert parts.count() == 24 and set(parts.values_list("status", flat=True)) == {"paid"}
    assert VoucherEvent.objects.filter(voucher__in=parts, kind="paid").count() == 24
    assert sum(parts.values_list("amount", flat=True)) == big.amount
    order_big.refresh_from_db()
    assert bal(order_big, "cash", rival) == sum(
        parts.filter(holder=rival).values_list("amount", flat=True)
    ) + sum(
        Voucher.objects.filter(root=small, holder=rival).exclude(pk=small.pk).values_list("amount", flat=True)
    )
    assert trial_balance(cluster).balanced


def test_pay_voucher_opens_missing_accounts_in_bulk(world):
    """A holder without a cash account yet gets one (bulk insert) and is paid."""
    from tests.finance.helpers import tier2

    rival = tier2(world)
    root = confirmed_voucher(world)
    parts = _split_among(world, root, 4, rival)
    order = Order.objects.get(pk=root.receivable.order_id)
    from chanlian.ledger.models import Account

    assert not Account.objects.filter(code="cash", enterprise=rival).exists()
    with later(31):
        _pay(order, root)
    held = sum(p.amount for p in Voucher.objects.filter(pk__in=[p.pk for p in parts], holder=rival))
    assert bal(order, "cash", rival) == held > 0
    assert Account.objects.filter(code="cash", enterprise=rival).count() == 1
    assert trial_balance(order.cluster).balanced


# ------------------------------------------------------------------------------------------- (d) trade


def _state(order):
    return (
        Payment.objects.count(),
        JournalEntry.objects.count(),
        Order.objects.get(pk=order.pk).status,
        BankLine.objects.filter(status="matched").count(),
    )


def test_confirm_transfer_refuses_a_vouchered_order(world):
    voucher = confirmed_voucher(world)
    order = Order.objects.get(pk=voucher.receivable.order_id)
    before = _state(order)
    with pytest.raises(ServiceError) as exc:
        payments.confirm_transfer(
            operator_of(order),
            order.pk,
            amount=str(order.accepted_amount),
            bank_reference="BT1",
            received_on=timezone.localdate(),
        )
    assert exc.value.code == "receivable_vouchered" and exc.value.status == 409
    assert _state(order) == before
    # the voucher is what is paid: at maturity, through pay_voucher
    with later(31):
        _pay(order, voucher, amount=str(voucher.amount))
    assert Order.objects.get(pk=order.pk).status in ("settled", "closed")


def test_a_registered_receivable_not_confirmed_is_still_paid_directly(world):
    receivable = registered(world)
    order = Order.objects.get(pk=receivable.order_id)
    payments.confirm_transfer(
        operator_of(order),
        order.pk,
        amount=str(order.accepted_amount),
        bank_reference="BT2",
        received_on=timezone.localdate(),
    )
    assert Order.objects.get(pk=order.pk).status in ("settled", "closed")


def test_bank_statement_line_for_a_vouchered_order_stays_unmatched(world):
    voucher = confirmed_voucher(world)
    order = Order.objects.get(pk=voucher.receivable.order_id)
    before = _state(order)
    day = timezone.localdate().isoformat()
    csv = f"交易日期,交易流水号,收入金额,摘要\n{day},TX0001,{order.accepted_amount},货款 {order.reference}\n"
    payments.import_bank_statement(
        operator_of(order), order.cluster_id, filename="s.csv", data=csv.encode("utf-8")
    )
    line = BankLine.objects.get(transaction_id="TX0001")
    assert line.status != "matched" and line.problem == "receivable_vouchered"
    assert (Payment.objects.count(), Order.objects.get(pk=order.pk).status) == (before[0], before[2])
