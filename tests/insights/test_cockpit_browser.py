"""The cockpit in a real browser (Debian's Chromium through Playwright): every chart draws, nothing is
fetched from anywhere but the server, Chinese text renders; screenshots at desktop and phone widths."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest

from chanlian.insights import snapshot
from tests.browser.test_operator_flow import CHROMIUM_ARGS, DESKTOP, PHONE, browser, screenshots  # noqa: F401
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def traded(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    sup = enterprises(5, "350524", "茶厂")
    buy = (
        enterprises(3, "350524", "本县") + enterprises(4, "310115", "上海") + enterprises(3, "110105", "北京")
    )
    rng = random.Random(3)
    for back in (3, 2, 1):
        for _ in range(25):
            order(
                world,
                tea,
                rng.choice(sup),
                rng.choice(buy),
                month=closed_month(back),
                amount=rng.randint(1000, 60000),
                category=rng.choice(["raw_tea", "finished_tea"]),
            )
    snapshot.refresh()
    return tea


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_cockpit_draws_every_chart(traded, live_server, browser, screenshots, viewport):  # noqa: F811
    tea = traded
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
    page = context.new_page()
    base = urlsplit(live_server.url).netloc
    foreign, errors = [], []
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).netloc not in ("", base) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/insights/clusters/{tea.pk}/")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.querySelector('[data-kpi=gmv]').textContent !== '…'")
    for chart in ("monthly", "parties", "flows", "origins", "categories", "grades", "supply"):
        assert page.locator(f"#chart-{chart} canvas").count() >= 1, chart
    assert "万" in page.locator("[data-kpi=gmv]").inner_text()
    assert "安溪铁观音产业集群" in page.locator("h1").inner_text()
    page.wait_for_timeout(600)
    name = "desktop" if viewport is DESKTOP else "phone"
    page.screenshot(path=str(screenshots / f"insights-cockpit-{name}.png"), full_page=True)
    context.close()
    assert foreign == [] and errors == []
