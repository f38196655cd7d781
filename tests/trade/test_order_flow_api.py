"""The whole trade through the HTTP API only, as its users make it: RFQ → quotes from two suppliers →
counter → revise → award → order → confirm → both sign the contract → payment → ship → deliver → accept
→ settled → invoice → closed.

Escrow: the operator uploads the supervised account's bank statement and its line pays the order by
reference. Payment terms (terms_30): the order ships unpaid, acceptance makes the receivable, and the
buyer's transfer arrives afterwards (the operator confirms it). After every step the cluster's books
balance and every account holds the scenario's figure.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.audit import verify
from chanlian.ledger.models import Account
from chanlian.ledger.selectors import balance, trial_balance, verify_ledger
from tests.personas import PASSWORD
from tests.trade.factories import demand_data, json_terms

pytestmark = pytest.mark.django_db

# 500 kg × 166.00 after the negotiation; the cluster's fee is 0.5 %.
AMOUNT = Decimal("83000.00")
FEE = Decimal("415.00")


# ----------------------------------------------------------------- helpers (shared by the API tests)


def ok(response, code=200):
    assert response.status_code == code, (response.status_code, response.content[:800])
    return response.json()


def refused(response, code, error):
    assert response.status_code == code, (response.status_code, response.content[:800])
    body = response.json()
    assert body["code"] == error, body
    return body


def figures(world) -> dict[str, Decimal]:
    """The accounts of the scenario on their normal side; an account never opened holds 0."""
    tea = world.clusters["tea"]
    buyer, supplier = world.enterprises["buyer"], world.enterprises["supplier"]

    def of(code, enterprise=None):
        account = Account.objects.filter(cluster=tea, code=code, enterprise=enterprise).first()
        if account is None:
            return Decimal("0.00")
        return balance(account) * account.normal_sign

    return {
        "bank_clearing": of("bank_clearing"),
        "buyer_escrow": of("escrow", buyer),
        "buyer_cash": of("cash", buyer),
        "buyer_payable": of("payable", buyer),
        "supplier_receivable": of("receivable", supplier),
        "supplier_cash": of("cash", supplier),
        "fee_income": of("fee_income"),
        "suspense": of("suspense"),
    }


def books_are(world, **expected):
    tb = trial_balance(world.clusters["tea"])
    assert tb.balanced, tb.totals
    want = dict.fromkeys(figures(world), Decimal("0.00"))
    want.update({k: Decimal(v) for k, v in expected.items()})
    assert figures(world) == want


def post_demand(api, world, user="buyer", **over):
    data = demand_data(world, **over)
    data["needed_by"] = str(data["needed_by"])
    data["quote_deadline"] = data["quote_deadline"].isoformat()
    return ok(api(user).post("/api/v1/demands/", data, format="json"), 201)


def negotiate_and_award(api, world, payment_terms="escrow") -> dict:
    """RFQ → quotes from ``supplier`` and ``rival`` → counter → revise → award the supplier's 500 kg at
    166.00 (83,000.00) on ``payment_terms``."""
    did = post_demand(api, world)["id"]
    mine = ok(
        api("supplier").post(
            f"/api/v1/demands/{did}/quotes/", json_terms(payment_terms=payment_terms), format="json"
        ),
        201,
    )
    ok(
        api("rival").post(
            f"/api/v1/demands/{did}/quotes/",
            json_terms(unit_price="168.50", quantity="1000", payment_terms="terms_60"),
            format="json",
        ),
        201,
    )
    ok(api("buyer").post(f"/api/v1/quotes/{mine['id']}/counter/", {"unit_price": "165.00"}, format="json"))
    ok(
        api("supplier").post(
            f"/api/v1/quotes/{mine['id']}/revise/", {"unit_price": "166.00", "quantity": "500"}, format="json"
        )
    )
    award = ok(api("buyer").post(f"/api/v1/quotes/{mine['id']}/award/", {}, format="json"), 201)
    assert (award["total"], award["payment_terms"]) == ("83000.00", payment_terms)
    return award


def place_from_award(api, award) -> dict:
    body = {"award": award["id"], "delivery_address": "上海市浦东新区张江路88号3号库", "note": "请附质检报告"}
    return ok(api("buyer").post("/api/v1/orders/", body, format="json"), 201)


def sign(api, persona, oid) -> dict:
    contract = ok(api(persona).get(f"/api/v1/orders/{oid}/contract/"))
    body = {"password": PASSWORD, "content_hash": contract["content_hash"]}
    return ok(api(persona).post(f"/api/v1/orders/{oid}/contract/sign/", body, format="json"))


def statement_csv(rows) -> bytes:
    """A supervised-account statement as the bank exports it (Chinese headers, UTF-8 with BOM)."""
    lines = ["交易流水号,交易日期,金额,币种,对方户名,对方账号,摘要"]
    for txn, day, amount, name, account, memo in rows:
        lines.append(f"{txn},{day},{amount},CNY,{name},{account},{memo}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def upload(api, world, data: bytes, persona="operator", name="statement.csv", cluster=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    cluster = cluster or world.clusters["tea"].pk
    return api(persona).post(
        "/api/v1/bank-statements/",
        {"cluster": cluster, "file": SimpleUploadedFile(name, data, content_type="text/csv")},
        format="multipart",
    )


def get_order(api, persona, oid) -> dict:
    return ok(api(persona).get(f"/api/v1/orders/{oid}/"))


def invoice_and_close(api, world, oid, total: Decimal) -> dict:
    amount = (total / Decimal("1.13")).quantize(Decimal("0.01"))
    body = {
        "invoice_type": "digital_special",  # 数电专票: no code, a number of 20 digits
        "code": "",
        "number": f"2635{oid:016d}",
        "issue_date": str(timezone.localdate()),
        "amount": str(amount),
        "tax_rate": "0.13",
        "tax": str(total - amount),
        "total": str(total),
    }
    invoice = ok(api("supplier").post(f"/api/v1/orders/{oid}/invoices/", body, format="json"), 201)
    assert (invoice["status"], invoice["total"], invoice["currency"]) == ("recorded", f"{total:.2f}", "CNY")
    listed = ok(api("buyer").get(f"/api/v1/orders/{oid}/invoices/"))
    assert [i["id"] for i in listed["results"]] == [invoice["id"]]
    confirmed = ok(api("buyer").post(f"/api/v1/invoices/{invoice['id']}/confirm/", {}, format="json"))
    assert confirmed["status"] == "confirmed"
    return get_order(api, "buyer", oid)


# ----------------------------------------------------------------- the two flows


@pytest.fixture
def users(market):
    """``users(persona)`` → a client signed in the way an integration is: a token obtained from
    ``POST /api/v1/auth/token/`` with the persona's username and password, sent on every request."""
    from rest_framework.test import APIClient

    tokens: dict[str, str] = {}

    def make(name: str):
        if name not in tokens:
            r = APIClient().post(
                "/api/v1/auth/token/", {"username": name, "password": PASSWORD}, format="json"
            )
            tokens[name] = ok(r)["token"]
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[name]}")
        return client

    return make


