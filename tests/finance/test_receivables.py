"""Receivables from verified trade, the four-flow check (四流合一) and the debtor's confirmation (确权)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import ServiceError
from chanlian.finance import selectors, services
from chanlian.finance.models import Receivable, Voucher, VoucherEvent, VoucherHolder
from chanlian.trade.choices import OrderStatus
from chanlian.trade.models import Contract, Invoice, Order, Shipment
from tests.finance.helpers import PASSWORD, confirmed_voucher, counts, invoiced_order, registered
from tests.trade.order_steps import drive, listing_order

pytestmark = pytest.mark.django_db


def _code(fn, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ServiceError) as info:
        fn(*args, **kwargs)
    return info.value.status, info.value.code


# ------------------------------------------------------------------ receivable_for / register


def test_an_accepted_invoiced_terms_order_yields_a_receivable(world):
    order = invoiced_order(world)
    r = services.receivable_for(order)
    assert r.pk is None
    assert (r.creditor_id, r.debtor_id) == (order.supplier_id, order.buyer_id)
    assert r.amount == order.accepted_amount == Decimal("36000.00")
    assert r.due_date == order.due_date
    saved = services.register_receivable(world.users["supplier"], order.pk)
    assert saved.pk and saved.status == "registered" and saved.amount == Decimal("36000.00")
    assert services.receivable_for(order) == saved


def test_partial_acceptance_gives_the_accepted_amount(world):
    order = listing_order(world, quantity="200", payment_terms="terms_60")
    order = drive(world, order, OrderStatus.ACCEPTED, accepted_quantity="150")
    from tests.trade.order_steps import close_with_invoice

    close_with_invoice(world, order)
    r = registered(world, Order.objects.get(pk=order.pk))
    assert r.amount == Decimal("27000.00")
    assert selectors.four_flow(r.order, r).ok


@pytest.mark.parametrize("case", ["escrow", "not_accepted", "no_invoice", "settled"])
def test_orders_that_yield_no_receivable(world, case):
    if case == "escrow":
        order = drive(world, listing_order(world), OrderStatus.SETTLED)
    elif case == "not_accepted":
        order = drive(world, listing_order(world, payment_terms="terms_30"), OrderStatus.DELIVERED)
    elif case == "no_invoice":
        order = invoiced_order(world, invoice=False)
    else:
        order = drive(world, invoiced_order(world), OrderStatus.SETTLED)
    before = counts()
    assert _code(services.register_receivable, world.users["supplier"], order.pk) == (409, "not_receivable")
    assert counts() == before


def test_registration_is_once_per_order_and_the_suppliers(world):
    order = invoiced_order(world)
    assert _code(services.register_receivable, world.users["buyer"], order.pk)[0] == 403
    assert _code(services.register_receivable, world.users["supplier_viewer"], order.pk)[0] == 403
    for name in ("outsider", "lender", "gov", "nobody", "operator"):
        assert _code(services.register_receivable, world.users[name], order.pk) == (404, "not_found")
    assert _code(services.register_receivable, world.users["supplier"], 10**9) == (404, "not_found")
    services.register_receivable(world.users["supplier_staff"], order.pk)
    before = counts()
    assert _code(services.register_receivable, world.users["supplier"], order.pk) == (
        409,
        "already_registered",
    )
    assert counts() == before


# ------------------------------------------------------------------ the four-flow check


def test_the_check_passes_on_clean_trade_with_every_check_named(world):
    r = registered(world)
    check = selectors.four_flow(r.order, r)
    assert [c.key for c in check.checks] == [
        "contract",
        "shipments",
        "acceptance",
        "invoices",
        "parties",
        "amounts",
        "dates",
        "ledger",
    ]
    assert check.ok and all(c.reason for c in check.checks)


def _break(order, how):
    """Change a record behind the services, as a bug or a fraud would."""
    if how == "contract_tampered":
        c = Contract.objects.get(order=order, voided_at__isnull=True)
        c.content["total"]["value"] = "99999.00"
        c.save()
        return "contract"
    if how == "order_changed_after_signing":
        Order.objects.filter(pk=order.pk).update(unit_price=Decimal("1.00"))
        return "contract"
    if how == "no_waybill":
        Shipment.objects.filter(order=order).update(waybill="")
        return "shipments"
    if how == "invoice_unconfirmed":
        Invoice.objects.filter(order=order).update(status="recorded")
        return "invoices"
    if how == "invoice_other_buyer":
        from chanlian.registry.models import Enterprise

        other = Enterprise.objects.get(name="兴化市不锈钢管厂")
        Invoice.objects.filter(order=order).update(buyer=other)
        return "parties"
    if how == "invoice_exceeds_acceptance":
        inv = Invoice.objects.get(order=order)
        Invoice.objects.filter(pk=inv.pk).update(total=inv.total + 1, tax=inv.tax + 1)
        return "amounts"
    if how == "invoice_short":
        inv = Invoice.objects.get(order=order)
        Invoice.objects.filter(pk=inv.pk).update(total=inv.total - 100, tax=inv.tax - 100)
        return "amounts"
    if how == "invoice_before_contract":
        before = timezone.localdate(order.placed_at) - timedelta(days=3)
        Invoice.objects.filter(order=order).update(issue_date=before)
        return "dates"
    if how == "shipped_after_acceptance":
        after = timezone.localdate(order.accepted_at) + timedelta(days=2)
        Shipment.objects.filter(order=order).update(shipped_on=after)
        return "dates"
    if how == "due_date_moved":
        Order.objects.filter(pk=order.pk).update(due_date=order.due_date + timedelta(days=30))
        return "dates"
    raise AssertionError(how)


CASES = [
    "contract_tampered",
    "order_changed_after_signing",
    "no_waybill",
    "invoice_unconfirmed",
    "invoice_other_buyer",
    "invoice_exceeds_acceptance",
    "invoice_short",
    "invoice_before_contract",
    "shipped_after_acceptance",
    "due_date_moved",
]


@pytest.mark.parametrize("how", CASES)
def test_a_broken_record_fails_its_check_and_blocks_confirmation(world, how):
    r = registered(world)
    key = _break(r.order, how)
    r = Receivable.objects.get(pk=r.pk)
    check = selectors.four_flow(r.order, r)
    failed = {c.key: c.reason for c in check.failed}
    assert key in failed, (how, failed)
    assert failed[key]
    before = counts()
    with pytest.raises(ServiceError) as info:
        services.confirm_receivable(world.users["buyer"], r.pk, password=PASSWORD)
    assert (info.value.status, info.value.code) == (409, "four_flow_failed")
    assert key in info.value.fields
    assert counts() == before
    assert Receivable.objects.get(pk=r.pk).status == "registered"


def test_a_rejected_invoice_leaves_the_receivable_without_invoices(world):
    order = invoiced_order(world, invoice=False)
    from chanlian.trade.services import invoices
    from tests.trade.order_steps import users_of

    supplier, buyer = users_of(order)
    inv = invoices.record_invoice(
        supplier,
        order.pk,
        invoice_type="digital_special",
        code="",
        number="12345678901234567890",
        issue_date=timezone.localdate(order.accepted_at),
        amount=Decimal("31858.41"),
        tax_rate=Decimal("0.13"),
        tax=Decimal("4141.59"),
        total=Decimal("36000.00"),
    )
    r = registered(world, order)
    invoices.reject_invoice(buyer, inv.pk, reason="抬头有误")
    failed = {c.key for c in selectors.four_flow(order, Receivable.objects.get(pk=r.pk)).failed}
    assert "invoices" in failed and "amounts" in failed


# ------------------------------------------------------------------ confirmation


def test_the_debtors_admin_confirms_and_a_voucher_is_issued(world):
    r = registered(world)
    voucher = services.confirm_receivable(world.users["buyer"], r.pk, password=PASSWORD)
    r.refresh_from_db()
    assert r.status == "confirmed" and r.confirmed_by == world.users["buyer"]
    assert voucher.issuer == world.enterprises["buyer"]
    assert voucher.holder == world.enterprises["supplier"]
    assert voucher.amount == r.amount and voucher.maturity_date == r.due_date
    assert voucher.status == "held" and voucher.parent is None and voucher.root_id == voucher.pk
    assert voucher.number.startswith("PZ") and len(voucher.number) == 12
    assert list(VoucherEvent.objects.filter(voucher=voucher).values_list("kind", flat=True)) == ["issued"]
    assert set(VoucherHolder.objects.filter(voucher=voucher).values_list("enterprise_id", flat=True)) == {
        world.enterprises["supplier"].pk
    }


def test_confirmation_refusals_change_nothing(world):
    r = registered(world)
    before = counts()
    assert _code(services.confirm_receivable, world.users["buyer"], r.pk, password="wrong") == (
        400,
        "wrong_password",
    )
    assert _code(services.confirm_receivable, world.users["buyer"], r.pk, password="") == (
        400,
        "wrong_password",
    )
    # The creditor sees the receivable but is not its debtor.
    assert _code(services.confirm_receivable, world.users["supplier"], r.pk, password=PASSWORD) == (
        403,
        "not_debtor",
    )
    for name in ("outsider", "lender", "gov", "nobody", "operator", "pending"):
        assert _code(services.confirm_receivable, world.users[name], r.pk, password=PASSWORD) == (
            404,
            "not_found",
        )
    assert _code(services.confirm_receivable, world.users["buyer"], "x", password=PASSWORD) == (
        404,
        "not_found",
    )
    assert counts() == before
    services.confirm_receivable(world.users["buyer"], r.pk, password=PASSWORD)
    again = counts()
    assert _code(services.confirm_receivable, world.users["buyer"], r.pk, password=PASSWORD) == (
        409,
        "already_confirmed",
    )
    assert counts() == again


def test_a_staff_user_of_the_debtor_may_not_confirm(world):
    from chanlian.registry import services as registry

    r = registered(world)
    invitation = registry.invite_user(world.users["buyer"], world.enterprises["buyer"].pk, role="staff")
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user(username="buyer_staff", password=PASSWORD)
    registry.accept_invitation(staff, invitation.token)
    staff.__dict__.pop("_chanlian_principal", None)
    assert _code(services.confirm_receivable, staff, r.pk, password=PASSWORD) == (403, "not_debtor")


def test_a_receivable_paid_meanwhile_cannot_be_confirmed(world):
    r = registered(world)
    drive(world, r.order, OrderStatus.SETTLED)
    assert _code(services.confirm_receivable, world.users["buyer"], r.pk, password=PASSWORD) == (
        409,
        "four_flow_failed",
    )
    assert not Voucher.objects.exists()


def test_receivables_are_visible_to_the_two_parties_only(world):
    r = registered(world)
    for name in ("supplier", "supplier_staff", "supplier_viewer", "buyer", "admin"):
        assert selectors.receivables(world.users[name]).filter(pk=r.pk).exists(), name
    for name in ("outsider", "lender", "gov", "nobody", "operator", "pending"):
        assert not selectors.receivables(world.users[name]).exists(), name


def test_confirmed_voucher_helper(world):
    assert confirmed_voucher(world).amount == Decimal("36000.00")


def test_a_receivable_financed_as_such_is_not_confirmed_into_a_voucher(world):
    r = registered(world)
    services.claim_asset(r, claimed_by="financing:1")
    before = counts()
    assert _code(services.confirm_receivable, world.users["buyer"], r.pk, password=PASSWORD) == (
        409,
        "already_financed",
    )
    assert counts() == before
