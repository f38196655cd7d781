"""The Django admin shows trading rows read-only (writes go through the services)."""

import pytest
from django.test import Client

from chanlian.trade import services
from tests.trade.factories import json_terms, make_demand, make_listing

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["listing", "demand", "quote", "awardedterms", "rfqmessage"])
def test_admin_pages_are_read_only(market, model):
    listing = make_listing(market)
    demand = make_demand(market)
    quote = services.submit_quote(market.users["supplier"], demand.pk, **json_terms())
    services.post_message(market.users["buyer"], quote.pk, "你好")
    award = services.award_quote(market.users["buyer"], quote.pk)
    client = Client()
    client.force_login(market.users["admin"])
    assert client.get(f"/django-admin/trade/{model}/").status_code == 200
    pk = {"listing": listing.pk, "demand": demand.pk, "quote": quote.pk, "awardedterms": award.pk}.get(model)
    if pk:
        assert client.get(f"/django-admin/trade/{model}/{pk}/change/").status_code == 200
    assert client.get(f"/django-admin/trade/{model}/add/").status_code == 403
