"""Races on contracts and invoices that only real row locks settle (PostgreSQL; skipped on SQLite)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.trade.models import ContractSignature, Invoice, Order, OrderEvent
from chanlian.trade.services import contracts, invoices
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)
from tests.trade.order_steps import PASSWORD, drive, listing_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_both_sides_sign_at_once_and_the_order_moves_once():
    world = build_world()
    order = drive(world, listing_order(world, payment_terms="terms_30"), "confirmed")
    digest = contracts.current_contract(order).content_hash
    users = [world.users["buyer"], world.users["supplier"]]
    results = race(
        2, lambda i: contracts.sign_contract(users[i], order.pk, password=PASSWORD, content_hash=digest).pk
    )
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert Order.objects.get(pk=order.pk).status == "on_terms"
    assert ContractSignature.objects.filter(contract__order=order).count() == 2
    moves = list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))
    assert moves.count("contract_signed") == 1 and moves.count("on_terms") == 1


def test_one_side_signs_once_however_often_it_clicks():
    world = build_world()
    order = drive(world, listing_order(world), "confirmed")
    digest = contracts.current_contract(order).content_hash
    supplier = world.users["supplier"]
    results = race(
        8, lambda i: contracts.sign_contract(supplier, order.pk, password=PASSWORD, content_hash=digest).pk
    )
    assert sorted(r[0] for r in results) == ["error"] * 7 + ["ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"already_signed"}
    assert ContractSignature.objects.filter(contract__order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == "confirmed"


def _invoice(number, amount="31858.41", tax="4141.59", total="36000.00"):
    return {
        "invoice_type": "vat_special",
        "code": "3500234130",
        "number": number,
        "issue_date": timezone.localdate(),
        "amount": Decimal(amount),
        "tax_rate": Decimal("0.13"),
        "tax": Decimal(tax),
        "total": Decimal(total),
    }


def test_invoices_racing_past_the_order_amount():
    world = build_world()
    order = drive(world, listing_order(world), "contract_signed")  # 36,000.00
    supplier = world.users["supplier"]
    results = race(8, lambda i: invoices.record_invoice(supplier, order.pk, **_invoice(f"{i + 1:08d}")).pk)
    assert sorted(r[0] for r in results) == ["error"] * 7 + ["ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"invoices_exceed_order"}
    assert Invoice.objects.filter(order=order).count() == 1


def test_one_invoice_cannot_be_recorded_on_two_orders_at_once():
    world = build_world()
    orders = [drive(world, listing_order(world), "contract_signed") for _ in range(2)]
    supplier = world.users["supplier"]
    data = _invoice("00000077", amount="100.00", tax="13.00", total="113.00")
    results = race(6, lambda i: invoices.record_invoice(supplier, orders[i % 2].pk, **data).pk)
    assert sorted(r[0] for r in results) == ["error"] * 5 + ["ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"duplicate_invoice"}
    assert Invoice.objects.filter(number="00000077").count() == 1
