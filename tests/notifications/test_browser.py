"""The inbox in a real browser: a buyer's demand is committed (so its after-commit hook notifies for
real), the supplier sees the unread badge in the nav, opens the notifications page, follows the link to
the demand, and the badge is gone. Screenshots at 1280 and 390 px, Chinese and English, go to
$CHANLIAN_SCREENSHOTS (default <repo>/screenshots/) as ``notifications-<size>-<lang>-<page>.png``."""

from __future__ import annotations

import pytest

from tests.browser.test_operator_flow import (  # noqa: F401  (fixtures)
    PHONE,
    Session,
    _shoot,
    browser,
    screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LAPTOP = {"width": 1280, "height": 800}


def test_supplier_sees_the_badge_opens_the_demand_and_the_badge_clears(live_server, browser, screenshots):  # noqa: F811
    from playwright.sync_api import expect

    from chanlian.notifications.models import Notification
    from tests.personas import PASSWORD, build_world
    from tests.trade.factories import SPEC, add_rival, make_demand, make_listing

    world = add_rival(build_world())
    make_listing(world, "supplier", publish=True, spec={**SPEC, "moisture_pct": "6.5"})
    make_listing(world, "rival", publish=True, spec={**SPEC, "moisture_pct": "6.5"}, title="感德 清香型 一级")
    first = make_demand(world, title="求购清香型铁观音毛茶 一级 1000公斤")
    second = make_demand(world, title="求购秋茶 清香型毛茶", quantity="600")
    assert Notification.objects.filter(recipient_user=world.users["supplier"]).count() == 2  # committed
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    for viewport, size in ((PHONE, "390"), (LAPTOP, "1280")):  # the phone only looks
        s = Session(browser, base, viewport, requests, errors)
        s.login("supplier", PASSWORD)
        page = s.go("/")
        if size == "390":
            page.click(".nav-toggle")
        expect(page.locator("#nav-unread")).to_contain_text("2")  # the badge on the user menu
        page.click(".usermenu-button")
        expect(page.locator("#nav-notifications")).to_contain_text("2")
        _shoot(s, screenshots, f"notifications-{size}-zh-menu")
        with page.expect_navigation():
            page.click("#nav-notifications")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/notifications/")
        items = page.locator("#notifications .inbox-item")
        expect(items).to_have_count(2)
        expect(items.first).to_contain_text("求购秋茶 清香型毛茶")
        expect(items.first).to_have_class("inbox-item is-unread")
        _shoot(s, screenshots, f"notifications-{size}-zh-inbox")
        if size == "390":
            page.click(".nav-toggle")  # the language switch is in the menu
        s.language("en")
        expect(page.locator("h1")).to_have_text("Notifications")
        _shoot(s, screenshots, f"notifications-{size}-en-inbox")
        if size == "1280":
            mine = Notification.objects.get(recipient_user=world.users["supplier"], data__demand=first.pk)
            with page.expect_navigation():
                page.locator(f"#notification-{mine.pk} button", has_text="Open the demand").click()
            page.wait_for_load_state("networkidle")
            assert page.url.endswith(f"/trade/market/demands/{first.pk}/")
            expect(page.locator("#nav-unread")).to_contain_text("1")
            page = s.go("/notifications/")
            with page.expect_navigation():
                page.click("#read-all")
            expect(page.locator("#nav-unread")).to_have_count(0)
            expect(page.locator("#notifications .is-unread")).to_have_count(0)
            _shoot(s, screenshots, f"notifications-{size}-en-read")
        s.close()
    assert not errors, errors
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
    assert Notification.objects.filter(recipient_user=world.users["supplier"], read_at=None).count() == 0
    assert second.pk