def _through_contract(api, market, payment_terms):
    award = negotiate_and_award(api, market, payment_terms)
    books_are(market)

    order = place_from_award(api, award)
    oid = order["id"]
    assert order["status"] == "created"
    assert (order["quantity"], order["unit"], order["unit_price"], order["amount"], order["currency"]) == (
        "500.000",
        "kg",
        "166.00",
        "83000.00",
        "CNY",
    )
    assert (order["buyer"], order["supplier"]) == (
        market.enterprises["buyer"].pk,
        market.enterprises["supplier"].pk,
    )
    assert order["payment_terms"] == payment_terms and order["origin"] == "award"
    assert order["reference"].startswith("CL") and len(order["reference"]) == 10
    assert order["contract"] is None and order["payments"] == [] and order["shipments"] == []
    assert "confirm" in get_order(api, "supplier", oid)["actions"]
    assert "confirm" not in order["actions"]
    # placing the same award again is refused
    refused(
        api("buyer").post("/api/v1/orders/", {"award": award["id"]}, format="json"), 409, "already_ordered"
    )
    books_are(market)

    order = ok(api("supplier").post(f"/api/v1/orders/{oid}/confirm/", {}, format="json"))
    assert order["status"] == "confirmed"
    assert order["contract"]["version"] == 1 and order["contract"]["signatures"] == []
    assert "sign" in order["actions"]
    books_are(market)

    contract = ok(api("buyer").get(f"/api/v1/orders/{oid}/contract/"))
    assert contract == ok(api("supplier").get(f"/api/v1/orders/{oid}/contract/"))
    assert contract["version"] == 1 and len(contract["content_hash"]) == 64
    assert contract["content"]

    signed = sign(api, "supplier", oid)
    assert [s["side"] for s in signed["signatures"]] == ["supplier"]
    assert get_order(api, "buyer", oid)["status"] == "confirmed"
    signed = sign(api, "buyer", oid)
    assert sorted(s["side"] for s in signed["signatures"]) == ["buyer", "supplier"]
    order = get_order(api, "buyer", oid)
    assert order["contract"]["content_hash"] == contract["content_hash"]
    assert len(order["contract"]["signatures"]) == 2
    books_are(market)
    return order


