"""Listing and demand pages cost a constant number of SQL queries, however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chanlian.trade import services
from tests.trade.factories import make_demand, make_listing, png

pytestmark = pytest.mark.django_db


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), r


def _add_listings(market, n):
    for i in range(n):
        listing = make_listing(market, title=f"毛茶{i}")
        services.add_listing_photo(market.users["supplier"], listing.pk, png())
        services.publish_listing(market.users["supplier"], listing.pk)


@pytest.mark.parametrize("persona", ["buyer", "supplier", "operator", "admin"])
def test_listing_list_query_count_is_constant(market, api, persona, settings, tmp_path):
    url = f"/api/v1/listings/?cluster={market.clusters['tea'].pk}"
    _add_listings(market, 1)
    _count(api(persona), url)  # warm
    _add_listings(market, 2)
    few, r1 = _count(api(persona), url)
    _add_listings(market, 15)
    many, r2 = _count(api(persona), url)
    assert r2.json()["count"] == r1.json()["count"] + 15
    assert few == many, (few, many)
    assert many <= 10


@pytest.mark.parametrize("persona", ["buyer", "supplier", "operator"])
def test_demand_list_query_count_is_constant(market, api, persona):
    url = "/api/v1/demands/"
    make_demand(market)
    _count(api(persona), url)
    few, _ = _count(api(persona), url)
    for _ in range(10):
        make_demand(market, visibility="invited", invited=[market.enterprises["supplier"].pk])
    many, r = _count(api(persona), url)
    assert r.json()["count"] == 11
    assert few == many, (few, many)
