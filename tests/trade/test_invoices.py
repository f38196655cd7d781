"""The supplier's VAT invoices on an order and the buyer's answer: every rule, each refusal with its code
and nothing changed, privacy, and the close of a settled order once its invoices are confirmed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.models import AuditEntry
from chanlian.trade.models import Invoice, Order
from chanlian.trade.services import invoices
from tests.trade.order_steps import drive, listing_order

pytestmark = pytest.mark.django_db

_numbers = iter(range(1, 10**6))


def special(**over) -> dict:
    """A traditional 专票 for 10,000.00 + 13 % = 11,300.00, with a fresh number."""
    data = {
        "invoice_type": "vat_special",
        "code": "3500234130",
        "number": f"{next(_numbers):08d}",
        "issue_date": timezone.localdate(),
        "amount": Decimal("10000.00"),
        "tax_rate": Decimal("0.13"),
        "tax": Decimal("1300.00"),
        "total": Decimal("11300.00"),
    }
    data.update(over)
    return data


def digital(**over) -> dict:
    data = special(invoice_type="digital_special", code="", number=f"2635{next(_numbers):016d}")
    data.update(over)
    return data


def snapshot(order) -> dict:
    return {
        "order": Order.objects.filter(pk=order.pk).values().get(),
        "invoices": list(Invoice.objects.filter(order_id=order.pk).values().order_by("id")),
        "audit": AuditEntry.objects.count(),
    }


def record(world, order, user="supplier", **data):
    return invoices.record_invoice(world.users[user], order.pk, **data)


@pytest.fixture
def signed(world):
    return drive(world, listing_order(world), "contract_signed")  # 36,000.00


def test_supplier_records_buyer_confirms(world, signed):
    invoice = record(world, signed, **special())
    assert invoice.status == "recorded" and invoice.order_id == signed.pk
    assert (invoice.supplier_id, invoice.buyer_id, invoice.cluster_id) == (
        signed.supplier_id,
        signed.buyer_id,
        signed.cluster_id,
    )
    assert invoice.tax_rate == Decimal("0.1300") and invoice.total == Decimal("11300.00")
    assert invoice.recorded_by == world.users["supplier"]
    staff = record(world, signed, "supplier_staff", **digital())
    assert staff.code == "" and len(staff.number) == 20
    confirmed = invoices.confirm_invoice(world.users["buyer"], invoice.pk)
    assert confirmed.status == "confirmed" and confirmed.confirmed_by == world.users["buyer"]
    assert confirmed.confirmed_at is not None
    assert Order.objects.get(pk=signed.pk).status == "contract_signed"  # not settled: nothing closes
    actions = list(AuditEntry.objects.filter(action__startswith="invoice.").values_list("action", flat=True))
    assert actions == ["invoice.recorded", "invoice.recorded", "invoice.confirmed"]


def test_other_rates_and_a_fen_of_rounding(world, signed):
    record(world, signed, **special(amount="100.00", tax_rate="0.09", tax="9.00", total="109.00"))
    record(world, signed, **special(amount="100.00", tax_rate="0.06", tax="6.00", total="106.00"))
    record(world, signed, **special(amount="100.00", tax_rate="0.03", tax="3.00", total="103.00"))
    record(world, signed, **special(amount="100.00", tax_rate="0.01", tax="1.00", total="101.00"))
    record(world, signed, **special(amount="100.00", tax_rate="0", tax="0", total="100.00"))
    # the tax authority rounds per line: 0.01 of difference is accepted
    record(world, signed, **special(amount="333.33", tax_rate="0.13", tax="43.34", total="376.67"))
    record(world, signed, **special(code="035002300111", invoice_type="vat_ordinary"))  # 12-digit code
    assert Invoice.objects.filter(order=signed).count() == 7


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"total": Decimal("11300.01")}, "invoice_total_mismatch"),
        ({"tax": Decimal("1300.02"), "total": Decimal("11300.02")}, "tax_mismatch"),
        ({"tax": Decimal("900.00"), "total": Decimal("10900.00")}, "tax_mismatch"),
        ({"tax_rate": Decimal("0.17")}, "invalid_tax_rate"),
        ({"tax_rate": "13%"}, "invalid_tax_rate"),
        ({"tax_rate": 0.13}, "invalid_tax_rate"),
        ({"tax_rate": None}, "invalid_tax_rate"),
        ({"code": "123456789"}, "invalid_invoice_number"),
        ({"code": "12345678901"}, "invalid_invoice_number"),
        ({"code": ""}, "invalid_invoice_number"),
        ({"code": "35002341AB"}, "invalid_invoice_number"),
        ({"number": "1234567"}, "invalid_invoice_number"),
        ({"number": "123456789"}, "invalid_invoice_number"),
        ({"number": "1234567８"}, "invalid_invoice_number"),  # a full-width digit
        ({"invoice_type": "digital_special", "number": "1" * 20}, "invalid_invoice_number"),  # has a code
        ({"invoice_type": "digital_ordinary", "code": "", "number": "1" * 19}, "invalid_invoice_number"),
        ({"invoice_type": "digital_ordinary", "code": "", "number": "12345678"}, "invalid_invoice_number"),
        ({"invoice_type": "paper"}, "invalid_invoice_type"),
        ({"issue_date": timezone.localdate() + dt.timedelta(days=1)}, "invalid_date"),
        ({"issue_date": timezone.localdate() - dt.timedelta(days=400)}, "invalid_date"),
        ({"issue_date": "yesterday"}, "invalid_date"),
        ({"amount": "-1"}, "negative_amount"),
        ({"amount": "0"}, "zero_amount"),
        ({"amount": 10000.0}, "invalid_amount"),
        ({"amount": "10000.001"}, "too_many_decimals"),
    ],
)
def test_invalid_invoices_are_refused(world, signed, over, code):
    before = snapshot(signed)
    with pytest.raises(InvalidInput) as exc:
        record(world, signed, **special(**over))
    assert exc.value.code == code and exc.value.status == 400
    assert snapshot(signed) == before


def test_duplicates_are_refused_unless_rejected(world, signed):
    data = special()
    first = record(world, signed, **data)
    other = drive(world, listing_order(world), "contract_signed")
    before = snapshot(signed)
    with pytest.raises(Conflict) as exc:
        record(world, signed, **data)
    assert exc.value.code == "duplicate_invoice"
    with pytest.raises(Conflict) as exc:
        record(world, other, **data)  # the same invoice cannot prove two orders
    assert exc.value.code == "duplicate_invoice"
    assert snapshot(signed) == before
    invoices.reject_invoice(world.users["buyer"], first.pk, reason="抬头错误")
    again = record(world, signed, **data)  # a rejected one may be recorded again (corrected)
    assert again.pk != first.pk


def test_totals_never_exceed_the_order(world, signed):
    record(world, signed, **special(amount="30000.00", tax="3900.00", total="33900.00"))
    before = snapshot(signed)
    with pytest.raises(Conflict) as exc:
        record(world, signed, **special(amount="2000.00", tax="260.00", total="2260.00"))  # 36,160 > 36,000
    assert exc.value.code == "invoices_exceed_order"
    assert snapshot(signed) == before
    record(world, signed, **special(amount="1858.41", tax="241.59", total="2100.00"))  # exactly 36,000
    with pytest.raises(Conflict) as exc:
        record(world, signed, **special(amount="1.00", tax="0.13", total="1.13"))
    assert exc.value.code == "invoices_exceed_order"


def test_a_rejected_invoice_does_not_count_against_the_order(world, signed):
    big = record(world, signed, **special(amount="31858.41", tax="4141.59", total="36000.00"))
    invoices.reject_invoice(world.users["buyer"], big.pk, reason="金额有误")
    record(world, signed, **special(amount="31858.41", tax="4141.59", total="36000.00"))


def test_after_acceptance_the_accepted_amount_caps(world):
    order = drive(world, listing_order(world, payment_terms="terms_30"), "accepted", accepted_quantity="100")
    assert order.accepted_amount == Decimal("18000.00")
    with pytest.raises(Conflict) as exc:
        record(world, order, **special(amount="17699.12", tax="2300.89", total="20000.01"))
    assert exc.value.code == "invoices_exceed_order"
    record(world, order, **special(amount="15929.20", tax="2070.80", total="18000.00"))


@pytest.mark.parametrize("status", ["created", "confirmed", "cancelled"])
def test_not_invoiceable_orders(world, status):
    order = drive(world, listing_order(world), status)
    before = snapshot(order)
    with pytest.raises(Conflict) as exc:
        record(world, order, **special())
    assert exc.value.code == "order_not_invoiceable"
    assert snapshot(order) == before


def test_who_records_and_who_answers(market, signed):
    world = market
    before = snapshot(signed)
    for user in ("buyer", "supplier_viewer"):
        with pytest.raises(Forbidden):
            record(world, signed, user, **special())
    for user in ("outsider", "rival", "rival_buyer", "nobody", "operator"):
        with pytest.raises(NotFound):
            record(world, signed, user, **special())
    assert snapshot(signed) == before
    invoice = record(world, signed, **special())
    before = snapshot(signed)
    for user in ("supplier", "supplier_staff", "supplier_viewer"):
        with pytest.raises(Forbidden):
            invoices.confirm_invoice(world.users[user], invoice.pk)
        with pytest.raises(Forbidden):
            invoices.reject_invoice(world.users[user], invoice.pk, reason="x")
    for user in ("outsider", "rival", "rival_buyer", "nobody", "operator", "gov"):
        with pytest.raises(NotFound):
            invoices.confirm_invoice(world.users[user], invoice.pk)
        with pytest.raises(NotFound):
            invoices.reject_invoice(world.users[user], invoice.pk, reason="x")
    for bad in ("nope", -1, 10**30, None):
        with pytest.raises(NotFound):
            invoices.confirm_invoice(world.users["buyer"], bad)
    assert snapshot(signed) == before


def test_reject_needs_a_reason_and_an_answer_is_final(world, signed):
    invoice = record(world, signed, **special())
    before = snapshot(signed)
    with pytest.raises(InvalidInput) as exc:
        invoices.reject_invoice(world.users["buyer"], invoice.pk, reason="  ")
    assert exc.value.code == "required"
    assert snapshot(signed) == before
    rejected = invoices.reject_invoice(world.users["buyer"], invoice.pk, reason="税号错误")
    assert rejected.status == "rejected" and rejected.status_reason == "税号错误"
    before = snapshot(signed)
    with pytest.raises(Conflict) as exc:
        invoices.confirm_invoice(world.users["buyer"], invoice.pk)
    assert exc.value.code == "invoice_already_answered"
    with pytest.raises(Conflict) as exc:
        invoices.reject_invoice(world.users["buyer"], invoice.pk, reason="again")
    assert exc.value.code == "invoice_already_answered"
    assert snapshot(signed) == before


def test_confirmed_invoices_close_a_settled_order(world):
    order = drive(world, listing_order(world), "settled")  # escrow: acceptance settles, 36,000.00
    assert order.status == "settled" and order.accepted_amount == Decimal("36000.00")
    part = record(world, order, **special(amount="15929.20", tax="2070.80", total="18000.00"))
    invoices.confirm_invoice(world.users["buyer"], part.pk)
    assert Order.objects.get(pk=order.pk).status == "settled"  # half invoiced
    rest = record(world, order, **digital(amount="15929.20", tax="2070.80", total="18000.00"))
    invoices.confirm_invoice(world.users["buyer"], rest.pk)
    closed = Order.objects.get(pk=order.pk)
    assert closed.status == "closed" and closed.closed_at is not None
    # invoices may still be answered, not recorded beyond the amount
    with pytest.raises(Conflict) as exc:
        record(world, closed, **special(amount="1.00", tax="0.13", total="1.13"))
    assert exc.value.code == "invoices_exceed_order"
