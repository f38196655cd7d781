"""The chain map and the monthly report in a real browser (Debian's Chromium through Playwright): the
graph draws, a click on a stage lists its enterprises, nothing is fetched from elsewhere; screenshots at
1280 px and 390 px."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.browser.test_operator_flow import browser, screenshots  # noqa: F401
from tests.insights.facts import store  # noqa: F401
from tests.insights.test_chain import chain  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def logged_in(browser, live_server, user, viewport):  # noqa: F811
    c = Client()
    c.force_login(user)
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
    context.add_cookies(
        [{"name": "sessionid", "value": c.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280", "390"])
def test_chain_map_page(chain, world, live_server, browser, screenshots, viewport):  # noqa: F811
    tea, month = chain["cluster"], chain["month"]
    context = logged_in(browser, live_server, world.users["operator"], viewport)
    page = context.new_page()
    base = urlsplit(live_server.url).netloc
    foreign, errors = [], []
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).netloc not in ("", base) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/insights/clusters/{tea.pk}/chain/?month={month}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#chart-chain canvas").count() >= 1
    assert "茶叶初制" in page.content() or "初制" in page.content()
    page.locator('button[data-stage="primary_processing"]').first.click()
    page.wait_for_selector("#stage-detail-body table")
    rows = page.locator("#stage-detail-body tbody tr")
    assert rows.count() == 3
    assert "2.5万" in page.locator("#stage-detail-body").inner_text()  # F1 bought 25,000
    page.wait_for_timeout(400)
    name = "1280" if viewport is WIDE else "390"
    page.screenshot(path=str(screenshots / f"insights-chain-{name}.png"), full_page=True)
    context.close()
    assert foreign == [] and errors == []


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280", "390"])
def test_report_page(chain, world, live_server, browser, screenshots, viewport):  # noqa: F811
    tea, month = chain["cluster"], chain["month"]
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/insights/clusters/{tea.pk}/report/{month}/")
    assert "102000.00" in page.locator(".report-kpis").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"] + 1  # nothing wider than the screen
    name = "1280" if viewport is WIDE else "390"
    page.screenshot(path=str(screenshots / f"insights-report-{name}.png"), full_page=True)
    context.close()
    assert errors == []
