"""Receivable → confirmation → split → transfer → acceptance in a real browser (Debian's Chromium through
Playwright), three people in three browser contexts. Screenshots go to $CHANLIAN_SCREENSHOTS (default
<repo>/screenshots/), named ``finance-<page>.png``."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.test_operator_flow import (  # noqa: F401  (fixtures)
    DESKTOP,
    Session,
    _shoot,
    browser,
    screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_flow(live_server, browser, screenshots):  # noqa: F811
    from playwright.sync_api import expect

    from chanlian.finance.models import Receivable, Voucher
    from tests.finance.helpers import PASSWORD, invoiced_order, tier2
    from tests.personas import build_world

    world = build_world()
    order = invoiced_order(world)
    tier2(world)
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    supplier = Session(browser, base, DESKTOP, requests, errors)
    supplier.login("supplier", PASSWORD)
    page = supplier.go("/finance/")
    expect(page.locator(f"#eligible-{order.pk}")).to_be_visible()
    with page.expect_navigation():
        page.click(f"#eligible-{order.pk} button[type=submit]")
    receivable = Receivable.objects.get()
    expect(page.locator("#four-flow-verdict")).to_be_visible()
    expect(page.locator(".checklist li.is-ok")).to_have_count(8)

    buyer = Session(browser, base, DESKTOP, requests, errors)
    buyer.login("buyer", PASSWORD)
    page = buyer.go(f"/finance/receivables/{receivable.pk}/")
    _shoot(buyer, screenshots, "finance-receivable")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("#act-confirm button[type=submit]")
    voucher = Voucher.objects.get()
    assert urlsplit(page.url).path == f"/finance/vouchers/{voucher.pk}/"

    page = supplier.go(f"/finance/vouchers/{voucher.pk}/")
    page.fill("#id_amounts", "100, 200")
    with page.expect_navigation():
        page.click("#act-split button[type=submit]")
    expect(page.locator("#finance-error")).to_be_visible()
    _shoot(supplier, screenshots, "finance-voucher-split-refused")
    page.fill("#id_amounts", "10000.00, 26000.00")
    with page.expect_navigation():
        page.click("#act-split button[type=submit]")
    part = Voucher.objects.get(parent=voucher, amount="10000.00")
    page = supplier.go(f"/finance/vouchers/{part.pk}/")
    page.select_option("#id_to_enterprise", str(world.enterprises["rival"].pk))
    with page.expect_navigation():
        page.click("#act-transfer button[type=submit]")
    expect(page.locator("#voucher-status")).to_have_class("badge badge-lg badge-info")
    assert Voucher.objects.get(pk=part.pk).status == "transferring"

    tier = Session(browser, base, DESKTOP, requests, errors)
    tier.login("rival", "persona-pass-2026")
    page = tier.go("/finance/")
    expect(page.locator(f"#voucher-{part.pk}")).to_be_visible()
    page = tier.go(f"/finance/vouchers/{part.pk}/")
    _shoot(tier, screenshots, "finance-voucher-offered")
    with page.expect_navigation():
        page.click("#act-accept form[action$='/accept/'] button[type=submit]")
    expect(page.locator("#holder")).to_have_text("安溪县感德茶厂")
    expect(page.locator("#custody li")).to_have_count(5)
    _shoot(tier, screenshots, "finance-voucher")
    page = supplier.go("/finance/")
    _shoot(supplier, screenshots, "finance-home")

    for session in (supplier, buyer, tier):
        session.close()
    assert not errors, errors
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
