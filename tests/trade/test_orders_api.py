"""The orders API: placing orders, lists and filters (a constant number of queries per page), the detail,
bad input (nothing changes), state conflicts, paying twice, bank statements and Idempotency-Key."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from chanlian.core.models import AuditEntry, IdempotencyRecord
from chanlian.ledger.models import JournalEntry
from chanlian.trade import selectors
from chanlian.trade.api.orders import OrderDetailSerializer
from chanlian.trade.models import BankLine, BankStatement, Order, Payment, Shipment
from tests.trade import order_steps
from tests.trade.test_order_flow_api import books_are, ok, refused, statement_csv, upload
from tests.trade.test_orders_privacy import snapshot

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def place(api, body, persona="buyer", **extra):
    return api(persona).post("/api/v1/orders/", body, format="json", **extra)


def listing_body(listing, **over):
    body = {"listing": listing.pk, "quantity": "200", "delivery_region": "310115"}
    body.update(over)
    return body


def transfer(api, o, amount=None, persona="operator", key=None, reference="BK-0001"):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {
        "amount": amount if amount is not None else f"{o.amount:.2f}",
        "bank_reference": reference,
        "received_on": str(TODAY()),
    }
    return api(persona).post(f"/api/v1/orders/{o.pk}/confirm-transfer/", body, format="json", **extra)


# ----------------------------------------------------------------- placing


def test_order_from_a_listing_at_its_tier_price(market, api):
    listing = order_steps.published_listing(market)
    body = listing_body(listing, quantity="520.5", delivery_address="北京市朝阳区", note="分两批")
    order = ok(place(api, body), 201)
    assert (order["status"], order["origin"], order["listing"]) == ("created", "listing", listing.pk)
    assert (order["quantity"], order["unit_price"], order["amount"]) == ("520.500", "165.00", "85882.50")
    assert (order["currency"], order["payment_terms"], order["delivery_region"]) == (
        "CNY",
        "escrow",
        "310115",
    )
    assert order["delivery_date"] == str(TODAY() + timezone.timedelta(days=7))
    assert (order["delivery_address"], order["note"], order["fee_rate"]) == (
        "北京市朝阳区",
        "分两批",
        "0.0050",
    )
    assert order["actions"] and "confirm" not in order["actions"] and "cancel" in order["actions"]
    assert order["amount_due"] is None and order["contract"] is None and order["dispute"] is None
    # the supplier sees it with its own moves; terms can be chosen
    assert "confirm" in ok(api("supplier").get(f"/api/v1/orders/{order['id']}/"))["actions"]
    later = str(TODAY() + timezone.timedelta(days=20))
    terms = ok(place(api, listing_body(listing, payment_terms="terms_60", delivery_date=later)), 201)
    assert (terms["payment_terms"], terms["delivery_date"]) == ("terms_60", later)


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        ("0", "quantity_not_positive"),
        ("-5", "quantity_not_positive"),
        ("99.999", "below_moq"),
        ("50", "below_moq"),
        ("150.0001", "invalid_quantity"),
        ("abc", "invalid_quantity"),
        ("NaN", "invalid_quantity"),
    ],
)
def test_bad_quantities_are_refused_and_nothing_is_placed(market, api, quantity, code):
    listing = order_steps.published_listing(market)
    before = snapshot()
    r = refused(place(api, listing_body(listing, quantity=quantity)), 400, code)
    assert "quantity" in r.get("fields", {}) or code == "below_moq"
    assert snapshot() == before


def test_more_than_available_and_own_listing(market, api):
    listing = order_steps.published_listing(market, stock="300")
    before = snapshot()
    refused(place(api, listing_body(listing, quantity="301")), 409, "insufficient_stock")
    refused(place(api, listing_body(listing), persona="supplier"), 409, "own_listing")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "award_or_listing"),
        ({"quantity": "200", "delivery_region": "310115"}, 400, "award_or_listing"),
        ({"listing": 1, "award": 1}, 400, "award_or_listing"),
        ({"award": 1, "quantity": "5"}, 400, "terms_from_award"),
        ({"listing": "LISTING"}, 400, "required"),
        ({"listing": "x", "quantity": "200", "delivery_region": "310115"}, 400, "invalid"),
        ({"listing": 999999, "quantity": "200", "delivery_region": "310115"}, 404, "not_found"),
        ({"award": 999999}, 404, "not_found"),
        ({"listing": "LISTING", "quantity": "200"}, 400, "required"),
        ({"listing": "LISTING", "quantity": "200", "delivery_region": "999999"}, 400, None),
        (
            {
                "listing": "LISTING",
                "quantity": "200",
                "delivery_region": "310115",
                "delivery_date": "2020-01-01",
            },
            400,
            None,
        ),
        (
            {"listing": "LISTING", "quantity": "200", "delivery_region": "310115", "payment_terms": "cod"},
            400,
            "invalid",
        ),
        (
            {"listing": "LISTING", "quantity": 200.5, "delivery_region": "310115", "note": "x" * 2001},
            400,
            "too_long",
        ),
    ],
)
def test_malformed_placements_change_nothing(market, api, body, status, code):
    listing = order_steps.published_listing(market)
    body = {k: (listing.pk if v == "LISTING" else v) for k, v in body.items()}
    before = snapshot()
    r = place(api, body)
    assert r.status_code == status, r.content
    assert set(r.json()) >= {"code", "detail"}
    if code:
        assert r.json()["code"] == code, r.json()
    assert snapshot() == before


def test_an_unpublished_listing_cannot_be_ordered(market, api):
    listing = order_steps.published_listing(market)
    market.users["supplier"].__dict__.pop("_chanlian_principal", None)
    from chanlian.trade import services

    services.pause_listing(market.users["supplier"], listing.pk)
    r = place(api, listing_body(listing))
    assert r.status_code in (404, 409), r.content
    if r.status_code == 409:
        assert r.json()["code"] == "listing_not_available"


def test_placing_with_an_idempotency_key_places_once(market, api):
    listing = order_steps.published_listing(market)
    first = place(api, listing_body(listing), HTTP_IDEMPOTENCY_KEY="place-1")
    again = place(api, listing_body(listing), HTTP_IDEMPOTENCY_KEY="place-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replay"] == "true" and again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    refused(
        place(api, listing_body(listing, quantity="300"), HTTP_IDEMPOTENCY_KEY="place-1"),
        409,
        "idempotency_key_reused",
    )


def test_the_201_is_the_detail_without_reading_the_order_back(market, api):
    """The new order is answered from the rows the service holds: byte for byte what its detail reads
    back through ``order_for``, without a query of the parts a new order cannot have yet."""
    listing = order_steps.published_listing(market)
    bodies = [
        listing_body(listing, quantity="520.5", delivery_address="北京市朝阳区", note="分两批"),
        listing_body(
            listing, payment_terms="terms_30", delivery_date=str(TODAY() + timezone.timedelta(days=9))
        ),
    ]
    for body in bodies:
        for language in ("zh-hans", "en"):
            with CaptureQueriesContext(connection) as ctx:
                r = place(api, body, HTTP_ACCEPT_LANGUAGE=language)
            assert r.status_code == 201, r.content
            sql = " ".join(q["sql"] for q in ctx.captured_queries)
            assert '"trade_orderevent"' not in sql and '"trade_contract"' not in sql
            detail = api("buyer").get(f"/api/v1/orders/{r.json()['id']}/", HTTP_ACCEPT_LANGUAGE=language)
            assert detail.status_code == 200 and detail.content == r.content
            # and what a serializer of its own (fields built afresh) makes of the order read back
            request = Request(APIRequestFactory().get("/"))
            request.user = market.users["buyer"]
            row = selectors.order_for(request.user, r.json()["id"])
            fresh = OrderDetailSerializer(row, context={"request": request}).data
            assert r.json() == json.loads(JSONRenderer().render(fresh))


# ----------------------------------------------------------------- lists and detail


def test_list_filters_by_role_status_and_cluster(market, api):
    listing = order_steps.published_listing(market)
    bought = order_steps.listing_order(market, listing=listing)
    confirmed = order_steps.drive(market, order_steps.listing_order(market, listing=listing), "confirmed")
    # the supplier also buys from the rival
    rival_listing = order_steps.published_listing(market, user="rival")
    sold_to_supplier = order_steps.listing_order(market, listing=rival_listing, buyer="supplier")

    def ids(persona, query=""):
        return [o["id"] for o in ok(api(persona).get(f"/api/v1/orders/{query}"))["results"]]

    assert ids("buyer") == [confirmed.pk, bought.pk]
    assert ids("supplier") == [sold_to_supplier.pk, confirmed.pk, bought.pk]
    assert ids("supplier", "?role=supplier") == [confirmed.pk, bought.pk]
    assert ids("supplier", "?role=buyer") == [sold_to_supplier.pk]
    assert ids("supplier", "?status=confirmed") == [confirmed.pk]
    assert ids("buyer", f"?cluster={market.clusters['tea'].pk}&status=created") == [bought.pk]
    assert ids("buyer", f"?cluster={market.clusters['steel'].pk}") == []
    assert ids("rival") == [sold_to_supplier.pk]
    row = ok(api("buyer").get("/api/v1/orders/"))["results"][0]
    assert (row["buyer_name"], row["supplier_name"], row["amount"], row["currency"]) == (
        "上海茶商贸易有限公司",
        "安溪县祥华茶厂",
        "36000.00",
        "CNY",
    )
    for query, field in (("?status=nope", "status"), ("?role=operator", "role"), ("?cluster=x", "cluster")):
        r = api("buyer").get(f"/api/v1/orders/{query}")
        assert r.status_code == 400, (query, r.content)


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), r


@pytest.mark.parametrize("persona", ["buyer", "supplier"])
def test_order_list_costs_the_same_queries_for_any_page(market, api, persona):
    listing = order_steps.published_listing(market, stock="100000")
    order_steps.listing_order(market, listing=listing)
    _count(api(persona), "/api/v1/orders/")  # warm
    few, r1 = _count(api(persona), "/api/v1/orders/")
    for i in range(12):
        o = order_steps.listing_order(market, listing=listing, quantity=str(100 + i))
        if i % 3 == 0:
            order_steps.drive(market, o, "paid")
    many, r2 = _count(api(persona), "/api/v1/orders/")
    assert r2.json()["count"] == r1.json()["count"] + 12
    assert few == many, (few, many)
    assert many <= 8


def test_detail_queries_do_not_grow_with_its_parts(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market, quantity="300"), "paid")
    supplier = market.users["supplier"]
    from chanlian.trade import services

    services.ship_order(supplier, o.pk, carrier="顺丰", waybill="W1", quantity="100")
    few, _ = _count(api("buyer"), f"/api/v1/orders/{o.pk}/")
    for i in range(2, 6):
        services.ship_order(supplier, o.pk, carrier="顺丰", waybill=f"W{i}", quantity="10")
    many, r = _count(api("buyer"), f"/api/v1/orders/{o.pk}/")
    assert len(r.json()["shipments"]) == 5
    assert many <= few + 1, (few, many)  # not one query per shipment


def test_detail_shows_the_parts(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "delivered")
    detail = ok(api("buyer").get(f"/api/v1/orders/{o.pk}/"))
    assert detail["status"] == "delivered"
    assert [e["to_status"] for e in detail["events"]][-5:] == [
        "confirmed",
        "contract_signed",
        "paid",
        "shipped",
        "delivered",
    ]
    assert len(detail["shipments"]) == 1 and detail["shipments"][0]["quantity"] == "200.000"
    assert [(p["purpose"], p["amount"]) for p in detail["payments"]] == [("escrow", "36000.00")]
    assert detail["contract"]["version"] == 1
    assert {s["side"] for s in detail["contract"]["signatures"]} == {"buyer", "supplier"}
    assert set(detail["actions"]) >= {"accept", "dispute"}
    assert "accept" not in ok(api("supplier").get(f"/api/v1/orders/{o.pk}/"))["actions"]
    assert api("buyer").get("/api/v1/orders/abc/").status_code == 404
    assert api("buyer").get("/api/v1/orders/99999999/").status_code == 404


# ----------------------------------------------------------------- moves and conflicts


def test_accept_before_delivery_is_a_conflict(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "shipped")
    before = snapshot()
    refused(
        api("buyer").post(
            f"/api/v1/orders/{o.pk}/accept/",
            {"accepted_quantity": "200", "quality_grade": "grade_1"},
            format="json",
        ),
        409,
        "illegal_transition",
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"accepted_quantity": "0", "quality_grade": "grade_1"}, None),
        ({"accepted_quantity": "200.5", "quality_grade": "grade_1"}, "invalid_quantity"),
        ({"accepted_quantity": "100", "quality_grade": "nonsense"}, "invalid_grade"),
        ({"quality_grade": "grade_1"}, "required"),
    ],
)
def test_bad_acceptance_changes_nothing(market, api, body, code):
    o = order_steps.drive(market, order_steps.listing_order(market), "delivered")
    before = snapshot()
    r = api("buyer").post(f"/api/v1/orders/{o.pk}/accept/", body, format="json")
    assert r.status_code == 400, r.content
    if code:
        assert r.json()["code"] == code
    assert snapshot() == before


def test_cancel_needs_a_reason_and_refunds_the_escrow(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "paid")
    refused(api("buyer").post(f"/api/v1/orders/{o.pk}/cancel/", {}, format="json"), 400, "required")
    body = {"reason": "计划有变"}
    first = api("buyer").post(
        f"/api/v1/orders/{o.pk}/cancel/", body, format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    again = api("buyer").post(
        f"/api/v1/orders/{o.pk}/cancel/", body, format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert ok(first)["status"] == "cancelled" and again["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    books_are(market, bank_clearing="36000.00", buyer_cash="36000.00")
    refused(
        api("supplier").post(f"/api/v1/orders/{o.pk}/cancel/", body, format="json"), 409, "illegal_transition"
    )


def test_pay_from_cash_and_paying_twice(market, api):
    cash = order_steps.refunded_cash(market, quantity="200")  # 36,000.00 back on the buyer's cash
    listing = order_steps.published_listing(market)
    o = order_steps.drive(
        market, order_steps.listing_order(market, listing=listing, quantity="150"), "contract_signed"
    )
    assert cash == Decimal("36000.00")
    paid = ok(api("buyer").post(f"/api/v1/orders/{o.pk}/pay-from-cash/", {}, format="json"))
    assert paid["status"] == "paid"
    assert [(p["method"], p["amount"]) for p in paid["payments"]] == [("platform_cash", "27000.00")]
    books_are(market, bank_clearing="36000.00", buyer_cash="9000.00", buyer_escrow="27000.00")
    before = snapshot()
    r = api("buyer").post(f"/api/v1/orders/{o.pk}/pay-from-cash/", {}, format="json")
    assert r.status_code == 409, r.content
    refused(transfer(api, o), 409, "already_paid")
    assert snapshot() == before


def test_pay_from_cash_without_enough_cash(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    before = snapshot()
    refused(
        api("buyer").post(f"/api/v1/orders/{o.pk}/pay-from-cash/", {}, format="json"),
        409,
        "insufficient_funds",
    )
    refused(
        api("supplier").post(f"/api/v1/orders/{o.pk}/pay-from-cash/", {}, format="json"),
        403,
        "permission_denied",
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        ("36000.001", 400, "too_many_decimals"),
        ("35999.99", 409, "amount_mismatch"),
        ("-36000.00", 400, None),
        ("abc", 400, "invalid_amount"),
    ],
)
def test_confirm_transfer_refuses_wrong_amounts(market, api, amount, status, code):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    before = snapshot()
    r = transfer(api, o, amount=amount, key="k1")
    assert r.status_code == status, r.content
    if code:
        assert r.json()["code"] == code
    assert snapshot() == before


def test_confirm_transfer_is_idempotent_and_a_second_payment_is_refused(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    first = transfer(api, o, key="transfer-77")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replay" not in first
    again = transfer(api, o, key="transfer-77")
    assert again.status_code == 201 and again["Idempotent-Replay"] == "true"
    # the same JSON (PostgreSQL's jsonb keeps the stored body's keys in its own order)
    assert again.json() == first.json()
    assert Payment.objects.filter(order=o).count() == 1
    entries = JournalEntry.objects.count()
    refused(transfer(api, o, key="transfer-78"), 409, "already_paid")
    refused(transfer(api, o, key="transfer-77", reference="BK-OTHER"), 409, "idempotency_key_reused")
    refused(transfer(api, o), 409, "already_paid")
    assert Payment.objects.filter(order=o).count() == 1 and JournalEntry.objects.count() == entries
    assert IdempotencyRecord.objects.count() == 1
    books_are(market, bank_clearing="36000.00", buyer_escrow="36000.00")
    assert Order.objects.get(pk=o.pk).status == "paid"


def test_only_the_operator_confirms_transfers(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    before = snapshot()
    for persona in ("buyer", "supplier"):
        assert transfer(api, o, persona=persona).status_code == 403, persona
    assert transfer(api, o, persona="steel_operator").status_code == 404
    assert snapshot() == before


def test_shipments_check_their_input(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "paid")
    url = f"/api/v1/orders/{o.pk}/shipments/"
    before = snapshot()
    for body, code in (
        ({"carrier": "顺丰", "waybill": "W1", "quantity": "201"}, "exceeds_order"),
        ({"carrier": "顺丰", "waybill": "W1", "quantity": "0"}, "quantity_not_positive"),
        ({"carrier": "顺丰", "waybill": "W1"}, "required"),
        ({"carrier": "顺丰", "waybill": "W1", "quantity": "1", "shipped_on": "2999-01-01"}, None),
    ):
        r = api("supplier").post(url, body, format="json")
        assert r.status_code == 400, (body, r.content)
        if code:
            assert r.json()["code"] == code, r.json()
    assert (
        api("buyer")
        .post(url, {"carrier": "顺丰", "waybill": "W1", "quantity": "1"}, format="json")
        .status_code
        == 403
    )
    assert snapshot() == before
    ok(api("supplier").post(url, {"carrier": "顺丰", "waybill": "W1", "quantity": "100"}, format="json"), 201)
    refused(
        api("supplier").post(url, {"carrier": "顺丰", "waybill": "W1", "quantity": "100"}, format="json"),
        409,
        "duplicate_waybill",
    )
    assert Shipment.objects.filter(order=o).count() == 1


def test_contract_before_confirmation_and_a_stale_hash(market, api):
    o = order_steps.listing_order(market)
    refused(api("buyer").get(f"/api/v1/orders/{o.pk}/contract/"), 404, "no_contract")
    order_steps.drive(market, o, "confirmed")
    contract = ok(api("buyer").get(f"/api/v1/orders/{o.pk}/contract/"))
    amended = ok(
        api("supplier").post(
            f"/api/v1/orders/{o.pk}/amend/", {"delivery_address": "上海市闵行区"}, format="json"
        )
    )
    assert amended["contract"]["version"] == 2 and amended["delivery_address"] == "上海市闵行区"
    from tests.personas import PASSWORD

    before = snapshot()
    stale = {"password": PASSWORD, "content_hash": contract["content_hash"]}
    refused(
        api("buyer").post(f"/api/v1/orders/{o.pk}/contract/sign/", stale, format="json"),
        409,
        "contract_changed",
    )
    current = ok(api("buyer").get(f"/api/v1/orders/{o.pk}/contract/"))
    wrong = {"password": "not-my-password", "content_hash": current["content_hash"]}
    refused(
        api("buyer").post(f"/api/v1/orders/{o.pk}/contract/sign/", wrong, format="json"),
        400,
        "wrong_password",
    )
    staff = {"password": PASSWORD, "content_hash": current["content_hash"]}
    r = api("supplier_staff").post(f"/api/v1/orders/{o.pk}/contract/sign/", staff, format="json")
    assert r.status_code == 403, r.content
    assert snapshot() == before


def test_dispute_and_decision(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "delivered")
    refused(api("buyer").post(f"/api/v1/orders/{o.pk}/dispute/", {}, format="json"), 400, "required")
    disputed = ok(
        api("buyer").post(f"/api/v1/orders/{o.pk}/dispute/", {"reason": "含水量超标"}, format="json")
    )
    assert disputed["status"] == "disputed" and disputed["dispute"]["reason"] == "含水量超标"
    url = f"/api/v1/orders/{o.pk}/decide/"
    before = snapshot()
    for body, status in (
        ({"decision": "split", "reason": "各担一半"}, 400),
        ({"decision": "split", "supplier_amount": "36000.00", "reason": "x"}, 400),
        ({"decision": "split", "supplier_amount": "100.001", "reason": "x"}, 400),
        ({"decision": "maybe", "reason": "x"}, 400),
        ({"decision": "refund"}, 400),
    ):
        r = api("operator").post(url, body, format="json")
        assert r.status_code == status, (body, r.content)
    assert api("buyer").post(url, {"decision": "refund", "reason": "x"}, format="json").status_code == 403
    assert snapshot() == before
    body = {"decision": "split", "supplier_amount": "20000.00", "reason": "部分不合格"}
    decided = ok(api("operator").post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="d1"))
    replay = api("operator").post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="d1")
    assert replay["Idempotent-Replay"] == "true" and replay.json() == decided
    assert decided["status"] == "settled"
    assert (decided["dispute"]["decision"], decided["dispute"]["supplier_amount"]) == ("split", "20000.00")
    # 20,000 to the supplier less 0.5 % fee (100.00), 16,000 back to the buyer's cash
    books_are(
        market, bank_clearing="36000.00", supplier_cash="19900.00", fee_income="100.00", buyer_cash="16000.00"
    )


def test_invoices_confirm_and_reject(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "settled")
    url = f"/api/v1/orders/{o.pk}/invoices/"
    body = {
        "invoice_type": "vat_special",
        "code": "3500231130",
        "number": "00012345",
        "issue_date": str(TODAY()),
        "amount": "31858.41",
        "tax_rate": "0.13",
        "tax": "4141.59",
        "total": "36000.00",
    }
    before = snapshot()
    for bad in (
        {**body, "amount": "31858.411"},
        {**body, "total": "36000.01"},
        {**body, "invoice_type": "x"},
    ):
        assert api("supplier").post(url, bad, format="json").status_code == 400, bad
    assert api("buyer").post(url, body, format="json").status_code == 403
    assert snapshot() == before
    invoice = ok(api("supplier").post(url, body, format="json"), 201)
    assert (invoice["amount"], invoice["tax_rate"], invoice["tax"], invoice["total"]) == (
        "31858.41",
        "0.1300",
        "4141.59",
        "36000.00",
    )
    assert (
        api("supplier").post(f"/api/v1/invoices/{invoice['id']}/confirm/", {}, format="json").status_code
        == 403
    )
    refused(
        api("buyer").post(f"/api/v1/invoices/{invoice['id']}/reject/", {}, format="json"), 400, "required"
    )
    rejected = ok(
        api("buyer").post(f"/api/v1/invoices/{invoice['id']}/reject/", {"reason": "税号有误"}, format="json")
    )
    assert (rejected["status"], rejected["status_reason"]) == ("rejected", "税号有误")
    again = ok(api("supplier").post(url, {**body, "number": "00012346"}, format="json"), 201)
    ok(api("buyer").post(f"/api/v1/invoices/{again['id']}/confirm/", {}, format="json"))
    assert ok(api("buyer").get(f"/api/v1/orders/{o.pk}/"))["status"] == "closed"
    assert ok(api("supplier").get(f"/api/v1/invoices/{again['id']}/"))["status"] == "confirmed"


# ----------------------------------------------------------------- bank statements


def test_malformed_statement_names_the_line_and_imports_nothing(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    today = TODAY()
    csv = statement_csv(
        [
            ("T1", today, "36000.00", "上海茶商", "6222", f"货款 {o.reference}"),
            ("T2", "2026-13-45", "10.00", "x", "1", "x"),
            ("T3", today, "12.5.0", "x", "1", "x"),
        ]
    )
    before = snapshot()
    body = refused(upload(api, market, csv), 400, "malformed_statement")
    # the file's lines 3 and 4 (the header is line 1), each with why
    assert set(body["fields"]) == {"line 3", "line 4"}, body
    assert "date" in body["fields"]["line 3"][0] and "amount" in body["fields"]["line 4"][0], body
    assert snapshot() == before
    assert not BankStatement.objects.exists() and not BankLine.objects.exists()
    for junk in (b"", b"\xff\xfe\x00garbage", b"no,headers,here\r\n1,2,3\r\n"):
        r = upload(api, market, junk, name="junk.csv")
        assert r.status_code == 400, (junk, r.content)
    assert snapshot() == before
    r = api("operator").post(
        "/api/v1/bank-statements/", {"cluster": market.clusters["tea"].pk}, format="multipart"
    )
    refused(r, 400, "required")


def test_a_members_upload_is_refused(market, api):
    csv = statement_csv([("T1", TODAY(), "1.00", "x", "1", "x")])
    before = snapshot()
    for persona in ("supplier", "buyer", "steel_operator"):
        r = upload(api, market, csv, persona=persona)
        assert r.status_code in (403, 404), (persona, r.content)
    assert snapshot() == before


def test_an_unmatched_line_is_matched_by_hand(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "contract_signed")
    csv = statement_csv([("T9", TODAY(), "36000.00", "上海茶商贸易有限公司", "6222", "货款")])
    statement = ok(upload(api, market, csv), 201)
    line = statement["lines"][0]
    assert (line["status"], line["problem"], line["order"]) == ("unmatched", "no_reference", None)
    assert o.status == "contract_signed"
    url = f"/api/v1/bank-lines/{line['id']}/match/"
    refused(api("operator").post(url, {"order": 99999999}, format="json"), 404, "not_found")
    matched = ok(api("operator").post(url, {"order": o.pk}, format="json", HTTP_IDEMPOTENCY_KEY="m1"), 201)
    assert (matched["line"]["status"], matched["line"]["order"]) == ("matched", o.pk)
    assert (matched["payment"]["method"], matched["payment"]["amount"]) == ("bank_statement", "36000.00")
    assert matched["payment"]["order_status"] == "paid"
    replay = api("operator").post(url, {"order": o.pk}, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert replay["Idempotent-Replay"] == "true"
    assert api("operator").post(url, {"order": o.pk}, format="json").status_code == 409
    assert Payment.objects.filter(order=o).count() == 1
    books_are(market, bank_clearing="36000.00", buyer_escrow="36000.00")
    assert AuditEntry.objects.filter(action__startswith="order.paid").count() == 1


def test_payment_desk_and_statement_lists_cost_the_same_queries_for_any_page(market, api):
    tea = market.clusters["tea"].pk
    listing = order_steps.published_listing(market, stock="100000")
    order_steps.drive(market, order_steps.listing_order(market, listing=listing), "contract_signed")
    ok(upload(api, market, statement_csv([("S0", TODAY(), "1.00", "x", "1", "x")])), 201)
    client = api("operator")
    _count(client, f"/api/v1/payment-desk/?cluster={tea}")  # warm
    desk_few, _ = _count(client, f"/api/v1/payment-desk/?cluster={tea}")
    list_few, _ = _count(client, f"/api/v1/bank-statements/?cluster={tea}")
    for i in range(6):
        order_steps.drive(
            market,
            order_steps.listing_order(market, listing=listing, quantity=str(100 + i)),
            "contract_signed",
        )
        csv = statement_csv(
            [(f"S{i + 1}", TODAY(), "2.00", "x", "1", "x"), (f"S{i + 1}b", TODAY(), "-1", "", "", "")]
        )
        ok(upload(api, market, csv), 201)
    desk_many, desk = _count(client, f"/api/v1/payment-desk/?cluster={tea}")
    list_many, listed = _count(client, f"/api/v1/bank-statements/?cluster={tea}")
    assert (desk.json()["count"], listed.json()["count"]) == (7, 7)
    assert {r["amount_due"] for r in desk.json()["results"]} >= {"18000.00"}
    assert (desk_few, list_few) == (desk_many, list_many)
