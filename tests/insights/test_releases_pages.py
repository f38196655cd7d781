"""The price-index pages: the index page for the public, a supplier (own price vs index) and the operator
(publish); the import page (operator only, a dirty file's rejected rows, a refused file); the cockpit's
index card; and the pages in a real browser at desktop and phone widths, with screenshots."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chanlian.insights import releases
from chanlian.insights.models import IndexRelease, MarketPriceReport
from tests.insights.facts import closed_month, enterprises
from tests.insights.test_market_import import gbk_report
from tests.insights.test_releases import NONG, QING, sell

pytestmark = pytest.mark.django_db


def client_for(world, name=None):
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    if name:
        c.force_login(world.users[name])
    return c


@pytest.fixture
def indexed(world):
    tea = world.clusters["tea"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    for k, base in ((4, 100), (3, 104), (2, 111), (1, 108)):
        for j in range(3):
            sell(world, tea, sup[j], buy[j], month=closed_month(k), price=str(base + j), spec=QING)
            sell(world, tea, sup[j], buy[j], month=closed_month(k), price=str(base - 20 + j), spec=NONG)
    sell(world, tea, world.enterprises["supplier"], buy[0], month=closed_month(2), price="118", spec=QING)
    releases.publish_release(world.users["operator"], tea.pk, frequency="monthly")
    return tea


def test_the_index_page_for_everyone(world, indexed):
    tea = indexed
    r = client_for(world).get(f"/insights/clusters/{tea.pk}/index/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="chart-index"' in html and 'id="contributions"' in html and 'id="releases"' in html
    assert "chanlian-price-index/1.0" in html
    assert 'id="publish"' not in html and 'id="mine"' not in html
    r = client_for(world, "supplier").get(f"/insights/clusters/{tea.pk}/index/")
    assert 'id="mine"' in r.content.decode() and "118.00" in r.content.decode()
    r = client_for(world).get("/insights/clusters/999999/index/")
    assert r.status_code == 404


def test_the_operator_publishes_from_the_page(world, indexed):
    tea = indexed
    op = client_for(world, "operator")
    r = op.get(f"/insights/clusters/{tea.pk}/index/")
    assert 'id="publish"' in r.content.decode()
    r = op.post(f"/insights/clusters/{tea.pk}/index/", {"frequency": "monthly", "category": ""})
    assert r.status_code == 409  # nothing changed since the fixture's release
    assert 'id="index-error"' in r.content.decode()
    r = op.post(f"/insights/clusters/{tea.pk}/index/", {"frequency": "weekly", "category": ""})
    assert r.status_code == 302
    assert IndexRelease.objects.filter(frequency="weekly").count() == 1
    r = client_for(world, "supplier").post(f"/insights/clusters/{tea.pk}/index/", {"frequency": "weekly"})
    assert r.status_code == 403
    assert IndexRelease.objects.count() == 2


def test_the_import_page(world):
    tea = world.clusters["tea"]
    url = f"/insights/clusters/{tea.pk}/index/import/"
    assert client_for(world, "supplier").get(url).status_code == 403
    assert client_for(world).get(url).status_code == 302  # to the login page
    op = client_for(world, "operator")
    assert op.get(url).status_code == 200
    data = gbk_report(closed_month(1))
    r = op.post(url, {"source": "市场", "file": SimpleUploadedFile("行情.csv", data)})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="import-ok"' in html and 'id="rejected"' in html and "price_order" in html
    r = op.post(url, {"file": SimpleUploadedFile("again.csv", data)})
    assert r.status_code == 409 and 'id="import-error"' in r.content.decode()
    r = op.post(url, {"file": SimpleUploadedFile("bad.csv", "品名,单位\n番茄,斤\n".encode())})
    assert r.status_code == 400 and "missing_columns" in r.content.decode()
    assert MarketPriceReport.objects.count() == 1


def test_the_cockpit_has_the_index_card(world, indexed):
    r = client_for(world).get(f"/insights/clusters/{indexed.pk}/")
    html = r.content.decode()
    assert 'data-chart="index"' in html and f"/api/v1/insights/clusters/{indexed.pk}/index/" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_index_pages_in_a_browser(world, indexed, live_server, browser, screenshots, width):  # noqa: F811
    from tests.browser.test_operator_flow import DESKTOP, PHONE, Session

    tea = indexed
    requests, errors = [], []
    s = Session(browser, live_server.url, DESKTOP if width == "desktop" else PHONE, requests, errors)
    s.login("supplier", None)
    page = s.go(f"/insights/clusters/{tea.pk}/index/")
    page.wait_for_function("document.querySelector('#chart-index canvas') !== null")
    assert page.locator("#chart-mine canvas").count() >= 1
    assert "安溪铁观音产业集群" in page.locator("h1").inner_text()
    page.wait_for_timeout(400)
    page.screenshot(path=str(screenshots / f"index-supplier-{width}.png"), full_page=True)
    page = s.go(f"/insights/clusters/{tea.pk}/")
    page.wait_for_function("document.querySelector('#chart-index canvas') !== null")
    page.locator("[data-chart=index]").screenshot(path=str(screenshots / f"index-cockpit-card-{width}.png"))
    s.close()
    op = Session(browser, live_server.url, DESKTOP if width == "desktop" else PHONE, requests, errors)
    op.login("operator", None)
    page = op.go(f"/insights/clusters/{tea.pk}/index/import/")
    page.set_input_files(
        "#id_file",
        files=[{"name": "行情.csv", "mimeType": "text/csv", "buffer": gbk_report(closed_month(1))}],
    )
    page.fill("#id_source", "安溪茶叶市场")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-ok")
    assert page.locator("#rejected tbody tr").count() == 6
    page.screenshot(path=str(screenshots / f"index-import-{width}.png"), full_page=True)
    op.close()
    assert not errors, errors
    base = live_server.url
    assert all(u.startswith(base) or u.startswith("data:") for u in requests), [
        u for u in requests if not u.startswith(base)
    ][:3]


# the browser fixtures
from tests.browser.test_operator_flow import browser, screenshots  # noqa: E402, F401
