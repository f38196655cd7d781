"""The lending pages: the applicant applies (with the quote shown), grants and revokes consent, follows and
withdraws its applications; the lender keeps products and credit lines, works the queue, reads the consented
package and the risk report, approves (maker), checks (another user), disburses and records the 中登网
number. Each page renders for its users and is 404 for everyone else; a refused POST shows the code and
changes nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from chanlian.finance import lending
from chanlian.finance.models import Consent, CreditLine, FinancingApplication, FinancingEvent, LenderProduct
from tests.finance.helpers import counts
from tests.finance.test_lending_steps import apply, approved, disbursed, lending_world, new_lender

pytestmark = pytest.mark.django_db


def _client(world, name):
    c = Client()
    c.cookies["django_language"] = "en"
    c.force_login(world.users[name])
    return c


def _code(response, status, code):
    assert response.status_code == status, (response.status_code, response.content[:800])
    found = re.search(r'id="error-code">([a-z_]+)<', response.text)
    assert found and found.group(1) == code, found and found.group(1)


def _state() -> dict:
    return {
        **counts(),
        "apps": list(
            FinancingApplication.objects.order_by("id").values_list("id", "status", "registry_number")
        ),
        "events": FinancingEvent.objects.count(),
        "consents": list(Consent.objects.order_by("id").values_list("id", "revoked_at", "valid_until")),
        "products": list(LenderProduct.objects.order_by("id").values_list("id", "active", "annual_rate")),
        "lines": list(CreditLine.objects.order_by("id").values_list("id", "limit", "expires_on", "status")),
    }


# ------------------------------------------------------------------------------------------- applicant


def test_apply_shows_each_quote_then_submits(world):
    lw = lending_world(world)
    rival = _client(world, "rival")
    page = rival.get(f"/finance/vouchers/{lw.part.pk}/apply/")
    assert page.status_code == 200
    days = (lw.part.maturity_date - timezone.localdate()).days
    quote = lending.discount(
        lw.part.amount, lw.product.annual_rate, days, lw.product.day_count, lw.product.fee_rate
    )
    block = page.text.split(f'id="quote-{lw.product.pk}"')[1].split("</li>")[0]
    assert f"{quote.net:,.2f}" in block and f"{quote.interest:,.2f}" in block and f"{quote.fee:,.2f}" in block
    assert "consent-ok" in block

    before = _state()
    url = f"/finance/vouchers/{lw.part.pk}/apply/"
    _code(rival.post(url, {"product": lw.product.pk, "amount": "100.00"}), 400, "amount_mismatch")
    _code(rival.post(url, {"product": lw.product.pk, "amount": "1.001"}), 400, "too_many_decimals")
    assert _state() == before

    r = rival.post(url, {"product": lw.product.pk, "amount": "12000.00", "note": "请审核"})
    app = FinancingApplication.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/finance/applications/{app.pk}/"
    assert app.status == "submitted" and app.note == "请审核"

    listing = rival.get("/finance/applications/")
    assert listing.status_code == 200 and f'id="app-{app.pk}"' in listing.text
    assert f'id="app-{app.pk}"' in rival.get("/finance/applications/?status=submitted").text
    assert f'id="app-{app.pk}"' not in rival.get("/finance/applications/?status=approved").text
    detail = rival.get(f"/finance/applications/{app.pk}/")
    assert detail.status_code == 200
    assert 'id="act-withdraw"' in detail.text and 'id="package"' not in detail.text
    assert 'id="events"' in detail.text and detail.text.count('id="event-') == 2
    assert 'id="applicant-consent"' in detail.text and 'id="applicant-grant"' not in detail.text

    # no product chosen: said on the page, nothing made
    before = _state()
    _code(rival.post(url, {"amount": "12000.00"}), 400, "product_required")
    assert _state() == before

    r = rival.post(f"/finance/applications/{app.pk}/withdraw/")
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == "withdrawn"
    before = _state()
    _code(rival.post(f"/finance/applications/{app.pk}/withdraw/"), 409, "illegal_transition")
    assert _state() == before


def test_without_consent_the_apply_is_refused_and_the_package_says_so(world):
    lw = lending_world(world)
    rival, lender = _client(world, "rival"), _client(world, "lender")
    app = apply(lw)
    page = lender.get(f"/finance/applications/{app.pk}/")
    assert 'id="factors"' in page.text and 'id="no-consent"' not in page.text

    r = rival.post(f"/finance/consents/{lw.consent.pk}/revoke/")
    assert r.status_code == 302
    assert Consent.objects.get(pk=lw.consent.pk).revoked_at is not None
    page = lender.get(f"/finance/applications/{app.pk}/")
    assert 'id="no-consent"' in page.text
    assert 'id="factors"' not in page.text and 'id="package-asset"' not in page.text
    assert 'id="package-orders"' not in page.text

    assert 'id="applicant-grant"' in rival.get(f"/finance/applications/{app.pk}/").text
    lending.withdraw_application(world.users["rival"], app.pk)
    apply_page = rival.get(f"/finance/vouchers/{lw.part.pk}/apply/")
    assert "consent-missing" in apply_page.text and "grant-consent" in apply_page.text
    before = _state()
    url = f"/finance/vouchers/{lw.part.pk}/apply/"
    _code(rival.post(url, {"product": lw.product.pk, "amount": "12000.00"}), 409, "no_consent")
    assert _state() == before


def test_grant_consent_through_the_page(world):
    lw = lending_world(world)
    lending.revoke_consent(world.users["rival"], lw.consent.pk)
    rival = _client(world, "rival")
    form = rival.get(f"/finance/consents/new/?voucher={lw.part.pk}&lender={lw.lender.pk}")
    assert form.status_code == 200 and 'id="scope-risk"' in form.text
    data = {
        "enterprise": lw.rival.pk,
        "lender": lw.lender.pk,
        "cluster": world.clusters["tea"].pk,
        "scope": ["asset", "risk"],
        "valid_until": str(timezone.localdate() + dt.timedelta(days=30)),
        "voucher": lw.part.pk,
        "next": f"/finance/vouchers/{lw.part.pk}/apply/",
    }
    before = _state()
    _code(rival.post("/finance/consents/new/", {**data, "scope": []}), 400, "invalid_scope")
    far = str(timezone.localdate() + dt.timedelta(days=400))
    _code(rival.post("/finance/consents/new/", {**data, "valid_until": far}), 400, "invalid_date")
    _code(
        rival.post("/finance/consents/new/", {**data, "lender": world.enterprises["buyer"].pk}),
        400,
        "invalid_lender",
    )
    assert _state() == before
    r = rival.post("/finance/consents/new/", data)
    assert r.status_code == 302 and r["Location"] == f"/finance/vouchers/{lw.part.pk}/apply/"
    consent = Consent.objects.order_by("-id").first()
    assert consent.voucher_id == lw.part.pk and consent.scope == ["asset", "risk"]
    listing = rival.get("/finance/consents/")
    assert f'id="consent-{consent.pk}"' in listing.text
    # the lender sees it received, without a revoke button; the package holds exactly the scope
    lender = _client(world, "lender")
    received = lender.get("/finance/consents/")
    assert f'id="consent-{consent.pk}"' in received.text
    assert f"/finance/consents/{consent.pk}/revoke/" not in received.text
    app = apply(lw)
    page = lender.get(f"/finance/applications/{app.pk}/")
    assert 'id="factors"' in page.text and 'id="package-asset"' in page.text
    assert 'id="package-orders"' not in page.text
    # the lender cannot revoke it (404); a second revoke is refused with its code
    assert lender.post(f"/finance/consents/{consent.pk}/revoke/").status_code == 404
    assert Consent.objects.get(pk=consent.pk).revoked_at is None
    assert rival.post(f"/finance/consents/{consent.pk}/revoke/").status_code == 302
    r = rival.post(f"/finance/consents/{consent.pk}/revoke/", follow=True)
    assert "consent_revoked" in r.text


# ------------------------------------------------------------------------------------------- lender


def test_lender_reviews_approves_checks_disburses_and_registers(world):
    lw = lending_world(world)
    app = apply(lw)
    maker, checker = _client(world, "lender"), _client(world, "lender_checker")
    queue = maker.get("/finance/lender/")
    assert queue.status_code == 200 and f'id="app-{app.pk}"' in queue.text
    assert f'id="app-{app.pk}"' in maker.get("/finance/lender/?status=submitted").text
    assert f'id="app-{app.pk}"' not in maker.get("/finance/lender/?status=disbursed").text

    page = maker.get(f"/finance/applications/{app.pk}/")
    assert page.status_code == 200 and 'id="act-review"' in page.text
    assert 'id="package-asset"' in page.text and 'id="package-orders"' in page.text
    from chanlian.finance.risk import FACTORS

    for key in FACTORS:  # every factor, each with its value and rating, or "no data" and nothing else
        li = re.search(
            rf'<li class="[^"]*" id="factor-{key}" data-rating="([a-z]*)" data-no-data="([01])">(.*?)</li>',
            page.text,
            re.S,
        )
        assert li, key
        assert (li.group(2) == "1") == ("No data" in li.group(3)) == (li.group(1) == "")
    assert 'id="risk-summary"' in page.text

    assert maker.post(f"/finance/applications/{app.pk}/review/").status_code == 302
    before = _state()
    _code(maker.post(f"/finance/applications/{app.pk}/approve/", {"annual_rate": "5%"}), 400, "invalid_rate")
    _code(maker.post(f"/finance/applications/{app.pk}/reject/", {"reason": ""}), 400, "reason_required")
    _code(maker.post(f"/finance/applications/{app.pk}/disburse/"), 409, "illegal_transition")
    assert _state() == before
    assert maker.post(f"/finance/applications/{app.pk}/approve/", {"annual_rate": "0.05"}).status_code == 302
    app.refresh_from_db()
    assert (
        app.status == "approved"
        and str(app.annual_rate) == "0.050000"
        and app.approved_by == world.users["lender"]
    )

    page = maker.get(f"/finance/applications/{app.pk}/")
    assert 'id="maker-note"' in page.text
    before = _state()
    _code(maker.post(f"/finance/applications/{app.pk}/check/"), 409, "maker_checker")
    assert _state() == before
    page = checker.get(f"/finance/applications/{app.pk}/")
    assert 'id="act-check"' in page.text and 'id="maker-note"' not in page.text
    assert checker.post(f"/finance/applications/{app.pk}/check/").status_code == 302
    assert (
        checker.post(f"/finance/applications/{app.pk}/disburse/", {"bank_reference": "LN42"}).status_code
        == 302
    )
    app.refresh_from_db()
    assert app.status == "disbursed" and app.checked_by == world.users["lender_checker"] and app.net

    before = _state()
    url = f"/finance/applications/{app.pk}/registration/"
    _code(checker.post(url, {"number": "123"}), 400, "invalid_registry_number")
    assert _state() == before
    assert checker.post(url, {"number": "0" * 19 + "7"}).status_code == 302
    app.refresh_from_db()
    assert app.registry_number == "0" * 19 + "7"
    page = _client(world, "rival").get(f"/finance/applications/{app.pk}/")
    assert 'id="term-registry"' in page.text and 'id="term-net"' in page.text
    assert 'id="act-registration"' not in page.text


def test_reject_with_a_reason(world):
    lw = lending_world(world)
    app = approved(lw)
    maker = _client(world, "lender")
    assert maker.post(f"/finance/applications/{app.pk}/reject/", {"reason": "资料不全"}).status_code == 302
    app.refresh_from_db()
    assert app.status == "rejected" and app.decided_reason == "资料不全"
    assert "资料不全" in _client(world, "rival").get(f"/finance/applications/{app.pk}/").text


def test_products_create_and_deactivate(world):
    lw = lending_world(world)
    admin, staff = _client(world, "lender"), _client(world, "lender_checker")
    page = admin.get("/finance/lender/products/")
    assert (
        page.status_code == 200
        and f'id="product-{lw.product.pk}"' in page.text
        and 'id="product-new"' in page.text
    )
    assert 'id="product-new"' not in staff.get("/finance/lender/products/").text
    tea = world.clusters["tea"].pk
    data = {
        "name": "应收账款融资",
        "kind": "discount",
        "day_count": "act_365",
        "annual_rate": "0.06",
        "fee_rate": "0.002",
        "max_tenor_days": "90",
        "min_amount": "1000.00",
        "max_amount": "50000.00",
        "clusters": [tea],
    }
    before = _state()
    _code(admin.post("/finance/lender/products/", {**data, "annual_rate": "6%"}), 400, "invalid_rate")
    _code(admin.post("/finance/lender/products/", {**data, "min_amount": "90000"}), 400, "invalid_range")
    _code(admin.post("/finance/lender/products/", {**data, "clusters": []}), 400, "not_served_cluster")
    _code(admin.post("/finance/lender/products/", {**data, "max_tenor_days": "x"}), 400, "invalid_number")
    _code(staff.post("/finance/lender/products/", data), 403, "not_lender")
    assert _state() == before
    assert admin.post("/finance/lender/products/", data).status_code == 302
    product = LenderProduct.objects.order_by("-id").first()
    assert (
        product.name == "应收账款融资"
        and str(product.annual_rate) == "0.060000"
        and product.day_count == "act_365"
    )
    r = admin.post(f"/finance/lender/products/{product.pk}/active/", {"active": "0"})
    assert r.status_code == 302 and not LenderProduct.objects.get(pk=product.pk).active
    before = _state()
    _code(
        admin.post(f"/finance/lender/products/{product.pk}/active/", {"active": "maybe"}),
        400,
        "invalid_choice",
    )
    assert _state() == before
    assert admin.post(f"/finance/lender/products/{product.pk}/active/", {"active": "1"}).status_code == 302
    assert LenderProduct.objects.get(pk=product.pk).active


def test_credit_lines_open_and_change(world):
    lw = lending_world(world)
    admin = _client(world, "lender")
    page = admin.get("/finance/lender/lines/")
    assert page.status_code == 200 and f'id="line-{lw.line.pk}"' in page.text
    buyer = world.enterprises["buyer"].pk
    until = str(timezone.localdate() + dt.timedelta(days=200))
    before = _state()
    _code(
        admin.post("/finance/lender/lines/", {"enterprise": buyer, "limit": "-5", "expires_on": until}),
        400,
        "invalid_amount",
    )
    _code(
        admin.post(
            "/finance/lender/lines/", {"enterprise": buyer, "limit": "100.00", "expires_on": "2020-01-01"}
        ),
        400,
        "invalid_date",
    )
    _code(
        admin.post(
            "/finance/lender/lines/", {"enterprise": lw.rival.pk, "limit": "100.00", "expires_on": until}
        ),
        409,
        "credit_line_exists",
    )
    assert _state() == before
    r = admin.post("/finance/lender/lines/", {"enterprise": buyer, "limit": "80000.00", "expires_on": until})
    assert r.status_code == 302
    line = CreditLine.objects.get(enterprise_id=buyer)
    assert str(line.limit) == "80000.00" and str(line.expires_on) == until
    before = _state()
    _code(admin.post(f"/finance/lender/lines/{line.pk}/", {"limit": "1.234"}), 400, "too_many_decimals")
    _code(admin.post(f"/finance/lender/lines/{line.pk}/", {"status": "open"}), 400, "invalid_choice")
    assert _state() == before
    assert (
        admin.post(
            f"/finance/lender/lines/{line.pk}/", {"limit": "90000.00", "status": "suspended"}
        ).status_code
        == 302
    )
    line.refresh_from_db()
    assert str(line.limit) == "90000.00" and line.status == "suspended"
    # exposure from the ledger after a disbursement
    disbursed(lw)
    page = admin.get("/finance/lender/lines/")
    row = page.text.split(f'id="line-{lw.line.pk}"')[1].split("</tr>")[0]
    assert "12,000.00" in row and "38,000.00" in row


# ------------------------------------------------------------------------------------------- everyone else


@pytest.mark.parametrize("name", ["outsider", "supplier", "buyer", "gov", "operator", "nobody", "lender9"])
def test_other_people_get_404(world, name):
    lw = lending_world(world)
    if name == "lender9":
        new_lender(world, 9)
    app = approved(lw)
    c = _client(world, name)
    before = _state()
    assert c.get(f"/finance/applications/{app.pk}/").status_code == 404
    for action in ("check", "reject", "withdraw", "disburse", "registration", "approve", "review", "submit"):
        assert c.post(f"/finance/applications/{app.pk}/{action}/", {"reason": "x"}).status_code == 404
    assert c.post(f"/finance/consents/{lw.consent.pk}/revoke/").status_code == 404
    assert c.get(f"/finance/vouchers/{lw.part.pk}/apply/").status_code == 404
    assert c.post(f"/finance/vouchers/{lw.part.pk}/apply/", {"product": lw.product.pk}).status_code == 404
    assert c.post(f"/finance/lender/lines/{lw.line.pk}/", {"limit": "1.00"}).status_code == 404
    if name != "lender9":
        assert c.get("/finance/lender/").status_code == 404
        assert c.get("/finance/lender/products/").status_code == 404
        assert c.get("/finance/lender/lines/").status_code == 404
        assert c.post(f"/finance/lender/products/{lw.product.pk}/active/", {"active": "0"}).status_code == 404
    else:  # another lender has its own (empty) workspace
        assert f'id="app-{app.pk}"' not in c.get("/finance/lender/").text
        assert f'id="line-{lw.line.pk}"' not in c.get("/finance/lender/lines/").text
        assert c.post(f"/finance/lender/products/{lw.product.pk}/active/", {"active": "0"}).status_code == 404
    assert c.get("/finance/applications/").status_code == 200
    assert f'id="app-{app.pk}"' not in c.get("/finance/applications/").text
    assert c.get("/finance/consents/").status_code == 200
    assert f'id="consent-{lw.consent.pk}"' not in c.get("/finance/consents/").text
    assert _state() == before


def test_finance_home_links_by_enterprise_kind(world):
    lw = lending_world(world)
    lender = _client(world, "lender").get("/finance/").text
    assert 'id="link-lender"' in lender and 'id="link-applications"' not in lender
    rival = _client(world, "rival").get("/finance/").text
    assert 'id="link-lender"' not in rival and 'id="link-applications"' in rival
    assert f'id="apply-{lw.part.pk}"' in rival
    disbursed(lw)  # the lender holds the discounted part now: it is not offered to finance it again
    lender = _client(world, "lender").get("/finance/").text
    assert f'id="voucher-{lw.part.pk}"' in lender and 'id="apply-' not in lender


def test_login_required(client):
    for url in ("/finance/applications/", "/finance/lender/", "/finance/consents/", "/finance/consents/new/"):
        assert client.get(url).status_code == 302