def test_escrow_flow_paid_by_a_bank_statement(market, users):
    api = users
    order = _through_contract(api, market, "escrow")
    oid, reference = order["id"], order["reference"]
    assert order["status"] == "contract_signed"
    assert order["amount_due"] == "83000.00"
    assert "pay_from_cash" in order["actions"]

    # the operator's desk lists it with what it needs, nothing more
    desk = ok(api("operator").get(f"/api/v1/payment-desk/?cluster={market.clusters['tea'].pk}"))
    row = next(r for r in desk["results"] if r["order"] == oid)
    assert (row["reference"], row["amount_due"], row["currency"], row["status"]) == (
        reference,
        "83000.00",
        "CNY",
        "contract_signed",
    )
    assert "unit_price" not in row

    # the buyer's transfer arrives on the supervised account's statement, with noise around it
    today = timezone.localdate()
    csv = statement_csv(
        [
            ("TXN0001", today, "83000.00", "上海茶商贸易有限公司", "6222000011112222", f"货款 {reference}"),
            ("TXN0002", today, "1200.00", "某某公司", "6222000033334444", "往来款"),
            ("TXN0003", today, "-15.00", "银行", "", "手续费"),
        ]
    )
    statement = ok(upload(api, market, csv), 201)
    assert (statement["line_count"], statement["matched_count"], statement["unmatched_count"]) == (3, 1, 1)
    by_txn = {line["transaction_id"]: line for line in statement["lines"]}
    assert (by_txn["TXN0001"]["status"], by_txn["TXN0001"]["order"]) == ("matched", oid)
    assert by_txn["TXN0001"]["reference"] == reference
    assert (by_txn["TXN0002"]["status"], by_txn["TXN0002"]["problem"]) == ("unmatched", "no_reference")
    assert by_txn["TXN0003"]["status"] == "outgoing"
    assert (
        ok(api("operator").get(f"/api/v1/bank-statements/{statement['id']}/"))["lines"] == statement["lines"]
    )
    listed = ok(api("operator").get(f"/api/v1/bank-statements/?cluster={market.clusters['tea'].pk}"))
    assert [s["id"] for s in listed["results"]] == [statement["id"]]
    # the same file twice is refused; nothing more is booked
    refused(upload(api, market, csv), 409, "statement_already_imported")

    order = get_order(api, "buyer", oid)
    assert order["status"] == "paid"
    assert [(p["purpose"], p["method"], p["amount"]) for p in order["payments"]] == [
        ("escrow", "bank_statement", "83000.00")
    ]
    assert order["amount_due"] is None
    books_are(market, bank_clearing=AMOUNT, buyer_escrow=AMOUNT)
    desk = ok(api("operator").get(f"/api/v1/payment-desk/?cluster={market.clusters['tea'].pk}"))
    assert oid not in [r["order"] for r in desk["results"]]

    shipment = ok(
        api("supplier_staff").post(
            f"/api/v1/orders/{oid}/shipments/",
            {"carrier": "顺丰速运", "waybill": "SF1234567890", "quantity": "500"},
            format="json",
        ),
        201,
    )
    assert (shipment["quantity"], shipment["shipped_on"]) == ("500.000", str(today))
    assert get_order(api, "buyer", oid)["status"] == "shipped"
    shipments = ok(api("buyer").get(f"/api/v1/orders/{oid}/shipments/"))
    assert [s["waybill"] for s in shipments["results"]] == ["SF1234567890"]
    books_are(market, bank_clearing=AMOUNT, buyer_escrow=AMOUNT)

    order = ok(api("buyer").post(f"/api/v1/orders/{oid}/deliver/", {}, format="json"))
    assert order["status"] == "delivered" and "accept" in order["actions"]
    books_are(market, bank_clearing=AMOUNT, buyer_escrow=AMOUNT)

    order = ok(
        api("buyer").post(
            f"/api/v1/orders/{oid}/accept/",
            {"accepted_quantity": "500", "quality_grade": "grade_1", "note": "验收合格"},
            format="json",
        )
    )
    assert order["status"] == "settled"
    assert (order["accepted_quantity"], order["accepted_amount"], order["fee_amount"]) == (
        "500.000",
        "83000.00",
        "415.00",
    )
    books_are(market, bank_clearing=AMOUNT, supplier_cash=AMOUNT - FEE, fee_income=FEE)

    order = invoice_and_close(api, market, oid, AMOUNT)
    assert order["status"] == "closed"
    assert [e["to_status"] for e in order["events"] if e["to_status"] != "created"] == [
        "confirmed",
        "contract_signed",
        "paid",
        "shipped",
        "delivered",
        "accepted",
        "settled",
        "closed",
    ]
    books_are(market, bank_clearing=AMOUNT, supplier_cash=AMOUNT - FEE, fee_income=FEE)
    assert verify().ok and verify_ledger().ok


