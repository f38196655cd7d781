"""Who sees an order over the API, and that every denied write changes nothing.

An order, its contract, shipments and invoices are the two parties' alone: a competing supplier, a third
enterprise, another cluster's members and operator, a government viewer, a lender or a user without an
enterprise get 404, exactly as for a missing order. The cluster's operator sees nothing of an undisputed
order (only its payment desk row); once the buyer disputes it, the operator sees it to decide. Bank
statements and the payment desk are the cluster operator's: another cluster's operator gets 404 or an
empty list.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from chanlian.core.models import AuditEntry, IdempotencyRecord
from chanlian.ledger.models import JournalEntry
from chanlian.trade.models import (
    BankLine,
    BankStatement,
    Contract,
    ContractSignature,
    Dispute,
    Invoice,
    Order,
    OrderEvent,
    Payment,
    Shipment,
)
from tests.personas import PASSWORD
from tests.trade import order_steps
from tests.trade.test_order_flow_api import ok, statement_csv, upload

pytestmark = pytest.mark.django_db

STRANGERS = ["rival", "rival_buyer", "outsider", "steel_operator", "gov", "lender", "nobody", "pending"]


def snapshot():
    """Everything an order write could touch."""
    return (
        list(Order.objects.order_by("id").values()),
        OrderEvent.objects.count(),
        Contract.objects.filter(voided_at__isnull=True).count(),
        Contract.objects.count(),
        ContractSignature.objects.count(),
        Shipment.objects.count(),
        list(Invoice.objects.order_by("id").values_list("id", "status")),
        Payment.objects.count(),
        Dispute.objects.count(),
        list(BankLine.objects.order_by("id").values_list("id", "status", "order_id")),
        BankStatement.objects.count(),
        JournalEntry.objects.count(),
        AuditEntry.objects.count(),
        IdempotencyRecord.objects.count(),
    )


@pytest.fixture
def orders(market, api):
    """A shipped escrow order with a shipment and a contract; a settled one with a recorded invoice; an
    order awaiting payment (on the payment desk); a bank line nobody matched."""
    shipped = order_steps.drive(market, order_steps.listing_order(market), "shipped")
    settled = order_steps.drive(market, order_steps.listing_order(market, quantity="150"), "settled")
    supplier = market.users["supplier"]
    from chanlian.trade import services

    invoice = services.record_invoice(
        supplier,
        settled.pk,
        invoice_type="vat_ordinary",
        code="3500231130",
        number="99000001",
        issue_date=timezone.localdate(),
        amount="23893.81",
        tax_rate="0.13",
        tax="3106.19",
        total="27000.00",
    )
    awaiting = order_steps.drive(market, order_steps.listing_order(market, quantity="100"), "contract_signed")
    today = timezone.localdate()
    r = upload(
        api,
        market,
        statement_csv([("TXN-X1", today, "18000.00", "某公司", "62220001", "货款 没有编号")]),
    )
    statement = ok(r, 201)
    return {
        "shipped": shipped,
        "settled": settled,
        "awaiting": awaiting,
        "invoice": invoice,
        "statement": statement["id"],
        "line": statement["lines"][0]["id"],
    }


def reads(o):
    oid = o.pk
    return [
        f"/api/v1/orders/{oid}/",
        f"/api/v1/orders/{oid}/contract/",
        f"/api/v1/orders/{oid}/shipments/",
        f"/api/v1/orders/{oid}/invoices/",
    ]


def writes(o, invoice_id, line_id):
    oid = o.pk
    today = str(timezone.localdate())
    return [
        ("/api/v1/orders/", {"listing": o.listing_id, "quantity": "200", "delivery_region": "110105"}),
        (f"/api/v1/orders/{oid}/confirm/", {}),
        (f"/api/v1/orders/{oid}/cancel/", {"reason": "不要了"}),
        (f"/api/v1/orders/{oid}/amend/", {"note": "改备注"}),
        (f"/api/v1/orders/{oid}/pay-from-cash/", {}),
        (f"/api/v1/orders/{oid}/deliver/", {}),
        (f"/api/v1/orders/{oid}/accept/", {"accepted_quantity": "100", "quality_grade": "grade_1"}),
        (f"/api/v1/orders/{oid}/dispute/", {"reason": "质量问题"}),
        (f"/api/v1/orders/{oid}/decide/", {"decision": "refund", "reason": "退款"}),
        (
            f"/api/v1/orders/{oid}/confirm-transfer/",
            {"amount": f"{o.amount:.2f}", "bank_reference": "BK1", "received_on": today},
        ),
        (f"/api/v1/orders/{oid}/shipments/", {"carrier": "顺丰", "waybill": "SFX1", "quantity": "1"}),
        (f"/api/v1/orders/{oid}/contract/sign/", {"password": PASSWORD, "content_hash": "0" * 64}),
        (
            f"/api/v1/orders/{oid}/invoices/",
            {
                "invoice_type": "vat_ordinary",
                "number": "12345678",
                "issue_date": today,
                "amount": "100.00",
                "tax_rate": "0.13",
                "tax": "13.00",
                "total": "113.00",
            },
        ),
        (f"/api/v1/invoices/{invoice_id}/confirm/", {}),
        (f"/api/v1/invoices/{invoice_id}/reject/", {"reason": "不对"}),
        (f"/api/v1/bank-lines/{line_id}/match/", {"order": oid}),
    ]


# Writes a persona may legitimately attempt in its own role (the operator confirms transfers and matches
# lines; anyone may place an order from a published listing): their refusal is not a 404.
OWN_ROLE = {
    "operator": {"confirm-transfer", "match", "decide"},
}


def _kind(url: str) -> str:
    return url.rstrip("/").split("/")[-1]


@pytest.mark.parametrize("persona", STRANGERS)
def test_strangers_get_404_on_every_part_and_change_nothing(market, api, orders, persona):
    client = api(persona)
    for key in ("shipped", "settled", "awaiting"):
        o = orders[key]
        for url in reads(o):
            r = client.get(url)
            assert r.status_code == 404, (persona, url, r.status_code)
            assert r.json()["code"] == "not_found"
        assert o.pk not in [x["id"] for x in client.get("/api/v1/orders/").json()["results"]]
    assert client.get(f"/api/v1/invoices/{orders['invoice'].pk}/").status_code == 404
    before = snapshot()
    for key in ("shipped", "settled", "awaiting"):
        for url, body in writes(orders[key], orders["invoice"].pk, orders["line"]):
            if url == "/api/v1/orders/":
                continue  # placing one's own order is not a write on this order
            r = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{persona}-{url}")
            assert r.status_code == 404, (persona, url, r.status_code, r.content[:300])
            assert snapshot() == before, (persona, url)


def test_the_operator_sees_nothing_of_an_undisputed_order(market, api, orders):
    client = api("operator")
    for key in ("shipped", "settled", "awaiting"):
        for url in reads(orders[key]):
            assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/orders/").json()["results"] == []
    assert client.get(f"/api/v1/invoices/{orders['invoice'].pk}/").status_code == 404
    before = snapshot()
    for key in ("shipped", "settled"):
        for url, body in writes(orders[key], orders["invoice"].pk, orders["line"]):
            if url == "/api/v1/orders/" or _kind(url) in OWN_ROLE["operator"]:
                continue
            r = client.post(url, body, format="json")
            assert r.status_code == 404, (url, r.status_code, r.content[:300])
            assert snapshot() == before, url
    # its own moves on a state that does not allow them: refused, nothing changed
    o = orders["shipped"]
    r = client.post(
        f"/api/v1/orders/{o.pk}/confirm-transfer/",
        {"amount": f"{o.amount:.2f}", "bank_reference": "BK9", "received_on": str(timezone.localdate())},
        format="json",
    )
    assert r.status_code == 409, r.content
    r = client.post(f"/api/v1/orders/{o.pk}/decide/", {"decision": "refund", "reason": "x"}, format="json")
    assert r.status_code in (404, 409), r.content
    assert snapshot() == before
    # the payment desk shows the order awaiting money — its reference and amount, not its terms
    desk = ok(client.get(f"/api/v1/payment-desk/?cluster={market.clusters['tea'].pk}"))
    rows = {r["order"]: r for r in desk["results"]}
    assert set(rows) == {orders["awaiting"].pk}
    assert set(rows[orders["awaiting"].pk]) <= {
        "order",
        "reference",
        "buyer",
        "buyer_name",
        "supplier",
        "supplier_name",
        "payment_terms",
        "status",
        "amount_due",
        "currency",
        "due_date",
    }


def test_a_disputed_order_is_shown_to_its_operator_only(market, api):
    o = order_steps.drive(market, order_steps.listing_order(market), "disputed")
    for url in reads(o):
        assert api("operator").get(url).status_code == 200, url
    detail = ok(api("operator").get(f"/api/v1/orders/{o.pk}/"))
    assert detail["dispute"]["reason"] and "decide" in detail["actions"]
    assert [x["id"] for x in api("operator").get("/api/v1/orders/").json()["results"]] == [o.pk]
    for persona in ("steel_operator", "rival", "outsider"):
        assert api(persona).get(f"/api/v1/orders/{o.pk}/").status_code == 404, persona
        before = snapshot()
        r = api(persona).post(
            f"/api/v1/orders/{o.pk}/decide/", {"decision": "refund", "reason": "x"}, format="json"
        )
        assert r.status_code == 404 and snapshot() == before, persona


def test_parties_viewers_read_but_cannot_act(market, api, orders):
    o = orders["shipped"]
    client = api("supplier_viewer")
    for url in reads(o):
        assert client.get(url).status_code == 200, url
    before = snapshot()
    for url, body in writes(o, orders["invoice"].pk, orders["line"]):
        if url == "/api/v1/orders/":
            continue
        r = client.post(url, body, format="json")
        assert r.status_code in (403, 404, 409), (url, r.status_code)
        assert snapshot() == before, url


def test_another_clusters_operator_has_no_payment_desk_or_statements_here(market, api, orders):
    tea = market.clusters["tea"].pk
    client = api("steel_operator")
    r = client.get(f"/api/v1/payment-desk/?cluster={tea}")
    assert r.status_code == 404 or r.json()["results"] == [], r.content
    assert client.get(f"/api/v1/bank-statements/?cluster={tea}").json()["results"] == []
    assert client.get("/api/v1/bank-statements/").json()["results"] == []
    assert client.get(f"/api/v1/bank-statements/{orders['statement']}/").status_code == 404
    assert client.get(f"/api/v1/bank-lines/{orders['line']}/").status_code == 404
    before = snapshot()
    today = timezone.localdate()
    r = upload(
        api, market, statement_csv([("TXN-S1", today, "5.00", "x", "1", "x")]), persona="steel_operator"
    )
    assert r.status_code == 404, r.content
    r = client.post(
        f"/api/v1/bank-lines/{orders['line']}/match/", {"order": orders["awaiting"].pk}, format="json"
    )
    assert r.status_code == 404, r.content
    o = orders["awaiting"]
    r = client.post(
        f"/api/v1/orders/{o.pk}/confirm-transfer/",
        {"amount": f"{o.amount:.2f}", "bank_reference": "BK-S", "received_on": str(today)},
        format="json",
    )
    assert r.status_code == 404, r.content
    assert snapshot() == before
    # and members see no statements at all
    for persona in ("supplier", "buyer", "gov"):
        assert api(persona).get(f"/api/v1/bank-statements/?cluster={tea}").json()["results"] == []
        assert api(persona).get(f"/api/v1/bank-statements/{orders['statement']}/").status_code == 404
