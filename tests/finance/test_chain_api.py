"""The whole supply-chain-finance chain through the HTTP API, as its users make it:

RFQ → award on payment terms (terms_30) → order → confirmed → both sign → shipped → delivered → accepted
(the receivable is born) → invoiced → the supplier registers the receivable → the buyer confirms it (确权)
→ voucher → split → a part transferred to a tier-2 supplier, who accepts → the tier-2 supplier consents,
applies to a lender → maker approves, checker checks (the maker may not) → disbursement → maturity → the
operator confirms the issuer's transfer → every holder paid, the lender repaid, the credit line restored.

After every step the cluster's books balance and hold the scenario's figures; at the end the ledger's
beancount export passes ``bean-check``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from chanlian.ledger.export import beancount_export
from chanlian.ledger.models import Account
from chanlian.ledger.selectors import balance, trial_balance, verify_ledger
from tests.finance.test_lending_steps import add_checker, later
from tests.personas import PASSWORD
from tests.trade.factories import add_rival
from tests.trade.order_steps import published_listing
from tests.trade.test_order_flow_api import (
    invoice_and_close,
    negotiate_and_award,
    ok,
    place_from_award,
    refused,
    sign,
)

pytestmark = pytest.mark.django_db
D = Decimal
BEAN_CHECK = shutil.which("bean-check", path=str(Path(sys.executable).parent)) or shutil.which("bean-check")

AMOUNT = D("83000.00")  # 500 kg × 166.00
FEE = D("415.00")  # the cluster's 0.5 %
PART, REST = D("30000.00"), D("53000.00")
# 30,000.00 × 4.35 % × 30 / 360 = 108.75; fee 0.1 % = 30.00; net 29,861.25
INTEREST, LENDER_FEE, NET = D("108.75"), D("30.00"), D("29861.25")


def books(world, **expected):
    """Trial balance balanced and every figure of the scenario as expected (others 0)."""
    tea = world.clusters["tea"]
    tb = trial_balance(tea)
    assert tb.balanced, tb.totals
    e = world.enterprises
    names = {
        "bank": ("bank_clearing", None),
        "fee_income": ("fee_income", None),
        "buyer_payable": ("payable", e["buyer"]),
        "supplier_receivable": ("receivable", e["supplier"]),
        "supplier_cash": ("cash", e["supplier"]),
        "rival_cash": ("cash", e["rival"]),
        "lender_receivable": ("receivable", e["lender"]),
        "lender_cash": ("cash", e["lender"]),
    }
    got = {}
    for key, (code, ent) in names.items():
        acc = Account.objects.filter(cluster=tea, code=code, enterprise=ent).first()
        got[key] = balance(acc) * acc.normal_sign if acc else D("0.00")
    want = dict.fromkeys(names, D("0.00"))
    want.update({k: D(v) for k, v in expected.items()})
    assert got == want


def bean_check(text: str, tmp_path: Path):
    path = tmp_path / "books.beancount"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True, timeout=120)


def test_the_whole_chain_to_repayment(world, api, tmp_path):
    add_rival(world)
    add_checker(world)
    e, tea = world.enterprises, world.clusters["tea"]
    today = timezone.localdate()

    # ---- trade: an order on payment terms, through to acceptance and the invoice
    award = negotiate_and_award(api, world, "terms_30")
    order = place_from_award(api, award)
    oid = order["id"]
    ok(api("supplier").post(f"/api/v1/orders/{oid}/confirm/", {}, format="json"))
    sign(api, "supplier", oid)
    sign(api, "buyer", oid)
    assert ok(api("buyer").get(f"/api/v1/orders/{oid}/"))["status"] == "on_terms"
    books(world)
    ok(
        api("supplier").post(
            f"/api/v1/orders/{oid}/shipments/",
            {"carrier": "顺丰速运", "waybill": "SF9900112233", "quantity": "500"},
            format="json",
        ),
        201,
    )
    ok(api("buyer").post(f"/api/v1/orders/{oid}/deliver/", {}, format="json"))
    order = ok(
        api("buyer").post(
            f"/api/v1/orders/{oid}/accept/",
            {"accepted_quantity": "500", "quality_grade": "grade_1"},
            format="json",
        )
    )
    assert (order["status"], order["accepted_amount"]) == ("accepted", "83000.00")
    books(world, buyer_payable=AMOUNT, supplier_receivable=AMOUNT)
    order = invoice_and_close(api, world, oid, AMOUNT)
    assert order["status"] == "accepted"
    books(world, buyer_payable=AMOUNT, supplier_receivable=AMOUNT)

    # ---- 确权: receivable → voucher → split → a part to the tier-2 supplier
    rec = ok(api("supplier").post("/api/v1/receivables/", {"order": oid}, format="json"), 201)
    assert rec["four_flow_ok"] is True
    voucher = ok(api("buyer").post(f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD}), 201)
    assert voucher["amount"] == "83000.00" and voucher["maturity_date"] == str(today + timedelta(days=30))
    part, rest = ok(
        api("supplier").post(
            f"/api/v1/vouchers/{voucher['id']}/split/", {"amounts": [str(PART), str(REST)]}, format="json"
        ),
        201,
    )
    # the tier-2 supplier sells to the supplier on the platform (so it may be paid with the voucher)
    listing = published_listing(world, user="rival")
    tier_order = ok(
        api("supplier").post(
            "/api/v1/orders/",
            {
                "listing": listing.pk,
                "quantity": "100",
                "delivery_region": "350524",
                "payment_terms": "escrow",
            },
            format="json",
        ),
        201,
    )
    ok(api("rival").post(f"/api/v1/orders/{tier_order['id']}/confirm/", {}, format="json"))
    ok(api("supplier").post(f"/api/v1/vouchers/{part['id']}/transfer/", {"to_enterprise": e["rival"].pk}))
    part = ok(api("rival").post(f"/api/v1/vouchers/{part['id']}/accept/"))
    assert part["holder"] == e["rival"].pk
    books(world, buyer_payable=AMOUNT, supplier_receivable=AMOUNT)

    # ---- the lender: a product, a line for the tier-2 supplier
    lender, checker = api("lender"), api("lender_checker")
    product = ok(
        lender.post(
            "/api/v1/finance/products/",
            {
                "lender": e["lender"].pk,
                "name": "数字债权凭证贴现",
                "kind": "discount",
                "day_count": "act_360",
                "annual_rate": "0.0435",
                "fee_rate": "0.001",
                "max_tenor_days": 180,
                "min_amount": "10000.00",
                "max_amount": "5000000.00",
                "clusters": [tea.pk],
            },
            format="json",
        ),
        201,
    )
    assert (product["annual_rate"], product["clusters"]) == ("0.043500", [tea.pk])
    assert [p["id"] for p in ok(api("rival").get(f"/api/v1/finance/products/?cluster={tea.pk}"))] == [
        product["id"]
    ]
    refused(
        checker.post("/api/v1/finance/products/", {**product, "lender": e["lender"].pk}, format="json"),
        403,
        "not_lender",
    )
    line = ok(
        lender.post(
            "/api/v1/finance/credit-lines/",
            {
                "lender": e["lender"].pk,
                "enterprise": e["rival"].pk,
                "limit": "100000.00",
                "expires_on": str(today + timedelta(days=365)),
            },
            format="json",
        ),
        201,
    )
    assert (line["exposure"], line["available"]) == ("0.00", "100000.00")
    assert ok(api("rival").get(f"/api/v1/finance/credit-lines/{line['id']}/"))["limit"] == "100000.00"
    refused(api("supplier").get(f"/api/v1/finance/credit-lines/{line['id']}/"), 404, "not_found")

    # ---- consent: nothing without it, the package with it
    app = ok(
        api("rival").post(
            "/api/v1/finance/applications/", {"product": product["id"], "voucher": part["id"]}, format="json"
        ),
        201,
    )
    assert (app["status"], app["amount"], app["tenor_days"], app["actions"]) == (
        "draft",
        "30000.00",
        30,
        ["submit", "withdraw"],
    )
    refused(api("rival").post(f"/api/v1/finance/applications/{app['id']}/submit/"), 409, "no_consent")
    consent = ok(
        api("rival").post(
            "/api/v1/finance/consents/",
            {
                "enterprise": e["rival"].pk,
                "lender": e["lender"].pk,
                "cluster": tea.pk,
                "scope": ["orders", "fulfilment", "asset", "risk"],
                "valid_until": str(today + timedelta(days=60)),
                "voucher": part["id"],
            },
            format="json",
        ),
        201,
    )
    package = ok(lender.get(f"/api/v1/finance/consents/{consent['id']}/package/"))
    assert package["asset"]["id"] == part["id"] and package["asset"]["four_flow_ok"] is True
    assert {o["id"] for o in package["orders"]} == {tier_order["id"]}
    assert package["orders"][0]["counterparty"] == e["supplier"].name
    refused(api("supplier").get(f"/api/v1/finance/consents/{consent['id']}/package/"), 404, "not_found")

    # ---- the application: submitted, reviewed, maker approves, checker checks
    app = ok(api("rival").post(f"/api/v1/finance/applications/{app['id']}/submit/"))
    assert app["status"] == "submitted"
    refused(lender.post(f"/api/v1/finance/applications/{app['id']}/approve/", {}), 409, "illegal_transition")
    ok(lender.post(f"/api/v1/finance/applications/{app['id']}/review/"))
    app = ok(lender.post(f"/api/v1/finance/applications/{app['id']}/approve/", {}, format="json"))
    assert (app["status"], app["interest"], app["fee"], app["net"]) == (
        "approved",
        "108.75",
        "30.00",
        "29861.25",
    )
    refused(lender.post(f"/api/v1/finance/applications/{app['id']}/check/"), 409, "maker_checker")
    assert ok(checker.get(f"/api/v1/finance/applications/{app['id']}/"))["actions"] == ["check", "reject"]
    app = ok(checker.post(f"/api/v1/finance/applications/{app['id']}/check/"))
    assert app["status"] == "checked"
    assert ok(lender.get(f"/api/v1/finance/credit-lines/{line['id']}/"))["reserved"] == "30000.00"
    refused(
        lender.post(f"/api/v1/finance/applications/{app['id']}/registration/", {"number": "12345"}),
        400,
        "invalid_registry_number",
    )
    ok(
        lender.post(
            f"/api/v1/finance/applications/{app['id']}/registration/", {"number": "04387628000463452318"}
        )
    )
    books(world, buyer_payable=AMOUNT, supplier_receivable=AMOUNT)

    # ---- disbursement (idempotent)
    url = f"/api/v1/finance/applications/{app['id']}/disburse/"
    first = checker.post(url, {"bank_reference": "LN20261201"}, format="json", HTTP_IDEMPOTENCY_KEY="disb-1")
    app = ok(first)
    again = checker.post(url, {"bank_reference": "LN20261201"}, format="json", HTTP_IDEMPOTENCY_KEY="disb-1")
    assert again.status_code == 200 and again.headers.get("Idempotent-Replay") == "true"
    assert (app["status"], app["net"], app["registry_number"]) == (
        "disbursed",
        "29861.25",
        "04387628000463452318",
    )
    books(
        world,
        bank=NET,
        rival_cash=NET,
        buyer_payable=AMOUNT,
        supplier_receivable=AMOUNT - PART,
        lender_receivable=PART,
    )
    line = ok(lender.get(f"/api/v1/finance/credit-lines/{line['id']}/"))
    assert (line["exposure"], line["reserved"], line["available"]) == ("30000.00", "0.00", "70000.00")
    assert ok(lender.get(f"/api/v1/vouchers/{part['id']}/"))["holder"] == e["lender"].pk

    # ---- maturity: the operator confirms the issuer's transfer; everyone is paid
    pay = f"/api/v1/finance/vouchers/{voucher['id']}/pay/"
    body = {"amount": "83000.00", "bank_reference": "BK20261231", "received_on": str(today)}
    refused(api("operator").post(pay, body, format="json"), 409, "not_matured")
    with later(30):
        body["received_on"] = str(timezone.localdate())
        refused(api("buyer").post(pay, body, format="json"), 403, "permission_denied")
        refused(
            api("operator").post(pay, {**body, "amount": "82999.99"}, format="json"), 409, "amount_mismatch"
        )
        paid = ok(api("operator").post(pay, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"), 201)
        replay = api("operator").post(pay, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
        assert replay.status_code == 201 and replay.json() == paid
        refused(
            api("operator").post(pay, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-2"), 409, "already_paid"
        )
        assert ok(api("supplier").get(f"/api/v1/vouchers/{rest['id']}/"))["overdue"] is False
    books(
        world,
        bank=AMOUNT + NET,
        rival_cash=NET,
        supplier_cash=REST - FEE,
        lender_cash=PART,
        fee_income=FEE,
    )
    app = ok(lender.get(f"/api/v1/finance/applications/{app['id']}/"))
    assert app["status"] == "repaid" and app["overdue"] is False
    line = ok(lender.get(f"/api/v1/finance/credit-lines/{line['id']}/"))
    assert (line["exposure"], line["available"]) == ("0.00", "100000.00")
    assert ok(api("buyer").get(f"/api/v1/orders/{oid}/"))["status"] == "closed"
    kinds = [ev["kind"] for ev in ok(lender.get(f"/api/v1/vouchers/{part['id']}/custody/"))]
    assert kinds[-2:] == ["discounted", "paid"]
    assert verify_ledger(tea).ok

    # ---- the books pass bean-check, a tampered copy does not
    assert BEAN_CHECK, "bean-check (beancount 3) is a dev dependency"
    text = beancount_export(tea)
    result = bean_check(text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Liabilities:Customers:E{e['lender'].pk}:TradeReceivable" in text
    tampered = text.replace(f"{NET:.2f} CNY", f"{NET + D('0.01'):.2f} CNY", 1)
    assert tampered != text
    assert bean_check(tampered, tmp_path).returncode != 0
