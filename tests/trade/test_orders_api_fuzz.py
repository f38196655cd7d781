"""Arbitrary JSON at every order write, aimed at real orders in the state each move needs: never a 5xx,
always the error shape, and the books balance whatever got through.

The schema-wide run (tests/schema) signs in as a user with no orders, so its ids answer 404; here the
bodies reach the services.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from hypothesis import given

from chanlian.ledger.selectors import trial_balance
from tests.personas import PASSWORD
from tests.trade import order_steps
from tests.trade.test_fuzz import SETTINGS, bodies, send, values

pytestmark = pytest.mark.django_db


def test_fuzz_placing_orders(market, api):
    listing = order_steps.published_listing(market, stock="100000")
    award_order = order_steps.award_order(market)
    base = {
        "listing": listing.pk,
        "quantity": "200",
        "delivery_region": "310115",
        "delivery_date": str(timezone.localdate() + timezone.timedelta(days=9)),
        "payment_terms": "terms_30",
        "delivery_address": "上海",
        "note": "x",
    }

    @given(body=bodies(base), award=values)
    @SETTINGS
    def check(body, award):
        send(api("buyer"), "post", "/api/v1/orders/", body)
        send(api("buyer"), "post", "/api/v1/orders/", {"award": award})
        send(api("buyer"), "post", "/api/v1/orders/", {"award": award_order.award_id, "note": award})

    check()
    assert trial_balance(market.clusters["tea"]).balanced


def test_fuzz_order_moves(market, api):
    today = str(timezone.localdate())
    confirmed = order_steps.drive(market, order_steps.listing_order(market), "confirmed")
    signed = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    paid = order_steps.drive(market, order_steps.listing_order(market, quantity="1000"), "paid")
    delivered = order_steps.drive(market, order_steps.listing_order(market), "delivered")
    disputed = order_steps.drive(market, order_steps.listing_order(market), "disputed")
    settled = order_steps.drive(market, order_steps.listing_order(market), "settled")
    moves = [
        ("supplier", f"/api/v1/orders/{confirmed.pk}/amend/", {"delivery_date": today, "note": "n"}),
        (
            "supplier",
            f"/api/v1/orders/{confirmed.pk}/contract/sign/",
            {"password": PASSWORD, "content_hash": "a"},
        ),
        (
            "operator",
            f"/api/v1/orders/{signed.pk}/confirm-transfer/",
            {"amount": "36000.00", "bank_reference": "B1", "received_on": today},
        ),
        (
            "supplier",
            f"/api/v1/orders/{paid.pk}/shipments/",
            {"carrier": "顺丰", "waybill": "W", "quantity": "1", "shipped_on": today, "note": ""},
        ),
        (
            "buyer",
            f"/api/v1/orders/{delivered.pk}/accept/",
            {"accepted_quantity": "100", "quality_grade": "grade_1"},
        ),
        ("buyer", f"/api/v1/orders/{delivered.pk}/dispute/", {"reason": "r"}),
        (
            "operator",
            f"/api/v1/orders/{disputed.pk}/decide/",
            {"decision": "split", "supplier_amount": "100.00", "reason": "r"},
        ),
        (
            "supplier",
            f"/api/v1/orders/{settled.pk}/invoices/",
            {
                "invoice_type": "vat_special",
                "code": "3500231130",
                "number": "00000001",
                "issue_date": today,
                "amount": "100.00",
                "tax_rate": "0.13",
                "tax": "13.00",
                "total": "113.00",
            },
        ),
        ("buyer", f"/api/v1/orders/{signed.pk}/cancel/", {"reason": "r"}),
        ("buyer", f"/api/v1/orders/{paid.pk}/deliver/", {"delivered_on": today}),
    ]
    strategies = {f"b{i}": bodies(body) for i, (_, _, body) in enumerate(moves)}

    @given(**strategies)
    @SETTINGS
    def check(**generated):
        for i, (persona, url, _) in enumerate(moves):
            send(api(persona), "post", url, generated[f"b{i}"])

    check()
    assert trial_balance(market.clusters["tea"]).balanced
