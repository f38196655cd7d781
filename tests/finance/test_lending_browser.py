"""Financing in a real browser (Debian's Chromium through Playwright): the tier-2 supplier (``rival``, holder
of a 12,000.00 voucher part) grants the lender consent and applies; lender user 1 reviews and approves;
the same user's check is refused (maker–checker); lender user 2 checks and disburses and records the
中登网 number. Screenshots at desktop and phone width go to $CHANLIAN_SCREENSHOTS (default
<repo>/screenshots/), named ``lending-<size>-<page>.png``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.browser.test_operator_flow import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    Session,
    _shoot,
    browser,
    screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lending_flow(live_server, browser, screenshots):  # noqa: F811
    from playwright.sync_api import expect

    from chanlian.finance import lending
    from chanlian.finance.models import Consent, FinancingApplication, Voucher
    from tests.finance.test_lending_steps import lending_world
    from tests.personas import PASSWORD, build_world

    world = build_world()
    lw = lending_world(world)
    lending.revoke_consent(world.users["rival"], lw.consent.pk)  # the applicant grants one in the browser
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    # ------------------------------------------------------------ the applicant: consent, then apply
    rival = Session(browser, base, DESKTOP, requests, errors)
    rival.login("rival", PASSWORD)
    page = rival.go("/finance/")
    with page.expect_navigation():
        page.click(f"#apply-{lw.part.pk}")
    assert urlsplit(page.url).path == f"/finance/vouchers/{lw.part.pk}/apply/"
    quote = page.locator(f"#quote-{lw.product.pk}")
    expect(quote.locator(".consent-missing")).to_be_visible()
    expect(quote.locator(".q-net")).to_contain_text("11,")
    _shoot(rival, screenshots, "lending-desktop-apply-no-consent")
    with page.expect_navigation():
        quote.locator(".grant-consent").click()
    expect(page.locator("#scope-risk")).to_be_checked()
    _shoot(rival, screenshots, "lending-desktop-consent")
    with page.expect_navigation():
        page.click("#consent-submit")
    assert urlsplit(page.url).path == f"/finance/vouchers/{lw.part.pk}/apply/"
    consent = Consent.objects.get(revoked_at__isnull=True)
    assert consent.voucher_id == lw.part.pk and sorted(consent.scope) == [
        "asset",
        "fulfilment",
        "orders",
        "risk",
    ]
    expect(page.locator(f"#quote-{lw.product.pk} .consent-ok")).to_be_visible()
    page.check(f"#quote-{lw.product.pk} input[type=radio]")
    page.fill("#id_note", "用于支付茶青货款")
    _shoot(rival, screenshots, "lending-desktop-apply")
    with page.expect_navigation():
        page.click("#apply-submit")
    app = FinancingApplication.objects.get()
    assert urlsplit(page.url).path == f"/finance/applications/{app.pk}/"
    expect(page.locator("#app-status")).to_have_attribute("data-status", "submitted")
    expect(page.locator("#package")).to_have_count(0)
    _shoot(rival, screenshots, "lending-desktop-application-applicant")

    # ------------------------------------------------------------ lender user 1: review and approve
    maker = Session(browser, base, DESKTOP, requests, errors)
    maker.login("lender", PASSWORD)
    page = maker.go("/finance/")
    with page.expect_navigation():
        page.click("#link-lender")
    expect(page.locator(f"#app-{app.pk}")).to_be_visible()
    _shoot(maker, screenshots, "lending-desktop-queue")
    with page.expect_navigation():
        page.click(f"#app-{app.pk} a")
    with page.expect_navigation():
        page.click("#act-review button[type=submit]")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "under_review")
    expect(page.locator("#factors li")).to_have_count(7)
    expect(page.locator("#package-asset")).to_be_visible()
    expect(page.locator("#asset-four-flow")).to_have_class(re.compile("badge-ok"))
    _shoot(maker, screenshots, "lending-desktop-review")
    with page.expect_navigation():
        page.click("#act-approve button[type=submit]")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "approved")
    expect(page.locator("#maker-note")).to_be_visible()
    with page.expect_navigation():
        page.click("#act-check button[type=submit]")
    expect(page.locator("#error-code")).to_have_text("maker_checker")
    _shoot(maker, screenshots, "lending-desktop-maker-checker-refused")
    assert FinancingApplication.objects.get().status == "approved"

    # ------------------------------------------------------------ lender user 2: check, disburse, register
    checker = Session(browser, base, DESKTOP, requests, errors)
    checker.login("lender_checker", PASSWORD)
    page = checker.go(f"/finance/applications/{app.pk}/")
    with page.expect_navigation():
        page.click("#act-check button[type=submit]")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "checked")
    page.fill("#id_bank_reference", "LN20261201")
    with page.expect_navigation():
        page.click("#act-disburse button[type=submit]")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "disbursed")
    page.fill("#id_number", "123")
    with page.expect_navigation():
        page.click("#act-registration button[type=submit]")
    expect(page.locator("#error-code")).to_have_text("invalid_registry_number")
    page.fill("#id_number", "04123456789012345678")
    with page.expect_navigation():
        page.click("#act-registration button[type=submit]")
    expect(page.locator("#term-registry")).to_have_text("04123456789012345678")
    expect(page.locator("#term-checker")).to_have_text("lender_checker")
    _shoot(checker, screenshots, "lending-desktop-disbursed")
    app.refresh_from_db()
    assert app.status == "disbursed" and app.approved_by == world.users["lender"]
    assert app.checked_by == world.users["lender_checker"] and app.registry_number == "04123456789012345678"
    assert Voucher.objects.get(pk=lw.part.pk).holder_id == lw.lender.pk

    page = rival.go(f"/finance/applications/{app.pk}/")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "disbursed")
    expect(page.locator("#events li")).to_have_count(6)
    page = rival.go("/finance/applications/")
    _shoot(rival, screenshots, "lending-desktop-applications")
    page = maker.go("/finance/lender/lines/")
    expect(page.locator(f"#line-{lw.line.pk}")).to_contain_text("12,000.00")
    _shoot(maker, screenshots, "lending-desktop-lines")
    maker.go("/finance/lender/products/")
    _shoot(maker, screenshots, "lending-desktop-products")

    # ------------------------------------------------------------ the same pages at phone width
    pages = {
        "supplier": [
            ("apply", f"/finance/vouchers/{lw.rest.pk}/apply/"),
            ("consent", f"/finance/consents/new/?voucher={lw.rest.pk}&lender={lw.lender.pk}"),
        ],
        "rival": [
            ("consents", "/finance/consents/"),
            ("applications", "/finance/applications/"),
            ("application-applicant", f"/finance/applications/{app.pk}/"),
        ],
        "lender": [
            ("queue", "/finance/lender/"),
            ("application-lender", f"/finance/applications/{app.pk}/"),
            ("products", "/finance/lender/products/"),
            ("lines", "/finance/lender/lines/"),
        ],
    }
    for who, paths in pages.items():
        s = Session(browser, base, PHONE, requests, errors)
        s.login(who, PASSWORD)
        for name, path in paths:
            page = s.go(path)
            # nothing wider than the phone: the page scrolls vertically only
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, (name, width)
            _shoot(s, screenshots, f"lending-phone-{name}")
        s.close()

    for session in (rival, maker, checker):
        session.close()
    assert not errors, errors
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
