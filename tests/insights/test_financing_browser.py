"""The cockpit's financing card in a real browser (Debian's Chromium through Playwright): the operator sees
the chart drawn, the public sees it with the withheld months; CSV and XLSX links on every card; screenshots
at desktop and phone widths."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.test_operator_flow import DESKTOP, PHONE, Session, browser, screenshots  # noqa: F401
from tests.insights.facts import store  # noqa: F401
from tests.insights.test_financing import D, finance_facts
from tests.personas import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_financing_card_draws(world, store, live_server, browser, screenshots, viewport):  # noqa: F811
    tea = finance_facts(world)
    requests, errors = [], []
    name = "desktop" if viewport is DESKTOP else "phone"
    for who in ("operator", None):
        s = Session(browser, live_server.url, viewport, requests, errors)
        if who:
            s.login(who, PASSWORD)
        page = s.go(f"/insights/clusters/{tea.pk}/?month={D}")
        page.wait_for_function("document.querySelector('#chart-financing canvas') !== null")
        card = page.locator("[data-chart=financing]")
        assert card.locator("a.dl").count() == 2
        hrefs = [card.locator("a.dl").nth(i).get_attribute("href") for i in range(2)]
        assert any("format=xlsx" in h for h in hrefs) and any("format=csv" in h for h in hrefs)
        # every card with a CSV download has its XLSX beside it
        assert (
            page.locator("a.dl[href*='format=csv']").count()
            == page.locator("a.dl[href*='format=xlsx']").count()
        )
        page.wait_for_timeout(600)
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(screenshots / f"insights-financing-{who or 'public'}-{name}.png"))
        s.close()
    base = urlsplit(live_server.url).netloc
    assert [u for u in requests if urlsplit(u).netloc not in ("", base)] == []
    assert errors == []
