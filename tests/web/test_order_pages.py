"""The order pages through the Django test client, as each party uses them.

Every page for each party in each state shows exactly the moves that party may make; every form works and
a refused one shows the service's message and changes nothing; a third enterprise, a rival supplier,
another cluster's operator and the cluster's own operator (before a dispute) get 404 for the order and
for every form on it; the operator's payment desk confirms transfers, imports a bank statement and
matches a line by hand; the dispute desk decides. Orders are driven through the real services
(``tests/trade/order_steps.py``).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.trade import services
from chanlian.trade.choices import OrderStatus as S
from chanlian.trade.models import BankLine, BankStatement, Dispute, Order, OrderEvent, Payment, Shipment
from tests.trade import order_steps as steps
from tests.trade.factories import add_rival

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(world):
    return add_rival(world)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def url(order, tail=""):
    return f"/trade/orders/{order.pk}/{tail}"


def acts(html: str) -> set[str]:
    """The action panels a page offers (``id="act-…"``)."""
    return set(re.findall(r'id="act-([a-z]+)"', html))


def fresh(order) -> Order:
    return Order.objects.get(pk=order.pk)


def snapshot(order) -> tuple:
    o = fresh(order)
    return (
        o.status,
        o.updated_at,
        OrderEvent.objects.filter(order=o).count(),
        Shipment.objects.filter(order=o).count(),
        Payment.objects.filter(order=o).count(),
        Dispute.objects.filter(order=o).count(),
    )


# ------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path", ["/trade/orders/", "/trade/orders/1/", "/trade/payment-desk/", "/trade/disputes/"]
)
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_order_list_shows_purchases_and_sales(w, client_as):
    order = steps.listing_order(w)
    html = client_as("buyer", language="en").get("/trade/orders/").content.decode()
    row = html[html.index(f'id="order-{order.pk}"') :]
    row = row[: row.index("</tr>")]
    assert order.reference in row and order.title in row
    assert "安溪县祥华茶厂" in row  # the counterparty of the buyer is the supplier
    assert "36,000.00" in row and "Awaiting supplier confirmation" in row
    assert "Wait for the supplier" in row

    html = client_as("supplier", language="en").get("/trade/orders/").content.decode()
    row = html[html.index(f'id="order-{order.pk}"') :]
    assert "上海茶商贸易有限公司" in row[: row.index("</tr>")] and "Confirm the order" in row

    # tabs and filters
    sales = client_as("supplier").get("/trade/orders/?role=buyer").content.decode()
    assert f'id="order-{order.pk}"' not in sales
    assert (
        f'id="order-{order.pk}"' in client_as("supplier").get("/trade/orders/?role=supplier").content.decode()
    )
    assert (
        f'id="order-{order.pk}"' not in client_as("buyer").get("/trade/orders/?status=paid").content.decode()
    )
    assert (
        f'id="order-{order.pk}"' in client_as("buyer").get("/trade/orders/?status=created").content.decode()
    )
    bad = client_as("buyer", language="en").get("/trade/orders/?role=king")
    assert bad.status_code == 400 and "The role is buyer or supplier." in bad.content.decode()


@pytest.mark.parametrize("who", ["rival", "rival_buyer", "outsider", "nobody", "gov", "lender"])
def test_outsiders_see_no_orders(w, client_as, who):
    order = steps.listing_order(w)
    html = client_as(who).get("/trade/orders/").content.decode()
    assert order.reference not in html


def test_order_list_has_a_constant_number_of_queries(w, client_as):
    listing = steps.published_listing(w, stock="100000")
    steps.listing_order(w, listing=listing)
    client = client_as("buyer")
    client.get("/trade/orders/")  # warm caches (packs, sessions)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/trade/orders/").status_code == 200
    for _ in range(5):
        steps.listing_order(w, listing=listing)
    other = steps.listing_order(w, listing=listing)
    steps.drive(w, other, S.PAID)
    with CaptureQueriesContext(connection) as seven:
        html = client.get("/trade/orders/").content.decode()
    assert html.count('id="order-') == 7
    assert len(seven.captured_queries) == len(one.captured_queries), [
        q["sql"] for q in seven.captured_queries
    ]


# ---------------------------------------------------------------------- what each party may do, per state

# The action panels of the order page for each party in each state of an escrow order from a listing.
# pay = "pay from platform cash", transfer = the payment instructions, sign = the link to the contract.
EXPECTED = {
    S.CREATED: {"supplier": {"confirm", "cancel"}, "buyer": {"cancel"}, "supplier_viewer": set()},
    S.CONFIRMED: {
        "supplier": {"sign", "amend", "cancel"},
        "supplier_staff": {"amend", "cancel"},  # staff may change the terms; only admins sign
        "buyer": {"sign", "amend", "cancel"},
        "supplier_viewer": set(),
    },
    S.CONTRACT_SIGNED: {
        "supplier": {"cancel", "invoice"},  # an invoice may be recorded once the contract is signed
        "buyer": {"cancel", "pay", "transfer"},
        "supplier_viewer": set(),
    },
    S.PAID: {"supplier": {"ship", "cancel", "invoice"}, "buyer": {"cancel"}, "supplier_viewer": set()},
    S.SHIPPED: {"supplier": {"deliver", "invoice"}, "buyer": {"deliver"}, "supplier_viewer": set()},
    S.DELIVERED: {"supplier": {"invoice"}, "buyer": {"accept", "dispute"}, "supplier_viewer": set()},
    S.DISPUTED: {"supplier": {"invoice"}, "buyer": set(), "operator": {"decide"}},
    S.SETTLED: {"supplier": {"invoice"}, "buyer": set(), "supplier_viewer": set()},
    S.CANCELLED: {"supplier": set(), "buyer": set()},
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_each_party_sees_the_moves_it_may_make(w, client_as, state):
    order = steps.listing_order(w)
    order = steps.drive(w, order, state)
    assert order.status == state
    for who, expected in EXPECTED[state].items():
        response = client_as(who, language="en").get(url(order))
        assert response.status_code == 200, who
        html = response.content.decode()
        assert acts(html) == expected, (state, who, acts(html))
        assert order.reference in html and "History" in html
        if not expected:
            assert 'id="no-actions"' in html


TERMS_EXPECTED = {
    S.CONTRACT_SIGNED: None,  # not a resting state: the second signature puts a terms order on terms
    S.ON_TERMS: {"supplier": {"ship", "cancel", "invoice"}, "buyer": {"cancel"}},
    S.DELIVERED: {"supplier": {"invoice"}, "buyer": {"accept", "dispute"}},
    S.ACCEPTED: {"supplier": {"invoice"}, "buyer": {"transfer"}, "operator": None},
}


@pytest.mark.parametrize("state", [s for s, e in TERMS_EXPECTED.items() if e])
def test_each_party_of_a_terms_order_sees_its_moves(w, client_as, state):
    order = steps.drive(w, steps.listing_order(w, payment_terms="terms_60"), state)
    for who, expected in TERMS_EXPECTED[state].items():
        response = client_as(who, language="en").get(url(order))
        if expected is None:  # the operator reads an order only once it is disputed
            assert response.status_code == 404
            continue
        assert acts(response.content.decode()) == expected, (state, who)


def test_desk_cluster_must_be_one_the_user_operates(w, client_as):
    operator = client_as("operator")
    for bad in ("abc", "0", "999999", str(w.clusters["steel"].pk)):
        assert operator.get(f"/trade/payment-desk/?cluster={bad}").status_code == 404, bad
    assert client_as("admin").get(f"/trade/payment-desk/?cluster={w.clusters['steel'].pk}").status_code == 200


def test_terms_order_shows_the_payment_instructions_after_acceptance(w, client_as):
    order = steps.listing_order(w, payment_terms="terms_30")
    order = steps.drive(w, order, S.ACCEPTED)
    html = client_as("buyer", language="en").get(url(order)).content.decode()
    assert "transfer" in acts(html) and "pay" not in acts(html)
    assert order.reference in html[html.index('id="payment-reference"') :][:200]
    assert "36,000.00" in html and "Payment due" in html
    html = client_as("supplier", language="en").get(url(order)).content.decode()
    assert acts(html) == {"invoice"}


def test_contract_link_and_signatures(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.CONFIRMED)
    html = client_as("buyer", language="en").get(url(order)).content.decode()
    assert f'href="/trade/orders/{order.pk}/contract/"' in html
    assert 'id="signatures"' in html
    supplier = w.users["supplier"]
    contract = services.current_contract(order)
    services.sign_contract(supplier, order.pk, password=steps.PASSWORD, content_hash=contract.content_hash)
    html = client_as("buyer", language="en").get(url(order)).content.decode()
    sigs = html[html.index('id="signatures"') :][:600]
    assert sigs.count("badge-ok") == 1
    assert acts(client_as("supplier", language="en").get(url(order)).content.decode()) == {
        "amend",
        "cancel",
    }  # signed


# ----------------------------------------------------------------------------------------- third parties

POSTS = [
    ("confirm/", {}),
    ("cancel/", {"reason": "不要了"}),
    ("pay/", {}),
    ("ship/", {"carrier": "顺丰速运", "waybill": "SF1", "quantity": "200"}),
    ("deliver/", {}),
    ("accept/", {"accepted_quantity": "200", "quality_grade": "grade_1"}),
    ("dispute/", {"reason": "坏了"}),
    ("decide/", {"decision": "refund", "reason": "x"}),
    (
        "invoices/",
        {
            "invoice_type": "vat_special",
            "number": "1",
            "issue_date": "2026-12-01",
            "amount": "1",
            "tax_rate": "0.13",
            "tax": "0.13",
            "total": "1.13",
        },
    ),
]


@pytest.mark.parametrize(
    "who", ["rival", "rival_buyer", "outsider", "nobody", "operator", "steel_operator", "gov"]
)
def test_a_stranger_gets_404_and_changes_nothing(w, client_as, who):
    created = steps.listing_order(w)
    delivered = steps.drive(w, steps.listing_order(w), S.DELIVERED)
    client = client_as(who)
    for order in (created, delivered):
        before = snapshot(order)
        assert client.get(url(order)).status_code == 404
        for tail, data in POSTS:
            assert client.post(url(order, tail), data).status_code == 404, (who, tail)
        assert snapshot(order) == before


def test_a_viewer_sees_the_order_but_its_moves_are_refused(w, client_as):
    order = steps.listing_order(w)
    client = client_as("supplier_viewer", language="en")
    before = snapshot(order)
    response = client.post(url(order, "confirm/"))
    assert response.status_code == 403
    assert "Nothing was changed." in response.content.decode()
    assert snapshot(order) == before


def test_missing_order_is_404(w, client_as):
    assert client_as("buyer").get("/trade/orders/999999/").status_code == 404


# ------------------------------------------------------------------------------------------------ forms


def test_supplier_confirms(w, client_as):
    order = steps.listing_order(w)
    client = client_as("supplier", language="en")
    response = client.post(url(order, "confirm/"))
    assert response.status_code == 302 and response["Location"] == url(order)
    assert fresh(order).status == S.CONFIRMED
    html = client.get(url(order)).content.decode()
    assert "Order confirmed." in html and "Confirmed, awaiting contract" in html


def test_buyer_cannot_confirm_its_own_purchase(w, client_as):
    order = steps.listing_order(w)
    before = snapshot(order)
    response = client_as("buyer", language="en").post(url(order, "confirm/"))
    assert response.status_code == 403 and "Nothing was changed." in response.content.decode()
    assert snapshot(order) == before


def test_cancel_needs_a_reason(w, client_as):
    order = steps.listing_order(w)
    client = client_as("buyer", language="en")
    before = snapshot(order)
    response = client.post(url(order, "cancel/"), {"reason": "  "})
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was changed." in html
    assert 'id="act-cancel" open' in html
    assert snapshot(order) == before
    response = client.post(url(order, "cancel/"), {"reason": "计划有变"}, follow=True)
    html = response.content.decode()
    assert fresh(order).status == S.CANCELLED
    assert "Order cancelled." in html and "计划有变" in html


def test_pay_from_cash(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.CONTRACT_SIGNED)
    client = client_as("buyer", language="en")
    before = snapshot(order)
    response = client.post(url(order, "pay/"))
    assert response.status_code == 409 and "Nothing was changed." in response.content.decode()
    assert snapshot(order) == before
    steps.refunded_cash(w, quantity="300")  # 300 kg × 180.00 = 54,000.00 back in the buyer's cash
    response = client.post(url(order, "pay/"), follow=True)
    html = response.content.decode()
    assert fresh(order).status == S.PAID
    assert "Paid from your platform cash into escrow." in html
    money = html[html.index('id="money"') :]
    assert "36,000.00" in money and "escrow.fund" in money


def test_payment_instructions_name_the_supervised_account_and_reference(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.CONTRACT_SIGNED)
    html = client_as("buyer", language="en").get(url(order)).content.decode()
    box = html[html.index('id="act-transfer"') :]
    box = box[: box.index("</dl>")]
    assert order.reference in box and "36,000.00" in box
    assert "安溪铁观音产业集群" in box and "安溪茶业集团有限公司" in box


def test_ship_deliver_accept(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.PAID)
    supplier = client_as("supplier", language="en")
    before = snapshot(order)
    bad = supplier.post(url(order, "ship/"), {"carrier": "顺丰速运", "waybill": "SF001", "quantity": "abc"})
    html = bad.content.decode()
    assert bad.status_code == 400 and "Nothing was changed." in html
    assert 'class="field has-error"' in html and 'value="SF001"' in html  # the form keeps what was typed
    too_much = supplier.post(
        url(order, "ship/"), {"carrier": "顺丰速运", "waybill": "SF001", "quantity": "201"}
    )
    assert too_much.status_code == 400
    assert snapshot(order) == before

    response = supplier.post(
        url(order, "ship/"), {"carrier": "顺丰速运", "waybill": "SF001", "quantity": "120", "shipped_on": ""}
    )
    assert response.status_code == 302 and fresh(order).status == S.SHIPPED
    html = supplier.get(url(order)).content.decode()
    assert "SF001" in html and "Shipment recorded." in html and "ship" in acts(html)  # 80 kg still to ship
    supplier.post(url(order, "ship/"), {"carrier": "德邦物流", "waybill": "DB77", "quantity": "80"})
    html = supplier.get(url(order)).content.decode()
    assert "DB77" in html and acts(html) == {"deliver", "invoice"}
    assert Shipment.objects.filter(order=order).count() == 2

    buyer = client_as("buyer", language="en")
    assert buyer.post(url(order, "deliver/")).status_code == 302
    assert fresh(order).status == S.DELIVERED

    before = snapshot(order)
    bad = buyer.post(url(order, "accept/"), {"accepted_quantity": "150", "quality_grade": "gold"})
    assert bad.status_code == 400  # not one of the pack's grades
    bad = buyer.post(url(order, "accept/"), {"accepted_quantity": "0", "quality_grade": "grade_1"})
    assert bad.status_code == 400 and "Nothing was changed." in bad.content.decode()
    bad = buyer.post(url(order, "accept/"), {"accepted_quantity": "201", "quality_grade": "grade_1"})
    assert bad.status_code == 400
    assert snapshot(order) == before

    html = buyer.get(url(order)).content.decode()
    assert '<option value="grade_1">Grade 1</option>' in html
    response = buyer.post(
        url(order, "accept/"), {"accepted_quantity": "150", "quality_grade": "grade_1"}, follow=True
    )
    html = response.content.decode()
    o = fresh(order)
    assert o.status == S.SETTLED and o.accepted_amount == Decimal("27000.00")
    money = html[html.index('id="money"') :]
    fee = o.fee_amount
    assert f"{Decimal('27000.00') - fee:,.2f}" in money[money.index('id="paid-to-supplier"') :][:80]
    assert "9,000.00" in money[money.index('id="refunded"') :][:60]
    assert "escrow.release" in money
    assert "Goods accepted." in html and "Grade 1" in html


def test_dispute_and_the_operators_decision(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.DELIVERED)
    buyer = client_as("buyer", language="en")
    operator = client_as("operator", language="en")
    assert operator.get(url(order)).status_code == 404  # no dispute yet: not the operator's business
    before = snapshot(order)
    assert buyer.post(url(order, "dispute/"), {"reason": ""}).status_code == 400
    assert snapshot(order) == before
    assert buyer.post(url(order, "dispute/"), {"reason": "茶叶含水量超标"}).status_code == 302
    assert fresh(order).status == S.DISPUTED

    html = operator.get(url(order)).content.decode()
    assert acts(html) == {"decide"} and "茶叶含水量超标" in html
    assert client_as("steel_operator").get(url(order)).status_code == 404
    assert (
        client_as("steel_operator")
        .post(url(order, "decide/"), {"decision": "refund", "reason": "x"})
        .status_code
        == 404
    )

    desk = operator.get("/trade/disputes/").content.decode()
    assert f'id="dispute-{order.pk}"' in desk and "茶叶含水量超标" in desk
    assert (
        f'id="dispute-{order.pk}"' not in client_as("steel_operator").get("/trade/disputes/").content.decode()
    )
    assert client_as("buyer").get("/trade/disputes/").status_code == 404

    before = snapshot(order)
    bad = operator.post(
        url(order, "decide/"), {"decision": "split", "supplier_amount": "36000", "reason": "各担一半"}
    )
    assert bad.status_code == 400 and "Nothing was changed." in bad.content.decode()
    assert operator.post(url(order, "decide/"), {"decision": "split", "reason": ""}).status_code == 400
    assert snapshot(order) == before
    response = operator.post(
        url(order, "decide/"),
        {"decision": "split", "supplier_amount": "20000", "reason": "各担一半", "next": "disputes"},
    )
    assert response.status_code == 302 and response["Location"] == "/trade/disputes/"
    o = fresh(order)
    assert o.status == S.SETTLED and o.dispute.supplier_amount == Decimal("20000.00")
    desk = operator.get("/trade/disputes/").content.decode()
    assert 'id="decided"' in desk and "各担一半" in desk
    html = buyer.get(url(order)).content.decode()
    assert "16,000.00" in html[html.index('id="refunded"') :][:60]


@pytest.mark.skipif(not hasattr(services, "record_invoice"), reason="invoices not written yet")
def test_invoice_recorded_confirmed_and_rejected(w, client_as):
    order = steps.drive(w, steps.listing_order(w), S.SETTLED)
    supplier = client_as("supplier", language="en")
    buyer = client_as("buyer", language="en")
    data = {
        "invoice_type": "digital_special",
        "code": "",
        "number": "25352000000012345678",
        "issue_date": timezone.localdate().isoformat(),
        "amount": "31858.41",
        "tax_rate": "0.13",
        "tax": "4141.59",
        "total": "36000.00",
    }
    bad = supplier.post(url(order, "invoices/"), {**data, "total": "abc"})
    assert bad.status_code == 400 and "Nothing was changed." in bad.content.decode()
    assert not order.invoices.exists()
    assert buyer.post(url(order, "invoices/"), data).status_code in (403, 404) or not order.invoices.exists()

    # a rejected one first
    assert (
        supplier.post(url(order, "invoices/"), {**data, "number": "25352000000000000001"}).status_code == 302
    )
    invoice = order.invoices.get()
    assert buyer.post(url(order, f"invoices/{invoice.pk}/reject/"), {"reason": ""}).status_code == 400
    assert buyer.post(url(order, f"invoices/{invoice.pk}/reject/"), {"reason": "抬头错误"}).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "rejected"

    assert supplier.post(url(order, "invoices/"), data).status_code == 302
    good = order.invoices.exclude(pk=invoice.pk).get()
    html = buyer.get(url(order)).content.decode()
    assert "25352000000012345678" in html and f"/invoices/{good.pk}/confirm/" in html
    assert f"/invoices/{good.pk}/confirm/" not in supplier.get(url(order)).content.decode()
    assert client_as("rival").post(url(order, f"invoices/{good.pk}/confirm/")).status_code == 404
    assert buyer.post(url(order, f"invoices/{good.pk}/confirm/")).status_code == 302
    assert fresh(order).status == S.CLOSED


# ---------------------------------------------------------------------------------------- payment desk


def test_payment_desk_confirms_a_transfer(w, client_as):
    tea = w.clusters["tea"]
    order = steps.drive(w, steps.listing_order(w), S.CONTRACT_SIGNED)
    operator = client_as("operator", language="en")
    html = operator.get("/trade/payment-desk/").content.decode()
    row = html[html.index(f'id="desk-{order.pk}"') :]
    row = row[: row.index("</tr>")]
    assert order.reference in row and "36,000.00" in row and "上海茶商贸易有限公司" in row
    assert operator.get(f"/trade/payment-desk/?cluster={tea.pk}").status_code == 200

    for who in ("buyer", "supplier", "rival", "nobody"):
        assert client_as(who).get("/trade/payment-desk/").status_code == 404, who
    steel = client_as("steel_operator")
    assert steel.get(f"/trade/payment-desk/?cluster={tea.pk}").status_code == 404
    assert order.reference not in steel.get("/trade/payment-desk/").content.decode()
    data = {
        "order": order.pk,
        "amount": "36000.00",
        "bank_reference": "BK1",
        "received_on": timezone.localdate().isoformat(),
    }
    before = snapshot(order)
    assert steel.post("/trade/payment-desk/transfers/", {**data, "cluster": tea.pk}).status_code == 404
    assert steel.post("/trade/payment-desk/transfers/", data).status_code == 404
    assert client_as("buyer").post("/trade/payment-desk/transfers/", data).status_code == 404

    bad = operator.post("/trade/payment-desk/transfers/", {**data, "amount": "35000.00", "cluster": tea.pk})
    html = bad.content.decode()
    assert bad.status_code == 409 and "Nothing was changed." in html
    assert f'id="desk-{order.pk}"' in html
    assert snapshot(order) == before
    response = operator.post("/trade/payment-desk/transfers/", {**data, "cluster": tea.pk}, follow=True)
    html = response.content.decode()
    assert fresh(order).status == S.PAID
    assert "Transfer confirmed" in html and f'id="desk-{order.pk}"' not in html


STATEMENT = """交易日期,交易流水号,对方户名,收入金额,支出金额,摘要
{today},TX001,上海茶商贸易有限公司,"36,000.00",,货款 {ref}
{today},TX002,上海茶商贸易有限公司,"36,000.00",,茶叶货款
{today},TX003,银行,,12.00,手续费
"""


def test_bank_statement_upload_and_matching_by_hand(w, client_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    tea = w.clusters["tea"]
    listing = steps.published_listing(w, stock="10000")
    first = steps.drive(w, steps.listing_order(w, listing=listing), S.CONTRACT_SIGNED)
    second = steps.drive(w, steps.listing_order(w, listing=listing), S.CONTRACT_SIGNED)
    operator = client_as("operator", language="en")
    today = timezone.localdate().isoformat()

    malformed = "交易日期,交易流水号,收入金额,摘要\n2026-13-45,TX9,abc,x\n"
    response = operator.post(
        "/trade/payment-desk/statements/",
        {"cluster": tea.pk, "file": SimpleUploadedFile("bad.csv", malformed.encode(), "text/csv")},
    )
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was changed." in html and 'id="bad-lines"' in html
    assert not BankStatement.objects.exists()

    body = STATEMENT.format(today=today, ref=first.reference).encode("gb18030")
    steel = client_as("steel_operator")
    upload = SimpleUploadedFile("202612.csv", body, "text/csv")
    assert (
        steel.post("/trade/payment-desk/statements/", {"cluster": tea.pk, "file": upload}).status_code == 404
    )
    upload = SimpleUploadedFile("202612.csv", body, "text/csv")
    response = operator.post(
        "/trade/payment-desk/statements/", {"cluster": tea.pk, "file": upload}, follow=True
    )
    html = response.content.decode()
    statement = BankStatement.objects.get()
    assert statement.matched_count == 1
    assert fresh(first).status == S.PAID and fresh(second).status == S.CONTRACT_SIGNED
    assert "1 of 3 lines matched" in html
    lines = html[html.index('id="statement"') :]
    assert first.reference in lines and "The memo holds no payment reference." in lines

    unmatched = BankLine.objects.get(transaction_id="TX002")
    assert f'id="unmatched-{unmatched.pk}"' in html
    match = f"/trade/payment-desk/lines/{unmatched.pk}/match/"
    assert steel.post(match, {"cluster": tea.pk, "order": second.pk}).status_code == 404
    assert client_as("buyer").post(match, {"order": second.pk}).status_code == 404
    assert operator.post(match, {"cluster": tea.pk, "order": ""}).status_code == 400
    assert fresh(second).status == S.CONTRACT_SIGNED
    response = operator.post(match, {"cluster": tea.pk, "order": second.pk}, follow=True)
    assert fresh(second).status == S.PAID
    assert "Bank line matched" in response.content.decode()
    # matching it again is refused with the service's message, nothing changes
    again = operator.post(match, {"cluster": tea.pk, "order": second.pk})
    assert again.status_code in (400, 409) and "Nothing was changed." in again.content.decode()


# -------------------------------------------------------------------------------------------- language


def test_pages_speak_chinese_by_default_and_english_on_request(w, client_as):
    order = steps.listing_order(w)
    zh = client_as("buyer").get(url(order)).content.decode()
    assert '<html lang="zh-hans"' in zh and "采购商" in zh and "供应商" in zh
    assert "状态" in client_as("buyer").get("/trade/orders/").content.decode()
    en = client_as("buyer", language="en").get(url(order)).content.decode()
    assert '<html lang="en"' in en and "What you can do now" in en and "Parties" in en
    for path in ("/trade/payment-desk/", "/trade/disputes/"):
        assert client_as("operator", language="en").get(path).status_code == 200


def test_amend_the_delivery_terms_before_signing(w, client_as):
    from datetime import timedelta

    order = steps.drive(w, steps.listing_order(w), S.CONFIRMED)
    contract = services.current_contract(order)
    services.sign_contract(
        w.users["supplier"], order.pk, password=steps.PASSWORD, content_hash=contract.content_hash
    )
    buyer = client_as("buyer", language="en")
    same = {
        "delivery_date": order.delivery_date.isoformat(),
        "delivery_address": order.delivery_address,
        "note": order.note,
    }
    bad = buyer.post(url(order, "amend/"), same)
    assert bad.status_code == 400 and "Nothing to change." in bad.content.decode()
    past = buyer.post(url(order, "amend/"), {**same, "delivery_date": "2020-01-01"})
    assert past.status_code == 400
    assert services.current_contract(fresh(order)).version == contract.version
    later = (order.delivery_date + timedelta(days=5)).isoformat()
    response = buyer.post(
        url(order, "amend/"), {**same, "delivery_date": later, "delivery_address": "上海市浦东新区"}
    )
    assert response.status_code == 302
    o = fresh(order)
    assert o.delivery_address == "上海市浦东新区" and o.delivery_date.isoformat() == later
    assert services.current_contract(o).version == contract.version + 1
    # the supplier's signature was on the old version: it signs again
    assert "sign" in acts(client_as("supplier", language="en").get(url(order)).content.decode())
    assert client_as("rival").post(url(order, "amend/"), same).status_code == 404
