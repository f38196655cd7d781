"""The printable contract page, its sign form and its PDF, through Django's test client."""

from __future__ import annotations

import pytest
from django.test import Client

from chanlian.trade.models import ContractSignature, Order
from chanlian.trade.services import contracts
from tests.trade.order_steps import PASSWORD, drive, listing_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_as(market):
    def make(name=None):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        # pages speak Chinese unless the language switch chose English (its cookie)
        client.cookies["django_language"] = "en"
        if name is not None:
            client.force_login(market.users[name])
        return client

    return make


@pytest.fixture
def order(market):
    return drive(market, listing_order(market), "confirmed")


def url(order, suffix=""):
    return f"/trade/orders/{order.pk}/contract{suffix}"


def test_a_party_admin_sees_the_contract_and_the_sign_form(client_as, order):
    contract = contracts.current_contract(order)
    r = client_as("buyer").get(url(order, "/"))
    assert r.status_code == 200
    html = r.content.decode()
    for text in (
        "购销合同",
        "上海茶商贸易有限公司",
        "安溪县祥华茶厂",
        "人民币叁万陆仟元整",
        contract.content_hash,
    ):
        assert text in html, text
    assert 'name="password"' in html and f'value="{contract.content_hash}"' in html
    assert f'action="/trade/orders/{order.pk}/contract/sign/"' in html
    assert "Sign as the buyer" in html
    assert "@media print" in html
    if contracts.pdf_available():
        assert f'href="/trade/orders/{order.pk}/contract.pdf"' in html


@pytest.mark.parametrize("user", ["supplier_staff", "supplier_viewer"])
def test_staff_read_but_get_no_sign_form(client_as, order, user):
    r = client_as(user).get(url(order, "/"))
    assert r.status_code == 200
    assert 'name="password"' not in r.content.decode()
    assert "Only an administrator" in r.content.decode()


@pytest.mark.parametrize("user", ["outsider", "rival", "rival_buyer", "nobody", "operator", "gov"])
def test_others_get_404(client_as, order, user):
    for suffix in ("/", ".pdf"):
        assert client_as(user).get(url(order, suffix)).status_code == 404
    r = client_as(user).post(url(order, "/sign/"), {"password": PASSWORD, "content_hash": "x"})
    assert r.status_code == 404
    assert not ContractSignature.objects.exists()


def test_anonymous_is_sent_to_log_in(client_as, order):
    r = client_as().get(url(order, "/"))
    assert r.status_code == 302 and "/login" in r["Location"]


def test_no_contract_yet_is_404(client_as, market):
    created = listing_order(market)
    assert client_as("buyer").get(url(created, "/")).status_code == 404
    assert client_as("buyer").get("/trade/orders/999999/contract/").status_code == 404


def test_signing_through_the_page(client_as, order):
    digest = contracts.current_contract(order).content_hash
    buyer = client_as("buyer")
    r = buyer.post(url(order, "/sign/"), {"password": "wrong", "content_hash": digest})
    assert r.status_code == 400 and "password is wrong" in r.content.decode()
    assert not ContractSignature.objects.exists()
    r = buyer.post(url(order, "/sign/"), {"password": PASSWORD, "content_hash": "0" * 64})
    assert r.status_code == 409 and "changed" in r.content.decode()
    r = buyer.post(url(order, "/sign/"), {"password": PASSWORD, "content_hash": digest})
    assert r.status_code == 302 and r["Location"] == url(order, "/")
    page = buyer.get(r["Location"]).content.decode()
    assert "You signed the contract" in page and "Sign as the buyer" not in page
    r = client_as("supplier_staff").post(url(order, "/sign/"), {"password": PASSWORD, "content_hash": digest})
    assert r.status_code == 403
    r = client_as("supplier").post(url(order, "/sign/"), {"password": PASSWORD, "content_hash": digest})
    assert r.status_code == 302
    assert Order.objects.get(pk=order.pk).status == "contract_signed"
    page = client_as("supplier").get(url(order, "/")).content.decode()
    assert "Signed by both sides" in page and 'name="password"' not in page
    assert client_as("buyer").get(url(order, "/sign/")).status_code == 405


def test_the_pdf(client_as, order):
    if not contracts.pdf_available():
        pytest.skip("no CJK font on this machine")
    r = client_as("supplier_viewer").get(url(order, ".pdf"))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert f"contract-{order.reference}-01.pdf" in r["Content-Disposition"]


def test_without_a_font_the_pdf_is_404_with_an_explanation(client_as, order, monkeypatch, tmp_path):
    monkeypatch.setenv("CHANLIAN_CJK_FONT", str(tmp_path / "none.ttf"))
    r = client_as("buyer").get(url(order, ".pdf"))
    assert r.status_code == 404
    assert "fonts-wqy-microhei" in r.content.decode() and "CHANLIAN_CJK_FONT" in r.content.decode()
    page = client_as("buyer").get(url(order, "/")).content.decode()
    assert "contract.pdf" not in page


def test_a_void_version_says_so(client_as, market, order):
    drive(market, order, "cancelled")
    r = client_as("buyer").get(url(order, "/"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "作废" in html and 'name="password"' not in html


def test_chinese_page(client_as, order):
    client = client_as("buyer")
    client.cookies["django_language"] = "zh-hans"
    r = client.get(url(order, "/"))
    assert r.status_code == 200 and "购销合同" in r.content.decode()