def test_terms_flow_paid_after_acceptance(market, users):
    api = users
    order = _through_contract(api, market, "terms_30")
    oid = order["id"]
    assert order["status"] == "on_terms"
    assert order["amount_due"] is None  # nothing is due before acceptance
    assert "pay_from_cash" not in order["actions"]
    books_are(market)

    # an early transfer is refused: nothing is payable yet
    refused(
        api("operator").post(
            f"/api/v1/orders/{oid}/confirm-transfer/",
            {"amount": "83000.00", "bank_reference": "BK-EARLY", "received_on": str(timezone.localdate())},
            format="json",
        ),
        409,
        "order_not_payable",
    )

    ok(
        api("supplier").post(
            f"/api/v1/orders/{oid}/shipments/",
            {"carrier": "德邦物流", "waybill": "DB0001", "quantity": "300"},
            format="json",
        ),
        201,
    )
    ok(
        api("supplier").post(
            f"/api/v1/orders/{oid}/shipments/",
            {"carrier": "德邦物流", "waybill": "DB0002", "quantity": "200", "note": "第二批"},
            format="json",
        ),
        201,
    )
    assert get_order(api, "buyer", oid)["status"] == "shipped"
    books_are(market)
    ok(api("supplier").post(f"/api/v1/orders/{oid}/deliver/", {}, format="json"))
    books_are(market)

    order = ok(
        api("buyer").post(
            f"/api/v1/orders/{oid}/accept/",
            {"accepted_quantity": "500.000", "quality_grade": "grade_1"},
            format="json",
        )
    )
    assert order["status"] == "accepted"
    assert order["amount_due"] == "83000.00"
    assert order["due_date"] == str(timezone.localdate() + timedelta(days=30))
    books_are(market, buyer_payable=AMOUNT, supplier_receivable=AMOUNT)

    today = str(timezone.localdate())
    receipt = ok(
        api("operator").post(
            f"/api/v1/orders/{oid}/confirm-transfer/",
            {"amount": "83000.00", "bank_reference": "BK20261201-0042", "received_on": today},
            format="json",
            HTTP_IDEMPOTENCY_KEY="terms-payment-1",
        ),
        201,
    )
    assert (receipt["order"], receipt["purpose"], receipt["method"], receipt["amount"]) == (
        oid,
        "terms",
        "manual_transfer",
        "83000.00",
    )
    assert receipt["order_status"] == "settled" and receipt["currency"] == "CNY"
    books_are(market, bank_clearing=AMOUNT, supplier_cash=AMOUNT - FEE, fee_income=FEE)

    order = invoice_and_close(api, market, oid, AMOUNT)
    assert order["status"] == "closed"
    books_are(market, bank_clearing=AMOUNT, supplier_cash=AMOUNT - FEE, fee_income=FEE)
    assert verify().ok and verify_ledger().ok
