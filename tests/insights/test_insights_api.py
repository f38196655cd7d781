"""The cockpit API and page: JSON and CSV per chart, scopes, 404s, the enterprise's private view."""

import random

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chanlian.insights import cockpit, snapshot
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db
CHARTS = ["monthly", "categories", "grades", "origins", "supply-demand"]


@pytest.fixture
def traded(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    sup = [*enterprises(4, "350524", "茶厂"), world.enterprises["supplier"]]
    buy = [*enterprises(4, "310115", "茶商"), world.enterprises["buyer"]]
    rng = random.Random(1)
    m = closed_month()
    for i in range(30):
        category = "fresh_leaf" if i == 0 else "raw_tea"
        order(
            world,
            tea,
            sup[i % 5],
            buy[(i * 3) % 5],
            month=m,
            amount=rng.randint(500, 5000),
            category=category,
        )
    snapshot.refresh()
    return tea, m


def url(tea, chart, suffix="/"):
    return f"/api/v1/insights/clusters/{tea.pk}/{chart}{suffix}"


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_is_public_json(traded, chart):
    tea, m = traded
    r = APIClient().get(url(tea, chart))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["cluster"] == tea.pk and body["chart"] == chart and body["scope"] == "public"
    assert body["suppression"] == {"min_enterprises": 3, "applied": True}
    assert isinstance(body["rows"], list) and body["columns"]
    if chart != "supply-demand":
        assert body["month"] == m


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_downloads_as_csv(traded, chart):
    tea, _ = traded
    for r in (APIClient().get(url(tea, chart), {"format": "csv"}), APIClient().get(url(tea, chart, ".csv"))):
        assert r.status_code == 200
        assert r["Content-Type"].startswith("text/csv")
        assert "attachment" in r["Content-Disposition"]
        text = r.content.decode("utf-8-sig")
        header = text.splitlines()[0].split(",")
        assert header == APIClient().get(url(tea, chart)).json()["columns"]


def test_csv_shows_withheld_cells_as_a_dash(traded):
    tea, _ = traded
    body = APIClient().get(url(tea, "categories")).json()
    fresh = next(r for r in body["rows"] if r["category"] == "fresh_leaf")
    assert fresh["gmv"] is None  # one supplier, one buyer
    text = APIClient().get(url(tea, "categories", ".csv")).content.decode("utf-8-sig")
    line = next(line for line in text.splitlines() if line.startswith("fresh_leaf"))
    assert ",—," in line


def test_the_operator_sees_the_cluster_and_the_government_aggregates(traded, api):
    tea, m = traded
    op = api("operator").get(url(tea, "categories"), {"month": m}).json()
    assert op["scope"] == "operator" and op["suppression"]["applied"] is False
    assert all(r["gmv"] is not None for r in op["rows"])
    gov = api("gov").get(url(tea, "categories"), {"month": m}).json()
    assert gov["scope"] == "government" and any(r["gmv"] is None for r in gov["rows"])
    # Another cluster's operator is the public here: aggregates are public, nothing more.
    other = api("steel_operator").get(url(tea, "categories"), {"month": m}).json()
    assert other["scope"] == "public" and other["rows"] == gov["rows"]


def test_the_running_month_is_not_published_to_the_public(traded, api):
    tea, _ = traded
    current = cockpit.month_key(timezone.localdate())
    r = api("gov").get(url(tea, "monthly"), {"month": current})
    assert r.status_code == 400 and r.json()["code"] == "month_not_published"
    assert api("operator").get(url(tea, "monthly"), {"month": current}).status_code == 200
    r = APIClient().get(url(tea, "categories"), {"month": "2026-1"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_month"
    r = APIClient().get(url(tea, "categories", ".csv"), {"month": "bad"})
    assert r.status_code == 400 and r["Content-Type"].startswith("application/json")


def test_a_missing_cluster_is_404(traded):
    for path in (
        "/api/v1/insights/clusters/99999/monthly/",
        "/api/v1/insights/clusters/abc/origins/",
        "/api/v1/insights/clusters/99999/monthly.csv",
    ):
        r = APIClient().get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_mine_is_the_enterprises_own_and_nobody_elses(traded, api, world):
    tea, _m = traded
    r = api("supplier").get(url(tea, "mine"))
    assert r.status_code == 200
    body = r.json()
    assert body["enterprise"] == world.enterprises["supplier"].pk
    assert any(row["sales"] != "0.00" for row in body["rows"])
    assert body["prices"] and body["prices"][0]["own_price"]
    # The buyer asking for the supplier's figures: 404, exactly like an enterprise that does not exist.
    r = api("buyer").get(url(tea, "mine"), {"enterprise": world.enterprises["supplier"].pk})
    assert r.status_code == 404
    assert api("buyer").get(url(tea, "mine"), {"enterprise": 999999}).status_code == 404
    assert (
        api("operator").get(url(tea, "mine"), {"enterprise": world.enterprises["supplier"].pk}).status_code
        == 404
    )
    assert api("nobody").get(url(tea, "mine")).status_code == 404
    assert APIClient().get(url(tea, "mine")).status_code in (401, 403)
    assert api("supplier_viewer").get(url(tea, "mine")).status_code == 200  # a viewer reads its own firm


def test_the_cockpit_page(traded, client, world):
    tea, _m = traded
    r = client.get(f"/insights/clusters/{tea.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "vendor/echarts/echarts.min.js" in html and "insights/cockpit.js" in html
    assert "cdn" not in html.lower()
    assert f"/api/v1/insights/clusters/{tea.pk}/monthly/?format=csv" in html
    assert client.get("/insights/clusters/99999/").status_code == 404
    client.force_login(world.users["supplier"])
    assert "chart-mine" in client.get(f"/insights/clusters/{tea.pk}/").content.decode()
